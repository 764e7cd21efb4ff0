"""Per-step learning-rate schedules for `model.fit`: one-cycle (super-convergence) and exponential decay.

One cycle (Smith & Topin 2018, "Super-Convergence"; GraphMDN Section 4.4): over `total_steps` steps the
learning rate rises from `start = peak / div_factor` to `peak` at `pct_start` of training (mid-training
by default) and falls to `end = start / final_div_factor`, linearly ('triangular', the authors' run) or
along half cosines ('cosine'). With x = step / (total_steps - 1):

    rising  (x <= pct_start):  lr = start + (peak - start) * h(x / pct_start)
    falling (x >  pct_start):  lr = peak + (end - peak) * h((x - pct_start) / (1 - pct_start))
    h(t) = t (triangular)  or  (1 - cos(pi t)) / 2 (cosine)

Defaults: peak 6e-3, div_factor 25 and final_div_factor 1e4 (PyTorch `OneCycleLR`'s), pct_start 0.5:
6e-3 at mid-training, 2.4e-4 at the first step, 2.4e-8 at the last.

Exponential (SemGCN's decay, GraphMDN's 200-kernel model, Section 5.2):
    lr = initial * decay_rate ** floor(step / decay_steps).

The NumPy functions are the reference formulas; `OneCycleSchedule`, `ExponentialSchedule` and
`ConstantSchedule` are the same curves as serializable `keras.optimizers.schedules.LearningRateSchedule`s,
which the optimizer evaluates at `optimizer.iterations` inside the compiled training step (float64, then
cast to float32): the rate is exact at every step whatever `steps_per_execution` or XLA do, costs no host
round trip, is saved with the optimizer, and continues its curve when a checkpoint restores
`iterations`. The callbacks (`OneCycle`, `StepLearningRate`) install a schedule on the optimizer of the
model `fit` trains.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from graphmdn_tf.checks import check_positive_int


def one_cycle_learning_rate(
    step,
    total_steps: int,
    peak: float = 6e-3,
    shape: str = "triangular",
    *,
    pct_start: float = 0.5,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
):
    """The one-cycle learning rate at `step` (0-based; an int or an array of steps) of `total_steps`.

    Steps outside [0, total_steps - 1] are clamped. Returns a float, or an array like `step`.
    """
    check_positive_int(total_steps, "total_steps")
    if shape not in ("triangular", "cosine"):
        raise ValueError(
            f"Expected shape to be 'triangular' or 'cosine'. Received: shape={shape!r}"
        )
    if not 0.0 < pct_start < 1.0:
        raise ValueError(f"Expected 0 < pct_start < 1. Received: pct_start={pct_start!r}")
    if not peak > 0 or div_factor < 1 or final_div_factor < 1:
        raise ValueError(
            "Expected peak > 0, div_factor >= 1 and final_div_factor >= 1. "
            f"Received: peak={peak!r}, div_factor={div_factor!r}, final_div_factor={final_div_factor!r}"
        )
    start = peak / div_factor
    end = start / final_div_factor
    steps = np.asarray(step, dtype=np.float64)
    position = np.clip(steps, 0, total_steps - 1) / max(total_steps - 1, 1)  # x in [0, 1]
    rising = position <= pct_start
    phase = np.where(rising, position / pct_start, (position - pct_start) / (1.0 - pct_start))
    if shape == "cosine":
        phase = (1.0 - np.cos(np.pi * phase)) / 2.0
    rates = np.where(rising, start + (peak - start) * phase, peak + (end - peak) * phase)
    return float(rates) if rates.ndim == 0 else rates


def exponential_learning_rate(
    step, initial: float = 1e-3, decay_rate: float = 0.96, decay_steps: int = 100_000
):
    """Staircase exponential decay: initial * decay_rate ** floor(step / decay_steps)."""
    if not initial > 0 or not decay_rate > 0 or decay_steps < 1:
        raise ValueError(
            "Expected initial > 0, decay_rate > 0 and decay_steps >= 1. "
            f"Received: initial={initial!r}, decay_rate={decay_rate!r}, decay_steps={decay_steps!r}"
        )
    rates = initial * decay_rate ** np.floor(
        np.maximum(np.asarray(step, np.float64), 0) / decay_steps
    )
    return float(rates) if rates.ndim == 0 else rates


_SERIALIZABLE = keras.saving.register_keras_serializable(package="graphmdn_tf")


@_SERIALIZABLE
class OneCycleSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`one_cycle_learning_rate` as a `LearningRateSchedule` of the optimizer's step (same arguments).

    Example:
        >>> optimizer = keras.optimizers.Adam(OneCycleSchedule(total_steps=1000, peak=6e-3))
    """

    def __init__(
        self,
        total_steps,
        peak=6e-3,
        shape="triangular",
        pct_start=0.5,
        div_factor=25.0,
        final_div_factor=1e4,
    ):
        one_cycle_learning_rate(
            0,
            total_steps,
            peak,
            shape,
            pct_start=pct_start,
            div_factor=div_factor,
            final_div_factor=final_div_factor,
        )  # validates the arguments
        self.total_steps = int(total_steps)
        self.peak = float(peak)
        self.shape = shape
        self.pct_start = float(pct_start)
        self.div_factor = float(div_factor)
        self.final_div_factor = float(final_div_factor)

    def __call__(self, step):
        start = self.peak / self.div_factor
        end = start / self.final_div_factor
        steps = tf.cast(step, tf.float64)
        position = tf.clip_by_value(steps, 0.0, self.total_steps - 1.0) / max(
            self.total_steps - 1, 1
        )  # x in [0, 1]
        rising = position <= self.pct_start
        phase = tf.where(
            rising, position / self.pct_start, (position - self.pct_start) / (1.0 - self.pct_start)
        )
        if self.shape == "cosine":
            phase = (1.0 - tf.cos(np.pi * phase)) / 2.0
        rates = tf.where(
            rising, start + (self.peak - start) * phase, self.peak + (end - self.peak) * phase
        )
        return tf.cast(rates, tf.float32)

    def get_config(self):
        return {
            "total_steps": self.total_steps,
            "peak": self.peak,
            "shape": self.shape,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
        }


@_SERIALIZABLE
class ExponentialSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`exponential_learning_rate` as a `LearningRateSchedule` of the optimizer's step (same arguments)."""

    def __init__(self, initial=1e-3, decay_rate=0.96, decay_steps=100_000):
        exponential_learning_rate(0, initial, decay_rate, decay_steps)  # validates the arguments
        self.initial = float(initial)
        self.decay_rate = float(decay_rate)
        self.decay_steps = int(decay_steps)

    def __call__(self, step):
        steps = tf.maximum(tf.cast(step, tf.float64), 0.0)
        rates = self.initial * tf.pow(
            tf.constant(self.decay_rate, tf.float64), tf.floor(steps / self.decay_steps)
        )
        return tf.cast(rates, tf.float32)

    def get_config(self):
        return {
            "initial": self.initial,
            "decay_rate": self.decay_rate,
            "decay_steps": self.decay_steps,
        }


@_SERIALIZABLE
class ConstantSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A constant learning rate as a `LearningRateSchedule` (the same rate at every step)."""

    def __init__(self, rate=1e-3):
        if not float(rate) > 0:
            raise ValueError(f"Expected rate > 0. Received: rate={rate!r}")
        self.rate = float(rate)

    def __call__(self, step):
        return tf.fill(tf.shape(step), tf.constant(self.rate, tf.float32))

    def get_config(self):
        return {"rate": self.rate}


def schedule_rates(schedule, steps) -> np.ndarray:
    """The rates `schedule` gives at `steps` (an int or an array), as float64 NumPy values: what the
    optimizer uses, for plots and tests."""
    return np.asarray(schedule(tf.constant(np.asarray(steps, np.int64))), np.float64)


class StepLearningRate(keras.callbacks.Callback):
    """Installs `schedule` on the optimizer of the model `fit` trains, so that every step's learning rate
    is `schedule(optimizer.iterations)`, computed inside the compiled step.

    If the optimizer had another learning rate, its training function is rebuilt so that the step that
    runs reads the schedule.

    Args:
        schedule: a `keras.optimizers.schedules.LearningRateSchedule` (e.g. `OneCycleSchedule`).
    """

    def __init__(self, schedule: keras.optimizers.schedules.LearningRateSchedule):
        super().__init__()
        if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            raise TypeError(
                "Expected schedule to be a keras.optimizers.schedules.LearningRateSchedule. "
                f"Received: schedule={schedule!r}"
            )
        self.schedule = schedule

    def current_step(self) -> int:
        return int(self.model.optimizer.iterations.numpy())

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        if optimizer._learning_rate is self.schedule:
            return
        optimizer.learning_rate = self.schedule
        if self.model.train_function is not None:
            self.model.make_train_function(force=True)  # a traced step holds the previous rate


class OneCycle(StepLearningRate):
    """The one-cycle schedule as a `model.fit` callback (see the module docstring for the curve): it
    installs `OneCycleSchedule` on the optimizer.

    Args:
        total_steps: steps of the whole run (epochs * steps_per_epoch).
        peak, shape: as in `one_cycle_learning_rate`.
        **options: its keyword arguments `pct_start`, `div_factor` and `final_div_factor`.

    Example:
        >>> model.fit(dataset, epochs=2, callbacks=[OneCycle(total_steps=2 * len(dataset))])
    """

    def __init__(self, total_steps, peak=6e-3, shape="triangular", **options):
        schedule = OneCycleSchedule(total_steps, peak, shape, **options)
        self.total_steps = schedule.total_steps
        self.peak = schedule.peak
        self.shape = schedule.shape
        super().__init__(schedule)


def config_schedule(config, total_steps: int) -> keras.optimizers.schedules.LearningRateSchedule:
    """The learning-rate schedule a `TrainingConfig` asks for, over `total_steps` steps."""
    if config.schedule == "one_cycle":
        return OneCycleSchedule(
            total_steps,
            config.peak_learning_rate,
            config.one_cycle_shape,
            div_factor=config.div_factor,
            final_div_factor=config.final_div_factor,
        )
    if config.schedule == "exponential":
        return ExponentialSchedule(
            config.initial_learning_rate, config.decay_rate, config.decay_steps
        )
    return ConstantSchedule(config.initial_learning_rate)


def schedule_callback(config, total_steps: int) -> StepLearningRate:
    """The learning-rate callback a `TrainingConfig` asks for, over `total_steps` steps."""
    schedule = config_schedule(config, total_steps)
    if isinstance(schedule, OneCycleSchedule):
        return OneCycle(**schedule.get_config())
    return StepLearningRate(schedule)
