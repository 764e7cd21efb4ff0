"""`graphmdn-tf bench [throughput]`: throughput against the machine's own float32 matmul peak.

Figures (each the median of several repeats):
- the machine's float32 matmul peak: a tf.function loop of n x n matmuls (2 n^3 FLOPs each);
- the model's FLOPs per sample: an analytic count of every matrix product (dense, einsum and
  batched; 2 FLOPs per multiply-add), cross-checked against TensorFlow's profiler on the ops it has
  FLOP statistics for (`MatMul`); a training step counts 3x the forward pass (forward, and the
  two products of the backward pass);
- training samples/s with `model.fit` (pose level, 5 kernels, batch 256, Adam + global-norm clipping, XLA,
  `steps_per_execution`), and inference samples/s at batch 1024 through Keras `predict` and the
  exported SavedModel's `serving_default` signature, portable and XLA-compiled (`jit_compile=True`);
- achieved FLOP/s as a percentage of the measured peak.

Results go to `bench.json` and `bench.md` in the output directory and are printed.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.models.build import MODEL_FIELDS, build_model
from graphmdn_tf.models.graphmdn import GraphMDN


@dataclass
class BenchSettings:
    presets: tuple = ("standard", "wide")
    num_kernels: int = 5
    batch_size: int = 256
    inference_batch_size: int = 1024
    train_steps: int = 40  # steps per timed repeat
    inference_batches: int = 10
    repeats: int = 5
    steps_per_execution: int = 20
    jit_compile: bool = True
    matmul_size: int = 2048
    matmul_iterations: int = 10


QUICK = BenchSettings(
    presets=("standard",), batch_size=32, inference_batch_size=64, train_steps=4, inference_batches=2,
    repeats=2, steps_per_execution=2, matmul_size=256, matmul_iterations=2,
)


# ---------------------------------------------------------------- machine peak


def measure_matmul_peak(size: int = 2048, iterations: int = 10, repeats: int = 5) -> float:
    """Median float32 FLOP/s of a loop of `iterations` [size x size] matmuls."""
    a = tf.random.stateless_normal((size, size), seed=(1, 2))
    b = tf.random.stateless_normal((size, size), seed=(3, 4)) / size

    @tf.function(jit_compile=False)
    def loop(x):
        for _ in range(iterations):
            x = tf.matmul(x, b)
        return tf.reduce_sum(x)

    loop(a).numpy()  # trace and warm up
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        loop(a).numpy()
        timings.append(time.perf_counter() - start)
    return 2.0 * size**3 * iterations / statistics.median(timings)


# ---------------------------------------------------------------- FLOP counts


@dataclass
class FlopCount:
    """Matrix-product FLOPs of one forward pass over a batch, by op kind."""

    matmul: int = 0  # tf MatMul ops (the profiler counts these)
    einsum: int = 0  # adjacency and group-permutation products (no profiler statistics)
    batched: int = 0  # batched matmuls [B, N, P] x [B, P, I]
    notes: dict = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.matmul + self.einsum + self.batched


def analytic_forward_flops(model: GraphMDN, batch: int) -> FlopCount:
    """Count 2 * multiply-adds of every matrix product in `model`'s forward pass over `batch` samples.

    Mirrors the implementation: SemGraphConv = one [in, 2 out] matmul + the edge-logit scatter
    matmul + the neighbour einsum; GraphNonLocal = theta folded to a vector, one [C, 2 I] matmul for
    g and phi, the group permutation einsum, the pooled phi projection, the affinity x g product and
    the output projection.
    """
    n = model.graph.num_nodes
    count = FlopCount()
    batch_independent = 0

    def conv(in_dim, out_dim, num_edges):
        nonlocal batch_independent
        count.matmul += 2 * batch * n * in_dim * 2 * out_dim  # X [W0 | W1]
        count.matmul += 2 * num_edges * n * n  # edge logits -> dense [N, N]
        batch_independent += 2 * num_edges * n * n
        count.einsum += 2 * batch * n * n * out_dim  # neighbour weights x H1

    def non_local(channels, inter, groups, group_size):
        nonlocal batch_independent
        count.matmul += 2 * channels * inter  # theta kernel x w_theta (batch independent)
        batch_independent += 2 * channels * inter
        count.matmul += 2 * batch * n * channels  # x . theta vector
        count.matmul += 2 * batch * n * channels * 2 * inter  # x [Wg | Wphi]
        if group_size > 1:
            count.einsum += 2 * batch * n * n * 2 * inter  # permutation into groups
        count.matmul += 2 * batch * groups * inter  # pooled phi . w_phi
        count.batched += 2 * batch * n * groups * inter  # affinity x g
        count.matmul += 2 * batch * n * inter * channels  # output projection

    backbone = model.backbone
    edges = backbone.input_block.conv.num_edges
    hidden = model.hidden_dim
    inter = max(hidden // 2, 1)
    groups = n // model.graph.group_size
    conv(model.input_dim, hidden, edges)
    for _ in range(1 + model.num_blocks if model.non_local else 0):
        non_local(hidden, inter, groups, model.graph.group_size)
    for _ in range(2 * model.num_blocks):
        conv(hidden, hidden, edges)
    conv(hidden, (model.target_dim + 2) * model.num_kernels, edges)
    count.notes["batch_independent_matmul"] = batch_independent
    return count


def profiler_matmul_flops(model: GraphMDN, batch: int = 1) -> int:
    """FLOPs TensorFlow's profiler assigns to the forward graph at `batch` (it has statistics for MatMul)."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    function = tf.function(lambda x: model(x, training=False))
    concrete = function.get_concrete_function(tf.TensorSpec([batch, model.graph.num_nodes, model.input_dim], tf.float32))
    graph_def = convert_variables_to_constants_v2(concrete).graph.as_graph_def()
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
        builder = tf.compat.v1.profiler.ProfileOptionBuilder
        options = builder(builder.float_operation()).with_empty_output().build()
        profile = tf.compat.v1.profiler.profile(
            graph=graph, run_meta=tf.compat.v1.RunMetadata(), cmd="scope", options=options
        )
        op_types = {op.name: op.type for op in graph.get_operations()}

    def matmul_flops(node):
        own = node.float_ops if op_types.get(node.name, "").startswith(("MatMul", "BatchMatMul")) else 0
        return own + sum(matmul_flops(child) for child in node.children)

    return int(matmul_flops(profile))


# ---------------------------------------------------------------- throughput


class _EpochTimer(keras.callbacks.Callback):
    """Wall time, process CPU time and batches actually run per epoch (Keras runs whole
    `steps_per_execution` executions, so an epoch can run more batches than `steps_per_epoch` asks for)."""

    def __init__(self):
        super().__init__()
        self.durations = []
        self.cpu_seconds = []
        self.batches = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._cpu_start = time.process_time()
        self._batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self._batches = batch + 1  # `batch` is the last batch of this execution

    def on_epoch_end(self, epoch, logs=None):
        self.durations.append(time.perf_counter() - self._start)
        self.cpu_seconds.append(time.process_time() - self._cpu_start)
        self.batches.append(self._batches)


def _random_poses(rng, count, nodes):
    inputs = rng.uniform(-1, 1, size=(count, nodes, 2)).astype("float32")
    targets = rng.normal(scale=0.2, size=(count, nodes, 3)).astype("float32")
    targets[:, 0] = 0.0
    return inputs, targets


def _training_stream(model: GraphMDN, settings: BenchSettings, rng) -> tf.data.Dataset:
    inputs, targets = _random_poses(rng, settings.batch_size * 8, model.graph.num_nodes)
    return (
        tf.data.Dataset.from_tensor_slices((inputs, targets))
        .repeat()
        .batch(settings.batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def training_throughput(model: GraphMDN, settings: BenchSettings, rng) -> tuple[list[float], list[float]]:
    """samples/s of `model.fit` and the CPU cores it kept busy (process CPU time / wall time), one figure
    per timed epoch (the first, compiling, epoch is dropped)."""
    dataset = _training_stream(model, settings, rng)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3, global_clipnorm=1.0),
        jit_compile=settings.jit_compile,
        steps_per_execution=settings.steps_per_execution,
    )
    timer = _EpochTimer()
    model.fit(
        dataset, epochs=settings.repeats + 1, steps_per_epoch=settings.train_steps, verbose=0, callbacks=[timer],
        shuffle=False,
    )
    rates = [b * settings.batch_size / d for b, d in zip(timer.batches[1:], timer.durations[1:])]
    return rates, [c / d for c, d in zip(timer.cpu_seconds[1:], timer.durations[1:])]


def _time_calls(call, repeats) -> tuple[list[float], list[float]]:
    """Wall seconds of `repeats` calls after a warm-up call, and the CPU cores each kept busy."""
    call()  # warm up / trace
    durations, cores = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        call()
        durations.append(time.perf_counter() - start)
        cores.append((time.process_time() - cpu_start) / durations[-1])
    return durations, cores


def inference_throughput(model: GraphMDN, settings: BenchSettings, rng) -> dict:
    """samples/s at the inference batch size through Keras `predict` and the exported SavedModel, and the
    CPU cores each kept busy."""
    from graphmdn_tf.export import export_saved_model

    count = settings.inference_batch_size * settings.inference_batches
    inputs, _ = _random_poses(rng, count, model.graph.num_nodes)
    keras_durations, keras_cores = _time_calls(
        lambda: model.predict(inputs, batch_size=settings.inference_batch_size, verbose=0), settings.repeats
    )
    batches = [tf.constant(b) for b in np.split(inputs, settings.inference_batches)]
    saved = {}
    with tempfile.TemporaryDirectory() as directory:
        for name, jit_compile in (("saved_model", False), ("saved_model_xla", True)):
            path = export_saved_model(model, base_dir=directory, name=name, jit_compile=jit_compile)
            signature = tf.saved_model.load(str(path)).signatures["serving_default"]

            def run_signature(signature=signature):
                return [{k: v.numpy() for k, v in signature(keypoints=batch).items()} for batch in batches]

            saved[name] = _time_calls(run_signature, settings.repeats)
    return {
        "keras_predict": ([count / d for d in keras_durations], keras_cores),
        **{name: ([count / d for d in durations], cores) for name, (durations, cores) in saved.items()},
    }


# ---------------------------------------------------------------- profile

XLA_OP_TRACE_FLAG = "--xla_cpu_enable_xprof_traceme=true"
_PRODUCTS = re.compile(r"^(MatMul|BatchMatMul|Einsum|dot|convolution)")
_RUNTIME = re.compile(r"^end: |Thunk|Threadpool|SlinkyThreadPool|Executor|Eigen|Await|BlockUntilReady")


def enable_xla_op_tracing() -> None:
    """Make XLA:CPU record one profiler event per compiled op (call before the first XLA compilation)."""
    flags = os.environ.get("XLA_FLAGS", "")
    if XLA_OP_TRACE_FLAG not in flags.split():
        os.environ["XLA_FLAGS"] = f"{flags} {XLA_OP_TRACE_FLAG}".strip()


def op_category(name: str) -> str:
    """The kind of work an XLA op event stands for, from its HLO name."""
    if _PRODUCTS.match(name):
        return "matrix products"
    if "copy" in name or "transpose" in name:
        return "layout copies"
    if "reduce" in name:
        return "reductions"
    return "elementwise fusions"


def summarize_trace(log_dir) -> dict:
    """Time per XLA op and per `op_category` in the newest TF profiler trace under `log_dir`.

    Reads the XLA:CPU worker threads (their names hold 'Eigen') of the trace's host plane; the op events
    exist only where `enable_xla_op_tracing` ran before compilation. Durations of ops that ran on both
    threads at once are both counted, so the shares are of busy thread time.
    """
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    paths = sorted(Path(log_dir).glob("plugins/profile/*/*.xplane.pb"))
    if not paths:
        raise FileNotFoundError(f"Expected a TF profiler trace (plugins/profile/*/*.xplane.pb) under {log_dir}")
    space = xplane_pb2.XSpace()
    space.ParseFromString(paths[-1].read_bytes())
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


def profile_training(model: GraphMDN, settings: BenchSettings, log_dir, rng) -> dict:
    """Trace `train_steps` steps of an already compiled and warmed-up `model.fit` into `log_dir`
    (TensorBoard's profile tab shows it) and summarise it with `summarize_trace`."""
    dataset = _training_stream(model, settings, rng)
    tf.profiler.experimental.start(str(log_dir))
    try:
        model.fit(dataset, epochs=1, steps_per_epoch=settings.train_steps, verbose=0, shuffle=False)
    finally:
        tf.profiler.experimental.stop()
    return summarize_trace(log_dir)


# ---------------------------------------------------------------- driver


def benchmark_preset(preset: str, settings: BenchSettings, peak: float, seed: int = 0, profile_dir=None) -> dict:
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    config = TrainingConfig.from_preset(preset, num_kernels=settings.num_kernels, mixture="pose")
    model = build_model(config)
    arguments = {name: getattr(config, name) for name in MODEL_FIELDS[config.model]}
    per_sample = analytic_forward_flops(model, settings.batch_size)
    forward_flops = per_sample.total / settings.batch_size
    at_one = analytic_forward_flops(model, 1)
    profiled = profiler_matmul_flops(model, batch=1)
    training, training_cores = training_throughput(model, settings, rng)
    inference = inference_throughput(model, settings, rng)
    inference_flops = analytic_forward_flops(model, settings.inference_batch_size).total / settings.inference_batch_size
    train_rate = statistics.median(training)
    result = {
        "preset": preset,
        "arguments": arguments,
        "parameters": int(model.count_params()),
        "predict_block_size": model.predict_block_size,
        "forward_flops_per_sample": forward_flops,
        "train_flops_per_sample": 3 * forward_flops,
        "flops_breakdown_batch1": {"matmul": at_one.matmul, "einsum": at_one.einsum, "batched": at_one.batched},
        "profiler_matmul_flops_batch1": profiled,
        "analytic_matmul_flops_batch1": at_one.matmul + at_one.batched,
        "train_samples_per_s": train_rate,
        "train_samples_per_s_repeats": training,
        "train_gflops": 3 * forward_flops * train_rate / 1e9,
        "train_percent_of_peak": 100 * 3 * forward_flops * train_rate / peak,
        "train_cpu_cores_busy": statistics.median(training_cores),
    }
    if profile_dir is not None:
        result["profile"] = profile_training(model, settings, Path(profile_dir) / preset, rng)
    for name, (rates, cores) in inference.items():
        rate = statistics.median(rates)
        result[f"inference_{name}_cpu_cores_busy"] = statistics.median(cores)
        result[f"inference_{name}_samples_per_s"] = rate
        result[f"inference_{name}_samples_per_s_repeats"] = rates
        result[f"inference_{name}_percent_of_peak"] = 100 * inference_flops * rate / peak
    return result


def run_benchmark(out_dir, settings: BenchSettings | None = None, profile: bool = False) -> dict:
    """Measure and write `bench.json` / `bench.md` into `out_dir`; with `profile`, also a TF profiler
    trace of training per preset in `out_dir/profile/<preset>` and where its time goes."""
    settings = settings or BenchSettings()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if profile:
        enable_xla_op_tracing()
    peak = measure_matmul_peak(settings.matmul_size, settings.matmul_iterations, settings.repeats)
    report = {
        "settings": asdict(settings),
        "device": tf.config.list_logical_devices("GPU")[0].name if tf.config.list_logical_devices("GPU") else "CPU",
        "cpu_threads": tf.config.threading.get_intra_op_parallelism_threads() or "default",
        "cpu_cores_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "tensorflow": tf.__version__,
        # On GPUs TensorFlow runs float32 matmuls in TF32 unless this is switched off; the peak and the
        # model's products then both use it.
        "tensor_float_32": bool(tf.config.experimental.tensor_float_32_execution_enabled()),
        "matmul_peak_gflops": peak / 1e9,
        "presets": [
            benchmark_preset(p, settings, peak, profile_dir=out_dir / "profile" if profile else None)
            for p in settings.presets
        ],
    }
    (out_dir / "bench.json").write_text(json.dumps(report, indent=2))
    markdown = format_markdown(report)
    (out_dir / "bench.md").write_text(markdown)
    return report


def format_markdown(report: dict) -> str:
    lines = [
        f"# graphmdn-tf bench ({report['device']}, TensorFlow {report['tensorflow']})",
        "",
        f"float32 matmul peak ({report['settings']['matmul_size']}^2): **{report['matmul_peak_gflops']:.1f} GFLOP/s**"
        + (" (TF32 matmuls enabled, TensorFlow's GPU default)" if report["device"] != "CPU" and report["tensor_float_32"] else ""),
        "",
        "| preset | params | MFLOP/sample fwd (train) | profiler check | train samples/s | train % peak "
        "| predict samples/s | % peak | SavedModel samples/s | % peak | SavedModel XLA samples/s | % peak |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["presets"]:
        check = "ok" if r["profiler_matmul_flops_batch1"] == r["analytic_matmul_flops_batch1"] else "MISMATCH"
        lines.append(
            f"| {r['preset']} | {r['parameters']:,} | {r['forward_flops_per_sample'] / 1e6:.1f} "
            f"({r['train_flops_per_sample'] / 1e6:.1f}) | {check} | {r['train_samples_per_s']:.0f} "
            f"| {r['train_percent_of_peak']:.0f}% | {r['inference_keras_predict_samples_per_s']:.0f} "
            f"| {r['inference_keras_predict_percent_of_peak']:.0f}% | {r['inference_saved_model_samples_per_s']:.0f} "
            f"| {r['inference_saved_model_percent_of_peak']:.0f}% | {r['inference_saved_model_xla_samples_per_s']:.0f} "
            f"| {r['inference_saved_model_xla_percent_of_peak']:.0f}% |"
        )
    settings = report["settings"]
    lines += [
        "",
        f"Training: batch {settings['batch_size']}, pose level, {settings['num_kernels']} kernels, Adam + global clipnorm 1, "
        f"XLA={settings['jit_compile']}, steps_per_execution={settings['steps_per_execution']}; "
        f"inference batch {settings['inference_batch_size']} (Keras `predict` in blocks of "
        f"{report['presets'][0]['predict_block_size'] if report['presets'] else '-'} rows). Medians of {settings['repeats']} repeats.",
        "",
        f"CPU cores kept busy (process CPU time / wall time; {report['cpu_cores_available']} available). "
        "Fewer than available means cores sat idle: ops that ran one at a time, or waits:",
        "",
        "| preset | training | predict | SavedModel | SavedModel XLA |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['preset']} | {r['train_cpu_cores_busy']:.2f} | {r['inference_keras_predict_cpu_cores_busy']:.2f} "
        f"| {r['inference_saved_model_cpu_cores_busy']:.2f} | {r['inference_saved_model_xla_cpu_cores_busy']:.2f} |"
        for r in report["presets"]
    ]
    lines.append("")
    profiled = [r for r in report["presets"] if "profile" in r]
    if profiled:
        kinds = ("matrix products", "elementwise fusions", "reductions", "layout copies")
        lines += [
            "Where a training step's XLA op time goes (TF profiler trace):",
            "",
            "| preset | " + " | ".join(kinds) + " | largest ops (ms over the traced steps) |",
            "|---|" + "---|" * (len(kinds) + 1),
        ]
        for r in profiled:
            shares = r["profile"]["category_share"]
            top = ", ".join(f"{name} {ms:.1f}" for name, ms in r["profile"]["top_ops_ms"][:4])
            lines.append(f"| {r['preset']} | " + " | ".join(f"{100 * shares.get(k, 0):.0f}%" for k in kinds) + f" | {top} |")
        lines += ["", "Traces: `tensorboard --logdir <out>/profile` (profile tab; needs tensorboard-plugin-profile).", ""]
    return "\n".join(lines)


def run_command(args) -> int:
    """`graphmdn-tf bench throughput` (the default): run, print the Markdown report, say where it went."""
    settings = QUICK if args.quick else BenchSettings()
    overrides = {}
    if args.presets:
        overrides["presets"] = tuple(args.presets)
    if args.repeats:
        overrides["repeats"] = args.repeats
    if args.no_xla:
        overrides["jit_compile"] = False
    if args.steps_per_execution:
        overrides["steps_per_execution"] = args.steps_per_execution
    settings = BenchSettings(**{**asdict(settings), **overrides})
    report = run_benchmark(args.out, settings, profile=args.profile)
    print(format_markdown(report))
    print(f"Written: {Path(args.out) / 'bench.json'}, {Path(args.out) / 'bench.md'}")
    return 0
