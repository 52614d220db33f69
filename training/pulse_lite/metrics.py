"""Pure metrics and fold assignment for the cross-validation (cv.py), defined as `pulse eval` defines
them where it has them (src/pipeline/metrics.ts): 3D Dice per patient and phase (None when the structure
is absent from both), medpy's HD95 (surface voxels by 6-connected erosion, outside the volume counts as
outside, distances in mm on the voxel grid, both directions pooled, 95th percentile with numpy's linear
interpolation), macro-F1 over the classes present in truth or predictions."""
import numpy as np
from scipy import ndimage

ECE_BINS = 10


def assign_folds(groups, k):
    """groups: {patient id: group} -> k lists of IDs, stratified by group and deterministic: within each
    group (groups in sorted order) the patients in ID order are dealt to folds 0, 1, ..., k-1, 0, ...,
    the deal continuing across groups. On ACDC (20 per group, k = 5) fold f holds the (f+1)-th, (f+6)-th,
    (f+11)-th and (f+16)-th patient of every group, so fold 4 is the fixed validation split of 1.0
    (splits.json: every 5th patient of each group)."""
    folds = [[] for _ in range(k)]
    n = 0
    for g in sorted(set(groups.values())):
        for pid in sorted(p for p, gg in groups.items() if gg == g):
            folds[n % k].append(pid)
            n += 1
    return [sorted(f) for f in folds]


def dice(pred, truth, k):
    p, t = pred == k, truth == k
    den = int(p.sum()) + int(t.sum())
    return 2 * float((p & t).sum()) / den if den else None


def _surface(mask):
    return mask & ~ndimage.binary_erosion(mask, structure=ndimage.generate_binary_structure(3, 1), border_value=0)


def hd95(pred, truth, k, spacing):
    """95 % Hausdorff distance (mm) between label k of two [rows, cols, slices] maps with the given
    (row, column, slice) spacing; None when the structure is missing from either."""
    a, b = _surface(pred == k), _surface(truth == k)
    if not a.any() or not b.any():
        return None
    to_b = ndimage.distance_transform_edt(~b, sampling=spacing)
    to_a = ndimage.distance_transform_edt(~a, sampling=spacing)
    return float(np.percentile(np.concatenate([to_b[a], to_a[b]]), 95))


def macro_f1(truth, predicted):
    labels = sorted(set(truth) | set(predicted))
    f1s = []
    for c in labels:
        tp = sum(1 for t, p in zip(truth, predicted) if t == c and p == c)
        n_pred = sum(1 for p in predicted if p == c)
        n_true = sum(1 for t in truth if t == c)
        prec = tp / n_pred if n_pred else 0.0
        rec = tp / n_true if n_true else 0.0
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0)
    return float(np.mean(f1s)) if f1s else 0.0


def ece(confidence, correct, bins=ECE_BINS):
    """Expected calibration error of the top-class probability: equal-width bins over [0, 1] (bin b holds
    confidences in (b/bins, (b+1)/bins], the first also 0), ECE = sum over bins of
    (cases in bin / all cases) x |accuracy in bin - mean confidence in bin|."""
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    if len(conf) == 0:
        return None
    idx = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() / len(conf) * abs(ok[m].mean() - conf[m].mean())
    return float(total)


def mean_sd(values):
    """Mean and sample SD (ddof 1; 0 for a single value) of the values that are not None."""
    v = np.array([x for x in values if x is not None], dtype=np.float64)
    if len(v) == 0:
        return {'mean': None, 'sd': None, 'n': 0}
    return {'mean': float(v.mean()), 'sd': float(v.std(ddof=1)) if len(v) > 1 else 0.0, 'n': int(len(v))}
