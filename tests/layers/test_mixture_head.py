import numpy as np
import pytest

from graphmdn_tf import GraphMixtureHead, h36m_graph
from tests import numpy_reference as ref
from tests.layer_checks import run_layer_checks


def _raw_projection(head, x):
    conv = head.projection
    kernel = np.stack([conv.self_kernel.numpy(), conv.neighbor_kernel.numpy()])
    return ref.sem_graph_conv(
        x,
        kernel,
        conv.edge_logits.numpy(),
        conv.bias.numpy(),
        conv.graph.adjacency_with_self_loops(),
    )


def _elu_plus_one(v):
    return np.where(v > 0, v, np.expm1(v)) + 1.0


@pytest.mark.parametrize("mixture_level", ["pose", "node"])
@pytest.mark.parametrize("target_dim", [3, 2])
def test_activations_match_numpy(rng, mixture_level, target_dim):
    k = 4
    head = GraphMixtureHead(
        h36m_graph(), num_kernels=k, target_dim=target_dim, mixture_level=mixture_level
    )
    x = rng.normal(size=(5, 16, 6)).astype("float32")
    out = head(x)
    raw = _raw_projection(head, x)  # [B, N, (D+2)K]: D*K means | K sigma logits | K pi logits
    means = np.tanh(raw[..., : target_dim * k].reshape(5, 16, k, target_dim)).transpose(0, 2, 1, 3)
    sigma_logits = raw[..., target_dim * k : (target_dim + 1) * k]
    pi_logits = raw[..., (target_dim + 1) * k :]
    np.testing.assert_allclose(out["mu"].numpy(), means, atol=1e-5)
    if mixture_level == "pose":
        np.testing.assert_allclose(
            out["sigma"].numpy(), _elu_plus_one(sigma_logits.mean(axis=1)), atol=1e-5
        )
        np.testing.assert_allclose(out["pi_logits"].numpy(), pi_logits.mean(axis=1), atol=1e-5)
    else:
        np.testing.assert_allclose(
            out["sigma"].numpy(), _elu_plus_one(sigma_logits).transpose(0, 2, 1), atol=1e-5
        )
        np.testing.assert_allclose(
            out["pi_logits"].numpy(), pi_logits.transpose(0, 2, 1), atol=1e-5
        )


def test_per_joint_sigma_is_elu_plus_one_of_each_nodes_logit(rng):
    k = 3
    head = GraphMixtureHead(h36m_graph(), num_kernels=k, sigma_per_joint=True)
    x = rng.normal(size=(4, 16, 6)).astype("float32")
    out = head(x)
    raw = _raw_projection(head, x)
    sigma_logits = raw[..., 3 * k : 4 * k]  # [B, N, K]
    assert tuple(out["sigma"].shape) == (4, k, 16)
    np.testing.assert_allclose(
        out["sigma"].numpy(), _elu_plus_one(sigma_logits).transpose(0, 2, 1), atol=1e-5
    )
    # The kernel is still one choice per pose, its weight the node average, as without the option.
    np.testing.assert_allclose(out["pi_logits"].numpy(), raw[..., 4 * k :].mean(axis=1), atol=1e-5)
    assert head.compute_output_shape((4, 16, 6))["sigma"] == (4, k, 16)


def test_per_joint_sigma_has_the_floor_and_survives_get_config(rng):
    head = GraphMixtureHead(h36m_graph(), num_kernels=2, sigma_per_joint=True, min_sigma=1e-3)
    x = np.ones((2, 16, 3), "float32")
    head.build(x.shape)
    head.projection.bias.assign(np.full(head.projection.bias.shape, -1e4))
    np.testing.assert_allclose(head(x)["sigma"].numpy(), 1e-3)
    config = head.get_config()
    assert config["sigma_per_joint"] is True
    assert GraphMixtureHead.from_config(config).sigma_per_joint is True
    del config["sigma_per_joint"]  # a head saved before the option existed
    assert GraphMixtureHead.from_config(config).sigma_per_joint is False


def test_sigma_floor_for_extreme_logits():
    head = GraphMixtureHead(h36m_graph(), num_kernels=2, mixture_level="node", min_sigma=1e-4)
    x = np.full((2, 16, 3), 1.0, "float32")
    head.build(x.shape)
    head.projection.bias.assign(np.full(head.projection.bias.shape, -1e4))
    sigma = head(x)["sigma"].numpy()
    np.testing.assert_allclose(sigma, 1e-4)


def test_head_stays_float32_under_mixed_precision(rng):
    import keras

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        head = GraphMixtureHead(h36m_graph(), num_kernels=3)
        out = head(rng.normal(size=(2, 16, 8)).astype("float16"))
        assert {keras.backend.standardize_dtype(v.dtype) for v in out.values()} == {"float32"}
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("mixture_level", ["pose", "node"])
def test_standard_layer_checks(tmp_path, mixture_level):
    # One SemGraphConv to (3 + 2) * 3 = 15 features: 2 kernels 8x15, 46 edge logits, 15 biases.
    run_layer_checks(
        lambda: GraphMixtureHead(h36m_graph(), 3, mixture_level=mixture_level),
        (16, 8),
        tmp_path,
        expected_num_trainable_weights=4,
        expected_num_non_trainable_weights=0,
        expected_trainable_params=2 * 8 * 15 + 46 + 15,
        expected_non_trainable_params=0,
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"mixture_level": "graph"},
            r"Expected mixture_level to be one of \('pose', 'node'\)\. "
            r"Received: mixture_level='graph'",
        ),
        ({"num_kernels": 0}, "Expected num_kernels to be a positive integer"),
        ({"target_dim": -1}, "Expected target_dim to be a positive integer"),
        ({"min_sigma": 0.0}, "Expected min_sigma > 0"),
        (
            {"mixture_level": "node", "sigma_per_joint": True},
            r"Expected sigma_per_joint only with mixture_level='pose' .*Received: "
            r"sigma_per_joint=True, mixture_level='node'",
        ),
        ({"sigma_per_joint": "yes"}, "Expected sigma_per_joint to be True or False"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    arguments = {"num_kernels": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        GraphMixtureHead(h36m_graph(), **arguments)
