"""SemGCN building blocks: graph-conv block and residual block of two."""

from __future__ import annotations

import keras

from graphmdn_tf.graphs import as_graph, check_node_count
from graphmdn_tf.layers.hash_dropout import HashDropout
from graphmdn_tf.layers.sem_graph_conv import SemGraphConv


@keras.saving.register_keras_serializable(package="graphmdn_tf")
class GraphConvBlock(keras.layers.Layer):
    """SemGraphConv -> BatchNorm -> ReLU -> Dropout.

        out = Dropout(ReLU(BN(SemGraphConv(x))))

    Args:
        graph: a `graphmdn_tf.Graph`.
        units: output features per node.
        dropout: dropout rate after the ReLU (0 disables it); `HashDropout`.
        batch_norm_epsilon, batch_norm_momentum: PyTorch's 1e-5 and 0.1 (Keras momentum 0.9).

    Call arguments:
        inputs: [batch, nodes, features]; training: BatchNorm and dropout mode.

    Output shape:
        [batch, nodes, units].

    Reference:
        SemGCN `_GraphConv`; GraphMDN Figure 1.
    """

    def __init__(
        self, graph, units, dropout=0.0, batch_norm_epsilon=1e-5, batch_norm_momentum=0.9, **kwargs
    ):
        super().__init__(**kwargs)
        self.graph = as_graph(graph)
        self.units = int(units)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"Expected dropout in [0, 1). Received: dropout={dropout!r}")
        self.dropout = float(dropout)
        self.batch_norm_epsilon = float(batch_norm_epsilon)
        self.batch_norm_momentum = float(batch_norm_momentum)
        self.conv = SemGraphConv(self.graph, self.units, name="conv")
        self.norm = keras.layers.BatchNormalization(
            axis=-1, epsilon=self.batch_norm_epsilon, momentum=self.batch_norm_momentum, name="norm"
        )
        # HashDropout: inverted dropout with cheap hash-based masks (see its docstring).
        self.dropout_layer = HashDropout(self.dropout, name="dropout") if self.dropout > 0 else None

    def build(self, input_shape):
        check_node_count(self.graph, input_shape)
        self.conv.build(input_shape)
        self.norm.build((input_shape[0], input_shape[1], self.units))

    def call(self, inputs, training=None):
        outputs = keras.ops.relu(self.norm(self.conv(inputs), training=training))
        if self.dropout_layer is not None:
            outputs = self.dropout_layer(outputs, training=training)
        return outputs

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "graph": self.graph.get_config(),
                "units": self.units,
                "dropout": self.dropout,
                "batch_norm_epsilon": self.batch_norm_epsilon,
                "batch_norm_momentum": self.batch_norm_momentum,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="graphmdn_tf")
class ResidualGraphBlock(keras.layers.Layer):
    """Two graph-conv blocks with a residual connection: out = x + block2(block1(x)).

    Args:
        graph: a `graphmdn_tf.Graph`.
        units: features per node (input and output must match for the residual).
        dropout: dropout rate inside each block.

    Call arguments:
        inputs: [batch, nodes, units]; training: BatchNorm and dropout mode.

    Output shape:
        [batch, nodes, units].

    Reference:
        SemGCN `_ResGraphConv`; GraphMDN Figure 1 ("residual block").
    """

    def __init__(self, graph, units, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.graph = as_graph(graph)
        self.units = int(units)
        self.dropout = float(dropout)
        self.block1 = GraphConvBlock(self.graph, self.units, self.dropout, name="block1")
        self.block2 = GraphConvBlock(self.graph, self.units, self.dropout, name="block2")

    def build(self, input_shape):
        check_node_count(self.graph, input_shape)
        if input_shape[-1] != self.units:
            raise ValueError(
                f"Expected {self.units} input features for the residual connection. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.block1.build(input_shape)
        self.block2.build(input_shape)

    def call(self, inputs, training=None):
        return inputs + self.block2(self.block1(inputs, training=training), training=training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"graph": self.graph.get_config(), "units": self.units, "dropout": self.dropout}
        )
        return config
