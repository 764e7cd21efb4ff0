"""FoldedForward: the default export's forward pass equals the model's at inference, for every model shape."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from graphmdn_tf.data.robot_arm import arm_graph
from graphmdn_tf.folded import FoldedForward, batch_norm_affine
from graphmdn_tf.graphs import Graph
from graphmdn_tf.models import GraphMDN, SemGCN
from graphmdn_tf.skeletons import h36m_graph

# float32 rounding of folded (reassociated) products over a few layers; the outputs are O(1).
TOLERANCE = 2e-5


def _randomise_batch_norms(model, rng):
    """Moving statistics and affine parameters away from their initial values (the BN is folded, so it must
    not be the identity when the fold is tested); the non-local blocks' zero-initialised scales included."""
    for variable in model.variables:
        name = variable.path
        if "moving_variance" in name or "gamma" in name:
            variable.assign(rng.uniform(0.5, 2.0, variable.shape).astype(np.float32))
        elif "moving_mean" in name or "beta" in name:
            variable.assign(rng.normal(0.0, 0.3, variable.shape).astype(np.float32))


def _model(kind, rng, **overrides):
    arguments = {"hidden_dim": 24, "num_blocks": 2, **overrides}
    model = (
        SemGCN(**arguments)
        if kind == "semgcn"
        else GraphMDN(num_kernels=3, mixture_level=kind, **arguments)
    )
    graph = model.graph
    model(np.zeros((1, graph.num_nodes, model.input_dim), np.float32))
    _randomise_batch_norms(model, rng)
    return model


def _assert_same(model, inputs):
    expected = keras.tree.map_structure(np.asarray, model(inputs, training=False))
    folded = keras.tree.map_structure(
        np.asarray, tf.function(FoldedForward(model))(tf.constant(inputs))
    )
    keras.tree.assert_same_structure(expected, folded)
    for want, got in zip(keras.tree.flatten(expected), keras.tree.flatten(folded)):
        assert got.shape == want.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE)


def _groups_of_four() -> Graph:
    """The Human3.6M skeleton with its nodes in four groups of four, members scattered over the node axis."""
    skeleton = h36m_graph()
    order = np.random.default_rng(0).permutation(skeleton.num_nodes)
    return Graph(skeleton.num_nodes, skeleton.edges, tuple(map(tuple, order.reshape(4, 4))))


@pytest.mark.parametrize("kind", ["pose", "node", "semgcn"])
@pytest.mark.parametrize("batch", [0, 1, 37])
def test_folded_forward_equals_the_model_at_inference(kind, batch, rng):
    model = _model(kind, rng)
    _assert_same(model, rng.uniform(-1, 1, (batch, 16, 2)).astype(np.float32))


@pytest.mark.parametrize("kind", ["pose", "node"])
def test_folded_forward_applies_a_calibrated_models_sigma_scale(kind, rng):
    model = _model(kind, rng)
    calibrated = model.with_sigma_scale(rng.uniform(0.5, 2.0, size=(model.num_kernels, 16)))
    _assert_same(calibrated, rng.uniform(-1, 1, (7, 16, 2)).astype(np.float32))


@pytest.mark.parametrize(
    "overrides",
    [
        {"non_local": False},
        {"num_blocks": 0},
        {
            "graph": arm_graph(3, num_arms=2),
            "input_dim": 3,
            "target_dim": 2,
        },  # no node groups, other dimensions
        {"graph": _groups_of_four()},  # the max-pool over more than two members per group
    ],
)
def test_folded_forward_covers_other_backbones_and_graphs(overrides, rng):
    model = _model("pose", rng, **overrides)
    nodes = model.graph.num_nodes
    _assert_same(model, rng.uniform(-1, 1, (9, nodes, model.input_dim)).astype(np.float32))


@pytest.mark.parametrize("batch", [0, 5])
def test_folded_forward_keeps_a_per_joint_sigma(batch, rng):
    model = _model("pose", rng, sigma_per_joint=True)
    inputs = rng.uniform(-1, 1, (batch, 16, 2)).astype(np.float32)
    _assert_same(model, inputs)
    assert FoldedForward(model)(inputs)["sigma"].shape == (batch, 3, 16)


def test_batch_norm_affine_is_the_inference_batch_norm(rng):
    norm = keras.layers.BatchNormalization(epsilon=1e-3)
    norm.build((None, 5))
    _randomise_batch_norms(norm, rng)
    x = rng.normal(size=(4, 5)).astype(np.float32)
    scale, shift = batch_norm_affine(norm)
    np.testing.assert_allclose(scale * x + shift, np.asarray(norm(x, training=False)), atol=1e-6)
    plain = keras.layers.BatchNormalization(center=False, scale=False)
    plain.build((None, 5))
    scale, shift = batch_norm_affine(plain)
    np.testing.assert_allclose(
        scale, 1 / np.sqrt(1 + plain.epsilon)
    ) and np.testing.assert_array_equal(shift, 0)


def test_folded_weights_are_a_snapshot_and_not_trainable(rng):
    model = _model("pose", rng)
    folded = FoldedForward(model)
    inputs = rng.uniform(-1, 1, (4, 16, 2)).astype(np.float32)
    before = np.asarray(folded(inputs)["mu"])
    model.set_weights([weight * 1.5 for weight in model.get_weights()])
    np.testing.assert_array_equal(
        np.asarray(folded(inputs)["mu"]), before
    )  # made from the weights at the time
    assert folded.trainable_variables == () and len(folded.variables) > 0
    with pytest.raises(ValueError, match="Expected a built GraphPoseModel"):
        FoldedForward(GraphMDN(hidden_dim=8, num_blocks=1))
    with pytest.raises(ValueError, match="Expected a built GraphPoseModel"):
        FoldedForward(keras.Sequential([keras.layers.Dense(2)]))


@pytest.mark.parametrize("kind", ["pose", "node", "semgcn"])
def test_folded_graph_neither_concatenates_nor_scales_the_activations(kind, rng):
    """What makes the default export fast on TF's graph executor (docs/benchmarks.md): every graph convolution
    is one mixing product, a split and two products; no ConcatV2 or Mul pass over the activations."""
    model = _model(kind, rng)
    concrete = tf.function(FoldedForward(model)).get_concrete_function(
        tf.TensorSpec([None, 16, 2], tf.float32)
    )
    op_types = [op.type for op in concrete.graph.get_operations()]
    convolutions = 2 + 2 * len(
        model.backbone.residual_blocks
    )  # input, two per residual block, output
    assert "ConcatV2" not in op_types and "Mul" not in op_types
    assert op_types.count("Split") == convolutions
