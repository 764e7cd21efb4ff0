"""What GraphMDN and SemGCN share: the backbone (built and serialized here), input checks, presets, pose errors."""

from __future__ import annotations

import keras
import tensorflow as tf

from graphmdn_tf import batching
from graphmdn_tf.graphs import as_graph, check_node_count
from graphmdn_tf.metrics import MILLIMETRES, mpjpe_tf
from graphmdn_tf.models.backbone import SemGCNBackbone
from graphmdn_tf.models.presets import PRETRAINED_PRESETS, model_preset, pretrained_path
from graphmdn_tf.skeletons import h36m_graph


class GraphPoseModel(keras.Model):
    """Base of the pose models: a graph, the `SemGCNBackbone`, input/target dimensions, build/call, MPJPE trackers.

        outputs = head(backbone(inputs))

    The base owns the backbone: it takes the backbone's arguments, builds `self.backbone` from them and
    writes them into `get_config`. A subclass adds only its head (made in `create_head`, returned by
    `output_block()`: features [batch, nodes, hidden_dim] -> the model's outputs), its loss on a batch
    (`pose_loss`; `compute_loss` adds the weight regularisation), its hypothesis selections (`selection_names`, `select`) and, when it has
    arguments of its own, an `__init__` that stores them and a `get_config` that adds them.

    Args:
        graph: a `graphmdn_tf.Graph` (default: the 16-joint Human3.6M skeleton with its joint groups).
        hidden_dim, num_blocks, dropout, non_local: the backbone (see `SemGCNBackbone`).
        input_dim: features per input node (2 for 2-D keypoints).
        target_dim: D, the target dimension per node (3 for 3-D joints).
        track_errors: with True, `fit`/`evaluate` report the MPJPE of each of the model's hypothesis
            selections (`selection_names()`), as `mpjpe_<selection>`. Set it to False on graphs where a
            Euclidean per-node error means nothing.
        error_scale: the unit of those errors, target units times `error_scale` (`MILLIMETRES`, the
            default, turns metres into millimetres).

    Inputs are checked in `build` and `call`; `predict` runs in blocks (`graphmdn_tf.batching`).
    """

    #: True for a model whose outputs are mixture parameters (GraphMDN), False for one pose (SemGCN).
    is_mixture: bool

    #: Fields of `models.presets.MODEL_PRESETS` this model has no argument for (dropped by `from_preset`).
    ignored_preset_fields: tuple = ()

    #: Rows per block when `predict` runs a batch (see `predict_step`); None runs each batch in one piece.
    predict_block_size = 256

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
        error_scale=MILLIMETRES,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.graph = h36m_graph() if graph is None else as_graph(graph)
        self.input_dim = int(input_dim)
        self.target_dim = int(target_dim)
        self.track_errors = bool(track_errors)
        self.error_scale = float(error_scale)
        # Selection name -> Mean tracker; Keras tracks metrics held in attributes, so they are reported and reset.
        self.error_trackers = (
            {
                selection: keras.metrics.Mean(name=f"mpjpe_{selection}")
                for selection in self.selection_names()
            }
            if self.track_errors
            else {}
        )
        self.hidden_dim = int(hidden_dim)
        self.num_blocks = int(num_blocks)
        self.dropout = float(dropout)
        self.non_local = bool(non_local)
        self.backbone = SemGCNBackbone(
            self.graph,
            self.hidden_dim,
            self.num_blocks,
            self.dropout,
            self.non_local,
            name="backbone",
        )
        self.create_head()

    @classmethod
    def from_preset(cls, name: str, *, load_weights: bool = True, **overrides) -> GraphPoseModel:
        """The model of preset `name`, overridden by keyword.

        An architecture preset ('standard', 'wide', 'k8', 'k200': the paper's) gives a new, untrained
        model; preset fields in `ignored_preset_fields` are dropped (SemGCN has no kernels). A trained
        preset (`PRETRAINED_PRESETS`, e.g. 'cmu_standard') gives the model shipped in the package with
        its weights, as keras-hub's `from_preset` does; with `load_weights=False` its architecture
        only. Overrides of a trained preset keep its weights when their shapes still fit (`dropout`,
        `min_sigma`, ...).

        Raises:
            ValueError: an unknown preset or override (named), a trained preset of another model
                class, or overrides that change the shapes of a trained preset's weights.
        """
        if name in PRETRAINED_PRESETS:
            return cls._from_pretrained(name, load_weights, overrides)
        try:
            preset = model_preset(name)
        except ValueError as error:
            raise ValueError(
                f"{error}, or a trained preset: {sorted(PRETRAINED_PRESETS)}"
            ) from None
        arguments = {
            key: value for key, value in preset.items() if key not in cls.ignored_preset_fields
        }
        return cls(**{**arguments, **overrides})

    @classmethod
    def _from_pretrained(cls, name: str, load_weights: bool, overrides: dict) -> GraphPoseModel:
        from graphmdn_tf.models.build import load_model

        trained = load_model(pretrained_path(name))
        if not isinstance(trained, cls):
            kind = type(trained).__name__
            raise ValueError(
                f"The trained preset {name!r} is a {kind}; load it with {kind}.from_preset({name!r})"
            )
        if load_weights and not overrides:
            return trained
        model = cls.from_config({**trained.get_config(), **overrides})
        model.build((None, model.graph.num_nodes, model.input_dim))
        if load_weights:
            try:
                model.set_weights(trained.get_weights())
            except ValueError:
                raise ValueError(
                    f"The overrides {sorted(overrides)} change the shapes of the trained preset "
                    f"{name!r}'s weights; pass load_weights=False for its architecture only"
                ) from None
        return model

    def create_head(self):
        """Create the head as an attribute of the model, after the backbone (the attribute's name is the head's
        path in `.keras` files). A subclass's own arguments are set before `GraphPoseModel.__init__` runs."""
        raise NotImplementedError

    def output_block(self) -> keras.layers.Layer:
        """The head, the layer after `self.backbone`: features [B, N, hidden_dim] -> the model's outputs."""
        raise NotImplementedError

    def build(self, input_shape):
        self.check_inputs(input_shape)
        self.backbone.build(input_shape)
        self.output_block().build((input_shape[0], input_shape[1], self.hidden_dim))
        self.built = True

    def call(self, inputs, training=None):
        self.check_inputs(inputs)
        return self.output_block()(self.backbone(inputs, training=training))

    def fit(self, *args, **kwargs):
        """Keras `fit`; the model's weights and the optimizer's slots are made before the first step is traced
        (`make_training_variables`)."""
        self.make_training_variables()
        return super().fit(*args, **kwargs)

    def train_on_batch(self, *args, **kwargs):
        """Keras `train_on_batch`; the weights and the optimizer's slots are made before its step is traced
        (`make_training_variables`)."""
        self.make_training_variables()
        return super().train_on_batch(*args, **kwargs)

    def make_training_variables(self):
        """Build an unbuilt model and the optimizer's slots now, outside any traced function.

        Keras would make them while tracing the first training step, and tf.function traces a step that
        creates variables twice. An unbuilt model is built for its own graph and input features, [batch, graph.num_nodes, input_dim]
        (data of another shape are refused by `call` as before); the slots start as the same zeros either
        way. (`compile` stays Keras' own, so that a saved model's compile config reloads.)
        """
        with self.distribute_strategy.scope():
            if not self.built:
                self.build((None, self.graph.num_nodes, self.input_dim))
            if self.optimizer is not None and not self.optimizer.built:
                self.optimizer.build(self.trainable_variables)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras' build before `fit`/`evaluate`/`predict`, without drawing a batch when none is needed.

        Under a distribution strategy, Keras' TensorFlow trainer starts an iterator over the dataset and
        takes its first batch to build the model, even a built one. A seeded tf.data stream that
        reshuffles on every iteration (the training stream of `graphmdn_tf.training`) then runs the
        epoch on its second order, not the first that one device trains on. A built model without
        compiled losses or metrics builds nothing from a batch, so it is given none.
        """
        if iterator is not None and self._builds_without_a_batch():
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def _builds_without_a_batch(self) -> bool:
        compiled = (self._compile_loss, self._compile_metrics)
        return all(layer.built for layer in self._flatten_layers()) and all(
            part is None or part.built for part in compiled
        )

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Keras `predict`; a NumPy array or tensor `x` is batched without tf.data autotuning (`batching.predict`)."""
        return batching.predict(
            self, x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks
        )

    def predict_step(self, data):
        """`predict`'s step: the batch in sequential blocks of at most `predict_block_size` rows.

        The outputs equal one call on the whole batch (see `graphmdn_tf.batching`).
        """
        return batching.predict_step(self, data, self.predict_block_size, self.check_inputs)

    def call_in_blocks(self, inputs, block_size):
        """`self(inputs, training=False)`, computed in sequential blocks of at most `block_size` rows."""
        return batching.call_in_blocks(self, inputs, block_size, self.check_inputs)

    def pose_loss(self, y, y_pred, sample_weight=None):
        """The model's loss on a batch, a scalar mean over its frames (a subclass defines it)."""
        raise NotImplementedError(f"{type(self).__name__} defines no pose_loss")

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras' training objective: `pose_loss` plus the weight regularisation, divided by the number of
        replicas inside a replica's step of a distribution strategy.

        Keras sums the replicas' gradients and multiplies the loss it reports back by the replicas (its
        own losses are scaled the same way), so that the update and the logged loss of a global batch
        split over replicas are those of the whole batch on one device.
        """
        loss = self.pose_loss(y, y_pred, sample_weight) + regularization_loss(self)
        replica = tf.distribute.get_replica_context()  # None outside a replica's step
        replicas = replica.num_replicas_in_sync if replica is not None else 1
        return loss / replicas if replicas > 1 else loss

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
                self.error_trackers[name].update_state(
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
            "hidden_dim": self.hidden_dim,
            "num_blocks": self.num_blocks,
            "dropout": self.dropout,
            "non_local": self.non_local,
        }


def regularization_loss(model: keras.Model):
    """Sum of the layers' added losses (weight regularizers), 0 when there are none."""
    return tf.add_n([tf.cast(loss, tf.float32) for loss in model.losses]) if model.losses else 0.0
