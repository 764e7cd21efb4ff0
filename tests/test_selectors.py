"""graphmdn_tf.selectors against independent NumPy computations on hand-made, seeded cases."""

import itertools
import json

import numpy as np
import pytest

from graphmdn_tf import selectors
from graphmdn_tf.skeletons import H36M_16

RNG_SEED = 7


def _pose_params(mu, pi):
    return {
        "mu": np.asarray(mu, np.float32),
        "sigma": np.ones(np.shape(pi), np.float32),
        "pi_logits": np.log(np.asarray(pi, np.float32)),
    }


def _t_pose(scale=1.0):
    """A 16-joint H36M pose with known bone lengths (root at the origin)."""
    rng = np.random.default_rng(RNG_SEED)
    pose = np.zeros((16, 3))
    for joint, parent in enumerate(H36M_16.parents):
        if parent >= 0:
            direction = rng.normal(size=3)
            pose[joint] = pose[parent] + scale * (
                0.1 + 0.05 * (joint % 4)
            ) * direction / np.linalg.norm(direction)
    return pose


# ---- reprojection ----


def test_weak_perspective_fit_recovers_scale_translation_and_residual():
    rng = np.random.default_rng(RNG_SEED)
    points = rng.normal(size=(4, 16, 3))
    scale, shift = np.array([0.5, 1.0, 2.0, 3.0]), rng.normal(size=(4, 2))
    inputs = scale[:, None, None] * points[..., :2] + shift[:, None]
    fit_s, fit_t, residual = selectors.weak_perspective_fit(points, inputs)
    np.testing.assert_allclose(fit_s, scale, atol=1e-9)
    np.testing.assert_allclose(fit_t, shift, atol=1e-9)
    np.testing.assert_allclose(residual, 0, atol=1e-9)
    noisy = inputs + 0.05 * rng.normal(size=inputs.shape)
    fit_s, fit_t, residual = selectors.weak_perspective_fit(points, noisy)
    for b in range(4):  # brute force: the residual at the fit, and no better one nearby

        def rms(s, t, b=b):
            return np.sqrt(np.mean(np.sum((s * points[b, :, :2] + t - noisy[b]) ** 2, axis=-1)))

        assert residual[b] == pytest.approx(rms(fit_s[b], fit_t[b]))
        for ds, dx, dy in itertools.product((-1e-3, 0, 1e-3), repeat=3):
            assert rms(fit_s[b] + ds, fit_t[b] + np.array([dx, dy])) >= residual[b] - 1e-12


def test_weak_perspective_fit_clamps_a_mirrored_scale():
    rng = np.random.default_rng(RNG_SEED)
    points = rng.normal(size=(16, 3))
    inputs = -2.0 * points[:, :2] + np.array([0.3, -0.1])
    scale, shift, residual = selectors.weak_perspective_fit(points, inputs)
    assert scale == pytest.approx(selectors.MIN_SCALE)
    np.testing.assert_allclose(shift, inputs.mean(0) - scale * points[:, :2].mean(0))
    expected = np.sqrt(np.mean(np.sum((scale * points[:, :2] + shift - inputs) ** 2, -1)))
    assert residual == pytest.approx(expected)


def test_weak_perspective_fit_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"points_3d.shape=\(16, 2\)"):
        selectors.weak_perspective_fit(np.zeros((16, 2)), np.zeros((16, 2)))


def _reprojection_case():
    """Kernel 1 projects exactly onto the input; kernel 0 (higher pi) has a bent arm in x/y."""
    true = _t_pose()
    wrong = true.copy()
    wrong[[11, 12], 0] += 0.4  # LElbow, LWrist moved sideways: a different 2D projection
    mu = np.stack([wrong, true, true[:, [0, 1, 2]] * np.array([1, 1, -1])])[
        None
    ]  # kernel 2: depth-flipped
    inputs = (2.0 * true[:, :2] + np.array([0.1, 0.2]))[None]
    return mu, inputs, true


def test_reprojection_pose_level_picks_the_consistent_kernel():
    mu, inputs, true = _reprojection_case()
    params = _pose_params(mu[:, :2], [[0.8, 0.2]])
    residual = selectors.reprojection_residuals(params, inputs)
    expected = [selectors.weak_perspective_fit(mu[0, k], inputs[0])[2] for k in range(2)]
    np.testing.assert_allclose(residual[0], expected, atol=1e-6)
    np.testing.assert_allclose(selectors.reprojection(params, inputs)[0], true, atol=1e-6)
    # a depth-flipped copy projects identically: a tie the reprojection cannot (and need not) break
    flipped = _pose_params(mu, [[0.6, 0.2, 0.2]])
    r = selectors.reprojection_residuals(flipped, inputs)[0]
    assert r[1] == pytest.approx(r[2], abs=1e-6) and r[0] > r[1] + 0.01


def test_reprojection_node_level_picks_per_joint():
    rng = np.random.default_rng(RNG_SEED)
    true = _t_pose()
    mu = np.stack([true + 0.002 * rng.normal(size=true.shape) for _ in range(3)])
    sign = np.where(np.arange(16) % 2, 1.0, -1.0)[
        :, None
    ]  # alternating: the mean pose stays near true
    mu[0, :8, :2] += (
        0.06 * sign[:8]
    )  # kernel 0 wrong in x/y on joints 0-7, kernel 1 wrong on joints 8-15
    mu[1, 8:, :2] -= 0.06 * sign[8:]
    mu[2, :, :2] += 0.06 * sign * np.array([1.0, -1.0])  # kernel 2 wrong on every joint
    params = {
        "mu": mu[None].astype(np.float32),
        "sigma": np.ones((1, 3, 16), np.float32),
        "pi_logits": np.zeros((1, 3, 16), np.float32),
    }
    inputs = true[None, :, :2]
    scale, shift, _ = selectors.weak_perspective_fit(mu.mean(0), true[:, :2])
    distance = np.linalg.norm(scale * mu[..., :2] + shift - true[:, :2], axis=-1)  # [M, N]
    choice = np.argmin(distance, axis=0)
    assert set(choice[:8]) == {1} and set(choice[8:]) == {0}
    np.testing.assert_allclose(
        selectors.reprojection(params, inputs)[0], mu[choice, np.arange(16)], atol=1e-6
    )


def test_reprojection_weighted_limits():
    mu, inputs, true = _reprojection_case()
    params = _pose_params(mu[:, :2], [[0.8, 0.2]])
    mean = np.einsum("m,mnd->nd", [0.8, 0.2], mu[0, :2])
    np.testing.assert_allclose(
        selectors.reprojection_weighted(params, inputs, noise=1e6)[0], mean, atol=1e-5
    )
    np.testing.assert_allclose(
        selectors.reprojection_weighted(params, inputs, noise=1e-4)[0], true, atol=1e-5
    )
    residual = selectors.reprojection_residuals(params, inputs)[0]
    weight = np.array([0.8, 0.2]) * np.exp(-(residual**2) / (2 * 0.1**2))
    expected = np.einsum("m,mnd->nd", weight / weight.sum(), mu[0, :2])
    np.testing.assert_allclose(
        selectors.reprojection_weighted(params, inputs, noise=0.1)[0], expected, atol=1e-5
    )


def test_reprojection_rejects_bad_input_shape():
    mu, inputs, _ = _reprojection_case()
    with pytest.raises(ValueError, match=r"inputs_2d.shape=\(1, 15, 2\)"):
        selectors.reprojection(_pose_params(mu, [[0.4, 0.3, 0.3]]), inputs[:, :15])
    with pytest.raises(ValueError, match=r"mu.shape=\(1, 3, 16\)"):
        selectors.reprojection(_pose_params(mu[..., 0], [[0.4, 0.3, 0.3]]), inputs)


# ---- skeleton prior ----

LENGTHS = np.array(
    [0.13, 0.45, 0.45, 0.13, 0.45, 0.45, 0.24, 0.25, 0.2, 0.15, 0.28, 0.25, 0.15, 0.28, 0.25]
)


def _poses_with_lengths(count, lengths=LENGTHS, seed=RNG_SEED):
    """Poses [count, 16, 3] with random bone directions, bone b (child b + 1) of length scale * lengths[b]."""
    rng = np.random.default_rng(seed)
    poses = np.zeros((count, 16, 3))
    scales = rng.uniform(0.8, 1.2, size=count)
    for joint, parent in enumerate(H36M_16.parents):
        if parent >= 0:
            direction = rng.normal(size=(count, 3))
            direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
            poses[:, joint] = poses[:, parent] + (scales * lengths[joint - 1])[:, None] * direction
    return poses


def test_skeleton_prior_fit_learns_ratios_and_symmetry():
    prior = selectors.SkeletonPrior.fit(_poses_with_lengths(50))
    np.testing.assert_allclose(prior.ratio_mean, np.log(LENGTHS / LENGTHS.sum()), atol=1e-9)
    np.testing.assert_allclose(prior.ratio_std, 0, atol=1e-9)
    # mirrored pairs: (LHip, RHip), (LKnee, RKnee), ..., bone b has child b + 1
    pairs = [
        (left - 1, right - 1) for left, right in zip(H36M_16.joints_left, H36M_16.joints_right)
    ]
    np.testing.assert_allclose(
        prior.symmetry_mean, [np.log(LENGTHS[a] / LENGTHS[b]) for a, b in pairs], atol=1e-9
    )
    assert prior == selectors.SkeletonPrior.from_dict(json.loads(json.dumps(prior.to_dict())))


def test_implausibility_is_zero_at_the_mean_and_grows_with_a_stretched_limb():
    prior = selectors.SkeletonPrior.fit(_poses_with_lengths(50))
    good = _poses_with_lengths(1, seed=1)[0]
    assert prior.implausibility(good) == pytest.approx(0, abs=1e-12)
    costs = []
    for stretch in (1.1, 1.5, 2.0):
        pose = good.copy()
        pose[12] = pose[11] + stretch * (good[12] - good[11])  # the left forearm
        costs.append(prior.implausibility(pose))
    assert 0 < costs[0] < costs[1] < costs[2]
    assert prior.implausibility(np.stack([good, pose])).shape == (2,)
    with pytest.raises(ValueError, match=r"poses.shape=\(15, 3\)"):
        prior.implausibility(good[:15])


def test_skeleton_prior_pose_level_prefers_the_intact_kernel():
    prior = selectors.SkeletonPrior.fit(_poses_with_lengths(50))
    good = _poses_with_lengths(1, seed=1)[0]
    broken = good.copy()
    broken[15] = broken[14] + 2.0 * (good[15] - good[14])
    params = _pose_params(np.stack([broken, good])[None], [[0.7, 0.3]])
    np.testing.assert_allclose(selectors.skeleton_prior(params, prior)[0], good, atol=1e-6)
    # with a dominant pi weight the network's choice wins
    np.testing.assert_allclose(
        selectors.skeleton_prior(params, prior, pi_weight=1e6)[0], broken, atol=1e-6
    )


def test_skeleton_prior_node_level_tree_equals_brute_force():
    rng = np.random.default_rng(RNG_SEED)
    prior = selectors.SkeletonPrior.fit(
        _poses_with_lengths(50) + 0.01 * rng.normal(size=(50, 16, 3))
    )
    base = _poses_with_lengths(1, seed=2)[0]
    mu = np.stack([base + 0.05 * rng.normal(size=base.shape) for _ in range(2)])  # M = 2
    pi = rng.dirichlet(np.ones(2), size=16).T  # [M, N]
    params = {
        "mu": mu[None].astype(np.float32),
        "sigma": np.ones((1, 2, 16), np.float32),
        "pi_logits": np.log(pi[None]).astype(np.float32),
    }
    mu, pi = params["mu"][0].astype(np.float64), pi.astype(np.float32).astype(np.float64)
    pi = pi / pi.sum(0)
    mean = np.einsum("mn,mnd->nd", pi, mu)
    children = np.arange(1, 16)
    parents = np.array(H36M_16.parents)[children]
    scale = np.linalg.norm(mean[children] - mean[parents], axis=-1).sum()
    combos = np.array(list(itertools.product(range(2), repeat=16)))  # [65536, 16]
    chosen = mu[combos, np.arange(16)]  # [65536, 16, 3]
    length = np.linalg.norm(chosen[:, children] - chosen[:, parents], axis=-1)
    z = (np.log(length / scale) - np.array(prior.ratio_mean)) / np.maximum(
        prior.ratio_std, selectors.MIN_STD
    )
    cost = 0.5 * np.sum(z**2, -1) - np.sum(np.log(pi[combos, np.arange(16)]), -1)
    best = combos[np.argmin(cost)]
    assert np.any(best != np.argmax(pi, axis=0))  # the prior changes the per-joint Highest choice
    np.testing.assert_allclose(
        selectors.skeleton_prior(params, prior)[0], mu[best, np.arange(16)], atol=1e-5
    )


# ---- temporal ----


def _path_cost(mu, log_pi, path, sigma_v):
    cost = -sum(log_pi[t, k] for t, k in enumerate(path))
    return cost + sum(
        np.sum((mu[t, path[t]] - mu[t - 1, path[t - 1]]) ** 2) / (2 * sigma_v**2)
        for t in range(1, len(path))
    )


def _chain_case():
    rng = np.random.default_rng(RNG_SEED)
    mu = rng.normal(size=(5, 3, 2, 3))  # T=5, M=3, C=2
    return mu, np.log(rng.dirichlet(np.ones(3), size=(5, 2)).transpose(0, 2, 1)), 0.8


def test_viterbi_equals_brute_force_enumeration():
    mu, log_pi, sigma_v = _chain_case()
    indices = selectors.viterbi_kernels(mu, log_pi, sigma_v)
    assert indices.shape == (5, 2)
    for c in range(2):
        paths = list(itertools.product(range(3), repeat=5))
        best = min(paths, key=lambda path: _path_cost(mu[:, :, c], log_pi[:, :, c], path, sigma_v))
        assert tuple(indices[:, c]) == best


def test_causal_viterbi_is_the_forward_argmin():
    mu, log_pi, sigma_v = _chain_case()
    indices = selectors.viterbi_kernels(mu, log_pi, sigma_v, causal=True)
    for c, t in itertools.product(range(2), range(5)):
        prefixes = list(itertools.product(range(3), repeat=t + 1))
        forward = [
            min(
                _path_cost(mu[:, :, c], log_pi[:, :, c], p, sigma_v) for p in prefixes if p[-1] == k
            )
            for k in range(3)
        ]
        assert indices[t, c] == int(np.argmin(forward))


def test_viterbi_follows_the_smooth_branch_where_highest_jumps():
    frames = 20
    track = np.linspace(0, 0.2, frames)[:, None] * np.ones(3)
    mu = np.stack([track, track + 1.0], axis=1)[:, :, None]  # [T, 2, 1, 3]: branch 0 and branch 1
    pi = np.where(
        np.arange(frames) % 2 == 0, 0.55, 0.45
    )  # favours branch 0 on 10 frames, 1 on 10 ...
    pi[1] = 0.4  # ... and branch 0 a little less once: the whole path should be branch 1
    log_pi = np.log(np.stack([pi, 1 - pi], axis=1))[:, :, None]
    assert len(set(np.argmax(log_pi[:, :, 0], axis=1))) == 2
    np.testing.assert_array_equal(selectors.viterbi_kernels(mu, log_pi, 0.05)[:, 0], 1)


def test_motion_prior_fit_and_round_trip():
    rng = np.random.default_rng(RNG_SEED)
    targets = rng.normal(size=(7, 16, 3))
    ids = np.array([3, 3, 3, 5, 5, 9, 9])
    steps = [targets[i + 1] - targets[i] for i in (0, 1, 3, 5)]
    prior = selectors.MotionPrior.fit(targets, ids)
    assert prior.sigma_v == pytest.approx(np.sqrt(np.mean(np.square(steps))))
    assert selectors.MotionPrior.from_dict(json.loads(json.dumps(prior.to_dict()))) == prior


def test_temporal_runs_per_sequence_at_both_levels():
    rng = np.random.default_rng(RNG_SEED)
    mu = rng.normal(size=(9, 4, 16, 3))
    ids = np.array([1, 1, 1, 1, 2, 2, 2, 2, 2])
    motion = selectors.MotionPrior(sigma_v=0.5)
    node_logits = rng.normal(size=(9, 4, 16))
    node = selectors.temporal(
        {"mu": mu, "sigma": np.ones((9, 4, 16)), "pi_logits": node_logits}, ids, motion
    )
    log_pi = node_logits - np.log(np.exp(node_logits).sum(1, keepdims=True))
    for rows in (slice(0, 4), slice(4, 9)):
        index = selectors.viterbi_kernels(mu[rows], log_pi[rows], 0.5)  # [T, 16]
        expected = mu[rows][np.arange(index.shape[0])[:, None], index, np.arange(16)]
        np.testing.assert_allclose(node[rows], expected, atol=1e-6)
    pose_logits = rng.normal(size=(9, 4))
    pose = selectors.temporal(
        {"mu": mu, "sigma": np.ones((9, 4)), "pi_logits": pose_logits}, ids, motion, causal=True
    )
    log_pi = pose_logits - np.log(np.exp(pose_logits).sum(1, keepdims=True))
    index = selectors.viterbi_kernels(
        mu[4:].reshape(5, 4, 1, 48), log_pi[4:, :, None], 0.5, causal=True
    )[:, 0]
    np.testing.assert_allclose(pose[4:], mu[4:][np.arange(5), index], atol=1e-6)
    assert pose.dtype == np.float32 and pose.shape == (9, 16, 3)


def test_temporal_rejects_non_contiguous_sequences_and_bad_shapes():
    params = {
        "mu": np.zeros((5, 2, 16, 3)),
        "sigma": np.ones((5, 2)),
        "pi_logits": np.zeros((5, 2)),
    }
    with pytest.raises(ValueError, match=r"contiguous.*\[0\]"):
        selectors.temporal(params, np.array([0, 0, 1, 1, 0]), selectors.MotionPrior(0.1))
    with pytest.raises(ValueError, match=r"sequence_ids.shape=\(4,\)"):
        selectors.temporal(params, np.zeros(4), selectors.MotionPrior(0.1))
    with pytest.raises(ValueError, match=r"log_pi.shape=\(5, 2, 3\)"):
        selectors.viterbi_kernels(np.zeros((5, 2, 1, 3)), np.zeros((5, 2, 3)), 0.1)


def test_hard_selectors_never_choose_a_kernel_the_network_rules_out():
    """A 'dead' kernel (pi far below the top one, a constant mean far from any pose) would win the temporal
    path on stillness, and the reprojection and skeleton choices when it fits them best; none may pick it."""
    frames = 12
    pose = _t_pose()
    walking = pose[None] + np.linspace(0, 0.3, frames)[:, None, None] * np.array(
        [1.0, 0.0, 0.0]
    )  # moves 27 mm/frame
    dead = np.broadcast_to(2 * pose, walking.shape)  # still, and a perfect (scaled) skeleton
    mu = np.stack([walking, dead], axis=1)  # [T, 2, 16, 3]
    ids = np.zeros(frames, int)
    motion = selectors.MotionPrior(sigma_v=0.002)  # so small that standing still beats any walking
    for weight, chosen in (
        (0.5 * selectors.MIN_RELATIVE_WEIGHT, 0),
        (2 * selectors.MIN_RELATIVE_WEIGHT, 1),
    ):
        params = _pose_params(mu, np.tile([1 - weight, weight], (frames, 1)))
        np.testing.assert_allclose(
            selectors.temporal(params, ids, motion), mu[:, chosen], atol=1e-6
        )
        causal = selectors.temporal(
            params, ids, motion, causal=True
        )  # frame 0 has no past: the top kernel
        np.testing.assert_allclose(causal[1:], mu[1:, chosen], atol=1e-6)
        # Node level: the same per joint.
        node = {
            "mu": mu,
            "sigma": np.ones((frames, 2, 16)),
            "pi_logits": np.log(np.tile([1 - weight, weight], (frames, 16, 1)).transpose(0, 2, 1)),
        }
        np.testing.assert_allclose(selectors.temporal(node, ids, motion), mu[:, chosen], atol=1e-6)
    # Reprojection: the 2D input is the dead kernel's own projection; it is still not chosen when ruled out.
    inputs = mu[:, 1, :, :2].astype(np.float32)
    params = _pose_params(mu, np.tile([1 - 0.001, 0.001], (frames, 1)))
    np.testing.assert_allclose(selectors.reprojection(params, inputs), mu[:, 0], atol=1e-6)
    prior = selectors.SkeletonPrior.fit(np.stack([2 * pose] * 4), H36M_16)
    stretched = mu.copy()
    stretched[:, 0, 3] *= (
        3  # the live kernel's foot far off: the prior alone would pick the dead one
    )
    params = _pose_params(stretched, np.tile([1 - 0.001, 0.001], (frames, 1)))
    np.testing.assert_allclose(
        selectors.skeleton_prior(params, prior, pi_weight=0.0), stretched[:, 0], atol=1e-6
    )
