"""The study head, measured by repeated stratified cross-validation over the 100 ACDC training patients on
the masks the SERVICE predicts, and (--export) the shipped head fitted on the 80 training patients.

    npm run build && npm run head-features                # once: the pipeline's ED/ES masks -> training/runs/head-features
    /usr/bin/python3 -m training.pulse_lite.head_cv       # the table (EVAL.md "Diagnosis head: cross-validated")
    /usr/bin/python3 -m training.pulse_lite.head_cv --export   # study-head.onnx + manifest studyHead

`pipeline all` runs the dump (with the newly exported network) and --export as its last steps.

Protocol: 10 repeats x 5 folds stratified by group; in each fold the head (study_head.fit, the shipped
L-BFGS logistic regression) is fitted on the training folds, and its temperature on the training folds'
own out-of-fold logits (an inner 4-fold split), never on the held-out fold. ECE: top-label, 10 equal-width
confidence bins, per repeat, averaged. Caveat: the masks of the 80 training patients come from a network
trained on them (better masks than on unseen patients), so these figures are optimistic until the fold
models of the full cross-validation (pipeline cv) give every patient a mask from a network that never
saw it; the 20 validation patients' rows are the honest part.
"""
import argparse
import json
from pathlib import Path

import numpy as np
import torch

from . import config as C
from . import study_head as SH
from .features import HEAD_FEATURES, HEAD_FEATURES_1_0_0, bsa_m2, sector_thickness, slice_thickness, study_features

DUMP = C.RUNS / 'head-features'
REPEATS, FOLDS, INNER = 10, 5, 4
BINS = 10


def candidate_features(ed, es, spacing, base):
    """Candidates screened for MINF vs DCM that are NOT in the vocabulary (docs/study-features.md): kept
    here so that the screening and the nested selection below can be rerun."""
    def grid(labels):
        a = np.full((labels.shape[2], 6), np.nan)
        for (z, j), v in sector_thickness(labels, spacing).items():
            a[z, j] = v
        return a
    a_ed, a_es = grid(ed), grid(es)
    both = ~np.isnan(a_ed) & ~np.isnan(a_es)
    thick = (a_es[both] - a_ed[both]) / a_ed[both] * 100
    ed_v, es_v = a_ed[~np.isnan(a_ed)], a_es[~np.isnan(a_es)]
    th_ed, th_es = np.array(slice_thickness(ed, spacing)), np.array(slice_thickness(es, spacing))
    pct = lambda v, q: float(np.percentile(v, q)) if len(v) else 0.0
    ratio = lambda a, b: a / b if b else 0.0
    return {
        'cand_sector_ed_min_over_median': ratio(ed_v.min(), np.median(ed_v)) if len(ed_v) else 0.0,
        'cand_sector_ed_p10_over_median': ratio(pct(ed_v, 10), np.median(ed_v)) if len(ed_v) else 0.0,
        'cand_sector_es_p10_over_median': ratio(pct(es_v, 10), np.median(es_v)) if len(es_v) else 0.0,
        'cand_thickening_mean_pct': float(thick.mean()) if len(thick) else 0.0,
        'cand_thickening_p10_pct': pct(thick, 10), 'cand_thickening_p90_pct': pct(thick, 90),
        'cand_thickening_iqr_pct': pct(thick, 75) - pct(thick, 25),
        'cand_thickening_p90_p10_pct': pct(thick, 90) - pct(thick, 10),
        'cand_thickening_below_10pct_fraction': float((thick < 10).mean()) if len(thick) else 0.0,
        'cand_slice_thickness_ed_cv': ratio(th_ed.std(), th_ed.mean()) if len(th_ed) else 0.0,
        'cand_slice_thickness_es_cv': ratio(th_es.std(), th_es.mean()) if len(th_es) else 0.0,
        'cand_rv_lv_esv_ratio': ratio(base['rvesv_ml'], base['lvesv_ml']),
        'cand_mass_esv_ratio': ratio(base['lv_mass_g'], base['lvesv_ml']),
        'cand_myo_es_ed_ratio': ratio(base['myo_es_ml'] * 1.05, base['lv_mass_g']),
    }


def with_candidates(ed, es, spacing, height_cm, weight_kg):
    f = study_features(ed, es, spacing, height_cm, weight_kg)
    f.update(candidate_features(ed, es, spacing, f))
    return f


def load_rows(dump=DUMP):
    """Per patient: group, validation flag, features from predicted and expert masks (features.py)."""
    splits = json.loads(C.SPLITS.read_text())
    val = set(splits['validation'])
    rows = []
    for meta_path in sorted(Path(dump).glob('patient*.json')):
        m = json.loads(meta_path.read_text())
        s, r, c = m['shape']
        raw = np.fromfile(meta_path.with_suffix('.bin'), dtype=np.uint8).reshape(4, s, r, c).transpose(0, 2, 3, 1)
        if len(set(m['slabsMm'])) != 1:
            raise ValueError(f"{m['id']}: uneven slabs; features.py takes one slice spacing")
        spacing = (m['pixelSpacing'][0], m['pixelSpacing'][1], m['slabsMm'][0])
        rows.append({'id': m['id'], 'group': m['group'], 'val': m['id'] in val, 'height_cm': m['heightCm'],
                     'weight_kg': m['weightKg'], 'service': m['features'], 'model': m['model'],
                     'pred': with_candidates(raw[0], raw[1], spacing, m['heightCm'], m['weightKg']),
                     'truth': with_candidates(raw[2], raw[3], spacing, m['heightCm'], m['weightKg'])})
    if len(rows) != 100:
        raise SystemExit(f'{len(rows)} patients in {dump}: run `node dist/bench/head-features.js` first')
    return rows


def softmax(z):
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def folds(y, k, seed):
    """Stratified k folds: each group's patients shuffled (seeded) and dealt round-robin."""
    rng = np.random.default_rng(seed)
    fold = np.zeros(len(y), dtype=int)
    for g in np.unique(y):
        idx = np.flatnonzero(y == g)
        fold[rng.permutation(idx)] = np.arange(len(idx)) % k
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(k)]


def fit_standardised(x, y):
    mean, std = x.mean(0), x.std(0) + 1e-6
    return SH.fit((x - mean) / std, y, len(C.GROUPS)), mean, std


def logits(fitted, x):
    head, mean, std = fitted
    return SH.logits_of(head, (x - mean) / std)


def fit_with_temperature(x, y, seed, inner_repeats=1):
    """Head on all of (x, y); temperature from out-of-fold logits of inner splits of the same rows."""
    lo, yy = [], []
    for r in range(inner_repeats):
        for tr, te in folds(y, INNER, seed * 100 + r):
            lo.append(logits(fit_standardised(x[tr], y[tr]), x[te]))
            yy.append(y[te])
    temperature, _ = SH.fit_temperature(np.vstack(lo), np.concatenate(yy))
    return fit_standardised(x, y), temperature


def ece(p, y):
    conf, pred = p.max(1), p.argmax(1)
    edges = np.linspace(0, 1, BINS + 1)
    total = 0.0
    for i in range(BINS):
        sel = (conf > edges[i]) & (conf <= edges[i + 1])
        if sel.any():
            total += sel.mean() * abs((pred[sel] == y[sel]).mean() - conf[sel].mean())
    return float(total)


def macro_f1(pred, y):
    out = []
    for g in range(len(C.GROUPS)):
        tp, fp, fn = ((pred == g) & (y == g)).sum(), ((pred == g) & (y != g)).sum(), ((pred != g) & (y == g)).sum()
        out.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(out))


def summary(P, y, ids, val):
    """P [repeats, N, G] held-out probabilities -> metrics (mean and SD over repeats)."""
    per = lambda f: [f(P[r]) for r in range(len(P))]
    acc = per(lambda p: float((p.argmax(1) == y).mean()))
    conf = np.zeros((len(C.GROUPS),) * 2)
    for p in P:
        np.add.at(conf, (y, p.argmax(1)), 1 / len(P))
    correct = (P.argmax(2) == y[None]).mean(0)
    return {
        'accuracy': [float(np.mean(acc)), float(np.std(acc))],
        'macro_f1': float(np.mean(per(lambda p: macro_f1(p.argmax(1), y)))),
        'ece': [float(np.mean(per(lambda p: ece(p, y)))), float(np.std(per(lambda p: ece(p, y))))],
        'nll': float(np.mean(per(lambda p: -np.log(p[np.arange(len(y)), y] + 1e-12).mean()))),
        'accuracy_validation_20': float(np.mean([(p.argmax(1) == y)[val].mean() for p in P])),
        'confusion': conf.round(2).tolist(),
        'wrong_in_most_repeats': [ids[i] for i in np.flatnonzero(correct < 0.5)],
        'per_patient_correct': dict(zip(ids, correct.round(2).tolist())),
    }


def cross_validate(rows, names, source='pred', l2=None, expert_rows=False, forest=False):
    """Repeated stratified CV, scored on `source` features of the held-out fold. l2: another weight
    penalty; expert_rows: the training folds also get their expert-mask features as extra rows;
    forest: a random forest (scikit-learn, 300 trees, leaves >= 2; untempered) instead of the head."""
    y = np.array([C.GROUPS.index(r['group']) for r in rows])
    x = np.array([[r[source][n] for n in names] for r in rows])
    xe = np.array([[r['truth'][n] for n in names] for r in rows])
    P = np.zeros((REPEATS, len(rows), len(C.GROUPS)))
    temps = []
    old_l2 = SH.L2
    SH.L2 = l2 if l2 is not None else old_l2
    try:
        for rep in range(REPEATS):
            for tr, te in folds(y, FOLDS, 1000 + rep):
                xtr, ytr = (np.vstack([x[tr], xe[tr]]), np.concatenate([y[tr], y[tr]])) if expert_rows else (x[tr], y[tr])
                if forest:
                    from sklearn.ensemble import RandomForestClassifier
                    rf = RandomForestClassifier(300, min_samples_leaf=2, random_state=rep).fit(xtr, ytr)
                    P[rep, te] = rf.predict_proba(x[te])
                    continue
                fitted, t = fit_with_temperature(xtr, ytr, rep)
                temps.append(t)
                P[rep, te] = softmax(logits(fitted, x[te]) / t)
    finally:
        SH.L2 = old_l2
    out = summary(P, y, [r['id'] for r in rows], np.array([r['val'] for r in rows]))
    out['temperature_mean'] = float(np.mean(temps)) if temps else None
    return out


def validation_only(rows, names):
    """Fit on the 80 training patients (temperature from their inner out-of-fold logits), score the 20."""
    y = np.array([C.GROUPS.index(r['group']) for r in rows])
    x = np.array([[r['pred'][n] for n in names] for r in rows])
    val = np.array([r['val'] for r in rows])
    fitted, t = fit_with_temperature(x[~val], y[~val], 0, inner_repeats=5)
    p = softmax(logits(fitted, x[val]) / t)
    conf = np.zeros((len(C.GROUPS),) * 2, dtype=int)
    np.add.at(conf, (y[val], p.argmax(1)), 1)
    return {'accuracy': float((p.argmax(1) == y[val]).mean()), 'macro_f1': macro_f1(p.argmax(1), y[val]),
            'ece': ece(p, y[val]), 'nll': float(-np.log(p[np.arange(val.sum()), y[val]]).mean()), 'temperature': t,
            'confusion': conf.tolist(),
            'wrong': [r['id'] for r, ok in zip([r for r in rows if r['val']], p.argmax(1) == y[val]) if not ok]}, fitted, t


VARIANTS = {
    '1.0.0 features (15)': HEAD_FEATURES_1_0_0,
    '1.0.0 features + sector_thickness_es_cv': HEAD_FEATURES_1_0_0 + ['sector_thickness_es_cv'],
    '1.0.1 features (shipped)': HEAD_FEATURES,
}

# Other heads tried on the shipped features (and the forest on the old ones), CV only.
TRIED = {
    'shipped features, L2 0.01': (HEAD_FEATURES, {'l2': 0.01}),
    'shipped features, L2 0.1': (HEAD_FEATURES, {'l2': 0.1}),
    'shipped features + expert-mask rows in training': (HEAD_FEATURES, {'expert_rows': True}),
    'random forest, 1.0.0 features': (HEAD_FEATURES_1_0_0, {'forest': True}),
    'random forest, shipped features': (HEAD_FEATURES, {'forest': True}),
}

# The feature sets the nested selection chooses among inside each training fold.
_STABLE = [n for n in HEAD_FEATURES_1_0_0 if n not in ('sector_thickening_min_pct', 'sector_thickening_cv')]
NESTED_CANDIDATES = [
    HEAD_FEATURES_1_0_0,
    HEAD_FEATURES_1_0_0 + ['sector_thickness_es_cv'],
    HEAD_FEATURES_1_0_0 + ['sector_thickness_es_cv', 'cand_thickening_p90_p10_pct'],
    _STABLE + ['sector_thickness_es_cv', 'cand_thickening_p90_p10_pct'],
    HEAD_FEATURES,
    _STABLE + ['sector_thickness_es_cv', 'cand_thickening_p90_p10_pct', 'cand_rv_lv_esv_ratio', 'cand_mass_esv_ratio'],
]


def screen(rows):
    """Univariate MINF-vs-DCM AUC of every feature on the predicted masks (all 100 patients: a screen,
    optimistic by construction)."""
    sub = [r for r in rows if r['group'] in ('MINF', 'DCM')]
    minf = np.array([r['group'] == 'MINF' for r in sub])
    out = {}
    for name in rows[0]['pred']:
        v = np.array([r['pred'][name] for r in sub])
        # Mann-Whitney AUC (ties count half)
        gt = (v[minf][:, None] > v[~minf][None]).mean() + 0.5 * (v[minf][:, None] == v[~minf][None]).mean()
        out[name] = round(float(max(gt, 1 - gt)), 3)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def nested_selection(rows):
    """CV of the whole procedure 'choose the feature set by inner out-of-fold NLL, then fit'."""
    y = np.array([C.GROUPS.index(r['group']) for r in rows])
    X = [np.array([[r['pred'][n] for n in names] for r in rows]) for names in NESTED_CANDIDATES]
    P = np.zeros((REPEATS, len(rows), len(C.GROUPS)))
    chosen = np.zeros(len(X), dtype=int)
    for rep in range(REPEATS):
        for tr, te in folds(y, FOLDS, 1000 + rep):
            best = None
            for i, x in enumerate(X):
                lo, yy = [], []
                for itr, ite in folds(y[tr], INNER, rep):
                    lo.append(logits(fit_standardised(x[tr][itr], y[tr][itr]), x[tr][ite]))
                    yy.append(y[tr][ite])
                t, nll = SH.fit_temperature(np.vstack(lo), np.concatenate(yy))
                if best is None or nll < best[0]:
                    best = (nll, i, t)
            _, i, t = best
            chosen[i] += 1
            P[rep, te] = softmax(logits(fit_standardised(X[i][tr], y[tr]), X[i][te]) / t)
    out = summary(P, y, [r['id'] for r in rows], np.array([r['val'] for r in rows]))
    out['times_chosen'] = chosen.tolist()
    return out


VALIDATION_NOTE = ('Python-side figures (training/pulse_lite/evaluate.py) on the native image grid, except diagnosisAccuracy: '
                   'study head {version} on the service\'s masks of the 20 validation patients (head_cv --export), '
                   'what `pulse eval --split val` reports (EVAL.md)')


def export(rows, fitted, temperature, validation, model_dir=None):
    """study-head.onnx and the manifest's studyHead (features, standardisation, temperature, default BSA), the
    model version, and validation.diagnosisAccuracy: the head's accuracy on the 20 validation patients'
    service masks, the figure `pulse eval --split val` reproduces (export.py wrote evaluate.py's, the interim
    head's). model_dir: another folder holding a manifest.json (tests)."""
    model_dir = Path(model_dir) if model_dir else C.MODEL_DIR
    head, mean, std = fitted
    SH.export(head, model_dir / 'study-head.onnx', len(HEAD_FEATURES))
    path = model_dir / 'manifest.json'
    manifest = json.loads(path.read_text())
    bsas = [bsa_m2(r['height_cm'], r['weight_kg']) for r in rows if not r['val']]
    manifest['version'] = C.VERSION
    manifest['diagnosis']['studyHead'].update({
        'features': [{'name': n, 'size': 1} for n in HEAD_FEATURES],
        'mean': [round(float(v), 4) for v in mean], 'std': [round(float(v), 4) for v in std],
        'temperature': round(float(temperature), 4), 'defaultBsaM2': round(float(np.median(bsas)), 3)})
    if 'validation' in manifest:
        manifest['validation']['diagnosisAccuracy'] = round(float(validation['accuracy']), 4)
        manifest['validation']['note'] = VALIDATION_NOTE.format(version=C.VERSION)
    path.write_text(json.dumps(manifest, indent=2) + '\n')
    print('wrote', model_dir / 'study-head.onnx', 'and', path,
          f"(validation 20: accuracy {validation['accuracy']:.3f}, ECE {validation['ece']:.3f}, temperature {temperature:.4f})")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument('--dump', default=str(DUMP))
    ap.add_argument('--out', default=str(C.RUNS / 'head-cv.json'))
    ap.add_argument('--export', action='store_true', help='write the shipped head (fitted on the 80 training patients)')
    ap.add_argument('--model-dir', default=str(C.MODEL_DIR), help='where --export writes (a folder with manifest.json)')
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    rows = load_rows(a.dump)
    drift = max(abs(r['service'][n] - r['pred'][n]) / max(1.0, abs(r['pred'][n])) for r in rows for n in r['service'] if n in r['pred'])
    print(f'service vs features.py on the same masks: largest relative difference {drift:.1e}')
    if a.export:
        validation, fitted, t = validation_only(rows, HEAD_FEATURES)
        export(rows, fitted, t, validation, a.model_dir)
        return
    report = {'protocol': __doc__.strip().split('\n\n')[2], 'variants': {}, 'tried': {}}
    for name, (names, options) in TRIED.items():
        res = cross_validate(rows, names, **options)
        report['tried'][name] = res
        print(f"{name:45s} CV acc {res['accuracy'][0]:.3f}±{res['accuracy'][1]:.3f} F1 {res['macro_f1']:.3f} "
              f"ECE {res['ece'][0]:.3f} NLL {res['nll']:.3f} wrong {res['wrong_in_most_repeats']}", flush=True)
    for name, names in VARIANTS.items():
        res = cross_validate(rows, names)
        res['validation_only'] = validation_only(rows, names)[0]
        res['expert_masks_cv'] = {k: v for k, v in cross_validate(rows, names, source='truth').items() if k in ('accuracy', 'ece', 'nll', 'wrong_in_most_repeats')}
        report['variants'][name] = res
        v = res['validation_only']
        print(f"{name:45s} CV acc {res['accuracy'][0]:.3f}±{res['accuracy'][1]:.3f} F1 {res['macro_f1']:.3f} "
              f"ECE {res['ece'][0]:.3f} NLL {res['nll']:.3f} T {res['temperature_mean']:.2f} wrong {res['wrong_in_most_repeats']} | "
              f"val20 acc {v['accuracy']:.2f} ECE {v['ece']:.3f} wrong {v['wrong']} | expert-mask CV acc {res['expert_masks_cv']['accuracy'][0]:.3f}", flush=True)
    report['screen_auc_minf_vs_dcm'] = screen(rows)
    nested = report['nested_selection'] = nested_selection(rows)
    print(f"nested selection among {len(NESTED_CANDIDATES)} feature sets: CV acc {nested['accuracy'][0]:.3f}±{nested['accuracy'][1]:.3f} "
          f"ECE {nested['ece'][0]:.3f} NLL {nested['nll']:.3f} chosen {nested['times_chosen']}", flush=True)
    Path(a.out).write_text(json.dumps(report, indent=1) + '\n')
    print('wrote', a.out)


if __name__ == '__main__':
    main()
