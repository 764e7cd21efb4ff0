"""Time `serving_default` of one model exported as a SavedModel, ONNX and LiteRT, interleaved.

    python tools/export_formats_benchmark.py [--preset standard] [--repeats 7] [--out DIR]

Exports an untrained model of the preset (the weights do not change the work) in the three formats,
then times a batch of 1024 and a batch of 1 in each runtime in turn (SavedModel, onnxruntime, the LiteRT
interpreter, then again), so that a machine's changing load reaches all three alike. Prints the median
milliseconds per call, samples per second and the ratio to the SavedModel, and the processor.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from graphmdn_tf import GraphMDN
from graphmdn_tf.bench.machine import describe_processor, processor_label
from graphmdn_tf.export import ExportedFile, export_saved_model

BATCHES = (1024, 1)


def _runners(model, base: Path) -> dict:
    saved = tf.saved_model.load(str(export_saved_model(model, base, name="m")))
    serving = saved.signatures["serving_default"]
    runners = {"SavedModel": lambda x: serving(keypoints=tf.constant(x))}
    for fmt in ("onnx", "litert"):
        runners[fmt] = ExportedFile(export_saved_model(model, base, name="m", format=fmt))
    return runners


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="standard", help="GraphMDN preset (default: standard)")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds (default: 7)")
    parser.add_argument("--out", type=Path, help="export folder (default: a temporary one)")
    args = parser.parse_args(argv)
    model = GraphMDN.from_preset(args.preset)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as temporary:
        runners = _runners(model, args.out or Path(temporary))
        print(
            f"processor: {processor_label(describe_processor())}; preset {args.preset}; median of {args.repeats}"
        )
        for batch in BATCHES:
            x = rng.uniform(-1, 1, (batch, 16, 2)).astype(np.float32)
            for run in runners.values():  # warm-up
                run(x)
            times = {name: [] for name in runners}
            for _ in range(args.repeats):
                for name, run in runners.items():
                    start = time.perf_counter()
                    run(x)
                    times[name].append(time.perf_counter() - start)
            base = np.median(times["SavedModel"])
            for name, values in times.items():
                median = float(np.median(values))
                print(
                    f"batch {batch:5d}  {name:10s} {median * 1e3:8.2f} ms  "
                    f"{batch / median:9.0f} samples/s  {base / median:5.2f}x SavedModel"
                )


if __name__ == "__main__":
    main()
