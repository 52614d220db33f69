"""Resampling between a slice's own grid and the model grid (image-centre window, fixed spacing).

A model pixel (i, j) sits (i - (S-1)/2) * spacing mm from the window centre along rows; the
window centre is the image centre. The same mapping runs forwards (slice -> model grid) and
backwards (model logits -> slice grid), so training, evaluation and the TypeScript pipeline agree.
"""
import torch
import torch.nn.functional as F


def _axis(n_out, out_spacing, n_in, in_spacing, device=None):
    i = torch.arange(n_out, dtype=torch.float32, device=device)
    src = (n_in - 1) / 2 + (i - (n_out - 1) / 2) * out_spacing / in_spacing
    return src / max(n_in - 1, 1) * 2 - 1          # align_corners=True normalised coordinate


def sample(x, in_spacing, out_size, out_spacing, mode='bilinear'):
    """x [N,C,H,W] on a grid with (row, col) spacing in_spacing -> [N,C,out_h,out_w] at out_spacing.
    Outside the source is zero."""
    n, _, h, w = x.shape
    oh, ow = out_size
    gy = _axis(oh, out_spacing[0], h, in_spacing[0], x.device)
    gx = _axis(ow, out_spacing[1], w, in_spacing[1], x.device)
    yy, xx = torch.meshgrid(gy, gx, indexing='ij')
    grid = torch.stack([xx, yy], dim=-1).unsqueeze(0).expand(n, -1, -1, -1)
    return F.grid_sample(x, grid, mode=mode, padding_mode='zeros', align_corners=True)


def to_model_grid(x, in_spacing, size, spacing, mode='bilinear'):
    return sample(x, in_spacing, (size, size), (spacing, spacing), mode)


def to_source_grid(x, out_shape, out_spacing, spacing, mode='bilinear'):
    """Model-grid maps [N,C,S,S] back onto a slice grid of out_shape with out_spacing."""
    return sample(x, (spacing, spacing), out_shape, out_spacing, mode)


def neighbours(z, nz):
    """Indices (previous, self, next) of slice z in a stack of nz, the edge slice repeated at the ends."""
    return max(z - 1, 0), z, min(z + 1, nz - 1)


def normalise(x, clip=(0.5, 99.5)):
    """z-score per slice (every channel of every item on its own) after clipping at percentiles; x [N,C,H,W]."""
    n = x.shape[0] * x.shape[1]
    flat = x.reshape(n, -1)
    lo = torch.quantile(flat, clip[0] / 100, dim=1, keepdim=True)
    hi = torch.quantile(flat, clip[1] / 100, dim=1, keepdim=True)
    flat = torch.maximum(torch.minimum(flat, hi), lo)
    mean = flat.mean(1, keepdim=True)
    std = flat.std(1, unbiased=False, keepdim=True).clamp_min(1e-6)
    return ((flat - mean) / std).reshape_as(x)
