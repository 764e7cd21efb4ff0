"""Inference in blocks: `predict` without tf.data autotuning, and a batch run as sequential blocks of rows.

At inference the rows of a batch do not interact (BatchNorm uses its moving statistics), so running a
batch as blocks of rows, one after another, gives the outputs of one call on the whole batch; the
smaller blocks' activations stay in the CPU's caches. `GraphPoseModel.predict` / `predict_step` /
`call_in_blocks` delegate here, and `export` runs its XLA-compiled forward through `map_blocks`.
Measurements behind these choices: docs/benchmarks.md.

The functions take any Keras model called as `model(inputs, training=False)`; nothing here depends on
the model's architecture.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from graphmdn_tf.checks import check_positive_int


def predict(model: keras.Model, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
    """Keras `predict` of `model`; a NumPy array or tensor `x` is batched by `in_memory_batches` (no autotuning).

    Keras feeds in-memory arrays through a tf.data pipeline with autotuning on, whose background thread
    is joined at the end of every call. For arrays the pipeline is a plain slicing loop with nothing to
    tune, so this builds the same batches (in order, the last one partial, floats cast to `floatx`,
    `batch_size` 32 by default) with autotuning off, and an array of 0 rows gives empty outputs. Other
    inputs (datasets, generators, `steps`) go to Keras unchanged.
    """
    if steps is None and isinstance(x, (np.ndarray, tf.Tensor)):
        x, batch_size = in_memory_batches(x, 32 if batch_size is None else batch_size), None
        if (
            x.cardinality() == 0
        ):  # Keras fails on zero batches (UnboundLocalError); rows are independent
            empty = x.element_spec
            return keras.tree.map_structure(
                np.asarray, model(tf.zeros([0, *empty.shape[1:]], empty.dtype), training=False)
            )
    return keras.Model.predict(
        model, x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks
    )


def predict_step(model: keras.Model, data, block_size, check_inputs=None):
    """`predict`'s step: the inputs of `data` through `call_in_blocks(model, inputs, block_size, check_inputs)`."""
    inputs, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    return call_in_blocks(model, inputs, block_size, check_inputs)


def call_in_blocks(model: keras.Model, inputs, block_size, check_inputs=None):
    """`model(inputs, training=False)`, computed in sequential blocks of at most `block_size` rows.

    A batch of n rows runs as ceil(n / block_size) equal blocks, padded by fewer rows than there are
    blocks. `block_size=None` runs the batch in one piece. `check_inputs(inputs)`, when given, sees the
    whole batch before it is cut, so its errors name the shape the caller passed.
    """
    if block_size is None:
        return model(inputs, training=False)
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(
            f"Expected block_size to be a positive integer or None. Received: block_size={block_size!r}"
        )
    inputs = tf.convert_to_tensor(inputs)
    if check_inputs is not None:
        check_inputs(inputs)
    rows = tf.shape(inputs)[0]
    count = tf.maximum((rows + block_size - 1) // block_size, 1)
    return map_blocks(
        lambda block: model(block, training=False), inputs, count, (rows + count - 1) // count
    )


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
    blocks = tf.reshape(
        tf.pad(inputs, padding), tf.concat([[count, size], tf.shape(inputs)[1:]], axis=0)
    )
    outputs = tf.map_fn(fn, blocks, fn_output_signature=signature, parallel_iterations=1)
    return tf.nest.map_structure(
        lambda t: tf.reshape(t, tf.concat([[count * size], tf.shape(t)[2:]], axis=0))[:rows],
        outputs,
    )


def in_memory_batches(x, batch_size: int) -> tf.data.Dataset:
    """Consecutive `batch_size`-row slices of the array `x` (the last one shorter), with tf.data autotuning off.

    Floating arrays are cast to Keras' `floatx`, as Keras' own array adapter does.
    """
    check_positive_int(batch_size, "batch_size")
    tensor = tf.convert_to_tensor(x)
    if tensor.dtype.is_floating and tensor.dtype != keras.backend.floatx():
        tensor = tf.cast(tensor, keras.backend.floatx())
    if tensor.shape.rank is None or tensor.shape.rank < 1:
        raise ValueError(
            f"Expected an array with a leading batch dimension. Received: shape={tuple(tensor.shape)}"
        )
    rows, size = int(tensor.shape[0]), int(batch_size)
    batches = tf.data.Dataset.range((rows + size - 1) // size).map(
        lambda i: tensor[tf.cast(i, tf.int32) * size : tf.cast(i + 1, tf.int32) * size]
    )
    options = tf.data.Options()
    options.autotune.enabled = False
    return batches.prefetch(2).with_options(options)
