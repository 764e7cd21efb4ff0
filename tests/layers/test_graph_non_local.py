import numpy as np
import pytest

from graphmdn_tf import Graph, GraphNonLocal, h36m_graph
from tests import numpy_reference as ref
from tests.layer_checks import run_layer_checks


def test_matches_reference_algorithm_with_joint_groups(rng):
    graph = h36m_graph()
    layer = GraphNonLocal(graph)
    x = rng.normal(size=(6, 16, 8)).astype("float32")
    layer.build(x.shape)
    params = ref.random_non_local_params(rng, channels=8, inter=4)
    ref.set_non_local_weights(layer, params)
    expected = ref.non_local(x.astype(np.float64), params, graph.grouped_order, group_size=2)
    np.testing.assert_allclose(layer(x, training=False).numpy(), expected, atol=1e-4, rtol=1e-5)


def test_matches_reference_algorithm_without_groups(rng):
    graph = Graph(4, ((0, 1), (1, 2), (2, 3)))
    layer = GraphNonLocal(graph, inter_dim=3)
    x = rng.normal(size=(2, 4, 6)).astype("float32")
    layer.build(x.shape)
    params = ref.random_non_local_params(rng, channels=6, inter=3)
    ref.set_non_local_weights(layer, params)
    expected = ref.non_local(x.astype(np.float64), params, [0, 1, 2, 3], group_size=1)
    np.testing.assert_allclose(layer(x, training=False).numpy(), expected, atol=1e-4, rtol=1e-5)


def test_identity_at_initialisation(rng):
    # The output BatchNorm starts with zero scale and offset, so the block is the identity.
    layer = GraphNonLocal(h36m_graph())
    x = rng.normal(size=(3, 16, 10)).astype("float32")
    np.testing.assert_allclose(layer(x, training=False).numpy(), x, atol=1e-6)
    np.testing.assert_allclose(layer(x, training=True).numpy(), x, atol=1e-6)


def test_groups_of_three(rng):
    graph = Graph(6, ((0, 1), (1, 2), (2, 3), (3, 4), (4, 5)), node_groups=((5, 0, 2), (1, 3, 4)))
    layer = GraphNonLocal(graph)
    x = rng.normal(size=(2, 6, 4)).astype("float32")
    layer.build(x.shape)
    params = ref.random_non_local_params(rng, channels=4, inter=2)
    ref.set_non_local_weights(layer, params)
    expected = ref.non_local(x.astype(np.float64), params, graph.grouped_order, group_size=3)
    np.testing.assert_allclose(layer(x, training=False).numpy(), expected, atol=1e-4, rtol=1e-5)


def test_standard_layer_checks(tmp_path):
    c, i = 8, 4
    # Trainable: theta/g/phi kernels and biases, concat projection, output kernel and bias, BatchNorm gamma
    # and beta; non-trainable: BatchNorm's moving mean and variance.
    run_layer_checks(
        lambda: GraphNonLocal(h36m_graph()), (16, c), tmp_path,
        expected_num_trainable_weights=6 + 1 + 2 + 2, expected_num_non_trainable_weights=2,
        expected_trainable_params=3 * (c * i + i) + 2 * i + i * c + c + 2 * c, expected_non_trainable_params=2 * c,
    )


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match=r"Expected 16 nodes .* Received: input_shape=\(None, 12, 8\)"):
        GraphNonLocal(h36m_graph()).build((None, 12, 8))
    with pytest.raises(ValueError, match="Expected inter_dim to be None or a positive integer"):
        GraphNonLocal(h36m_graph(), inter_dim=0)
