"""What GraphMDN and SemGCN share: graph input checks and training-time pose-error metrics."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from graphmdn_tf.graphs import as_graph, check_node_count
from graphmdn_tf.metrics import mpjpe_tf
from graphmdn_tf.skeletons import h36m_graph


class GraphPoseModel(keras.Model):
    """Base of the pose models: a graph, input/target dimensions, build/call, and MPJPE trackers.

    Subclasses set `self.backbone` (a `SemGCNBackbone`) and `self.hidden_dim`, and return the layer that
    follows the backbone from `output_block()`; inputs are checked in `build` and `call`.

    With `track_errors=True`, `fit`/`evaluate` report the MPJPE of each of the model's hypothesis
    selections (`selection_names()`), as `mpjpe_<selection>`, in target units times `error_scale`
    (1000 turns metres into millimetres). Set it to False on graphs where a Euclidean per-node error
    means nothing.
    """

    #: True for a model whose outputs are mixture parameters (GraphMDN), False for one pose (SemGCN).
    is_mixture: bool

    #: Rows per block when `predict` runs a batch (see `predict_step`); None runs each batch in one piece.
    predict_block_size = 256

    def __init__(self, graph=None, input_dim=2, target_dim=3, track_errors=True, error_scale=1000.0, **kwargs):
        super().__init__(**kwargs)
        self.graph = h36m_graph() if graph is None else as_graph(graph)
        self.input_dim = int(input_dim)
        self.target_dim = int(target_dim)
        self.track_errors = bool(track_errors)
        self.error_scale = float(error_scale)
        # Selection name -> Mean tracker; Keras tracks metrics held in attributes, so they are reported and reset.
        self.error_trackers = (
            {selection: keras.metrics.Mean(name=f"mpjpe_{selection}") for selection in self.selection_names()}
            if self.track_errors
            else {}
        )

    def output_block(self) -> keras.layers.Layer:
        """The layer after `self.backbone`: features [B, N, hidden_dim] -> the model's outputs."""
        raise NotImplementedError

    def build(self, input_shape):
        self.check_inputs(input_shape)
        self.backbone.build(input_shape)
        self.output_block().build((input_shape[0], input_shape[1], self.hidden_dim))
        self.built = True

    def call(self, inputs, training=None):
        self.check_inputs(inputs)
        return self.output_block()(self.backbone(inputs, training=training))

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Keras `predict`; a NumPy array or tensor `x` is batched by `in_memory_batches` (no tf.data autotuning).

        Keras feeds in-memory arrays through a tf.data pipeline with autotuning on, whose background
        thread is joined at the end of every call; on a 2-core CPU that cost about 0.1-0.2 s a call
        (README, Benchmark). For arrays the pipeline is a plain slicing loop with nothing to tune, so
        this builds the same batches (in order, the last one partial, floats cast to `floatx`) with
        autotuning off, and an array of 0 rows gives empty outputs. Other inputs (datasets, generators,
        `steps`) go to Keras unchanged.
        """
        if steps is None and isinstance(x, (np.ndarray, tf.Tensor)):
            x, batch_size = in_memory_batches(x, 32 if batch_size is None else batch_size), None
            if x.cardinality() == 0:  # Keras fails on zero batches (UnboundLocalError); rows are independent
                empty = x.element_spec
                return keras.tree.map_structure(
                    np.asarray, self(tf.zeros([0, *empty.shape[1:]], empty.dtype), training=False)
                )
        return super().predict(x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks)

    def predict_step(self, data):
        """`predict`'s step: the batch in blocks of at most `predict_block_size` rows, one after another.

        At inference the rows of a batch do not interact (BatchNorm uses its moving statistics), so the
        outputs equal one call on the whole batch; the smaller blocks' activations stay in the CPU's
        caches. On a 2-core CPU a jit-compiled forward of the standard preset at batch 1024 ran about a
        third faster in blocks of 256 than in one piece (25,469 against 18,524 samples/s; README,
        Benchmark). A batch of n rows runs as ceil(n / block) equal blocks, padded by fewer
        rows than there are blocks.
        """
        inputs, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self.call_in_blocks(inputs, self.predict_block_size)

    def call_in_blocks(self, inputs, block_size):
        """`self(inputs, training=False)`, computed in sequential blocks of at most `block_size` rows."""
        if block_size is None:
            return self(inputs, training=False)
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
            raise ValueError(f"Expected block_size to be a positive integer or None. Received: block_size={block_size!r}")
        inputs = tf.convert_to_tensor(inputs)
        self.check_inputs(inputs)
        rows = tf.shape(inputs)[0]
        count = tf.maximum((rows + block_size - 1) // block_size, 1)
        return map_blocks(lambda block: self(block, training=False), inputs, count, (rows + count - 1) // count)

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
                self.error_trackers[name].update_state(mpjpe_tf(pose, y) * self.error_scale, sample_weight=sample_weight)
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


def map_blocks(fn, inputs, count, size):
    """`fn` over `count` sequential blocks of `size` rows of `inputs` (zero-padded), joined and cut back to the rows.

    Blocks run one after another (`tf.map_fn`, `parallel_iterations=1`). `fn`'s output structure, which
    `tf.map_fn` needs up front, comes from tracing `fn` once on a block's spec: a trace only, so
    nothing runs and nothing is added to the caller's graph.
    """
    block_spec = tf.TensorSpec((None, *inputs.shape[1:]), inputs.dtype)
    signature = tf.nest.map_structure(
        lambda t: tf.TensorSpec((None, *t.shape[1:]), t.dtype),
        tf.function(fn).get_concrete_function(block_spec).structured_outputs,
    )
    rows = tf.shape(inputs)[0]
    padding = [[0, count * size - rows]] + [[0, 0]] * (inputs.shape.rank - 1)
    blocks = tf.reshape(tf.pad(inputs, padding), tf.concat([[count, size], tf.shape(inputs)[1:]], axis=0))
    outputs = tf.map_fn(fn, blocks, fn_output_signature=signature, parallel_iterations=1)
    return tf.nest.map_structure(
        lambda t: tf.reshape(t, tf.concat([[count * size], tf.shape(t)[2:]], axis=0))[:rows], outputs
    )


def in_memory_batches(x, batch_size: int) -> tf.data.Dataset:
    """Consecutive `batch_size`-row slices of the array `x` (the last one shorter), with tf.data autotuning off.

    Floating arrays are cast to Keras' `floatx`, as Keras' own array adapter does.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"Expected batch_size to be a positive integer. Received: batch_size={batch_size!r}")
    tensor = tf.convert_to_tensor(x)
    if tensor.dtype.is_floating and tensor.dtype != keras.backend.floatx():
        tensor = tf.cast(tensor, keras.backend.floatx())
    if tensor.shape.rank is None or tensor.shape.rank < 1:
        raise ValueError(f"Expected an array with a leading batch dimension. Received: shape={tuple(tensor.shape)}")
    rows, size = int(tensor.shape[0]), int(batch_size)
    batches = tf.data.Dataset.range((rows + size - 1) // size).map(
        lambda i: tensor[tf.cast(i, tf.int32) * size : tf.cast(i + 1, tf.int32) * size]
    )
    options = tf.data.Options()
    options.autotune.enabled = False
    return batches.prefetch(2).with_options(options)
