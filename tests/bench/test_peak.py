"""The matmul peak: the FLOPs of the timed loop over its median time, read from the clock the code uses."""

import pytest

from graphmdn_tf.bench import peak


class _ScriptedClock:
    """A `time` stand-in whose `perf_counter` returns the given readings in turn."""

    def __init__(self, readings):
        self.readings = list(readings)

    def perf_counter(self):
        return self.readings.pop(0)


@pytest.mark.parametrize(
    ("readings", "median_seconds"),
    [
        ([0.0, 1.0, 10.0, 13.0, 20.0, 22.0], 2.0),
        ([5.0, 5.5], 0.5),
        ([0.0, 4.0, 4.0, 5.0, 5.0, 8.0, 8.0, 8.25], 2.0),
    ],
)
def test_peak_is_the_loops_flops_over_the_median_repeat(monkeypatch, readings, median_seconds):
    clock = _ScriptedClock(readings)
    monkeypatch.setattr(peak, "time", clock)
    size, iterations, repeats = 16, 3, len(readings) // 2
    flops_per_second = peak.measure_matmul_peak(size=size, iterations=iterations, repeats=repeats)
    assert flops_per_second == pytest.approx(2 * size**3 * iterations / median_seconds)
    assert (
        clock.readings == []
    )  # two readings (start, end) per timed repeat, none for the warm-up call
