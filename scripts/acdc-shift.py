"""A shift of real data for the calibration measurements (docs/calibration.md): copies ACDC patient
folders with another "scanner's" look. Resolution: in-plane 2x2 block average (pixel spacing doubled;
labels take the top-left voxel of each block). Intensity: gamma 0.5 on the 99th-percentile-scaled
image (weaker blood-myocardium contrast), a linear bias field from 0.7 to 1.3 across the rows, Gaussian
noise at 3 % of the scale, stored as 0..1000. Run from the project root:
    /usr/bin/python3 scripts/acdc-shift.py ../shared/data/acdc/training <out dir> patient001 patient002 ...
"""
import os, shutil, sys
import numpy as np
import nibabel as nib

src, out = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(20261129)
for name in sys.argv[3:]:
    pin, pout = os.path.join(src, name), os.path.join(out, name)
    os.makedirs(pout, exist_ok=True)
    shutil.copy(os.path.join(pin, 'Info.cfg'), os.path.join(pout, 'Info.cfg'))
    for f in sorted(os.listdir(pin)):
        if not f.endswith('.nii.gz') or '_4d' in f:
            continue
        img = nib.load(os.path.join(pin, f))
        data = np.asarray(img.get_fdata(), dtype=np.float64)
        x, y = (data.shape[0] // 2) * 2, (data.shape[1] // 2) * 2
        data = data[:x, :y]
        if f.endswith('_gt.nii.gz'):
            small = data[::2, ::2].astype(np.int16)
        else:
            small = data.reshape(x // 2, 2, y // 2, 2, *data.shape[2:]).mean(axis=(1, 3))
            scale = np.percentile(small, 99) or 1.0
            v = np.clip(small / scale, 0, None) ** 0.5
            bias = np.linspace(0.7, 1.3, v.shape[0]).reshape(-1, *([1] * (v.ndim - 1)))
            v = v * bias + rng.normal(0, 0.03, v.shape)
            small = np.clip(v * 1000, 0, 4095).astype(np.int16)
        affine = img.affine.copy()
        affine[:3, 0] *= 2
        affine[:3, 1] *= 2
        header = img.header.copy()
        zooms = list(header.get_zooms())
        zooms[0] *= 2
        zooms[1] *= 2
        new = nib.Nifti1Image(small, affine, header)
        new.header.set_zooms(zooms)
        new.set_sform(affine, code=int(img.header['sform_code']))
        new.set_qform(affine, code=int(img.header['qform_code']))
        nib.save(new, os.path.join(pout, f))
    print(pout)
