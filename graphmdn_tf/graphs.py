"""Graphs the models run on: nodes, undirected edges, optional node groups.

A `Graph` is plain, immutable data. The layers take one as a constructor argument and
serialise it through `Graph.get_config()` (an edge list), so any graph, not only the human
skeleton, can be used with every layer and model in this package.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

#: The largest graph the layers accept: they use dense [nodes, nodes] matrices (4096^2 float32 = 64 MiB).
MAX_NODES = 4096


@dataclass(frozen=True)
class Graph:
    """An undirected graph with `num_nodes` nodes, given by its edges.

    Args:
        num_nodes: number of nodes (>= 1).
        edges: pairs `(i, j)` of node indices; direction is ignored, duplicates are rejected.
        node_groups: optional partition of the nodes into groups of equal size, used by
            `GraphNonLocal` to max-pool its key/value branches over each group (SemGCN's
            "joint groups"). `None` means every node is its own group.
        node_names: optional names, one per node (for plots and error messages).

    Example:
        >>> chain = Graph.from_parents([-1, 0, 1, 2])
        >>> chain.adjacency_with_self_loops().sum(axis=1)
        array([2., 3., 3., 2.], dtype=float32)
    """

    num_nodes: int
    edges: tuple = field(default_factory=tuple)
    node_groups: tuple | None = None
    node_names: tuple | None = None

    def __post_init__(self):
        if (
            not isinstance(self.num_nodes, (int, np.integer))
            or not 1 <= self.num_nodes <= MAX_NODES
        ):
            raise ValueError(
                f"Expected num_nodes to be an integer in [1, {MAX_NODES}] (the layers hold dense [nodes, nodes] "
                f"matrices). Received: num_nodes={self.num_nodes!r}"
            )
        object.__setattr__(self, "num_nodes", int(self.num_nodes))
        edges = tuple(tuple(int(v) for v in edge) for edge in self.edges)
        seen = set()
        for edge in edges:
            if len(edge) != 2:
                raise ValueError(f"Expected each edge to be a pair (i, j). Received: edge={edge!r}")
            i, j = edge
            if not (0 <= i < self.num_nodes and 0 <= j < self.num_nodes):
                raise ValueError(
                    f"Expected edge node indices in [0, {self.num_nodes}). Received: edge={edge!r}"
                )
            if i == j:
                raise ValueError(
                    f"Self loops are added by the layers; do not list them. Received: edge={edge!r}"
                )
            key = (min(i, j), max(i, j))
            if key in seen:
                raise ValueError(f"Duplicate edge {edge!r} (edges are undirected).")
            seen.add(key)
        object.__setattr__(self, "edges", edges)
        if self.node_groups is not None:
            groups = tuple(tuple(int(v) for v in group) for group in self.node_groups)
            flat = sorted(v for group in groups for v in group)
            if flat != list(range(self.num_nodes)):
                raise ValueError(
                    "Expected node_groups to partition the nodes 0..num_nodes-1 exactly once. "
                    f"Received: node_groups={[list(g) for g in groups]!r} for num_nodes={self.num_nodes}"
                )
            sizes = {len(group) for group in groups}
            if len(sizes) != 1:
                raise ValueError(
                    f"Expected node_groups of equal size (they are max-pooled). Received sizes {sorted(sizes)}"
                )
            object.__setattr__(self, "node_groups", groups)
        if self.node_names is not None:
            names = tuple(str(n) for n in self.node_names)
            if len(names) != self.num_nodes:
                raise ValueError(
                    f"Expected {self.num_nodes} node_names. Received: {len(names)} names"
                )
            object.__setattr__(self, "node_names", names)

    @classmethod
    def from_parents(cls, parents: Sequence[int], node_groups=None, node_names=None) -> Graph:
        """A tree given by each node's parent index (-1 for the root)."""
        edges = []
        for child, parent in enumerate(parents):
            if parent < 0:
                continue
            if parent >= len(parents):
                raise ValueError(
                    f"Parent index {parent} of node {child} is out of range for {len(parents)} nodes."
                )
            edges.append((child, parent))
        return cls(len(parents), tuple(edges), node_groups, node_names)

    def adjacency(self) -> np.ndarray:
        """Symmetric 0/1 adjacency matrix [nodes, nodes], float32, without self loops."""
        matrix = np.zeros((self.num_nodes, self.num_nodes), dtype=np.float32)
        for i, j in self.edges:
            matrix[i, j] = matrix[j, i] = 1.0
        return matrix

    def adjacency_with_self_loops(self) -> np.ndarray:
        """A + I, float32 [nodes, nodes]."""
        return self.adjacency() + np.eye(self.num_nodes, dtype=np.float32)

    def normalized_adjacency(self) -> np.ndarray:
        """Row-normalised A + I (SemGCN's `adj_mx_from_skeleton`)."""
        a_hat = self.adjacency_with_self_loops()
        return a_hat / a_hat.sum(axis=1, keepdims=True)

    @property
    def group_size(self) -> int:
        return 1 if self.node_groups is None else len(self.node_groups[0])

    @property
    def grouped_order(self) -> list[int]:
        """Node indices listed group after group (identity when there are no groups)."""
        if self.node_groups is None:
            return list(range(self.num_nodes))
        return [v for group in self.node_groups for v in group]

    def get_config(self) -> dict:
        """JSON-safe description; `Graph.from_config(g.get_config()) == g`."""
        return {
            "num_nodes": self.num_nodes,
            "edges": [list(e) for e in self.edges],
            "node_groups": None
            if self.node_groups is None
            else [list(g) for g in self.node_groups],
            "node_names": None if self.node_names is None else list(self.node_names),
        }

    @classmethod
    def from_config(cls, config: dict) -> Graph:
        return cls(
            num_nodes=config["num_nodes"],
            edges=tuple(tuple(e) for e in config["edges"]),
            node_groups=config.get("node_groups"),
            node_names=config.get("node_names"),
        )


def as_graph(graph) -> Graph:
    """Accept a `Graph` or its config dict (what Keras passes back on deserialisation)."""
    if isinstance(graph, Graph):
        return graph
    if isinstance(graph, dict):
        return Graph.from_config(graph)
    raise TypeError(
        f"Expected a graphmdn_tf.Graph or its config dict. Received: {type(graph).__name__}"
    )


def check_node_count(graph: Graph, shape: Iterable, argument: str = "input_shape") -> None:
    """Raise a ValueError naming the expected and received shape on a wrong rank or node count."""
    shape = tuple(shape)
    if len(shape) != 3:
        raise ValueError(
            f"Expected a rank-3 input [batch, nodes, features] with {graph.num_nodes} nodes. "
            f"Received: {argument}={shape}"
        )
    if shape[1] is not None and shape[1] != graph.num_nodes:
        raise ValueError(
            f"Expected {graph.num_nodes} nodes to match the graph's adjacency "
            f"({graph.num_nodes}, {graph.num_nodes}). Received: {argument}={shape}"
        )
