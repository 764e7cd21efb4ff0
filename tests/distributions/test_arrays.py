import numpy as np
import pytest
import tensorflow as tf

from graphmdn_tf.distributions.arrays import MixtureArrays, log_softmax, mixture_mean


def _params(rng, level, batch=5, kernels=3, nodes=4, dims=3):
    per_kernel = (batch, kernels) if level == "pose" else (batch, kernels, nodes)
    return {
        "mu": rng.normal(size=(batch, kernels, nodes, dims)).astype("float32"),
        "sigma": rng.uniform(0.05, 0.5, size=per_kernel).astype("float32"),
        "pi_logits": rng.normal(size=per_kernel).astype("float32"),
    }


def _reference_log_softmax(logits):
    # Independent of the module: log of the normalised exponentials, one column at a time.
    logits = np.asarray(logits, np.float64)
    result = np.empty_like(logits)
    for index in np.ndindex(logits.shape[:1] + logits.shape[2:]):
        column = logits[(index[0], slice(None), *index[1:])]
        weights = np.exp(column) / np.exp(column).sum()
        result[(index[0], slice(None), *index[1:])] = np.log(weights)
    return result


@pytest.mark.parametrize("level", ["pose", "node"])
def test_view_matches_numpy(rng, level):
    params = _params(rng, level)
    arrays = MixtureArrays.from_params(params)
    assert arrays.level == level
    assert arrays.mu.dtype == arrays.sigma.dtype == arrays.log_pi.dtype == np.float64
    np.testing.assert_array_equal(arrays.mu, params["mu"].astype(np.float64))
    np.testing.assert_array_equal(arrays.sigma, params["sigma"].astype(np.float64))
    np.testing.assert_allclose(
        arrays.log_pi, _reference_log_softmax(params["pi_logits"]), atol=1e-12
    )
    np.testing.assert_allclose(arrays.pi.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("level", ["pose", "node"])
def test_mean_pose_is_the_weighted_sum_of_kernel_means(rng, level):
    params = _params(rng, level)
    arrays = MixtureArrays.from_params(params)
    pi = np.exp(_reference_log_softmax(params["pi_logits"]))
    mu = params["mu"].astype(np.float64)
    expected = np.zeros((5, 4, 3))
    for b in range(5):
        for m in range(3):
            weight = pi[b, m] if level == "pose" else pi[b, m][:, None]
            expected[b] += weight * mu[b, m]
    np.testing.assert_allclose(arrays.mean_pose(), expected, atol=1e-12)
    np.testing.assert_allclose(mixture_mean(arrays.mu, arrays.log_pi), expected, atol=1e-12)


def test_per_joint_broadcasts_a_pose_level_mixture_over_nodes(rng):
    arrays = MixtureArrays.from_params(_params(rng, "pose"))
    per_joint = arrays.per_joint()
    assert per_joint.level == "pose"
    assert per_joint.sigma.shape == per_joint.log_pi.shape == (5, 3, 4)
    for node in range(4):
        np.testing.assert_array_equal(per_joint.sigma[:, :, node], arrays.sigma)
        np.testing.assert_array_equal(per_joint.log_pi[:, :, node], arrays.log_pi)
    np.testing.assert_allclose(per_joint.mean_pose(), arrays.mean_pose(), atol=1e-12)
    node = MixtureArrays.from_params(_params(rng, "node"))
    assert node.per_joint() is node


def test_tensors_and_arrays_give_the_same_view(rng):
    params = _params(rng, "node")
    from_tensors = MixtureArrays.from_params({k: tf.constant(v) for k, v in params.items()})
    from_arrays = MixtureArrays.from_params(params)
    for name in ("mu", "sigma", "log_pi"):
        np.testing.assert_array_equal(getattr(from_tensors, name), getattr(from_arrays, name))


def test_minus_infinity_logits_get_zero_weight_and_stay_finite_elsewhere():
    logits = np.array([[0.0, -np.inf, np.log(3.0)], [-np.inf, 2.0, -np.inf]])
    log_pi = log_softmax(logits, axis=1)
    assert np.isneginf(log_pi[0, 1]) and np.isneginf(log_pi[1, 0]) and np.isneginf(log_pi[1, 2])
    np.testing.assert_allclose(np.exp(log_pi[0]), [0.25, 0.0, 0.75], atol=1e-12)
    np.testing.assert_allclose(log_pi[1, 1], 0.0, atol=1e-12)
    assert not np.isnan(log_pi).any()


def test_log_softmax_is_shift_invariant_for_large_logits():
    logits = np.array([[1000.0, 1001.0], [-1000.0, -1001.0]])
    np.testing.assert_allclose(
        log_softmax(logits, axis=1),
        _reference_log_softmax(logits - logits.max(axis=1, keepdims=True)),
        atol=1e-12,
    )
    np.testing.assert_allclose(log_softmax(logits.T, axis=0), log_softmax(logits, axis=1).T)


@pytest.mark.parametrize(
    ("level", "name", "shape", "message"),
    [
        ("pose", "mu", (5, 3, 4), r"mu.shape=\(5, 3, 4\)"),
        ("pose", "sigma", (5, 2), r"sigma.shape=\(5, 2\)"),
        ("node", "sigma", (5, 3), r"sigma.shape=\(5, 3\)"),
        ("node", "pi_logits", (5, 3, 4, 1), r"pi_logits.shape=\(5, 3, 4, 1\)"),
        ("pose", "pi_logits", (5, 2), r"pi_logits.shape=\(5, 2\)"),
    ],
)
def test_bad_shapes_name_the_shape(rng, level, name, shape, message):
    params = dict(_params(rng, level), **{name: np.ones(shape, np.float32)})
    with pytest.raises(ValueError, match=message):
        MixtureArrays.from_params(params)


def test_wrong_joint_dimension_and_missing_parameters_are_named(rng):
    params = _params(rng, "pose", dims=2)
    with pytest.raises(ValueError, match=r"\[batch, kernels, nodes, 3\].*mu.shape=\(5, 3, 4, 2\)"):
        MixtureArrays.from_params(params, dims=3)
    assert MixtureArrays.from_params(params, dims=2).mu.shape == (5, 3, 4, 2)
    with pytest.raises(ValueError, match=r"Missing: \['sigma'\]"):
        MixtureArrays.from_params({k: v for k, v in params.items() if k != "sigma"})


def test_per_joint_keeps_a_pose_level_sigma_that_is_already_per_joint(rng):
    params = _params(rng, "pose")
    params["sigma"] = rng.uniform(0.1, 0.3, size=(5, 3, 4))
    arrays = MixtureArrays.from_params(params)
    per_joint = arrays.per_joint()
    assert per_joint.level == "pose"
    np.testing.assert_array_equal(per_joint.sigma, params["sigma"])
    for node in range(4):
        np.testing.assert_array_equal(per_joint.log_pi[:, :, node], arrays.log_pi)
