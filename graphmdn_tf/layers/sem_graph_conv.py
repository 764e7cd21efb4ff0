"""Semantic graph convolution (SemGCN, Zhao et al. 2019)."""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from graphmdn_tf.graphs import as_graph, check_node_count

# The value SemGCN writes off the adjacency mask before the row softmax.
_MASKED_LOGIT = -9e15


@keras.saving.register_keras_serializable(package="graphmdn_tf")
class SemGraphConv(keras.layers.Layer):
    """Semantic graph convolution with learnable edge weights.

    For node features X [batch, nodes, in] and the graph's A + I pattern, one learnable logit
    `e_ij` per non-zero (i, j) of A + I (initialised to 1) forms M, with M_ij = -inf off the
    pattern; a row softmax gives the edge weights. The self term and the neighbour term have
    separate kernels:

        out = (softmax(M) * I) X W0 + (softmax(M) * (1 - I)) X W1 + b

    At initialisation softmax(M) equals the row-normalised A + I. Both kernels are computed with
    one matmul (`X [W0 | W1]`), and the neighbour term is one batched matmul by the off-diagonal
    weights.

    Args:
        graph: a `graphmdn_tf.Graph` (or its config dict).
        units: output features per node.
        use_bias: add the bias b.
        kernel_initializer: initialiser of W0 and W1, which are drawn independently (a seeded
            initializer gives W1 its seed + 1). `None` (default) reproduces the reference: PyTorch's
            `xavier_uniform_(gain=1.414)` applied to the [2, in, out] weight tensor, i.e.
            U(-a, a) with a = 1.414 * sqrt(6 / ((in + 2) * out)) for every element.
        bias_initializer: `None` (default) is the reference U(-1/sqrt(out), 1/sqrt(out)).

    Call arguments:
        inputs: [batch, nodes, in] float tensor.

    Output shape:
        [batch, nodes, units].

    Example:
        >>> layer = SemGraphConv(h36m_graph(), units=128)
        >>> layer(np.zeros((4, 16, 2), "float32")).shape
        TensorShape([4, 16, 128])

    Reference:
        Zhao et al., "Semantic Graph Convolutional Networks for 3D Human Pose Regression",
        CVPR 2019, Eq. 3-4; GraphMDN (Oikarinen et al. 2020) Section 2.4.
    """

    def __init__(
        self, graph, units, use_bias=True, kernel_initializer=None, bias_initializer=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.graph = as_graph(graph)
        if not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"Expected units to be a positive integer. Received: units={units!r}")
        self.units = int(units)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = (
            None if kernel_initializer is None else keras.initializers.get(kernel_initializer)
        )
        self.bias_initializer = (
            None if bias_initializer is None else keras.initializers.get(bias_initializer)
        )
        mask = self.graph.adjacency_with_self_loops() > 0
        # Row-major positions of the non-zeros of A + I: the order of the reference's `e` vector.
        self._edge_rows, self._edge_cols = np.nonzero(mask)
        self._mask = mask
        self.num_edges = int(mask.sum())

    def build(self, input_shape):
        check_node_count(self.graph, input_shape)
        in_features = input_shape[-1]
        if in_features is None:
            raise ValueError(
                f"Expected a known feature dimension. Received: input_shape={tuple(input_shape)}"
            )
        self_init, neighbor_init = self._kernel_initializers(in_features)
        self.self_kernel = self.add_weight(
            name="self_kernel", shape=(in_features, self.units), initializer=self_init
        )
        self.neighbor_kernel = self.add_weight(
            name="neighbor_kernel", shape=(in_features, self.units), initializer=neighbor_init
        )
        self.edge_logits = self.add_weight(
            name="edge_logits",
            shape=(self.num_edges,),
            initializer=keras.initializers.Constant(1.0),
        )
        if self.use_bias:
            bias_init = self.bias_initializer
            if bias_init is None:
                stdv = 1.0 / math.sqrt(self.units)
                bias_init = keras.initializers.RandomUniform(-stdv, stdv)
            self.bias = self.add_weight(name="bias", shape=(self.units,), initializer=bias_init)
        else:
            self.bias = None
        # Constant one-hot map from the edge-logit vector to the dense [nodes, nodes] matrix.
        scatter = np.zeros((self.num_edges, self.graph.num_nodes**2), dtype=np.float32)
        scatter[
            np.arange(self.num_edges), self._edge_rows * self.graph.num_nodes + self._edge_cols
        ] = 1.0
        self._scatter = scatter
        self._off_mask_logits = np.where(self._mask, 0.0, _MASKED_LOGIT).astype(np.float32)

    def _kernel_initializers(self, in_features):
        """Two initializers, one for W0 and one for W1, that draw independent values.

        One Keras initializer instance called twice returns the same values, so sharing one would
        start W0 = W1 (a plain GCN), unlike the reference, whose [2, in, out] tensor is drawn at once.
        A user's initializer is cloned from its config; a seeded one gives W1 the seed + 1.
        """
        if self.kernel_initializer is None:
            bound = 1.414 * math.sqrt(6.0 / ((in_features + 2) * self.units))
            return (
                keras.initializers.RandomUniform(-bound, bound),
                keras.initializers.RandomUniform(-bound, bound),
            )
        config = keras.initializers.serialize(self.kernel_initializer)
        neighbor = keras.initializers.deserialize(config)
        seed = getattr(neighbor, "seed", None)
        if isinstance(seed, int) and not isinstance(seed, bool):
            neighbor = keras.initializers.deserialize(
                {**config, "config": {**config["config"], "seed": seed + 1}}
            )
        return keras.initializers.deserialize(config), neighbor

    def edge_weights(self):
        """softmax(M) [nodes, nodes] in float32: row i holds node i's weights over its neighbourhood."""
        n = self.graph.num_nodes
        logits = ops.reshape(
            ops.matmul(ops.expand_dims(ops.cast(self.edge_logits, "float32"), 0), self._scatter),
            (n, n),
        )
        return ops.softmax(logits + self._off_mask_logits, axis=-1)

    def call(self, inputs):
        check_node_count(self.graph, inputs.shape, "inputs.shape")
        weights = self.edge_weights()
        eye = np.eye(self.graph.num_nodes, dtype=np.float32)
        self_weight = ops.cast(ops.sum(weights * eye, axis=-1), self.compute_dtype)  # [N]
        neighbor_weights = ops.cast(weights * (1.0 - eye), self.compute_dtype)  # [N, N]
        kernel = ops.concatenate([self.self_kernel, self.neighbor_kernel], axis=-1)  # [in, 2*units]
        hidden = ops.matmul(inputs, ops.cast(kernel, self.compute_dtype))  # [B, N, 2*units]
        h_self, h_neighbor = hidden[..., : self.units], hidden[..., self.units :]
        outputs = h_self * self_weight[:, None] + ops.einsum(
            "ij,bjf->bif", neighbor_weights, h_neighbor
        )
        if self.bias is not None:
            outputs = outputs + ops.cast(self.bias, self.compute_dtype)
        return outputs

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "graph": self.graph.get_config(),
                "units": self.units,
                "use_bias": self.use_bias,
                "kernel_initializer": None
                if self.kernel_initializer is None
                else keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": None
                if self.bias_initializer is None
                else keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
