"""Batched augmentation on tensors (runs on CPU or GPU alike).

Spatial: full rotation, flips, scale 0.75-1.35 (spacing and heart-size variation), in-plane shifts up to
+-48 mm (hearts away from the image centre), elastic deformation. Intensity: bias field, gamma,
contrast/brightness, lower resolution, blur, noise. Then the same normalisation as inference.
"""
import math

import torch
import torch.nn.functional as F

from .geometry import normalise


def _rand(n, lo, hi, device):
    return torch.rand(n, device=device) * (hi - lo) + lo


def _coin(n, p, device):
    return (torch.rand(n, device=device) < p).float()


def spatial(image, label, size, canvas, spacing_mm, strength=1.0):
    """image [B,C,canvas,canvas] float, label [B,canvas,canvas] long -> window [B,1,size,size], [B,size,size]."""
    b, dev = image.shape[0], image.device
    lin = torch.linspace(-1, 1, size, device=dev) * (size - 1) / (canvas - 1)
    yy, xx = torch.meshgrid(lin, lin, indexing='ij')
    base = torch.stack([xx, yy], -1).reshape(1, -1, 2)                       # [1,P,2] (x, y)
    ang = _rand(b, -math.pi, math.pi, dev) * _coin(b, 0.8 * strength, dev)
    scale = torch.exp(_rand(b, math.log(0.75), math.log(1.35), dev) * _coin(b, 0.8 * strength, dev))
    flip = 1 - 2 * _coin(b, 0.5 * strength, dev)
    shift_px = 32 * strength                                                 # 48 mm at 1.5 mm
    shift = _rand(b * 2, -1, 1, dev).reshape(b, 2) * shift_px * 2 / (canvas - 1)
    cos, sin = torch.cos(ang) / scale, torch.sin(ang) / scale
    mat = torch.stack([torch.stack([cos * flip, -sin], -1), torch.stack([sin * flip, cos], -1)], 1)  # [B,2,2]
    grid = base @ mat.transpose(1, 2) + shift[:, None, :]
    grid = grid.reshape(b, size, size, 2)
    # elastic: smooth random displacement from a coarse 5x5 lattice, up to ~3 px
    amp = 3 * 2 / (canvas - 1) * _coin(b, 0.5 * strength, dev)
    disp = torch.randn(b, 2, 5, 5, device=dev) * amp[:, None, None, None]
    disp = F.interpolate(disp, size=(size, size), mode='bicubic', align_corners=True).permute(0, 2, 3, 1)
    grid = grid + disp
    img = F.grid_sample(image, grid, mode='bilinear', padding_mode='zeros', align_corners=True)
    lab = F.grid_sample(label[:, None].float(), grid, mode='nearest', padding_mode='zeros', align_corners=True)
    return img, lab[:, 0].long()


def intensity(img, strength=1.0):
    """img [B,1,H,W] in 0..255 (raw, un-normalised) -> normalised and perturbed."""
    b, dev = img.shape[0], img.device
    h, w = img.shape[-2:]
    inside = (img > 0).float()
    # bias field (smooth multiplicative)
    field = torch.randn(b, 1, 4, 4, device=dev) * 0.25 * _coin(b, 0.5 * strength, dev)[:, None, None, None]
    img = img * torch.exp(F.interpolate(field, size=(h, w), mode='bicubic', align_corners=True))
    # gamma
    g = torch.exp(_rand(b, math.log(0.6), math.log(1.6), dev) * _coin(b, 0.5 * strength, dev))[:, None, None, None]
    img = 255 * (img.clamp(0, 400) / 255) ** g
    # contrast and brightness
    m = img.mean((2, 3), keepdim=True)
    c = 1 + _rand(b, -0.3, 0.3, dev)[:, None, None, None] * _coin(b, 0.5 * strength, dev)[:, None, None, None]
    br = _rand(b, -20, 20, dev)[:, None, None, None] * _coin(b, 0.3 * strength, dev)[:, None, None, None]
    img = ((img - m) * c + m + br * inside).clamp_min(0)
    # lower resolution (down by up to 2, back up)
    low = _coin(b, 0.25 * strength, dev)
    if low.sum() > 0:
        f = float(_rand(1, 1.3, 2.0, dev))
        small = F.interpolate(img, scale_factor=1 / f, mode='bilinear', align_corners=False)
        up = F.interpolate(small, size=(h, w), mode='bilinear', align_corners=False)
        img = torch.where(low[:, None, None, None] > 0, up, img)
    # blur
    blur = _coin(b, 0.2 * strength, dev)
    if blur.sum() > 0:
        sigma = float(_rand(1, 0.5, 1.2, dev))
        k = torch.arange(-3, 4, device=dev, dtype=img.dtype)
        k = torch.exp(-k ** 2 / (2 * sigma ** 2))
        k = k / k.sum()
        flat = img.reshape(-1, 1, h, w)
        bl = F.conv2d(F.pad(flat, (3, 3, 0, 0), mode='replicate'), k.view(1, 1, 1, 7))
        bl = F.conv2d(F.pad(bl, (0, 0, 3, 3), mode='replicate'), k.view(1, 1, 7, 1)).reshape_as(img)
        img = torch.where(blur[:, None, None, None] > 0, bl, img)
    x = normalise(img)
    noise = _rand(b, 0.0, 0.12, dev)[:, None, None, None] * _coin(b, 0.4 * strength, dev)[:, None, None, None]
    return x + torch.randn_like(x) * noise


def centre_window(image, size):
    """The un-augmented model window: the centre of the canvas (canvas and window share the image centre)."""
    c = image.shape[-1]
    o = (c - size) // 2
    return image[..., o:o + size, o:o + size]
