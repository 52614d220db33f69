"""Predicts ED/ES of all 100 ACDC patients with the trained network, fits the study head on the 80
training patients (clean + intensity-perturbed predictions, so it sees realistic mask errors), fits its
temperature on the 20 validation patients, and reports validation figures.

    /usr/bin/python3 -m training.pulse_lite.evaluate [--weights training/weights/pulse-lite.pt]
"""
import argparse
import json
import math
import time

import numpy as np
import torch

from . import config as C
from .acdc import load_patient, patient_ids
from .augment import intensity
from .features import HEAD_FEATURES, bsa_m2, study_features
from .model import PulseLite
from .predict import predict_volume
from .study_head import fit, fit_temperature, logits_of

AUG_DRAWS = 2


def load_model(path):
    saved = torch.load(path, map_location='cpu')
    state = saved['model'] if 'model' in saved else saved
    model = PulseLite(in_ch=state['e0.0.weight'].shape[1])
    model.load_state_dict(state)
    return model.eval()


def dice3d(pred, gt, k):
    p, t = pred == k, gt == k
    den = p.sum() + t.sum()
    return float(2 * (p & t).sum() / den) if den else 1.0


def perturb(w):
    """Intensity-only perturbation of a normalised window (volumes stay comparable)."""
    lo, hi = w.amin((1, 2, 3), keepdim=True), w.amax((1, 2, 3), keepdim=True)
    return intensity((w - lo) / (hi - lo).clamp_min(1e-6) * 255, strength=1.0)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument('--weights', default=str(C.ROOT / 'training' / 'weights' / 'pulse-lite.pt'))
    ap.add_argument('--out', default=str(C.RUNS / 'eval'))
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--export-head', action='store_true', help='write models/pulse-lite/study-head.onnx + head.json')
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(C.SEED)
    from pathlib import Path
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model = load_model(a.weights)
    splits = json.loads(C.SPLITS.read_text())
    val = set(splits['validation'])
    t0 = time.time()
    rows = []
    n_slices = 0
    bsas = []
    for pid in patient_ids(C.ACDC):
        p = load_patient(C.ACDC, pid)
        is_val = pid in val
        if not is_val:
            bsas.append(bsa_m2(p.height_cm, p.weight_kg))
        draws = [None] if is_val else [None] + [perturb] * AUG_DRAWS
        for d, aug in enumerate(draws):
            ed, _ = predict_volume(model, p.ed.image, p.ed.spacing, aug)
            es, _ = predict_volume(model, p.es.image, p.es.spacing, aug)
            n_slices += p.ed.image.shape[2] + p.es.image.shape[2]
            row = {'id': pid, 'group': p.group, 'val': is_val, 'draw': d,
                   'features': study_features(ed, es, p.ed.spacing, p.height_cm, p.weight_kg)}
            if d == 0:
                row['truth'] = study_features(p.ed.label, p.es.label, p.ed.spacing, p.height_cm, p.weight_kg)
                row['dice'] = {ph: {name: dice3d(pred, gt.label, k) for name, k in (('rv', 1), ('myo', 2), ('lv', 3))}
                               for ph, pred, gt in (('ed', ed, p.ed), ('es', es, p.es))}
            rows.append(row)
        print(pid, 'done', f'{time.time() - t0:.0f}s', flush=True)
    infer_s = time.time() - t0

    # study head
    def mat(rs, key='features'):
        return np.array([[r[key][f] for f in HEAD_FEATURES] for r in rs], dtype=np.float64)
    tr = [r for r in rows if not r['val']]
    va = [r for r in rows if r['val']]
    xtr, ytr = mat(tr), np.array([C.GROUPS.index(r['group']) for r in tr])
    mean, std = xtr.mean(0), xtr.std(0) + 1e-6
    head = fit((xtr - mean) / std, ytr, len(C.GROUPS))
    xva, yva = mat(va), np.array([C.GROUPS.index(r['group']) for r in va])
    lva = logits_of(head, (xva - mean) / std)
    temperature, nll = fit_temperature(lva, yva)
    acc = float((lva.argmax(1) == yva).mean())
    acc_truth_masks = float((logits_of(head, (mat(va, 'truth') - mean) / std).argmax(1) == yva).mean())
    z = lva / temperature
    prob = np.exp(z - z.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)

    dice = {ph: {k: float(np.mean([r['dice'][ph][k] for r in va])) for k in ('rv', 'myo', 'lv')} for ph in ('ed', 'es')}
    err = lambda key: [abs(r['features'][key] - r['truth'][key]) for r in va]
    report = {
        'patients': len(va),
        'dice': dice,
        'dice_mean': {k: (dice['ed'][k] + dice['es'][k]) / 2 for k in ('rv', 'myo', 'lv')},
        'lvef_mae_pct': float(np.mean(err('lvef_pct'))),
        'rvef_mae_pct': float(np.mean(err('rvef_pct'))),
        'lvedv_mae_ml': float(np.mean(err('lvedv_ml'))),
        'lvesv_mae_ml': float(np.mean(err('lvesv_ml'))),
        'rvedv_mae_ml': float(np.mean(err('rvedv_ml'))),
        'lv_mass_mae_g': float(np.mean(err('lv_mass_g'))),
        'diagnosis_accuracy': acc,
        'diagnosis_accuracy_on_expert_masks': acc_truth_masks,
        'diagnosis_nll_calibrated': nll,
        'temperature': temperature,
        'confusion': [[int(((yva == i) & (lva.argmax(1) == j)).sum()) for j in range(len(C.GROUPS))] for i in range(len(C.GROUPS))],
        'per_patient': [{'id': r['id'], 'group': r['group'], 'predicted': C.GROUPS[int(lva[i].argmax())],
                         'probability': float(prob[i].max()), 'dice': r['dice'],
                         'lvef_pct': r['features']['lvef_pct'], 'lvef_pct_expert': r['truth']['lvef_pct']}
                        for i, r in enumerate(va)],
        'inference_seconds': infer_s, 'slices_predicted': n_slices,
    }
    (out / 'eval.json').write_text(json.dumps(report, indent=2) + '\n')
    print(json.dumps({k: v for k, v in report.items() if k != 'per_patient'}, indent=1))
    if a.export_head:
        from .study_head import export
        C.MODEL_DIR.mkdir(parents=True, exist_ok=True)
        export(head, C.MODEL_DIR / 'study-head.onnx', len(HEAD_FEATURES))
        (out / 'head.json').write_text(json.dumps({
            'features': HEAD_FEATURES, 'mean': mean.tolist(), 'std': std.tolist(), 'temperature': temperature,
            'defaultBsaM2': round(float(np.median(bsas)), 3)}, indent=2) + '\n')
    return report


if __name__ == '__main__':
    main()
