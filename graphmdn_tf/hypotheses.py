"""Turning a mixture into poses: Highest, Mean, Oracle (pose and per joint), and samples.

All functions take the GraphMDN parameter dict (`mu` [B, M, N, D], `sigma`, `pi_logits`; see
`graphmdn_tf.distributions.mixture`) as tensors or NumPy arrays and return float32 tensors
[batch, N, D] (samples: [S, batch, N, D]). At node level, Highest and Mean act per node.

Reference: GraphMDN (Oikarinen et al. 2020), Section 4.3.
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf

from graphmdn_tf.distributions.mixture import mixture_distribution, mixture_level
from graphmdn_tf.metrics import mpjpe_tf


def _mu(params: Mapping) -> tf.Tensor:
    return tf.convert_to_tensor(params["mu"], dtype=tf.float32)


def mixture_weights(params: Mapping) -> tf.Tensor:
    """pi: softmax of `pi_logits` over the kernel axis; [B, M] (pose) or [B, M, N] (node)."""
    return tf.nn.softmax(tf.convert_to_tensor(params["pi_logits"], dtype=tf.float32), axis=1)


def _weighted_pose(params: Mapping, weights: tf.Tensor) -> tf.Tensor:
    mu = _mu(params)
    if mixture_level(params) == "pose":
        return tf.einsum("bm,bmnd->bnd", weights, mu)
    return tf.einsum("bmn,bmnd->bnd", weights, mu)


def highest(params: Mapping) -> tf.Tensor:
    """Highest: the mean of the kernel with the largest pi, y = mu_n, n = argmax_j pi_j."""
    logits = tf.convert_to_tensor(params["pi_logits"], dtype=tf.float32)
    num_kernels = tf.shape(logits)[1]
    one_hot = tf.one_hot(tf.argmax(logits, axis=1), num_kernels, axis=1, dtype=tf.float32)
    return _weighted_pose(params, one_hot)


def mean(params: Mapping) -> tf.Tensor:
    """Mean: the mixture mean, y = sum_j pi_j mu_j."""
    return _weighted_pose(params, mixture_weights(params))


def kernel_errors(params: Mapping, target) -> tf.Tensor:
    """Mean per-joint position error of every kernel mean against `target`: [B, M]."""
    target = tf.convert_to_tensor(target, dtype=tf.float32)
    return mpjpe_tf(_mu(params), target[:, None])


def oracle(params: Mapping, target) -> tf.Tensor:
    """Oracle: the kernel mean (a whole pose) closest to the target in MPJPE."""
    mu = _mu(params)
    best = tf.argmin(kernel_errors(params, target), axis=1)  # [B]
    return tf.gather(mu, best, axis=1, batch_dims=1)


def oracle_per_joint(params: Mapping, target) -> tf.Tensor:
    """Per-joint Oracle: for every joint, the kernel whose mean is closest to the target joint."""
    mu = _mu(params)
    target = tf.convert_to_tensor(target, dtype=tf.float32)
    distance = tf.norm(mu - target[:, None], axis=-1)  # [B, M, N]
    one_hot = tf.one_hot(tf.argmin(distance, axis=1), tf.shape(mu)[1], axis=1, dtype=tf.float32)
    return tf.einsum("bmn,bmnd->bnd", one_hot, mu)


def sample_poses(params: Mapping, num_samples: int, seed=None) -> tf.Tensor:
    """`num_samples` poses drawn from the mixture: [S, B, N, D]."""
    if int(num_samples) < 1:
        raise ValueError(f"Expected num_samples >= 1. Received: num_samples={num_samples!r}")
    return mixture_distribution(params).sample(int(num_samples), seed=seed)


def best_of_samples(samples, target) -> tf.Tensor:
    """Of S sampled poses [S, B, N, D], the one closest to the target in MPJPE: [B, N, D]."""
    samples = tf.convert_to_tensor(samples, dtype=tf.float32)
    target = tf.convert_to_tensor(target, dtype=tf.float32)
    errors = mpjpe_tf(samples, target[None])  # [S, B]
    best = tf.argmin(errors, axis=0)
    return tf.gather(tf.transpose(samples, (1, 0, 2, 3)), best, axis=1, batch_dims=1)


SELECTIONS = {"highest": highest, "mean": mean}
"""Hypothesis selections that need no target (used by export and inference)."""
