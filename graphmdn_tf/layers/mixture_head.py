"""Mixture density heads: graph features in, mixture parameters (tensors) out.

The head never builds a distribution: `graphmdn_tf.distributions.mixture_distribution` turns its
outputs into a `tfp.distributions.MixtureSameFamily` wherever one is needed.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from graphmdn_tf.graphs import as_graph, check_node_count
from graphmdn_tf.layers.levels import MIXTURE_LEVELS, level_keyword, saved_level
from graphmdn_tf.layers.sem_graph_conv import SemGraphConv


def check_mixture_level(mixture_level: str) -> str:
    if mixture_level not in MIXTURE_LEVELS:
        raise ValueError(
            f"Expected mixture_level to be one of {MIXTURE_LEVELS}. "
            f"Received: mixture_level={mixture_level!r}"
        )
    return mixture_level


def split_raw(raw, num_nodes: int, num_kernels: int, target_dim: int):
    """Raw projection [B, N, (D+2)M] -> (mean logits [B, N, M, D], sigma logits [B, N, M], pi logits [B, N, M])."""
    k, d = num_kernels, target_dim
    mean_logits = ops.reshape(raw[..., : d * k], (-1, num_nodes, k, d))
    return mean_logits, raw[..., d * k : (d + 1) * k], raw[..., (d + 1) * k :]


def check_sigma_per_joint(mixture_level: str, sigma_per_joint) -> bool:
    """`sigma_per_joint` as a bool; refused at node level, where every joint already has its own sigma."""
    if not isinstance(sigma_per_joint, (bool, np.bool_)):
        raise ValueError(
            f"Expected sigma_per_joint to be True or False. Received: sigma_per_joint={sigma_per_joint!r}"
        )
    if sigma_per_joint and mixture_level != "pose":
        raise ValueError(
            "Expected sigma_per_joint only with mixture_level='pose' (at node level every joint "
            f"already has its own sigma). Received: sigma_per_joint=True, mixture_level={mixture_level!r}"
        )
    return bool(sigma_per_joint)


def mixture_parameters(
    raw,
    num_nodes: int,
    num_kernels: int,
    target_dim: int,
    mixture_level: str,
    min_sigma: float,
    sigma_per_joint: bool = False,
) -> dict:
    """{'mu', 'sigma', 'pi_logits'} from the head's raw projection [B, N, (D+2)M] (see `GraphMixtureHead`)."""
    mean_logits, sigma_logits, pi_logits = split_raw(raw, num_nodes, num_kernels, target_dim)
    mu = ops.transpose(ops.tanh(mean_logits), (0, 2, 1, 3))  # [B, M, N, D]
    if mixture_level == "pose":
        sigma_logits = (
            ops.transpose(sigma_logits, (0, 2, 1))  # [B, M, N]
            if sigma_per_joint
            else ops.mean(sigma_logits, axis=1)  # [B, M]
        )
        pi_logits = ops.mean(pi_logits, axis=1)  # [B, M]
    else:
        sigma_logits = ops.transpose(sigma_logits, (0, 2, 1))  # [B, M, N]
        pi_logits = ops.transpose(pi_logits, (0, 2, 1))  # [B, M, N]
    sigma = ops.maximum(ops.elu(sigma_logits) + 1.0, min_sigma)
    return {"mu": mu, "sigma": sigma, "pi_logits": pi_logits}


@keras.saving.register_keras_serializable(package="graphmdn_tf")
class GraphMixtureHead(keras.layers.Layer):
    """Projects graph features to Gaussian-mixture parameters, at node or pose level.

    A `SemGraphConv` maps each node's features to (D + 2) * M numbers, D the per-node target
    dimension and M the number of kernels, laid out as [D*M means | M sigma logits | M pi logits]
    (the reference layout). Then, for node i and kernel j:

        mu_ij    = tanh(mean logits)                         in R^D
        node:  sigma_ij = max(ELU(s_ij) + 1, min_sigma),      pi_i = softmax_j(p_ij)       (Eq. 2)
        pose:  sigma_j  = max(ELU(mean_i s_ij) + 1, min_sigma), pi = softmax_j(mean_i p_ij)  (Eq. 6)
        pose, sigma_per_joint:  sigma_ij = max(ELU(s_ij) + 1, min_sigma), pi as at pose level

    With `sigma_per_joint` a pose-level kernel keeps one sigma per joint instead of the paper's one
    for the whole pose (so the nearly exact root and the hard wrists need not share a spread); the
    kernel is still one choice per pose. At node level every joint has its own sigma already, and the
    option is refused there.

    The softmax itself is left to the distribution (it uses `log_softmax`): the head returns the
    logits.

    Args:
        graph: a `graphmdn_tf.Graph`.
        num_kernels: M, the number of mixture kernels.
        target_dim: D, the target dimension per node (3 for 3-D joints).
        mixture_level: "pose" (one mixture over whole poses, Eq. 6-9) or "node" (one per node,
            Eq. 1-5); the deprecated keyword `mixture` still works, with a `DeprecationWarning`.
        min_sigma: floor on sigma, keeping the likelihood finite for extreme inputs.
        sigma_per_joint: at pose level, one sigma per joint and kernel instead of one per kernel.

    Call arguments:
        inputs: [batch, nodes, features].

    Output:
        dict with `mu` [batch, M, nodes, D] (kernel-major: `mu[:, j]` is hypothesis j),
        `sigma` and `pi_logits`: [batch, M] at pose level, [batch, M, nodes] at node level;
        with `sigma_per_joint`, `sigma` is [batch, M, nodes] and `pi_logits` [batch, M].
        The head always computes in float32 (also under a mixed-precision policy).

    Reference:
        GraphMDN (Oikarinen et al. 2020), Section 3, Eq. 1-9; Bishop, "Mixture Density Networks", 1994.
    """

    def __init__(
        self,
        graph,
        num_kernels,
        target_dim=3,
        mixture_level="pose",
        min_sigma=1e-4,
        sigma_per_joint=False,
        **kwargs,
    ):
        mixture_level = level_keyword(mixture_level, kwargs, type(self).__name__)
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.graph = as_graph(graph)
        for argument, value in (("num_kernels", num_kernels), ("target_dim", target_dim)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(
                    f"Expected {argument} to be a positive integer. Received: {argument}={value!r}"
                )
        self.num_kernels = int(num_kernels)
        self.target_dim = int(target_dim)
        self.mixture_level = check_mixture_level(mixture_level)
        if not float(min_sigma) > 0:
            raise ValueError(f"Expected min_sigma > 0. Received: min_sigma={min_sigma!r}")
        self.min_sigma = float(min_sigma)
        self.sigma_per_joint = check_sigma_per_joint(self.mixture_level, sigma_per_joint)
        self.projection = SemGraphConv(
            self.graph, (self.target_dim + 2) * self.num_kernels, name="projection", dtype="float32"
        )

    def build(self, input_shape):
        check_node_count(self.graph, input_shape)
        self.projection.build(input_shape)

    def call(self, inputs):
        return self.parameters_from_raw(self.projection(ops.cast(inputs, "float32")))

    def parameters_from_raw(self, raw):
        """The mixture parameters of the raw projection [B, N, (D+2)M] (`mixture_parameters`)."""
        return mixture_parameters(
            raw,
            self.graph.num_nodes,
            self.num_kernels,
            self.target_dim,
            self.mixture_level,
            self.min_sigma,
            self.sigma_per_joint,
        )

    def compute_output_shape(self, input_shape):
        batch, nodes = input_shape[0], input_shape[1]
        per_kernel = (
            (batch, self.num_kernels)
            if self.mixture_level == "pose"
            else (batch, self.num_kernels, nodes)
        )
        return {
            "mu": (batch, self.num_kernels, nodes, self.target_dim),
            "sigma": (batch, self.num_kernels, nodes) if self.sigma_per_joint else per_kernel,
            "pi_logits": per_kernel,
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "graph": self.graph.get_config(),
                "num_kernels": self.num_kernels,
                "target_dim": self.target_dim,
                "mixture_level": self.mixture_level,
                "min_sigma": self.min_sigma,
                "sigma_per_joint": self.sigma_per_joint,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return super().from_config(saved_level(config))
