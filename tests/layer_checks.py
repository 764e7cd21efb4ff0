"""Standard checks every graphmdn_tf layer passes, modelled on keras-hub's `run_layer_test`."""

from __future__ import annotations

import keras
import numpy as np
import tree


def _as_list(outputs):
    return [np.asarray(o) for o in tree.flatten(outputs)]


def _size(variables) -> int:
    return sum(int(np.prod(v.shape)) for v in variables)


def run_layer_checks(
    layer_factory,
    input_shape,
    tmp_path,
    *,
    expected_num_trainable_weights=None,
    expected_num_non_trainable_weights=None,
    expected_num_non_trainable_variables=None,
    expected_trainable_params=None,
    expected_non_trainable_params=None,
    seed=0,
):
    """Config round trip, symbolic vs eager shapes, weight counts, one fit step, .keras save/load equality.

    `layer_factory()` returns a fresh, unbuilt layer; `input_shape` excludes the batch axis. Once the
    layer is built, the counts given are checked, each on its own: the number of trainable and of
    non-trainable weights (`layer.trainable_weights`, `layer.non_trainable_weights`: BatchNorm's moving
    statistics are non-trainable), the number of non-trainable variables (those weights plus state
    such as a seed generator's), and the scalar parameters in the trainable and the non-trainable
    weights. None skips a count.
    """
    layer = layer_factory()
    rebuilt = layer.__class__.from_config(layer.get_config())
    assert rebuilt.get_config() == layer.get_config()
    x = np.random.default_rng(seed).normal(size=(4, *input_shape)).astype("float32")
    _check_shapes(layer, x, input_shape)
    counts = {  # what -> (expected, found)
        "trainable weights": (expected_num_trainable_weights, len(layer.trainable_weights)),
        "non-trainable weights": (
            expected_num_non_trainable_weights,
            len(layer.non_trainable_weights),
        ),
        "non-trainable variables": (
            expected_num_non_trainable_variables,
            len(layer.non_trainable_variables),
        ),
        "trainable parameters": (expected_trainable_params, _size(layer.trainable_weights)),
        "non-trainable parameters": (
            expected_non_trainable_params,
            _size(layer.non_trainable_weights),
        ),
    }
    for what, (expected, found) in counts.items():
        assert expected is None or found == expected, f"expected {expected} {what}, found {found}"
    _check_fit_and_save(layer_factory, x, input_shape, tmp_path)


def _check_shapes(layer, x, input_shape):
    """A symbolic and an eager call give the same shapes, and `compute_output_shape` agrees (builds `layer`)."""
    symbolic_outputs = layer(keras.Input(shape=input_shape))
    eager_outputs = layer(x)
    symbolic_shapes = [tuple(t.shape)[1:] for t in tree.flatten(symbolic_outputs)]
    eager_shapes = [tuple(t.shape)[1:] for t in tree.flatten(eager_outputs)]
    assert symbolic_shapes == eager_shapes
    computed = layer.compute_output_shape((None, *input_shape))
    if isinstance(computed, dict):
        for key, shape in computed.items():
            assert tuple(shape)[1:] == tuple(eager_outputs[key].shape)[1:], key
    else:
        assert tuple(computed)[1:] == eager_shapes[0]


def _check_fit_and_save(layer_factory, x, input_shape, tmp_path):
    """A functional model around a fresh layer: one fit step changes the trainable weights, then a .keras round trip."""
    inputs = keras.Input(shape=input_shape)
    outputs = layer_factory()(inputs)
    flat = tree.flatten(outputs)
    if len(flat) > 1:
        outputs = keras.layers.Concatenate()([keras.layers.Flatten()(o) for o in flat])
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [w.numpy().copy() for w in model.trainable_weights]
    target = np.ones((4, *model.output_shape[1:]), "float32")
    model.fit(x, target, epochs=1, batch_size=4, verbose=0)
    after = [w.numpy() for w in model.trainable_weights]
    assert any(not np.allclose(a, b) for a, b in zip(before, after)), (
        "one fit step changed no weight"
    )
    path = tmp_path / "layer.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    for a, b in zip(
        _as_list(model.predict(x, verbose=0)), _as_list(restored.predict(x, verbose=0))
    ):
        np.testing.assert_array_equal(a, b)
