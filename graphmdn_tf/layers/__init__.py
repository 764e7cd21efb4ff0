"""Keras 3 layers for graph mixture density networks, loaded with Keras on first use
(`graphmdn_tf.lazy`); `graphmdn_tf.layers.levels` is plain data."""

from graphmdn_tf.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "GraphConvBlock": "graphmdn_tf.layers.graph_blocks",
        "ResidualGraphBlock": "graphmdn_tf.layers.graph_blocks",
        "GraphNonLocal": "graphmdn_tf.layers.graph_non_local",
        "HashDropout": "graphmdn_tf.layers.hash_dropout",
        "GraphMixtureHead": "graphmdn_tf.layers.mixture_head",
        "SemGraphConv": "graphmdn_tf.layers.sem_graph_conv",
    },
)

__all__ = [
    "SemGraphConv",
    "GraphNonLocal",
    "GraphConvBlock",
    "ResidualGraphBlock",
    "GraphMixtureHead",
    "HashDropout",
]
