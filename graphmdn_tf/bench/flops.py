"""FLOPs of a model's forward pass: an analytic count of its matrix products, and TensorFlow's profiler's.

The analytic count walks the built model's layers and reads every size from the layer objects and
their weights (kernel shapes, edge counts, the layer's graph), so it counts the model as built, not
as a config describes it. It counts 2 FLOPs per multiply-add of every matrix product (dense, einsum
and batched). Only `SemGraphConv` and `GraphNonLocal` hold matrix products in these models; the rest
(BatchNorm, ReLU, dropout, the mixture head's activations) is elementwise or a reduction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import tensorflow as tf

from graphmdn_tf.layers.graph_non_local import GraphNonLocal
from graphmdn_tf.layers.sem_graph_conv import SemGraphConv

BATCH_INDEPENDENT = "batch_independent_matmul"


@dataclass
class FlopCount:
    """Matrix-product FLOPs of one forward pass over a batch, by op kind."""

    matmul: int = 0  # tf MatMul ops (the profiler counts these)
    einsum: int = 0  # adjacency and group-permutation products (no profiler statistics)
    batched: int = 0  # batched matmuls [B, N, P] x [B, P, I]
    notes: dict = field(
        default_factory=dict
    )  # BATCH_INDEPENDENT: the part of `matmul` that does not scale with B

    @property
    def total(self) -> int:
        return self.matmul + self.einsum + self.batched

    def __add__(self, other: FlopCount) -> FlopCount:
        notes = {
            key: self.notes.get(key, 0) + other.notes.get(key, 0)
            for key in {**self.notes, **other.notes}
        }
        return FlopCount(
            self.matmul + other.matmul,
            self.einsum + other.einsum,
            self.batched + other.batched,
            notes,
        )


def _shape(weight) -> tuple[int, ...]:
    return tuple(int(size) for size in weight.shape)


def sem_graph_conv_flops(layer: SemGraphConv, batch: int) -> FlopCount:
    """One built `SemGraphConv` over `batch` samples: X [W0 | W1], the edge-logit scatter, the neighbour einsum."""
    nodes = layer.graph.num_nodes
    in_dim, units = _shape(layer.self_kernel)
    neighbor_units = _shape(layer.neighbor_kernel)[1]
    (num_edges,) = _shape(layer.edge_logits)
    scatter = 2 * num_edges * nodes * nodes  # edge logits [1, E] x one-hot [E, N*N] -> dense [N, N]
    return FlopCount(
        matmul=2 * batch * nodes * in_dim * (units + neighbor_units)
        + scatter,  # X [B, N, in] x [W0 | W1]
        einsum=2
        * batch
        * nodes
        * nodes
        * neighbor_units,  # neighbour weights [N, N] x H1 [B, N, units]
        notes={BATCH_INDEPENDENT: scatter},
    )


def graph_non_local_flops(layer: GraphNonLocal, batch: int) -> FlopCount:
    """One built `GraphNonLocal` over `batch` samples.

    theta folded to a vector, one [C, 2 I] matmul for g and phi, the group permutation einsum (when
    groups have more than one node), the pooled phi projection, the affinity x g product and the output
    projection.
    """
    nodes = layer.graph.num_nodes
    group_size = layer.graph.group_size
    groups = nodes // group_size
    channels, theta_dim = _shape(layer.theta_kernel)
    g_dim, phi_dim = _shape(layer.g_kernel)[1], _shape(layer.phi_kernel)[1]
    context_dim, out_dim = _shape(layer.output_kernel)
    theta_fold = 2 * channels * theta_dim  # theta kernel [C, I] x w_theta [I, 1]
    matmul = theta_fold
    matmul += 2 * batch * nodes * channels  # x [B, N, C] . theta vector [C, 1]
    matmul += 2 * batch * nodes * channels * (g_dim + phi_dim)  # x [Wg | Wphi]
    matmul += 2 * batch * groups * phi_dim  # pooled phi [B, P, I] . w_phi [I, 1]
    matmul += 2 * batch * nodes * context_dim * out_dim  # output projection
    einsum = (
        2 * batch * nodes * nodes * (g_dim + phi_dim) if group_size > 1 else 0
    )  # permutation into groups
    batched = 2 * batch * nodes * groups * g_dim  # affinity [B, N, P] x g [B, P, I]
    return FlopCount(
        matmul=matmul, einsum=einsum, batched=batched, notes={BATCH_INDEPENDENT: theta_fold}
    )


LAYER_COUNTS = {SemGraphConv: sem_graph_conv_flops, GraphNonLocal: graph_non_local_flops}


def analytic_forward_flops(model: keras.Layer, batch: int) -> FlopCount:
    """2 * multiply-adds of every matrix product in the forward pass of the built `model` over `batch` samples.

    Sums `sem_graph_conv_flops` and `graph_non_local_flops` over every such layer inside `model` (at any
    depth), so any model made of them can be counted: GraphMDN, SemGCN or a functional model.

    Raises:
        ValueError: when one of those layers is not built (its sizes are only known from its weights).
    """
    count = FlopCount(notes={BATCH_INDEPENDENT: 0})
    # Keras 3 has no public recursive layer walk; `_flatten_layers` is what `Layer.weights` itself uses.
    for layer in model._flatten_layers(include_self=True, recursive=True):
        counter = next(
            (counter for kind, counter in LAYER_COUNTS.items() if isinstance(layer, kind)), None
        )
        if counter is None:
            continue
        if not layer.built:
            raise ValueError(
                f"Expected a built model: its layers' sizes are read from their weights. Received: "
                f"{type(layer).__name__} {layer.name!r} not built; call model.build((None, nodes, input_dim)) first"
            )
        count += counter(layer, batch)
    return count


def profiler_matmul_flops(model: keras.Model, batch: int = 1) -> int:
    """FLOPs TensorFlow's profiler assigns to the forward graph at `batch` (it has statistics for MatMul)."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    function = tf.function(lambda x: model(x, training=False))
    concrete = function.get_concrete_function(
        tf.TensorSpec([batch, model.graph.num_nodes, model.input_dim], tf.float32)
    )
    graph_def = convert_variables_to_constants_v2(concrete).graph.as_graph_def()
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
        builder = tf.compat.v1.profiler.ProfileOptionBuilder
        options = builder(builder.float_operation()).with_empty_output().build()
        profile = tf.compat.v1.profiler.profile(
            graph=graph, run_meta=tf.compat.v1.RunMetadata(), cmd="scope", options=options
        )
        op_types = {op.name: op.type for op in graph.get_operations()}

    def matmul_flops(node):
        own = (
            node.float_ops
            if op_types.get(node.name, "").startswith(("MatMul", "BatchMatMul"))
            else 0
        )
        return own + sum(matmul_flops(child) for child in node.children)

    return int(matmul_flops(profile))
