"""graphmdn_tf/losses.py against independent NumPy: SemGCN's L2 loss and the mixture NLL (Eq. 5 and Eq. 9)."""

import numpy as np
import pytest

from graphmdn_tf.losses import (
    batch_pi_entropy,
    kernel_nll,
    l2_loss,
    mixture_nll,
    winner_takes_all_nll,
)


def _gaussian_log_density(y, mu, sigma):
    """log N(y | mu, sigma^2) per coordinate, summed over the last axis (independent coordinates)."""
    return np.sum(
        -0.5 * ((y - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2.0 * np.pi), axis=-1
    )


def _log_softmax(logits, axis):
    return logits - np.logaddexp.reduce(logits, axis=axis, keepdims=True)


def _numpy_nll(y, mu, sigma, pi_logits):
    """Per-example NLL [B]. Pose level: one mixture over whole poses (sigma, pi_logits [B, M]); node level:
    a mixture per node (sigma, pi_logits [B, M, N]), the nodes independent."""
    y, mu, sigma, pi_logits = (np.asarray(a, np.float64) for a in (y, mu, sigma, pi_logits))
    if (
        sigma.ndim == 2
    ):  # pose level: sum the log-densities over nodes and coordinates inside each kernel
        log_kernels = _gaussian_log_density(y[:, None], mu, sigma[:, :, None, None]).sum(
            axis=2
        )  # [B, M]
        return -np.logaddexp.reduce(_log_softmax(pi_logits, axis=1) + log_kernels, axis=1)
    log_kernels = _gaussian_log_density(y[:, None], mu, sigma[..., None])  # [B, M, N]
    per_node = np.logaddexp.reduce(_log_softmax(pi_logits, axis=1) + log_kernels, axis=1)  # [B, N]
    return -per_node.sum(axis=1)


def _mixture(rng, level, batch=5, kernels=3, nodes=16, dims=3):
    per_kernel = (batch, kernels) if level == "pose" else (batch, kernels, nodes)
    params = {
        "mu": rng.uniform(-0.8, 0.8, size=(batch, kernels, nodes, dims)).astype("float32"),
        "sigma": rng.uniform(0.1, 0.6, size=per_kernel).astype("float32"),
        "pi_logits": rng.normal(scale=2.0, size=per_kernel).astype("float32"),
    }
    y = rng.uniform(-0.8, 0.8, size=(batch, nodes, dims)).astype("float32")
    return y, params


def test_l2_loss_is_the_mean_squared_error(rng):
    y_true = rng.normal(size=(6, 16, 3)).astype("float32")
    y_pred = rng.normal(size=(6, 16, 3)).astype("float32")
    expected = np.mean((y_pred.astype(np.float64) - y_true) ** 2)
    assert float(l2_loss(y_true, y_pred)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "weights", [[1.0, 0.0, 2.0, 0.5], [[3.0], [1.0], [1.0], [0.0]], [1.0, 1.0, 1.0, 1.0]]
)
def test_l2_loss_weighs_each_example(rng, weights):
    y_true = rng.normal(size=(4, 16, 3)).astype("float32")
    y_pred = rng.normal(size=(4, 16, 3)).astype("float32")
    w = np.asarray(weights, np.float64).reshape(-1)
    per_example = ((y_pred.astype(np.float64) - y_true) ** 2).mean(axis=(1, 2))
    expected = (w * per_example).sum() / w.sum()
    got = float(l2_loss(y_true, y_pred, np.asarray(weights, "float32")))
    assert got == pytest.approx(expected, rel=1e-6)


def test_l2_loss_with_all_weights_zero_is_zero(rng):
    y_true, y_pred = rng.normal(size=(2, 16, 3)), rng.normal(size=(2, 16, 3))
    assert float(l2_loss(y_true, y_pred, np.zeros(2))) == 0.0


@pytest.mark.parametrize("level", ["pose", "node"])
def test_mixture_nll_is_the_mean_negative_log_likelihood(rng, level):
    y, params = _mixture(rng, level)
    expected = _numpy_nll(y, params["mu"], params["sigma"], params["pi_logits"]).mean()
    assert float(mixture_nll(y, params)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("level", ["pose", "node"])
def test_mixture_nll_weighs_each_example(rng, level):
    y, params = _mixture(rng, level, batch=4)
    per_example = _numpy_nll(y, params["mu"], params["sigma"], params["pi_logits"])
    weights = np.array([0.5, 0.0, 2.0, 1.0])
    expected = (weights * per_example).sum() / weights.sum()
    assert float(mixture_nll(y, params, weights.astype("float32"))) == pytest.approx(
        expected, rel=1e-5
    )
    assert float(mixture_nll(y, params, np.zeros(4, "float32"))) == 0.0


def test_a_single_kernel_is_a_plain_gaussian(rng):
    # One pose-level kernel with pi = 1: the NLL is that of an isotropic Gaussian in 16 x 3 dimensions.
    y, params = _mixture(rng, "pose", batch=3, kernels=1)
    squared = ((y[:, None].astype(np.float64) - params["mu"]) ** 2).sum(axis=(1, 2, 3))
    sigma = params["sigma"][:, 0].astype(np.float64)
    expected = 0.5 * squared / sigma**2 + 48 * np.log(sigma) + 24 * np.log(2 * np.pi)
    assert float(mixture_nll(y, params)) == pytest.approx(expected.mean(), rel=1e-5)


@pytest.mark.parametrize(
    "shape, message",
    [
        (
            (5, 17, 3),
            r"Expected targets of shape \[batch, 16, 3\] to match mu\. Received: y_true.shape=\(5, 17, 3\)",
        ),
        (
            (5, 16, 2),
            r"Expected targets of shape \[batch, 16, 3\] to match mu\. Received: y_true.shape=\(5, 16, 2\)",
        ),
        (
            (5, 48),
            r"Expected targets of shape \[batch, 16, 3\] to match mu\. Received: y_true.shape=\(5, 48\)",
        ),
    ],
)
def test_mixture_nll_refuses_targets_that_do_not_match_mu(rng, shape, message):
    _, params = _mixture(rng, "node")
    with pytest.raises(ValueError, match=message):
        mixture_nll(np.zeros(shape, "float32"), params)


def _numpy_kernel_nll(y, mu, sigma, level):
    """Each kernel's own NLL, mixture weights left out: [B, M] pose level (sigma [B, M] or per joint
    [B, M, N]), [B, N, M] node level."""
    y, mu, sigma = (np.asarray(a, np.float64) for a in (y, mu, sigma))
    scale = sigma[:, :, None, None] if sigma.ndim == 2 else sigma[..., None]
    per_node = -_gaussian_log_density(y[:, None], mu, scale)  # [B, M, N]
    return per_node.sum(axis=2) if level == "pose" else per_node.transpose(0, 2, 1)


@pytest.mark.parametrize("level", ["pose", "node", "pose_joint"])
def test_winner_takes_all_is_the_best_kernels_nll(rng, level):
    y, params = _mixture(rng, "node" if level == "node" else "pose")
    if level == "pose_joint":
        params["sigma"] = rng.uniform(0.1, 0.6, size=(5, 3, 16)).astype("float32")
    base = "node" if level == "node" else "pose"
    expected = _numpy_kernel_nll(y, params["mu"], params["sigma"], base)
    np.testing.assert_allclose(kernel_nll(y, params).numpy(), expected, rtol=1e-5)
    best = expected.min(axis=-1)
    best = best.sum(axis=1) if base == "node" else best
    np.testing.assert_allclose(float(winner_takes_all_nll(y, params)), best.mean(), rtol=1e-5)
    weights = np.array([0.0, 1.0, 2.0, 0.5, 1.0], "float32")
    np.testing.assert_allclose(
        float(winner_takes_all_nll(y, params, weights)),
        np.sum(best * weights) / weights.sum(),
        rtol=1e-5,
    )
    # The best kernel alone explains the truth at least as well as the mixture it belongs to.
    assert float(winner_takes_all_nll(y, params)) <= float(mixture_nll(y, params)) + 1e-4


@pytest.mark.parametrize("level", ["pose", "node"])
def test_batch_pi_entropy_is_the_entropy_of_the_average_weights(rng, level):
    _, params = _mixture(rng, level)
    pi = np.exp(_log_softmax(params["pi_logits"].astype(np.float64), axis=1))
    weights = np.array([1.0, 0.0, 3.0, 1.0, 2.0])
    for w in (None, weights):
        average = np.average(pi, axis=0, weights=w)  # [M] or [M, N]
        expected = np.mean(-np.sum(average * np.log(average), axis=0))
        np.testing.assert_allclose(float(batch_pi_entropy(params, w)), expected, rtol=1e-5)


def test_batch_pi_entropy_is_zero_for_one_kernel_and_log_m_for_a_spread_batch():
    one_hot = np.full((4, 4), -1e4, "float32")
    np.fill_diagonal(one_hot, 0.0)
    # Every pose sure of its own kernel: each pose's pi has no entropy, the batch's average has log 4.
    np.testing.assert_allclose(
        float(batch_pi_entropy({"pi_logits": one_hot})), np.log(4), rtol=1e-6
    )
    same = np.tile(one_hot[:1], (4, 1))
    assert abs(float(batch_pi_entropy({"pi_logits": same}))) < 1e-6
