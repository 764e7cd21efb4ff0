"""The epoch figure of `graphmdn-tf bench`: one real `train` run, its epochs split into training and validation.

`train` (`graphmdn_tf.training.fit`) runs with the default settings of a preset on a data set (the
shared CMU development split with `--data-dir`, else the built-in synthetic set) for a few epochs, in a
temporary run directory. A callback placed after the built-in ones times each epoch in two parts, wall
and process CPU time:

- training: from the epoch's start to the end of its last training batch (the mid-epoch backup
  checkpoints included);
- validation: from there to the end of the epoch's callbacks before the backup checkpoint: the one
  validation pass, its summaries and Figure-2 image (`ValidationSummaries`), Keras' TensorBoard
  callback and the history row.

It reports, per epoch, the seconds of both parts, validation as a percentage of the two together, the
training samples/s and their FLOP/s as a percentage of the measured matmul peak, and the CPU cores each
part kept busy. The first epoch also traces (and, with XLA, compiles) the training and predict functions.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass

import keras

from graphmdn_tf.bench.flops import analytic_forward_flops
from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.training.fit import TrainingData, resolve_jit_compile, train


class EpochParts(keras.callbacks.Callback):
    """Wall and process CPU seconds of each epoch's training and of what follows its last batch.

    After `fit`, `training` and `validation` hold one `(wall, cpu)` pair per epoch, and `batches` the
    training steps each epoch ran, counted by the optimizer's step counter (Keras runs whole
    `steps_per_execution` executions over an endless dataset, and a shorter last one where the data
    end, so the batch index it reports can differ from the steps run). Place it after the callbacks
    whose epoch-end work the validation part should include."""

    def __init__(self):
        super().__init__()
        self.training, self.validation, self.batches = [], [], []

    @staticmethod
    def _clocks():
        return time.perf_counter(), time.process_time()

    def _steps(self) -> int:
        return int(self.model.optimizer.iterations.numpy())

    def on_epoch_begin(self, epoch, logs=None):
        self._begin = self._end_of_training = self._clocks()
        self._first_step = self._last_step = self._steps()

    def on_train_batch_end(self, batch, logs=None):
        self._end_of_training = self._clocks()
        self._last_step = self._steps()

    def on_epoch_end(self, epoch, logs=None):
        end = self._clocks()
        self.training.append(tuple(b - a for a, b in zip(self._begin, self._end_of_training)))
        self.validation.append(tuple(b - a for a, b in zip(self._end_of_training, end)))
        self.batches.append(self._last_step - self._first_step)


@dataclass(frozen=True)
class EpochSettings:
    """The run `epoch_benchmark` times: `train`'s defaults for `preset` on the data set, for `epochs`
    epochs, with `overrides` (further `TrainingConfig` fields; `--quick` strides the data)."""

    preset: str = "standard"
    dataset: str = "synthetic"
    data_dir: str | None = None
    epochs: int = 2
    overrides: tuple = ()  # (field, value) pairs, hashable and JSON-friendly

    def config(self) -> TrainingConfig:
        return TrainingConfig.from_preset(
            self.preset,
            dataset=self.dataset,
            data_dir=self.data_dir,
            epochs=self.epochs,
            **dict(self.overrides),
        )


def epoch_rows(
    parts: EpochParts, batch_size: int, train_flops_per_sample: float, peak: float
) -> list[dict]:
    """One dict per epoch of `parts`: seconds, validation's share of the epoch, samples/s, % of `peak`
    (FLOP/s), and the cores each part kept busy (CPU seconds / wall seconds)."""
    rows = []
    for epoch, ((train_wall, train_cpu), (validation_wall, validation_cpu), batches) in enumerate(
        zip(parts.training, parts.validation, parts.batches)
    ):
        rate = batches * batch_size / train_wall
        rows.append(
            {
                "epoch": epoch,
                "train_seconds": train_wall,
                "validation_seconds": validation_wall,
                "validation_percent_of_epoch": 100
                * validation_wall
                / (train_wall + validation_wall),
                "train_samples_per_s": rate,
                "train_percent_of_peak": 100 * train_flops_per_sample * rate / peak,
                "train_cpu_cores_busy": train_cpu / train_wall,
                "validation_cpu_cores_busy": validation_cpu / validation_wall
                if validation_wall > 0
                else 0.0,
            }
        )
    return rows


def check_epoch_settings(settings: EpochSettings) -> None:
    """Raise now, not after the throughput measurements, if the run cannot start: its config is invalid, or
    its data are missing, malformed or too few (the data are loaded once here; `train` reads them again
    from the cache)."""
    TrainingData.load(settings.config(), progress=False)


def epoch_benchmark(settings: EpochSettings, peak: float) -> dict:
    """Run `train` as `settings` say in a temporary directory and time its epochs (see the module docstring)."""
    config = settings.config()
    parts = EpochParts()
    with tempfile.TemporaryDirectory() as run_dir:
        result = train(config, run_dir, verbose=0, callbacks=[parts])
    forward = analytic_forward_flops(result.model, config.batch_size).total / config.batch_size
    return {
        "preset": config.preset,
        "dataset": config.dataset,
        "data_dir": config.data_dir,
        "model": config.model,
        "mixture_level": config.mixture_level,
        "batch_size": config.batch_size,
        "jit_compile": resolve_jit_compile(config),
        "steps_per_execution": config.steps_per_execution,
        "train_samples": result.train_samples,
        "steps_per_epoch": result.steps_per_epoch,
        "validation_frames": result.validation_samples,
        "image_frames": config.image_frames,
        "train_flops_per_sample": 3 * forward,
        "peak_gflops": peak / 1e9,
        "epochs": epoch_rows(parts, config.batch_size, 3 * forward, peak),
    }
