"""GraphMDN and the SemGCN baseline, the paper's presets, and `build_model(config)`.

The presets are plain data, imported at once; the models load with Keras on first use
(`graphmdn_tf.lazy`).
"""

from graphmdn_tf.lazy import lazy_exports
from graphmdn_tf.models.presets import (
    MODEL_PRESETS,
    PRETRAINED_PRESETS,
    TRAINING_PRESETS,
    model_preset,
    pretrained_path,
)

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "SemGCNBackbone": "graphmdn_tf.models.backbone",
        "build_model": "graphmdn_tf.models.build",
        "load_model": "graphmdn_tf.models.build",
        "GraphMDN": "graphmdn_tf.models.graphmdn",
        "SemGCN": "graphmdn_tf.models.semgcn",
    },
)

__all__ = [
    "build_model",
    "load_model",
    "GraphMDN",
    "SemGCN",
    "SemGCNBackbone",
    "MODEL_PRESETS",
    "TRAINING_PRESETS",
    "model_preset",
    "PRETRAINED_PRESETS",
    "pretrained_path",
]
