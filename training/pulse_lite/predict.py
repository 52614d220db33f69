"""Inference on a short-axis stack, the way the TypeScript pipeline does it: each slice is resampled to
the model window (image centre, model spacing), normalised, segmented; the logits are resampled back
onto the slice's own grid (bilinear) and arg-maxed; then per phase the largest 3D component of each
structure is kept and holes are filled per slice (src/model/components.ts does the same)."""
import numpy as np
import torch
from scipy import ndimage

from . import config as C
from .geometry import neighbours, normalise, to_model_grid, to_source_grid


@torch.no_grad()
def predict_volume(model, volume, spacing, intensity_aug=None, tta=False, batch=32, size=C.SIZE):
    """volume [X,Y,Z] float -> (labels [X,Y,Z] uint8, embeddings [Z,D]). Resampling, normalisation and
    the network run on the model's device (the clean-up on the CPU)."""
    dev = next(model.parameters()).device
    nz = volume.shape[2]
    channels = model.e0[0].in_channels
    planes = torch.from_numpy(np.ascontiguousarray(volume.transpose(2, 0, 1))).float().to(dev)
    if channels == 1:
        x = planes[:, None]
    else:
        x = torch.stack([planes[list(neighbours(z, nz))] for z in range(nz)])
    w = to_model_grid(x, spacing[:2], size, C.SPACING_MM)
    w = normalise(w, C.CLIP_PERCENTILES)
    if intensity_aug is not None:
        w = intensity_aug(w)
    logits, embs = [], []
    for s in range(0, len(w), batch):
        lo, emb, _, _ = model(w[s:s + batch])
        if tta:
            lo = lo + model(w[s:s + batch].flip(-1))[0].flip(-1)
        logits.append(lo)
        embs.append(emb)
    lo = torch.cat(logits)
    src = to_source_grid(lo, volume.shape[:2], spacing[:2], C.SPACING_MM)
    labels = np.ascontiguousarray(src.argmax(1).to(torch.uint8).cpu().numpy().transpose(1, 2, 0))
    clean_up(labels)
    return labels, torch.cat(embs).cpu().numpy()


def clean_up(labels):
    """In place: largest 26-connected component per label, then per-slice hole filling."""
    for k in (1, 2, 3):
        comp, n = ndimage.label(labels == k, structure=np.ones((3, 3, 3)))
        if n > 1:
            sizes = ndimage.sum(np.ones_like(comp), comp, index=range(1, n + 1))
            labels[(comp > 0) & (comp != 1 + int(np.argmax(sizes)))] = 0
    for z in range(labels.shape[2]):
        sl = labels[:, :, z]
        fg = sl > 0
        holes = ndimage.binary_fill_holes(fg) & ~fg
        if not holes.any():
            continue
        comp, n = ndimage.label(holes)
        for h in range(1, n + 1):
            m = comp == h
            ring = ndimage.binary_dilation(m) & ~m
            votes = np.bincount(sl[ring], minlength=4)
            votes[0] = 0
            sl[m] = int(np.argmax(votes))
    return labels
