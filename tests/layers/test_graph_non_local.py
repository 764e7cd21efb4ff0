import numpy as np
import pytest

from graphmdn_tf import Graph, GraphNonLocal, h36m_graph
from tests import numpy_reference as ref
from tests.layer_checks import run_layer_checks


def _chain_of_four():
    return Graph(4, ((0, 1), (1, 2), (2, 3)))


def _six_nodes_in_groups_of_three():
    return Graph(6, ((0, 1), (1, 2), (2, 3), (3, 4), (4, 5)), node_groups=((5, 0, 2), (1, 3, 4)))


@pytest.mark.parametrize(
    "make_graph, inter_dim, channels, inter, order, group_size",
    [
        (
            h36m_graph,
            None,
            8,
            4,
            None,
            2,
        ),  # the skeleton's joint pairs; inter_dim defaults to channels // 2
        (
            _chain_of_four,
            3,
            6,
            3,
            [0, 1, 2, 3],
            1,
        ),  # no groups: no pooling, the nodes in their own order
        (_six_nodes_in_groups_of_three, None, 4, 2, None, 3),
    ],
    ids=["joint_groups", "without_groups", "groups_of_three"],
)
def test_matches_reference_algorithm(
    rng, make_graph, inter_dim, channels, inter, order, group_size
):
    graph = make_graph()
    layer = GraphNonLocal(graph, inter_dim=inter_dim)
    x = rng.normal(size=(3, graph.num_nodes, channels)).astype("float32")
    layer.build(x.shape)
    params = ref.random_non_local_params(rng, channels=channels, inter=inter)
    ref.set_non_local_weights(layer, params)
    order = graph.grouped_order if order is None else order
    expected = ref.non_local(x.astype(np.float64), params, order, group_size=group_size)
    np.testing.assert_allclose(layer(x, training=False).numpy(), expected, atol=1e-4, rtol=1e-5)


def test_identity_at_initialisation(rng):
    # The output BatchNorm starts with zero scale and offset, so the block is the identity.
    layer = GraphNonLocal(h36m_graph())
    x = rng.normal(size=(3, 16, 10)).astype("float32")
    np.testing.assert_allclose(layer(x, training=False).numpy(), x, atol=1e-6)
    np.testing.assert_allclose(layer(x, training=True).numpy(), x, atol=1e-6)


def test_standard_layer_checks(tmp_path):
    c, i = 8, 4
    # Trainable: theta/g/phi kernels and biases, concat projection, output kernel and bias, BatchNorm gamma
    # and beta; non-trainable: BatchNorm's moving mean and variance.
    run_layer_checks(
        lambda: GraphNonLocal(h36m_graph()),
        (16, c),
        tmp_path,
        expected_num_trainable_weights=6 + 1 + 2 + 2,
        expected_num_non_trainable_weights=2,
        expected_trainable_params=3 * (c * i + i) + 2 * i + i * c + c + 2 * c,
        expected_non_trainable_params=2 * c,
    )


def test_bad_inputs_raise():
    with pytest.raises(
        ValueError, match=r"Expected 16 nodes .* Received: input_shape=\(None, 12, 8\)"
    ):
        GraphNonLocal(h36m_graph()).build((None, 12, 8))
    with pytest.raises(ValueError, match="Expected inter_dim to be None or a positive integer"):
        GraphNonLocal(h36m_graph(), inter_dim=0)
