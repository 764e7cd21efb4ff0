"""graphmdn-tf: GraphMDN (graph neural networks with mixture density outputs) in Keras 3.

Public API, re-exported here and imported on first use (`graphmdn_tf.lazy`); see the README for a
tour.
"""

import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from graphmdn_tf._version import __version__  # noqa: E402
from graphmdn_tf.lazy import lazy_exports  # noqa: E402

# Each public name and the module that defines it, imported when the name is first read: the command
# line's help and the light modules (config, presets) load without TensorFlow.
_EXPORTS = {
    "hypotheses": "graphmdn_tf.hypotheses",
    "metrics": "graphmdn_tf.metrics",
    "mixture_distribution": "graphmdn_tf.distributions",
    "Graph": "graphmdn_tf.graphs",
    "GraphConvBlock": "graphmdn_tf.layers",
    "GraphMixtureHead": "graphmdn_tf.layers",
    "GraphNonLocal": "graphmdn_tf.layers",
    "ResidualGraphBlock": "graphmdn_tf.layers",
    "SemGraphConv": "graphmdn_tf.layers",
    "l2_loss": "graphmdn_tf.losses",
    "mixture_nll": "graphmdn_tf.losses",
    "MODEL_PRESETS": "graphmdn_tf.models.presets",
    "TRAINING_PRESETS": "graphmdn_tf.models.presets",
    "GraphMDN": "graphmdn_tf.models",
    "SemGCN": "graphmdn_tf.models",
    "SemGCNBackbone": "graphmdn_tf.models",
    "build_model": "graphmdn_tf.models",
    "H36M_16": "graphmdn_tf.skeletons",
    "H36M_17": "graphmdn_tf.skeletons",
    "H36M_32": "graphmdn_tf.skeletons",
    "Skeleton": "graphmdn_tf.skeletons",
    "h36m_graph": "graphmdn_tf.skeletons",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "Graph",
    "Skeleton",
    "H36M_16",
    "H36M_17",
    "H36M_32",
    "h36m_graph",
    "SemGraphConv",
    "GraphNonLocal",
    "GraphConvBlock",
    "ResidualGraphBlock",
    "GraphMixtureHead",
    "SemGCNBackbone",
    "GraphMDN",
    "SemGCN",
    "build_model",
    "MODEL_PRESETS",
    "TRAINING_PRESETS",
    "mixture_distribution",
    "mixture_nll",
    "l2_loss",
    "hypotheses",
    "metrics",
    "__version__",
]
