"""Study-level features, exactly as docs/study-features.md defines them (TypeScript:
src/analysis/study-features.ts). Labels: 1 RV cavity, 2 LV myocardium, 3 LV cavity."""
import math

import numpy as np

RV, MYO, LV = 1, 2, 3
THETA = math.pi / 3


def bsa_m2(height_cm, weight_kg):
    return math.sqrt(height_cm * weight_kg / 3600)


def volume_ml(labels, k, spacing):
    """labels [rows, cols, slices]; NIfTI: every slab is the header's slice spacing thick."""
    return float((labels == k).sum()) * spacing[0] * spacing[1] * spacing[2] / 1000


def _areas(sl, spacing):
    px = spacing[0] * spacing[1]
    return float((sl == LV).sum()) * px, float((sl == MYO).sum()) * px


def slice_thickness(labels, spacing):
    """Per slice: th = sqrt((A_lv + A_myo)/pi) - sqrt(A_lv/pi), for slices with both > 0."""
    out = []
    for z in range(labels.shape[2]):
        a_lv, a_myo = _areas(labels[:, :, z], spacing)
        if a_lv > 0 and a_myo > 0:
            out.append(math.sqrt((a_lv + a_myo) / math.pi) - math.sqrt(a_lv / math.pi))
    return out


def sector_thickness(labels, spacing):
    """{(slice, sector): th_j} for the (slice, sector) pairs with A_lv_j > 0 and A_myo_j > 0."""
    out = {}
    rows, cols = np.mgrid[:labels.shape[0], :labels.shape[1]]
    px = spacing[0] * spacing[1]
    for z in range(labels.shape[2]):
        sl = labels[:, :, z]
        lv = sl == LV
        if not lv.any():
            continue
        cr, cc = rows[lv].mean(), cols[lv].mean()
        ang = np.arctan2((rows - cr) * spacing[0], (cols - cc) * spacing[1])
        sector = np.minimum(5, np.floor((ang + math.pi) / THETA)).astype(int)
        for j in range(6):
            in_j = sector == j
            a_lv = float((lv & in_j).sum()) * px
            a_myo = float(((sl == MYO) & in_j).sum()) * px
            if a_lv > 0 and a_myo > 0:
                out[(z, j)] = math.sqrt(2 * (a_lv + a_myo) / THETA) - math.sqrt(2 * a_lv / THETA)
    return out


def _cv(values):
    if not values:
        return 0.0
    v = np.asarray(values, dtype=np.float64)
    m = v.mean()
    return float(v.std() / m) if m != 0 else 0.0


def study_features(ed, es, spacing, height_cm=None, weight_kg=None, default_bsa=1.8):
    """ed, es: label maps [rows, cols, slices]; spacing (row, col, slice) mm -> {name: value}."""
    bsa = bsa_m2(height_cm, weight_kg) if height_cm and weight_kg else default_bsa
    f = {}
    f['lvedv_ml'], f['lvesv_ml'] = volume_ml(ed, LV, spacing), volume_ml(es, LV, spacing)
    f['rvedv_ml'], f['rvesv_ml'] = volume_ml(ed, RV, spacing), volume_ml(es, RV, spacing)
    f['lvef_pct'] = (f['lvedv_ml'] - f['lvesv_ml']) / f['lvedv_ml'] * 100 if f['lvedv_ml'] > 0 else 0.0
    f['rvef_pct'] = (f['rvedv_ml'] - f['rvesv_ml']) / f['rvedv_ml'] * 100 if f['rvedv_ml'] > 0 else 0.0
    f['lv_mass_g'] = volume_ml(ed, MYO, spacing) * 1.05
    f['myo_es_ml'] = volume_ml(es, MYO, spacing)
    for k in ('lvedv', 'lvesv', 'rvedv', 'rvesv'):
        f[k + 'i'] = f[k + '_ml'] / bsa
    f['lv_mass_i'] = f['lv_mass_g'] / bsa
    f['rv_lv_edv_ratio'] = f['rvedv_ml'] / f['lvedv_ml'] if f['lvedv_ml'] > 0 else 0.0
    f['mass_edv_ratio'] = f['lv_mass_g'] / f['lvedv_ml'] if f['lvedv_ml'] > 0 else 0.0
    th_ed, th_es = slice_thickness(ed, spacing), slice_thickness(es, spacing)
    f['myo_thickness_ed_mean_mm'] = float(np.mean(th_ed)) if th_ed else 0.0
    f['myo_thickness_es_mean_mm'] = float(np.mean(th_es)) if th_es else 0.0
    f['myo_thickness_ed_max_mm'] = float(np.max(th_ed)) if th_ed else 0.0
    f['myo_thickness_es_max_mm'] = float(np.max(th_es)) if th_es else 0.0
    m = f['myo_thickness_ed_mean_mm']
    f['myo_thickening_pct'] = (f['myo_thickness_es_mean_mm'] - m) / m * 100 if m > 0 else 0.0
    s_ed, s_es = sector_thickness(ed, spacing), sector_thickness(es, spacing)
    f['sector_thickness_ed_cv'] = _cv(list(s_ed.values()))
    # Regional heterogeneity at end-systole: healthy segments thicken, infarcted ones do not (MINF vs DCM).
    f['sector_thickness_es_cv'] = _cv(list(s_es.values()))
    thick = [(s_es[k] - s_ed[k]) / s_ed[k] * 100 for k in s_ed if k in s_es]
    f['sector_thickening_min_pct'] = float(min(thick)) if thick else 0.0
    f['sector_thickening_cv'] = _cv(thick)
    f['sector_thickening_std_pct'] = float(np.std(thick)) if thick else 0.0
    return f


# The features the shipped study head uses, in order (indexed volumes so body size does not decide).
# 1.0.1: the end-systolic sector-thickness heterogeneity and the spread of sector thickening replace the
# minimum and the CV of sector thickening (unstable: a mean near 0 in DCM); measured in head_cv.py.
HEAD_FEATURES = ['lvedvi', 'lvesvi', 'lvef_pct', 'rvedvi', 'rvesvi', 'rvef_pct', 'lv_mass_i', 'rv_lv_edv_ratio',
                 'mass_edv_ratio', 'myo_thickness_ed_mean_mm', 'myo_thickness_ed_max_mm', 'myo_thickening_pct',
                 'sector_thickness_ed_cv', 'sector_thickness_es_cv', 'sector_thickening_std_pct']
# The 1.0.0 head's features, kept for the comparison in head_cv.py.
HEAD_FEATURES_1_0_0 = ['lvedvi', 'lvesvi', 'lvef_pct', 'rvedvi', 'rvesvi', 'rvef_pct', 'lv_mass_i', 'rv_lv_edv_ratio',
                       'mass_edv_ratio', 'myo_thickness_ed_mean_mm', 'myo_thickness_ed_max_mm', 'myo_thickening_pct',
                       'sector_thickness_ed_cv', 'sector_thickening_min_pct', 'sector_thickening_cv']
