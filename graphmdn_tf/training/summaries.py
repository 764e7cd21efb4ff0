"""TensorBoard monitoring beyond Keras' own `TensorBoard` callback, all under `RUN_DIR/logs`.

- `StepSummaries` (logs/train): the learning rate and the training loss every few steps, keyed by the
  optimizer's step count (so a resumed run continues the same curves).
- `ValidationSummaries` (logs/validation), once per epoch on a fixed validation subset, in the epoch's
  one validation pass (it also gives Keras' `val_loss` and `val_mpjpe_<selection>` to the history and
  Keras' TensorBoard callback, so the model runs over the subset once): Protocol #1 and #2 errors of Highest, Mean and Oracle (SemGCN: its prediction), the validation NLL, mixture
  diagnostics (entropy of pi, mean sigma in mm, how often each kernel has the largest pi and how often
  it is the Oracle's pick), and a Figure-2 image of a few validation poses (`graphmdn_tf.viz`).
- `write_hparams` (logs): the run's config for the HParams dashboard.
- `tensorboard_servers`: the TensorBoard servers running on this machine, read safely while one exits.

`plot_training_curves` draws `RUN_DIR/history.csv` (loss, validation errors, learning rate) as a PNG.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tensorboard import manager as tensorboard_manager
from tensorboard.plugins.hparams import api as hparams_api

from graphmdn_tf import hypotheses
from graphmdn_tf.distributions.arrays import MixtureArrays
from graphmdn_tf.hypotheses import is_mixture
from graphmdn_tf.metrics import MILLIMETRES, mpjpe_tf
from graphmdn_tf.scoring import frame_nll, score_outputs
from graphmdn_tf.viz import figure_to_png, hypotheses_figure, plt


class StepSummaries(keras.callbacks.Callback):
    """Per-step scalars in `log_dir`: 'step/learning_rate' and 'step/loss', step = optimizer.iterations.

    'step/loss' is Keras' running mean of the loss over the epoch so far. Place this callback after the
    learning-rate callback so that it records the rate each step actually used.

    Args:
        log_dir: a TensorBoard run directory (e.g. RUN_DIR/logs/train).
        every_steps: record at the steps that are multiples of this.
    """

    def __init__(self, log_dir: str | Path, every_steps: int = 10):
        super().__init__()
        self.log_dir = str(log_dir)
        self.every_steps = int(every_steps)
        self._writer = None
        self._previous_step = {}

    def on_train_begin(self, logs=None):
        self._writer = self._writer or tf.summary.create_file_writer(self.log_dir)

    def _write(self, tag: str, value: float, step: int):
        # At every multiple of `every_steps` (or the first step past one, with steps_per_execution > 1):
        # the same steps whether or not the run was resumed in between.
        previous = self._previous_step.get(tag)
        due = (
            step % self.every_steps == 0
            if previous is None
            else step // self.every_steps > previous // self.every_steps
        )
        if due:
            with self._writer.as_default():
                tf.summary.scalar(tag, value, step=step)
        self._previous_step[tag] = step

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        self._write(
            "step/learning_rate",
            float(optimizer.learning_rate.numpy()),
            int(optimizer.iterations.numpy()),
        )

    def on_train_batch_end(self, batch, logs=None):
        if logs and "loss" in logs:
            self._write(
                "step/loss", float(logs["loss"]), int(self.model.optimizer.iterations.numpy())
            )

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.flush()


def mixture_diagnostics(outputs, targets_3d) -> dict:
    """Scalars describing a mixture over a batch of frames.

    Returns {'pi_entropy': mean entropy of pi (nats), 'pi_entropy_fraction': the same over log(M),
    'mean_sigma_mm': the pi-weighted sigma, 'mean_sigma_all_kernels_mm', 'highest_share': [M] fraction of frames where kernel j has the largest pi,
    'oracle_share': [M] fraction where kernel j is closest to the ground truth}. Node-level mixtures
    count each (frame, joint) for the entropy and the largest pi.
    """
    mixture = MixtureArrays.from_params(outputs)
    weights = mixture.pi  # [B, M] or [B, M, N]
    joint = mixture.per_joint()  # sigma and pi as [B, M, N] (a pose-level sigma may be per joint)
    num_kernels = weights.shape[1]
    entropy = -np.sum(weights * np.where(weights > 0, mixture.log_pi, 0.0), axis=1)
    highest = np.argmax(weights, axis=1).ravel()
    oracle = np.argmin(hypotheses.kernel_errors(outputs, targets_3d).numpy(), axis=1)
    return {
        "pi_entropy": float(entropy.mean()),
        "pi_entropy_fraction": float(entropy.mean() / np.log(num_kernels))
        if num_kernels > 1
        else 0.0,
        "mean_sigma_mm": float(MILLIMETRES * np.mean(np.sum(joint.pi * joint.sigma, axis=1))),
        "mean_sigma_all_kernels_mm": float(MILLIMETRES * np.mean(joint.sigma)),
        "highest_share": np.bincount(highest, minlength=num_kernels) / highest.size,
        "oracle_share": np.bincount(oracle, minlength=num_kernels) / oracle.size,
    }


def validation_scalars(outputs, targets_3d) -> dict:
    """Tag -> value: 'protocol{1,2}/<hypothesis>' errors in mm, 'nll', and 'mixture/...' diagnostics."""
    scalars = {}
    for name, by_protocol in score_outputs(
        outputs, targets_3d
    ).items():  # the 'paper' convention, as evaluate
        for protocol, errors in by_protocol.items():
            scalars[f"protocol{protocol}/{name}"] = float(errors.mean())
    if is_mixture(outputs):
        scalars["nll"] = float(frame_nll(outputs, targets_3d).mean())
        diagnostics = mixture_diagnostics(outputs, targets_3d)
        for key in (
            "pi_entropy",
            "pi_entropy_fraction",
            "mean_sigma_mm",
            "mean_sigma_all_kernels_mm",
        ):
            scalars[f"mixture/{key}"] = diagnostics[key]
        for key in ("highest_share", "oracle_share"):
            for kernel, share in enumerate(diagnostics[key]):
                scalars[f"mixture/{key}/kernel_{kernel}"] = float(share)
    return scalars


def keras_validation_logs(model, outputs, targets_3d) -> dict:
    """What Keras' validation pass would log, from outputs already computed: 'val_loss' (the model's
    `compute_loss`, regularisation included) and 'val_mpjpe_<selection>' (its training-time errors)."""
    targets = tf.convert_to_tensor(targets_3d, tf.float32)
    y_pred = tf.nest.map_structure(lambda value: tf.convert_to_tensor(value, tf.float32), outputs)
    logs = {"val_loss": float(model.compute_loss(y=targets, y_pred=y_pred, training=False))}
    if getattr(model, "track_errors", False):
        for name, pose in model.select(y_pred, targets).items():
            logs[f"val_mpjpe_{name}"] = float(
                tf.reduce_mean(mpjpe_tf(pose, targets)) * model.error_scale
            )
    return logs


class ValidationSummaries(keras.callbacks.Callback):
    """Per-epoch validation errors, mixture diagnostics and a Figure-2 image (see the module docstring).

    Args:
        log_dir: a TensorBoard run directory (e.g. RUN_DIR/logs/validation).
        inputs_2d, targets_3d: the fixed validation subset, [frames, 16, 2] and [frames, 16, 3].
        labels: a title per frame (e.g. the action) for the image rows, or None.
        image_frames: how many frames to draw (spread evenly over the subset); 0 for no image.
        batch_size: prediction batch size.
    """

    def __init__(
        self,
        log_dir,
        inputs_2d,
        targets_3d,
        *,
        labels=None,
        image_frames: int = 3,
        batch_size: int = 1024,
    ):
        super().__init__()
        self.log_dir = str(log_dir)
        self.inputs_2d = np.asarray(inputs_2d, np.float32)
        self.targets_3d = np.asarray(targets_3d, np.float32)
        self.labels = None if labels is None else np.asarray(labels)
        count = min(int(image_frames), len(self.inputs_2d))
        self.image_indices = (
            np.linspace(0, len(self.inputs_2d) - 1, count).round().astype(int) if count else []
        )
        self.batch_size = int(batch_size)
        self._writer = None
        self._forward = None
        self.last_scalars: dict = {}

    def set_model(self, model):
        """Also makes `model(inputs, training=False)` one tf.function of this callback (XLA-compiled when the
        model was compiled with XLA): it traces less than Keras' predict function, for the same time per
        batch afterwards. It is traced without AutoGraph, as Keras traces the model in its own step
        functions."""
        super().set_model(model)
        self._forward = tf.function(
            lambda inputs: model(inputs, training=False),
            autograph=False,
            jit_compile=bool(getattr(model, "jit_compile", False)),
        )

    def on_train_begin(self, logs=None):
        self._writer = self._writer or tf.summary.create_file_writer(self.log_dir)

    def _predict(self):
        """The model's outputs on the subset. The inputs are padded to whole batches (repeating the last
        frame) and the padding's outputs dropped: every batch then has one shape, so the forward function
        is traced (and, with XLA, compiled) once."""
        count = len(self.inputs_2d)
        batch_size = min(self.batch_size, count)
        padding = -count % batch_size
        inputs = (
            np.concatenate([self.inputs_2d, np.repeat(self.inputs_2d[-1:], padding, axis=0)])
            if padding
            else self.inputs_2d
        )
        batches = [
            self._forward(tf.constant(inputs[start : start + batch_size]))
            for start in range(0, len(inputs), batch_size)
        ]
        return tf.nest.map_structure(
            lambda *parts: np.concatenate([np.asarray(part) for part in parts])[:count], *batches
        )

    def on_epoch_end(self, epoch, logs=None):
        outputs = self._predict()
        if logs is not None:
            logs.update(keras_validation_logs(self.model, outputs, self.targets_3d))
        self.last_scalars = validation_scalars(outputs, self.targets_3d)
        with self._writer.as_default():
            for tag, value in self.last_scalars.items():
                tf.summary.scalar(tag, value, step=epoch)
            if is_mixture(outputs):
                winners = np.argmax(hypotheses.mixture_weights(outputs).numpy(), axis=1).ravel()
                tf.summary.histogram(
                    "mixture/highest_kernel", winners, step=epoch, buckets=outputs["mu"].shape[1]
                )
            if len(self.image_indices):
                tf.summary.image("figure2/hypotheses", self._image(outputs)[None], step=epoch)
        self._writer.flush()

    def _image(self, outputs):
        rows = self.image_indices
        if is_mixture(outputs):
            mu, weights = (
                outputs["mu"][rows],
                hypotheses.mixture_weights({k: v[rows] for k, v in outputs.items()}),
            )
        else:
            mu, weights = np.asarray(outputs)[rows][:, None], np.ones((len(rows), 1))
        figure = hypotheses_figure(
            self.inputs_2d[rows],
            mu,
            np.asarray(weights),
            self.targets_3d[rows],
            row_titles=None if self.labels is None else [str(label) for label in self.labels[rows]],
        )
        return tf.io.decode_png(figure_to_png(figure))


def write_hparams(log_dir: str | Path, config_values: dict, trial_id: str) -> None:
    """Record the run's settings for TensorBoard's HParams dashboard.

    Numbers stay numbers (filterable by range); everything else becomes text, so that a setting has one
    type across runs (`jit_compile` is 'auto' or a bool, lists are comma-joined, None is 'none').
    """
    values = {}
    for key, value in config_values.items():
        if isinstance(value, (list, tuple)):
            value = ",".join(str(item) for item in value)
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        values[key] = value if numeric else "none" if value is None else str(value)
    with tf.summary.create_file_writer(str(log_dir)).as_default() as writer:
        hparams_api.hparams(values, trial_id=trial_id)
        writer.flush()


_RETRY_PAUSE = 0.05


def tensorboard_servers(attempts: int = 20) -> list:
    """The TensorBoard servers running on this machine (`tensorboard.manager.TensorBoardInfo` records).

    `tensorboard.manager.get_all` lists its folder of server files, then opens each; a server that exits
    in between has removed its file, and the open raises FileNotFoundError. That server is gone, so the
    list is read again (up to `attempts` times, `_RETRY_PAUSE` seconds apart) rather than failing the
    caller.
    """
    for _ in range(attempts - 1):
        try:
            return tensorboard_manager.get_all()
        except FileNotFoundError:
            time.sleep(_RETRY_PAUSE)
    return tensorboard_manager.get_all()


class EpochTimes(keras.callbacks.Callback):
    """Adds each epoch's wall time to its logs, so that history.csv records it: `train_seconds` (up to the
    end of the epoch's last training batch) and `validation_seconds` (from there: any Keras validation
    pass and the epoch-end work of the callbacks before this one; place it after `ValidationSummaries`
    and before `CSVLogger`)."""

    def on_epoch_begin(self, epoch, logs=None):
        self._begin, self._validation_begin = time.perf_counter(), None

    def on_train_batch_end(self, batch, logs=None):
        self._validation_begin = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        end = time.perf_counter()
        validation_begin = self._validation_begin or end
        if logs is not None:
            logs["train_seconds"] = round(validation_begin - self._begin, 3)
            logs["validation_seconds"] = round(end - validation_begin, 3)


def read_history(history_csv: str | Path) -> dict:
    """Columns of a `keras.callbacks.CSVLogger` file as float arrays (rows of resumed runs appended)."""
    with open(history_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"Expected at least one epoch in {history_csv}. Received: an empty file")
    return {key: np.array([float(row[key]) for row in rows]) for key in rows[0]}


def plot_training_curves(history_csv: str | Path, path: str | Path, learning_rates=None) -> Path:
    """Training curves as a PNG: loss per epoch, MPJPE per epoch (training and validation), and the
    learning rate per step (`learning_rates` [steps], if given)."""
    history = read_history(history_csv)
    epochs = history["epoch"] + 1
    panels = 3 if learning_rates is not None else 2
    figure, axes = plt.subplots(1, panels, figsize=(4.5 * panels, 3.5))
    for key in ("loss", "val_loss"):
        if key in history:
            axes[0].plot(epochs, history[key], marker="o", label=key)
    axes[0].set_xlabel("epoch")
    axes[0].set_title("loss (NLL for GraphMDN)")
    for key in sorted(k for k in history if "mpjpe" in k):
        axes[1].plot(
            epochs,
            history[key],
            marker="o",
            label=key,
            linestyle="--" if key.startswith("val_") else "-",
        )
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("mm")
    axes[1].set_title("MPJPE")
    if learning_rates is not None:
        axes[2].plot(np.arange(len(learning_rates)), learning_rates)
        axes[2].set_xlabel("step")
        axes[2].set_title("learning rate")
    for axis in axes[:2]:
        axis.legend(fontsize=7)
        axis.grid(alpha=0.3)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
