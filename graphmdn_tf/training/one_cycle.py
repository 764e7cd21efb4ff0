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

The callbacks read the position from `optimizer.iterations` before every step, so a run restored from
a checkpoint continues the same curve.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np


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
    if (
        isinstance(total_steps, bool)
        or not isinstance(total_steps, (int, np.integer))
        or total_steps < 1
    ):
        raise ValueError(
            f"Expected total_steps to be a positive integer. Received: total_steps={total_steps!r}"
        )
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


class StepLearningRate(keras.callbacks.Callback):
    """Sets `optimizer.learning_rate = schedule(optimizer.iterations)` before every training step.

    Args:
        schedule: a function of the 0-based global step returning the learning rate (a float).
    """

    def __init__(self, schedule: Callable[[int], float]):
        super().__init__()
        self.schedule = schedule

    def current_step(self) -> int:
        return int(self.model.optimizer.iterations.numpy())

    def _apply(self):
        self.model.optimizer.learning_rate = float(self.schedule(self.current_step()))

    def on_train_begin(self, logs=None):
        self._apply()

    def on_train_batch_begin(self, batch, logs=None):
        self._apply()


class OneCycle(StepLearningRate):
    """The one-cycle schedule as a `model.fit` callback (see the module docstring for the curve).

    Args:
        total_steps: steps of the whole run (epochs * steps_per_epoch).
        peak, shape, pct_start, div_factor, final_div_factor: as in `one_cycle_learning_rate`.

    Example:
        >>> model.fit(dataset, epochs=2, callbacks=[OneCycle(total_steps=2 * len(dataset))])
    """

    def __init__(
        self,
        total_steps,
        peak=6e-3,
        shape="triangular",
        *,
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
        super().__init__(
            lambda step: one_cycle_learning_rate(
                step,
                self.total_steps,
                self.peak,
                self.shape,
                pct_start=pct_start,
                div_factor=div_factor,
                final_div_factor=final_div_factor,
            )
        )


def schedule_callback(config, total_steps: int) -> StepLearningRate:
    """The learning-rate callback a `TrainingConfig` asks for, over `total_steps` steps."""
    if config.schedule == "one_cycle":
        return OneCycle(
            total_steps,
            config.peak_learning_rate,
            config.one_cycle_shape,
            div_factor=config.div_factor,
            final_div_factor=config.final_div_factor,
        )
    if config.schedule == "exponential":
        return StepLearningRate(
            lambda step: exponential_learning_rate(
                step, config.initial_learning_rate, config.decay_rate, config.decay_steps
            )
        )
    return StepLearningRate(lambda step: config.initial_learning_rate)
