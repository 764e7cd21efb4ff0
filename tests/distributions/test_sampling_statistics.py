"""Poses drawn by `hypotheses.sample_poses` (TFP) follow the mixture: per-kernel frequencies, means and
standard deviations against pi, mu and sigma computed in NumPy, at both levels (tests/sampling_checks.py)."""

import numpy as np
import pytest

from graphmdn_tf import hypotheses
from graphmdn_tf.calibration import scale_sigma
from tests.sampling_checks import check_independent_nodes, check_samples

KERNELS, NODES, SAMPLES = 3, 16, 6000
CENTRES = np.array([-0.6, 0.0, 0.6])  # kernel j's mean: CENTRES[j] plus a joint offset, 0.6 apart


def _params(level, sigma_per_joint=False, batch=2):
    rng = np.random.default_rng(21)
    offsets = rng.uniform(-0.1, 0.1, size=(batch, 1, NODES, 3))
    mu = CENTRES[None, :, None, None] + offsets  # [B, M, N, 3]
    if level == "pose":
        pi_logits = np.array([[0.4, -0.3, 0.1], [-0.5, 0.2, 0.6]])[:batch]
        sigma = rng.uniform(
            0.02, 0.06, size=(batch, KERNELS, NODES) if sigma_per_joint else (batch, KERNELS)
        )
    else:
        pi_logits = rng.normal(scale=0.5, size=(batch, KERNELS, NODES))
        sigma = rng.uniform(0.02, 0.06, size=(batch, KERNELS, NODES))
    return {
        "mu": mu.astype(np.float32),
        "sigma": sigma.astype(np.float32),
        "pi_logits": pi_logits.astype(np.float32),
    }


def _pi(pi_logits):
    weights = np.exp(pi_logits - pi_logits.max(axis=1, keepdims=True))
    return weights / weights.sum(axis=1, keepdims=True)


@pytest.mark.parametrize(
    ("level", "sigma_per_joint"),
    [("pose", False), ("pose", True), ("node", False)],
    ids=["pose", "pose-sigma-per-joint", "node"],
)
def test_samples_follow_pi_mu_and_sigma(level, sigma_per_joint):
    params = _params(level, sigma_per_joint)
    samples = hypotheses.sample_poses(params, SAMPLES, seed=(3, 4)).numpy()  # [S, B, N, 3]
    pi = _pi(params["pi_logits"].astype(np.float64))
    for row in range(2):
        check_samples(samples[:, row], params["mu"][row], params["sigma"][row], pi[row], level)
        if level == "node":
            check_independent_nodes(samples[:, row], params["mu"][row], pi[row], [(0, 1), (4, 13)])


@pytest.mark.parametrize("level", ["pose", "node"])
def test_calibrated_samples_use_the_scaled_sigma(level):
    """Sampling the calibrated parameters (sigma times per-joint scales) draws with sigma_jn * s_n."""
    params = _params(level)
    scales = np.linspace(0.5, 1.5, NODES)
    calibrated = {**params, "sigma": scale_sigma(params["sigma"], scales).numpy()}
    samples = hypotheses.sample_poses(calibrated, SAMPLES, seed=(5, 6)).numpy()
    sigma = params["sigma"].astype(np.float64)
    expected = (sigma[:, :, None] if sigma.ndim == 2 else sigma) * scales  # [B, M, N], NumPy
    pi = _pi(params["pi_logits"].astype(np.float64))
    for row in range(2):
        check_samples(samples[:, row], params["mu"][row], expected[row], pi[row], level)


def test_the_checks_catch_a_wrong_sigma_and_a_wrong_pi():
    params = _params("pose")
    samples = hypotheses.sample_poses(params, SAMPLES, seed=(3, 4)).numpy()[:, 0]
    pi = _pi(params["pi_logits"].astype(np.float64))[0]
    with pytest.raises(AssertionError):
        check_samples(samples, params["mu"][0], params["sigma"][0] * 1.1, pi, "pose")
    with pytest.raises(AssertionError):
        check_samples(samples, params["mu"][0], params["sigma"][0], pi[[1, 0, 2]], "pose")
    node = _params("node")
    drawn = hypotheses.sample_poses(node, SAMPLES, seed=(3, 4)).numpy()[:, 0]
    together = drawn.copy()
    together[:, 1] = drawn[:, 0] - node["mu"][0, :, 0].mean(0) + node["mu"][0, :, 1].mean(0)
    with pytest.raises(AssertionError):  # node 1 made to copy node 0's kernel: not independent
        check_independent_nodes(
            together, node["mu"][0], _pi(node["pi_logits"][0:1].astype(np.float64))[0], [(0, 1)]
        )
