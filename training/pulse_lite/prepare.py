"""Builds the compact training cache: every ED/ES slice of the 100 ACDC patients resampled to the
model spacing on a CANVAS x CANVAS window around the image centre (uint8 image, uint8 labels).

    /usr/bin/python3 -m training.pulse_lite.prepare [--native .carry/acdc-native.npz] [--out .carry/acdc-cache.npz]

With --native it reads the native cache (native.py) instead of the NIfTI files: the same cache, built
where nibabel and the NIfTI files are not (the GPU machine).
"""
import argparse
import json
import time

import numpy as np
import torch

from . import config as C
from .geometry import to_model_grid


def make_splits():
    """Fixed hold-out: 4 patients per group (every 5th patient of each group), written once."""
    if C.SPLITS.exists():
        return json.loads(C.SPLITS.read_text())
    from .acdc import read_info
    by_group = {g: [] for g in C.GROUPS}
    for pid in patient_ids(C.ACDC):
        by_group[read_info(C.ACDC / pid / 'Info.cfg')['Group']].append(pid)
    val = sorted(p for g in C.GROUPS for p in by_group[g][4::5])
    train = sorted(p for g in C.GROUPS for p in by_group[g] if p not in val)
    splits = {'description': 'Fixed ACDC split: 4 held-out validation patients per group (every 5th patient '
                             'of each group in ID order); used for model selection and reporting only.',
              'validation': val, 'train': train}
    C.SPLITS.write_text(json.dumps(splits, indent=2) + '\n')
    return splits


def slice_to_canvas(image2d, label2d, spacing, clip=None, canvas=C.CANVAS):
    """clip: the slice's (lo, hi) percentiles when image2d is a crop of it (native.py), else computed here."""
    img = torch.from_numpy(image2d)[None, None]
    lo, hi = clip if clip is not None else np.percentile(image2d, C.CLIP_PERCENTILES)
    img = ((img.clamp(float(lo), float(hi)) - lo) / max(hi - lo, 1e-6) * 255)
    out = to_model_grid(img, spacing, canvas, C.SPACING_MM)[0, 0]
    onehot = torch.nn.functional.one_hot(torch.from_numpy(label2d).long(), 4).permute(2, 0, 1)[None].float()
    lab = to_model_grid(onehot, spacing, canvas, C.SPACING_MM)[0]
    # outside the source the one-hot is all zero -> argmax is background
    return out.round().clamp(0, 255).to(torch.uint8).numpy(), lab.argmax(0).to(torch.uint8).numpy()


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument('--native', default=None, help='build from this native cache instead of the NIfTI files')
    ap.add_argument('--out', default=str(C.CACHE))
    a = ap.parse_args(argv or [])
    from pathlib import Path
    from .native import NativeCache, NiftiSource
    out = Path(a.out)
    t0 = time.time()
    splits = make_splits()
    source = NativeCache(a.native) if a.native else NiftiSource()
    imgs, labs, meta = [], [], []
    patients = []
    for p_index, pid in enumerate(source.ids()):
        p = source.patient(pid)
        patients.append({'id': pid, 'group': p.group, 'height_cm': p.height_cm, 'weight_kg': p.weight_kg,
                         'spacing': list(p.ed.spacing), 'shape': list(p.ed.full_shape or p.ed.image.shape)})
        for phase_index, ph in enumerate((p.ed, p.es)):
            nz = ph.image.shape[2]
            for z in range(nz):
                im, lb = slice_to_canvas(ph.image[:, :, z], ph.label[:, :, z], ph.spacing[:2],
                                         ph.clip[z] if ph.clip is not None else None)
                imgs.append(im)
                labs.append(lb)
                meta.append((p_index, phase_index, z, nz, C.GROUPS.index(p.group)))
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, image=np.stack(imgs), label=np.stack(labs), meta=np.array(meta, dtype=np.int16),
                        patients=np.array(json.dumps(patients)), validation=np.array(json.dumps(splits['validation'])))
    print(f'cache {out}: {len(imgs)} slices, {out.stat().st_size / 1e6:.1f} MB, {time.time() - t0:.0f} s')


if __name__ == '__main__':
    import sys
    main(sys.argv[1:])
