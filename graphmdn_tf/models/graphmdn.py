"""GraphMDN: a SemGCN backbone feeding a Gaussian-mixture head (Oikarinen et al. 2020)."""

from __future__ import annotations

import keras
import tensorflow as tf

from graphmdn_tf import hypotheses
from graphmdn_tf.calibration import check_scales, scale_sigma
from graphmdn_tf.distributions.mixture import mixture_distribution
from graphmdn_tf.layers.levels import level_keyword, saved_level
from graphmdn_tf.layers.mixture_head import (
    GraphMixtureHead,
    check_mixture_level,
    check_sigma_per_joint,
)
from graphmdn_tf.losses import batch_pi_entropy, mixture_nll, winner_takes_all_nll
from graphmdn_tf.metrics import MILLIMETRES
from graphmdn_tf.models.base import GraphPoseModel


@keras.saving.register_keras_serializable(package="graphmdn_tf")
class GraphMDN(GraphPoseModel):
    """Graph mixture density network: 2-D graph inputs -> a mixture of M plausible 3-D graphs.

    Backbone (Figure 1): graph-conv block + non-local block, then `num_blocks` residual blocks each
    followed by a non-local block; an output SemGraphConv produces the mixture parameters, at pose
    level (each kernel one whole pose, Eq. 6-9) or node level (one mixture per node, Eq. 1-5).

    Calling the model returns a dict of named tensors (public API):
        `mu` [batch, M, N, D], `sigma` and `pi_logits` ([batch, M] pose, [batch, M, N] node).
    `graphmdn_tf.distributions.mixture_distribution(outputs)` (or `model.distribution(x)`) gives the
    TFP distribution. `compile(optimizer=...)` then `fit(x, y)` trains on the negative
    log-likelihood; no loss argument is needed.

    Training objective (`pose_loss`, also the logged `loss` and `val_loss`):

        loss = NLL                              (winner_takes_all_nll for the first
                                                 `wta_warmup_steps` optimizer steps)
               - pi_entropy_weight * H(mean over the batch of pi)

    With the defaults (0 warm-up steps, weight 0) it is the paper's NLL.

    Args:
        graph, hidden_dim, num_blocks, dropout, non_local, input_dim, target_dim: the graph, the backbone
            and the dimensions (see `GraphPoseModel`).
        num_kernels: M.
        mixture_level: "pose" or "node" (the deprecated keyword `mixture` still works, with a
            `DeprecationWarning`).
        min_sigma: floor on sigma.
        sigma_per_joint: pose level only: one sigma per joint and kernel, `sigma` [batch, M, N]
            (default False: the paper's one sigma per kernel).
        pi_entropy_weight: weight (>= 0) of the entropy of the batch-averaged mixture weights,
            subtracted from the loss so that the batch uses several kernels (`losses.batch_pi_entropy`).
        wta_warmup_steps: for the first this many optimizer steps the loss is the negative
            log-density of each pose's best kernel only (`losses.winner_takes_all_nll`), then the NLL.
        sigma_scale: None, or calibrated scale factors of sigma, [N] (per joint) or [M, N] (per kernel
            and joint), applied after the head: the output `sigma` is then [batch, M, N] at both
            levels (`graphmdn_tf.calibration`; `RunDirectory.load_model` sets it from a run's
            calibration.json). Held in the config, so a saved calibrated model keeps it.
        track_errors, error_scale: training-time MPJPE of Highest, Mean and Oracle (see `GraphPoseModel`).

    Example:
        >>> model = GraphMDN.from_preset("standard")            # the paper's architecture, untrained
        >>> trained = GraphMDN.from_preset("cmu_standard")      # shipped in the package, trained
        >>> model.compile(optimizer="adam")
        >>> model.fit(inputs_2d, targets_3d, batch_size=256)      # [F, 16, 2], [F, 16, 3]
        >>> outputs = model.predict(inputs_2d)                   # dict: mu, sigma, pi_logits

    Reference:
        Oikarinen, Hannah, Kazerounian, "GraphMDN: Leveraging graph structure and deep learning to
        solve inverse problems", 2020.
    """

    is_mixture = True

    def __init__(
        self,
        graph=None,
        hidden_dim=128,
        num_blocks=4,
        num_kernels=5,
        mixture_level="pose",
        dropout=0.1,
        input_dim=2,
        target_dim=3,
        non_local=True,
        min_sigma=1e-4,
        sigma_per_joint=False,
        pi_entropy_weight=0.0,
        wta_warmup_steps=0,
        sigma_scale=None,
        track_errors=True,
        error_scale=MILLIMETRES,
        **kwargs,
    ):
        mixture_level = level_keyword(mixture_level, kwargs, type(self).__name__)
        self.mixture_level = check_mixture_level(mixture_level)
        self.num_kernels = int(num_kernels)
        self.min_sigma = float(min_sigma)
        self.sigma_per_joint = check_sigma_per_joint(self.mixture_level, sigma_per_joint)
        if not float(pi_entropy_weight) >= 0:
            raise ValueError(
                f"Expected pi_entropy_weight >= 0. Received: pi_entropy_weight={pi_entropy_weight!r}"
            )
        self.pi_entropy_weight = float(pi_entropy_weight)
        if (
            isinstance(wta_warmup_steps, bool)
            or int(wta_warmup_steps) != wta_warmup_steps
            or wta_warmup_steps < 0
        ):
            raise ValueError(
                f"Expected wta_warmup_steps to be an integer >= 0. Received: wta_warmup_steps={wta_warmup_steps!r}"
            )
        self.wta_warmup_steps = int(wta_warmup_steps)
        super().__init__(
            graph,
            hidden_dim=hidden_dim,
            num_blocks=num_blocks,
            dropout=dropout,
            non_local=non_local,
            input_dim=input_dim,
            target_dim=target_dim,
            track_errors=track_errors,
            error_scale=error_scale,
            **kwargs,
        )
        # A NumPy array (not a list, which Keras would track as a layer attribute), or None.
        self.sigma_scale = (
            None
            if sigma_scale is None
            else check_scales(sigma_scale, self.num_kernels, self.graph.num_nodes)
        )

    def create_head(self):
        self.head = GraphMixtureHead(
            self.graph,
            self.num_kernels,
            self.target_dim,
            self.mixture_level,
            self.min_sigma,
            self.sigma_per_joint,
            name="head",
        )

    def output_block(self):
        return self.head

    def call(self, inputs, training=None):
        outputs = super().call(inputs, training=training)
        if self.sigma_scale is None:
            return outputs
        return {**outputs, "sigma": scale_sigma(outputs["sigma"], self.sigma_scale)}

    def with_sigma_scale(self, sigma_scale) -> GraphMDN:
        """A copy of this built model (same weights) with `sigma_scale` (None: uncalibrated)."""
        model = type(self).from_config({**self.get_config(), "sigma_scale": sigma_scale})
        model.build((None, self.graph.num_nodes, self.input_dim))
        model.set_weights(self.get_weights())
        return model

    def distribution(self, inputs, training=False):
        """The predictive `tfp` distribution for inputs [batch, N, input_dim]."""
        return mixture_distribution(self(inputs, training=training))

    def pose_loss(self, y, y_pred, sample_weight=None):
        """The training objective on a batch (see the class docstring): the NLL and the diversity levers."""
        loss = mixture_nll(y, y_pred, sample_weight)
        if self.wta_warmup_steps and self.optimizer is not None:
            warming = self.optimizer.iterations < self.wta_warmup_steps
            loss = tf.where(warming, winner_takes_all_nll(y, y_pred, sample_weight), loss)
        if self.pi_entropy_weight:
            loss -= self.pi_entropy_weight * batch_pi_entropy(y_pred, sample_weight)
        return loss

    def selection_names(self):
        return hypotheses.metric_names()

    def select(self, y_pred, target):
        return hypotheses.select(y_pred, target, self.selection_names())

    def get_config(self):
        return {
            **super().get_config(),
            "num_kernels": self.num_kernels,
            "mixture_level": self.mixture_level,
            "min_sigma": self.min_sigma,
            "sigma_per_joint": self.sigma_per_joint,
            "pi_entropy_weight": self.pi_entropy_weight,
            "wta_warmup_steps": self.wta_warmup_steps,
            "sigma_scale": None if self.sigma_scale is None else self.sigma_scale.tolist(),
        }

    @classmethod
    def from_config(cls, config):
        return super().from_config(saved_level(config))
