"""Keras 3 layers for graph mixture density networks."""

from graphmdn_tf.layers.graph_blocks import GraphConvBlock, ResidualGraphBlock
from graphmdn_tf.layers.graph_non_local import GraphNonLocal
from graphmdn_tf.layers.hash_dropout import HashDropout
from graphmdn_tf.layers.mixture_head import GraphMixtureHead
from graphmdn_tf.layers.sem_graph_conv import SemGraphConv

__all__ = [
    "SemGraphConv",
    "GraphNonLocal",
    "GraphConvBlock",
    "ResidualGraphBlock",
    "GraphMixtureHead",
    "HashDropout",
]
