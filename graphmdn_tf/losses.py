"""Training losses: the mixture negative log-likelihood (GraphMDN) and SemGCN's L2 loss."""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf

from graphmdn_tf.distributions.mixture import mixture_distribution


def mixture_nll(y_true, params: Mapping, sample_weight=None):
    """Negative log-likelihood of poses `y_true` [batch, N, D], averaged over the batch (Eq. 5 / Eq. 9).

    With `sample_weight` [batch], the weighted mean sum(w * nll) / sum(w).
    """
    y_true = tf.convert_to_tensor(y_true, dtype=tf.float32)
    expected = tuple(params["mu"].shape[2:])
    if tuple(y_true.shape[1:]) != expected and None not in y_true.shape[1:]:
        raise ValueError(
            f"Expected targets of shape [batch, {expected[0]}, {expected[1]}] to match mu. "
            f"Received: y_true.shape={tuple(y_true.shape)}"
        )
    nll = -mixture_distribution(params).log_prob(y_true)  # [B]
    if sample_weight is None:
        return tf.reduce_mean(nll)
    weight = tf.reshape(tf.cast(sample_weight, tf.float32), (-1,))
    return tf.math.divide_no_nan(tf.reduce_sum(nll * weight), tf.reduce_sum(weight))


def l2_loss(y_true, y_pred, sample_weight=None):
    """SemGCN's loss: mean squared error over all elements (PyTorch `nn.MSELoss()`)."""
    squared = tf.square(tf.cast(y_pred, tf.float32) - tf.cast(y_true, tf.float32))
    per_example = tf.reduce_mean(tf.reshape(squared, (tf.shape(squared)[0], -1)), axis=-1)
    if sample_weight is None:
        return tf.reduce_mean(per_example)
    weight = tf.reshape(tf.cast(sample_weight, tf.float32), (-1,))
    return tf.math.divide_no_nan(tf.reduce_sum(per_example * weight), tf.reduce_sum(weight))
