import keras
import numpy as np
import pytest
import tensorflow as tf

from graphmdn_tf.layers import HashDropout
from graphmdn_tf.layers.hash_dropout import hash_bits
from tests.layer_checks import run_layer_checks

SHAPE = (256, 16, 128)


def _masks(layer, calls, jit=False):
    x = tf.ones(SHAPE)
    step = tf.function(lambda: layer(x, training=True), jit_compile=jit)
    return np.stack([step().numpy() != 0 for _ in range(calls)])


@pytest.mark.parametrize("rate", [0.1, 0.5])
@pytest.mark.parametrize("jit", [False, True])
def test_keep_rate_and_scaling(rate, jit):
    layer = HashDropout(rate, seed=3)
    out = tf.function(lambda x: layer(x, training=True), jit_compile=jit)(tf.ones(SHAPE)).numpy()
    kept = out != 0
    # 524,288 Bernoulli draws: the standard error of the keep rate is below 0.0007.
    assert abs(kept.mean() - (1 - rate)) < 0.004
    np.testing.assert_allclose(out[kept], 1 / (1 - rate), rtol=1e-6)


def test_masks_change_between_calls_and_are_uncorrelated():
    masks = _masks(HashDropout(0.5, seed=1), calls=4).reshape(4, -1).astype(float)
    correlation = np.corrcoef(masks)
    off_diagonal = correlation[~np.eye(4, dtype=bool)]
    assert np.abs(off_diagonal).max() < 0.01  # independent calls: |r| ~ 1/sqrt(524288) = 0.0014


def test_neighbouring_elements_are_uncorrelated():
    bits = hash_bits(tf.constant([1 << 20]), tf.constant([7, 9])).numpy()
    uniform = bits.astype(np.float64) / 2.0**32
    assert abs(uniform.mean() - 0.5) < 0.002 and abs(uniform.var() - 1 / 12) < 0.001
    for lag in (1, 2, 16, 128):
        assert abs(np.corrcoef(uniform[:-lag], uniform[lag:])[0, 1]) < 0.005
    # Every bit is fair.
    for bit in range(32):
        assert abs(((bits >> bit) & 1).mean() - 0.5) < 0.003


def test_keep_rates_per_sample_node_and_feature_are_binomial():
    # The hash masks must not differ from Bernoulli masks along any axis of [batch, nodes, features]:
    # if rows, nodes or channels shared structure, their keep rates would spread wider than a
    # binomial's. For each axis, the keep rate of every slice must scatter as Binomial(n, 0.9) / n does.
    kept = _masks(HashDropout(0.1, seed=3), 1)[0].astype(np.float64)  # [256, 16, 128]
    p = 0.9
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        rates = kept.mean(axis=other)  # one keep rate per slice along `axis`
        n = kept.size // kept.shape[axis]
        expected_var = p * (1 - p) / n
        # The sample variance of k binomial rates has a relative standard error of about sqrt(2 / k).
        assert abs(rates.mean() - p) < 4 * np.sqrt(expected_var / len(rates))
        assert abs(rates.var(ddof=1) / expected_var - 1) < 4 * np.sqrt(2 / (len(rates) - 1)), axis
    # Pairs of nodes (and of features) within a sample: masks uncorrelated across the axis.
    nodes = kept.transpose(1, 0, 2).reshape(16, -1)
    assert (
        np.abs(np.corrcoef(nodes)[~np.eye(16, dtype=bool)]).max() < 0.03
    )  # |r| ~ 1/sqrt(32768) = 0.006


def test_layers_with_different_seeds_differ_and_seeds_reproduce():
    a, b = _masks(HashDropout(0.5, seed=1), 1), _masks(HashDropout(0.5, seed=2), 1)
    assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.01
    np.testing.assert_array_equal(
        _masks(HashDropout(0.5, seed=1), 2), _masks(HashDropout(0.5, seed=1), 2)
    )
    keras.utils.set_random_seed(11)
    first = _masks(HashDropout(0.3), 1)
    keras.utils.set_random_seed(11)
    np.testing.assert_array_equal(first, _masks(HashDropout(0.3), 1))


def test_identity_at_inference_and_gradient_is_the_mask():
    layer = HashDropout(0.4, seed=5)
    x = tf.random.normal((8, 16, 4))
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x.numpy())
    variable = tf.Variable(x)
    with tf.GradientTape() as tape:
        out = layer(variable, training=True)
        total = tf.reduce_sum(out)
    gradient = tape.gradient(total, variable).numpy()
    np.testing.assert_allclose(gradient, (out.numpy() != 0) / 0.6, rtol=1e-6)


def test_standard_layer_checks(tmp_path):
    # Dense's kernel and bias; HashDropout has no weights, only its seed generator's state.
    run_layer_checks(
        lambda: keras.Sequential([keras.layers.Dense(4), HashDropout(0.2, seed=0)]),
        (16, 3),
        tmp_path,
        expected_num_trainable_weights=2,
        expected_num_non_trainable_weights=0,
        expected_num_non_trainable_variables=1,
        expected_trainable_params=3 * 4 + 4,
        expected_non_trainable_params=0,
    )


def test_bad_rate_raises():
    with pytest.raises(ValueError, match=r"Expected rate in \[0, 1\)\. Received: rate=1\.0"):
        HashDropout(1.0)
