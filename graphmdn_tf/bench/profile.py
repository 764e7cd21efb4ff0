"""Where a training step's time goes: a TF profiler trace of `model.fit`, summed by XLA op and by kind of work.

XLA:CPU records one profiler event per compiled op only with `XLA_OP_TRACE_FLAG`, read at its first
compilation: `enable_xla_op_tracing` sets it, `profile_training` traces, `summarize_trace` reads the trace.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import keras
import tensorflow as tf

XLA_OP_TRACE_FLAG = "--xla_cpu_enable_xprof_traceme=true"
_PRODUCTS = re.compile(r"^(MatMul|BatchMatMul|Einsum|dot|convolution)")
_RUNTIME = re.compile(
    r"^end: |Thunk|Threadpool|SlinkyThreadPool|Executor|Eigen|Await|BlockUntilReady"
)
CATEGORIES = ("matrix products", "elementwise fusions", "reductions", "layout copies")


def enable_xla_op_tracing() -> None:
    """Make XLA:CPU record one profiler event per compiled op (call before the first XLA compilation)."""
    flags = os.environ.get("XLA_FLAGS", "")
    if XLA_OP_TRACE_FLAG not in flags.split():
        os.environ["XLA_FLAGS"] = f"{flags} {XLA_OP_TRACE_FLAG}".strip()


def op_category(name: str) -> str:
    """The kind of work (one of `CATEGORIES`) an XLA op event stands for, from its HLO name."""
    if _PRODUCTS.match(name):
        return "matrix products"
    if "copy" in name or "transpose" in name:
        return "layout copies"
    if "reduce" in name:
        return "reductions"
    return "elementwise fusions"


def _op_milliseconds(space) -> Counter:
    """Milliseconds per XLA op name on the XLA:CPU worker threads (names holding 'Eigen') of an XSpace."""
    per_op: Counter = Counter()
    for plane in space.planes:
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            if "Eigen" not in line.name:
                continue
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if name and not _RUNTIME.search(name):
                    per_op[name] += event.duration_ps * 1e-9  # milliseconds
    return per_op


def summarize_trace(log_dir) -> dict:
    """Time per XLA op and per `op_category` in the newest TF profiler trace under `log_dir`.

    Reads the XLA:CPU worker threads (their names hold 'Eigen') of the trace's host plane; the op events
    exist only where `enable_xla_op_tracing` ran before compilation. Durations of ops that ran on both
    threads at once are both counted, so the shares are of busy thread time.
    """
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    paths = sorted(Path(log_dir).glob("plugins/profile/*/*.xplane.pb"))
    if not paths:
        raise FileNotFoundError(
            f"Expected a TF profiler trace (plugins/profile/*/*.xplane.pb) under {log_dir}"
        )
    space = xplane_pb2.XSpace()
    space.ParseFromString(paths[-1].read_bytes())
    per_op = _op_milliseconds(space)
    total = sum(per_op.values())
    if not total:
        raise ValueError(
            f"Expected XLA op events in {paths[-1]}. Received none: run with XLA "
            f"(jit_compile) on the CPU and call enable_xla_op_tracing() before the first compilation "
            f"(or set XLA_FLAGS={XLA_OP_TRACE_FLAG})."
        )
    categories: Counter = Counter()
    for name, ms in per_op.items():
        categories[op_category(name)] += ms
    return {
        "trace": str(paths[-1]),
        "op_ms": total,
        "category_share": {name: ms / total for name, ms in categories.most_common()},
        "top_ops_ms": per_op.most_common(8),
    }


def profile_training(model: keras.Model, dataset: tf.data.Dataset, steps: int, log_dir) -> dict:
    """Trace `steps` steps of an already compiled and warmed-up `model.fit` on `dataset` into `log_dir`
    (TensorBoard's profile tab shows it) and summarise it with `summarize_trace`."""
    tf.profiler.experimental.start(str(log_dir))
    try:
        model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
    finally:
        tf.profiler.experimental.stop()
    return summarize_trace(log_dir)
