import numpy as np
import pytest

from graphmdn_tf import GraphConvBlock, ResidualGraphBlock, h36m_graph
from tests import numpy_reference as ref
from tests.layer_checks import run_layer_checks


def _randomise_block(block, rng):
    for weight in (
        block.conv.self_kernel,
        block.conv.neighbor_kernel,
        block.conv.edge_logits,
        block.conv.bias,
    ):
        weight.assign(rng.normal(size=weight.shape))
    block.norm.gamma.assign(rng.normal(size=block.norm.gamma.shape))
    block.norm.beta.assign(rng.normal(size=block.norm.beta.shape))
    block.norm.moving_mean.assign(rng.normal(size=block.norm.moving_mean.shape))
    block.norm.moving_variance.assign(rng.uniform(0.5, 2, size=block.norm.moving_variance.shape))


def _block_numpy(block, x):
    conv = block.conv
    kernel = np.stack([conv.self_kernel.numpy(), conv.neighbor_kernel.numpy()])
    h = ref.sem_graph_conv(
        x,
        kernel,
        conv.edge_logits.numpy(),
        conv.bias.numpy(),
        conv.graph.adjacency_with_self_loops(),
    )
    n = block.norm
    h = ref.batch_norm(
        h, n.gamma.numpy(), n.beta.numpy(), n.moving_mean.numpy(), n.moving_variance.numpy()
    )
    return np.maximum(h, 0.0)


def test_graph_conv_block_inference_matches_numpy(rng):
    block = GraphConvBlock(h36m_graph(), units=6, dropout=0.5)
    x = rng.normal(size=(4, 16, 3)).astype("float32")
    block.build(x.shape)
    _randomise_block(block, rng)
    np.testing.assert_allclose(block(x, training=False).numpy(), _block_numpy(block, x), atol=1e-4)


def test_dropout_only_in_training(rng):
    block = GraphConvBlock(h36m_graph(), units=64, dropout=0.5)
    x = rng.normal(size=(32, 16, 3)).astype("float32")
    inference = block(x, training=False).numpy()
    np.testing.assert_array_equal(inference, block(x, training=False).numpy())
    # Training: BatchNorm standardises each feature, so ReLU zeroes about half, and dropout(0.5)
    # half of the rest: about 75 % zeros in all, against about 50 % without dropout.
    no_dropout = GraphConvBlock(h36m_graph(), units=64, dropout=0.0)
    no_dropout.build(x.shape)
    for source, target in zip(block.weights, no_dropout.weights):
        target.assign(source)
    assert 0.4 < (no_dropout(x, training=True).numpy() == 0).mean() < 0.6
    assert 0.68 < (block(x, training=True).numpy() == 0).mean() < 0.82


def test_residual_block_matches_numpy(rng):
    block = ResidualGraphBlock(h36m_graph(), units=5, dropout=0.1)
    x = rng.normal(size=(3, 16, 5)).astype("float32")
    block.build(x.shape)
    _randomise_block(block.block1, rng)
    _randomise_block(block.block2, rng)
    expected = x + _block_numpy(block.block2, _block_numpy(block.block1, x))
    np.testing.assert_allclose(block(x, training=False).numpy(), expected, atol=1e-4)


def test_standard_layer_checks(tmp_path):
    # A block: SemGraphConv (2 kernels, edge logits, bias) + BatchNorm (gamma, beta | moving mean, variance).
    run_layer_checks(
        lambda: GraphConvBlock(h36m_graph(), 8, dropout=0.1),
        (16, 3),
        tmp_path,
        expected_num_trainable_weights=4 + 2,
        expected_num_non_trainable_weights=2,
        expected_trainable_params=(2 * 3 * 8 + 46 + 8) + 2 * 8,
        expected_non_trainable_params=2 * 8,
    )
    run_layer_checks(
        lambda: ResidualGraphBlock(h36m_graph(), 8),
        (16, 8),
        tmp_path,
        expected_num_trainable_weights=2 * (4 + 2),
        expected_num_non_trainable_weights=2 * 2,
        expected_trainable_params=2 * ((2 * 8 * 8 + 46 + 8) + 2 * 8),
        expected_non_trainable_params=2 * 2 * 8,
    )


def test_bad_arguments_raise():
    with pytest.raises(
        ValueError,
        match=r"Expected 8 input features for the residual connection\. Received: input_shape=\(None, 16, 4\)",
    ):
        ResidualGraphBlock(h36m_graph(), 8).build((None, 16, 4))
    with pytest.raises(ValueError, match=r"Expected dropout in \[0, 1\)"):
        GraphConvBlock(h36m_graph(), 8, dropout=1.0)
