"""The analytic FLOP count reads the built layers: it matches hand counts, follows a changed layer size,
and agrees with TensorFlow's profiler on the ops the profiler has statistics for."""

import keras
import pytest

from graphmdn_tf import Graph, GraphMDN, SemGCN
from graphmdn_tf.bench.flops import (
    BATCH_INDEPENDENT,
    FlopCount,
    analytic_forward_flops,
    profiler_matmul_flops,
)
from graphmdn_tf.layers.graph_non_local import GraphNonLocal
from graphmdn_tf.layers.sem_graph_conv import SemGraphConv

# 6 nodes, 6 edges: A + I has 12 + 6 = 18 non-zeros; 3 groups of 2 nodes.
RING = Graph(
    6, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0)], node_groups=[(0, 3), (1, 4), (2, 5)]
)


def _built(model):
    model.build((None, model.graph.num_nodes, model.input_dim))
    return model


def _ring_model():
    """A GraphMDN on the 6-node ring: input 1, hidden 4, one residual block, 3 kernels of 2-D targets."""
    return GraphMDN(
        graph=RING,
        input_dim=1,
        target_dim=2,
        num_kernels=3,
        hidden_dim=4,
        num_blocks=1,
        track_errors=False,
    )


@pytest.mark.parametrize(
    "model",
    [
        lambda: GraphMDN(),
        lambda: GraphMDN(hidden_dim=64, num_blocks=2, num_kernels=3, mixture_level="node"),
        lambda: GraphMDN(non_local=False, num_blocks=1),
        lambda: SemGCN(hidden_dim=32, num_blocks=1),
        _ring_model,
    ],
)
def test_analytic_flops_agree_with_the_profiler(model):
    model = _built(model())
    analytic = analytic_forward_flops(model, batch=1)
    assert profiler_matmul_flops(model, batch=1) == analytic.matmul + analytic.batched


def test_small_model_flops_by_hand():
    # Ring graph (N = 6, E = 18, P = 3 groups of 2), input 1, hidden C = 4 (non-local I = 2), one residual
    # block, 3 kernels of 2-D targets (head: 4 -> (2 + 2) * 3 = 12), batch B = 2.
    model = _built(_ring_model())
    count = analytic_forward_flops(model, batch=2)
    scatter = 2 * 18 * 36  # per SemGraphConv: edge logits [1, 18] x [18, 36]; 4 convolutions
    conv_products = (
        2 * 2 * 6 * 1 * 8 + 2 * (2 * 2 * 6 * 4 * 8) + 2 * 2 * 6 * 4 * 24
    )  # X [W0 | W1]: 192 + 1536 + 2304
    neighbour = 3 * (2 * 2 * 36 * 4) + 2 * 2 * 36 * 12  # [N, N] x H1: 1728 + 1728
    # Per non-local block (2): theta fold 2*4*2, x.theta 2*2*6*4, x [Wg | Wphi] 2*2*6*4*4, pooled phi 2*2*3*2,
    # output 2*2*6*2*4; the permutation 2*2*36*4 (einsum); affinity x g 2*2*6*3*2 (batched).
    non_local = 2 * (16 + 96 + 384 + 24 + 192)
    assert count.matmul == 4 * scatter + conv_products + non_local == 10640
    assert count.einsum == neighbour + 2 * 576 == 4608
    assert count.batched == 2 * 144 == 288
    assert count.notes[BATCH_INDEPENDENT] == 4 * scatter + 2 * 16
    assert count.total == 10640 + 4608 + 288


def test_standard_preset_flops_by_hand():
    # Per sample at large batch: 10 SemGraphConv dense products, 10 neighbour einsums, 5 non-local blocks.
    model = _built(GraphMDN.from_preset("standard"))
    n, c, i, p = 16, 128, 64, 8
    conv = [(2, c)] + [(c, c)] * 8 + [(c, 25)]
    dense = sum(2 * n * a * 2 * b for a, b in conv)
    neighbour = sum(2 * n * n * b for _, b in conv)
    non_local = 5 * (
        2 * n * c
        + 2 * n * c * 2 * i
        + 2 * n * n * 2 * i
        + 2 * p * i
        + 2 * n * p * i
        + 2 * n * i * c
    )
    batch = 1 << 20  # batch-independent terms vanish
    per_sample = analytic_forward_flops(model, batch).total / batch
    assert per_sample == pytest.approx(dense + neighbour + non_local, rel=1e-6)


def test_count_follows_a_changed_layer_size():
    # A functional stack of the two layers: only the changed layer's products change, by the hand count.
    def stack(units, inter_dim):
        inputs = keras.Input((6, 3))
        hidden = GraphNonLocal(RING, inter_dim=inter_dim)(SemGraphConv(RING, units)(inputs))
        return keras.Model(inputs, SemGraphConv(RING, 5)(hidden))

    base = analytic_forward_flops(stack(4, 2), batch=1)
    wider_conv = analytic_forward_flops(stack(8, 2), batch=1)
    wider_non_local = analytic_forward_flops(stack(4, 3), batch=1)
    # units 4 -> 8: X [W0 | W1] 2*6*3*(2*4) more, the non-local's C doubles, the output conv reads 8 features.
    assert wider_conv.matmul - base.matmul == (
        2 * 6 * 3 * 8  # first conv
        + (
            2 * 4 * 2 + 2 * 6 * 4 + 2 * 6 * 4 * 4 + 2 * 6 * 2 * 4
        )  # non-local theta fold, x.theta, x [Wg|Wphi], output
        + 2 * 6 * 4 * 10  # output conv X [W0 | W1]
    )
    assert wider_conv.einsum - base.einsum == 2 * 36 * 4  # first conv's neighbour product
    # inter_dim 2 -> 3 (the backbone never sets it; read from the layer's kernels, not from C // 2).
    assert wider_non_local.matmul - base.matmul == 2 * 4 + 2 * 6 * 4 * 2 + 2 * 3 + 2 * 6 * 4
    assert wider_non_local.einsum - base.einsum == 2 * 36 * 2
    assert wider_non_local.batched - base.batched == 2 * 6 * 3


def test_graphmdn_count_reads_the_non_local_width_from_the_layer():
    model = GraphMDN(hidden_dim=32, num_blocks=1)
    default = analytic_forward_flops(_built(GraphMDN(hidden_dim=32, num_blocks=1)), batch=1)
    model.backbone.input_non_local.inter_dim = 5  # not hidden_dim // 2 = 16
    model = _built(model)
    assert model.backbone.input_non_local.g_kernel.shape == (32, 5)
    count = analytic_forward_flops(model, batch=1)
    assert count.batched == default.batched - 2 * 16 * 8 * (16 - 5)  # affinity [16, 8] x g [8, I]
    assert profiler_matmul_flops(model, batch=1) == count.matmul + count.batched


@pytest.mark.parametrize(
    ("unbuilt", "layer"),
    [
        (lambda: GraphMDN(num_blocks=1), "(SemGraphConv|GraphNonLocal) '"),
        (lambda: SemGCN(num_blocks=1), "(SemGraphConv|GraphNonLocal) '"),
        (lambda: SemGraphConv(RING, 4, name="lonely"), "SemGraphConv 'lonely'"),
        (lambda: GraphNonLocal(RING, name="nl"), "GraphNonLocal 'nl'"),
    ],
)
def test_an_unbuilt_model_is_refused(unbuilt, layer):
    with pytest.raises(ValueError, match=f"Expected a built model.*Received: {layer}.* not built"):
        analytic_forward_flops(unbuilt(), batch=1)


def test_flop_counts_add_by_kind():
    total = FlopCount(1, 2, 3, {BATCH_INDEPENDENT: 1}) + FlopCount(
        10, 20, 30, {BATCH_INDEPENDENT: 5, "other": 2}
    )
    assert (total.matmul, total.einsum, total.batched, total.total) == (11, 22, 33, 66)
    assert total.notes == {BATCH_INDEPENDENT: 6, "other": 2}
