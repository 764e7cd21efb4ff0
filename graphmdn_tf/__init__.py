"""graphmdn-tf: GraphMDN (graph neural networks with mixture density outputs) in Keras 3.

Public API, re-exported here; see the README for a tour.
"""

import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from graphmdn_tf import hypotheses, metrics  # noqa: E402
from graphmdn_tf._version import __version__  # noqa: E402
from graphmdn_tf.distributions import mixture_distribution  # noqa: E402
from graphmdn_tf.graphs import Graph  # noqa: E402
from graphmdn_tf.layers import (  # noqa: E402
    GraphConvBlock,
    GraphMixtureHead,
    GraphNonLocal,
    ResidualGraphBlock,
    SemGraphConv,
)
from graphmdn_tf.losses import l2_loss, mixture_nll  # noqa: E402
from graphmdn_tf.models import (  # noqa: E402
    MODEL_PRESETS,
    TRAINING_PRESETS,
    GraphMDN,
    SemGCN,
    SemGCNBackbone,
    build_model,
)
from graphmdn_tf.skeletons import H36M_16, H36M_17, H36M_32, Skeleton, h36m_graph  # noqa: E402

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
