"""SemGCN baseline: the GraphMDN backbone with a deterministic output and SemGCN's L2 loss."""

from __future__ import annotations

import keras

from graphmdn_tf.hypotheses import PREDICTION
from graphmdn_tf.layers.sem_graph_conv import SemGraphConv
from graphmdn_tf.losses import l2_loss
from graphmdn_tf.models.base import GraphPoseModel


@keras.saving.register_keras_serializable(package="graphmdn_tf")
class SemGCN(GraphPoseModel):
    """Semantic GCN with non-local blocks: [batch, N, input_dim] -> [batch, N, target_dim].

    The same backbone as `GraphMDN`, then an output SemGraphConv to `target_dim` features per node.
    Trained on the mean squared error (SemGCN's `nn.MSELoss`); `compile(optimizer=...)` then
    `fit(x, y)` needs no loss argument.

    Args:
        graph, hidden_dim, num_blocks, dropout, non_local, input_dim, target_dim, track_errors,
        error_scale: as for `GraphMDN` (see `GraphPoseModel`).

    Example:
        >>> model = SemGCN.from_preset("standard")              # the standard backbone, no mixture
        >>> model.compile(optimizer="adam")
        >>> model.fit(inputs_2d, targets_3d, batch_size=256)    # [F, 16, 2], [F, 16, 3]

    Reference:
        Zhao et al., "Semantic Graph Convolutional Networks for 3D Human Pose Regression", CVPR 2019.
    """

    is_mixture = False
    ignored_preset_fields = ("num_kernels",)  # the presets' mixture size; SemGCN predicts one pose

    def create_head(self):
        self.output_conv = SemGraphConv(
            self.graph, self.target_dim, name="output_conv", dtype="float32"
        )

    def output_block(self):
        return self.output_conv

    def pose_loss(self, y, y_pred, sample_weight=None):
        return l2_loss(y, y_pred, sample_weight)

    def selection_names(self):
        return (PREDICTION,)

    def select(self, y_pred, target):
        return {PREDICTION: y_pred}
