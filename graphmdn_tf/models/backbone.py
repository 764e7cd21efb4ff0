"""The SemGCN backbone shared by GraphMDN and the SemGCN baseline."""

from __future__ import annotations

import keras

from graphmdn_tf.graphs import as_graph, check_node_count
from graphmdn_tf.layers.graph_blocks import GraphConvBlock, ResidualGraphBlock
from graphmdn_tf.layers.graph_non_local import GraphNonLocal


@keras.saving.register_keras_serializable(package="graphmdn_tf")
class SemGCNBackbone(keras.layers.Layer):
    """Input graph-conv block and non-local block, then `num_blocks` x (residual block, non-local block).

        h = NL_0(Block(x));  h = NL_i(Res_i(h)), i = 1..num_blocks

    Args:
        graph: a `graphmdn_tf.Graph`.
        hidden_dim: features per node throughout.
        num_blocks: residual blocks.
        dropout: dropout rate inside the graph-conv blocks.
        non_local: include the non-local blocks (SemGCN's `nodes_group`); True in GraphMDN.

    Call arguments:
        inputs: [batch, nodes, input features]; training: BatchNorm and dropout mode.

    Output shape:
        [batch, nodes, hidden_dim].

    Reference:
        GraphMDN Figure 1; SemGCN `SemGCN` module (`gconv_input`, `gconv_layers`).
    """

    def __init__(self, graph, hidden_dim=128, num_blocks=4, dropout=0.1, non_local=True, **kwargs):
        super().__init__(**kwargs)
        self.graph = as_graph(graph)
        if int(num_blocks) < 0:
            raise ValueError(f"Expected num_blocks >= 0. Received: num_blocks={num_blocks!r}")
        self.hidden_dim = int(hidden_dim)
        self.num_blocks = int(num_blocks)
        self.dropout = float(dropout)
        self.non_local = bool(non_local)
        self.input_block = GraphConvBlock(
            self.graph, self.hidden_dim, self.dropout, name="input_block"
        )
        self.input_non_local = (
            GraphNonLocal(self.graph, name="input_non_local") if self.non_local else None
        )
        self.residual_blocks = [
            ResidualGraphBlock(
                self.graph, self.hidden_dim, self.dropout, name=f"residual_block_{i}"
            )
            for i in range(self.num_blocks)
        ]
        self.non_local_blocks = (
            [GraphNonLocal(self.graph, name=f"non_local_{i}") for i in range(self.num_blocks)]
            if self.non_local
            else []
        )

    def build(self, input_shape):
        check_node_count(self.graph, input_shape)
        self.input_block.build(input_shape)
        hidden_shape = (input_shape[0], input_shape[1], self.hidden_dim)
        for layer in [self.input_non_local, *self.residual_blocks, *self.non_local_blocks]:
            if layer is not None:
                layer.build(hidden_shape)

    def call(self, inputs, training=None):
        hidden = self.input_block(inputs, training=training)
        if self.input_non_local is not None:
            hidden = self.input_non_local(hidden, training=training)
        for index, block in enumerate(self.residual_blocks):
            hidden = block(hidden, training=training)
            if self.non_local:
                hidden = self.non_local_blocks[index](hidden, training=training)
        return hidden

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "graph": self.graph.get_config(),
                "hidden_dim": self.hidden_dim,
                "num_blocks": self.num_blocks,
                "dropout": self.dropout,
                "non_local": self.non_local,
            }
        )
        return config
