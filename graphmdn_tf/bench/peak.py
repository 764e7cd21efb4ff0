"""The machine's own float32 matmul peak, the yardstick of `graphmdn-tf bench`'s percentages."""

from __future__ import annotations

import statistics
import time

import tensorflow as tf


def measure_matmul_peak(size: int = 2048, iterations: int = 10, repeats: int = 5) -> float:
    """Median float32 FLOP/s of a tf.function loop of `iterations` [size x size] matmuls (2 size^3 FLOPs each).

    The loop runs once to trace and warm up, then `repeats` timed times.
    """
    a = tf.random.stateless_normal((size, size), seed=(1, 2))
    b = tf.random.stateless_normal((size, size), seed=(3, 4)) / size

    @tf.function(jit_compile=False)
    def loop(x):
        for _ in range(iterations):
            x = tf.matmul(x, b)
        return tf.reduce_sum(x)

    loop(a).numpy()  # trace and warm up
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        loop(a).numpy()
        timings.append(time.perf_counter() - start)
    return 2.0 * size**3 * iterations / statistics.median(timings)
