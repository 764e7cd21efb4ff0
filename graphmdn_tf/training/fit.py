"""The training driver: `train(config, run_dir)` runs `model.fit` with the paper's schedule and leaves a
self-describing run directory (its layout: `graphmdn_tf.runs`).

Resuming: `train` saves a backup checkpoint (`graphmdn_tf.training.checkpoints`) every
`save_every_steps` steps and at the end of every epoch. A run that is killed and started again with the
same command restores it and continues: the interrupted epoch runs only its remaining steps over the
same (seeded) data order, so the run ends after exactly epochs * steps_per_epoch steps with the same
weights as a run that was never interrupted (bitwise with `deterministic=True`), and the learning rate,
a schedule of `optimizer.iterations` (restored with the optimizer) evaluated inside the training step,
continues its curve.

Every epoch is `len(train) // batch_size` steps of the seeded stream, whatever `steps_per_execution`:
each epoch is one `model.fit` call over a dataset of exactly that epoch's batches, so Keras' last
execution of the epoch ends with the data, shorter than the others.

XLA: `jit_compile='auto'` compiles the training step and the validation pass with XLA on every device
(on CPUs too, where it is faster: docs/benchmarks.md), except with `deterministic`, which keeps XLA off.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from graphmdn_tf.atomic import atomic_file, write_text_atomically
from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.data.pipeline import PoseSamples, config_splits, make_dataset
from graphmdn_tf.models.build import build_model
from graphmdn_tf.runs import RunDirectory, not_writable
from graphmdn_tf.training.checkpoints import BackupCheckpoint, TrainingDiverged, trim_history
from graphmdn_tf.training.one_cycle import config_schedule, schedule_rates
from graphmdn_tf.training.optimizer import GlobalBatchAdam
from graphmdn_tf.training.summaries import (
    EpochTimes,
    StepSummaries,
    ValidationSummaries,
    plot_training_curves,
    read_history,
    write_hparams,
)

__all__ = ["TrainResult", "TrainingDiverged", "train"]


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
    train_samples: int  # training samples (frame x camera) per epoch's shuffle
    validation_samples: int  # the per-epoch validation subset

    @property
    def model_path(self) -> Path:
        return RunDirectory(self.run_dir).model_path


def make_strategy(name: str) -> tf.distribute.Strategy:
    """'default' (the current strategy) or 'mirrored' (data parallel over all visible GPUs, or the
    logical CPUs when there is no GPU)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [device.name for device in gpus] or [
            device.name for device in tf.config.list_logical_devices("CPU")
        ]
        return tf.distribute.MirroredStrategy(devices=devices)
    raise ValueError(
        f"Expected strategy to be 'default' or 'mirrored'. Received: strategy={name!r}"
    )


def _validation_subset(samples, config: TrainingConfig):
    if config.validation_frames and len(samples) > config.validation_frames:
        rows = np.random.default_rng(config.seed).choice(
            len(samples), config.validation_frames, replace=False
        )
        samples = samples.subset(np.sort(rows))
    return samples


def learning_rate_curve(config: TrainingConfig, total_steps: int) -> np.ndarray:
    """The learning rate of every step of a run, [total_steps] (for plots)."""
    return schedule_rates(config_schedule(config, total_steps), np.arange(total_steps))


def resolve_jit_compile(config: TrainingConfig) -> bool:
    """Whether the training step and the validation pass use XLA: `config.jit_compile`, where 'auto' is
    on except with `deterministic` (XLA's kernels are not covered by op determinism)."""
    if config.jit_compile == "auto":
        return not config.deterministic
    return bool(config.jit_compile)


def _set_runtime(config: TrainingConfig) -> str:
    """Seeds, determinism and the dtype policy; returns the previous policy name to restore."""
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy("mixed_float16" if config.mixed_precision else "float32")
    return previous


def train(
    config: TrainingConfig,
    run_dir: str | Path,
    *,
    overwrite: bool = False,
    verbose: int = 1,
    callbacks=(),
) -> TrainResult:
    """Train the model `config` describes and leave a finished run in `run_dir` (see `graphmdn_tf.runs`).

    Restarting an unfinished run with the same config resumes it; a finished run is refused unless
    `overwrite`.

    Args:
        config: a `TrainingConfig` (e.g. `TrainingConfig.from_preset("standard", dataset="cmu", ...)`).
        run_dir: the run directory.
        overwrite: start over in a directory that holds a run.
        verbose: 0 silent, 1 Keras progress bars, 2 one line per epoch.
        callbacks: extra Keras callbacks, run after the built-in ones (before the backup checkpoint).

    Returns:
        `TrainResult`.

    Raises:
        FileExistsError (a finished run, or a folder holding files that are not a run: nothing is
        changed), ValueError (different settings, too little data), RuntimeError (another process is
        training in `run_dir`), `TrainingDiverged` (a FloatingPointError: the loss became NaN or
        infinite; the backup keeps the last finite state), `graphmdn_tf.runs.RunNotWritableError` (an
        OSError: the disk is full or read-only; the same command resumes once it is not).
    """
    run = RunDirectory(run_dir)
    run.check(config, overwrite)  # refuse early; nothing is changed before the data are read
    try:
        return _train_locked(config, run, overwrite, verbose, callbacks)
    except OSError as error:
        translated = not_writable(
            error, run.path
        )  # a full or read-only disk: one line, and the run resumes
        if translated is None:
            raise
        raise translated from error


def _train_locked(
    config: TrainingConfig, run: RunDirectory, overwrite: bool, verbose: int, callbacks
) -> TrainResult:
    with run.lock():
        started = time.time()
        data = TrainingData.load(config, progress=verbose > 0)
        previous_policy = _set_runtime(config)
        try:
            strategy = make_strategy(config.strategy)
            model, checkpoint, start_step = _compiled_model(
                config, run, overwrite, strategy, data.total_steps
            )
            if verbose > 0:
                state = f"resuming at step {start_step}" if start_step else "starting"
                print(
                    f"{config.model} ({config.preset}) on {config.dataset}: {data.describe(config)}, "
                    f"{strategy.num_replicas_in_sync} replica(s); {state}. Run directory: {run.path}",
                    flush=True,
                )
            if start_step == 0:
                write_hparams(run.logs_dir, config.to_dict(), trial_id=run.path.name)
            all_callbacks = _callbacks(config, run, data, checkpoint, callbacks)
            _fit_remaining_epochs(model, config, data, checkpoint, all_callbacks, verbose, run)
            return _finish(config, run, model, checkpoint, data, start_step, started)
        finally:
            keras.config.set_dtype_policy(previous_policy)


@dataclass(frozen=True)
class TrainingData:
    """The training samples, the validation subset and the step bookkeeping of one run."""

    train: PoseSamples
    validation: PoseSamples
    steps_per_epoch: int
    total_steps: int

    @classmethod
    def load(cls, config: TrainingConfig, progress: bool = True) -> TrainingData:
        train_samples, validation = config_splits(config, progress=progress)
        validation = _validation_subset(validation, config)
        steps_per_epoch = len(train_samples) // config.batch_size
        if steps_per_epoch < 1:
            raise ValueError(
                f"Expected at least batch_size={config.batch_size} training samples (frame x camera). Received: {len(train_samples)} "
                f"(subjects {config.train_subjects}, stride {config.stride}); lower batch_size or stride."
            )
        return cls(train_samples, validation, steps_per_epoch, config.epochs * steps_per_epoch)

    def describe(self, config: TrainingConfig) -> str:
        return (
            f"{len(self.train)} training and {len(self.validation)} validation samples (frame x camera), "
            f"{self.steps_per_epoch} steps/epoch x {config.epochs} epochs"
        )

    def stream(self, config: TrainingConfig, position: int, count: int) -> tf.data.Dataset:
        """`count` batches of the seeded, repeating training stream from batch `position` on (the same
        order on every resume)."""
        return make_dataset(
            self.train,
            batch_size=config.batch_size,
            shuffle=True,
            seed=config.seed,
            drop_remainder=True,
            repeat=True,
            start=position,
            count=count,
        )


def synchronize_batch_norm(model: keras.Model) -> None:
    """Make every BatchNormalization layer of `model` normalise with the statistics of the global batch
    (summed over the replicas) instead of each replica's share, so that data-parallel training takes the
    steps one device takes on the same batches. Only for a strategy with several replicas: Keras'
    synchronized moments use E[x^2] - E[x]^2 even on one device."""
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True


def _compiled_model(
    config: TrainingConfig, run: RunDirectory, overwrite: bool, strategy, total_steps: int
):
    """The compiled model, restored from the run's checkpoint if it has one: (model, checkpoint, start step).

    The optimizer's learning rate is the config's schedule over `total_steps` steps."""
    with strategy.scope():
        model = build_model(config)
        if strategy.num_replicas_in_sync > 1:
            synchronize_batch_norm(model)
        run.prepare(config, overwrite)  # the data and model are good: now the folder may change
        optimizer = GlobalBatchAdam(
            learning_rate=config_schedule(config, total_steps), global_clipnorm=config.clipnorm
        )
        model.compile(
            optimizer=optimizer,
            jit_compile=resolve_jit_compile(config),
            steps_per_execution=config.steps_per_execution,
        )
        checkpoint = BackupCheckpoint(run.backup_dir, config.save_every_steps)
        start_step = checkpoint.restore(model)
    return model, checkpoint, start_step


def _callbacks(
    config: TrainingConfig, run: RunDirectory, data: TrainingData, checkpoint, extra
) -> list:
    """Summaries and logs, the user's callbacks, and last the checkpoint (see its docstring); the schedule
    is the optimizer's."""
    epochs_done = checkpoint.position // data.steps_per_epoch
    trim_history(
        run.history_path, epochs_done
    )  # rows a killed run wrote after its checkpoint are redone
    return [
        StepSummaries(run.logs_dir / "train", config.log_every_steps),
        ValidationSummaries(
            run.logs_dir / "validation",
            data.validation.inputs_2d,
            data.validation.targets_3d,
            labels=data.validation.action_classes,
            image_frames=config.image_frames,
        ),
        keras.callbacks.TensorBoard(
            log_dir=str(run.logs_dir), update_freq="epoch", write_graph=False, profile_batch=0
        ),
        EpochTimes(),  # after the validation work it times, before the history row it writes
        keras.callbacks.CSVLogger(str(run.history_path), append=True),
        *extra,
        checkpoint,
    ]


def _fit_remaining_epochs(
    model, config: TrainingConfig, data: TrainingData, checkpoint, callbacks, verbose, run
):
    """One `model.fit` per epoch from the checkpoint's position to the last step (a half-done epoch runs
    its remaining steps), each over a dataset of exactly that epoch's batches, so that Keras' last
    execution of the epoch is shorter when `steps_per_execution` does not divide it.

    No `validation_data`: `ValidationSummaries` runs the one validation pass and logs Keras' val_* too.
    The callbacks come as one `CallbackList` whose progress bar counts the run's epochs."""
    while checkpoint.position < data.total_steps:
        epoch, offset = divmod(checkpoint.position, data.steps_per_epoch)
        steps = data.steps_per_epoch - offset
        callback_list = keras.callbacks.CallbackList(
            callbacks,
            add_history=True,
            add_progbar=verbose != 0,
            model=model,
            verbose=verbose,
            epochs=config.epochs,
            steps=steps,
        )
        model.fit(
            data.stream(config, checkpoint.position, steps),
            epochs=epoch + 1,
            initial_epoch=epoch,
            callbacks=callback_list,
            verbose=verbose,
            shuffle=False,
        )  # the tf.data stream shuffles itself
        if checkpoint.position < (epoch + 1) * data.steps_per_epoch:
            raise RuntimeError(
                f"Training stopped at step {checkpoint.position} before step {(epoch + 1) * data.steps_per_epoch} "
                f"(a callback set stop_training); {run.path} stays unfinished and the same command resumes it."
            )


def _epoch_times(run: RunDirectory) -> list:
    """[{epoch, train_seconds, validation_seconds}] from history.csv (every epoch, across restarts)."""
    if not run.history_path.is_file():
        return []
    history = read_history(run.history_path)
    keys = ("train_seconds", "validation_seconds")
    if not all(key in history for key in keys):
        return []
    return [
        {"epoch": int(epoch), **{key: float(history[key][row]) for key in keys}}
        for row, epoch in enumerate(history["epoch"])
    ]


def _finish(
    config, run: RunDirectory, model, checkpoint, data: TrainingData, start_step, started
) -> TrainResult:
    seconds = time.time() - started
    summary = {
        "steps_per_epoch": data.steps_per_epoch,
        "total_steps": data.total_steps,
        "resumed_from_step": start_step,
        "final_step": checkpoint.position,
        "optimizer_iterations": int(model.optimizer.iterations.numpy()),
        "seconds_this_session": round(seconds, 1),
        "epochs": _epoch_times(run),
    }
    write_text_atomically(run.training_path, json.dumps(summary, indent=2) + "\n")
    if run.history_path.is_file():
        plot_training_curves(
            run.history_path, run.curves_path, learning_rate_curve(config, data.total_steps)
        )
    with atomic_file(run.model_path) as temporary:
        model.save(temporary)  # the run is finished once this file is in place
    shutil.rmtree(checkpoint.directory, ignore_errors=True)
    return TrainResult(
        run.path,
        config,
        model,
        data.steps_per_epoch,
        data.total_steps,
        start_step,
        seconds,
        len(data.train),
        len(data.validation),
    )
