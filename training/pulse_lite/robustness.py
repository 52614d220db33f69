"""Validation Dice (model grid, the 20 held-out patients) when the heart is moved away from the window
centre, rotated, or flipped (the service crops at the image centre and cannot assume a centred heart),
and, with --all, under each perturbation issue 14 item 3 lists: scale 0.6 / 1.6, transposed, gamma,
contrast, bias field, noise, blur, lower resolution, a field of view cut short. Each perturbation has
fixed parameters (seeded where random), the same for every model compared.

    /usr/bin/python3 -m training.pulse_lite.robustness [--weights ...] [--device cpu] [--all] [--out robustness.json]

The validation patients are fold 4 of the cross-validation (cv-folds.json), so a fold-4 model
(`training/runs/cv-<recipe>/fold-4/best.pt`) is measured on patients it never saw, like 1.0's weights.
"""
import argparse
import json
import math

import numpy as np
import torch
import torch.nn.functional as F

from . import config as C
from .augment import centre_window
from .evaluate import load_model
from .geometry import normalise
from .train import load_cache


def moved(img, lab, dx_mm, dy_mm, angle_deg, flip, scale=1.0, transpose=False):
    """Canvas images [B,1,K,K] -> the window seen when the heart sits (dx, dy) mm off centre, rotated,
    zoomed by `scale` (>1: the heart looks larger) and transposed."""
    b, k = img.shape[0], img.shape[-1]
    s = C.SIZE
    lin = torch.linspace(-1, 1, s) * (s - 1) / (k - 1)
    yy, xx = torch.meshgrid(lin, lin, indexing='ij')
    if transpose:
        xx, yy = yy, xx
    xx, yy = xx / scale, yy / scale
    a = math.radians(angle_deg)
    fx = -1.0 if flip else 1.0
    gx = (math.cos(a) * xx * fx - math.sin(a) * yy) - dx_mm / C.SPACING_MM * 2 / (k - 1)
    gy = (math.sin(a) * xx * fx + math.cos(a) * yy) - dy_mm / C.SPACING_MM * 2 / (k - 1)
    grid = torch.stack([gx, gy], -1)[None].expand(b, -1, -1, -1)
    wi = F.grid_sample(img, grid, mode='bilinear', padding_mode='zeros', align_corners=True)
    wl = F.grid_sample(lab[:, None].float(), grid, mode='nearest', padding_mode='zeros', align_corners=True)[:, 0].long()
    return wi, wl


def perturbed(wi, wl, kind=None, value=None, seed=0):
    """A fixed perturbation of raw windows wi [B,1,S,S] (0..255) and their labels."""
    if kind is None:
        return wi, wl
    g = torch.Generator().manual_seed(seed)
    b, _, h, w = wi.shape
    if kind == 'gamma':
        return 255 * (wi / 255).clamp_min(0) ** value, wl
    if kind == 'contrast':
        m = wi.mean((2, 3), keepdim=True)
        return ((wi - m) * value + m).clamp_min(0), wl
    if kind == 'bias':
        field = torch.randn(b, 1, 4, 4, generator=g) * value
        return wi * torch.exp(F.interpolate(field, size=(h, w), mode='bicubic', align_corners=True)), wl
    if kind == 'noise':   # SD as a fraction of each window's intensity SD
        return wi + torch.randn(wi.shape, generator=g) * value * wi.std((2, 3), keepdim=True), wl
    if kind == 'blur':
        k = torch.arange(-4, 5, dtype=wi.dtype)
        k = torch.exp(-k ** 2 / (2 * value ** 2))
        k = (k / k.sum())
        x = F.conv2d(F.pad(wi, (4, 4, 0, 0), mode='replicate'), k.view(1, 1, 1, 9))
        return F.conv2d(F.pad(x, (0, 0, 4, 4), mode='replicate'), k.view(1, 1, 9, 1)), wl
    if kind == 'lowres':
        small = F.interpolate(wi, scale_factor=1 / value, mode='bilinear', align_corners=False)
        return F.interpolate(small, size=(h, w), mode='bilinear', align_corners=False), wl
    if kind == 'cut':     # field of view ends `value` of the window short on the left and at the top
        keep = torch.ones(h, w)
        keep[:int(h * value)] = 0
        keep[:, :int(w * value)] = 0
        return wi * keep, wl * keep.long()
    raise ValueError(kind)


@torch.no_grad()
def dice_under(model, img, lab, meta, dev, perturb=(None, None), **move):
    acc = {}
    for s in range(0, len(img), 64):
        wi, wl = moved(img[s:s + 64].float()[:, None], lab[s:s + 64], **move)
        wi, wl = perturbed(wi, wl, *perturb, seed=s)
        pred = model(normalise(wi).to(dev))[0].argmax(1).cpu()
        for k in range(len(wi)):
            a = acc.setdefault((int(meta[s + k, 0]), int(meta[s + k, 1])), np.zeros((3, 3)))
            for c in range(1, 4):
                p, t = pred[k] == c, wl[k] == c
                a[c - 1] += [float((p & t).sum()), float(p.sum()), float(t.sum())]
    d = np.array([[2 * a[c, 0] / max(a[c, 1] + a[c, 2], 1) for c in range(3)] for a in acc.values()]).mean(0)
    return {'rv': round(float(d[0]), 4), 'myo': round(float(d[1]), 4), 'lv': round(float(d[2]), 4)}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument('--weights', default=str(C.ROOT / 'training' / 'weights' / 'pulse-lite.pt'))
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--cache', default=str(C.CACHE))
    ap.add_argument('--all', action='store_true', help='also the issue 14 item 3 perturbations')
    ap.add_argument('--out', default=None, help='write the table as JSON here')
    a = ap.parse_args(argv)
    dev = torch.device(a.device)
    model = load_model(a.weights).to(dev)
    img, lab, meta, is_val = load_cache(a.cache)
    va = np.where(is_val)[0]
    img, lab, meta = torch.from_numpy(img[va]), torch.from_numpy(lab[va]).long(), meta[va]
    conditions = [('centred', dict(dx_mm=0, dy_mm=0, angle_deg=0, flip=False))]
    for r in (20, 40, 60):
        for ang in (0, 90, 180, 270):
            t = math.radians(ang + 45)
            conditions.append((f'shift {r} mm @{ang + 45} deg', dict(dx_mm=r * math.cos(t), dy_mm=r * math.sin(t), angle_deg=0, flip=False)))
    for ang in (90, 180):
        conditions.append((f'rotated {ang} deg', dict(dx_mm=0, dy_mm=0, angle_deg=ang, flip=False)))
    conditions.append(('mirrored', dict(dx_mm=0, dy_mm=0, angle_deg=0, flip=True)))
    if a.all:
        still = dict(dx_mm=0, dy_mm=0, angle_deg=0, flip=False)
        conditions += [('shift 80 mm @45 deg', dict(still, dx_mm=80 / math.sqrt(2), dy_mm=80 / math.sqrt(2))),
                       ('scale 0.6', dict(still, scale=0.6)), ('scale 1.6', dict(still, scale=1.6)),
                       ('transposed', dict(still, transpose=True))]
        for name, kind, value in (('gamma 0.5', 'gamma', 0.5), ('gamma 2.0', 'gamma', 2.0), ('contrast -40 %', 'contrast', 0.6),
                                  ('contrast +40 %', 'contrast', 1.4), ('bias field (SD 0.35)', 'bias', 0.35),
                                  ('noise (SD 0.15 of the image SD)', 'noise', 0.15), ('blur (sigma 1.5 px)', 'blur', 1.5),
                                  ('lower resolution (x3)', 'lowres', 3.0), ('field of view cut 25 % (left, top)', 'cut', 0.25)):
            conditions.append((name, dict(still, perturb=(kind, value))))
    out = {name: dice_under(model, img, lab, meta, dev, **mv) for name, mv in conditions}
    print(json.dumps(out, indent=1))
    if a.out:
        from pathlib import Path
        Path(a.out).write_text(json.dumps({'weights': a.weights, 'model_grid_dice': out}, indent=1) + '\n')
    return out


if __name__ == '__main__':
    main()
