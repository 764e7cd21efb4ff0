import numpy as np
import pytest
import tensorflow as tf

from graphmdn_tf import hypotheses, mixture_distribution, mixture_nll
from tests import numpy_reference as ref


def _params(rng, mixture, batch=6, kernels=4, nodes=16, dims=3):
    per_kernel = (batch, kernels) if mixture == "pose" else (batch, kernels, nodes)
    return {
        "mu": rng.uniform(-0.8, 0.8, size=(batch, kernels, nodes, dims)).astype("float32"),
        "sigma": rng.uniform(0.05, 0.5, size=per_kernel).astype("float32"),
        "pi_logits": rng.normal(size=per_kernel).astype("float32"),
    }


def test_pose_level_log_prob_is_eq9(rng):
    params = _params(rng, "pose")
    y = rng.uniform(-0.8, 0.8, size=(6, 16, 3)).astype("float32")
    expected = ref.pose_level_nll(
        y.astype(np.float64), *(params[k].astype(np.float64) for k in ("mu", "sigma", "pi_logits"))
    )
    got = -mixture_distribution(params).log_prob(y).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    np.testing.assert_allclose(mixture_nll(y, params).numpy(), expected.mean(), rtol=1e-5)


def test_node_level_log_prob_is_eq5(rng):
    params = _params(rng, "node")
    y = rng.uniform(-0.8, 0.8, size=(6, 16, 3)).astype("float32")
    expected = ref.node_level_nll(
        y.astype(np.float64), *(params[k].astype(np.float64) for k in ("mu", "sigma", "pi_logits"))
    )
    got = -mixture_distribution(params).log_prob(y).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_pose_level_with_a_sigma_per_joint_is_one_kernel_choice_per_pose(rng):
    params = _params(rng, "pose")
    params["sigma"] = rng.uniform(0.05, 0.5, size=(6, 4, 16)).astype("float32")
    y = rng.uniform(-0.8, 0.8, size=(6, 16, 3)).astype("float64")
    mu, sigma = params["mu"].astype(np.float64), params["sigma"].astype(np.float64)
    logits = params["pi_logits"].astype(np.float64)
    log_pi = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    squared = np.sum((y[:, None] - mu) ** 2, axis=-1)  # [B, M, N]
    log_kernel = np.sum(
        -1.5 * np.log(2 * np.pi) - 3 * np.log(sigma) - squared / (2 * sigma**2), axis=-1
    )  # product over joints: one kernel for the whole pose
    terms = log_pi + log_kernel
    peak = terms.max(axis=1)
    expected = -(peak + np.log(np.exp(terms - peak[:, None]).sum(axis=1)))
    got = -mixture_distribution(params).log_prob(y.astype("float32")).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    uniform = {**params, "sigma": params["sigma"][:, :, 0]}
    tiled = {**uniform, "sigma": np.repeat(uniform["sigma"][:, :, None], 16, axis=2)}
    np.testing.assert_allclose(
        mixture_distribution(tiled).log_prob(y.astype("float32")).numpy(),
        mixture_distribution(uniform).log_prob(y.astype("float32")).numpy(),
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match=r"Expected sigma of shape \(6, 4, 16\) to match mu"):
        mixture_distribution({**params, "sigma": params["sigma"][:, :, :15]})


def test_sample_weights_give_weighted_mean(rng):
    params = _params(rng, "pose", batch=4)
    y = rng.uniform(-0.5, 0.5, size=(4, 16, 3)).astype("float32")
    per_example = -mixture_distribution(params).log_prob(y).numpy()
    weights = np.array([1.0, 0.0, 2.0, 1.0], "float32")
    np.testing.assert_allclose(
        mixture_nll(y, params, weights).numpy(), (per_example * weights).sum() / 4.0, rtol=1e-5
    )


@pytest.mark.parametrize("mixture", ["pose", "node"])
def test_shapes_of_samples_and_mean(rng, mixture):
    params = _params(rng, mixture)
    dist = mixture_distribution(params)
    assert dist.batch_shape == (6,) and dist.event_shape == (16, 3)
    assert dist.sample(7, seed=1).shape == (7, 6, 16, 3)
    np.testing.assert_allclose(dist.mean().numpy(), hypotheses.mean(params).numpy(), atol=1e-6)


def test_samples_follow_the_mixture(rng):
    # Two well separated pose kernels, pi = (0.25, 0.75): sample frequencies and spread match.
    mu = np.zeros((1, 2, 16, 3), "float32")
    mu[0, 1] += 0.5
    params = {
        "mu": mu,
        "sigma": np.array([[0.01, 0.02]], "float32"),
        "pi_logits": np.log([[0.25, 0.75]]).astype("float32"),
    }
    samples = mixture_distribution(params).sample(4000, seed=7).numpy()[:, 0]  # [S, 16, 3]
    from_second = samples.mean(axis=(1, 2)) > 0.25
    assert abs(from_second.mean() - 0.75) < 0.03
    assert abs(samples[from_second].std() - 0.02) < 0.002
    assert abs(samples[~from_second].std() - 0.01) < 0.001


@pytest.mark.parametrize("mixture", ["pose", "node"])
def test_loss_and_gradients_stay_finite_for_extreme_inputs(rng, mixture):
    params = _params(rng, mixture)
    params["pi_logits"] = (params["pi_logits"] * 1e4).astype("float32")  # saturated softmax
    params["sigma"] = np.full_like(params["sigma"], 1e-4)  # the head's sigma floor
    y = np.full((6, 16, 3), 50.0, "float32")  # 50 m away from every mean
    tensors = {k: tf.Variable(v) for k, v in params.items()}
    with tf.GradientTape() as tape:
        loss = mixture_nll(y, tensors)
    grads = tape.gradient(loss, list(tensors.values()))
    assert np.isfinite(loss.numpy())
    assert all(np.isfinite(g.numpy()).all() for g in grads)


def test_mismatched_parameter_shapes_raise(rng):
    params = _params(rng, "pose")
    with pytest.raises(
        ValueError,
        match=r"Expected sigma of shape \(6, 4\) to match mu.shape=\(6, 4, 16, 3\) at pose level",
    ):
        mixture_distribution({**params, "sigma": params["sigma"][:, :3]})
    with pytest.raises(
        ValueError,
        match=r"Expected pi_logits of shape \[batch, kernels\] .* Received: pi_logits.shape=\(6,\)",
    ):
        mixture_distribution({**params, "pi_logits": params["pi_logits"][:, 0]})
    with pytest.raises(ValueError, match=r"Missing: \['sigma'\]"):
        mixture_distribution({"mu": params["mu"], "pi_logits": params["pi_logits"]})
    with pytest.raises(ValueError, match=r"Expected targets of shape \[batch, 16, 3\] to match mu"):
        mixture_nll(np.zeros((6, 17, 3), "float32"), params)
