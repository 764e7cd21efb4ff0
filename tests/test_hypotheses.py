import numpy as np
import pytest

from graphmdn_tf import hypotheses


def _pose_params():
    # Two samples, three kernels, 2 nodes, 3 dims. Kernel j of sample b is the constant (b + 1) * j.
    mu = np.zeros((2, 3, 2, 3), "float32")
    for b in range(2):
        for j in range(3):
            mu[b, j] = (b + 1) * j
    pi = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]], "float32")
    return {"mu": mu, "sigma": np.ones((2, 3), "float32"), "pi_logits": np.log(pi)}, pi


def test_highest_and_mean_pose_level():
    params, pi = _pose_params()
    np.testing.assert_allclose(
        hypotheses.highest(params).numpy(), np.stack([params["mu"][0, 1], params["mu"][1, 0]])
    )
    expected_mean = np.einsum("bm,bmnd->bnd", pi, params["mu"])
    np.testing.assert_allclose(hypotheses.mean(params).numpy(), expected_mean, atol=1e-6)
    np.testing.assert_allclose(hypotheses.mixture_weights(params).numpy(), pi, atol=1e-6)


def test_oracle_picks_the_closest_whole_pose():
    params, _ = _pose_params()
    target = np.stack([np.full((2, 3), 1.9), np.full((2, 3), 3.1)]).astype("float32")
    # sample 0 kernels are 0, 1, 2 -> 1.9 picks 2; sample 1 kernels are 0, 2, 4 -> 3.1 picks 4 (|0.9| < |1.1|)
    got = hypotheses.oracle(params, target).numpy()
    np.testing.assert_allclose(got[0], 2.0)
    np.testing.assert_allclose(got[1], 4.0)
    np.testing.assert_allclose(
        hypotheses.kernel_errors(params, target).numpy()[0],
        np.sqrt(3) * np.abs([1.9, 0.9, 0.1]),
        rtol=1e-5,
    )


def test_oracle_per_joint_mixes_kernels():
    params, _ = _pose_params()
    target = np.zeros((2, 2, 3), "float32")
    target[:, 0] = 0.1  # closest: kernel 0 (value 0)
    target[:, 1] = 10.0  # closest: the largest kernel
    got = hypotheses.oracle_per_joint(params, target).numpy()
    np.testing.assert_allclose(got[:, 0], 0.0)
    np.testing.assert_allclose(got[0, 1], 2.0)
    np.testing.assert_allclose(got[1, 1], 4.0)


def test_node_level_highest_is_per_node():
    mu = np.zeros((1, 2, 2, 3), "float32")
    mu[0, 0] = 1.0
    mu[0, 1] = -1.0
    pi = np.array(
        [[[0.9, 0.2], [0.1, 0.8]]], "float32"
    )  # [B, M, N]: node 0 -> kernel 0, node 1 -> kernel 1
    params = {"mu": mu, "sigma": np.ones((1, 2, 2), "float32"), "pi_logits": np.log(pi)}
    got = hypotheses.highest(params).numpy()
    np.testing.assert_allclose(got[0, 0], 1.0)
    np.testing.assert_allclose(got[0, 1], -1.0)
    np.testing.assert_allclose(hypotheses.mean(params).numpy()[0, 0], 0.9 - 0.1, atol=1e-6)


def test_sampling_and_best_of_samples():
    params, _ = _pose_params()
    params["sigma"] = np.full((2, 3), 1e-3, "float32")
    samples = hypotheses.sample_poses(params, 64, seed=3).numpy()
    assert samples.shape == (64, 2, 2, 3)
    # With tiny sigma every sample sits on a kernel mean, so best-of-64 recovers the oracle.
    target = np.stack([np.full((2, 3), 1.9), np.full((2, 3), 3.1)]).astype("float32")
    best = hypotheses.best_of_samples(samples, target).numpy()
    np.testing.assert_allclose(best, hypotheses.oracle(params, target).numpy(), atol=0.01)
    with pytest.raises(ValueError, match="Expected num_samples >= 1"):
        hypotheses.sample_poses(params, 0)


# ---- the registry ----


def test_the_registry_lists_predictions_then_upper_bounds_in_table_order():
    assert list(hypotheses.SELECTIONS) == [
        "highest",
        "mean",
        "reprojection",
        "reprojection_weighted",
        "skeleton",
        "temporal",
        "temporal_causal",
        "oracle",
        "oracle_joint",
        "best_of",
        "best_of_joint",
    ]
    assert hypotheses.selection_names() == ("highest", "mean", "oracle", "oracle_joint")
    assert hypotheses.selection_names(with_target=False) == ("highest", "mean")
    assert hypotheses.selection_names(available=("inputs_2d",)) == (
        "highest",
        "mean",
        "reprojection",
        "reprojection_weighted",
    )
    assert hypotheses.metric_names() == ("highest", "mean", "oracle")
    assert [
        hypotheses.selection_label(key) for key in ("highest", "mean", "oracle", "best_of_200")
    ] == ["Highest", "Mean", "Oracle", "Best of 200 samples"]
    assert hypotheses.selection_label("best_of_joint_20") == "Best joints of 20 samples"
    assert not any(
        hypotheses.SELECTIONS[name].needs_target
        for name in hypotheses.selection_names(
            available=tuple(key for key in hypotheses.CONTEXT_KEYS if key != "target")
        )
    )
    with pytest.raises(KeyError, match="No selection 'best_of_x'"):
        hypotheses.selection_for("best_of_x")
    with pytest.raises(ValueError, match=r"Expected requires from .*Received: \['camera'\]"):
        hypotheses.Selection("bad", "Bad", lambda params, context: None, requires=("camera",))


def test_select_and_selection_poses_follow_the_registry():
    params, _ = _pose_params()
    target = params["mu"][:, 2]
    poses = hypotheses.select(params, target)
    np.testing.assert_allclose(poses["highest"], hypotheses.highest(params))
    np.testing.assert_allclose(poses["oracle"], target)
    np.testing.assert_allclose(poses["oracle_joint"], target)
    assert list(hypotheses.select(params)) == [
        "highest",
        "mean",
    ]  # no target: only what a server can answer
    keys = hypotheses.selection_poses(params, target, num_samples=4, seed=(0, 1))
    assert list(keys) == [
        "highest",
        "mean",
        "oracle",
        "oracle_joint",
        "best_of_4",
        "best_of_joint_4",
    ]
    assert list(hypotheses.selection_poses(np.zeros((2, 2, 3), "float32"))) == [
        hypotheses.PREDICTION
    ]
    with pytest.raises(ValueError, match=r"Selection 'oracle' needs \['target'\]"):
        hypotheses.select(params, names=["oracle"])
    with pytest.raises(ValueError, match=r"Selection 'reprojection' needs \['inputs_2d'\]"):
        hypotheses.select(params, names=["reprojection"])
    with pytest.raises(
        ValueError, match=r"Expected selections from \('highest', 'mean', 'reprojection'"
    ):
        hypotheses.select(params, target, names=["best_of"])
    with pytest.raises(ValueError, match=r"Expected context keys from .*Received: \['camera'\]"):
        hypotheses.select(params, target, camera=1)


def test_joint_wise_best_of_samples_takes_each_joint_from_its_closest_sample():
    """J-Best <= P-Best, and it is the per-joint minimum over the very samples P-Best chooses from."""
    rng = np.random.default_rng(4)
    samples = rng.normal(size=(7, 3, 5, 3)).astype("float32")
    target = rng.normal(size=(3, 5, 3)).astype("float32")
    per_joint = hypotheses.best_of_samples(samples, target, per_joint=True).numpy()
    distance = np.linalg.norm(samples - target, axis=-1)  # [S, B, N]
    choice = distance.argmin(axis=0)
    expected = np.take_along_axis(samples, choice[None, ..., None], axis=0)[0]
    np.testing.assert_allclose(per_joint, expected)
    pose_wise = hypotheses.best_of_samples(samples, target).numpy()
    assert np.all(
        np.linalg.norm(per_joint - target, axis=-1).mean(-1)
        <= np.linalg.norm(pose_wise - target, axis=-1).mean(-1) + 1e-6
    )
    params, _ = _pose_params()
    target = np.asarray(params["mu"][:, 1])
    # Drawn in groups (the same seed: the same 30 samples), the best joints are no worse than the best pose.
    grouped = hypotheses.best_of_sampled(
        params, target, 30, seed=(1, 2), group_size=7, per_joint=True
    )
    assert grouped.shape == target.shape
    joint_error = np.linalg.norm(grouped - target, axis=-1)
    whole = hypotheses.best_of_sampled(params, target, 30, seed=(1, 2), group_size=7)
    assert np.all(joint_error.mean(-1) <= np.linalg.norm(whole - target, axis=-1).mean(-1) + 1e-6)


def test_a_new_selection_is_a_one_place_change(monkeypatch):
    """Registered once, a rule reaches the training metrics, the tables, their labels and the served outputs."""
    from graphmdn_tf.evaluation import method_names
    from graphmdn_tf.export import _ServingFunctions
    from graphmdn_tf.models import GraphMDN

    lowest = hypotheses.Selection(
        "lowest_kernel",
        "Kernel 0",
        lambda params, context: hypotheses._mu(params)[:, 0],
        metric=True,
    )
    monkeypatch.setitem(hypotheses.SELECTIONS, "lowest_kernel", lowest)
    params, _ = _pose_params()
    assert "lowest_kernel" in hypotheses.selection_poses(params, params["mu"][:, 0])
    assert method_names("graphmdn", "standard", ["lowest_kernel"]) == {
        "lowest_kernel": "GraphMDN (Kernel 0)"
    }
    model = GraphMDN(hidden_dim=8, num_blocks=1, num_kernels=2)
    assert "mpjpe_lowest_kernel" in [metric.name for metric in model.error_trackers.values()]
    outputs = _ServingFunctions(model, True, num_samples=2, seed=0)._outputs(
        np.zeros((1, 16, 2), "float32")
    )
    assert {"highest_pose", "mean_pose", "lowest_kernel_pose"} <= set(outputs)
