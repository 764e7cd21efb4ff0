"""The machine's own float32 matmul peak, the yardstick of `graphmdn-tf bench`'s percentages."""

from __future__ import annotations

import statistics
import time

import tensorflow as tf


class MatmulLoop:
    """A tf.function loop of `iterations` [size x size] float32 matmuls (2 size^3 FLOPs each), traced and
    warmed up when made, so that `seconds()` only times it: alternate its runs with a figure's to compare
    the two under the same load."""

    def __init__(self, size: int = 2048, iterations: int = 10):
        self.flops = 2.0 * size**3 * iterations
        self._a = tf.random.stateless_normal((size, size), seed=(1, 2))
        b = tf.random.stateless_normal((size, size), seed=(3, 4)) / size

        @tf.function(jit_compile=False)
        def loop(x):
            for _ in range(iterations):
                x = tf.matmul(x, b)
            return tf.reduce_sum(x)

        self._loop = loop
        loop(self._a).numpy()  # trace and warm up

    def seconds(self) -> float:
        """Wall seconds of one run of the loop, its result fetched."""
        start = time.perf_counter()
        self._loop(self._a).numpy()
        return time.perf_counter() - start


def measure_matmul_peak(size: int = 2048, iterations: int = 10, repeats: int = 5) -> float:
    """Float32 FLOP/s of a `MatmulLoop(size, iterations)`: its FLOPs over the median of `repeats` timed runs."""
    loop = MatmulLoop(size, iterations)
    return loop.flops / statistics.median(loop.seconds() for _ in range(repeats))
