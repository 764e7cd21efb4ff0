"""What a resumed run needs: the backup checkpoint, the divergence guard, and history.csv trimmed to it.

A checkpoint (`RUN_DIR/backup/step-<position>.weights.h5`) holds the model's weights, the optimizer's
state (Adam's moments, `iterations`, a loss scale), the dropout layers' seed-generator states
(`HashDropout` saves them with its weights) and, in its name, how many batches of the seeded training
stream have been consumed; beside it, `step-<position>.metrics.npz` holds the running means of the
epoch's training metrics, so that a resumed half epoch reports the whole epoch's loss and errors.
With those, a run killed at any point and started again with the same command ends with the same
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

from graphmdn_tf.atomic import atomic_file, write_atomically, write_text_atomically


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
        self._metrics_file = None  # a restored mid-epoch checkpoint's running means, assigned when its epoch begins

    def checkpoints(self) -> list[tuple[int, Path]]:
        """(position, path) of the checkpoints in the folder, oldest first."""
        found = []
        for path in self.directory.glob("step-*.weights.h5"):
            digits = path.name.removeprefix("step-").removesuffix(".weights.h5")
            if digits.isdigit():
                found.append((int(digits), path))
        return sorted(found)

    def restore(self, model: keras.Model) -> int:
        """Load the newest checkpoint into a compiled, built model (if there is one); return its position."""
        found = self.checkpoints()
        if found:
            position, path = found[-1]
            if not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            model.load_weights(path)
            self._metrics_file = self._metrics_path(position)
        else:
            position = 0
        self.position = self._epoch_start = self._last_saved = position
        return position

    def _metrics_path(self, position: int) -> Path:
        return self.directory / f"step-{position:09d}.metrics.npz"

    @staticmethod
    def _read_metrics(model: keras.Model, path: Path):
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as stored:
            names = [str(name) for name in stored["names"]]
            if names != [variable.path for variable in model.metrics_variables]:
                return None  # another set of metrics: the epoch's means restart
            return [stored[f"value_{index}"] for index in range(len(names))]

    def save(self, mid_epoch: bool = False):
        """Write the checkpoint of `position`; `mid_epoch` also the epoch's running metric means (at an epoch
        end they hold the validation results, and the next epoch starts its means afresh)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if mid_epoch:
            variables = self.model.metrics_variables
            arrays = {f"value_{index}": variable.numpy() for index, variable in enumerate(variables)}
            names = np.array([variable.path for variable in variables], dtype=str)
            write_atomically(self._metrics_path(self.position),
                             lambda stream: np.savez(stream, names=names, **arrays), unique=False)
        with atomic_file(self.directory / f"step-{self.position:09d}.weights.h5") as temporary:
            self.model.save_weights(temporary, overwrite=True)  # its presence makes the checkpoint
        for path in self.directory.glob("step-*"):
            if not path.name.startswith(f"step-{self.position:09d}."):
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
        if self._metrics_file is not None:
            values = self._read_metrics(self.model, self._metrics_file) or ()
            for variable, value in zip(self.model.metrics_variables, values):
                variable.assign(value)
            self._metrics_file = None

    def on_train_batch_end(self, batch, logs=None):
        self.position = self._epoch_start + batch + 1  # `batch` is the last batch of this execution
        self._check_finite(logs)
        last_of_epoch = batch + 1 >= self.params.get("steps", np.inf)  # saved at the epoch end instead
        if not last_of_epoch and self.position - self._last_saved >= self.save_every_steps:
            self.save(mid_epoch=True)

    def on_epoch_end(self, epoch, logs=None):
        self._check_finite(logs)
        if self.position != self._last_saved:
            self.save()


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
