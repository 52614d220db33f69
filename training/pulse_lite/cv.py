"""5-fold cross-validation of the whole recipe over the 100 ACDC training patients (issue 14 item 1).

    /usr/bin/python3 -m training.pulse_lite.pipeline cv [all]        # folds, every fold in turn, aggregate
    /usr/bin/python3 -m training.pulse_lite.cv folds                 # write training/cv-folds.json
    /usr/bin/python3 -m training.pulse_lite.cv prepare               # training cache from the native cache
    /usr/bin/python3 -m training.pulse_lite.cv fold --fold K [--device cuda]   # one fold (resumable)
    /usr/bin/python3 -m training.pulse_lite.cv aggregate             # cv-report.json + EVAL-cv.md
    /usr/bin/python3 -m training.pulse_lite.cv rehead                # refit finished folds' heads from rows.json
    /usr/bin/python3 -m training.pulse_lite.cv export-head --model-dir D   # the out-of-fold head for a network on all 100
    /usr/bin/python3 -m training.pulse_lite.cv compare --out A --against B   # two recipes, paired, on the folds both ran
    /usr/bin/python3 -m training.pulse_lite.cv --smoke               # 2 folds on synthetic phantoms, seconds
Options: --recipe v1.1|v1.0, --set key=value (config.RECIPES), --out DIR (default training/runs/cv-<recipe>),
--max-seconds S (stop training with a checkpoint; run again to resume), --markdown PATH.

Per fold k (held-out = the patients of fold k, `training/cv-folds.json`):
1. train with the recipe on the other folds' slices (checkpoints + resume in <out>/fold-k, as train.py);
   the final step is kept (select 'last'): nothing ever looks at the held-out fold during training;
2. segment every patient's ED and ES volume with the fold's model exactly as evaluate.py does (image-centre
   window, native grid, clean-up): the held-out patients once (Dice, HD95, study features vs those of the
   expert masks), the training patients once clean and AUG_DRAWS times intensity-perturbed (the shipped
   head recipe) -> <out>/fold-k/rows.json;
3. the study head is fitted on the training patients' rows only; its temperature minimises the NLL of
   out-of-fold logits from an inner, group-stratified cross-validation over the training patients (a head
   per inner fold, fitted on the other inner folds), never on the held-out fold -> <out>/fold-k/result.json.
4. the out-of-fold head (`stacked_head`, in `aggregate`): for fold k, a head fitted on the other folds'
   held-out patients, whose features come from masks of networks that never saw them, the kind of masks
   a head meets in service; `export-head` fits this head on all 100 out-of-fold rows for a network
   trained on all patients (the in-fold head of step 3 is then reported beside it).
`aggregate` reads the fold results present: mean +- SD (sample SD) across folds of each fold's mean, and
the figures pooled over all held-out patients.
"""
import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import config as C
from . import metrics as M
from . import study_head
from .acdc import Patient, Phase
from .features import HEAD_FEATURES, study_features

FOLDS_FILE = C.ROOT / 'training' / 'cv-folds.json'
K = 5
AUG_DRAWS = 2          # perturbed predictions per training patient for the head (as evaluate.py)
STRUCTURES = (('rv', 1), ('myo', 2), ('lv', 3))
MEASURES = ('lvef_pct', 'rvef_pct', 'lv_mass_g', 'lvedv_ml', 'lvesv_ml', 'rvedv_ml', 'rvesv_ml')
# Issue 14 item 2: the cross-validated targets (Dice means of ED and ES; MAE; accuracy; ECE).
TARGETS = {'dice_lv': ('>=', 0.95), 'dice_myo': ('>=', 0.89), 'dice_rv': ('>=', 0.92), 'dice_rv_es': ('>=', 0.88),
           'hd95_rv_es_mm': ('<=', 6.0), 'lvef_mae_pct': ('<=', 2.5), 'rvef_mae_pct': ('<=', 6.0),
           'diagnosis_accuracy': ('>=', 0.94), 'ece': ('<=', 0.05)}


# ---------------------------------------------------------------- data

def source_groups(source):
    return {pid: source.group(pid) for pid in source.ids()}


def load_folds(source, path=FOLDS_FILE, k=K, write=False):
    """The fold assignment: recomputed from the groups (deterministic) and checked against the file."""
    folds = M.assign_folds(source_groups(source), k)
    if path is not None and Path(path).exists():
        saved = json.loads(Path(path).read_text())['folds']
        if saved != folds:
            raise ValueError(f'{path} does not match the deterministic assignment of these patients')
    elif path is not None and write:
        Path(path).write_text(json.dumps({
            'description': f'{k}-fold cross-validation over the ACDC training patients, stratified by group: within '
                           'each group (sorted) the patients in ID order are dealt to folds 0..4 in turn (metrics.assign_folds); '
                           'fold 4 equals the fixed validation split of 1.0 (splits.json).',
            'k': k, 'folds': folds}, indent=1) + '\n')
    return folds


def load_training_cache(path):
    z = np.load(path)
    patients = [p['id'] for p in json.loads(str(z['patients']))]
    return z['image'], z['label'], z['meta'].astype(np.int64), patients


class SyntheticSource:
    """Ellipse phantoms on a coarse native grid, two per group, groups told apart by size, wall and
    ejection fraction: enough for the smoke test to exercise every step, not to measure anything."""

    def __init__(self, per_group=2, seed=0):
        g = np.random.default_rng(seed)
        self.patients = {}
        shape, spacing = (48, 48, 4), (2.0, 2.0, 8.0)
        rr, cc = np.mgrid[:shape[0], :shape[1]] - (shape[0] - 1) / 2
        look = {'NOR': (7, 3, 0.6), 'DCM': (10, 2, 0.8), 'HCM': (5, 5, 0.4), 'MINF': (9, 3, 0.75), 'RV': (7, 3, 1.3)}
        n = 0
        for group in C.GROUPS:
            r_lv, wall, rv_scale = look[group]
            for _ in range(per_group):
                n += 1
                phases = []
                for shrink in (1.0, 0.75):
                    img = np.zeros(shape, np.float32)
                    lab = np.zeros(shape, np.uint8)
                    for z in range(shape[2]):
                        r = (r_lv + g.uniform(-1, 1)) * shrink * (1 - 0.12 * z)
                        d = np.hypot(rr, cc)
                        sl = np.zeros(shape[:2], np.uint8)
                        sl[d < r + wall] = 2
                        sl[d < r] = 3
                        sl[(np.hypot(rr, cc + r + wall + 5) < r * rv_scale) & (sl == 0)] = 1
                        lab[:, :, z] = sl
                        img[:, :, z] = 40 + 160 * (sl == 3) + 60 * (sl == 2) + 140 * (sl == 1) + g.normal(0, 8, sl.shape)
                    phases.append(Phase(np.clip(img, 0, None), lab, spacing))
                pid = f'synth{n:03d}'
                self.patients[pid] = Patient(pid, group, 170.0, 70.0, phases[0], phases[1])

    def ids(self):
        return sorted(self.patients)

    def group(self, pid):
        return self.patients[pid].group

    def patient(self, pid):
        return self.patients[pid]


def synthetic_training_arrays(source, canvas):
    from .prepare import slice_to_canvas
    imgs, labs, meta = [], [], []
    ids = source.ids()
    for p_index, pid in enumerate(ids):
        p = source.patient(pid)
        for phase_index, ph in enumerate((p.ed, p.es)):
            nz = ph.image.shape[2]
            for z in range(nz):
                im, lb = slice_to_canvas(ph.image[:, :, z], ph.label[:, :, z], ph.spacing[:2], canvas=canvas)
                imgs.append(im)
                labs.append(lb)
                meta.append((p_index, phase_index, z, nz, C.GROUPS.index(p.group)))
    return np.stack(imgs), np.stack(labs), np.array(meta, dtype=np.int64), ids


# ---------------------------------------------------------------- one fold

def fold_recipe(name, overrides):
    """Cross-validation keeps the final step: 'best' would choose the checkpoint on the held-out fold."""
    rc = C.recipe(name, overrides)
    if rc['select'] != 'last':
        rc = C.recipe(name, list(overrides) + ['select=last'])
    return rc


def predict_rows(model, source, held_out, train_ids, size, draws, seed, log=print):
    """Rows for every patient: held-out ones with Dice/HD95 and expert features, training ones with one
    clean and `draws` perturbed predictions (evaluate.py's protocol)."""
    from .evaluate import perturb
    from .predict import predict_volume
    torch.manual_seed(seed)
    rows = []
    t0 = time.time()
    for i, pid in enumerate(sorted(held_out) + sorted(train_ids)):
        p = source.patient(pid)
        is_held = pid in held_out
        for d, aug in enumerate([None] if is_held else [None] + [perturb] * draws):
            ed, _ = predict_volume(model, p.ed.image, p.ed.spacing, aug, size=size)
            es, _ = predict_volume(model, p.es.image, p.es.spacing, aug, size=size)
            row = {'id': pid, 'group': p.group, 'held_out': is_held, 'draw': d,
                   'features': study_features(ed, es, p.ed.spacing, p.height_cm, p.weight_kg)}
            if is_held:
                row['truth'] = study_features(p.ed.label, p.es.label, p.ed.spacing, p.height_cm, p.weight_kg)
                row['dice'] = {ph: {name: M.dice(pred, gt.label, k) for name, k in STRUCTURES}
                               for ph, pred, gt in (('ed', ed, p.ed), ('es', es, p.es))}
                row['hd95_mm'] = {ph: {name: M.hd95(pred, gt.label, k, gt.spacing) for name, k in STRUCTURES}
                                  for ph, pred, gt in (('ed', ed, p.ed), ('es', es, p.es))}
            rows.append(row)
        if (i + 1) % 10 == 0:
            log(f'  predicted {i + 1} patients, {time.time() - t0:.0f} s')
    return rows


def _matrix(rows, key='features'):
    return np.array([[r[key][f] for f in HEAD_FEATURES] for r in rows], dtype=np.float64)


def _labels(rows):
    return np.array([C.GROUPS.index(r['group']) for r in rows])


def fit_head_parts(rows):
    """Standardisation + study_head.fit on these rows, as evaluate.py -> (head, mean, std)."""
    x = _matrix(rows)
    mean, std = x.mean(0), x.std(0) + 1e-6
    return study_head.fit((x - mean) / std, _labels(rows), len(C.GROUPS)), mean, std


def fit_head(rows):
    """fit_head_parts as a logits function of rows."""
    head, mean, std = fit_head_parts(rows)
    return lambda rs: study_head.logits_of(head, (_matrix(rs) - mean) / std)


def inner_temperature(train_rows, k_inner=K):
    """Temperature from out-of-fold logits of an inner group-stratified CV over the training patients:
    for each inner fold a head fitted on the other inner folds' rows (all draws) scores the inner fold's
    clean rows; the temperature minimises the NLL of all these logits."""
    groups = {r['id']: r['group'] for r in train_rows}
    inner = [f for f in M.assign_folds(groups, min(k_inner, len(groups))) if f]
    logits, y = [], []
    for f in inner:
        held = set(f)
        fit_rows = [r for r in train_rows if r['id'] not in held]
        test_rows = [r for r in train_rows if r['id'] in held and r['draw'] == 0]
        logits.append(fit_head(fit_rows)(test_rows))
        y.append(_labels(test_rows))
    logits, y = np.concatenate(logits), np.concatenate(y)
    t, nll = study_head.fit_temperature(logits, y)
    return t, nll, float((logits.argmax(1) == y).mean()), len(inner)


def softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def head_result(rows):
    """Fits the fold's head + inner temperature on the training rows; scores the held-out rows."""
    train_rows = [r for r in rows if not r['held_out']]
    held = [r for r in rows if r['held_out']]
    temperature, inner_nll, inner_acc, n_inner = inner_temperature(train_rows)
    head = fit_head(train_rows)
    prob = softmax(head(held) / temperature)
    prob_truth_masks = softmax(head([dict(r, features=r['truth']) for r in held]) / temperature)
    patients = []
    for i, r in enumerate(held):
        patients.append({'id': r['id'], 'group': r['group'], 'predicted': C.GROUPS[int(prob[i].argmax())],
                         'probabilities': [round(float(v), 6) for v in prob[i]],
                         'predicted_on_expert_masks': C.GROUPS[int(prob_truth_masks[i].argmax())],
                         # the head's inputs from this fold network's masks: what the out-of-fold head
                         # (stacked_head) is fitted on, without the rows files
                         'features': {f: r['features'][f] for f in HEAD_FEATURES},
                         'dice': r['dice'], 'hd95_mm': r['hd95_mm'],
                         'measures': {m: r['features'][m] for m in MEASURES},
                         'measures_expert': {m: r['truth'][m] for m in MEASURES}})
    return {'temperature': temperature, 'inner_nll': inner_nll, 'inner_accuracy': inner_acc, 'inner_folds': n_inner,
            'head_features': HEAD_FEATURES, 'train_rows': len(train_rows), 'patients': patients}


def device_name(device):
    if str(device).startswith('cuda') and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return f'CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)'


def run_fold(k, a, rc, source, train_arrays, folds, log=print):
    """Returns 0 when the fold's result is written, 2 when training stopped on --max-seconds."""
    from .evaluate import load_model
    from .train import load_checkpoint, train
    out = Path(a.out) / f'fold-{k}'
    out.mkdir(parents=True, exist_ok=True)
    result_path = out / 'result.json'
    if result_path.exists():
        print(f'fold {k}: result present ({result_path})', flush=True)
        return 0
    held = set(folds[k])
    img, lab, meta, ids = train_arrays
    is_held = np.array([ids[p] in held for p in meta[:, 0]])
    size, canvas = (64, 72) if a.smoke else (C.SIZE, C.CANVAS)
    t0 = time.time()
    code = train(out, img, lab, meta, is_held, rc, a.device, size=size, canvas=canvas, smoke=False,
                 max_seconds=a.max_seconds, quiet=a.smoke)
    if code:
        return code
    train_s = time.time() - t0
    rows_path = out / 'rows.json'
    if rows_path.exists():
        rows = json.loads(rows_path.read_text())
        predict_s = None
    else:
        t1 = time.time()
        model = load_model(out / 'best.pt').to(a.device)
        train_ids = [p for p in source.ids() if p not in held]
        rows = predict_rows(model, source, held, train_ids, size, 1 if a.smoke else a.draws, C.SEED + k, log)
        predict_s = time.time() - t1
        tmp = rows_path.with_suffix('.tmp')
        tmp.write_text(json.dumps(rows))
        os.replace(tmp, rows_path)
    result = head_result(rows)
    ck = load_checkpoint(out / 'ckpt.pt')
    result.update({'fold': k, 'recipe': rc, 'held_out': sorted(held),
                   'trained_on': sorted({ids[p] for p in meta[~is_held, 0]}), 'device': device_name(a.device),
                   'training_seconds_total': ck['state']['elapsed'], 'training_seconds_this_run': train_s,
                   'prediction_seconds': predict_s, 'perturbed_draws': 1 if a.smoke else a.draws, 'torch': torch.__version__})
    result_path.write_text(json.dumps(result, indent=1) + '\n')
    log(f'fold {k}: done (temperature {result["temperature"]:.3f}, '
        f'{sum(p["predicted"] == p["group"] for p in result["patients"])}/{len(result["patients"])} correct)')
    return 0


def rehead(fold_dir):
    """Refits a finished fold's head from its rows.json (after a change to the head protocol), keeping the
    run's facts (recipe, patients, timings). None when the fold has no rows or no result."""
    rows_path, result_path = fold_dir / 'rows.json', fold_dir / 'result.json'
    if not rows_path.exists() or not result_path.exists():
        return None
    result = json.loads(result_path.read_text())
    result.update(head_result(json.loads(rows_path.read_text())))
    result_path.write_text(json.dumps(result, indent=1) + '\n')
    return len(result['patients'])


# ---------------------------------------------------------------- the out-of-fold (stacked) head

def out_of_fold_rows(results, exclude=None):
    """Head rows from the held-out patients of these fold results (except fold `exclude`): features of masks
    from a network that never saw the patient, the kind of masks the shipped head meets in service."""
    return [{'id': p['id'], 'group': p['group'], 'held_out': True, 'draw': 0, 'features': p['features']}
            for r in results if r['fold'] != exclude for p in r['patients']]


def has_features(results):
    return all('features' in p for r in results for p in r['patients'])


def stacked_head(results):
    """Per fold k: the head fitted on the OTHER folds' held-out rows, its temperature from an inner CV over
    those rows, scores fold k's held-out patients. The in-fold head (head_result) learns from the training
    patients' masks, which the fold network has seen and segments better than an unseen study, so it meets
    easier features than it is scored on. One level of nesting short of strict: the other folds' networks
    were trained on fold k's slices, never on its study labels (beyond the 0.1-weighted slice-diagnosis
    loss). None without two folds or without the patients' features (`cv rehead` adds them)."""
    if len(results) < 2 or not has_features(results):
        return None
    out = {}
    for r in results:
        fit_rows = out_of_fold_rows(results, exclude=r['fold'])
        temperature, *_ = inner_temperature(fit_rows)
        held = out_of_fold_rows([r])
        prob = softmax(fit_head(fit_rows)(held) / temperature)
        out[r['fold']] = {'temperature': temperature, 'train_rows': len(fit_rows), 'patients': [
            {'id': h['id'], 'group': h['group'], 'predicted': C.GROUPS[int(q.argmax())],
             'probabilities': [round(float(v), 6) for v in q]} for h, q in zip(held, prob)]}
    return out


def diagnosis_metrics(pts):
    truth, pred = [p['group'] for p in pts], [p['predicted'] for p in pts]
    right = [t == q for t, q in zip(truth, pred)]
    return {'accuracy': float(np.mean(right)), 'macro_f1': M.macro_f1(truth, pred),
            'ece': M.ece([max(p['probabilities']) for p in pts], right),
            'confusion': [[sum(1 for t, q in zip(truth, pred) if t == gt and q == gp) for gp in C.GROUPS] for gt in C.GROUPS]}


def export_head(results, model_dir, acdc=C.ACDC):
    """The shipped study head of a network trained on all patients: fitted on every fold's held-out rows
    (each patient's features from the fold network that never saw it), temperature from an inner CV over
    them; writes study-head.onnx and the manifest's studyHead in model_dir."""
    from .acdc import read_info
    from .features import bsa_m2
    if len(results) != K or not has_features(results):
        raise SystemExit(f'export-head needs all {K} folds with the patients\' features ({len(results)} present; `cv rehead` adds features)')
    rows = out_of_fold_rows(results)
    temperature, nll, acc, _ = inner_temperature(rows)
    head, mean, std = fit_head_parts(rows)
    infos = [read_info(Path(acdc) / r['id'] / 'Info.cfg') for r in rows]
    bsa = float(np.median([bsa_m2(float(i['Height']), float(i['Weight'])) for i in infos]))
    model_dir = Path(model_dir)
    study_head.export(head, model_dir / 'study-head.onnx', len(HEAD_FEATURES))
    path = model_dir / 'manifest.json'
    manifest = json.loads(path.read_text())
    manifest['diagnosis']['studyHead'].update({
        'features': [{'name': n, 'size': 1} for n in HEAD_FEATURES],
        'mean': [round(float(v), 4) for v in mean], 'std': [round(float(v), 4) for v in std],
        'temperature': round(float(temperature), 4), 'defaultBsaM2': round(bsa, 3)})
    path.write_text(json.dumps(manifest, indent=2) + '\n')
    print(f'wrote {model_dir / "study-head.onnx"} and {path}: head on {len(rows)} out-of-fold rows, '
          f'temperature {temperature:.4f} (inner CV: NLL {nll:.3f}, accuracy {acc:.3f})', flush=True)
    return {'rows': len(rows), 'temperature': temperature, 'inner_nll': nll, 'inner_accuracy': acc}


# ---------------------------------------------------------------- aggregate

def fold_metrics(res):
    pts = res['patients']
    m = {}
    for ph in ('ed', 'es'):
        for name, _ in STRUCTURES:
            m[f'dice_{name}_{ph}'] = M.mean_sd([p['dice'][ph][name] for p in pts])['mean']
            m[f'hd95_{name}_{ph}_mm'] = M.mean_sd([p['hd95_mm'][ph][name] for p in pts])['mean']
    for name, _ in STRUCTURES:
        both = (m[f'dice_{name}_ed'], m[f'dice_{name}_es'])
        m[f'dice_{name}'] = None if None in both else sum(both) / 2
    for meas in MEASURES:
        m[f'{meas.rsplit("_", 1)[0]}_mae_{meas.rsplit("_", 1)[1]}'] = float(np.mean(
            [abs(p['measures'][meas] - p['measures_expert'][meas]) for p in pts]))
    d = diagnosis_metrics(pts)
    m['diagnosis_accuracy'], m['diagnosis_macro_f1'], m['ece'] = d['accuracy'], d['macro_f1'], d['ece']
    m['diagnosis_accuracy_on_expert_masks'] = float(np.mean([p['group'] == p['predicted_on_expert_masks'] for p in pts]))
    m['temperature'] = res['temperature']
    return m


def aggregate(out, command=None, markdown=None, expected=K):
    out = Path(out)
    results = []
    for k in range(expected):
        p = out / f'fold-{k}' / 'result.json'
        if p.exists():
            results.append(json.loads(p.read_text()))
    if not results:
        raise FileNotFoundError(f'no fold results under {out}')
    per_fold = [dict(fold=r['fold'], **fold_metrics(r)) for r in results]
    stacked = stacked_head(results)
    if stacked:
        for f in per_fold:
            d = diagnosis_metrics(stacked[f['fold']]['patients'])
            f.update({'oof_head_accuracy': d['accuracy'], 'oof_head_macro_f1': d['macro_f1'], 'oof_head_ece': d['ece'],
                      'oof_head_temperature': stacked[f['fold']]['temperature']})
    keys = [k for k in per_fold[0] if k != 'fold']
    summary = {k: M.mean_sd([f[k] for f in per_fold]) for k in keys}
    pts = [p for r in results for p in r['patients']]
    d = diagnosis_metrics(pts)
    pooled = {
        'patients': len(pts),
        'diagnosis_accuracy': d['accuracy'], 'diagnosis_macro_f1': d['macro_f1'], 'ece': d['ece'], 'confusion': d['confusion'],
        'dice_rv_es_worst': sorted((p['dice']['es']['rv'], p['id'], p['group']) for p in pts if p['dice']['es']['rv'] is not None)[:5],
    }
    if stacked:
        pooled['oof_head'] = diagnosis_metrics([p for f in stacked.values() for p in f['patients']])
        pooled['oof_head']['wrong'] = sorted(p['id'] for f in stacked.values() for p in f['patients'] if p['predicted'] != p['group'])
    targets = {}
    checks = list(TARGETS.items()) + ([('diagnosis_accuracy_oof_head', TARGETS['diagnosis_accuracy']),
                                      ('ece_oof_head', TARGETS['ece'])] if stacked else [])
    for key, (op, bound) in checks:
        src = {'diagnosis_accuracy_oof_head': 'oof_head_accuracy', 'ece_oof_head': 'oof_head_ece'}.get(key, key)
        v = summary[src]['mean'] if src in summary else None
        targets[key] = {'target': f'{op} {bound}', 'cv_mean': v,
                        'met': None if v is None else (v >= bound if op == '>=' else v <= bound)}
    report = {
        'what': f'{len(results)}-fold cross-validation (of {expected}) over the ACDC training patients; mean and sample SD '
                'across folds of each fold\'s mean over its held-out patients; pooled: over all held-out patients',
        'complete': len(results) == expected,
        'recipe': results[0]['recipe'], 'folds_file': 'training/cv-folds.json', 'ece_bins': M.ECE_BINS,
        'command': command, 'device': sorted({r['device'] for r in results}),
        'training_seconds_per_fold': [r['training_seconds_total'] for r in results],
        'summary': summary, 'pooled': pooled, 'targets': targets, 'per_fold': per_fold,
    }
    (out / 'cv-report.json').write_text(json.dumps(report, indent=1) + '\n')
    md = render_markdown(report)
    (out / 'EVAL-cv.md').write_text(md)
    if markdown:
        Path(markdown).write_text(md)
    return report


def _fmt(v, nd):
    return '—' if v is None else f'{v:.{nd}f}'


def confusion_table(confusion):
    """Markdown rows: truth down, prediction across, in C.GROUPS order."""
    return (['| truth \\ predicted | ' + ' | '.join(C.GROUPS) + ' |', '| --- |' + ' --- |' * len(C.GROUPS)]
            + [f'| {g} | ' + ' | '.join(str(v) for v in row) + ' |' for g, row in zip(C.GROUPS, confusion)])


def render_markdown(rep):
    s = rep['summary']

    def ms(key, nd=3):
        v = s[key]
        return '—' if v['mean'] is None else f"{_fmt(v['mean'], nd)} ± {_fmt(v['sd'], nd)}"
    n_f = len(rep['per_fold'])
    lines = [f"# PULSE-lite — {n_f}-fold cross-validation (recipe {rep['recipe']['name']})", '']
    if not rep['complete']:
        lines += [f'**Incomplete: {n_f} of {K} folds.** These figures are not the cross-validated result.', '']
    lines += [f"Produced by `{rep['command']}` on {', '.join(rep['device'])}.", '',
              'Folds: `training/cv-folds.json` (stratified by group; fold 4 = the 1.0 validation split). Each fold '
              'trains on the other folds (final step kept, the held-out fold never looked at), segments its held-out '
              'patients on the native grid with the service\'s clean-up; the study head is fitted on the training '
              'folds\' predicted-mask features and its temperature on an inner cross-validation of the training '
              'folds. Figures: mean ± sample SD across folds of each fold\'s mean.', '',
              '## Segmentation (3D per patient and phase)', '',
              '| structure | Dice ED | Dice ES | HD95 ED (mm) | HD95 ES (mm) |', '| --- | --- | --- | --- | --- |']
    for name, _ in STRUCTURES:
        lines.append(f"| {name} | {ms(f'dice_{name}_ed')} | {ms(f'dice_{name}_es')} | {ms(f'hd95_{name}_ed_mm', 1)} | {ms(f'hd95_{name}_es_mm', 1)} |")
    lines += ['', '## Clinical measurements (mean absolute error vs the expert masks)', '', '| measure | MAE |', '| --- | --- |']
    for meas in MEASURES:
        stem, unit = meas.rsplit('_', 1)
        lines.append(f"| {meas} | {ms(f'{stem}_mae_{unit}', 2)} |")
    p = rep['pooled']
    lines += ['', '## Diagnosis (study head on predicted masks)', '',
              f"Accuracy {ms('diagnosis_accuracy')}, macro-F1 {ms('diagnosis_macro_f1')}, expected calibration error "
              f"{ms('ece')} ({rep['ece_bins']} equal-width bins of the top-class probability); pooled over the "
              f"{p['patients']} held-out patients: accuracy {p['diagnosis_accuracy']:.3f}, macro-F1 {p['diagnosis_macro_f1']:.3f}, "
              f"ECE {p['ece']:.3f}. Same heads on the expert masks' features: accuracy {ms('diagnosis_accuracy_on_expert_masks')}. "
              f"Temperatures {ms('temperature', 2)}.", ''] + confusion_table(p['confusion'])
    if 'oof_head' in p:
        o = p['oof_head']
        lines += ['', f"**Out-of-fold head** (cv.stacked_head; the protocol of `cv export-head`, the head shipped with a network "
                  f"trained on all patients): for each fold the head is fitted on the other folds' held-out patients, whose "
                  f"masks come from networks that never saw them, temperature from an inner CV over those rows. Accuracy "
                  f"{ms('oof_head_accuracy')}, macro-F1 {ms('oof_head_macro_f1')}, ECE {ms('oof_head_ece')}, temperatures "
                  f"{ms('oof_head_temperature', 2)}; pooled: accuracy {o['accuracy']:.3f}, macro-F1 {o['macro_f1']:.3f}, ECE "
                  f"{o['ece']:.3f}; wrong: {', '.join(o['wrong']) or 'none'}.", ''] + confusion_table(o['confusion'])
    pooled_of = {'diagnosis_accuracy': p['diagnosis_accuracy'], 'ece': p['ece']}
    if 'oof_head' in p:
        pooled_of.update(diagnosis_accuracy_oof_head=p['oof_head']['accuracy'], ece_oof_head=p['oof_head']['ece'])
    lines += ['', '## Targets (issue 14)', '',
              'Cross-validated = mean over folds of each fold\'s figure. An ECE over one fold\'s 20 patients (10 bins) '
              'is inflated by the few patients per bin; the pooled ECE, over all held-out patients, is the steadier figure.', '',
              '| target | cross-validated | met | pooled |', '| --- | --- | --- | --- |']
    for key, t in rep['targets'].items():
        v = _fmt(t['cv_mean'], 3)
        lines.append(f"| {key} {t['target']} | {v} | {'yes' if t['met'] else 'no'} | {_fmt(pooled_of.get(key), 3)} |")
    lines += ['', '## Per fold', '', '| fold | Dice LV | MYO | RV | RV ES | HD95 RV ES | LVEF MAE | RVEF MAE | accuracy | ECE | T |',
              '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    for f in rep['per_fold']:
        cells = [(k, nd) for k, nd in (('dice_lv', 3), ('dice_myo', 3), ('dice_rv', 3), ('dice_rv_es', 3), ('hd95_rv_es_mm', 1),
                                        ('lvef_mae_pct', 2), ('rvef_mae_pct', 2), ('diagnosis_accuracy', 2), ('ece', 3), ('temperature', 2))]
        lines.append(f"| {f['fold']} | " + ' | '.join(_fmt(f[k], nd) for k, nd in cells) + ' |')
    lines += ['', 'Worst end-systolic RV Dice (pooled): ' + ', '.join(f'{pid} ({g}) {d:.2f}' for d, pid, g in p['dice_rv_es_worst']) + '.',
              f"Training time per fold (s): {', '.join(f'{t:.0f}' for t in rep['training_seconds_per_fold'])}.", '']
    return '\n'.join(lines)


# ---------------------------------------------------------------- two recipes on the same folds

def compare(dir_a, dir_b):
    """Paired comparison of two cross-validations over the folds both finished: per structure and phase the
    mean Dice of each and the share of patients where B beats A; the MAEs; the diagnosis (in-fold head)."""
    def load(d):
        return {json.loads(p.read_text())['fold']: json.loads(p.read_text()) for p in sorted(Path(d).glob('fold-*/result.json'))}
    a, b = load(dir_a), load(dir_b)
    folds = sorted(set(a) & set(b))
    if not folds:
        raise SystemExit(f'no fold finished in both {dir_a} and {dir_b}')
    pa = {p['id']: p for k in folds for p in a[k]['patients']}
    pb = {p['id']: p for k in folds for p in b[k]['patients']}
    ids = sorted(pa)
    if sorted(pb) != ids:
        raise SystemExit('the two runs hold out different patients in the same folds')
    rows = []
    for ph in ('ed', 'es'):
        for name, _ in STRUCTURES:
            pairs = [(pa[i]['dice'][ph][name], pb[i]['dice'][ph][name]) for i in ids
                     if pa[i]['dice'][ph][name] is not None and pb[i]['dice'][ph][name] is not None]
            da = np.array(pairs)
            rows.append({'what': f'Dice {name.upper()} {ph.upper()}', 'a': float(da[:, 0].mean()), 'b': float(da[:, 1].mean()),
                         'b_better': int((da[:, 1] > da[:, 0]).sum()), 'n': len(pairs)})
    for meas in ('lvef_pct', 'rvef_pct', 'lv_mass_g', 'rvesv_ml'):
        ea = np.array([abs(pa[i]['measures'][meas] - pa[i]['measures_expert'][meas]) for i in ids])
        eb = np.array([abs(pb[i]['measures'][meas] - pb[i]['measures_expert'][meas]) for i in ids])
        rows.append({'what': f'{meas} MAE', 'a': float(ea.mean()), 'b': float(eb.mean()), 'b_better': int((eb < ea).sum()), 'n': len(ids)})
    acc = [np.mean([pa[i]['predicted'] == pa[i]['group'] for i in ids]), np.mean([pb[i]['predicted'] == pb[i]['group'] for i in ids])]
    rows.append({'what': 'diagnosis accuracy (in-fold head)', 'a': float(acc[0]), 'b': float(acc[1]), 'b_better': None, 'n': len(ids)})
    names = (a[folds[0]]['recipe']['name'], b[folds[0]]['recipe']['name'])
    lines = [f'Folds {", ".join(map(str, folds))} ({len(ids)} held-out patients): A = {names[0]} ({dir_a}), B = {names[1]} ({dir_b}).', '',
             '| | A | B | B better in |', '| --- | --- | --- | --- |']
    for r in rows:
        better = '' if r['b_better'] is None else f"{r['b_better']} of {r['n']}"
        lines.append(f"| {r['what']} | {r['a']:.3f} | {r['b']:.3f} | {better} |")
    return {'folds': folds, 'recipes': names, 'rows': rows, 'markdown': '\n'.join(lines) + '\n'}


# ---------------------------------------------------------------- CLI

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('action', nargs='?', default='all', choices=['all', 'folds', 'prepare', 'fold', 'aggregate', 'rehead', 'export-head', 'compare'])
    ap.add_argument('--fold', type=int, action='append', help='fold(s) to run (default: all, in turn)')
    ap.add_argument('--recipe', default=C.DEFAULT_RECIPE)
    ap.add_argument('--set', action='append', default=[], metavar='KEY=VALUE')
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--out', default=None)
    ap.add_argument('--native', default=None, help='native cache (default .carry/acdc-native.npz, else the NIfTI files)')
    ap.add_argument('--cache', default=str(C.CACHE), help='training cache (built from the native cache by `prepare`)')
    ap.add_argument('--max-seconds', type=float, default=0)
    ap.add_argument('--markdown', default=None, help='also write the markdown table here')
    ap.add_argument('--smoke', action='store_true', help='2 folds of synthetic phantoms, a few steps')
    ap.add_argument('--draws', type=int, default=AUG_DRAWS, help='perturbed predictions per training patient for the head (2 as shipped; fewer only for quick checks)')
    ap.add_argument('--command', default=None, help='the command to quote in the report (gpu-cv.sh passes its own)')
    ap.add_argument('--model-dir', default=str(C.MODEL_DIR), help='export-head: the folder with manifest.json to write the head into')
    ap.add_argument('--against', default=None, metavar='DIR', help='compare: the other cross-validation (B; --out is A)')
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.action == 'compare':
        if not (a.out and a.against):
            ap.error('compare needs --out A --against B')
        res = compare(a.out, a.against)
        print(res['markdown'], end='')
        if a.markdown:
            Path(a.markdown).write_text(res['markdown'])
        return 0
    rc = fold_recipe(a.recipe, a.set)
    k_folds = 2 if a.smoke else K
    if a.smoke:
        rc = dict(rc, pretrain_steps=2, train_steps=4, batch=4, warmup=2)
    if a.out is None:
        a.out = str(C.RUNS / f"cv-{rc['name']}".replace('=', '-').replace(',', '_').replace('+', '_'))
    command = a.command or 'python3 -m training.pulse_lite.cv ' + ' '.join(argv if argv is not None else sys.argv[1:])
    log = (lambda *x: None) if a.smoke else (lambda *x: print(*x, flush=True))
    if a.smoke:
        source = SyntheticSource()
        folds = M.assign_folds(source_groups(source), k_folds)
    else:
        from .native import open_source
        source = open_source(a.native)
        folds = load_folds(source, write=a.action in ('all', 'folds'))
    if a.action == 'folds':
        print(json.dumps(folds))
        return 0
    if a.action == 'rehead':
        for k in range(k_folds):
            n = rehead(Path(a.out) / f'fold-{k}')
            log(f'fold {k}: ' + ('no rows.json/result.json' if n is None else f'head refitted, {n} held-out patients'))
        return 0
    if a.action == 'export-head':
        results = [json.loads(p.read_text()) for p in sorted(Path(a.out).glob('fold-*/result.json'))]
        export_head(results, a.model_dir)
        return 0
    if a.action in ('prepare', 'all') and not a.smoke and not Path(a.cache).exists():
        from . import prepare
        from .native import NATIVE_CACHE
        native = a.native or (str(NATIVE_CACHE) if NATIVE_CACHE.exists() else None)
        prepare.main((['--native', native] if native else []) + ['--out', a.cache])
    if a.action == 'prepare':
        return 0
    if a.action in ('fold', 'all'):
        if a.smoke:
            train_arrays = synthetic_training_arrays(source, 72)
        else:
            if not Path(a.cache).exists():
                raise FileNotFoundError(f'training cache {a.cache} missing: run `cv prepare` first')
            train_arrays = load_training_cache(a.cache)
        which = a.fold if a.fold else list(range(k_folds))
        if a.action == 'fold' and not a.fold:
            ap.error('fold needs --fold K')
        for k in which:
            if not 0 <= k < k_folds:
                ap.error(f'--fold {k}: there are {k_folds} folds')
            code = run_fold(k, a, rc, source, train_arrays, folds, log)
            if code:
                return code
    if a.action in ('aggregate', 'all'):
        rep = aggregate(a.out, command, a.markdown, k_folds)
        print(json.dumps({'out': a.out, 'complete': rep['complete'],
                          **{k: v['mean'] for k, v in rep['summary'].items()}, 'pooled_ece': rep['pooled']['ece']}, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
