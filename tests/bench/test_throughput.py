"""`graphmdn-tf bench [throughput]`: the timing helpers read the clocks they are given and the epoch split counts
the batches Keras runs. The real quick run, and the bench.json and bench.md it writes, are test_quick_run.py's."""

import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from graphmdn_tf.bench import throughput
from graphmdn_tf.bench.epochs import EpochParts
from graphmdn_tf.bench.throughput import _time_calls


def test_epoch_parts_count_the_batches_keras_really_runs():
    # 3 steps per epoch at 2 per execution: Keras runs 4, and the throughput must count 4.
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", steps_per_execution=2)
    data = tf.data.Dataset.from_tensors(
        (np.ones((4, 3), np.float32), np.ones((4, 1), np.float32))
    ).repeat()
    parts = EpochParts()
    model.fit(data, epochs=2, steps_per_epoch=3, verbose=0, callbacks=[parts], shuffle=False)
    assert parts.batches == [4, 4] == [int(model.optimizer.iterations.numpy()) // 2] * 2
    assert len(parts.training) == len(parts.validation) == 2
    assert all(wall > 0 and cpu >= 0 for wall, cpu in parts.training + parts.validation)


def test_epoch_parts_count_an_epochs_shorter_last_execution():
    # 3 batches an epoch at 2 per execution where the data end: Keras runs 2, then 1 (as `train` does).
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", steps_per_execution=2)
    data = tf.data.Dataset.from_tensors(
        (np.ones((4, 3), np.float32), np.ones((4, 1), np.float32))
    ).repeat(3)
    parts = EpochParts()
    model.fit(data, epochs=2, verbose=0, callbacks=[parts], shuffle=False)
    assert parts.batches == [3, 3] and int(model.optimizer.iterations.numpy()) == 6


class _Clocks:
    """Stand-ins for `time.perf_counter` and `time.process_time` that only the timed calls advance."""

    def __init__(self):
        self.wall, self.cpu = 100.0, 7.0

    def perf_counter(self):
        return self.wall

    def process_time(self):
        return self.cpu

    def work(self, wall, cpu):
        return lambda: (
            setattr(self, "wall", self.wall + wall) or setattr(self, "cpu", self.cpu + cpu)
        )


@pytest.mark.parametrize(
    ("wall", "cpu", "cores"),
    [(0.05, 0.0, 0.0), (0.25, 0.125, 0.5), (0.5, 0.5, 1.0), (0.5, 1.0, 2.0)],
)
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
    wall, cpu = (
        np.array(readings["perf_counter"]).reshape(2, 2),
        np.array(readings["process_time"]).reshape(2, 2),
    )
    np.testing.assert_allclose(durations, wall[:, 1] - wall[:, 0], rtol=1e-12)
    np.testing.assert_allclose(
        busy, (cpu[:, 1] - cpu[:, 0]) / (wall[:, 1] - wall[:, 0]), rtol=1e-12
    )


def test_epoch_parts_split_each_epoch_at_its_last_training_batch(monkeypatch):
    # Clocks that only the simulated work advances: 2 batches of (1 s wall, 2 s CPU), then 0.5 s of
    # validation at one core; the second epoch has no validation work.
    from graphmdn_tf.bench import epochs

    clocks = _Clocks()
    monkeypatch.setattr(epochs, "time", clocks)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.optimizer.build(model.trainable_variables)
    parts = EpochParts()
    parts.set_model(model)
    for validation in (0.5, 0.0):
        parts.on_epoch_begin(0)
        for batch in range(2):
            clocks.work(1.0, 2.0)()
            model.optimizer.iterations.assign_add(1)  # the step the batch ran
            parts.on_train_batch_end(batch)
        clocks.work(validation, validation)()
        parts.on_epoch_end(0)
    assert parts.training == [(2.0, 4.0), (2.0, 4.0)] and parts.validation == [
        (0.5, 0.5),
        (0.0, 0.0),
    ]
    rows = epochs.epoch_rows(parts, batch_size=8, train_flops_per_sample=1e6, peak=1e8)
    assert rows[0] == {
        "epoch": 0,
        "train_seconds": 2.0,
        "validation_seconds": 0.5,
        "validation_percent_of_epoch": 20.0,
        "train_samples_per_s": 8.0,
        "train_percent_of_peak": 8.0,
        "train_cpu_cores_busy": 2.0,
        "validation_cpu_cores_busy": 1.0,
    }
    assert (
        rows[1]["validation_percent_of_epoch"] == 0.0
        and rows[1]["validation_cpu_cores_busy"] == 0.0
    )
