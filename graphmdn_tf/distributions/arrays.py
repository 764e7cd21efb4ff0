"""A GraphMDN mixture as NumPy arrays: the one reading of its parameters outside TensorFlow.

`MixtureArrays.from_params(params)` checks the parameter shapes (`graphmdn_tf.distributions.mixture`
defines them) and holds, in float64:

    mu      [batch, M, N, D]                         kernel means
    sigma   [batch, M] or [batch, M, N] pose | [batch, M, N] node     standard deviations
    log_pi  [batch, M] pose | [batch, M, N] node     log mixture weights, log_softmax(pi_logits)

`per_joint()` broadcasts a pose-level log_pi (and a uniform pose-level sigma) over the nodes, so code that works joint by
joint handles both levels as [batch, M, N].

Example:

    >>> arrays = MixtureArrays.from_params(model.predict(inputs_2d), dims=3)
    >>> arrays.pi.sum(axis=1)           # ones, [batch] or [batch, N]
    >>> arrays.mean_pose()              # sum_j pi_j mu_j, [batch, N, D]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from graphmdn_tf.distributions.mixture import PARAMETER_NAMES, check_parameters


def log_softmax(logits, axis: int = 1) -> np.ndarray:
    """log(exp(x) / sum(exp(x))) along `axis`; a -inf logit gives -inf, finite ones stay finite."""
    logits = np.asarray(logits, np.float64)
    peak = np.max(logits, axis=axis, keepdims=True)
    shifted = logits - np.where(np.isfinite(peak), peak, 0.0)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def mixture_mean(mu: np.ndarray, log_pi: np.ndarray) -> np.ndarray:
    """sum_j pi_j mu_j: mu [B, M, N, D] with log_pi [B, M] (pose) or [B, M, N] (node) -> [B, N, D]."""
    pi = np.exp(log_pi)
    if pi.ndim == 2:
        return np.einsum("bm,bmnd->bnd", pi, mu)
    return np.einsum("bmn,bmnd->bnd", pi, mu)


@dataclass(frozen=True)
class MixtureArrays:
    """mu [B, M, N, D], sigma and log_pi ([B, M] pose, [B, M, N] node) of one batch, float64.

    A pose-level sigma may also be [B, M, N]: one sigma per joint.

    Attributes:
        level: 'pose' or 'node', from the rank of `pi_logits`.
        mu: kernel means.
        sigma: kernel standard deviations.
        log_pi: log mixture weights over the kernel axis (axis 1).
    """

    level: str
    mu: np.ndarray
    sigma: np.ndarray
    log_pi: np.ndarray

    @classmethod
    def from_params(cls, params: Mapping, dims: int | None = None) -> MixtureArrays:
        """The view of a parameter dict (`mu`, `sigma`, `pi_logits`; tensors or arrays).

        Args:
            params: a GraphMDN's output dict.
            dims: the joint dimension D the caller needs (None: any).

        Raises:
            ValueError: a parameter is missing, or a shape does not match `mu`'s (or `dims`).
        """
        arrays = {
            name: np.asarray(params[name], np.float64) for name in PARAMETER_NAMES if name in params
        }
        level = check_parameters(arrays)
        mu = arrays["mu"]
        if dims is not None and mu.shape[-1] != dims:
            raise ValueError(
                f"Expected mu of shape [batch, kernels, nodes, {dims}]. Received: mu.shape={mu.shape}"
            )
        return cls(
            level,
            mu,
            arrays["sigma"],
            log_softmax(arrays["pi_logits"], axis=1),
        )

    @property
    def pi(self) -> np.ndarray:
        """The mixture weights, exp(log_pi)."""
        return np.exp(self.log_pi)

    def per_joint(self) -> MixtureArrays:
        """The same mixture with sigma and log_pi as [B, M, N] at both levels (read-only views)."""
        if self.level == "node":
            return self
        shape = self.mu.shape[:3]
        sigma = self.sigma if self.sigma.ndim == 3 else self.sigma[..., None]
        return MixtureArrays(
            self.level,
            self.mu,
            np.broadcast_to(sigma, shape),
            np.broadcast_to(self.log_pi[..., None], shape),
        )

    def mean_pose(self) -> np.ndarray:
        """The mixture mean sum_j pi_j mu_j, per node at node level; [B, N, D]."""
        return mixture_mean(self.mu, self.log_pi)
