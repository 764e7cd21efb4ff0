"""graphmdn_tf.uncertainty against independent NumPy computations on hand-made mixtures."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from graphmdn_tf import uncertainty as unc
from graphmdn_tf.distributions.mixture import mixture_distribution


def _random_params(level: str, batch=3, kernels=2, nodes=4, dims=3, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    weight_shape = (batch, kernels) if level == "pose" else (batch, kernels, nodes)
    return {
        "mu": rng.normal(0, 0.2, (batch, kernels, nodes, dims)),
        "sigma": rng.uniform(0.03, 0.1, weight_shape),
        "pi_logits": rng.normal(0, 1, weight_shape),
    }


def _node_view(params: dict) -> tuple:
    """pi, sigma as [B, M, N] for either level (independent of the module)."""
    logits, sigma = np.asarray(params["pi_logits"], float), np.asarray(params["sigma"], float)
    pi = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if pi.ndim == 2:
        nodes = params["mu"].shape[2]
        pi, sigma = np.repeat(pi[..., None], nodes, -1), np.repeat(sigma[..., None], nodes, -1)
    return pi, sigma


def _sample_targets(params: dict, rng, sigma_scale: float = 1.0) -> np.ndarray:
    """Targets drawn from the mixture (pose level: one kernel per pose; node level: per node)."""
    mu = np.asarray(params["mu"])
    batch, kernels, nodes, dims = mu.shape
    pi, sigma = _node_view(params)
    targets = np.empty((batch, nodes, dims))
    for b in range(batch):
        pose_kernel = rng.choice(kernels, p=pi[b, :, 0])
        for n in range(nodes):
            k = (
                pose_kernel
                if np.ndim(params["pi_logits"]) == 2
                else rng.choice(kernels, p=pi[b, :, n])
            )
            targets[b, n] = mu[b, k, n] + sigma_scale * sigma[b, k, n] * rng.normal(size=dims)
    return targets


# ------------------------------------------------------------------------------------------- joint_nll


@pytest.mark.parametrize("level", ["pose", "node"])
def test_joint_nll_matches_a_loop_over_kernels(level):
    params = _random_params(level)
    targets = np.random.default_rng(1).normal(0, 0.2, (3, 4, 3))
    pi, sigma = _node_view(params)
    expected = np.zeros((3, 4))
    for b in range(3):
        for n in range(4):
            density = 0.0
            for k in range(2):
                s = sigma[b, k, n]
                r2 = np.sum((targets[b, n] - params["mu"][b, k, n]) ** 2)
                density += pi[b, k, n] * (2 * math.pi * s**2) ** -1.5 * math.exp(-r2 / (2 * s**2))
            expected[b, n] = -math.log(density)
    np.testing.assert_allclose(unc.joint_nll(params, targets), expected, rtol=1e-10)


def test_joint_nll_of_one_pose_kernel_sums_to_the_pose_nll():
    params = _random_params("pose", kernels=1)
    targets = np.random.default_rng(2).normal(0, 0.2, (3, 4, 3))
    pose_nll = -mixture_distribution(params).log_prob(targets.astype(np.float32)).numpy()
    np.testing.assert_allclose(unc.joint_nll(params, targets).sum(axis=1), pose_nll, rtol=1e-4)


def test_tensors_are_accepted():
    params = _random_params("pose")
    tensors = {name: tf.constant(value, tf.float32) for name, value in params.items()}
    targets = np.random.default_rng(3).normal(0, 0.2, (3, 4, 3))
    result = unc.joint_nll(tensors, tf.constant(targets, tf.float32))
    assert isinstance(result, np.ndarray) and result.dtype == np.float64
    np.testing.assert_allclose(result, unc.joint_nll(params, targets), rtol=1e-5)


def test_joint_nll_is_finite_far_from_every_kernel():
    params = _random_params("node")
    assert np.all(np.isfinite(unc.joint_nll(params, np.full((3, 4, 3), 50.0))))


# --------------------------------------------------------------------------------------------- pck/auc


def test_pck_and_auc_on_hand_placed_errors():
    targets = np.zeros((2, 4, 3))
    poses = targets.copy()
    poses[0, :, 0] = [0.0, 0.1, 0.15, 0.2]  # errors 0, 100, 150, 200 mm
    poses[1, :, 2] = [0.01, 0.01, 0.3, 0.3]
    np.testing.assert_allclose(unc.pck(poses, targets), [0.75, 0.5])
    np.testing.assert_allclose(unc.pck(poses, targets, threshold=0.005), [0.25, 0.0])
    # thresholds 0, 5, ..., 150 mm: error 0 passes all 31, 100 mm passes 11, 150 mm passes 1, 10 mm passes 29.
    np.testing.assert_allclose(unc.auc(poses, targets), [(31 + 11 + 1 + 0) / 124, (29 + 29) / 124])
    assert unc.AUC_THRESHOLDS.shape == (31,) and unc.PCK_THRESHOLD == 0.150


def test_pck_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"poses.shape=\(2, 4, 3\)"):
        unc.pck(np.zeros((2, 4, 3)), np.zeros((2, 5, 3)))


# ------------------------------------------------------------------------------------------ mass within


def _one_kernel(mu_offset: float, sigma: float) -> dict:
    return {
        "mu": np.array([[[[mu_offset, 0.0, 0.0]]]]),
        "sigma": np.array([[[sigma]]]),
        "pi_logits": np.zeros((1, 1, 1)),
    }


def _radial_integral(offset: float, sigma: float, radius: float, steps: int = 20001) -> float:
    """Integral of the density over the ball |x| <= radius, in spherical shells (trapezoid rule)."""
    r = np.linspace(0.0, radius, steps)
    a = offset / sigma
    rho = r / sigma
    # Shell average of exp(-|x - mu|^2 / 2 s^2) over the sphere |x| = r: sinh(rho a) / (rho a) factor.
    shell = np.where(
        rho * a > 1e-12, np.sinh(rho * a) / np.where(rho * a > 1e-12, rho * a, 1.0), 1.0
    )
    density = (
        (2 * np.pi * sigma**2) ** -1.5 * np.exp(-(rho**2 + a**2) / 2) * shell * 4 * np.pi * r**2
    )
    return float(np.sum((density[1:] + density[:-1]) / 2 * np.diff(r)))


@pytest.mark.parametrize("offset", [0.3, 1e-5, 0.0])
def test_mass_within_matches_radial_integration(offset):
    params, center = _one_kernel(offset, 0.1), np.zeros((1, 1, 3))
    for radius in (0.05, 0.2, 0.4):
        mass = unc.joint_mass_within(params, center, np.array([[radius]]))[0, 0]
        assert mass == pytest.approx(_radial_integral(offset, 0.1, radius), abs=1e-7)


def test_mass_within_matches_monte_carlo():
    params = _random_params("node", batch=1, kernels=3, nodes=2, seed=5)
    rng = np.random.default_rng(6)
    centers = np.array([[[0.05, 0.0, 0.0], [0.0, -0.1, 0.1]]])
    radii = np.array([[0.15, 0.25]])
    pi, sigma = _node_view(params)
    draws = 100_000
    mass = unc.joint_mass_within(params, centers, radii)
    for n in range(2):
        kernel = rng.choice(3, size=draws, p=pi[0, :, n])
        x = params["mu"][0, kernel, n] + sigma[0, kernel, n, None] * rng.normal(size=(draws, 3))
        frequency = np.mean(np.linalg.norm(x - centers[0, n], axis=1) <= radii[0, n])
        tolerance = 4 * math.sqrt(frequency * (1 - frequency) / draws)
        assert abs(mass[0, n] - frequency) < tolerance


def test_radius_for_mass_inverts_mass_within():
    params = _random_params("pose", seed=7)
    centers = np.random.default_rng(8).normal(0, 0.1, (3, 4, 3))
    for level in (0.1, 0.5, 0.9):
        radius = unc.radius_for_mass(params, centers, level)
        np.testing.assert_allclose(unc.joint_mass_within(params, centers, radius), level, atol=1e-9)


def test_calibration_rejects_two_dimensional_joints():
    params = _random_params("pose", dims=2)
    with pytest.raises(ValueError, match=r"mu.shape=\(3, 2, 4, 2\)"):
        unc.joint_mass_within(params, np.zeros((3, 4, 2)), np.ones((3, 4)))


def test_wrong_shapes_name_the_shape():
    params = _random_params("node")
    with pytest.raises(ValueError, match=r"targets.shape=\(3, 5, 3\)"):
        unc.joint_nll(params, np.zeros((3, 5, 3)))
    bad = dict(params, sigma=np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"sigma.shape=\(3, 2\)"):
        unc.diversity(bad)


# ------------------------------------------------------------------------------------------ calibration


@pytest.mark.parametrize("level", ["pose", "node"])
def test_a_model_sampled_from_itself_is_calibrated(level):
    params = _random_params(level, batch=1500, kernels=3, nodes=3, seed=9)
    targets = _sample_targets(params, np.random.default_rng(10))
    result = unc.calibration(params, targets)
    assert result.ece < 0.02
    assert result.observed_per_joint.shape == (3, 19) and result.ece_per_joint.shape == (3,)
    assert 0 < result.sharpness[0.5] < result.sharpness[0.9]


def test_over_confidence_is_detected():
    params = _random_params("pose", batch=1500, kernels=2, nodes=3, seed=11)
    targets = _sample_targets(params, np.random.default_rng(12))
    confident = dict(params, sigma=params["sigma"] / 2)
    result = unc.calibration(confident, targets)
    # Too little observed mass at every level but the lowest (there, between well-separated kernels,
    # a halved sigma hardly moves the mass near the mixture mean).
    assert np.all(result.observed[result.levels >= 0.2] < result.levels[result.levels >= 0.2])
    assert np.mean(result.observed - result.levels) < -0.1 and result.ece > 0.1
    assert np.all(result.ece_per_joint > 0.1)


def test_chunked_counts_equal_one_pass():
    params = _random_params("node", batch=40, seed=13)
    targets = _sample_targets(params, np.random.default_rng(14))
    whole = unc.calibration(params, targets)
    chunks = [
        unc.calibration_counts({k: v[s : s + 15] for k, v in params.items()}, targets[s : s + 15])
        for s in range(0, 40, 15)
    ]
    merged = unc.Calibration.from_counts(unc.CalibrationCounts.merge(chunks))
    np.testing.assert_allclose(merged.observed_per_joint, whole.observed_per_joint)
    assert merged.ece == pytest.approx(whole.ece)
    assert merged.sharpness == pytest.approx(whole.sharpness)


def test_pit_of_the_mixture_mean_is_zero():
    params = _random_params("pose", seed=15)
    centers = np.einsum("bm,bmnd->bnd", _node_view(params)[0][..., 0], params["mu"])
    np.testing.assert_allclose(unc.probability_integral_transform(params, centers), 0.0, atol=1e-12)


# -------------------------------------------------------------------------------------------- diversity


def test_diversity_of_two_kernels():
    mu = np.zeros((2, 2, 3, 3))
    mu[:, 1, :, 0] = 0.2  # every joint 200 mm apart: MPJPE 0.2
    logits = np.array([[0.0, 0.0], [0.0, -np.inf]])
    result = unc.diversity({"mu": mu, "sigma": np.full((2, 2), 0.05), "pi_logits": logits})
    np.testing.assert_allclose(result["pairwise_distance"], [0.2, 0.0])
    np.testing.assert_allclose(result["effective_kernels"], [2.0, 1.0])


def test_node_level_diversity_averages_over_nodes():
    mu = np.zeros((1, 3, 2, 3))
    mu[0, 1, 0, 0], mu[0, 2, 0, 0], mu[0, 1, 1, 1] = 0.1, 0.3, 0.4
    logits = np.array(
        [[[math.log(0.5), 0.0], [math.log(0.25), -np.inf], [math.log(0.25), -np.inf]]]
    )
    # node 0: pairs (0,1) 0.1 w .125, (0,2) 0.3 w .125, (1,2) 0.2 w .0625 -> 0.0625 / 0.3125 = 0.2;
    # node 1: all weight on kernel 0 -> 0, although kernel 1 lies 0.4 away.
    result = unc.diversity({"mu": mu, "sigma": np.full((1, 3, 2), 0.05), "pi_logits": logits})
    np.testing.assert_allclose(result["pairwise_distance"], [(0.2 + 0.0) / 2], rtol=1e-12)
    entropy0 = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    np.testing.assert_allclose(
        result["effective_kernels"], [(math.exp(entropy0) + 1.0) / 2], rtol=1e-12
    )


# -------------------------------------------------------------------------------------------- ambiguity


def _ambiguity_set():
    rng = np.random.default_rng(16)
    base_2d, base_3d = rng.normal(0, 0.2, (4, 2)), rng.normal(0, 0.3, (4, 3))
    base_2d[0], base_3d[0] = 0, 0
    flipped = base_3d.copy()
    flipped[:, 2] *= -1  # depth flip: same 2D, different 3D
    inputs = np.stack(
        [base_2d, base_2d + 0.5, base_2d, base_2d, rng.normal(0, 0.2, (4, 2))]
    )  # 1: translated
    targets = np.stack([base_3d, flipped, flipped, base_3d, base_3d])
    sequences = np.array([0, 1, 0, 2, 3])
    frames = np.array([0, 0, 10, 0, 0])
    return inputs, targets, sequences, frames


def test_ambiguous_samples_on_a_constructed_set():
    inputs, targets, sequences, frames = _ambiguity_set()
    # 0, 1 (root-relative 2D equal), 2: depth flips of 3; 2 is 0's neighbouring frame (excluded);
    # 3 shares 0's 3D pose (not a difference); 4 is far in 2D.
    result = unc.ambiguous_samples(inputs, targets, sequences, frames)
    np.testing.assert_array_equal(result, [True, True, True, True, False])
    alone = unc.ambiguous_samples(
        inputs[[0, 2]], targets[[0, 2]], sequences[[0, 2]], frames[[0, 2]]
    )
    np.testing.assert_array_equal(alone, [False, False])
    far_apart = unc.ambiguous_samples(
        inputs[[0, 2]], targets[[0, 2]], sequences[[0, 2]], np.array([0, 50])
    )
    np.testing.assert_array_equal(far_apart, [True, True])
    blocks = unc.ambiguous_samples(inputs, targets, sequences, frames, block=2)
    np.testing.assert_array_equal(blocks, result)


def test_ambiguity_thresholds():
    nodes = 4
    inputs = np.zeros((2, nodes, 2))
    targets = np.zeros((2, nodes, 3))
    inputs[1, 1:, 0] = 5.9 / 500 * math.sqrt(nodes / (nodes - 1))  # RMS over joints 5.9 px
    targets[1, 1:, 2] = 0.051 * nodes / (nodes - 1)  # root-relative MPJPE 51 mm
    ids, frames = np.array([0, 1]), np.array([0, 0])
    assert unc.ambiguous_samples(inputs, targets, ids, frames).all()
    assert not unc.ambiguous_samples(inputs, targets, ids, frames, pixel_radius=5.8).any()
    assert not unc.ambiguous_samples(inputs, targets, ids, frames, min_difference=0.052).any()
    assert unc.ambiguous_samples(inputs, targets, ids, frames, min_difference=0.050).all()


def test_ambiguity_handles_tiny_batches_and_bad_shapes():
    for batch in (0, 1):
        result = unc.ambiguous_samples(
            np.zeros((batch, 4, 2)),
            np.zeros((batch, 4, 3)),
            np.zeros(batch, int),
            np.zeros(batch, int),
        )
        assert result.shape == (batch,) and result.dtype == bool and not result.any()
    with pytest.raises(ValueError, match=r"targets_3d.shape=\(2, 4, 2\)"):
        unc.ambiguous_samples(
            np.zeros((2, 4, 2)), np.zeros((2, 4, 2)), np.zeros(2, int), np.zeros(2, int)
        )
    with pytest.raises(ValueError, match=r"sequence_ids.shape=\(3,\)"):
        unc.ambiguous_samples(
            np.zeros((2, 4, 2)), np.zeros((2, 4, 3)), np.zeros(3, int), np.zeros(2, int)
        )


# ------------------------------------------------------------------------------------------------ plots


def test_plots_write_pngs(tmp_path):
    params = _random_params("node", batch=30, seed=17)
    targets = _sample_targets(params, np.random.default_rng(18))
    calibrations = {
        "graphmdn": unc.calibration(params, targets),
        "confident": unc.calibration(dict(params, sigma=params["sigma"] / 2), targets),
    }
    reliability = unc.plot_reliability(calibrations, tmp_path / "reliability.png")
    spread = unc.plot_diversity({"graphmdn": unc.diversity(params)}, tmp_path / "diversity.png")
    for path in (reliability, spread):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000


def test_ambiguity_matches_a_brute_force_loop():
    rng = np.random.default_rng(19)
    batch, nodes = 40, 4
    shapes = rng.normal(0, 0.05, (3, nodes, 2))  # three root-relative 2D shapes, noise about 3 px
    inputs = (
        shapes[rng.integers(0, 3, batch)]
        + rng.normal(0, 0.006, (batch, nodes, 2))
        + rng.normal(0, 1, (batch, 1, 2))
    )
    targets = rng.normal(0, 0.05, (batch, nodes, 3))
    sequences, frames = rng.integers(0, 3, batch), rng.integers(0, 120, batch)
    expected = np.zeros(batch, bool)
    for i in range(batch):
        for j in range(batch):
            if i == j or (sequences[i] == sequences[j] and abs(frames[i] - frames[j]) < 50):
                continue
            pixels = 500 * ((inputs[i] - inputs[i, 0]) - (inputs[j] - inputs[j, 0]))
            rms = math.sqrt(np.mean(np.sum(pixels**2, axis=1)))
            error = np.mean(
                np.linalg.norm((targets[i] - targets[i, 0]) - (targets[j] - targets[j, 0]), axis=1)
            )
            expected[i] |= rms < 6.0 and error >= 0.05
    assert 0 < expected.sum() < batch
    for block in (7, 2048):
        np.testing.assert_array_equal(
            unc.ambiguous_samples(inputs, targets, sequences, frames, block=block), expected
        )


def test_mass_within_is_continuous_across_the_small_offset_series():
    center, radii = np.zeros((1, 1, 3)), np.array([[0.12]])
    below = unc.joint_mass_within(_one_kernel(0.1 * 0.999e-3, 0.1), center, radii)
    above = unc.joint_mass_within(_one_kernel(0.1 * 1.001e-3, 0.1), center, radii)
    # the change is the slope of the mass in a (series term a^2 rho^3 phi(rho) / 3), no jump
    rho = 1.2
    slope = (
        ((1.001e-3) ** 2 - (0.999e-3) ** 2)
        * rho**3
        * math.exp(-(rho**2) / 2)
        / math.sqrt(2 * math.pi)
        / 3
    )
    assert (below - above)[0, 0] == pytest.approx(slope, abs=1e-12)
