"""graphmdn_tf/batching.py: inference in blocks, alone and through the models' predict / predict_step / call_in_blocks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from graphmdn_tf import GraphMDN, SemGCN, batching
from tests.models.toy_data import two_valued_problem


def _assert_close(outputs, expected):
    keras.tree.map_structure(
        lambda a, b: np.testing.assert_allclose(np.asarray(a), b, rtol=1e-5, atol=1e-6),
        outputs,
        expected,
    )


@pytest.mark.parametrize("rows, count, size", [(11, 3, 4), (8, 2, 4), (1, 1, 5), (0, 1, 3)])
def test_map_blocks_joins_the_blocks_back_to_the_rows(rows, count, size):
    inputs = tf.reshape(tf.range(rows * 6, dtype=tf.float32), (rows, 3, 2))

    def fn(block):
        return {"double": block * 2.0, "total": tf.reduce_sum(block, axis=[1, 2])}

    outputs = batching.map_blocks(fn, inputs, count, size)
    np.testing.assert_array_equal(outputs["double"], inputs.numpy() * 2.0)
    np.testing.assert_array_equal(outputs["total"], inputs.numpy().sum(axis=(1, 2)))


@pytest.mark.parametrize("batch_size", [1, 4, 10, 32])
def test_in_memory_batches_slices_in_order_and_casts_floats(rng, batch_size):
    x = rng.normal(size=(10, 16, 2))  # float64
    batches = list(batching.in_memory_batches(x, batch_size))
    assert [len(b) for b in batches] == [
        min(batch_size, 10 - start) for start in range(0, 10, batch_size)
    ]
    assert {b.dtype for b in batches} == {tf.float32}
    np.testing.assert_allclose(np.concatenate(batches), x, rtol=1e-6)
    assert (
        list(batching.in_memory_batches(np.arange(5), 2))[0].dtype == tf.int64
    )  # only floats are cast


@pytest.mark.parametrize(
    "x, batch_size, message",
    [
        (
            np.zeros((4, 16, 2)),
            0,
            r"Expected batch_size to be a positive integer\. Received: batch_size=0",
        ),
        (np.zeros((4, 16, 2)), 2.5, r"Received: batch_size=2\.5"),
        (np.zeros((4, 16, 2)), True, r"Received: batch_size=True"),
        (
            np.float32(3.0),
            2,
            r"Expected an array with a leading batch dimension\. Received: shape=\(\)",
        ),
    ],
)
def test_in_memory_batches_bad_arguments_raise(x, batch_size, message):
    with pytest.raises(ValueError, match=message):
        batching.in_memory_batches(x, batch_size)


@pytest.mark.parametrize("jit_compile", [True, False])
@pytest.mark.parametrize(
    "factory",
    [
        lambda: GraphMDN(hidden_dim=16, num_blocks=1, num_kernels=3),
        lambda: SemGCN(hidden_dim=16, num_blocks=1),
    ],
    ids=["graphmdn", "semgcn"],
)
def test_predict_in_blocks_equals_one_call_on_the_batch(rng, jit_compile, factory):
    model = factory()
    x, y = two_valued_problem(rng, n=64)
    model.compile(optimizer="adam", jit_compile=jit_compile)
    model.fit(
        x, y, epochs=1, batch_size=32, verbose=0
    )  # BatchNorm moving statistics away from their start
    x = x[:11]
    expected = keras.tree.map_structure(np.asarray, model(x, training=False))
    model.predict_block_size = 4  # 11 rows: 3 blocks of 4, one padding row
    _assert_close(model.predict(x, batch_size=11, verbose=0), expected)
    for block_size in (1, 5, 11, 100, None):
        _assert_close(model.call_in_blocks(x, block_size), expected)
        _assert_close(batching.call_in_blocks(model, x, block_size), expected)


@pytest.mark.parametrize("block_size", [0, -3, 2.5, True, "256"])
def test_bad_predict_block_size_raises(block_size):
    model = SemGCN(hidden_dim=8, num_blocks=1)
    with pytest.raises(ValueError, match="block_size to be a positive integer or None"):
        model.call_in_blocks(np.zeros((2, 16, 2), "float32"), block_size)


def test_call_in_blocks_checks_the_whole_batch_first():
    model = SemGCN(hidden_dim=8, num_blocks=1)
    with pytest.raises(ValueError, match=r"Received: inputs.shape=\(5, 17, 2\)"):
        model.call_in_blocks(np.zeros((5, 17, 2), "float32"), 2)


def test_predict_on_arrays_matches_keras_array_adapter(rng):
    """Our array batching (autotune off) gives Keras' batches: same rows, order, partial last batch, casts."""
    model = GraphMDN(hidden_dim=16, num_blocks=1, num_kernels=3)
    x = rng.normal(size=(70, 16, 2))  # float64: cast to float32 like Keras does
    model.build((None, 16, 2))
    batches = []

    class RecordBatches(keras.callbacks.Callback):
        def on_predict_batch_end(self, batch, logs=None):
            batches.append(len(logs["mu"]))

    for inputs in (x, tf.constant(x), x.astype("float32")):
        for batch_size in (None, 16, 70, 100):
            batches.clear()
            ours = model.predict(
                inputs, batch_size=batch_size, verbose=0, callbacks=[RecordBatches()]
            )
            theirs = keras.Model.predict(model, inputs, batch_size=batch_size, verbose=0)
            keras.tree.map_structure(np.testing.assert_array_equal, ours, theirs)
            size = 32 if batch_size is None else batch_size
            assert batches == [min(size, 70 - start) for start in range(0, 70, size)]
    assert ours["mu"].dtype == np.float32


def test_predict_passes_datasets_and_steps_to_keras(rng):
    model = SemGCN(hidden_dim=8, num_blocks=1)
    x = rng.normal(size=(20, 16, 2)).astype("float32")
    model.build((None, 16, 2))
    expected = np.asarray(model(x, training=False))
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(6)
    np.testing.assert_allclose(model.predict(dataset, verbose=0), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        model.predict(x, batch_size=5, steps=2, verbose=0), expected[:10], rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_predict_bad_batch_size_raises(batch_size):
    model = SemGCN(hidden_dim=8, num_blocks=1)
    with pytest.raises(ValueError, match="batch_size to be a positive integer"):
        model.predict(np.zeros((4, 16, 2), "float32"), batch_size=batch_size, verbose=0)


@pytest.mark.parametrize(
    "factory, shapes",
    [
        (
            lambda: GraphMDN(hidden_dim=16, num_blocks=1, num_kernels=3),
            {"mu": (0, 3, 16, 3), "sigma": (0, 3), "pi_logits": (0, 3)},
        ),
        (lambda: SemGCN(hidden_dim=8, num_blocks=1), (0, 16, 3)),
    ],
    ids=["graphmdn", "semgcn"],
)
def test_an_empty_batch_gives_empty_outputs(factory, shapes):
    model = factory()
    outputs = model(
        np.zeros((0, 16, 2), "float32"), training=False
    )  # eager: Keras' ops.max refused this
    found = (
        {k: tuple(v.shape) for k, v in outputs.items()}
        if isinstance(outputs, dict)
        else tuple(outputs.shape)
    )
    assert found == shapes
    predicted = model.predict(np.zeros((0, 16, 2)), verbose=0)  # Keras itself fails on zero batches
    if isinstance(shapes, dict):
        assert {k: (v.shape, v.dtype) for k, v in predicted.items()} == {
            k: (s, np.float32) for k, s in shapes.items()
        }
    else:
        assert (predicted.shape, predicted.dtype) == (shapes, np.float32)
