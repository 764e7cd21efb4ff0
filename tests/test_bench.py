"""The benchmark command works end to end (a tiny run: figures are not asserted, their presence and consistency are)."""

import json
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from graphmdn_tf import GraphMDN
from graphmdn_tf.bench import throughput as bench
from graphmdn_tf.bench.throughput import (
    _EpochTimer,
    _time_calls,
    analytic_forward_flops,
    op_category,
    profiler_matmul_flops,
    summarize_trace,
)
from graphmdn_tf.cli import main


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"hidden_dim": 64, "num_blocks": 2, "num_kernels": 3, "mixture": "node"}, {"non_local": False, "num_blocks": 1}],
)
def test_analytic_flops_agree_with_the_profiler(kwargs):
    model = GraphMDN(**kwargs)
    model.build((None, 16, 2))
    analytic = analytic_forward_flops(model, batch=1)
    assert profiler_matmul_flops(model, batch=1) == analytic.matmul + analytic.batched


def test_standard_preset_flops_by_hand():
    # Per sample at large batch: 10 SemGraphConv dense products, 10 neighbour einsums, 5 non-local blocks.
    model = GraphMDN.from_preset("standard")
    model.build((None, 16, 2))
    n, c, i, p = 16, 128, 64, 8
    conv = [(2, c)] + [(c, c)] * 8 + [(c, 25)]
    dense = sum(2 * n * a * 2 * b for a, b in conv)
    neighbour = sum(2 * n * n * b for _, b in conv)
    non_local = 5 * (2 * n * c + 2 * n * c * 2 * i + 2 * n * n * 2 * i + 2 * p * i + 2 * n * p * i + 2 * n * i * c)
    batch = 1 << 20  # batch-independent terms vanish
    per_sample = analytic_forward_flops(model, batch).total / batch
    assert per_sample == pytest.approx(dense + neighbour + non_local, rel=1e-6)


def test_bench_command_writes_json_and_markdown(tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["bench", "--quick", "--out", str(out)]) == 0
    report = json.loads((out / "bench.json").read_text())
    assert report["matmul_peak_gflops"] > 0
    assert report["tensor_float_32"] is tf.config.experimental.tensor_float_32_execution_enabled()
    (preset,) = report["presets"]
    assert preset["preset"] == "standard"
    assert preset["profiler_matmul_flops_batch1"] == preset["analytic_matmul_flops_batch1"]
    inference = ("inference_keras_predict", "inference_saved_model", "inference_saved_model_xla")
    for key in ("train_samples_per_s", *(f"{name}_samples_per_s" for name in inference)):
        assert preset[key] > 0
        assert len(preset[f"{key}_repeats"]) == 2  # QUICK runs 2 repeats
    expected_percent = 100 * preset["train_flops_per_sample"] * preset["train_samples_per_s"] / (report["matmul_peak_gflops"] * 1e9)
    assert preset["train_percent_of_peak"] == pytest.approx(expected_percent)
    for key in ("train", *inference):
        assert 0 < preset[f"{key}_cpu_cores_busy"] <= report["cpu_cores_available"] + 0.5
    markdown = (out / "bench.md").read_text()
    assert "float32 matmul peak" in markdown and "| standard |" in markdown
    assert "CPU cores kept busy" in markdown and "SavedModel XLA samples/s" in markdown
    assert preset["predict_block_size"] == GraphMDN.predict_block_size
    assert f"in blocks of {GraphMDN.predict_block_size} rows" in markdown
    assert "| standard |" in capsys.readouterr().out


def test_bench_profile_traces_training_and_reports_where_the_time_goes(tmp_path):
    # A fresh process: XLA reads the op-tracing flag at its first compilation, which in this test
    # session has long happened.
    out = tmp_path / "bench"
    command = [sys.executable, "-m", "graphmdn_tf.cli", "bench", "--quick", "--profile", "--out", str(out)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    (preset,) = json.loads((out / "bench.json").read_text())["presets"]
    profile = preset["profile"]
    assert list((out / "profile" / "standard").glob("plugins/profile/*/*.xplane.pb"))
    assert sum(profile["category_share"].values()) == pytest.approx(1.0)
    assert profile["category_share"]["matrix products"] > 0.05  # the model's matmuls are in the trace
    assert profile["top_ops_ms"] and all(ms > 0 for _, ms in profile["top_ops_ms"])
    assert "Where a training step's XLA op time goes" in (out / "bench.md").read_text()
    assert "| standard |" in completed.stdout


@pytest.mark.parametrize(
    ("name", "category"),
    [("MatMul.140", "matrix products"), ("dot.3", "matrix products"), ("Einsum.37", "matrix products"),
     ("copy_bitcast_fusion.14", "layout copies"), ("wrapped_reduce-window.63", "reductions"),
     ("multiply_add_fusion", "elementwise fusions"), ("select_select_fusion.6", "elementwise fusions")],
)
def test_op_categories(name, category):
    assert op_category(name) == category


def test_trace_summary_explains_a_missing_or_empty_trace(tmp_path):
    with pytest.raises(FileNotFoundError, match="plugins/profile"):
        summarize_trace(tmp_path / "nothing")
    square = tf.function(lambda x: tf.matmul(x, x))  # no XLA: no XLA op events
    tf.profiler.experimental.start(str(tmp_path / "trace"))
    square(tf.ones((8, 8))).numpy()
    tf.profiler.experimental.stop()
    with pytest.raises(ValueError, match="Expected XLA op events.*xla_cpu_enable_xprof_traceme"):
        summarize_trace(tmp_path / "trace")


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
    monkeypatch.setattr(bench, "time", clocks)
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

    monkeypatch.setattr(bench, "time", RecordingClocks())
    durations, busy = _time_calls(lambda: sum(range(20_000)), repeats=2)
    wall, cpu = np.array(readings["perf_counter"]).reshape(2, 2), np.array(readings["process_time"]).reshape(2, 2)
    np.testing.assert_allclose(durations, wall[:, 1] - wall[:, 0], rtol=1e-12)
    np.testing.assert_allclose(busy, (cpu[:, 1] - cpu[:, 0]) / (wall[:, 1] - wall[:, 0]), rtol=1e-12)
