import math

import numpy as np
import pytest

from graphmdn_tf import Graph, SemGraphConv, h36m_graph
from tests import numpy_reference as ref
from tests.layer_checks import run_layer_checks


def test_matches_numpy_formula_with_random_edge_logits(rng):
    graph = h36m_graph()
    layer = SemGraphConv(graph, units=7)
    x = rng.normal(size=(5, 16, 3)).astype("float32")
    layer.build(x.shape)
    kernel = rng.normal(size=(2, 3, 7))
    edges = rng.normal(size=layer.num_edges)
    bias = rng.normal(size=7)
    layer.self_kernel.assign(kernel[0])
    layer.neighbor_kernel.assign(kernel[1])
    layer.edge_logits.assign(edges)
    layer.bias.assign(bias)
    expected = ref.sem_graph_conv(
        x.astype(np.float64), kernel, edges, bias, graph.adjacency_with_self_loops()
    )
    np.testing.assert_allclose(layer(x).numpy(), expected, atol=1e-5)


def test_initial_edge_weights_equal_row_normalised_adjacency():
    graph = h36m_graph()
    layer = SemGraphConv(graph, units=4)
    layer.build((None, 16, 2))
    assert layer.num_edges == 46  # 16 self loops + 2 * 15 edges
    np.testing.assert_allclose(
        layer.edge_weights().numpy(), graph.normalized_adjacency(), atol=1e-6
    )
    # Thorax (node 8) has 5 neighbours in A + I: weights 0.2 each (h36m_facts.txt section 7).
    np.testing.assert_allclose(layer.edge_weights().numpy()[8][[7, 8, 9, 10, 13]], 0.2, atol=1e-6)


def test_reference_initialisation_bounds():
    layer = SemGraphConv(h36m_graph(), units=128)
    layer.build((None, 16, 128))
    bound = 1.414 * math.sqrt(6.0 / ((128 + 2) * 128))
    kernel = layer.self_kernel.numpy()
    assert np.abs(kernel).max() <= bound
    # A uniform on [-a, a] has standard deviation a / sqrt(3).
    assert abs(kernel.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert np.abs(layer.bias.numpy()).max() <= 1 / math.sqrt(128)
    np.testing.assert_array_equal(layer.edge_logits.numpy(), 1.0)


def test_self_and_neighbour_kernels_start_independent():
    # The reference draws its [2, in, out] tensor at once, so W0 and W1 start unrelated. A shared Keras
    # initializer instance would return the same values twice and start W0 = W1 (a plain GCN).
    layer = SemGraphConv(h36m_graph(), units=128)
    layer.build((None, 16, 128))
    self_kernel, neighbor_kernel = (
        layer.self_kernel.numpy().ravel(),
        layer.neighbor_kernel.numpy().ravel(),
    )
    assert (
        abs(np.corrcoef(self_kernel, neighbor_kernel)[0, 1]) < 0.02
    )  # 16,384 pairs: |r| ~ 0.008 by chance
    bound = 1.414 * math.sqrt(6.0 / ((128 + 2) * 128))
    assert abs(neighbor_kernel.std() - bound / math.sqrt(3)) < 0.05 * bound


@pytest.mark.parametrize(
    "initializer", ["glorot_uniform", {"class_name": "GlorotUniform", "config": {"seed": 7}}]
)
def test_a_users_initializer_also_draws_the_two_kernels_independently(initializer):
    import keras

    def make():
        return SemGraphConv(
            h36m_graph(), units=64, kernel_initializer=keras.initializers.get(initializer)
        )

    layer = make()
    layer.build((None, 16, 64))
    assert not np.allclose(layer.self_kernel.numpy(), layer.neighbor_kernel.numpy())
    if isinstance(initializer, dict):  # seeded: the same values on every build
        again = make()
        again.build((None, 16, 64))
        np.testing.assert_array_equal(again.neighbor_kernel.numpy(), layer.neighbor_kernel.numpy())


def test_general_graph_without_groups(rng):
    ring = Graph(5, ((0, 1), (1, 2), (2, 3), (3, 4), (4, 0)))
    layer = SemGraphConv(ring, units=2)
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    out = layer(x)
    kernel = np.stack([layer.self_kernel.numpy(), layer.neighbor_kernel.numpy()])
    expected = ref.sem_graph_conv(
        x, kernel, layer.edge_logits.numpy(), layer.bias.numpy(), ring.adjacency_with_self_loops()
    )
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)


def test_standard_layer_checks(tmp_path):
    # weights: 2 kernels 2x8, 46 edge logits, 8 biases; all trainable
    run_layer_checks(
        lambda: SemGraphConv(h36m_graph(), units=8),
        (16, 2),
        tmp_path,
        expected_num_trainable_weights=4,
        expected_num_non_trainable_weights=0,
        expected_trainable_params=2 * 2 * 8 + 46 + 8,
        expected_non_trainable_params=0,
    )


@pytest.mark.parametrize(
    "shape, message",
    [
        (
            (4, 16),
            r"rank-3 input \[batch, nodes, features\] with 16 nodes\. Received: input_shape=\(4, 16\)",
        ),
        (
            (4, 17, 2),
            r"Expected 16 nodes to match the graph's adjacency \(16, 16\)\. Received: input_shape=\(4, 17, 2\)",
        ),
        ((4, 15, 2, 1), r"rank-3 input"),
    ],
)
def test_bad_input_shapes_raise(shape, message):
    with pytest.raises(ValueError, match=message):
        SemGraphConv(h36m_graph(), units=4).build(shape)


@pytest.mark.parametrize("units", [0, -3, 2.5, "8"])
def test_bad_units_raise(units):
    with pytest.raises(ValueError, match="Expected units to be a positive integer"):
        SemGraphConv(h36m_graph(), units=units)
