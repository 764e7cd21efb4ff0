import matplotlib.pyplot as plt
import numpy as np
import pytest
import tensorflow as tf
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba

from graphmdn_tf.skeletons import H36M_16
from graphmdn_tf.viz import (
    GROUND_TRUTH_COLOR,
    KERNEL_COLORS,
    figure_to_png,
    hypotheses_figure,
    kernel_alphas,
)

NUM_BONES = sum(parent >= 0 for parent in H36M_16.parents)


@pytest.fixture
def poses(rng):
    frames, kernels = 2, 3
    targets = rng.normal(scale=0.3, size=(frames, 16, 3))
    mu = targets[:, None] + rng.normal(scale=0.05, size=(frames, kernels, 16, 3))
    weights = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    return rng.uniform(-1, 1, (frames, 16, 2)), mu, weights, targets


def test_kernel_alphas_are_proportional_to_pi():
    np.testing.assert_allclose(kernel_alphas([0.6, 0.3, 0.1]), [1.0, 0.5, 1 / 6])
    assert kernel_alphas([1.0, 0.0])[1] > 0  # floored, still drawn


def test_figure_layout_and_opacity(poses):
    inputs_2d, mu, weights, targets = poses
    figure = hypotheses_figure(
        inputs_2d, mu, weights, targets, azimuths=(0, 90), row_titles=["Walking", "Sitting"]
    )
    axes = figure.get_axes()
    assert len(axes) == 2 * (1 + 2 * 2)  # rows x (input + (MDN, ground truth) per azimuth)
    assert axes[0].get_title() == "Input: Walking"
    bones_2d = [c for c in axes[0].collections if isinstance(c, LineCollection)]
    assert len(bones_2d) == 1 and len(bones_2d[0].get_segments()) == NUM_BONES
    kernel_panel, truth_panel = axes[1], axes[2]
    assert (
        kernel_panel.get_title() == "MDN-estimated, azimuth 0"
        and truth_panel.get_title() == "Ground truth, azimuth 0"
    )
    # One bone collection per pose: a kernel's bones are its segments, from its mean's joints.
    assert len(kernel_panel.collections) == 3 and len(truth_panel.collections) == 1
    assert all(len(c._segments3d) == NUM_BONES for c in kernel_panel.collections)
    truth_segments = np.asarray(truth_panel.collections[0]._segments3d)
    child, parent = next((j, p) for j, p in enumerate(H36M_16.parents) if p >= 0)
    plotted = np.stack(
        [targets[0][..., 0], targets[0][..., 2], -targets[0][..., 1]], axis=-1
    )  # (x, depth, up)
    np.testing.assert_allclose(truth_segments[0], plotted[[child, parent]])
    alpha_by_color = {
        tuple(to_rgba(c.get_color()[0], 1.0)): c.get_alpha() for c in kernel_panel.collections
    }
    expected = kernel_alphas(weights[0])
    for kernel in range(3):
        assert alpha_by_color[to_rgba(KERNEL_COLORS[kernel], 1.0)] == pytest.approx(
            expected[kernel]
        )
    assert to_rgba(truth_panel.collections[0].get_color()[0], 1.0) == to_rgba(GROUND_TRUTH_COLOR)
    # The most likely kernel is drawn last (on top): draw order, not depth sorting.
    assert not kernel_panel.computed_zorder
    assert to_rgba(kernel_panel.collections[-1].get_color()[0], 1.0) == to_rgba(
        KERNEL_COLORS[0], 1.0
    )
    assert kernel_panel.azim == pytest.approx(-90) and axes[3].azim == pytest.approx(0)
    png = figure_to_png(figure)
    assert tf.io.decode_png(png).shape[-1] == 4 and not plt.fignum_exists(figure.number)


def test_without_ground_truth_and_node_level_weights(poses):
    inputs_2d, mu, weights, _ = poses
    node_weights = np.repeat(weights[:, :, None], 16, axis=2)
    figure = hypotheses_figure(inputs_2d, mu, node_weights, azimuths=(0, 45, 90))
    assert len(figure.get_axes()) == 2 * 4
    plt.close(figure)


def test_bad_shapes_raise(poses):
    inputs_2d, mu, weights, targets = poses
    with pytest.raises(
        ValueError, match=r"Expected inputs_2d \[frames, joints, 2\], mu \[frames, kernels"
    ):
        hypotheses_figure(inputs_2d, mu[0], weights, targets)
    with pytest.raises(ValueError, match="weights.shape=\\(2, 2\\)"):
        hypotheses_figure(inputs_2d, mu, weights[:, :2], targets)
    with pytest.raises(ValueError, match="Expected targets_3d of shape"):
        hypotheses_figure(inputs_2d, mu, weights, targets[:1])
