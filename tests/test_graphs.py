"""The Graph type: edges, adjacency with self loops, node groups, config round trips, bad inputs."""

import json

import numpy as np
import pytest

from graphmdn_tf.graphs import Graph, as_graph, check_node_count
from graphmdn_tf.skeletons import h36m_graph
from tests.data.facts import load_facts


@pytest.fixture(scope="module")
def facts(shared_dir):
    return load_facts(shared_dir)


def test_h36m_graph_edges_match_facts(facts):
    graph = h36m_graph()
    assert graph.num_nodes == 16
    assert set(graph.edges) == set(facts.edges16())
    assert len(graph.edges) == 15


def test_adjacency_with_self_loops_degrees_match_facts(facts):
    graph = h36m_graph()
    adjacency = graph.adjacency()
    np.testing.assert_array_equal(adjacency, adjacency.T)
    np.testing.assert_array_equal(np.diag(adjacency), np.zeros(16))
    # Independent construction from the facts' edge list.
    expected = np.eye(16, dtype=np.float32)
    for child, parent in facts.edges16():
        expected[child, parent] = expected[parent, child] = 1.0
    a_hat = graph.adjacency_with_self_loops()
    np.testing.assert_array_equal(a_hat, expected)
    np.testing.assert_array_equal(a_hat.sum(axis=1), facts.value(7, "deg(A+I)"))
    assert a_hat.dtype == np.float32


def test_normalized_adjacency_rows(facts):
    normalized = h36m_graph().normalized_adjacency()
    np.testing.assert_allclose(normalized.sum(axis=1), np.ones(16), rtol=1e-6)
    thorax = np.zeros(16)
    thorax[[7, 8, 9, 10, 13]] = 0.2  # facts section 7: row 8 = 0.2 on {7, 8, 9, 10, 13}
    np.testing.assert_allclose(normalized[8], thorax, rtol=1e-6)
    degrees = np.array(facts.value(7, "deg(A+I)"), dtype=np.float32)
    np.testing.assert_allclose(
        normalized, h36m_graph().adjacency_with_self_loops() / degrees[:, None], rtol=1e-6
    )


def test_grouped_order_and_group_size_match_facts(facts):
    graph = h36m_graph()
    assert graph.grouped_order == facts.value(6, "grouped_order")
    assert graph.group_size == 2
    assert [list(group) for group in graph.node_groups] == facts.value(6, "joints_group")
    # restored_order inverts grouped_order (facts section 6).
    restored = facts.value(6, "restored_order")
    assert [graph.grouped_order[index] for index in restored] == list(range(16))


def test_graph_without_groups_and_custom_graph():
    chain = Graph.from_parents([-1, 0, 1, 2])
    np.testing.assert_array_equal(chain.adjacency_with_self_loops().sum(axis=1), [2, 3, 3, 2])
    assert chain.group_size == 1 and chain.grouped_order == [0, 1, 2, 3]
    triangle = Graph(3, ((0, 1), (1, 2), (2, 0)), node_names=("a", "b", "c"))
    np.testing.assert_array_equal(triangle.adjacency(), np.ones((3, 3)) - np.eye(3))


def test_config_round_trip_is_json_safe():
    graph = h36m_graph()
    config = json.loads(json.dumps(graph.get_config()))
    assert Graph.from_config(config) == graph
    assert as_graph(config) == graph
    assert as_graph(graph) is graph


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_nodes": 0}, r"num_nodes to be an integer in \[1, 4096\]"),
        ({"num_nodes": -2}, r"num_nodes to be an integer in \[1, 4096\]"),
        ({"num_nodes": "3"}, r"num_nodes to be an integer in \[1, 4096\]"),
        (
            {"num_nodes": 4097},
            r"num_nodes to be an integer in \[1, 4096\].*Received: num_nodes=4097",
        ),
        ({"num_nodes": 3, "edges": ((0, 3),)}, r"edge node indices in \[0, 3\)"),
        ({"num_nodes": 3, "edges": ((-1, 0),)}, r"edge node indices in \[0, 3\)"),
        ({"num_nodes": 3, "edges": ((1, 1),)}, "Self loops are added by the layers"),
        ({"num_nodes": 3, "edges": ((0, 1), (1, 0))}, "Duplicate edge"),
        ({"num_nodes": 3, "edges": ((0, 1, 2),)}, "each edge to be a pair"),
        ({"num_nodes": 4, "node_groups": ((0, 1), (1, 2))}, "partition the nodes"),
        ({"num_nodes": 4, "node_groups": ((0, 1), (2,))}, "partition the nodes"),
        ({"num_nodes": 4, "node_groups": ((0, 1, 2), (3,))}, "equal size"),
        ({"num_nodes": 3, "node_names": ("a", "b")}, "Expected 3 node_names"),
    ],
)
def test_bad_graphs_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Graph(**kwargs)


def test_bad_parents_and_types_raise():
    with pytest.raises(ValueError, match="Parent index 5 of node 1 is out of range"):
        Graph.from_parents([-1, 5])
    with pytest.raises(TypeError, match="Expected a graphmdn_tf.Graph or its config dict"):
        as_graph([[0, 1]])


def test_check_node_count():
    graph = h36m_graph()
    check_node_count(graph, (None, 16, 2))
    check_node_count(graph, (None, None, 2))
    with pytest.raises(
        ValueError, match=r"Expected 16 nodes .* Received: input_shape=\(None, 17, 2\)"
    ):
        check_node_count(graph, (None, 17, 2))
    with pytest.raises(ValueError, match=r"rank-3 input .* Received: inputs=\(16, 2\)"):
        check_node_count(graph, (16, 2), argument="inputs")
