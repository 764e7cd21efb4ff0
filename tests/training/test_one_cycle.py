import keras
import numpy as np
import pytest

from graphmdn_tf.training.one_cycle import (
    ConstantSchedule,
    ExponentialSchedule,
    OneCycle,
    OneCycleSchedule,
    StepLearningRate,
    exponential_learning_rate,
    one_cycle_learning_rate,
    schedule_callback,
    schedule_rates,
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
    with pytest.raises(ValueError, match=match):
        OneCycleSchedule(**kwargs)


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


def _tiny_model(learning_rate=1.0):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
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
    # The saved optimizer's rate is a schedule (no learning-rate variable): the model that loads it is
    # compiled with one too, so that the optimizer variables match.
    resumed, record_b = _tiny_model(OneCycleSchedule(total, 0.1)), _RecordRate()
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
    assert schedule_rates(exponential.schedule, 25) == pytest.approx(1e-3 * 0.25)
    constant = schedule_callback(tiny_config(schedule="constant", initial_learning_rate=3e-4), 100)
    assert isinstance(constant, StepLearningRate)
    assert schedule_rates(constant.schedule, [0, 99]) == pytest.approx([3e-4, 3e-4])


@pytest.mark.parametrize("shape", ["triangular", "cosine"])
@pytest.mark.parametrize("total", [1, 2, 7, 12_187])
def test_the_schedule_in_the_step_equals_the_numpy_formula_at_every_step(shape, total):
    schedule = OneCycleSchedule(
        total, 6e-3, shape, pct_start=0.3, div_factor=10, final_div_factor=1e3
    )
    steps = np.arange(-2, total + 2)  # clamped outside [0, total - 1]
    expected = one_cycle_learning_rate(
        steps, total, 6e-3, shape, pct_start=0.3, div_factor=10, final_div_factor=1e3
    )
    rates = schedule_rates(schedule, steps)
    np.testing.assert_allclose(rates, expected, rtol=1e-7)  # float32 rounding of the same value
    np.testing.assert_array_equal(rates, expected.astype(np.float32))


def test_exponential_and_constant_schedules_equal_their_formulas():
    steps = np.arange(0, 1000, 7)
    np.testing.assert_array_equal(
        schedule_rates(ExponentialSchedule(1e-3, 0.5, 100), steps),
        exponential_learning_rate(steps, 1e-3, 0.5, 100).astype(np.float32),
    )
    np.testing.assert_array_equal(
        schedule_rates(ConstantSchedule(3e-4), steps), np.full(steps.shape, np.float32(3e-4))
    )
    with pytest.raises(ValueError, match="Expected rate > 0"):
        ConstantSchedule(0.0)
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        StepLearningRate(lambda step: 1e-3)


@pytest.mark.parametrize(
    "schedule",
    [
        OneCycleSchedule(500, 1e-2, "cosine", pct_start=0.25, div_factor=5, final_div_factor=50),
        ExponentialSchedule(2e-3, 0.9, 30),
        ConstantSchedule(5e-4),
    ],
    ids=["one_cycle", "exponential", "constant"],
)
def test_a_schedule_is_saved_with_the_optimizer(tmp_path, schedule):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
    model.fit(np.ones((16, 3)), np.zeros((16, 1)), batch_size=4, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    restored = loaded.optimizer._learning_rate
    assert type(restored) is type(schedule) and restored.get_config() == schedule.get_config()
    assert int(loaded.optimizer.iterations.numpy()) == 4
    steps = np.arange(500)
    np.testing.assert_array_equal(schedule_rates(restored, steps), schedule_rates(schedule, steps))
    assert float(loaded.optimizer.learning_rate.numpy()) == schedule_rates(schedule, 4)


def test_the_callback_replaces_the_rate_of_an_already_traced_step():
    # A model trained once with a constant rate has a traced step that reads that rate; the callback's
    # schedule must be the one the next fit's steps use (a rate of 0 leaves the weights unchanged).
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
    x, y = np.ones((8, 3)), np.full((8, 1), 5.0)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    before = [weight.copy() for weight in model.get_weights()]
    model.fit(
        x,
        y,
        batch_size=4,
        epochs=1,
        verbose=0,
        callbacks=[StepLearningRate(ConstantSchedule(1e-30))],
    )
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_allclose(new, old, rtol=0, atol=1e-20)
    assert int(model.optimizer.iterations.numpy()) == 4
