r"""Mixture parameters -> `tfp.distributions.MixtureSameFamily`: the one place the density is defined.

Notation of the paper: N nodes (the paper's K), M kernels, D = 3 dimensions per node; y in R^{N x D}.

Node level (Eq. 1-5): an independent mixture per node i,

    p^i(y^i | x) = sum_j pi_j^i f(y^i | mu_j^i, sigma_j^i),
    f(y | mu, sigma) = (2 pi)^{-D/2} sigma^{-D} exp(-||y - mu||^2 / (2 sigma^2)),      (Eq. 4)
    P(y | x) = prod_i p^i(y^i | x),        L = -sum_i log p^i(y^i | x).                   (Eq. 1, 5)

Pose level (Eq. 6-9): one mixture over whole poses, each kernel an isotropic Gaussian in R^{N D},

    P(y | x) = sum_j pi_j g(y | mu_j, sigma_j),
    g(y | mu, sigma) = (2 pi)^{-ND/2} sigma^{-ND} exp(-||y - mu||^2 / (2 sigma^2)),   (Eq. 8)
    L = -log P(y | x).                                                                 (Eq. 9)

(The paper prints sigma^K in Eq. 8; a proper N*D-dimensional isotropic Gaussian has sigma^{ND}, which
is what the authors' code computes and what the parity fixtures confirm.)

A pose-level kernel may also carry one sigma per joint, sigma_jn (a per-joint model option, or a
uniform sigma_j times calibrated per-joint scales): g is then the product over joints n of
N(y^n | mu_j^n, sigma_jn^2 I_D), still one kernel choice for the whole pose.

Everything is evaluated in log space: TFP's `MixtureSameFamily.log_prob` is
logsumexp_j(log_softmax(pi_logits)_j + log g_j), so the loss is finite for extreme logits.
The model's loss is the negative log-likelihood averaged over the batch.

Parameter tensors (the names `mu`, `sigma`, `pi_logits` are public API):
    mu        [batch, M, N, D]                 kernel means (kernel-major)
    sigma     [batch, M] or [batch, M, N] pose | [batch, M, N] node     standard deviations (> 0)
    pi_logits [batch, M] pose | [batch, M, N] node     unnormalised log mixture weights
The level is read from the rank of `pi_logits`; a pose-level sigma of rank 3 is one sigma per joint.
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

PARAMETER_NAMES = ("mu", "sigma", "pi_logits")


def mixture_level(params: Mapping) -> str:
    """'pose' or 'node', from the rank of `pi_logits` (2 or 3)."""
    rank = len(params["pi_logits"].shape)
    if rank == 2:
        return "pose"
    if rank == 3:
        return "node"
    raise ValueError(
        "Expected pi_logits of shape [batch, kernels] (pose level) or [batch, kernels, nodes] "
        f"(node level). Received: pi_logits.shape={tuple(params['pi_logits'].shape)}"
    )


def check_parameters(params: Mapping) -> str:
    """The level of `params` after checking that `mu`, `sigma` and `pi_logits` are there and agree.

    Shapes may hold None (symbolic tensors); a None matches any size.

    Raises:
        ValueError: a parameter is missing or a shape does not match `mu`'s, naming both shapes.
    """
    missing = [name for name in PARAMETER_NAMES if name not in params]
    if missing:
        raise ValueError(f"Expected mixture parameters {PARAMETER_NAMES}. Missing: {missing}")
    level = mixture_level(params)
    mu_shape = tuple(params["mu"].shape)
    if len(mu_shape) != 4:
        raise ValueError(
            f"Expected mu of shape [batch, kernels, nodes, dims]. Received: mu.shape={mu_shape}"
        )
    per_kernel = mu_shape[:2] if level == "pose" else mu_shape[:3]
    for name in ("sigma", "pi_logits"):
        shape = tuple(params[name].shape)
        per_joint_sigma = name == "sigma" and level == "pose" and len(shape) == 3
        expected = mu_shape[:3] if per_joint_sigma else per_kernel
        if len(shape) != len(expected) or any(
            a is not None and b is not None and a != b for a, b in zip(shape, expected)
        ):
            raise ValueError(
                f"Expected {name} of shape {expected} to match mu.shape={mu_shape} at {level} level. "
                f"Received: {name}.shape={shape}"
            )
    return level


def mixture_distribution(params: Mapping) -> tfd.Distribution:
    """The GraphMDN predictive distribution over poses y [batch, N, D].

    Args:
        params: mapping with `mu`, `sigma`, `pi_logits` (a GraphMDN's output dict).

    Returns:
        A distribution with batch shape [batch] and event shape [N, D]: a `MixtureSameFamily`
        (pose level) or an `Independent` over nodes of per-node `MixtureSameFamily` (node level).
        `log_prob(y)` -> [batch]; `sample(S)` -> [S, batch, N, D]; `mean()` -> [batch, N, D].
    """
    level = check_parameters(params)
    mu = tf.convert_to_tensor(params["mu"], dtype=tf.float32)
    sigma = tf.convert_to_tensor(params["sigma"], dtype=tf.float32)
    pi_logits = tf.convert_to_tensor(params["pi_logits"], dtype=tf.float32)
    if level == "pose":
        scale = sigma[:, :, None, None] if len(sigma.shape) == 2 else sigma[:, :, :, None]
        components = tfd.Independent(
            tfd.Normal(loc=mu, scale=scale), reinterpreted_batch_ndims=2
        )  # batch [B, M], event [N, D]
        return tfd.MixtureSameFamily(tfd.Categorical(logits=pi_logits), components)
    node_mu = tf.transpose(mu, (0, 2, 1, 3))  # [B, N, M, D]
    node_sigma = tf.transpose(sigma, (0, 2, 1))[..., None]  # [B, N, M, 1]
    components = tfd.Independent(
        tfd.Normal(loc=node_mu, scale=node_sigma), reinterpreted_batch_ndims=1
    )
    per_node = tfd.MixtureSameFamily(
        tfd.Categorical(logits=tf.transpose(pi_logits, (0, 2, 1))), components
    )  # batch [B, N], event [D]
    return tfd.Independent(per_node, reinterpreted_batch_ndims=1)
