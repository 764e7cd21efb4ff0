"""Inverted dropout whose masks come from a counter-based integer hash (cheap on CPUs, under XLA too)."""

from __future__ import annotations

import keras
import tensorflow as tf

_GOLDEN = 0x9E3779B9  # odd constants of the lowbias32 / splitmix family
_MIX_1 = 0x7FEB352D
_MIX_2 = 0x846CA68B
_SEED_MIX = 0x85EBCA6B
_SEED_STATE = "seed_generator_state"


def _u32(value: int) -> tf.Tensor:
    return tf.constant(value, tf.uint32)


def _finalize(x: tf.Tensor) -> tf.Tensor:
    """lowbias32: x ^= x >> 16; x *= M1; x ^= x >> 15; x *= M2; x ^= x >> 16 (uint32, wrapping)."""
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, _u32(16))) * _u32(_MIX_1)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, _u32(15))) * _u32(_MIX_2)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, _u32(16)))


def hash_bits(shape, seed) -> tf.Tensor:
    """uint32 pseudo-random bits of `shape`: hash(hash(index * golden + key) ^ key), key from the [2] seed."""
    words = tf.bitcast(tf.cast(seed, tf.int32), tf.uint32)
    key = _finalize(words[0] * _u32(_SEED_MIX) + _finalize(words[1]))
    index = tf.bitcast(tf.range(tf.reduce_prod(shape), dtype=tf.int32), tf.uint32)
    bits = _finalize(tf.bitwise.bitwise_xor(_finalize(index * _u32(_GOLDEN) + key), key))
    return tf.reshape(bits, shape)


@keras.saving.register_keras_serializable(package="graphmdn_tf")
class HashDropout(keras.layers.Layer):
    """Inverted dropout, out = x * mask / (1 - rate), with masks from a counter-based hash.

    Each element keeps with probability 1 - rate: its mask bit is `hash(index, seed) >= rate * 2^32`,
    `hash` the lowbias32 integer finaliser applied twice to the element's flat index and a per-call
    key, and the seed advances at every call (a `keras.random.SeedGenerator`, so
    `keras.utils.set_random_seed` makes runs reproducible; its state is saved with the weights, so a
    run resumed from a checkpoint continues the same masks). The mask is a handful of elementwise
    integer operations, cheaper on a CPU than TF's Philox generator with or without XLA. Statistically it is a drop-in for `keras.layers.Dropout` (see the tests:
    keep rate, independence between calls, elements and layers). Identity at inference.

    Args:
        rate: fraction of inputs to drop, in [0, 1).
        seed: initial seed of the layer's seed generator (None: drawn from Keras' global seed).

    Call arguments:
        inputs: a float tensor of any shape; training: apply dropout only when True.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"Expected rate in [0, 1). Received: rate={rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._threshold = min(int(round(self.rate * 2.0**32)), 2**32 - 1)

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        bits = hash_bits(tf.shape(inputs), self.seed_generator.next())
        keep = tf.cast(bits >= _u32(self._threshold), inputs.dtype)
        return inputs * keep * tf.cast(1.0 / (1.0 - self.rate), inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    # The seed generator's state is saved with the weights (Keras leaves it out), so that a run resumed
    # from a checkpoint draws the same masks as the run that was not interrupted.
    def save_own_variables(self, store):
        store[_SEED_STATE] = self.seed_generator.state.numpy()

    def load_own_variables(self, store):
        if _SEED_STATE in store.keys():  # a store without the state keeps the fresh one
            self.seed_generator.state.assign(store[_SEED_STATE])

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
