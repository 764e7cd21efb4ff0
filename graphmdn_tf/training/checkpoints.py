"""What a resumed run needs: the backup checkpoint, the divergence guard, and history.csv trimmed to it.

A checkpoint (`RUN_DIR/backup/step-<position>.npz`) holds every variable of the model (weights and the
dropout layers' seed-generator states), of the optimizer (Adam's moments, `iterations`, a loss scale)
and, mid-epoch, the running means of the epoch's training metrics (so that a resumed half epoch
reports the whole epoch's loss and errors), each as `<model|optimizer|metrics>/<index>` in the order
the model creates them; its name says how many batches of the seeded training stream have been
consumed. Checkpoints are NumPy archives written through Python's file I/O, so a full disk is a clean
OSError (`graphmdn_tf.runs.RunNotWritableError` for the user). With those, a run killed at any point and started again with the same command ends with the same
weights and the same history as a run that was never interrupted (bitwise, with `deterministic`).

Checkpoints are written every `save_every_steps` batches and at every epoch end, after every other
callback's epoch-end work (history.csv, TensorBoard, validation summaries): a kill before the
epoch-end checkpoint redoes the end of the epoch, and `trim_history` drops the rows the redone part
writes again, so no epoch is lost or counted twice.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import keras
import numpy as np

from graphmdn_tf.atomic import write_atomically, write_text_atomically


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite; the backup checkpoint keeps the last finite state."""


class BackupCheckpoint(keras.callbacks.Callback):
    """Saves the run's state every `save_every_steps` training batches and at each epoch end.

    The checkpoint records how many batches of the training stream have been consumed (`position`) in
    its file name, so a resumed run continues the data stream at the right batch even where the
    optimizer skipped updates (mixed-precision loss scaling does, and does not count them in
    `optimizer.iterations`). Writes are atomic (a temporary file renamed into place, then the older
    checkpoint removed), so a kill during a save leaves the previous one intact. A non-finite loss is
    never saved: it raises `TrainingDiverged` instead. Place this callback last, so that its epoch-end
    save follows every other callback's epoch-end writes.

    Args:
        directory: the backup folder (RUN_DIR/backup).
        save_every_steps: period in training batches.
    """

    def __init__(self, directory: str | Path, save_every_steps: int):
        super().__init__()
        self.directory = Path(directory)
        self.save_every_steps = int(save_every_steps)
        self.position = 0
        self._epoch_start = 0
        self._last_saved = 0
        self._metric_state = (
            None  # a restored mid-epoch checkpoint's running means, assigned when its epoch begins
        )

    def checkpoints(self) -> list[tuple[int, Path]]:
        """(position, path) of the checkpoints in the folder, oldest first."""
        found = []
        for path in self.directory.glob("step-*.npz"):
            digits = path.name.removeprefix("step-").removesuffix(".npz")
            if digits.isdigit():
                found.append((int(digits), path))
        return sorted(found)

    def restore(self, model: keras.Model) -> int:
        """Load the newest checkpoint into a compiled, built model (if there is one); return its position."""
        found = self.checkpoints()
        position = found[-1][0] if found else 0
        if found:
            if not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            with np.load(found[-1][1], allow_pickle=False) as stored:
                state = {key: stored[key] for key in stored.files}
            _drop_learning_rate_variable(state, model.optimizer)
            for group, variables in _state_groups(model, with_metrics=False):
                _assign(variables, state, group, found[-1][1])
            self._metric_state = state if any(key.startswith("metrics/") for key in state) else None
        self.position = self._epoch_start = self._last_saved = position
        return position

    def save(self, mid_epoch: bool = False):
        """Write the checkpoint of `position`: the model's and the optimizer's variables and, `mid_epoch`, the
        epoch's running metric means (at an epoch end they hold the validation results, and the next epoch
        starts its means afresh). Written by NumPy through Python's file I/O, so that a full or read-only
        disk raises a plain OSError (HDF5 fails on one without raising)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        arrays = {
            f"{group}/{index:05d}": variable.numpy()
            for group, variables in _state_groups(self.model, with_metrics=mid_epoch)
            for index, variable in enumerate(variables)
        }
        name = f"step-{self.position:09d}.npz"
        write_atomically(
            self.directory / name, lambda stream: np.savez(stream, **arrays), unique=False
        )
        for path in self.directory.glob("step-*"):
            if path.name != name:
                path.unlink()
        self._last_saved = self.position

    def _check_finite(self, logs):
        if logs and "loss" in logs and not np.isfinite(logs["loss"]):
            raise TrainingDiverged(
                f"Training diverged (loss {logs['loss']}) near step {self.position}; {self.directory} keeps the "
                f"last finite state (step {self._last_saved}). Try a lower peak_learning_rate."
            )

    def on_epoch_begin(self, epoch, logs=None):
        # Keras has just reset the metrics; a half epoch resumed from a checkpoint continues its means.
        self._epoch_start = self.position
        if self._metric_state is not None:
            _assign(self.model.metrics_variables, self._metric_state, "metrics", None)
            self._metric_state = None

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the last batch of this execution as Keras counts it: an epoch's last, shorter
        # execution (its data ran out) reports a batch past the epoch's end.
        done = min(batch + 1, self.params.get("steps") or np.inf)
        self.position = self._epoch_start + int(done)
        self._check_finite(logs)
        last_of_epoch = done >= self.params.get("steps", np.inf)  # saved at the epoch end instead
        if not last_of_epoch and self.position - self._last_saved >= self.save_every_steps:
            self.save(mid_epoch=True)

    def on_epoch_end(self, epoch, logs=None):
        self._check_finite(logs)
        if self.position != self._last_saved:
            self.save()


def _state_groups(model: keras.Model, with_metrics: bool) -> list:
    groups = [("model", model.variables), ("optimizer", model.optimizer.variables)]
    return groups + [("metrics", model.metrics_variables)] if with_metrics else groups


def _drop_learning_rate_variable(state: dict, optimizer) -> None:
    """Checkpoints written while the learning rate was an optimizer variable (set from the host each step)
    hold it as `optimizer/00001`, after the step counter; an optimizer whose rate is a schedule has no
    such variable, so that entry is dropped (the schedule recomputes the rate from the step)."""
    stored = sorted(key for key in state if key.startswith("optimizer/"))
    has_schedule = isinstance(
        optimizer._learning_rate, keras.optimizers.schedules.LearningRateSchedule
    )
    if has_schedule and len(stored) == len(optimizer.variables) + 1 and state[stored[1]].ndim == 0:
        del state[stored[1]]


def _assign(variables, state: dict, group: str, path: Path | None) -> None:
    """Assign `state[<group>/<index>]` to the group's variables, in the order the model creates them (their
    paths carry the model's name, which Keras numbers per process). A checkpoint of another model is
    refused; metrics of another set (`path` None) are left to start afresh."""
    stored = sorted(key for key in state if key.startswith(f"{group}/"))
    shapes = [tuple(state[key].shape) for key in stored]
    if shapes != [tuple(variable.shape) for variable in variables]:
        if path is None:
            return
        raise ValueError(
            f"{path}: not a checkpoint of this model ({len(stored)} {group} variables, expected "
            f"{len(variables)} of the model's shapes); resume with the same settings, or start over "
            "with --overwrite"
        )
    for key, variable in zip(stored, variables):
        variable.assign(state[key])


def trim_history(history_csv: str | Path, epochs_done: int) -> None:
    """Drop the rows of epochs >= `epochs_done` from history.csv (written before a kill, redone on resume)."""
    path = Path(history_csv)
    if not path.is_file():
        return
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return
    header, body = rows[0], rows[1:]
    kept = [row for row in body if row and row[0].isdigit() and int(row[0]) < epochs_done]
    if len(kept) == len(body):
        return
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *kept])  # the excel dialect, as Keras' CSVLogger writes
    write_text_atomically(path, buffer.getvalue())
