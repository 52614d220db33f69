"""Validation Dice (model grid, the 20 held-out patients) when the heart is moved away from the window
centre, rotated, or flipped: the service crops at the image centre and cannot assume a centred heart.

    /usr/bin/python3 -m training.pulse_lite.robustness [--weights ...] [--device cpu]
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


def moved(img, lab, dx_mm, dy_mm, angle_deg, flip):
    """Canvas images [B,1,K,K] -> the window seen when the heart sits (dx, dy) mm off centre, rotated."""
    b, k = img.shape[0], img.shape[-1]
    s = C.SIZE
    lin = torch.linspace(-1, 1, s) * (s - 1) / (k - 1)
    yy, xx = torch.meshgrid(lin, lin, indexing='ij')
    a = math.radians(angle_deg)
    fx = -1.0 if flip else 1.0
    gx = (math.cos(a) * xx * fx - math.sin(a) * yy) - dx_mm / C.SPACING_MM * 2 / (k - 1)
    gy = (math.sin(a) * xx * fx + math.cos(a) * yy) - dy_mm / C.SPACING_MM * 2 / (k - 1)
    grid = torch.stack([gx, gy], -1)[None].expand(b, -1, -1, -1)
    wi = F.grid_sample(img, grid, mode='bilinear', padding_mode='zeros', align_corners=True)
    wl = F.grid_sample(lab[:, None].float(), grid, mode='nearest', padding_mode='zeros', align_corners=True)[:, 0].long()
    return wi, wl


@torch.no_grad()
def dice_under(model, img, lab, meta, dev, **move):
    acc = {}
    for s in range(0, len(img), 64):
        wi, wl = moved(img[s:s + 64].float()[:, None], lab[s:s + 64], **move)
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
    out = {name: dice_under(model, img, lab, meta, dev, **mv) for name, mv in conditions}
    print(json.dumps(out, indent=1))
    return out


if __name__ == '__main__':
    main()
