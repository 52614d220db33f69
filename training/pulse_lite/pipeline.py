"""One command for the whole recipe, one for the evaluation alone.

    /usr/bin/python3 -m training.pulse_lite.pipeline all [--recipe v1.0]   # prepare, train, evaluate + fit study head, export
    /usr/bin/python3 -m training.pulse_lite.pipeline eval   # re-run the evaluation on the shipped weights
    /usr/bin/python3 -m training.pulse_lite.pipeline cv [...] # 5-fold cross-validation (cv.py; --smoke, --fold K, aggregate)

`all` resumes an interrupted training run (training/runs/main/ckpt.pt) when run again.
"""
import shutil
import sys

import torch

from . import config as C


def main(argv):
    what = argv[0] if argv else 'all'
    if what == 'all':
        from . import export, evaluate, prepare, train
        if not C.CACHE.exists():
            prepare.main()
        rc = train.main(['--out', str(C.RUNS / 'main')] + argv[1:])   # e.g. --recipe v1.0 (the shipped weights)
        if rc:
            return rc
        best = torch.load(C.RUNS / 'main' / 'best.pt', map_location='cpu')
        (C.ROOT / 'training' / 'weights').mkdir(exist_ok=True)
        torch.save({'model': best['model'], 'step': best['step'], 'val': best['val'], 'recipe': best.get('recipe')}, C.ROOT / 'training' / 'weights' / 'pulse-lite.pt')
        evaluate.main(['--out', str(C.RUNS / 'eval'), '--export-head'])
        export.main(['--eval-dir', str(C.RUNS / 'eval')])
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
