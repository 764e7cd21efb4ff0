"""SemGCN baseline: the GraphMDN backbone with a deterministic output and SemGCN's L2 loss."""

from __future__ import annotations

import keras

from graphmdn_tf.hypotheses import PREDICTION
from graphmdn_tf.layers.sem_graph_conv import SemGraphConv
from graphmdn_tf.losses import l2_loss
from graphmdn_tf.models.backbone import SemGCNBackbone
from graphmdn_tf.models.base import GraphPoseModel, regularization_loss
from graphmdn_tf.models.presets import model_preset


@keras.saving.register_keras_serializable(package="graphmdn_tf")
class SemGCN(GraphPoseModel):
    """Semantic GCN with non-local blocks: [batch, N, input_dim] -> [batch, N, target_dim].

    The same backbone as `GraphMDN`, then an output SemGraphConv to `target_dim` features per node.
    Trained on the mean squared error (SemGCN's `nn.MSELoss`); `compile(optimizer=...)` then
    `fit(x, y)` needs no loss argument.

    Args:
        graph, hidden_dim, num_blocks, dropout, non_local, input_dim, target_dim, track_errors,
        error_scale: as for `GraphMDN`.

    Reference:
        Zhao et al., "Semantic Graph Convolutional Networks for 3D Human Pose Regression", CVPR 2019.
    """

    is_mixture = False

    def __init__(
        self,
        graph=None,
        hidden_dim=128,
        num_blocks=4,
        dropout=0.1,
        input_dim=2,
        target_dim=3,
        non_local=True,
        track_errors=True,
        error_scale=1000.0,
        **kwargs,
    ):
        super().__init__(graph, input_dim, target_dim, track_errors, error_scale, **kwargs)
        self.hidden_dim = int(hidden_dim)
        self.num_blocks = int(num_blocks)
        self.dropout = float(dropout)
        self.non_local = bool(non_local)
        self.backbone = SemGCNBackbone(
            self.graph, self.hidden_dim, self.num_blocks, self.dropout, self.non_local, name="backbone"
        )
        self.output_conv = SemGraphConv(self.graph, self.target_dim, name="output_conv", dtype="float32")

    @classmethod
    def from_preset(cls, name: str, **overrides) -> SemGCN:
        """A SemGCN on the backbone of preset `name` ('standard', 'wide', ...); mixture fields are ignored."""
        arguments = {k: v for k, v in model_preset(name).items() if k != "num_kernels"}
        return cls(**{**arguments, **overrides})

    def output_block(self):
        return self.output_conv

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return l2_loss(y, y_pred, sample_weight) + regularization_loss(self)

    def selection_names(self):
        return (PREDICTION,)

    def select(self, y_pred, target):
        return {PREDICTION: y_pred}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "num_blocks": self.num_blocks,
                "dropout": self.dropout,
                "non_local": self.non_local,
            }
        )
        return config
