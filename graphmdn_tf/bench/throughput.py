"""`graphmdn-tf bench [throughput]`: training and inference samples/s against the machine's own float32 matmul peak.

Figures (each the median of several repeats):
- the machine's float32 matmul peak (`graphmdn_tf.bench.peak`);
- the model's FLOPs per sample (`graphmdn_tf.bench.flops`): an analytic count of every matrix product
  of the built model, cross-checked against TensorFlow's profiler on the ops it has FLOP statistics
  for (`MatMul`); a training step counts 3x the forward pass (forward, and the two products of the
  backward pass);
- training samples/s with `model.fit` (pose level, 5 kernels, batch 256, Adam + global-norm clipping, XLA,
  `steps_per_execution`), and inference samples/s at batch 1024 through Keras `predict` and the
  exported SavedModel's `serving_default` signature, portable (the default export, what TF Serving runs
  without experimental flags) and XLA-compiled (`jit_compile=True`); each with the CPU cores the process
  kept busy (process CPU time / wall time); and each SavedModel's batch-1 latency (median of
  `latency_calls` one-pose requests);
- achieved FLOP/s as a percentage of the measured peak;
- with `--profile`, where a training step's XLA op time goes (`graphmdn_tf.bench.profile`).
- one epoch figure per epoch of a real `train` run at the first preset's default settings
  (`graphmdn_tf.bench.epochs`): training samples/s and % of peak, and validation's share of the epoch,
  each with the cores it kept busy.

Results go to `bench.json` and `bench.md` (`graphmdn_tf.bench.report`) in the output directory and are printed.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from graphmdn_tf.bench.epochs import (
    EpochParts,
    EpochSettings,
    check_epoch_settings,
    epoch_benchmark,
)
from graphmdn_tf.bench.flops import analytic_forward_flops, profiler_matmul_flops
from graphmdn_tf.bench.machine import describe_gpu, describe_processor
from graphmdn_tf.bench.peak import measure_matmul_peak
from graphmdn_tf.bench.profile import enable_xla_op_tracing, profile_training
from graphmdn_tf.bench.report import format_markdown
from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.models.build import MODEL_FIELDS, build_model
from graphmdn_tf.models.graphmdn import GraphMDN


@dataclass
class BenchSettings:
    """What `bench throughput` measures (presets, batch sizes) and how often (steps, batches, repeats)."""

    presets: tuple = ("standard", "wide")
    num_kernels: int = 5
    batch_size: int = 256
    inference_batch_size: int = 1024
    train_steps: int = 40  # steps per timed repeat
    inference_batches: int = 10
    repeats: int = 5
    latency_calls: int = 200  # batch-1 requests timed per SavedModel (the median is reported)
    steps_per_execution: int = 20
    jit_compile: bool = True
    matmul_size: int = 2048
    matmul_iterations: int = 10
    # The epoch figure (`graphmdn_tf.bench.epochs`): `train` with the first preset's default settings on
    # this data set (None: the built-in synthetic set) for `epoch_epochs` epochs (0: not measured).
    epoch_dataset: str = "synthetic"
    epoch_data_dir: str | None = None
    epoch_epochs: int = 2
    epoch_overrides: tuple = ()  # further TrainingConfig (field, value) pairs

    def epoch_settings(self) -> EpochSettings:
        return EpochSettings(
            preset=self.presets[0],
            dataset=self.epoch_dataset,
            data_dir=self.epoch_data_dir,
            epochs=self.epoch_epochs,
            overrides=tuple(map(tuple, self.epoch_overrides)),
        )


# `--quick`: a tiny run that only proves the benchmark works.
QUICK = BenchSettings(
    presets=("standard",),
    batch_size=32,
    inference_batch_size=64,
    train_steps=4,
    inference_batches=2,
    repeats=2,
    latency_calls=3,
    steps_per_execution=2,
    matmul_size=256,
    matmul_iterations=2,
    epoch_overrides=(("stride", 40), ("validation_frames", 300)),
)


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


def training_throughput(
    model: GraphMDN, settings: BenchSettings, rng
) -> tuple[list[float], list[float]]:
    """samples/s of `model.fit` and the CPU cores it kept busy (process CPU time / wall time), one figure
    per timed epoch (the first, compiling, epoch is dropped)."""
    dataset = _training_stream(model, settings, rng)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3, global_clipnorm=1.0),
        jit_compile=settings.jit_compile,
        steps_per_execution=settings.steps_per_execution,
    )
    parts = EpochParts()
    model.fit(
        dataset,
        epochs=settings.repeats + 1,
        steps_per_epoch=settings.train_steps,
        verbose=0,
        callbacks=[parts],
        shuffle=False,
    )
    timed = list(zip(parts.batches, parts.training))[1:]
    return [b * settings.batch_size / wall for b, (wall, _) in timed], [
        cpu / wall for _, (wall, cpu) in timed
    ]


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


def inference_throughput(model: GraphMDN, settings: BenchSettings, rng) -> tuple[dict, dict]:
    """({path: (samples/s per repeat, CPU cores busy per repeat)} at the inference batch size through Keras
    `predict` and the exported SavedModels, {SavedModel path: median batch-1 latency in ms} of one request
    of one pose through `serving_default`)."""
    from graphmdn_tf.export import export_saved_model

    count = settings.inference_batch_size * settings.inference_batches
    inputs, _ = _random_poses(rng, count, model.graph.num_nodes)
    keras_durations, keras_cores = _time_calls(
        lambda: model.predict(inputs, batch_size=settings.inference_batch_size, verbose=0),
        settings.repeats,
    )
    batches = [tf.constant(b) for b in np.split(inputs, settings.inference_batches)]
    one = tf.constant(inputs[:1])  # the batch-1 request
    saved, latencies = {}, {}
    with tempfile.TemporaryDirectory() as directory:
        for name, jit_compile in (("saved_model", False), ("saved_model_xla", True)):
            path = export_saved_model(model, base_dir=directory, name=name, jit_compile=jit_compile)
            signature = tf.saved_model.load(str(path)).signatures["serving_default"]

            def run_signature(signature=signature):
                return [
                    {k: v.numpy() for k, v in signature(keypoints=batch).items()}
                    for batch in batches
                ]

            def run_one(signature=signature):
                return {k: v.numpy() for k, v in signature(keypoints=one).items()}

            saved[name] = _time_calls(run_signature, settings.repeats)
            latencies[name] = 1e3 * statistics.median(
                _time_calls(run_one, settings.latency_calls)[0]
            )
    rates = {
        "keras_predict": ([count / d for d in keras_durations], keras_cores),
        **{
            name: ([count / d for d in durations], cores)
            for name, (durations, cores) in saved.items()
        },
    }
    return rates, latencies


def _flop_fields(model: GraphMDN, settings: BenchSettings) -> dict:
    """FLOPs per sample at the training batch (forward, and 3x for a training step), and the batch-1 check
    of the analytic count against TensorFlow's profiler (MatMul and BatchMatMul ops only)."""
    forward_flops = analytic_forward_flops(model, settings.batch_size).total / settings.batch_size
    at_one = analytic_forward_flops(model, 1)
    return {
        "forward_flops_per_sample": forward_flops,
        "train_flops_per_sample": 3 * forward_flops,
        "flops_breakdown_batch1": {
            "matmul": at_one.matmul,
            "einsum": at_one.einsum,
            "batched": at_one.batched,
        },
        "profiler_matmul_flops_batch1": profiler_matmul_flops(model, batch=1),
        "analytic_matmul_flops_batch1": at_one.matmul + at_one.batched,
    }


def benchmark_preset(
    preset: str, settings: BenchSettings, peak: float, seed: int = 0, profile_dir=None
) -> dict:
    """One preset's entry of bench.json: its model, FLOPs, training and inference samples/s, % of `peak`
    and cores kept busy; with `profile_dir`, also a profiler trace of training in `profile_dir/<preset>`."""
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    config = TrainingConfig.from_preset(
        preset, num_kernels=settings.num_kernels, mixture_level="pose"
    )
    model = build_model(config)
    flops = _flop_fields(model, settings)
    training, training_cores = training_throughput(model, settings, rng)
    inference, latencies = inference_throughput(model, settings, rng)
    inference_flops = (
        analytic_forward_flops(model, settings.inference_batch_size).total
        / settings.inference_batch_size
    )
    train_rate = statistics.median(training)
    train_flops = flops["train_flops_per_sample"]
    result = {
        "preset": preset,
        "arguments": {name: getattr(config, name) for name in MODEL_FIELDS[config.model]},
        "parameters": int(model.count_params()),
        "predict_block_size": model.predict_block_size,
        **flops,
        "train_samples_per_s": train_rate,
        "train_samples_per_s_repeats": training,
        "train_gflops": train_flops * train_rate / 1e9,
        "train_percent_of_peak": 100 * train_flops * train_rate / peak,
        "train_cpu_cores_busy": statistics.median(training_cores),
    }
    if profile_dir is not None:
        dataset = _training_stream(model, settings, rng)
        result["profile"] = profile_training(
            model, dataset, settings.train_steps, Path(profile_dir) / preset
        )
    for name, (rates, cores) in inference.items():
        rate = statistics.median(rates)
        result[f"inference_{name}_cpu_cores_busy"] = statistics.median(cores)
        result[f"inference_{name}_samples_per_s"] = rate
        result[f"inference_{name}_samples_per_s_repeats"] = rates
        result[f"inference_{name}_percent_of_peak"] = 100 * inference_flops * rate / peak
    for name, milliseconds in latencies.items():
        result[f"inference_{name}_batch1_ms"] = milliseconds
    return result


def run_benchmark(out_dir, settings: BenchSettings | None = None, profile: bool = False) -> dict:
    """Measure and write `bench.json` / `bench.md` into `out_dir`; with `profile`, also a TF profiler
    trace of training per preset in `out_dir/profile/<preset>` and where its time goes."""
    settings = settings or BenchSettings()
    out_dir = Path(out_dir)
    if settings.epoch_epochs:
        check_epoch_settings(
            settings.epoch_settings()
        )  # a bad --epochs or --data-dir fails before minutes of work
    out_dir.mkdir(parents=True, exist_ok=True)
    if profile:
        enable_xla_op_tracing()
    peak = measure_matmul_peak(settings.matmul_size, settings.matmul_iterations, settings.repeats)
    report = {
        "settings": asdict(settings),
        "device": tf.config.list_logical_devices("GPU")[0].name
        if tf.config.list_logical_devices("GPU")
        else "CPU",
        "cpu_threads": tf.config.threading.get_intra_op_parallelism_threads() or "default",
        "cpu_cores_available": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        **describe_processor(),  # cpu_model, cpu_vector_extensions: percentages compare only on one processor
        "gpu_model": describe_gpu(),
        "tensorflow": tf.__version__,
        # On GPUs TensorFlow runs float32 matmuls in TF32 unless this is switched off; the peak and the
        # model's products then both use it.
        "tensor_float_32": bool(tf.config.experimental.tensor_float_32_execution_enabled()),
        "matmul_peak_gflops": peak / 1e9,
        "presets": [
            benchmark_preset(
                p, settings, peak, profile_dir=out_dir / "profile" if profile else None
            )
            for p in settings.presets
        ],
    }
    # Measured again after the presets: on a shared machine the peak drifts, and the two figures show how much.
    # The presets' percentages are against the first, the epochs' (run next) against this one, the nearer.
    peak_after = measure_matmul_peak(
        settings.matmul_size, settings.matmul_iterations, settings.repeats
    )
    report["matmul_peak_gflops_after"] = peak_after / 1e9
    if settings.epoch_epochs:
        report["epochs"] = epoch_benchmark(settings.epoch_settings(), peak_after)
    (out_dir / "bench.json").write_text(json.dumps(report, indent=2))
    (out_dir / "bench.md").write_text(format_markdown(report))
    return report
