"""The training driver: `train(config, run_dir)` runs `model.fit` with the paper's schedule and leaves a
self-describing run directory.

RUN_DIR after a finished run:
    config.json           the `TrainingConfig` (written first; a restart checks it is unchanged)
    model.keras           the trained model (written last: its presence marks the run finished)
    history.csv           per-epoch loss and MPJPE, training and validation (appended across restarts)
    training.json         steps per epoch, total steps, the step a restart resumed from, wall time
    training_curves.png   loss, MPJPE per epoch and the learning rate per step
    logs/                 TensorBoard: train/, validation/ and the HParams record
    backup/               while unfinished only: the latest weights and optimizer state
    .lock                 the lock of the process training in the folder (`run_lock`); one run at a time

Checkpoint policy: `BackupCheckpoint` saves model and optimizer state every `save_every_steps` steps
and at the end of every epoch, atomically (write, then rename), naming the file after the number of
training batches consumed. A run that is killed and started again with the same command restores
that state and continues from there: the interrupted epoch runs only its remaining steps over the
same (seeded) data order, so the run ends after exactly epochs * steps_per_epoch steps, and the
learning rate, a function of `optimizer.iterations` (restored with the optimizer), continues its curve.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from graphmdn_tf.data.pipeline import load_samples, make_dataset
from graphmdn_tf.models.build import build_model
from graphmdn_tf.training.config import TrainingConfig
from graphmdn_tf.training.one_cycle import schedule_callback
from graphmdn_tf.training.summaries import StepSummaries, ValidationSummaries, plot_training_curves, write_hparams

# Files and folders `train` writes; an overwrite removes exactly these.
LOCK_FILE = ".lock"  # held by the process training in the folder (see `run_lock`)
RUN_FILES = ("config.json", "model.keras", "history.csv", "training.json", "training_curves.png", "logs", "backup",
             "results.md", "results.csv", "results.json", "results_per_action.png")


@dataclass(frozen=True)
class TrainResult:
    """What `train` returns: the run directory, its config and model, and the step bookkeeping."""

    run_dir: Path
    config: TrainingConfig
    model: keras.Model
    steps_per_epoch: int
    total_steps: int
    resumed_from_step: int
    seconds: float

    @property
    def model_path(self) -> Path:
        return self.run_dir / "model.keras"


def make_strategy(name: str) -> tf.distribute.Strategy:
    """'default' (the current strategy) or 'mirrored' (data parallel over all visible GPUs, or the
    logical CPUs when there is no GPU)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [device.name for device in gpus] or [device.name for device in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    raise ValueError(f"Expected strategy to be 'default' or 'mirrored'. Received: strategy={name!r}")


class BackupCheckpoint(keras.callbacks.Callback):
    """Saves weights and optimizer state every `save_every_steps` training batches and at each epoch end.

    The checkpoint records how many batches of the training stream have been consumed (`position`) in
    its file name, `step-<position>.weights.h5`, so a resumed run continues the data stream at the right
    batch even where the optimizer skipped updates (mixed-precision loss scaling does, and does not count
    them in `optimizer.iterations`). Writes are atomic (a temporary file renamed into place, then the
    older checkpoint removed), so a kill during a save leaves the previous one intact; a non-finite loss
    is never saved.

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
        else:
            position = 0
        self.position = self._epoch_start = self._last_saved = position
        return position

    def save(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = self.directory / "partial.weights.h5"
        self.model.save_weights(partial, overwrite=True)
        os.replace(partial, self.directory / f"step-{self.position:09d}.weights.h5")
        for position, path in self.checkpoints():
            if position != self.position:
                path.unlink()
        self._last_saved = self.position

    def _finite(self, logs) -> bool:
        return not logs or "loss" not in logs or bool(np.isfinite(logs["loss"]))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self.position

    def on_train_batch_end(self, batch, logs=None):
        self.position = self._epoch_start + batch + 1  # `batch` is the last batch of this execution
        if self._finite(logs) and self.position - self._last_saved >= self.save_every_steps:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        if self._finite(logs) and self.position != self._last_saved:
            self.save()


def _remove_run_files(run_dir: Path) -> None:
    for name in RUN_FILES:
        target = run_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def check_run_dir(config: TrainingConfig, run_dir: str | Path, overwrite: bool = False) -> bool:
    """Whether RUN_DIR may hold this run; changes nothing. Returns True when its run files must be removed first.

    - a new or empty folder: fine;
    - a folder with files but no config.json of ours: refused, whatever `overwrite` says (it is not a run);
    - a finished run (model.keras): refused unless `overwrite`;
    - an unfinished run: resumed with the same settings (from its checkpoint, or from step 0 if it
      stopped before its first one), refused with other settings unless `overwrite`.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise FileExistsError(f"{run_dir} is a file, not a run directory. Choose another --run-dir.")
    entries = sorted(path.name for path in run_dir.iterdir() if path.name != LOCK_FILE) if run_dir.is_dir() else []
    config_path = run_dir / "config.json"
    if not entries:
        return False
    if not config_path.is_file():
        listed = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise FileExistsError(
            f"{run_dir} holds files that are not a graphmdn-tf run (no config.json: {listed}). Nothing was "
            "changed; choose a new or empty run directory."
        )
    existing = TrainingConfig.from_json(config_path)  # a damaged one is a ValueError naming it
    if overwrite:
        return True
    if (run_dir / "model.keras").exists():
        raise FileExistsError(
            f"{run_dir} holds a finished run (model.keras). Pass overwrite=True (--overwrite) to train it "
            "again from scratch, or choose another run directory."
        )
    differences = existing.differences(config)
    if differences:
        listed = ", ".join(f"{name}: {old!r} -> {new!r}" for name, (old, new) in differences.items())
        raise ValueError(
            f"{run_dir} holds an unfinished run with other settings ({listed}). Use the same settings to "
            "resume it, overwrite=True (--overwrite) to start over, or another run directory."
        )
    return False


def prepare_run_dir(config: TrainingConfig, run_dir: str | Path, overwrite: bool = False) -> Path:
    """`check_run_dir`, then (with `overwrite`) remove the files `train` writes (`RUN_FILES`, nothing else),
    create RUN_DIR and write config.json. `train` calls it once the data and the model are known good."""
    run_dir = Path(run_dir)
    if check_run_dir(config, run_dir, overwrite):
        _remove_run_files(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config.to_json(run_dir / "config.json")
    return run_dir


@contextlib.contextmanager
def run_lock(run_dir: str | Path):
    """Hold RUN_DIR's exclusive lock (RUN_DIR/.lock) for the block; the OS releases it if the process dies.

    Raises:
        RuntimeError: "run directory D is in use by process N" when another `train` holds it.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = open(run_dir / LOCK_FILE, "a+")  # noqa: SIM115 (held open for the lock's lifetime)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise RuntimeError(f"run directory {run_dir} is in use by process {holder}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()  # closing the file releases the lock


def whole_executions(steps_per_epoch: int, steps_per_execution: int) -> int:
    """Steps per epoch rounded down to a multiple of `steps_per_execution`, with a warning if that drops any.

    Keras runs whole executions: with 6093 steps per epoch and `steps_per_execution=100` it would run
    6100 steps an epoch, more than the one-cycle schedule and the resume bookkeeping plan for. Rounding
    down keeps every epoch exactly `steps_per_epoch` steps (the stream reshuffles every epoch, so the
    few batches left out differ from epoch to epoch).
    """
    if steps_per_execution > steps_per_epoch:
        raise ValueError(
            f"Expected steps_per_execution <= the {steps_per_epoch} training steps per epoch. "
            f"Received: steps_per_execution={steps_per_execution}; lower it (or batch_size)."
        )
    whole = steps_per_epoch - steps_per_epoch % steps_per_execution
    if whole != steps_per_epoch:
        warnings.warn(
            f"steps per epoch rounded down from {steps_per_epoch} to {whole}, a multiple of "
            f"steps_per_execution={steps_per_execution} (Keras runs whole executions): "
            f"{steps_per_epoch - whole} batches of each epoch's shuffle are not used.",
            stacklevel=2,
        )
    return whole


def _validation_subset(samples, config: TrainingConfig):
    if config.validation_frames and len(samples) > config.validation_frames:
        rows = np.random.default_rng(config.seed).choice(len(samples), config.validation_frames, replace=False)
        samples = samples.subset(np.sort(rows))
    return samples


def learning_rate_curve(config: TrainingConfig, total_steps: int) -> np.ndarray:
    """The learning rate of every step of a run, [total_steps] (for plots)."""
    rates = schedule_callback(config, total_steps).schedule(np.arange(total_steps))
    return np.broadcast_to(np.asarray(rates, np.float64), (total_steps,)).copy()


def _set_runtime(config: TrainingConfig) -> str:
    """Seeds, determinism and the dtype policy; returns the previous policy name to restore."""
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy("mixed_float16" if config.mixed_precision else "float32")
    return previous


def train(config: TrainingConfig, run_dir: str | Path, *, overwrite: bool = False, verbose: int = 1,
          callbacks=()) -> TrainResult:
    """Train the model `config` describes and leave a finished run in `run_dir` (see the module docstring).

    Restarting an unfinished run with the same config resumes it; a finished run is refused unless
    `overwrite`.

    Args:
        config: a `TrainingConfig` (e.g. `TrainingConfig.from_preset("standard", dataset="cmu", ...)`).
        run_dir: the run directory.
        overwrite: start over in a directory that holds a run.
        verbose: 0 silent, 1 Keras progress bars, 2 one line per epoch.
        callbacks: extra Keras callbacks, run after the built-in ones.

    Returns:
        `TrainResult`.

    Raises:
        FileExistsError (a finished run, or a folder holding files that are not a run: nothing is
        changed), ValueError (different settings, too little data), RuntimeError (another process is
        training in `run_dir`), FloatingPointError (the loss became NaN or infinite; the backup keeps
        the last finite state).
    """
    check_run_dir(config, run_dir, overwrite)  # refuse early; nothing is changed before the data are read
    with run_lock(run_dir):
        return _train_locked(config, Path(run_dir), overwrite, verbose, callbacks)


def _train_locked(config: TrainingConfig, run_dir: Path, overwrite: bool, verbose: int, callbacks) -> TrainResult:
    started = time.time()
    progress = verbose > 0
    data = {"keypoints": config.keypoints, "actions": config.actions, "stride": config.stride, "progress": progress}
    train_samples = load_samples(config.dataset, config.data_dir, subjects=config.train_subjects, **data)
    validation = _validation_subset(
        load_samples(config.dataset, config.data_dir, subjects=config.test_subjects, **data), config
    )
    steps_per_epoch = len(train_samples) // config.batch_size
    if steps_per_epoch < 1:
        raise ValueError(
            f"Expected at least batch_size={config.batch_size} training frames. Received: {len(train_samples)} "
            f"(subjects {config.train_subjects}, stride {config.stride}); lower batch_size or stride."
        )
    steps_per_epoch = whole_executions(steps_per_epoch, config.steps_per_execution)
    total_steps = config.epochs * steps_per_epoch
    previous_policy = _set_runtime(config)
    try:
        strategy = make_strategy(config.strategy)
        with strategy.scope():
            model = build_model(config)
            prepare_run_dir(config, run_dir, overwrite)  # the data and model are good: now the folder may change
            optimizer = keras.optimizers.Adam(learning_rate=config.initial_learning_rate,
                                              global_clipnorm=config.clipnorm)
            model.compile(optimizer=optimizer, jit_compile=config.jit_compile,
                          steps_per_execution=config.steps_per_execution)
            checkpoint = BackupCheckpoint(run_dir / "backup", config.save_every_steps)
            start_step = checkpoint.restore(model)
        if progress:
            state = f"resuming at step {start_step}" if start_step else "starting"
            print(f"{config.model} ({config.preset}) on {config.dataset}: {len(train_samples)} training frames, "
                  f"{len(validation)} validation frames, {steps_per_epoch} steps/epoch x {config.epochs} epochs, "
                  f"{strategy.num_replicas_in_sync} replica(s); {state}. Run directory: {run_dir}", flush=True)
        if start_step == 0:
            write_hparams(run_dir / "logs", config.to_dict(), trial_id=run_dir.name)
        validation_summaries = ValidationSummaries(
            run_dir / "logs" / "validation", validation.inputs_2d, validation.targets_3d,
            labels=validation.action_classes, image_frames=config.image_frames,
        )
        all_callbacks = [
            schedule_callback(config, total_steps),
            StepSummaries(run_dir / "logs" / "train", config.log_every_steps),
            keras.callbacks.TerminateOnNaN(raise_error=True),
            checkpoint,
            keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
            keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs"), update_freq="epoch", write_graph=False,
                                        profile_batch=0),
            validation_summaries,
            *callbacks,
        ]
        validation_data = make_dataset(validation, batch_size=config.batch_size, shuffle=False)
        try:
            while checkpoint.position < total_steps:
                position = checkpoint.position
                epoch, offset = divmod(position, steps_per_epoch)
                stream = make_dataset(train_samples, batch_size=config.batch_size, shuffle=True, seed=config.seed,
                                      drop_remainder=True, repeat=True).skip(position)
                # A resumed, half-done epoch first runs only its remaining steps.
                last_epoch = epoch + 1 if offset else config.epochs
                model.fit(stream, epochs=last_epoch, initial_epoch=epoch, steps_per_epoch=steps_per_epoch - offset,
                          validation_data=validation_data, callbacks=all_callbacks, verbose=verbose,
                          shuffle=False)  # the tf.data stream shuffles itself (seeded)
                if checkpoint.position < last_epoch * steps_per_epoch:
                    raise RuntimeError(
                        f"Training stopped at step {checkpoint.position} before step {last_epoch * steps_per_epoch} "
                        f"(a callback set stop_training); {run_dir} stays unfinished and the same command resumes it."
                    )
        except RuntimeError as error:
            if "NaN or Inf loss" in str(error):
                raise FloatingPointError(
                    f"Training diverged (loss NaN or infinite) near step {checkpoint.position} "
                    f"of {total_steps}; {run_dir / 'backup'} keeps the last finite state. Try a lower "
                    "peak_learning_rate."
                ) from error
            raise
        return _finish(config, run_dir, model, checkpoint, steps_per_epoch, total_steps, start_step, started)
    finally:
        keras.config.set_dtype_policy(previous_policy)


def _finish(config, run_dir, model, checkpoint, steps_per_epoch, total_steps, start_step, started) -> TrainResult:
    seconds = time.time() - started
    summary = {"steps_per_epoch": steps_per_epoch, "total_steps": total_steps, "resumed_from_step": start_step,
               "final_step": checkpoint.position, "optimizer_iterations": int(model.optimizer.iterations.numpy()),
               "seconds_this_session": round(seconds, 1)}
    (run_dir / "training.json").write_text(json.dumps(summary, indent=2) + "\n")
    if (run_dir / "history.csv").is_file():
        plot_training_curves(run_dir / "history.csv", run_dir / "training_curves.png",
                             learning_rate_curve(config, total_steps))
    partial = run_dir / "model.partial.keras"
    model.save(partial)
    os.replace(partial, run_dir / "model.keras")  # the run is finished from here on
    shutil.rmtree(checkpoint.directory, ignore_errors=True)
    return TrainResult(run_dir, config, model, steps_per_epoch, total_steps, start_step, seconds)
