#!/usr/bin/env bash
# Two epochs over 1.56 M synthetic poses at batch 256 on one GPU, with the paper's
# one-cycle schedule, timed from start to saved model; mixed precision on and off; then a short
# profiler trace of training. One prepared run: about 8-10 minutes on an H100.
#
#   bash tools/gpu_epochs.sh OUT_DIR        (from the repository root, after pip install -e ".[gpu]")
#
# Prints, per run: wall seconds of the whole `train` command, ms per step of the second epoch (from
# history.csv's train_seconds and training.json's steps per epoch) and samples/s. Results and logs
# stay in OUT_DIR; the trace is OUT_DIR/profile (tensorboard --logdir OUT_DIR/profile).
set -euo pipefail
out="${1:?usage: bash tools/gpu_epochs.sh OUT_DIR}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
# 5 training subjects x 30 sequences x 2600 frames x 4 cameras = 1.56 M training poses.
[ -f "$out/syn/data_3d_synthetic.npz" ] || graphmdn-tf data synth --output-dir "$out/syn" --frames 2600
for precision in mixed float32; do
  flag=$([ "$precision" = mixed ] && echo --mixed-precision || echo --no-mixed-precision)
  start=$(date +%s.%N)
  graphmdn-tf train --preset standard --dataset synthetic --data-dir "$out/syn" --epochs 2 --batch-size 256 \
    --jit-compile on --steps-per-execution 100 "$flag" --run-dir "$out/run-$precision" --overwrite --verbose 2 \
    > "$out/train-$precision.log" 2>&1
  end=$(date +%s.%N)
  python - "$out/run-$precision" "$start" "$end" "$precision" <<'EOF'
import csv, json, sys
from pathlib import Path
run, start, end, precision = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
steps = json.loads((run / "training.json").read_text())["steps_per_epoch"]
rows = list(csv.DictReader(open(run / "history.csv")))
second = float(rows[-1]["train_seconds"])
print(f"{precision}: {end - start:.0f} s for two epochs including compilation (target < 60 s); "
      f"second epoch {1e3 * second / steps:.1f} ms/step, {256 * steps / second:.0f} samples/s")
EOF
done
graphmdn-tf bench throughput --presets standard --repeats 2 --profile --output-dir "$out/bench" | tail -25
