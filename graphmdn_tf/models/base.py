"""What GraphMDN and SemGCN share: graph input checks and training-time pose-error metrics."""

from __future__ import annotations

import keras
import tensorflow as tf

from graphmdn_tf.graphs import as_graph, check_node_count
from graphmdn_tf.metrics import mpjpe_tf
from graphmdn_tf.skeletons import h36m_graph


class GraphPoseModel(keras.Model):
    """Base of the pose models: a graph, input/target dimensions, and MPJPE trackers.

    With `track_errors=True`, `fit`/`evaluate` report the MPJPE of each of the model's hypothesis
    selections (`selection_names()`), as `mpjpe_<selection>`, in target units times `error_scale`
    (1000 turns metres into millimetres). Set it to False on graphs where a Euclidean per-node error
    means nothing.
    """

    def __init__(self, graph=None, input_dim=2, target_dim=3, track_errors=True, error_scale=1000.0, **kwargs):
        super().__init__(**kwargs)
        self.graph = h36m_graph() if graph is None else as_graph(graph)
        self.input_dim = int(input_dim)
        self.target_dim = int(target_dim)
        self.track_errors = bool(track_errors)
        self.error_scale = float(error_scale)
        self.error_trackers = []
        if self.track_errors:
            for selection in self.selection_names():
                tracker = keras.metrics.Mean(name=f"mpjpe_{selection}")
                setattr(self, f"mpjpe_{selection}_tracker", tracker)  # attribute: tracked and reset by Keras
                self.error_trackers.append((selection, tracker))

    def selection_names(self) -> tuple:
        raise NotImplementedError

    def select(self, y_pred, target) -> dict:
        """Hypothesis name -> predicted pose [B, N, D]."""
        raise NotImplementedError

    def check_inputs(self, inputs_or_shape):
        """Raise a clear ValueError on a wrong rank, node count or feature count."""
        shape = tuple(getattr(inputs_or_shape, "shape", inputs_or_shape))
        check_node_count(self.graph, shape, "inputs.shape")
        if shape[-1] is not None and shape[-1] != self.input_dim:
            raise ValueError(
                f"Expected {self.input_dim} input features per node ([batch, {self.graph.num_nodes}, "
                f"{self.input_dim}]). Received: inputs.shape={shape}"
            )

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if self.track_errors and y is not None:
            for name, pose in self.select(y_pred, y).items():
                self_tracker = dict(self.error_trackers)[name]
                self_tracker.update_state(
                    mpjpe_tf(pose, y) * self.error_scale, sample_weight=sample_weight
                )
        return super().compute_metrics(x, y, y_pred, sample_weight)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "graph": self.graph.get_config(),
            "input_dim": self.input_dim,
            "target_dim": self.target_dim,
            "track_errors": self.track_errors,
            "error_scale": self.error_scale,
        }


def regularization_loss(model: keras.Model):
    """Sum of the layers' added losses (weight regularizers), 0 when there are none."""
    return tf.add_n([tf.cast(loss, tf.float32) for loss in model.losses]) if model.losses else 0.0
