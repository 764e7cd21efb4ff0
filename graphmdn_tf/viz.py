"""Skeleton drawing in the style of the paper's Figure 2, shared by TensorBoard images and notebooks.

One row per frame: the input 2D skeleton, then for each azimuth the mixture's kernels superimposed
(opacity proportional to their mixing weight pi, the most likely kernel opaque) beside the ground truth
seen from the same azimuth.

Coordinates are those of `graphmdn_tf.data.pipeline`: 2D inputs in normalised screen coordinates (x right,
y down), 3D poses in camera space (x right, y down, z away from the camera), hip-relative metres.
Azimuths are degrees of rotation about the vertical axis relative to the input camera: 0 is the view the
2D input was taken from (where the kernels' depth differences are hidden), 90 a side view (where they
show).

Example:
    >>> outputs = model.predict(inputs_2d[:3])
    >>> figure = hypotheses_figure(inputs_2d[:3], outputs["mu"], mixture_weights(outputs), targets_3d[:3])
    >>> figure.savefig("figure2.png")
"""

from __future__ import annotations

import io
from collections.abc import Sequence

# The backend is the user's choice (inline in notebooks; matplotlib falls back to Agg on headless
# machines). Every figure the library renders itself is closed right after.
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from mpl_toolkits.mplot3d.art3d import Line3DCollection

from graphmdn_tf.skeletons import H36M_16, Skeleton

KERNEL_COLORS = plt.get_cmap("tab10").colors
GROUND_TRUTH_COLOR = "black"
MIN_ALPHA = 0.04


def _bones(skeleton: Skeleton):
    return [(joint, parent) for joint, parent in enumerate(skeleton.parents) if parent >= 0]


def _segments(points, skeleton: Skeleton) -> np.ndarray:
    """The skeleton's bones as line segments, [bones, 2, dims] (one collection per pose draws fast)."""
    bones = np.array(_bones(skeleton))
    return np.stack([points[bones[:, 0]], points[bones[:, 1]]], axis=1)


def draw_pose_2d(
    axis, pose_2d, *, skeleton: Skeleton = H36M_16, color=GROUND_TRUTH_COLOR, alpha: float = 1.0
):
    """Draw one 2D skeleton [joints, 2] (screen coordinates, y down) on a 2D matplotlib axis: its bones as
    one `LineCollection` (added last to `axis.collections`) and its joints as points."""
    pose_2d = np.asarray(pose_2d)
    axis.scatter(*pose_2d.T, color=color, alpha=alpha, s=6)
    axis.add_collection(
        LineCollection(_segments(pose_2d, skeleton), colors=[color], alpha=alpha, linewidths=2)
    )
    axis.autoscale_view()
    if not axis.yaxis_inverted():
        axis.invert_yaxis()
    axis.set_aspect("equal")
    axis.set_xticks([])
    axis.set_yticks([])


def _to_plot_axes(pose_3d):
    """Camera space (x right, y down, z depth) -> matplotlib's (x, depth, up)."""
    pose_3d = np.asarray(pose_3d, np.float64)
    return np.stack([pose_3d[..., 0], pose_3d[..., 2], -pose_3d[..., 1]], axis=-1)


def draw_pose_3d(
    axis, pose_3d, *, skeleton: Skeleton = H36M_16, color=GROUND_TRUTH_COLOR, alpha: float = 1.0
):
    """Draw one 3D skeleton [joints, 3] (camera space) on a matplotlib 3D axis: its bones as one
    `Line3DCollection`, appended to `axis.collections`. The axis draws its poses in the order they were
    added (the most recent on top), not sorted by depth."""
    axis.computed_zorder = False
    segments = _segments(_to_plot_axes(pose_3d), skeleton)
    axis.add_collection3d(Line3DCollection(segments, colors=[color], alpha=alpha, linewidths=2))


def _style_3d(axis, azimuth: float, radius: float, elevation: float):
    axis.view_init(elev=elevation, azim=-90.0 + azimuth)
    for setter in (axis.set_xlim3d, axis.set_ylim3d, axis.set_zlim3d):
        setter(-radius, radius)
    axis.set_box_aspect((1, 1, 1))
    # Three unlabelled ticks per axis keep the grid (a depth cue) at a fraction of matplotlib's default ticks' cost.
    ticks, blank = [-radius, 0.0, radius], ["", "", ""]
    for setter in (axis.set_xticks, axis.set_yticks, axis.set_zticks):
        setter(ticks, labels=blank)


def kernel_alphas(weights) -> np.ndarray:
    """Opacity of each kernel, proportional to pi with the most likely kernel opaque: [kernels]."""
    weights = np.asarray(weights, np.float64)
    return np.clip(weights / max(weights.max(), 1e-12), MIN_ALPHA, 1.0)


def hypotheses_figure(
    inputs_2d,
    mu,
    weights,
    targets_3d=None,
    *,
    azimuths: Sequence[float] = (0.0, 45.0, 90.0),
    row_titles: Sequence[str] | None = None,
    skeleton: Skeleton = H36M_16,
    elevation: float = 10.0,
    panel_size: float = 2.2,
) -> Figure:
    """Figure 2 of the paper for a few frames.

    Args:
        inputs_2d: [frames, joints, 2] input keypoints.
        mu: [frames, kernels, joints, 3] kernel means (a deterministic model: kernels = 1).
        weights: [frames, kernels] mixing weights pi (node-level [frames, kernels, joints] is averaged
            over joints).
        targets_3d: [frames, joints, 3] ground truth, or None to leave those panels out.
        azimuths: view angles in degrees relative to the input camera (0 = the camera's view).
        row_titles: a label per frame (e.g. the action).

    Returns:
        A matplotlib `Figure` (close it with `plt.close(figure)` when done).
    """
    inputs_2d, mu, weights = np.asarray(inputs_2d), np.asarray(mu), np.asarray(weights, np.float64)
    if weights.ndim == 3:
        weights = weights.mean(axis=-1)
    frames = len(inputs_2d)
    if (
        mu.ndim != 4
        or mu.shape[0] != frames
        or weights.shape != mu.shape[:2]
        or inputs_2d.ndim != 3
    ):
        raise ValueError(
            "Expected inputs_2d [frames, joints, 2], mu [frames, kernels, joints, 3] and weights "
            f"[frames, kernels]. Received: inputs_2d.shape={inputs_2d.shape}, mu.shape={mu.shape}, "
            f"weights.shape={weights.shape}"
        )
    if targets_3d is not None:
        targets_3d = np.asarray(targets_3d)
        if targets_3d.shape != mu.shape[:1] + mu.shape[2:]:
            raise ValueError(
                f"Expected targets_3d of shape {mu.shape[:1] + mu.shape[2:]}. Received: {targets_3d.shape}"
            )
    per_azimuth = 2 if targets_3d is not None else 1
    columns = 1 + per_azimuth * len(azimuths)
    figure = plt.figure(figsize=(panel_size * columns, panel_size * frames))
    for row in range(frames):
        axis = figure.add_subplot(frames, columns, row * columns + 1)
        draw_pose_2d(axis, inputs_2d[row], skeleton=skeleton)
        title = "Input" if row_titles is None else f"Input: {row_titles[row]}"
        axis.set_title(title, fontsize=8)
        # Frame the ground truth (or the most likely kernel); unlikely kernels far out may be clipped.
        framed = (
            targets_3d[row] if targets_3d is not None else mu[row, int(np.argmax(weights[row]))]
        )
        radius = 1.2 * max(float(np.abs(framed).max()), 1e-3)
        alphas = kernel_alphas(weights[row])
        for index, azimuth in enumerate(azimuths):
            position = row * columns + 2 + per_azimuth * index
            axis = figure.add_subplot(frames, columns, position, projection="3d")
            for kernel in np.argsort(weights[row]):  # most likely drawn last, on top
                draw_pose_3d(
                    axis,
                    mu[row, kernel],
                    skeleton=skeleton,
                    color=KERNEL_COLORS[kernel % len(KERNEL_COLORS)],
                    alpha=alphas[kernel],
                )
            _style_3d(axis, azimuth, radius, elevation)
            axis.set_title(f"MDN-estimated, azimuth {azimuth:g}", fontsize=8)
            if targets_3d is not None:
                axis = figure.add_subplot(frames, columns, position + 1, projection="3d")
                draw_pose_3d(axis, targets_3d[row], skeleton=skeleton)
                _style_3d(axis, azimuth, radius, elevation)
                axis.set_title(f"Ground truth, azimuth {azimuth:g}", fontsize=8)
    figure.tight_layout()
    return figure


def figure_to_png(figure: Figure, dpi: int = 72, close: bool = True) -> bytes:
    """PNG bytes of a matplotlib figure (for `tf.summary.image` or files); closes it by default."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    if close:
        plt.close(figure)
    return buffer.getvalue()
