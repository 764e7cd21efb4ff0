"""Where the default (portable) export's time goes: per-op times of `serving_default` in TF's graph executor.

Exports a freshly built preset (pose level, 5 kernels) without XLA, times the signature at one batch size
as `graphmdn-tf bench` does (median of repeats, outputs fetched), then runs it in a TF1-style session with
full tracing and sums the executor's per-op times by op type (what Grappler and oneDNN left of the graph:
`_MklNativeFusedMatMul` is a MatMul fused with its BiasAdd and, where there is one, its ReLU):

    python tools/profile_export.py [--preset standard] [--batch 1024] [--repeats 15] [--traces 5]
                                   [--beside-peak 15]

`--beside-peak N` then alternates N runs of the matmul-peak loop with N signature calls and prints each
pair, so the export's share of the peak is read under the same load as the peak (on a shared machine
both drift).

Its figures, with the machine they ran on, are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import tempfile
import time

import numpy as np
import tensorflow as tf

from graphmdn_tf.bench.flops import analytic_forward_flops
from graphmdn_tf.bench.peak import MatmulLoop, measure_matmul_peak
from graphmdn_tf.bench.throughput import _time_calls
from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.export import SERVING_DEFAULT, export_saved_model
from graphmdn_tf.models.build import build_model
from graphmdn_tf.models.presets import MODEL_PRESETS


def _signature_call(path, inputs: np.ndarray):
    """A function that calls the `serving_default` of `path` on `inputs` and fetches its outputs."""
    signature = tf.saved_model.load(str(path)).signatures[SERVING_DEFAULT]
    batch = tf.constant(inputs)
    return lambda: {key: value.numpy() for key, value in signature(keypoints=batch).items()}


def signature_seconds(call, repeats: int) -> float:
    """Median wall seconds of one `call` (a `_signature_call`) after a warm-up one (bench's `_time_calls`)."""
    durations, _ = _time_calls(call, repeats)
    return statistics.median(durations)


def beside_peak(call, flops: float, pairs: int) -> list[tuple[float, float]]:
    """(peak FLOP/s, signature FLOP/s) of `pairs` alternations of one matmul-peak loop (warmed up when made)
    and one `call` (`flops` each; a `_signature_call` that `signature_seconds` has warmed up)."""
    loop = MatmulLoop()
    measured = []
    for _ in range(pairs):
        peak = loop.flops / loop.seconds()
        start = time.perf_counter()
        call()
        measured.append((peak, flops / (time.perf_counter() - start)))
    return measured


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def op_times(
    path, inputs: np.ndarray, traces: int
) -> tuple[collections.Counter, collections.Counter]:
    """({op type: mean ms per call}, {op type: ops per call}) of `serving_default`, from the step stats of
    `traces` fully traced session runs after three untraced ones."""
    milliseconds, counts = collections.Counter(), collections.Counter()
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(path))
        signature = meta_graph.signature_def[SERVING_DEFAULT]
        feed = {signature.inputs["keypoints"].name: inputs}
        fetches = {key: value.name for key, value in signature.outputs.items()}
        for _ in range(3):
            session.run(fetches, feed)
        options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
        for _ in range(traces):
            metadata = tf.compat.v1.RunMetadata()
            session.run(fetches, feed, options=options, run_metadata=metadata)
            for device in metadata.step_stats.dev_stats:
                for node in device.node_stats:
                    label = node.timeline_label  # "name = OpType(inputs)"
                    kind = (
                        label.split(" = ", 1)[1].split("(", 1)[0]
                        if " = " in label
                        else node.node_name
                    )
                    milliseconds[kind] += node.all_end_rel_micros / 1e3 / traces
                    counts[kind] += 1
    return milliseconds, collections.Counter(
        {kind: count // traces for kind, count in counts.items()}
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="standard", choices=sorted(MODEL_PRESETS))
    parser.add_argument("--batch", type=_positive_int, default=1024)
    parser.add_argument(
        "--repeats",
        type=_positive_int,
        default=15,
        help="timed signature calls (the median is reported)",
    )
    parser.add_argument(
        "--traces",
        type=_positive_int,
        default=5,
        help="traced session runs the op times are averaged over",
    )
    parser.add_argument("--top", type=_positive_int, default=20, help="op types listed")
    parser.add_argument(
        "--beside-peak",
        type=_positive_int,
        default=None,
        metavar="N",
        help="then alternate N matmul-peak loops with N signature calls and print each pair",
    )
    args = parser.parse_args(argv)

    model = build_model(
        TrainingConfig.from_preset(args.preset, num_kernels=5, mixture_level="pose")
    )
    flops = analytic_forward_flops(model, args.batch).total
    inputs = (
        np.random.default_rng(0)
        .uniform(-1, 1, (args.batch, model.graph.num_nodes, 2))
        .astype(np.float32)
    )
    peak = measure_matmul_peak()
    with tempfile.TemporaryDirectory() as directory:
        path = export_saved_model(model, base_dir=directory, name="profiled", jit_compile=False)
        call = _signature_call(path, inputs)
        seconds = signature_seconds(call, args.repeats)
        milliseconds, counts = op_times(path, inputs, args.traces)
        pairs = beside_peak(call, flops, args.beside_peak) if args.beside_peak else []
    achieved = flops / seconds
    print(
        f"{args.preset}, batch {args.batch}: {1e3 * seconds:.1f} ms a batch, {achieved / 1e9:.1f} GFLOP/s, "
        f"{100 * achieved / peak:.0f}% of the measured matmul peak ({peak / 1e9:.1f} GFLOP/s)"
    )
    total = sum(milliseconds.values())
    print(f"op time per call, summed over ops: {total:.1f} ms")
    print("| op type | ms | share | ops |\n|---|---|---|---|")
    for kind, ms in milliseconds.most_common(args.top):
        print(f"| {kind} | {ms:.2f} | {100 * ms / total:.1f}% | {counts[kind]} |")
    if pairs:
        print(
            "\n| pair | matmul peak GFLOP/s | signature GFLOP/s | % of that peak |\n|---|---|---|---|"
        )
        for index, (peak_rate, rate) in enumerate(pairs, 1):
            print(
                f"| {index} | {peak_rate / 1e9:.1f} | {rate / 1e9:.1f} | {100 * rate / peak_rate:.0f}% |"
            )
        shares = [100 * rate / peak_rate for peak_rate, rate in pairs]
        print(
            f"% of the peak beside it: median {statistics.median(shares):.0f}%, "
            f"from {min(shares):.0f}% to {max(shares):.0f}% over {len(pairs)} pairs"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
