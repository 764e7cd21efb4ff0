#!/usr/bin/env bash
# The default `train` of an older checkout, of this checkout, and of this checkout with
# --steps-per-execution 16, started together so that all three see the same machine load; prints each
# command's wall time and each epoch's train seconds and samples/s from its history.csv.
#
#   bash tools/train_side_by_side.sh OLD_CHECKOUT DATA_DIR OUT_DIR
#
# OLD_CHECKOUT holds a .venv (e.g. `git worktree add /tmp/old 90854da && cd /tmp/old && /work/mkvenv.sh`);
# DATA_DIR the CMU files (data_3d_cmu.npz ...).
set -u
old=$1 data=$(realpath "$2") out=$(realpath -m "$3")
new=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
grep -m1 'model name' /proc/cpuinfo
echo "start $(date -u +%H:%M:%S) load [$(uptime | sed 's/.*load average: //')]"
run() { # name checkout extra-flags
  local start=$(date +%s.%N)
  (cd "$2" && TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/graphmdn-tf train --dataset cmu --data-dir "$data" \
    --epochs 2 --verbose 0 --run-dir "$out/$1" $3 > "$out/$1.log" 2>&1)
  echo "$1 rc=$? wall=$(python3 -c "print(round($(date +%s.%N) - $start, 1))")"
}
run old "$old" "" &
run new "$new" "" &
run new-spe16 "$new" "--steps-per-execution 16" &
wait
echo "end $(date -u +%H:%M:%S) load [$(uptime | sed 's/.*load average: //')]"
for name in old new new-spe16; do
  python3 - "$out/$name/history.csv" "$name" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
samples = 39424  # 154 steps of 256 on the CMU split
for row in rows:
    seconds = float(row["train_seconds"])
    print(f"  {sys.argv[2]} epoch {row['epoch']}: train {seconds:.1f} s, {samples / seconds:.0f} samples/s, "
          f"validation {float(row['validation_seconds']):.1f} s")
PY
done
