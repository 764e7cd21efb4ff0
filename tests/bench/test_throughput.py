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
from graphmdn_tf.bench.report import INFERENCE_PATHS, format_markdown
from graphmdn_tf.bench.throughput import QUICK, _EpochTimer, _time_calls
from graphmdn_tf.cli import main

REPORT_FIELDS = [
    "settings", "device", "cpu_threads", "cpu_cores_available", "tensorflow", "tensor_float_32",
    "matmul_peak_gflops", "presets",
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


def test_bench_command_writes_json_and_markdown(tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["bench", "--quick", "--out", str(out)]) == 0
    report = json.loads((out / "bench.json").read_text())
    assert list(report) == REPORT_FIELDS
    assert report["settings"] == json.loads(json.dumps(asdict(QUICK)))
    assert report["tensor_float_32"] is tf.config.experimental.tensor_float_32_execution_enabled()
    (preset,) = report["presets"]
    assert list(preset) == PRESET_FIELDS
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
    markdown = (out / "bench.md").read_text()
    assert markdown == format_markdown(report)
    assert f"in blocks of {GraphMDN.predict_block_size} rows" in markdown
    assert markdown in capsys.readouterr().out


def test_epoch_timer_counts_the_batches_keras_really_runs():
    # 3 steps per epoch at 2 per execution: Keras runs 4, and the throughput must count 4.
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", steps_per_execution=2)
    data = tf.data.Dataset.from_tensors((np.ones((4, 3), np.float32), np.ones((4, 1), np.float32))).repeat()
    timer = _EpochTimer()
    model.fit(data, epochs=2, steps_per_epoch=3, verbose=0, callbacks=[timer], shuffle=False)
    assert timer.batches == [4, 4] == [int(model.optimizer.iterations.numpy()) // 2] * 2
    assert len(timer.durations) == 2 and all(d > 0 for d in timer.durations)
    assert len(timer.cpu_seconds) == 2 and all(c >= 0 for c in timer.cpu_seconds)


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
