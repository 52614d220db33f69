#!/usr/bin/env bash
# The 5-fold cross-validation (training/pulse_lite/cv.py) on this CPU, over several sessions: two lanes,
# one per core, each running its folds in turn on one thread. A fold another lane holds is skipped
# (flock), a finished one too, and an interrupted one resumes from its checkpoint (every 200 steps), so
# the same command goes on where the last session stopped. One fold takes about 2.5 h on one thread of
# this machine; the five about 7.5 h with two lanes. When all five are done the last lane aggregates and
# copies each fold's result.json to training/cv-results/$RECIPE/ (small: commit them; the report is
# rebuilt from them by `cv aggregate --out training/cv-results/$RECIPE`).
#
#   bash training/cpu-cv.sh start          both lanes in the background (setsid), lowest CPU priority
#   bash training/cpu-cv.sh lane 1 2 3     one lane in the foreground
#   bash training/cpu-cv.sh status         the last line of every fold's log, and what is finished
#   env: RECIPE (v1.0), CV_OUT (training/runs/cv-$RECIPE), PYTHON (/usr/bin/python3: Debian's torch)
#
# Lowest priority: the kernel shares the CPU per session (autogroup), so `nice` alone does nothing
# against other sessions; the lanes set their autogroup's nice to 19. Pause them during a benchmark
# with `pkill -STOP -f pulse_lite.cv` and resume with `pkill -CONT -f pulse_lite.cv`.
set -uo pipefail
cd "$(dirname "$0")/.."
RECIPE=${RECIPE:-v1.0}
CV_OUT=${CV_OUT:-training/runs/cv-$RECIPE}
PY=${PYTHON:-/usr/bin/python3}
RESULTS=training/cv-results/$RECIPE
export PYTHONUNBUFFERED=1
mkdir -p "$CV_OUT"

lowest_priority() { echo 19 > "/proc/$1/autogroup" 2>/dev/null || renice -n 19 -p "$1" >/dev/null 2>&1 || true; }

lane() {
  lowest_priority $$
  ( flock 9
    [ -f .carry/acdc-native.npz ] || "$PY" -m training.pulse_lite.native >> "$CV_OUT/prepare.log" 2>&1
    [ -f .carry/acdc-cache.npz ] || "$PY" -m training.pulse_lite.cv prepare --recipe "$RECIPE" >> "$CV_OUT/prepare.log" 2>&1
  ) 9>"$CV_OUT/prepare.lock"
  for k in "$@"; do
    [ -f "$CV_OUT/fold-$k/result.json" ] && continue
    flock -n "$CV_OUT/fold-$k.lock" "$PY" -m training.pulse_lite.cv fold --fold "$k" --recipe "$RECIPE" --device cpu \
      --threads 1 --out "$CV_OUT" >> "$CV_OUT/fold-$k.log" 2>&1
  done
  if [ "$(ls "$CV_OUT"/fold-*/result.json 2>/dev/null | wc -l)" = 5 ]; then
    flock "$CV_OUT/aggregate.lock" "$PY" -m training.pulse_lite.cv aggregate --recipe "$RECIPE" --out "$CV_OUT" \
      --command "bash training/cpu-cv.sh start (RECIPE=$RECIPE)" >> "$CV_OUT/aggregate.log" 2>&1
    for k in 0 1 2 3 4; do mkdir -p "$RESULTS/fold-$k" && cp "$CV_OUT/fold-$k/result.json" "$RESULTS/fold-$k/"; done
  fi
}

case "${1:-status}" in
  start)
    setsid nohup bash "$0" lane 0 1 2 3 4 > "$CV_OUT/lane-a.log" 2>&1 < /dev/null &
    echo "lane a: pid $!"
    sleep 2   # lane a takes the first unfinished fold's lock; lane b walks the other way
    setsid nohup bash "$0" lane 4 3 2 1 0 > "$CV_OUT/lane-b.log" 2>&1 < /dev/null &
    echo "lane b: pid $!"
    echo "logs: $CV_OUT/fold-K.log; status: bash training/cpu-cv.sh status"
    ;;
  lane)
    shift
    lane "$@"
    ;;
  status)
    for k in 0 1 2 3 4; do
      if [ -f "$CV_OUT/fold-$k/result.json" ]; then echo "fold $k: done"
      elif [ -f "$CV_OUT/fold-$k.log" ]; then echo "fold $k: $(tail -n 1 "$CV_OUT/fold-$k.log" | cut -c1-100)"
      else echo "fold $k: not started"; fi
    done
    ;;
  *)
    echo "usage: bash training/cpu-cv.sh start | lane K... | status" >&2
    exit 64
    ;;
esac
