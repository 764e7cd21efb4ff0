"""`graphmdn-tf bench [throughput]`: the timing helpers read the clocks they are given, the command turns
flags into settings, and a tiny run writes bench.json and bench.md with their fields (figures are not
asserted: they depend on the machine and its load; their presence and consistency are)."""

import json
import time
from dataclasses import asdict

import keras
import numpy as np
import pytest
import tensorflow as tf

from graphmdn_tf import GraphMDN
from graphmdn_tf.bench import throughput
from graphmdn_tf.bench.epochs import EpochParts
from graphmdn_tf.bench.flops import analytic_forward_flops
from graphmdn_tf.bench.report import INFERENCE_PATHS, format_markdown
from graphmdn_tf.bench.throughput import QUICK, _time_calls
from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.data.pipeline import load_samples
from graphmdn_tf.models.build import build_model

REPORT_FIELDS = [
    "settings", "device", "cpu_threads", "cpu_cores_available", "tensorflow", "tensor_float_32",
    "matmul_peak_gflops", "presets", "epochs",
]
EPOCH_FIELDS = [
    "preset", "dataset", "data_dir", "model", "mixture", "batch_size", "jit_compile", "steps_per_execution",
    "train_samples", "steps_per_epoch", "validation_frames", "image_frames", "train_flops_per_sample", "epochs",
]
PRESET_FIELDS = [
    "preset", "arguments", "parameters", "predict_block_size", "forward_flops_per_sample",
    "train_flops_per_sample", "flops_breakdown_batch1", "profiler_matmul_flops_batch1",
    "analytic_matmul_flops_batch1", "train_samples_per_s", "train_samples_per_s_repeats", "train_gflops",
    "train_percent_of_peak", "train_cpu_cores_busy",
    *(f"inference_{path}_{field}" for path in INFERENCE_PATHS
      for field in ("cpu_cores_busy", "samples_per_s", "samples_per_s_repeats", "percent_of_peak")),
    "inference_saved_model_batch1_ms", "inference_saved_model_xla_batch1_ms",
]


def test_bench_command_writes_json_and_markdown(quick_bench):
    out, printed = quick_bench  # `bench --quick --profile` (tests/bench/conftest.py)
    report = json.loads((out / "bench.json").read_text())
    assert list(report) == REPORT_FIELDS
    assert report["settings"] == json.loads(json.dumps(asdict(QUICK)))
    assert report["tensor_float_32"] is tf.config.experimental.tensor_float_32_execution_enabled()
    (preset,) = report["presets"]
    assert [key for key in preset if key != "profile"] == PRESET_FIELDS and "profile" in preset  # a profiled run
    assert preset["preset"] == "standard"
    assert preset["arguments"] == {"hidden_dim": 128, "num_blocks": 4, "num_kernels": 5, "mixture": "pose", "dropout": 0.1}
    assert preset["profiler_matmul_flops_batch1"] == preset["analytic_matmul_flops_batch1"]
    assert preset["train_flops_per_sample"] == 3 * preset["forward_flops_per_sample"]
    for key in ("train", *(f"inference_{path}" for path in INFERENCE_PATHS)):
        assert len(preset[f"{key}_samples_per_s_repeats"]) == QUICK.repeats
        assert preset[f"{key}_samples_per_s"] == pytest.approx(float(np.median(preset[f"{key}_samples_per_s_repeats"])))
        assert isinstance(preset[f"{key}_cpu_cores_busy"], float)
    peak = report["matmul_peak_gflops"] * 1e9
    assert preset["train_percent_of_peak"] == pytest.approx(
        100 * preset["train_flops_per_sample"] * preset["train_samples_per_s"] / peak
    )
    assert preset["predict_block_size"] == GraphMDN.predict_block_size
    assert all(preset[f"inference_{path}_batch1_ms"] > 0 for path in ("saved_model", "saved_model_xla"))
    run = report["epochs"]  # the quick run: the synthetic set at stride 40, 300 validation frames asked for
    assert list(run) == EPOCH_FIELDS
    assert (run["dataset"], run["data_dir"], run["preset"], run["batch_size"]) == ("synthetic", None, "standard", 256)
    config = TrainingConfig.from_preset("standard", **dict(QUICK.epoch_overrides))
    assert run["train_samples"] == len(load_samples("synthetic", subjects=config.train_subjects, stride=40, progress=False))
    assert run["steps_per_epoch"] == run["train_samples"] // 256 and run["validation_frames"] <= 300
    forward = analytic_forward_flops(build_model(config), 256).total / 256  # the default model at batch 256
    assert run["train_flops_per_sample"] == pytest.approx(3 * forward, rel=1e-9)
    assert [row["epoch"] for row in run["epochs"]] == list(range(QUICK.epoch_epochs))
    for row in run["epochs"]:
        total = row["train_seconds"] + row["validation_seconds"]
        assert row["validation_percent_of_epoch"] == pytest.approx(100 * row["validation_seconds"] / total)
        assert row["train_samples_per_s"] == pytest.approx(run["steps_per_epoch"] * 256 / row["train_seconds"])
        assert row["train_percent_of_peak"] == pytest.approx(
            100 * run["train_flops_per_sample"] * row["train_samples_per_s"] / peak
        )
    markdown = (out / "bench.md").read_text()
    assert markdown == format_markdown(report)
    assert "| validation s | validation % of epoch |" in markdown
    assert f"in blocks of {GraphMDN.predict_block_size} rows" in markdown
    assert markdown in printed


def test_epoch_parts_count_the_batches_keras_really_runs():
    # 3 steps per epoch at 2 per execution: Keras runs 4, and the throughput must count 4.
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", steps_per_execution=2)
    data = tf.data.Dataset.from_tensors((np.ones((4, 3), np.float32), np.ones((4, 1), np.float32))).repeat()
    parts = EpochParts()
    model.fit(data, epochs=2, steps_per_epoch=3, verbose=0, callbacks=[parts], shuffle=False)
    assert parts.batches == [4, 4] == [int(model.optimizer.iterations.numpy()) // 2] * 2
    assert len(parts.training) == len(parts.validation) == 2
    assert all(wall > 0 and cpu >= 0 for wall, cpu in parts.training + parts.validation)


class _Clocks:
    """Stand-ins for `time.perf_counter` and `time.process_time` that only the timed calls advance."""

    def __init__(self):
        self.wall, self.cpu = 100.0, 7.0

    def perf_counter(self):
        return self.wall

    def process_time(self):
        return self.cpu

    def work(self, wall, cpu):
        return lambda: setattr(self, "wall", self.wall + wall) or setattr(self, "cpu", self.cpu + cpu)


@pytest.mark.parametrize(("wall", "cpu", "cores"), [(0.05, 0.0, 0.0), (0.25, 0.125, 0.5), (0.5, 0.5, 1.0),
                                                     (0.5, 1.0, 2.0)])
def test_time_calls_reports_the_cores_a_call_kept_busy(monkeypatch, wall, cpu, cores):
    # Cores kept busy = CPU seconds / wall seconds of each timed call, from the clocks the code reads
    # (injected here, so the verdict does not depend on how busy the machine is).
    clocks = _Clocks()
    monkeypatch.setattr(throughput, "time", clocks)
    calls = []
    durations, busy = _time_calls(lambda: calls.append(1) or clocks.work(wall, cpu)(), repeats=3)
    assert len(calls) == 4  # a warm-up call, then the 3 timed ones
    assert durations == pytest.approx([wall] * 3) and busy == pytest.approx([cores] * 3)


def test_time_calls_divides_the_measured_cpu_time_by_the_measured_wall_time(monkeypatch):
    readings = {"perf_counter": [], "process_time": []}

    class RecordingClocks:
        def __getattr__(self, name):
            def read():
                readings[name].append(getattr(time, name)())
                return readings[name][-1]

            return read

    monkeypatch.setattr(throughput, "time", RecordingClocks())
    durations, busy = _time_calls(lambda: sum(range(20_000)), repeats=2)
    wall, cpu = np.array(readings["perf_counter"]).reshape(2, 2), np.array(readings["process_time"]).reshape(2, 2)
    np.testing.assert_allclose(durations, wall[:, 1] - wall[:, 0], rtol=1e-12)
    np.testing.assert_allclose(busy, (cpu[:, 1] - cpu[:, 0]) / (wall[:, 1] - wall[:, 0]), rtol=1e-12)


def test_epoch_parts_split_each_epoch_at_its_last_training_batch(monkeypatch):
    # Clocks that only the simulated work advances: 2 batches of (1 s wall, 2 s CPU), then 0.5 s of
    # validation at one core; the second epoch has no validation work.
    from graphmdn_tf.bench import epochs

    clocks = _Clocks()
    monkeypatch.setattr(epochs, "time", clocks)
    parts = EpochParts()
    for validation in (0.5, 0.0):
        parts.on_epoch_begin(0)
        for batch in range(2):
            clocks.work(1.0, 2.0)()
            parts.on_train_batch_end(batch)
        clocks.work(validation, validation)()
        parts.on_epoch_end(0)
    assert parts.training == [(2.0, 4.0), (2.0, 4.0)] and parts.validation == [(0.5, 0.5), (0.0, 0.0)]
    rows = epochs.epoch_rows(parts, batch_size=8, train_flops_per_sample=1e6, peak=1e8)
    assert rows[0] == {
        "epoch": 0, "train_seconds": 2.0, "validation_seconds": 0.5, "validation_percent_of_epoch": 20.0,
        "train_samples_per_s": 8.0, "train_percent_of_peak": 8.0, "train_cpu_cores_busy": 2.0,
        "validation_cpu_cores_busy": 1.0,
    }
    assert rows[1]["validation_percent_of_epoch"] == 0.0 and rows[1]["validation_cpu_cores_busy"] == 0.0
