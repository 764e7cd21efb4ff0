"""Pose errors: MPJPE (Protocol #1) and P-MPJPE (Protocol #2), in NumPy and in TensorFlow.

Units are those of the inputs (metres in, metres out); multiply by `MILLIMETRES` for millimetres.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import tensorflow as tf

#: Millimetres per metre: the factor from the data's metres to the reported millimetres.
MILLIMETRES = 1000.0
_EPS = 1e-12


def _check_pair(predicted, target):
    if predicted.shape != target.shape or predicted.ndim != 3:
        raise ValueError(
            "Expected predicted and target poses of the same shape [frames, joints, dims]. "
            f"Received: predicted.shape={predicted.shape}, target.shape={target.shape}"
        )


def mpjpe(predicted, target, per_frame: bool = False):
    """Protocol #1: mean per-joint position error, the mean Euclidean distance over joints and frames.

    Returns a float, or [frames] with `per_frame=True`.
    """
    predicted, target = np.asarray(predicted, np.float64), np.asarray(target, np.float64)
    _check_pair(predicted, target)
    errors = np.linalg.norm(predicted - target, axis=-1).mean(axis=-1)
    return errors if per_frame else float(errors.mean())


def procrustes_align(predicted, target):
    """The similarity transform (scale, rotation without reflection, translation) of `predicted`
    that best fits `target` in least squares, applied to `predicted`. [frames, joints, dims]."""
    predicted, target = np.asarray(predicted, np.float64), np.asarray(target, np.float64)
    _check_pair(predicted, target)
    mean_target = target.mean(axis=1, keepdims=True)
    mean_predicted = predicted.mean(axis=1, keepdims=True)
    centred_target = target - mean_target
    centred_predicted = predicted - mean_predicted
    norm_target = np.maximum(np.sqrt((centred_target**2).sum(axis=(1, 2), keepdims=True)), _EPS)
    norm_predicted = np.maximum(
        np.sqrt((centred_predicted**2).sum(axis=(1, 2), keepdims=True)), _EPS
    )
    centred_target /= norm_target
    centred_predicted /= norm_predicted
    covariance = np.matmul(centred_target.transpose(0, 2, 1), centred_predicted)  # [F, D, D]
    u, singular, vt = np.linalg.svd(covariance)
    v = vt.transpose(0, 2, 1)
    rotation = np.matmul(v, u.transpose(0, 2, 1))
    # Reflection safety: force det(R) = +1 by flipping the least significant axis.
    sign = np.sign(np.linalg.det(rotation))
    sign[sign == 0] = 1.0
    v[:, :, -1] *= sign[:, None]
    singular[:, -1] *= sign
    rotation = np.matmul(v, u.transpose(0, 2, 1))
    trace = singular.sum(axis=1)[:, None, None]
    scale = trace * norm_target / norm_predicted
    translation = mean_target - scale * np.matmul(mean_predicted, rotation)
    return scale * np.matmul(predicted, rotation) + translation


def p_mpjpe(predicted, target, per_frame: bool = False):
    """Protocol #2: MPJPE after Procrustes alignment (scale, rotation, translation; no reflection)."""
    aligned = procrustes_align(predicted, target)
    errors = np.linalg.norm(aligned - np.asarray(target, np.float64), axis=-1).mean(axis=-1)
    return errors if per_frame else float(errors.mean())


def per_action_errors(per_frame_errors, actions: Iterable[str]):
    """Per-action means and the paper's average (unweighted mean over actions of per-action means).

    `actions` are action classes (e.g. 'Sitting', not 'Sitting 1'), one per frame.
    Returns (dict action -> mean error, average).
    """
    errors = np.asarray(per_frame_errors, np.float64)
    actions = np.asarray(list(actions))
    if errors.shape != actions.shape or errors.ndim != 1:
        raise ValueError(
            f"Expected one action label per frame error. Received: errors.shape={errors.shape}, "
            f"actions.shape={actions.shape}"
        )
    if errors.size == 0:
        raise ValueError("Expected at least one frame error. Received: an empty array")
    table = {
        str(action): float(errors[actions == action].mean())
        for action in sorted(set(actions.tolist()))
    }
    return table, float(np.mean(list(table.values())))


# ---- TensorFlow versions (training-time metrics, exported graphs) ----


def mpjpe_tf(predicted, target):
    """Protocol #1 per frame, [frames], in TensorFlow (leading axes broadcast: [..., joints, dims] -> [...])."""
    predicted = tf.cast(predicted, tf.float32)
    target = tf.cast(target, tf.float32)
    return tf.reduce_mean(tf.norm(predicted - target, axis=-1), axis=-1)


def p_mpjpe_tf(predicted, target):
    """Protocol #2 per frame, [frames], in TensorFlow (same algorithm as `p_mpjpe`)."""
    predicted = tf.cast(predicted, tf.float32)
    target = tf.cast(target, tf.float32)
    mean_target = tf.reduce_mean(target, axis=1, keepdims=True)
    mean_predicted = tf.reduce_mean(predicted, axis=1, keepdims=True)
    centred_target = target - mean_target
    centred_predicted = predicted - mean_predicted
    norm_target = tf.maximum(
        tf.sqrt(tf.reduce_sum(centred_target**2, axis=(1, 2), keepdims=True)), _EPS
    )
    norm_predicted = tf.maximum(
        tf.sqrt(tf.reduce_sum(centred_predicted**2, axis=(1, 2), keepdims=True)), _EPS
    )
    covariance = tf.matmul(
        centred_target / norm_target, centred_predicted / norm_predicted, transpose_a=True
    )
    singular, u, v = tf.linalg.svd(covariance)
    rotation = tf.matmul(v, u, transpose_b=True)
    sign = tf.sign(tf.linalg.det(rotation))
    sign = tf.where(sign == 0, tf.ones_like(sign), sign)
    dims = tf.shape(v)[-1]
    flip = tf.concat([tf.ones([tf.shape(sign)[0], dims - 1]), sign[:, None]], axis=1)  # [F, D]
    v = v * flip[:, None, :]
    singular = singular * flip
    rotation = tf.matmul(v, u, transpose_b=True)
    scale = tf.reduce_sum(singular, axis=1)[:, None, None] * norm_target / norm_predicted
    aligned = scale * tf.matmul(predicted, rotation) + (
        mean_target - scale * tf.matmul(mean_predicted, rotation)
    )
    return tf.reduce_mean(tf.norm(aligned - target, axis=-1), axis=-1)
