"""Every number of the recipe in one place (the model card and manifest quote these)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]          # project root
ACDC = ROOT.parent / 'shared' / 'data' / 'acdc' / 'training'
CACHE = ROOT / '.carry' / 'acdc-cache.npz'           # compact cache (ignored by git, carried to the GPU)
RUNS = ROOT / 'training' / 'runs'
MODEL_DIR = ROOT / 'models' / 'pulse-lite'
SPLITS = ROOT / 'training' / 'splits.json'

VERSION = '1.0.1'
GROUPS = ['NOR', 'DCM', 'HCM', 'MINF', 'RV']

# Model grid: the network sees a SIZE x SIZE window at SPACING mm, centred on the image centre.
SPACING_MM = 1.5
SIZE = 160
CANVAS = 176            # cache canvas (model spacing) around the image centre; augmentation samples inside/outside it
CLIP_PERCENTILES = (0.5, 99.5)
# Input channels: 1 = the slice alone (shipped); 3 = 2.5D, the slice and its two neighbours along the stack
# (edge slice repeated), each normalised on its own, neighbour order randomised in training. 2.5D gave a
# lower validation RV Dice with this budget (EVAL.md), so it is off.
IN_CHANNELS = 1

# Recipe (identical on CPU and GPU; steps sized so a 2-core CPU finishes within 2 hours).
SEED = 20251203
BATCH = 16
PRETRAIN_STEPS = 400     # masked-token reconstruction on all slices, no labels
TRAIN_STEPS = 4400       # supervised (segmentation + slice diagnosis)
LR = 2e-3
WEIGHT_DECAY = 0.05
WARMUP = 200
EMA_DECAY = 0.0         # weight averaging (0 = off: 0.998 gave no validation gain, see EVAL.md)
EVAL_EVERY = 400
CHECKPOINT_EVERY = 200
# Composite loss weights (see MODEL_CARD.md).
W_DICE = 1.0
W_CE = 1.0
W_LOVASZ = 0.5
W_DIAG = 0.1
