#!/usr/bin/env bash
# The 5-fold cross-validation (training/pulse_lite/cv.py) on one GPU in one call: the training cache is
# built from the carried native cache, the 5 folds run as parallel processes on the one GPU, then the
# aggregate step reads their results. Resumable: run it again (the same warm machine keeps training/runs,
# or carry training/runs/cv-<recipe> back) and finished folds are skipped, unfinished ones resume from
# their checkpoints. See training/README.md ("Cross-validation on a GPU").
#
#   bash training/gpu-cv.sh [extra cv options, e.g. --set w_rv_es_dice=0]
#   env: RECIPE (v1.0), TRAIN_MAX_SECONDS (380: each fold's training stops there with a checkpoint, leaving
#        time in a 600 s call for the cache, prediction, the aggregate and the robustness table), THREADS (3 per fold), PYTHON (python3),
#        CV_OUT (training/runs/cv-$RECIPE), MPS=1 to start CUDA MPS (kernels of the 5 processes overlap;
#        off by default: not checked on the lent machines), OUT (results copied there when set),
#        DEVICE (cuda; cpu with FOLDS="0 1" and --smoke checks this script without a GPU, as CI does),
#        ROBUSTNESS=0 skips the robustness table (run when fold 4 finished and under ROBUSTNESS_IF_BEFORE=500 s).
set -uo pipefail
cd "$(dirname "$0")/.."
RECIPE=${RECIPE:-v1.0}
TRAIN_MAX_SECONDS=${TRAIN_MAX_SECONDS:-380}
THREADS=${THREADS:-3}
PY=${PYTHON:-python3}
CV_OUT=${CV_OUT:-training/runs/cv-$RECIPE}
DEVICE=${DEVICE:-cuda}
FOLDS=${FOLDS:-0 1 2 3 4}
COMMAND="RECIPE=$RECIPE bash training/gpu-cv.sh $*"
export PYTHONUNBUFFERED=1
t0=$(date +%s)
say() { echo "[gpu-cv $(( $(date +%s) - t0 ))s] $*"; }

if [ "$DEVICE" = cuda ]; then
  $PY -c 'import torch, scipy, numpy; assert torch.cuda.is_available(), "no CUDA device"; print("torch", torch.__version__, torch.cuda.get_device_name(0))' || exit 3
  nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader 2>/dev/null || true
fi
smoke=0
for arg in "$@"; do [ "$arg" = --smoke ] && smoke=1; done
if [ "$smoke" = 0 ] && [ ! -f .carry/acdc-native.npz ] && [ ! -f .carry/acdc-cache.npz ]; then
  echo "gpu-cv: .carry/acdc-native.npz is missing: build it here with python3 -m training.pulse_lite.native and carry it" >&2
  exit 3
fi
mkdir -p "$CV_OUT"

mps_started=0
if [ "${MPS:-0}" = "1" ] && command -v nvidia-cuda-mps-control >/dev/null 2>&1; then
  export CUDA_MPS_PIPE_DIRECTORY=/tmp/pulse-mps-pipe CUDA_MPS_LOG_DIRECTORY=/tmp/pulse-mps-log
  mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
  nvidia-cuda-mps-control -d && mps_started=1 && say "CUDA MPS started"
fi

say "preparing the training cache and checking the folds"
$PY -m training.pulse_lite.cv prepare --recipe "$RECIPE" "$@" || exit 4

pids=()
for k in $FOLDS; do
  $PY -m training.pulse_lite.cv fold --fold "$k" --recipe "$RECIPE" --device "$DEVICE" --threads "$THREADS" \
    --max-seconds "$TRAIN_MAX_SECONDS" --out "$CV_OUT" "$@" > "$CV_OUT/fold-$k.log" 2>&1 &
  pids+=($!)
done
say "folds started: ${pids[*]}"
status=0
i=0
for k in $FOLDS; do
  wait "${pids[$i]}"; rc=$?; i=$((i + 1))
  say "fold $k exit $rc ($(tail -n 1 "$CV_OUT/fold-$k.log"))"
  [ "$rc" -ne 0 ] && status=2
done
[ "$mps_started" = 1 ] && echo quit | nvidia-cuda-mps-control

say "aggregating"
$PY -m training.pulse_lite.cv aggregate --recipe "$RECIPE" --out "$CV_OUT" --command "$COMMAND" "$@" || status=5

copy_results() {
  [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ] || return 0
  cp "$CV_OUT/cv-report.json" "$CV_OUT/EVAL-cv.md" "$OUT/" 2>/dev/null
  (cd "$CV_OUT" && tar czf "$OUT/cv-folds.tar.gz" fold-*.log fold-*/result.json fold-*/rows.json fold-*/log.jsonl 2>/dev/null)
}
copy_results   # first the report: a call cut short by its limit still brings it back

# The robustness table (issue 14 item 3, model-grid Dice on fold 4 = the 1.0 validation patients): the
# fold-4 model of this recipe and the shipped 1.0 weights, under the same fixed perturbations.
if [ "$smoke" = 0 ] && [ "${ROBUSTNESS:-1}" = 1 ] && [ -f "$CV_OUT/fold-4/result.json" ] && [ $(( $(date +%s) - t0 )) -lt "${ROBUSTNESS_IF_BEFORE:-500}" ]; then
  say "robustness table"
  $PY -m training.pulse_lite.robustness --all --device "$DEVICE" --weights "$CV_OUT/fold-4/best.pt" --out "$CV_OUT/robustness-fold4.json" > "$CV_OUT/robustness.log" 2>&1 &
  rpid=$!
  $PY -m training.pulse_lite.robustness --all --device "$DEVICE" --weights training/weights/pulse-lite.pt --out "$CV_OUT/robustness-1.0.json" >> "$CV_OUT/robustness.log" 2>&1
  wait "$rpid"
fi

if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
  if ls "$CV_OUT"/robustness-*.json >/dev/null 2>&1; then
    (cd "$CV_OUT" && tar czf "$OUT/robustness.tar.gz" robustness-*.json robustness.log)
  fi
  # the fold models (3.3 MB each; what comes back is limited to 16 MiB a file): for an ensemble of the folds
  (cd "$CV_OUT" && tar cf "$OUT/cv-weights-0-2.tar" $(ls fold-[012]/best.pt 2>/dev/null) 2>/dev/null)
  (cd "$CV_OUT" && tar cf "$OUT/cv-weights-3-4.tar" $(ls fold-[34]/best.pt 2>/dev/null) 2>/dev/null)
  say "results copied to \$OUT"
fi
if [ "$status" = 2 ]; then
  say "some folds stopped on TRAIN_MAX_SECONDS or failed (see $CV_OUT/fold-K.log); the report is marked incomplete. Run again to resume."
fi
say "done (status $status)"
exit $status
