"""Batched augmentation on tensors (runs on CPU or GPU alike); every range comes from a named recipe
(config.RECIPES; without one, the shipped 'v1.0').

Spatial: full rotation, flips, transposes, scale (spacing and heart-size variation), in-plane shifts
(hearts away from the image centre), elastic deformation, a field of view cut short (partial coverage).
Intensity: bias field, gamma, contrast/brightness, lower resolution, blur, noise. Then the same
normalisation as inference. Switches that 1.0 did not have draw no random numbers when off, so 'v1.0'
draws exactly the sequence the shipped weights were trained with.
"""
import math

import torch
import torch.nn.functional as F

from . import config as C
from .geometry import normalise

V10 = C.RECIPES['v1.0']


def _rand(n, lo, hi, device):
    return torch.rand(n, device=device) * (hi - lo) + lo


def _coin(n, p, device):
    return (torch.rand(n, device=device) < p).float()


def spatial(image, label, size, canvas, spacing_mm, strength=1.0, rc=V10):
    """image [B,C,canvas,canvas] float, label [B,canvas,canvas] long -> window [B,C,size,size], [B,size,size]."""
    b, dev = image.shape[0], image.device
    lin = torch.linspace(-1, 1, size, device=dev) * (size - 1) / (canvas - 1)
    yy, xx = torch.meshgrid(lin, lin, indexing='ij')
    base = torch.stack([xx, yy], -1).reshape(1, -1, 2)                       # [1,P,2] (x, y)
    ang = _rand(b, -math.pi, math.pi, dev) * _coin(b, rc['rotate_p'] * strength, dev)
    lo, hi = rc['scale']
    scale = torch.exp(_rand(b, math.log(lo), math.log(hi), dev) * _coin(b, rc['scale_p'] * strength, dev))
    flip = 1 - 2 * _coin(b, rc['flip_p'] * strength, dev)
    shift_px = rc['shift_mm'] / spacing_mm * strength                        # v1.0: 48 mm = 32 px at 1.5 mm
    shift = _rand(b * 2, -1, 1, dev).reshape(b, 2) * shift_px * 2 / (canvas - 1)
    cos, sin = torch.cos(ang) / scale, torch.sin(ang) / scale
    mat = torch.stack([torch.stack([cos * flip, -sin], -1), torch.stack([sin * flip, cos], -1)], 1)  # [B,2,2]
    if rc['transpose_p'] > 0:   # swap the window's x and y before the rest of the transform
        t = _coin(b, rc['transpose_p'] * strength, dev)[:, None, None]
        mat = torch.where(t > 0, mat.flip(2), mat)
    grid = base @ mat.transpose(1, 2) + shift[:, None, :]
    grid = grid.reshape(b, size, size, 2)
    # elastic: smooth random displacement from a coarse 5x5 lattice, up to ~3 px
    amp = rc['elastic_px'] * 2 / (canvas - 1) * _coin(b, rc['elastic_p'] * strength, dev)
    disp = torch.randn(b, 2, 5, 5, device=dev) * amp[:, None, None, None]
    disp = F.interpolate(disp, size=(size, size), mode='bicubic', align_corners=True).permute(0, 2, 3, 1)
    grid = grid + disp
    img = F.grid_sample(image, grid, mode='bilinear', padding_mode='zeros', align_corners=True)
    lab = F.grid_sample(label[:, None].float(), grid, mode='nearest', padding_mode='zeros', align_corners=True)
    if rc['partial_p'] > 0:
        img, lab = _partial_coverage(img, lab, rc['partial_p'] * strength, rc['partial_max'])
    return img, lab[:, 0].long()


def _partial_coverage(img, lab, p, max_fraction):
    """A field of view that ends inside the window: each side trimmed by U(0, max_fraction) of the window,
    zero there (as the pipeline pads beyond the image edge) and background in the labels (no image, no
    truth)."""
    b, _, h, w = img.shape
    dev = img.device
    on = _coin(b, p, dev)
    cut = _rand(b * 4, 0, max_fraction, dev).reshape(b, 4) * on[:, None]
    rows = torch.arange(h, device=dev, dtype=img.dtype)[None, :] / h
    cols = torch.arange(w, device=dev, dtype=img.dtype)[None, :] / w
    keep_r = (rows >= cut[:, 0:1]) & (rows < 1 - cut[:, 1:2])
    keep_c = (cols >= cut[:, 2:3]) & (cols < 1 - cut[:, 3:4])
    keep = (keep_r[:, :, None] & keep_c[:, None, :])[:, None].to(img.dtype)
    return img * keep, lab * keep


def intensity(img, strength=1.0, rc=V10):
    """img [B,1,H,W] in 0..255 (raw, un-normalised) -> normalised and perturbed."""
    b, dev = img.shape[0], img.device
    h, w = img.shape[-2:]
    inside = (img > 0).float()
    # bias field (smooth multiplicative)
    field = torch.randn(b, 1, 4, 4, device=dev) * rc['bias_sd'] * _coin(b, rc['bias_p'] * strength, dev)[:, None, None, None]
    img = img * torch.exp(F.interpolate(field, size=(h, w), mode='bicubic', align_corners=True))
    # gamma
    lo, hi = rc['gamma']
    g = torch.exp(_rand(b, math.log(lo), math.log(hi), dev) * _coin(b, rc['gamma_p'] * strength, dev))[:, None, None, None]
    img = 255 * (img.clamp(0, 400) / 255) ** g
    # contrast and brightness
    m = img.mean((2, 3), keepdim=True)
    cr, brr = rc['contrast'], rc['brightness']
    c = 1 + _rand(b, -cr, cr, dev)[:, None, None, None] * _coin(b, rc['contrast_p'] * strength, dev)[:, None, None, None]
    br = _rand(b, -brr, brr, dev)[:, None, None, None] * _coin(b, rc['brightness_p'] * strength, dev)[:, None, None, None]
    img = ((img - m) * c + m + br * inside).clamp_min(0)
    # lower resolution (down by a factor in rc['lowres'], one per batch, back up)
    low = _coin(b, rc['lowres_p'] * strength, dev)
    if low.sum() > 0:
        f = float(_rand(1, rc['lowres'][0], rc['lowres'][1], dev))
        small = F.interpolate(img, scale_factor=1 / f, mode='bilinear', align_corners=False)
        up = F.interpolate(small, size=(h, w), mode='bilinear', align_corners=False)
        img = torch.where(low[:, None, None, None] > 0, up, img)
    # blur
    blur = _coin(b, rc['blur_p'] * strength, dev)
    if blur.sum() > 0:
        sigma = float(_rand(1, rc['blur_sigma'][0], rc['blur_sigma'][1], dev))
        k = torch.arange(-3, 4, device=dev, dtype=img.dtype)
        k = torch.exp(-k ** 2 / (2 * sigma ** 2))
        k = k / k.sum()
        flat = img.reshape(-1, 1, h, w)
        bl = F.conv2d(F.pad(flat, (3, 3, 0, 0), mode='replicate'), k.view(1, 1, 1, 7))
        bl = F.conv2d(F.pad(bl, (0, 0, 3, 3), mode='replicate'), k.view(1, 1, 7, 1)).reshape_as(img)
        img = torch.where(blur[:, None, None, None] > 0, bl, img)
    x = normalise(img)
    noise = _rand(b, 0.0, rc['noise_sd'], dev)[:, None, None, None] * _coin(b, rc['noise_p'] * strength, dev)[:, None, None, None]
    return x + torch.randn_like(x) * noise


def centre_window(image, size):
    """The un-augmented model window: the centre of the canvas (canvas and window share the image centre)."""
    c = image.shape[-1]
    o = (c - size) // 2
    return image[..., o:o + size, o:o + size]
