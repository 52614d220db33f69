"""The ACDC ED/ES volumes on their own (native) grid, for evaluations that must run where the NIfTI files
and nibabel are not (the GPU machine): `.carry/acdc-native.npz`, built once here from the NIfTI files.

Each volume is cropped symmetrically about the image centre to the part the training canvas (264 mm,
wider than the 240 mm model window) can see, plus a margin of a few pixels, so the predictions, the
clean-up, Dice, HD95 and the study features computed on the cropped volume are exactly those on the full
one: the window is centred on the image centre, which the symmetric crop keeps, and nothing outside the
window is ever predicted. A crop never removes an expert-labelled voxel (checked when building).
Intensities stay the original int16 values; each slice's clipping percentiles over the full slice are
kept, so `prepare` builds the same training cache from this file as from the NIfTI files. The arrays are
LZMA-compressed (a quarter smaller than zlib), so this file and the repository fit in what travels to
the GPU machine (64 MiB); the training cache is rebuilt there from it.

    /usr/bin/python3 -m training.pulse_lite.native          # build .carry/acdc-native.npz
"""
import json
import lzma
import math
import time

import numpy as np

from . import config as C
from .acdc import Patient, Phase

NATIVE_CACHE = C.ROOT / '.carry' / 'acdc-native.npz'


def crop_margin(n, spacing_mm):
    """Pixels that can be removed at each end of an axis of n pixels without changing what the window
    samples (bilinear, one model pixel of spill-over on the way back)."""
    reach_mm = (max(C.SIZE, C.CANVAS) - 1) / 2 * C.SPACING_MM + C.SPACING_MM   # half-width + one model pixel
    keep_from = math.floor((n - 1) / 2 - reach_mm / spacing_mm) - 2
    return max(0, keep_from)


def crop_phase(ph):
    """Phase -> (cropped Phase, (row margin, column margin)); margins shrink so no labelled voxel is cut."""
    margins = []
    for axis in (0, 1):
        n = ph.image.shape[axis]
        m = crop_margin(n, ph.spacing[axis])
        fg = np.where((ph.label > 0).any(axis=tuple(a for a in (0, 1, 2) if a != axis)))[0]
        if len(fg):
            m = min(m, int(fg[0]), int(n - 1 - fg[-1]))
        margins.append(m)
    r, c = margins
    rows, cols = ph.image.shape[0], ph.image.shape[1]
    sl = (slice(r, rows - r), slice(c, cols - c))
    return Phase(np.ascontiguousarray(ph.image[sl]), np.ascontiguousarray(ph.label[sl]), ph.spacing), (r, c)


def _pack(a):
    return np.frombuffer(lzma.compress(np.ascontiguousarray(a).tobytes(), preset=6), dtype=np.uint8)


def _unpack(blob, dtype, shape):
    return np.frombuffer(lzma.decompress(blob.tobytes()), dtype=dtype).reshape(shape).copy()


def build(out=NATIVE_CACHE):
    from .acdc import load_patient, patient_ids
    t0 = time.time()
    arrays, index = {}, []
    for pid in patient_ids(C.ACDC):
        p = load_patient(C.ACDC, pid)
        entry = {'id': pid, 'group': p.group, 'height_cm': p.height_cm, 'weight_kg': p.weight_kg}
        for name, ph in (('ed', p.ed), ('es', p.es)):
            cropped, margins = crop_phase(ph)
            if not np.array_equal(cropped.image, cropped.image.astype(np.int16)):
                raise ValueError(f'{pid} {name}: image values are not int16')
            arrays[f'{pid}_{name}_image'] = _pack(cropped.image.astype(np.int16))
            arrays[f'{pid}_{name}_label'] = _pack(cropped.label.astype(np.uint8))
            clip = [[float(v) for v in np.percentile(ph.image[:, :, z], C.CLIP_PERCENTILES)] for z in range(ph.image.shape[2])]
            entry[name] = {'spacing': list(ph.spacing), 'shape': list(ph.image.shape), 'crop': list(margins),
                           'cropped_shape': list(cropped.image.shape), 'clip': clip}
        index.append(entry)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, index=np.array(json.dumps(index)), **arrays)
    print(f'{out}: {len(index)} patients, {out.stat().st_size / 1e6:.1f} MB, {time.time() - t0:.0f} s')


class NativeCache:
    """Patients (acdc.Patient, cropped volumes) from the native cache, read lazily."""

    def __init__(self, path=NATIVE_CACHE):
        self.z = np.load(path)
        self.index = {e['id']: e for e in json.loads(str(self.z['index']))}

    def ids(self):
        return sorted(self.index)

    def group(self, pid):
        return self.index[pid]['group']

    def patient(self, pid):
        e = self.index[pid]
        phases = []
        for n in ('ed', 'es'):
            shape = tuple(e[n]['cropped_shape'])
            phases.append(Phase(_unpack(self.z[f'{pid}_{n}_image'], np.int16, shape).astype(np.float32),
                                _unpack(self.z[f'{pid}_{n}_label'], np.uint8, shape), tuple(e[n]['spacing']),
                                [tuple(c) for c in e[n]['clip']], tuple(e[n]['shape'])))
        return Patient(pid, e['group'], e['height_cm'], e['weight_kg'], phases[0], phases[1])


class NiftiSource:
    """The same interface straight from the NIfTI files (needs nibabel)."""

    def __init__(self, root=C.ACDC):
        from .acdc import patient_ids, read_info
        self.root = root
        self._ids = patient_ids(root)
        self._groups = {pid: read_info(root / pid / 'Info.cfg')['Group'] for pid in self._ids}

    def ids(self):
        return list(self._ids)

    def group(self, pid):
        return self._groups[pid]

    def patient(self, pid):
        from .acdc import load_patient
        return load_patient(self.root, pid)


def open_source(path=None):
    """The native cache where it exists (or is asked for), else the NIfTI files."""
    from pathlib import Path
    p = Path(path) if path else NATIVE_CACHE
    if p.exists():
        return NativeCache(p)
    if path:
        raise FileNotFoundError(f'native cache {p} not found (build it with python3 -m training.pulse_lite.native)')
    return NiftiSource()


if __name__ == '__main__':
    build()
