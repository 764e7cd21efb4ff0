import keras
import numpy as np
import pytest

from graphmdn_tf.training.one_cycle import (
    OneCycle,
    StepLearningRate,
    exponential_learning_rate,
    one_cycle_learning_rate,
    schedule_callback,
)
from tests.training.conftest import tiny_config


def test_triangular_curve_matches_linear_interpolation():
    total, peak = 101, 6e-3
    steps = np.arange(total)
    expected = np.interp(steps, [0, 50, 100], [peak / 25, peak, peak / 25 / 1e4])
    np.testing.assert_allclose(
        one_cycle_learning_rate(steps, total, peak), expected, rtol=1e-9, atol=1e-15
    )
    assert one_cycle_learning_rate(50, total, peak) == pytest.approx(peak)
    assert np.argmax(one_cycle_learning_rate(steps, total, peak)) == 50


def test_cosine_curve_and_clamping():
    total, peak = 201, 1.0
    start, end = peak / 10, peak / 10 / 100
    rates = one_cycle_learning_rate(
        np.arange(total), total, peak, "cosine", div_factor=10, final_div_factor=100
    )
    t_up = np.arange(101) / 100
    np.testing.assert_allclose(rates[:101], start + (peak - start) * (1 - np.cos(np.pi * t_up)) / 2)
    np.testing.assert_allclose(rates[100:], peak + (end - peak) * (1 - np.cos(np.pi * t_up)) / 2)
    assert one_cycle_learning_rate(-5, total, peak, "cosine", div_factor=10) == pytest.approx(start)
    assert one_cycle_learning_rate(
        10_000, total, peak, "cosine", div_factor=10, final_div_factor=100
    ) == pytest.approx(end)
    assert one_cycle_learning_rate(0, 1, peak) == pytest.approx(peak / 25)


def test_pct_start_moves_the_peak():
    rates = one_cycle_learning_rate(np.arange(11), 11, 1.0, pct_start=0.3)
    assert np.argmax(rates) == 3


def test_exponential_staircase():
    steps = np.array([0, 99, 100, 250])
    np.testing.assert_allclose(
        exponential_learning_rate(steps, 1e-3, 0.5, 100), [1e-3, 1e-3, 5e-4, 2.5e-4]
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"total_steps": 0}, "total_steps to be a positive integer"),
        ({"total_steps": 10.0}, "total_steps to be a positive integer"),
        ({"total_steps": 10, "shape": "square"}, "shape to be 'triangular' or 'cosine'"),
        ({"total_steps": 10, "pct_start": 1.0}, "0 < pct_start < 1"),
        ({"total_steps": 10, "peak": -1.0}, "peak > 0"),
        ({"total_steps": 10, "final_div_factor": 0.1}, "final_div_factor >= 1"),
    ],
)
def test_one_cycle_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        one_cycle_learning_rate(0, **kwargs)
    with pytest.raises(ValueError, match=match):
        OneCycle(**kwargs)


def test_exponential_errors():
    for kwargs in ({"initial": 0.0}, {"decay_rate": -1.0}, {"decay_steps": 0}):
        with pytest.raises(
            ValueError, match="Expected initial > 0, decay_rate > 0 and decay_steps >= 1"
        ):
            exponential_learning_rate(0, **kwargs)


class _RecordRate(keras.callbacks.Callback):
    """Records (step, learning rate) at every batch, after the schedule callback has set it."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        self.seen.append(
            (int(optimizer.iterations.numpy()), float(optimizer.learning_rate.numpy()))
        )


def _tiny_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1.0), loss="mse")
    return model


def test_callback_follows_the_curve_and_resumes_from_optimizer_iterations(tmp_path):
    x, y = np.random.default_rng(0).normal(size=(40, 3)), np.zeros((40, 1))
    total = 4 * 5  # 4 epochs of 5 batches of 8
    uninterrupted, record_a = _tiny_model(), _RecordRate()
    uninterrupted.fit(
        x, y, batch_size=8, epochs=4, verbose=0, callbacks=[OneCycle(total, 0.1), record_a]
    )
    expected = one_cycle_learning_rate(np.arange(total), total, 0.1)
    np.testing.assert_allclose([rate for _, rate in record_a.seen], expected, rtol=1e-6)

    # Interrupted after 2 epochs; weights and optimizer state saved and loaded into a fresh model.
    first = _tiny_model()
    first.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[OneCycle(total, 0.1)])
    first.save_weights(tmp_path / "backup.weights.h5")
    resumed, record_b = _tiny_model(), _RecordRate()
    resumed.optimizer.build(resumed.trainable_variables)
    resumed.load_weights(tmp_path / "backup.weights.h5")
    assert int(resumed.optimizer.iterations.numpy()) == 10
    resumed.fit(
        x,
        y,
        batch_size=8,
        epochs=4,
        initial_epoch=2,
        verbose=0,
        callbacks=[OneCycle(total, 0.1), record_b],
    )
    assert [step for step, _ in record_b.seen] == list(range(10, 20))
    np.testing.assert_allclose([rate for _, rate in record_b.seen], expected[10:], rtol=1e-6)


def test_schedule_callback_follows_the_config():
    one_cycle = schedule_callback(
        tiny_config(one_cycle_shape="cosine", peak_learning_rate=1e-2), 100
    )
    assert (
        isinstance(one_cycle, OneCycle) and one_cycle.shape == "cosine" and one_cycle.peak == 1e-2
    )
    exponential = schedule_callback(
        tiny_config(schedule="exponential", decay_steps=10, decay_rate=0.5), 100
    )
    assert exponential.schedule(25) == pytest.approx(1e-3 * 0.25)
    constant = schedule_callback(tiny_config(schedule="constant", initial_learning_rate=3e-4), 100)
    assert isinstance(constant, StepLearningRate) and constant.schedule(99) == 3e-4
