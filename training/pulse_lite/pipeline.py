"""One command for the whole recipe, one for the evaluation alone.

    /usr/bin/python3 -m training.pulse_lite.pipeline all [--recipe v1.0] [--dry-run] [--head service|python] [--cv DIR]
    /usr/bin/python3 -m training.pulse_lite.pipeline eval   # re-run the evaluation on the shipped weights
    /usr/bin/python3 -m training.pulse_lite.pipeline cv [...] # 5-fold cross-validation (cv.py; --smoke, --fold K, aggregate)

`all` runs the steps of `all_steps` in order: prepare the cache, train (resumes an interrupted run from
training/runs/main/ckpt.pt), keep the selected weights, evaluate (the Python-side validation figures and
an interim study head, which export.py needs to write a loadable manifest), export model.onnx + manifest,
then the shipped study head the 1.0.1 way: `npm run build`, `npm run head-features` (the TypeScript
pipeline's ED/ES masks of the 100 ACDC patients with the NEW network -> training/runs/head-features) and
`head_cv --export` (the head fitted on the 80 training patients' service masks, its temperature from their
inner out-of-fold logits; it replaces study-head.onnx and the manifest's studyHead). Those last steps need
node; without it (a GPU machine) `all` stops after the export and names the commands to run where node is.
`--cv DIR` (a finished cross-validation of the same recipe, cv.py) trains on all 100 patients instead, keeps
the last step, quotes the cross-validated figures in the manifest and fits the study head on the folds'
out-of-fold masks (`cv export-head`; no node needed). `--head python` keeps the 1.0.0 way (evaluate's head: Python inference, temperature on the 20 validation
patients) and skips the node steps. `--dry-run` prints the steps and runs nothing. Other options go to
train.py (e.g. --recipe, --set, --device).
"""
import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from . import config as C

HEAD_DUMP = C.RUNS / 'head-features'
# What a person runs by hand (from the project root, where node is) when `all` stopped before the head.
MANUAL_HEAD_COMMANDS = ('npm run build && npm run head-features -- --source ../shared/data/acdc/training'
                        ' && /usr/bin/python3 -m training.pulse_lite.head_cv --export')
# Not part of `all` (they need the service and take minutes): what a new network also needs before it ships.
def after_all(cv=False):
    split = 'all' if cv else 'train'   # the patients the network was trained on
    return [
        f'node bin/pulse.js qc-reference --source ../shared/data/acdc/training --split {split} --out models/pulse-lite/qc-reference.json'
        ' --update-manifest (the manifest\'s qualityControl.reference follows; docs/quality-control.md)',
        f'npm run tta-eval -- --source ../shared/data/acdc/training --split {split} --modes flips --out bench/tta-eval-train.json'
        ' (then qualityControl.uncertainty.reviewAbove: 1.25 x the largest disagreement per structure)',
        'node bin/pulse.js eval --source ../shared/data/acdc/training --kind acdc --split val'
        ' --markdown models/pulse-lite/EVAL.md --out models/pulse-lite/eval-val.json'
        + (' (patients the network trained on: a check that the shipped files reproduce, not an accuracy estimate)' if cv else ''),
    ]


def require_node(which=shutil.which):
    """node and npm for the head-features dump; without them a clear stop naming the manual commands."""
    missing = [tool for tool in ('node', 'npm') if which(tool) is None]
    if missing:
        raise SystemExit(
            f"pipeline all: {' and '.join(missing)} not found. The network is exported to {C.MODEL_DIR} with an "
            f"INTERIM study head (evaluate.py's, the 1.0.0 way); the shipped head is fitted on the masks the "
            f"TypeScript pipeline predicts. On a machine with node 20, from the project root, run:\n  {MANUAL_HEAD_COMMANDS}\n"
            f"(or `pipeline all --head python` to ship the interim head on purpose).")


def _prepare():
    from . import prepare
    if not C.CACHE.exists():
        prepare.main()


def _train(train_args):
    from . import train
    rc = train.main(['--out', str(C.RUNS / 'main')] + train_args)
    if rc:
        raise SystemExit(rc)


def _keep_weights():
    import torch
    best = torch.load(C.RUNS / 'main' / 'best.pt', map_location='cpu')
    (C.ROOT / 'training' / 'weights').mkdir(exist_ok=True)
    torch.save({'model': best['model'], 'step': best['step'], 'val': best['val'], 'recipe': best.get('recipe')},
               C.ROOT / 'training' / 'weights' / 'pulse-lite.pt')


def _evaluate():
    from . import evaluate
    evaluate.main(['--out', str(C.RUNS / 'eval'), '--export-head'])


def _export(cv_dir=None):
    from . import export
    export.main(['--eval-dir', str(C.RUNS / 'eval')] + (['--cv-report', str(Path(cv_dir) / 'cv-report.json')] if cv_dir else []))


def _cv_export_head(cv_dir):
    from . import cv
    if cv.main(['export-head', '--out', str(cv_dir)]):
        raise SystemExit('cv export-head failed')


def _drop_stale_qc_reference():
    """The QC reference holds the OLD network's embedding statistics and export.py writes a manifest without
    a qualityControl section: a stale reference is refused by the service (it names the network it measured
    by the sha256 of model.onnx, and its version), which would stop head-features, so it goes; `pulse qc-reference` writes the new one (after_all)."""
    stale = C.MODEL_DIR / 'qc-reference.json'
    if stale.exists():
        stale.unlink()
        print(f'removed {stale} (the previous network\'s); rebuild it with `pulse qc-reference` (pipeline.after_all)')


def _clear_head_dump():
    """head_cv reads every patient*.json in the dump: masks of the previous network must not mix in."""
    for path in list(HEAD_DUMP.glob('patient*.json')) + list(HEAD_DUMP.glob('patient*.bin')):
        path.unlink()


def _head_cv_export():
    from . import head_cv
    head_cv.main(['--dump', str(HEAD_DUMP), '--export'])


def training_recipe(train_args):
    """The recipe train.py will use for these arguments (--recipe, --set)."""
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument('--recipe', default=C.DEFAULT_RECIPE)
    ap.add_argument('--set', action='append', default=[])
    a, _ = ap.parse_known_args(train_args)
    return C.recipe(a.recipe, a.set)


def check_cv(cv_dir, rc):
    """A network trained on every patient is shipped with its recipe's cross-validation: it must be complete
    and of this very recipe (cv.py keeps the last step, as a run without held-out patients must)."""
    path = Path(cv_dir) / 'cv-report.json'
    if not path.exists():
        raise SystemExit(f'--cv {cv_dir}: no cv-report.json (run `cv aggregate --out {cv_dir}` after the folds)')
    report = json.loads(path.read_text())
    if not report.get('complete'):
        raise SystemExit(f'--cv {cv_dir}: the cross-validation is incomplete ({len(report["per_fold"])} folds)')
    theirs = {k: v for k, v in report['recipe'].items() if k != 'name'}
    ours = {k: (list(v) if isinstance(v, tuple) else v) for k, v in rc.items() if k != 'name'}
    differ = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
    if differ:
        raise SystemExit(f'--cv {cv_dir}: cross-validated with another recipe ({report["recipe"]["name"]}; differs in {", ".join(differ)})')
    return report


def _run(command):
    print('$', ' '.join(command), flush=True)
    subprocess.run(command, cwd=C.ROOT, check=True)


def all_steps(argv):
    """The steps `all` runs, in order, as (name, description, action): what the dry run prints and the
    test checks. Node-side steps are listed as their exact command lines."""
    ap = argparse.ArgumentParser(prog='pipeline all', allow_abbrev=False)
    ap.add_argument('--head', choices=('service', 'python'), default='service',
                    help="service: the 1.0.1 head on the TypeScript pipeline's masks (needs node); python: evaluate.py's head (1.0.0 way)")
    ap.add_argument('--dry-run', action='store_true')
    ap.add_argument('--cv', default=None, metavar='DIR',
                    help="train on ALL patients (no validation split, last step) and ship with this finished "
                         "cross-validation of the same recipe: its figures in the manifest, its out-of-fold study head")
    a, train_args = ap.parse_known_args(argv)
    if a.cv:
        train_args = train_args + ['--holdout', 'none', '--set', 'select=last']
    build = ['npm', 'run', 'build']
    dump = ['node', 'dist/bench/head-features.js', '--source', str(C.ACDC), '--out', str(HEAD_DUMP)]
    steps = [('check-cv', f'{a.cv}/cv-report.json complete and of the recipe trained', lambda: check_cv(a.cv, training_recipe(train_args)))] if a.cv else []
    steps += [
        ('prepare', f'build the training cache {C.CACHE} if missing', _prepare),
        ('train', 'train.main ' + ' '.join(['--out', str(C.RUNS / 'main')] + train_args), lambda: _train(train_args)),
        ('keep-weights', 'training/runs/main/best.pt -> training/weights/pulse-lite.pt', _keep_weights),
        ('evaluate', 'evaluate.main --out training/runs/eval --export-head (validation figures; '
                     + ('the shipped head)' if a.head == 'python' else 'interim head, replaced below)'), _evaluate),
        ('export', 'export.main --eval-dir training/runs/eval' + (f' --cv-report {a.cv}/cv-report.json' if a.cv else '')
                   + ' (model.onnx, manifest.json, parity fixture)', lambda: _export(a.cv)),
        ('drop-stale-qc-reference', 'remove models/pulse-lite/qc-reference.json (the previous network\'s)', _drop_stale_qc_reference),
    ]
    if a.cv:
        steps.append(('cv-export-head', f'cv export-head --out {a.cv} (the study head on the 100 out-of-fold rows)',
                      lambda: _cv_export_head(a.cv)))
    elif a.head == 'service':
        steps += [
            ('require-node', 'node and npm present, else stop naming: ' + MANUAL_HEAD_COMMANDS, require_node),
            ('build', ' '.join(build), lambda: _run(build)),
            ('clear-head-features', f'remove the previous masks in {HEAD_DUMP}', _clear_head_dump),
            ('head-features', ' '.join(dump), lambda: _run(dump)),
            ('head-cv-export', 'head_cv.main --dump training/runs/head-features --export (study-head.onnx, manifest studyHead)', _head_cv_export),
        ]
    return a, steps


def main(argv):
    what = argv[0] if argv else 'all'
    if what == 'all':
        a, steps = all_steps(argv[1:])
        if a.dry_run:
            for i, (name, description, _) in enumerate(steps, 1):
                print(f'{i:2d}. {name}: {description}')
            return 0
        if a.head == 'service' and (shutil.which('node') is None or shutil.which('npm') is None):
            print('pipeline all: node/npm not found; training runs, then the pipeline stops before the study head '
                  f'(manual commands: {MANUAL_HEAD_COMMANDS})', file=sys.stderr, flush=True)
        for name, description, action in steps:
            print(f'== pipeline all: {name}: {description}', flush=True)
            action()
        print('pipeline all: done. Before shipping a new network also run:\n  ' + '\n  '.join(after_all(bool(a.cv))))
        return 0
    if what == 'cv':
        from . import cv
        return cv.main(argv[1:])
    if what == 'eval':
        from . import evaluate
        evaluate.main(['--out', str(C.RUNS / 'eval-repro')])
        return 0
    print(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
