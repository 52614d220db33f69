"""Exports the network to ONNX (opset 17, dynamic batch) and writes models/pulse-lite/manifest.json from
the recipe (config.py), the study head (head.json) and the validation figures (eval.json).

    /usr/bin/python3 -m training.pulse_lite.export [--weights ...] [--eval-dir training/runs/eval]
"""
import argparse
import json
import math
from pathlib import Path

import torch

from . import config as C
from .evaluate import load_model

GROUP_CODES = {   # SNOMED CT; sources in MODEL_CARD.md
    'NOR': ('17621005', 'Normal', 'No cardiac disease (normal cardiac anatomy and function)'),
    'DCM': ('399020009', 'Dilated cardiomyopathy', 'Dilated cardiomyopathy: LV dilated with reduced ejection fraction'),
    'HCM': ('233873004', 'Hypertrophic cardiomyopathy', 'Hypertrophic cardiomyopathy: thick LV myocardium, normal or high ejection fraction'),
    'MINF': ('1755008', 'Old myocardial infarction', 'Previous myocardial infarction: reduced ejection fraction with regional wall-motion abnormality'),
    'RV': ('253522006', 'Dilatation of right cardiac ventricle', 'Abnormal right ventricle: dilated RV and/or reduced RV ejection fraction'),
}
ANATOMY = {'value': '91723000', 'scheme': 'SCT', 'meaning': 'Anatomical Structure'}
SEGMENTS = [
    {'labelValue': 1, 'name': 'Right ventricle cavity', 'key': 'rv', 'category': ANATOMY,
     'type': {'value': '53085002', 'scheme': 'SCT', 'meaning': 'Right Ventricle'}, 'color': [60, 120, 255]},
    {'labelValue': 2, 'name': 'Left ventricle myocardium', 'key': 'myo', 'category': ANATOMY,
     'type': {'value': '74281007', 'scheme': 'SCT', 'meaning': 'Myocardium'}, 'color': [60, 200, 60]},
    {'labelValue': 3, 'name': 'Left ventricle cavity', 'key': 'lv', 'category': ANATOMY,
     'type': {'value': '87878005', 'scheme': 'SCT', 'meaning': 'Left Ventricle'}, 'color': [255, 60, 60]},
]
OUTPUT_NAMES = ['segmentation', 'embedding', 'features', 'diagnosis']


def parity_input(n=2, size=C.SIZE):
    """Deterministic test image, reproduced in test/model.test.ts: x[b,0,i,j] = sin(0.11 i + 0.07 j + b) * 1.5."""
    i = torch.arange(size, dtype=torch.float32)[:, None]
    j = torch.arange(size, dtype=torch.float32)[None, :]
    return torch.stack([torch.sin(0.11 * i + 0.07 * j + b) * 1.5 for b in range(n)])[:, None]


def export_model(model, path):
    model.eval()
    dyn = {name: {0: 'N'} for name in ['image'] + OUTPUT_NAMES}
    torch.onnx.export(model, parity_input(), str(path), opset_version=17, input_names=['image'],
                      output_names=OUTPUT_NAMES, dynamic_axes=dyn, do_constant_folding=True)


def parity_fixture(model):
    with torch.no_grad():
        outs = model(parity_input())
    fx = {'input': 'x[b,0,i,j] = sin(0.11*i + 0.07*j + b) * 1.5, b in {0,1}', 'shape': [2, 1, C.SIZE, C.SIZE], 'outputs': {}}
    for name, t in zip(OUTPUT_NAMES, outs):
        flat = t.reshape(t.shape[0], -1)
        fx['outputs'][name] = {'shape': list(t.shape), 'mean': flat.mean(1).tolist(), 'first': flat[:, :8].tolist()}
    return fx


def augmentation_summary(rc):
    text = (f"rotation 360, flips, scale {rc['scale'][0]}-{rc['scale'][1]}, shifts +-{rc['shift_mm']:g} mm, elastic, bias field, "
            f"gamma {rc['gamma'][0]}-{rc['gamma'][1]}, contrast/brightness, low resolution (down to 1/{rc['lowres'][1]:g}), blur, Gaussian noise")
    if rc['transpose_p'] > 0:
        text = text.replace('flips,', 'flips, transposes,')
    if rc['partial_p'] > 0:
        text += f", field of view cut by up to {rc['partial_max']:.0%} per side"
    return text


def cv_validation(report):
    """The manifest's validation section of a network trained on every patient: the cross-validated figures of
    its recipe (cv.py aggregate's cv-report.json, all folds), since no patient is left to validate it on."""
    if not report.get('complete'):
        raise SystemExit('--cv-report: the cross-validation is incomplete (every fold is needed)')
    s = report['summary']

    def mean(key):
        return s[key]['mean']
    dx = ('oof_head_accuracy', 'oof_head_ece') if 'oof_head_accuracy' in s else ('diagnosis_accuracy', 'ece')
    return {
        'method': f"{len(report['per_fold'])}-fold cross-validation of the recipe ({report['recipe']['name']}), "
                  f"mean over folds; {report['folds_file']}",
        'patients': report['pooled']['patients'],
        'diceEd': {k: mean(f'dice_{k}_ed') for k in ('rv', 'myo', 'lv')},
        'diceEs': {k: mean(f'dice_{k}_es') for k in ('rv', 'myo', 'lv')},
        'hd95RvEsMm': mean('hd95_rv_es_mm'),
        'lvefMaePct': mean('lvef_mae_pct'), 'rvefMaePct': mean('rvef_mae_pct'), 'lvedvMaeMl': mean('lvedv_mae_ml'),
        'lvMassMaeG': mean('lv_mass_mae_g'), 'diagnosisAccuracy': mean(dx[0]), 'diagnosisEce': mean(dx[1]),
        'note': 'Python-side figures of the fold networks on their held-out patients (native grid, the service\'s '
                'clean-up; equal to `pulse eval` within 0.004 Dice), diagnosis by the out-of-fold head; see EVAL.md',
    }


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument('--weights', default=str(C.ROOT / 'training' / 'weights' / 'pulse-lite.pt'))
    ap.add_argument('--eval-dir', default=str(C.RUNS / 'eval'))
    ap.add_argument('--cv-report', default=None,
                    help="cv-report.json of the recipe's cross-validation: for a network trained on all patients "
                         '(no validation split), the manifest quotes these figures instead of eval.json\'s')
    ap.add_argument('--model-dir', default=str(C.MODEL_DIR))
    a = ap.parse_args(argv)
    model_dir = Path(a.model_dir)
    model = load_model(a.weights)
    saved = torch.load(a.weights, map_location='cpu')
    rc = saved.get('recipe') or C.recipe('v1.0')    # weights from before named recipes are the 1.0 ones
    cv_report = json.loads(Path(a.cv_report).read_text()) if a.cv_report else None
    model_dir.mkdir(parents=True, exist_ok=True)
    export_model(model, model_dir / 'model.onnx')
    # the shipped model's parity fixture is test/model.test.ts's; another folder keeps its own
    fixtures = C.ROOT / 'training' / 'fixtures' if model_dir.resolve() == C.MODEL_DIR.resolve() else model_dir
    fixtures.mkdir(exist_ok=True)
    (fixtures / 'onnx-parity.json').write_text(json.dumps(parity_fixture(model), indent=1) + '\n')
    head = json.loads((Path(a.eval_dir) / 'head.json').read_text())
    ev = json.loads((Path(a.eval_dir) / 'eval.json').read_text())
    d = model.diag.in_features
    f = model.d1.refine[0].out_channels
    s = C.SIZE
    manifest = {
        'name': 'pulse-lite',
        'version': C.VERSION,
        'description': 'PULSE-lite: CPU-sized re-implementation of PULSE (arXiv 2512.03848) trained on the 100 ACDC '
                       f"training patients ({'all 100, cross-validated' if cv_report else '80 train / 20 held out'}). "
                       'Research use only, NOT for clinical use.',
        'model': {'file': 'model.onnx', 'opset': 17},
        'input': {'name': 'image', 'shape': [-1, 1, s, s], 'layout': 'NCHW', 'pixelSpacingMm': [C.SPACING_MM, C.SPACING_MM],
                  'channels': 'slice', 'normalization': {'type': 'zscore-per-slice', 'clipPercentiles': list(C.CLIP_PERCENTILES)},
                  'cropping': 'image-centre',
                  'description': f'one short-axis slice resampled (bilinear) to {C.SPACING_MM} mm on a {s}x{s} window centred on '
                                 'the image centre, zero outside the image, clipped at the percentiles and z-scored over the window'},
        'outputs': {
            'segmentation': {'name': 'segmentation', 'shape': [-1, 4, s, s], 'description': 'logits: background, RV cavity, LV myocardium, LV cavity'},
            'embedding': {'name': 'embedding', 'shape': [-1, d], 'description': 'global token after the final LayerNorm'},
            'features': {'name': 'features', 'shape': [-1, f, s // 2, s // 2], 'description': 'per-pixel decoder features at half resolution'},
            'diagnosis': {'name': 'diagnosis', 'shape': [-1, len(C.GROUPS)], 'description': 'slice-level group logits from the global token (auxiliary)'},
        },
        'segments': SEGMENTS,
        'diagnosis': {
            'groups': [{'name': g, 'description': GROUP_CODES[g][2],
                        'code': {'value': GROUP_CODES[g][0], 'scheme': 'SCT', 'meaning': GROUP_CODES[g][1]}} for g in C.GROUPS],
            'studyHead': {'file': 'study-head.onnx', 'input': 'features', 'output': 'group_logits',
                          'features': [{'name': n, 'size': 1} for n in head['features']],
                          'mean': [round(v, 6) for v in head['mean']], 'std': [round(v, 6) for v in head['std']],
                          'temperature': round(head['temperature'], 4), 'defaultBsaM2': head['defaultBsaM2']},
        },
        'training': {
            'data': 'ACDC training set (Bernard et al., IEEE TMI 2018, doi:10.1109/TMI.2018.2837502), 100 patients, ED+ES; '
                    + ('all 100 for training, none held out (accuracy: the cross-validation of the recipe)' if cv_report else
                       '80 for training, 20 held out (training/splits.json)') + '; CC BY-NC-SA 4.0 terms carry over',
            'recipe': {'name': rc['name'], 'pretrainSteps': rc['pretrain_steps'], 'pretrain': 'masked-token reconstruction (50% of 16x16 cells hidden)',
                       'trainSteps': rc['train_steps'], 'batch': rc['batch'], 'optimizer': 'AdamW', 'lr': rc['lr'],
                       'weightDecay': rc['weight_decay'], 'schedule': f"linear warm-up {rc['warmup']} steps, cosine decay", 'seed': C.SEED,
                       'loss': {'dice': rc['w_dice'], 'crossEntropy': rc['w_ce'], 'lovaszSoftmax': rc['w_lovasz'], 'sliceDiagnosisCE': rc['w_diag'],
                                **({'rvEndSystoleDice': rc['w_rv_es_dice']} if rc['w_rv_es_dice'] else {}),
                                **({'rvCrossEntropyWeight': rc['rv_ce_weight']} if rc['rv_ce_weight'] != 1 else {})},
                       'augmentation': augmentation_summary(rc),
                       'selectedStep': saved.get('step')},
            'command': '/usr/bin/python3 -m training.pulse_lite.pipeline all' + (' --cv ' + str(Path(a.cv_report).parent) if cv_report else ''),
        },
        'validation': cv_validation(cv_report) if cv_report else {
            'patients': ev['patients'], 'split': 'training/splits.json (4 per group)',
            'diceEd': ev['dice']['ed'], 'diceEs': ev['dice']['es'],
            'lvefMaePct': ev['lvef_mae_pct'], 'rvefMaePct': ev['rvef_mae_pct'], 'lvedvMaeMl': ev['lvedv_mae_ml'],
            'lvMassMaeG': ev['lv_mass_mae_g'], 'diagnosisAccuracy': ev['diagnosis_accuracy'],
            'note': 'Python-side figures (training/pulse_lite/evaluate.py) on the native image grid; see EVAL.md',
        },
    }
    manifest = json.loads(json.dumps(manifest), parse_float=lambda x: round(float(x), 4))
    (model_dir / 'manifest.json').write_text(json.dumps(manifest, indent=2) + '\n')
    print('exported', model_dir)


if __name__ == '__main__':
    main()
