"""GraphMDN and the SemGCN baseline, and the paper's presets."""

from graphmdn_tf.models.backbone import SemGCNBackbone
from graphmdn_tf.models.graphmdn import GraphMDN
from graphmdn_tf.models.presets import MODEL_PRESETS, TRAINING_PRESETS, model_preset
from graphmdn_tf.models.semgcn import SemGCN

__all__ = ["GraphMDN", "SemGCN", "SemGCNBackbone", "MODEL_PRESETS", "TRAINING_PRESETS", "model_preset"]
