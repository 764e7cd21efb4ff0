"""Standard checks every graphmdn_tf layer passes (DESIGN.md, "Tests")."""

from __future__ import annotations

import keras
import numpy as np
import tree


def _as_list(outputs):
    return [np.asarray(o) for o in tree.flatten(outputs)]


def run_layer_checks(layer_factory, input_shape, tmp_path, expected_weight_count=None, seed=0):
    """Config round trip, symbolic vs eager shapes, weight count, one fit step, .keras save/load equality.

    `layer_factory()` returns a fresh, unbuilt layer; `input_shape` excludes the batch axis.
    """
    layer = layer_factory()
    rebuilt = layer.__class__.from_config(layer.get_config())
    assert rebuilt.get_config() == layer.get_config()

    x = np.random.default_rng(seed).normal(size=(4, *input_shape)).astype("float32")
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
    if expected_weight_count is not None:
        assert sum(int(np.prod(w.shape)) for w in layer.weights) == expected_weight_count

    # A functional model around the layer: one fit step changes the trainable weights, then .keras round trip.
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
    assert any(not np.allclose(a, b) for a, b in zip(before, after)), "one fit step changed no weight"
    path = tmp_path / "layer.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    for a, b in zip(_as_list(model.predict(x, verbose=0)), _as_list(restored.predict(x, verbose=0))):
        np.testing.assert_array_equal(a, b)
