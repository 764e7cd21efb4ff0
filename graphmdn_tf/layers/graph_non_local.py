"""SemGCN's graph non-local block (concatenation form)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from graphmdn_tf.graphs import as_graph, check_node_count


def _kaiming_normal():
    # PyTorch's kaiming_normal_ (fan_in, gain sqrt(2), untruncated), as in the reference.
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_in", distribution="untruncated_normal"
    )


@keras.saving.register_keras_serializable(package="graphmdn_tf")
class GraphNonLocal(keras.layers.Layer):
    """Non-local block over graph nodes, with key/value branches max-pooled over node groups.

    With x [batch, nodes, C], inter = C // 2 by default, groups G_1..G_P of equal size s:

        theta_i = x_i W_theta + b_theta                         (every node i)
        g_p     = max_{k in G_p} (x_k W_g + b_g)               (every group p)
        phi_p   = max_{k in G_p} (x_k W_phi + b_phi)
        f_ip    = ReLU(w_c . [theta_i ; phi_p]) / P            (concatenation pairwise function)
        z_i     = BatchNorm(sum_p f_ip g_p W_out + b_out) + x_i

    The BatchNorm's scale and offset start at zero, so the block is the identity at start.
    This is the reference's computation (nodes permuted into groups, 1x1 convolutions, max-pool of
    kernel s, order restored) in a cheaper, equivalent form: theta only enters through
    w_c . theta_i, so it is folded into one [C] vector; the output is computed in the original node
    order, so nothing needs restoring; the permutation into groups is a constant matrix.

    Args:
        graph: a `graphmdn_tf.Graph`; its `node_groups` (equal sizes) define the pooling.
            Without groups every node is its own group (no pooling).
        inter_dim: width of the theta/phi/g branches; default `C // 2` (at least 1).
        batch_norm_epsilon: 1e-5 as in PyTorch.
        batch_norm_momentum: 0.9 (PyTorch's momentum 0.1).

    Call arguments:
        inputs: [batch, nodes, C].
        training: BatchNorm mode.

    Output shape:
        [batch, nodes, C].

    Reference:
        Wang et al., "Non-local Neural Networks", CVPR 2018; Zhao et al. (SemGCN), CVPR 2019,
        Section 4.2; GraphMDN Figure 1.
    """

    def __init__(
        self, graph, inter_dim=None, batch_norm_epsilon=1e-5, batch_norm_momentum=0.9, **kwargs
    ):
        super().__init__(**kwargs)
        self.graph = as_graph(graph)
        if inter_dim is not None and (
            not isinstance(inter_dim, (int, np.integer)) or inter_dim < 1
        ):
            raise ValueError(
                f"Expected inter_dim to be None or a positive integer. Received: inter_dim={inter_dim!r}"
            )
        self.inter_dim = None if inter_dim is None else int(inter_dim)
        self.batch_norm_epsilon = float(batch_norm_epsilon)
        self.batch_norm_momentum = float(batch_norm_momentum)
        self.output_norm = keras.layers.BatchNormalization(
            axis=-1,
            epsilon=self.batch_norm_epsilon,
            momentum=self.batch_norm_momentum,
            gamma_initializer="zeros",
            beta_initializer="zeros",
            name="output_norm",
        )
        n = self.graph.num_nodes
        permutation = np.zeros((n, n), dtype=np.float32)
        permutation[np.arange(n), self.graph.grouped_order] = 1.0
        self._group_permutation = permutation  # row p picks node grouped_order[p]
        self._group_size = self.graph.group_size
        self._num_groups = n // self._group_size

    def build(self, input_shape):
        check_node_count(self.graph, input_shape)
        channels = input_shape[-1]
        inter = self.inter_dim or max(channels // 2, 1)
        self._inter = inter
        self.theta_kernel = self.add_weight(
            name="theta_kernel", shape=(channels, inter), initializer=_kaiming_normal()
        )
        self.theta_bias = self.add_weight(name="theta_bias", shape=(inter,), initializer="zeros")
        self.g_kernel = self.add_weight(
            name="g_kernel", shape=(channels, inter), initializer=_kaiming_normal()
        )
        self.g_bias = self.add_weight(name="g_bias", shape=(inter,), initializer="zeros")
        self.phi_kernel = self.add_weight(
            name="phi_kernel", shape=(channels, inter), initializer=_kaiming_normal()
        )
        self.phi_bias = self.add_weight(name="phi_bias", shape=(inter,), initializer="zeros")
        # [w_theta ; w_phi] of the concatenation projection (a 1x1 conv from 2*inter to 1, no bias).
        self.concat_kernel = self.add_weight(
            name="concat_kernel", shape=(2 * inter,), initializer=_kaiming_normal()
        )
        self.output_kernel = self.add_weight(
            name="output_kernel", shape=(inter, channels), initializer=_kaiming_normal()
        )
        self.output_bias = self.add_weight(
            name="output_bias", shape=(channels,), initializer="zeros"
        )
        self.output_norm.build((input_shape[0], input_shape[1], channels))

    def call(self, inputs, training=None):
        check_node_count(self.graph, inputs.shape, "inputs.shape")
        dtype = self.compute_dtype
        inter = self._inter
        concat_theta, concat_phi = self.concat_kernel[:inter], self.concat_kernel[inter:]
        # theta only enters through w_theta . theta_i: fold it into one [C] vector.
        theta_vector = ops.matmul(self.theta_kernel, concat_theta[:, None])  # [C, 1]
        theta_offset = ops.sum(self.theta_bias * concat_theta)
        theta_score = ops.matmul(inputs, ops.cast(theta_vector, dtype))[..., 0] + ops.cast(
            theta_offset, dtype
        )  # [B, N]

        kernel = ops.concatenate([self.g_kernel, self.phi_kernel], axis=-1)  # [C, 2*inter]
        bias = ops.concatenate([self.g_bias, self.phi_bias], axis=-1)
        g_phi = ops.matmul(inputs, ops.cast(kernel, dtype)) + ops.cast(
            bias, dtype
        )  # [B, N, 2*inter]
        if self._group_size > 1:
            g_phi = ops.einsum("pn,bnc->bpc", ops.cast(self._group_permutation, dtype), g_phi)
            # tf.reduce_max, not ops.max: Keras' eager ops.max refuses an empty batch, though the pooled axis never is.
            g_phi = tf.reduce_max(
                ops.reshape(g_phi, (-1, self._num_groups, self._group_size, 2 * inter)), axis=2
            )  # [B, P, 2*inter]
        g_pooled, phi_pooled = g_phi[..., :inter], g_phi[..., inter:]
        phi_score = ops.matmul(phi_pooled, ops.cast(concat_phi[:, None], dtype))[..., 0]  # [B, P]
        affinity = ops.relu(theta_score[:, :, None] + phi_score[:, None, :]) / float(
            self._num_groups
        )  # [B, N, P]
        context = ops.matmul(affinity, g_pooled)  # [B, N, inter]
        projected = ops.matmul(context, ops.cast(self.output_kernel, dtype)) + ops.cast(
            self.output_bias, dtype
        )
        return self.output_norm(projected, training=training) + inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "graph": self.graph.get_config(),
                "inter_dim": self.inter_dim,
                "batch_norm_epsilon": self.batch_norm_epsilon,
                "batch_norm_momentum": self.batch_norm_momentum,
            }
        )
        return config
