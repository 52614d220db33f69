"""Reads the ACDC training patients (NIfTI + Info.cfg). Needs nibabel (not on the GPU machine)."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Phase:
    image: np.ndarray        # [rows, columns, slices] float32, as the DICOM import shows the image
    label: np.ndarray        # [rows, columns, slices] uint8
    spacing: tuple           # (row spacing, column spacing, slice spacing) mm: PixelSpacing order
    clip: list = None        # per slice (lo, hi) percentiles of the full slice, where the image is a crop (native.py)
    full_shape: tuple = None  # the uncropped shape, where the image is a crop (native.py)


@dataclass
class Patient:
    pid: str
    group: str
    height_cm: float
    weight_kg: float
    ed: Phase
    es: Phase


def read_info(path: Path) -> dict:
    info = {}
    for line in path.read_text().splitlines():
        if ':' in line:
            k, v = line.split(':', 1)
            info[k.strip()] = v.strip()
    return info


def load_phase(folder: Path, pid: str, frame: int) -> Phase:
    import nibabel as nib
    im = nib.load(str(folder / f'{pid}_frame{frame:02d}.nii.gz'))
    gt = nib.load(str(folder / f'{pid}_frame{frame:02d}_gt.nii.gz'))
    z = im.header.get_zooms()
    # NIfTI axis 0 runs along the DICOM image's columns and axis 1 along its rows (src/nifti/geometry.ts):
    # transpose so training, evaluation and features see the slices exactly as the pipeline does.
    image = np.ascontiguousarray(np.asarray(im.dataobj, dtype=np.float32).transpose(1, 0, 2))
    label = np.ascontiguousarray(np.asarray(gt.dataobj).astype(np.uint8).transpose(1, 0, 2))
    return Phase(image, label, (float(z[1]), float(z[0]), float(z[2])))


def load_patient(root: Path, pid: str) -> Patient:
    folder = root / pid
    info = read_info(folder / 'Info.cfg')
    return Patient(pid, info['Group'], float(info['Height']), float(info['Weight']),
                   load_phase(folder, pid, int(info['ED'])), load_phase(folder, pid, int(info['ES'])))


def patient_ids(root: Path):
    return sorted(p.name for p in root.iterdir() if p.name.startswith('patient'))
