"""Training losses: the mixture negative log-likelihood (GraphMDN), its diversity terms, SemGCN's L2 loss."""

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
    return _weighted_mean(nll, sample_weight)


def l2_loss(y_true, y_pred, sample_weight=None):
    """SemGCN's loss: mean squared error over all elements (PyTorch `nn.MSELoss()`)."""
    squared = tf.square(tf.cast(y_pred, tf.float32) - tf.cast(y_true, tf.float32))
    per_example = tf.reduce_mean(tf.reshape(squared, (tf.shape(squared)[0], -1)), axis=-1)
    if sample_weight is None:
        return tf.reduce_mean(per_example)
    weight = tf.reshape(tf.cast(sample_weight, tf.float32), (-1,))
    return tf.math.divide_no_nan(tf.reduce_sum(per_example * weight), tf.reduce_sum(weight))


def _weighted_mean(values, sample_weight):
    if sample_weight is None:
        return tf.reduce_mean(values)
    weight = tf.reshape(tf.cast(sample_weight, tf.float32), (-1,))
    return tf.math.divide_no_nan(tf.reduce_sum(values * weight), tf.reduce_sum(weight))


def kernel_nll(y_true, params: Mapping):
    """Each kernel's own negative log-density of the truth, mixture weights left out.

    Pose level: [batch, M], -log g(y | mu_j, sigma_j) over the whole pose. Node level: [batch, N, M],
    -log f(y^i | mu_j^i, sigma_j^i) per node.
    """
    y_true = tf.convert_to_tensor(y_true, dtype=tf.float32)
    distribution = mixture_distribution(params)
    if len(params["pi_logits"].shape) == 2:
        return -distribution.components_distribution.log_prob(y_true[:, None])
    per_node = distribution.distribution  # batch [B, N], event [D]
    return -per_node.components_distribution.log_prob(y_true[:, :, None])


def winner_takes_all_nll(y_true, params: Mapping, sample_weight=None):
    """The negative log-density of the best kernel only, averaged over the batch.

    Pose level: min_j -log g(y | mu_j, sigma_j); node level: sum_i min_j -log f(y^i | mu_j^i, sigma_j^i).
    Only the winning kernel of each pose (node) gets a gradient, so kernels specialise instead of all
    chasing the mean; the mixture weights get none.
    """
    per_kernel = kernel_nll(y_true, params)
    best = tf.reduce_min(per_kernel, axis=-1)  # [B] or [B, N]
    if len(best.shape) == 2:
        best = tf.reduce_sum(best, axis=-1)
    return _weighted_mean(best, sample_weight)


def batch_pi_entropy(params: Mapping, sample_weight=None):
    """Entropy (nats) of the mixture weights averaged over the batch, H(mean_b pi_b).

    High when the batch as a whole uses every kernel (each pose may still pick one); at node level the
    mean over nodes of each node's entropy. Its maximum is log M.
    """
    pi = tf.nn.softmax(tf.cast(params["pi_logits"], tf.float32), axis=1)  # [B, M] or [B, M, N]
    if sample_weight is None:
        average = tf.reduce_mean(pi, axis=0)
    else:
        weight = tf.reshape(tf.cast(sample_weight, tf.float32), (-1,) + (1,) * (len(pi.shape) - 1))
        average = tf.math.divide_no_nan(tf.reduce_sum(pi * weight, axis=0), tf.reduce_sum(weight))
    entropy = -tf.reduce_sum(tf.math.xlogy(average, average), axis=0)  # [] or [N]
    return tf.reduce_mean(entropy)
