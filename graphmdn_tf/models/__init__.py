"""GraphMDN and the SemGCN baseline, the paper's presets, and `build_model(config)`."""

from graphmdn_tf.models.backbone import SemGCNBackbone
from graphmdn_tf.models.build import build_model, load_model
from graphmdn_tf.models.graphmdn import GraphMDN
from graphmdn_tf.models.presets import (
    MODEL_PRESETS,
    PRETRAINED_PRESETS,
    TRAINING_PRESETS,
    model_preset,
    pretrained_path,
)
from graphmdn_tf.models.semgcn import SemGCN

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
