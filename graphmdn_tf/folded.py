"""An inference-only forward pass of a trained pose model, folded for TF's graph executor (the default export).

`FoldedForward(model)` computes `model(inputs, training=False)` with the same outputs (to float32
rounding) and less work per sample, from the weights as they are when it is made:

- **BatchNorm folded.** At inference a BatchNorm is the affine map y = a * x + c per channel, with
  a = gamma / sqrt(moving_variance + epsilon) and c = beta - moving_mean * a. It is folded into the
  kernel and bias of the product before it (`SemGraphConv` in a graph-conv block, the output
  projection in a non-local block), computed once in float64.
- **Node-major activations.** Features are held as [nodes, batch, channels] between layers, so
  that every per-node product is one 2D MatMul over [nodes * batch, channels] (which Grappler fuses
  with its BiasAdd, and its ReLU where nothing comes between, into one oneDNN call) and mixing along
  the graph is one 2D MatMul by a constant matrix over [nodes, batch * channels], with no transposes
  in between.
- **No copies in a graph convolution.** SemGraphConv's out_i = s_i (X W0)_i + sum_j A_ij (X W1)_j + b
  (s the self weights, A the off-diagonal edge weights, both softmax(M) at their final values) is
  computed as (A X) W1 + b + (s * X) W0: one product by the constant [2N, N] matrix [diag(s); A]
  gives s * X and A X stacked along the leading axis, a split along that axis copies nothing, and
  the two products of depth in_features follow. (Concatenating [s * X | A X] into one product of
  depth 2 * in_features, with scaling by s as its own op, would add two passes over the activations.)
- **Non-local block.** theta enters only through w_theta . theta_i (one [C] vector, as in the layer),
  phi only through w_phi . phi_p: both are products by vectors (a slice along the channel axis would
  be a strided copy); g and phi are one product; a group's max-pool is the elementwise max of
  gathers of its members along the node axis; the 1/P of the affinity is folded into the output kernel.

The result is plain TF ops over `tf.Variable`s (not trainable) that hold the folded weights; the
module imports nothing of TFP. The mixture head's last step (tanh of the means, the ELU of sigma,
pose-level averages) is the head's own `layers.mixture_head.mixture_parameters`; a calibrated GraphMDN's
sigma scale factors follow it (`graphmdn_tf.calibration.scale_sigma`), as in the model's `call`.

Example:
    >>> forward = FoldedForward(model)            # a built GraphMDN or SemGCN
    >>> outputs = tf.function(forward)(inputs)    # == model(inputs, training=False), to rounding
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from graphmdn_tf.calibration import scale_sigma
from graphmdn_tf.layers.graph_blocks import GraphConvBlock
from graphmdn_tf.layers.graph_non_local import GraphNonLocal
from graphmdn_tf.layers.mixture_head import mixture_parameters
from graphmdn_tf.layers.sem_graph_conv import SemGraphConv
from graphmdn_tf.models.base import GraphPoseModel


def batch_norm_affine(norm) -> tuple[np.ndarray, np.ndarray]:
    """(a, c) [channels] float64 of an inference BatchNorm: y = a * x + c."""
    variance = np.asarray(norm.moving_variance.numpy(), np.float64)
    gamma = np.asarray(norm.gamma.numpy(), np.float64) if norm.scale else 1.0
    beta = np.asarray(norm.beta.numpy(), np.float64) if norm.center else 0.0
    scale = gamma / np.sqrt(variance + norm.epsilon)
    return scale, beta - np.asarray(norm.moving_mean.numpy(), np.float64) * scale


def _variable(value, name: str) -> tf.Variable:
    with np.errstate(
        over="ignore"
    ):  # an overflowing model stays non-finite; the export refuses its answers
        return tf.Variable(np.asarray(value, np.float32), trainable=False, name=name)


class _FoldedConv(tf.Module):
    """A SemGraphConv, optionally followed by an inference BatchNorm (folded) and a ReLU."""

    def __init__(self, conv: SemGraphConv, norm=None, relu: bool = False, name: str = "conv"):
        super().__init__(name=name)
        weights = np.asarray(conv.edge_weights().numpy(), np.float64)
        self_kernel = np.asarray(conv.self_kernel.numpy(), np.float64)
        neighbor_kernel = np.asarray(conv.neighbor_kernel.numpy(), np.float64)
        bias = (
            np.zeros(conv.units) if conv.bias is None else np.asarray(conv.bias.numpy(), np.float64)
        )
        if norm is not None:
            scale, shift = batch_norm_affine(norm)
            self_kernel, neighbor_kernel, bias = (
                self_kernel * scale,
                neighbor_kernel * scale,
                bias * scale + shift,
            )
        # [diag(s); A]: one product by it gives the self-scaled and the neighbour-mixed features, stacked.
        self_weights = np.diag(np.diag(weights))
        self.mixing = _variable(
            np.concatenate([self_weights, weights - self_weights]), "mixing"
        )  # [2N, N]
        self.self_kernel = _variable(self_kernel, "self_kernel")  # [in, units]
        self.neighbor_kernel = _variable(neighbor_kernel, "neighbor_kernel")  # [in, units]
        self.bias = _variable(bias, "bias")
        self.relu = relu

    def __call__(self, features):
        """features [N, B, in] -> [N, B, units]."""
        nodes, channels = features.shape[0], features.shape[-1]
        batch = tf.shape(features)[1]
        stacked = tf.reshape(
            tf.matmul(self.mixing, tf.reshape(features, [nodes, -1])), [-1, channels]
        )
        scaled, mixed = tf.split(
            stacked, 2, axis=0
        )  # [N * B, in] each: splitting the leading axis copies nothing
        outputs = tf.nn.bias_add(tf.matmul(mixed, self.neighbor_kernel), self.bias) + tf.matmul(
            scaled, self.self_kernel
        )
        if self.relu:
            outputs = tf.nn.relu(outputs)
        return tf.reshape(outputs, [nodes, batch, self.self_kernel.shape[-1]])


class _FoldedNonLocal(tf.Module):
    """A GraphNonLocal at inference: z = BN(sum_p f_ip g_p W_out + b_out) + x, BN folded into W_out."""

    def __init__(self, layer: GraphNonLocal, name: str = "non_local"):
        super().__init__(name=name)
        inter = layer._inter
        concat = np.asarray(layer.concat_kernel.numpy(), np.float64)
        concat_theta, concat_phi = concat[:inter], concat[inter:]
        theta_vector = layer.theta_kernel.numpy().astype(np.float64) @ concat_theta  # [C]
        theta_offset = float(np.sum(layer.theta_bias.numpy() * concat_theta))
        self.kernel = _variable(
            np.concatenate([layer.g_kernel.numpy(), layer.phi_kernel.numpy()], axis=1), "kernel"
        )
        self.bias = _variable(
            np.concatenate([layer.g_bias.numpy(), layer.phi_bias.numpy()]), "bias"
        )  # [2I]
        self.theta_vector = _variable(theta_vector[:, None], "theta_vector")  # [C, 1]
        self.theta_offset = _variable(
            [theta_offset], "theta_offset"
        )  # [1]: a bias, fused into the product
        # phi enters only through w_phi . phi_p: a [2I, 1] vector, zero on the g half, spares slicing phi off.
        self.phi_vector = _variable(
            np.concatenate([np.zeros(inter), concat_phi])[:, None], "phi_vector"
        )
        scale, shift = batch_norm_affine(layer.output_norm)
        self.output_kernel = _variable(
            layer.output_kernel.numpy() * scale / layer._num_groups, "output_kernel"
        )
        self.output_bias = _variable(layer.output_bias.numpy() * scale + shift, "output_bias")
        self.inter = inter
        self.members = np.asarray(layer.graph.grouped_order, np.int32).reshape(
            layer._num_groups, -1
        )  # [P, G]

    def __call__(self, features):
        """features [N, B, C] -> [N, B, C]."""
        nodes, channels = features.shape[0], features.shape[-1]
        batch, inter = tf.shape(features)[1], self.inter
        flat = tf.reshape(features, [-1, channels])
        # Separate products, not slices of one: a slice along the last axis is a strided copy.
        theta_score = tf.reshape(
            tf.nn.bias_add(tf.matmul(flat, self.theta_vector), self.theta_offset), [nodes, batch]
        )
        g_phi = tf.reshape(
            tf.nn.bias_add(tf.matmul(flat, self.kernel), self.bias), [nodes, batch, 2 * inter]
        )
        if (
            self.members.shape[1] > 1
        ):  # max-pool each group: the elementwise max of its k-th members, k = 1..G
            first, *others = self.members.T
            pooled = tf.gather(g_phi, first, axis=0)
            for column in others:
                pooled = tf.maximum(pooled, tf.gather(g_phi, column, axis=0))
            g_phi = pooled
        phi_score = tf.reshape(
            tf.matmul(tf.reshape(g_phi, [-1, 2 * inter]), self.phi_vector),
            [self.members.shape[0], batch],
        )  # [P, B]
        affinity = tf.nn.relu(
            theta_score[:, None] + phi_score[None]
        )  # [N, P, B] (the 1/P is in the kernel)
        context = tf.einsum("npb,pbi->nbi", affinity, g_phi[..., :inter])  # [N, B, I]
        outputs = tf.nn.bias_add(
            tf.matmul(tf.reshape(context, [-1, inter]), self.output_kernel), self.output_bias
        )
        return tf.reshape(outputs, [nodes, batch, channels]) + features


class _FoldedResidual(tf.Module):
    def __init__(self, block, name: str = "residual"):
        super().__init__(name=name)
        self.first = _folded_block(block.block1, "block1")
        self.second = _folded_block(block.block2, "block2")

    def __call__(self, features):
        return features + self.second(self.first(features))


def _folded_block(block: GraphConvBlock, name: str) -> _FoldedConv:
    return _FoldedConv(block.conv, block.norm, relu=True, name=name)


class FoldedForward(tf.Module):
    """`model(inputs, training=False)` of a built `GraphPoseModel`, folded (see the module docstring).

    The weights are read when it is made: later changes to the model do not reach it.

    Call arguments:
        inputs: [batch, N, input_dim] float32.

    Returns:
        What the model returns: the head's dict (GraphMDN) or the pose [batch, N, D] (SemGCN), float32.
    """

    def __init__(self, model: GraphPoseModel, name: str = "folded_forward"):
        super().__init__(name=name)
        if not isinstance(model, GraphPoseModel) or not model.built:
            raise ValueError(
                f"Expected a built GraphPoseModel (GraphMDN or SemGCN). Received: {type(model).__name__}"
            )
        backbone = model.backbone
        steps = [_folded_block(backbone.input_block, "input_block")]
        if backbone.input_non_local is not None:
            steps.append(_FoldedNonLocal(backbone.input_non_local, "input_non_local"))
        for index, block in enumerate(backbone.residual_blocks):
            steps.append(_FoldedResidual(block, f"residual_block_{index}"))
            if backbone.non_local:
                steps.append(
                    _FoldedNonLocal(backbone.non_local_blocks[index], f"non_local_{index}")
                )
        self.steps = steps
        head = model.output_block()
        # The head's settings as plain values (a tf.Module would track a layer's unused variables).
        self._head_settings = (
            (
                model.graph.num_nodes,
                head.num_kernels,
                head.target_dim,
                head.mixture_level,
                head.min_sigma,
                head.sigma_per_joint,
            )
            if model.is_mixture
            else None
        )
        self.output_conv = _FoldedConv(head.projection if model.is_mixture else head, name="output")
        # A calibrated GraphMDN's sigma scale factors (a constant), applied after the head as `call` does.
        scale = getattr(model, "sigma_scale", None)
        self._sigma_scale = None if scale is None else np.asarray(scale, np.float32)

    def __call__(self, inputs):
        features = tf.transpose(tf.cast(inputs, tf.float32), [1, 0, 2])  # [N, B, F]
        for step in self.steps:
            features = step(features)
        raw = tf.transpose(self.output_conv(features), [1, 0, 2])  # [B, N, out]
        if self._head_settings is None:
            return raw
        outputs = mixture_parameters(raw, *self._head_settings)
        if self._sigma_scale is None:
            return outputs
        return {**outputs, "sigma": scale_sigma(outputs["sigma"], self._sigma_scale)}
