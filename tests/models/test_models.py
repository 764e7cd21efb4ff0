import keras
import numpy as np
import pytest

from graphmdn_tf import MODEL_PRESETS, Graph, GraphMDN, SemGCN, mixture_distribution


def _toy_data(rng, n=512, nodes=16, input_dim=2, target_dim=3):
    """A learnable, two-valued inverse problem: y = +-f(x) with a sign invisible in x."""
    x = rng.uniform(-1, 1, size=(n, nodes, input_dim)).astype("float32")
    sign = rng.choice([-1.0, 1.0], size=(n, 1, 1))
    base = np.tanh(x.sum(axis=-1, keepdims=True)) * 0.3
    y = np.concatenate([base * np.ones((1, 1, target_dim - 1)), sign * 0.4 * np.ones_like(base)], axis=-1)
    return x, y.astype("float32")


def _param_count_analytic(hidden, blocks, kernels, input_dim=2, target_dim=3, edges=46):
    def conv(i, o):
        return 2 * i * o + edges + o

    def non_local(c):
        inter = c // 2
        return 3 * (c * inter + inter) + 2 * inter + inter * c + c + 4 * c

    block = conv(input_dim, hidden) + 4 * hidden
    residual = 2 * (conv(hidden, hidden) + 4 * hidden)
    return block + non_local(hidden) + blocks * (residual + non_local(hidden)) + conv(hidden, (target_dim + 2) * kernels)


@pytest.mark.parametrize("preset", sorted(MODEL_PRESETS))
def test_presets_match_the_paper(preset):
    model = GraphMDN.from_preset(preset)
    model.build((None, 16, 2))
    settings = MODEL_PRESETS[preset]
    assert (model.hidden_dim, model.num_blocks, model.num_kernels, model.dropout) == (
        settings["hidden_dim"], settings["num_blocks"], settings["num_kernels"], settings["dropout"]
    )
    assert model.count_params() == _param_count_analytic(model.hidden_dim, model.num_blocks, model.num_kernels)
    assert {"standard": (128, 4, 5), "wide": (512, 3, 5), "k8": (128, 4, 8), "k200": (512, 3, 200)}[preset] == (
        model.hidden_dim, model.num_blocks, model.num_kernels
    )
    assert model.dropout == (0.5 if preset == "k200" else 0.1)


@pytest.mark.parametrize("mixture", ["pose", "node"])
def test_fit_learns_with_xla_and_no_user_loss(rng, mixture):
    x, y = _toy_data(rng)
    model = GraphMDN(hidden_dim=32, num_blocks=1, num_kernels=3, mixture=mixture)
    model.compile(optimizer=keras.optimizers.Adam(3e-3, clipnorm=1.0), jit_compile=True)
    before = model.evaluate(x, y, verbose=0, return_dict=True)
    history = model.fit(x, y, batch_size=64, epochs=6, verbose=0)
    after = model.evaluate(x, y, verbose=0, return_dict=True)
    assert after["loss"] < before["loss"] - 5.0
    assert set(history.history) == {"loss", "mpjpe_mean", "mpjpe_highest", "mpjpe_oracle"}
    # The oracle can only match or beat the highest-weight kernel.
    assert after["mpjpe_oracle"] <= after["mpjpe_highest"] + 1e-3


def test_graphmdn_oracle_resolves_a_two_valued_target(rng):
    # y's last coordinate is +-0.4 at random: a single prediction must average it away (error ~0.4);
    # a two-kernel mixture learns both branches, so its oracle is far better than its mean.
    x, y = _toy_data(rng, n=1024)
    model = GraphMDN(hidden_dim=32, num_blocks=1, num_kernels=2, dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(5e-3, clipnorm=1.0))
    model.fit(x, y, batch_size=128, epochs=25, verbose=0)
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert result["mpjpe_oracle"] < 0.5 * result["mpjpe_mean"]


def test_semgcn_fits_with_l2(rng):
    x, y = _toy_data(rng)
    model = SemGCN(hidden_dim=32, num_blocks=1)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=True)
    before = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    model.fit(x, y, batch_size=64, epochs=10, verbose=0)
    after = model.evaluate(x, y, verbose=0, return_dict=True)
    # The random sign of the last coordinate (+-0.4) leaves an irreducible MSE of 0.16 / 3 = 0.053;
    # the rest of the error is learnable and mostly gone after 10 epochs.
    assert before > 0.12 and after["loss"] < 0.08
    expected = float(np.mean((model.predict(x, verbose=0) - y) ** 2))
    assert after["loss"] == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize(
    "factory",
    [
        lambda: GraphMDN(hidden_dim=16, num_blocks=1, num_kernels=3, mixture="pose"),
        lambda: GraphMDN(hidden_dim=16, num_blocks=2, num_kernels=2, mixture="node", dropout=0.2),
        lambda: SemGCN(hidden_dim=16, num_blocks=1),
    ],
)
def test_keras_save_load_round_trip(rng, tmp_path, factory):
    x, y = _toy_data(rng, n=64)
    model = factory()
    model.compile(optimizer="adam")
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)  # moves BatchNorm statistics off their defaults
    model.save(tmp_path / "model.keras")
    restored = keras.models.load_model(tmp_path / "model.keras")
    assert restored.get_config() == model.get_config()
    a, b = model.predict(x, verbose=0), restored.predict(x, verbose=0)
    for key in (a if isinstance(a, dict) else [None]):
        np.testing.assert_array_equal(a[key] if key else a, b[key] if key else b)
    # The restored model keeps training (optimizer state restored too).
    restored.fit(x, y, epochs=1, batch_size=32, verbose=0)


def test_models_run_on_other_graphs(rng):
    # A 6-node ring of sensors with paired groups, 1 input feature and a 2-D target per node.
    ring = Graph(6, ((0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0)), node_groups=((0, 3), (1, 4), (2, 5)))
    x, y = _toy_data(rng, n=256, nodes=6, input_dim=1, target_dim=2)
    model = GraphMDN(graph=ring, hidden_dim=16, num_blocks=1, num_kernels=2, input_dim=1, target_dim=2, track_errors=False)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(x, y, epochs=3, batch_size=64, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    out = model.predict(x[:4], verbose=0)
    assert out["mu"].shape == (4, 2, 6, 2) and out["pi_logits"].shape == (4, 2)
    assert mixture_distribution(out).sample(3, seed=0).shape == (3, 4, 6, 2)
    baseline = SemGCN(graph=ring, hidden_dim=8, num_blocks=1, input_dim=1, target_dim=2)
    assert baseline(x[:4]).shape == (4, 6, 2)


def test_mixed_precision_keeps_the_mixture_in_float32(rng):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = GraphMDN(hidden_dim=16, num_blocks=1, num_kernels=2)
        x, y = _toy_data(rng, n=64)
        model.compile(optimizer="adam")
        history = model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        out = model(x[:2])
        assert model.backbone.compute_dtype == "float16"
        assert {keras.backend.standardize_dtype(v.dtype) for v in out.values()} == {"float32"}
        assert np.isfinite(history.history["loss"][0])
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize(
    "shape, message",
    [
        ((4, 17, 2), r"Expected 16 nodes to match the graph's adjacency \(16, 16\)\. Received: inputs.shape=\(4, 17, 2\)"),
        ((4, 16, 3), r"Expected 2 input features per node \(\[batch, 16, 2\]\)\. Received: inputs.shape=\(4, 16, 3\)"),
        ((4, 32), r"rank-3 input .* Received: inputs.shape=\(4, 32\)"),
    ],
)
@pytest.mark.parametrize("cls", [GraphMDN, SemGCN])
def test_bad_input_shapes_raise(cls, shape, message):
    model = cls(hidden_dim=8, num_blocks=1)
    with pytest.raises(ValueError, match=message):
        model(np.zeros(shape, "float32"))


def test_bad_constructor_arguments_raise():
    with pytest.raises(ValueError, match="Expected mixture to be one of"):
        GraphMDN(mixture="joint")
    with pytest.raises(ValueError, match="Unknown preset 'huge'"):
        GraphMDN.from_preset("huge")
    with pytest.raises(ValueError, match="Expected num_blocks >= 0"):
        GraphMDN(num_blocks=-1)


@pytest.mark.parametrize("jit_compile", [True, False])
@pytest.mark.parametrize(
    "factory",
    [lambda: GraphMDN(hidden_dim=16, num_blocks=1, num_kernels=3), lambda: SemGCN(hidden_dim=16, num_blocks=1)],
    ids=["graphmdn", "semgcn"],
)
def test_predict_in_blocks_equals_one_call_on_the_batch(rng, jit_compile, factory):
    model = factory()
    x, y = _toy_data(rng, n=64)
    model.compile(optimizer="adam", jit_compile=jit_compile)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)  # BatchNorm moving statistics away from their start
    x = x[:11]
    expected = keras.tree.map_structure(np.asarray, model(x, training=False))

    def assert_equals_one_call(outputs):
        keras.tree.map_structure(
            lambda a, b: np.testing.assert_allclose(np.asarray(a), b, rtol=1e-5, atol=1e-6), outputs, expected
        )

    model.predict_block_size = 4  # 11 rows: 3 blocks of 4, one padding row
    assert_equals_one_call(model.predict(x, batch_size=11, verbose=0))
    for block_size in (1, 5, 11, 100, None):
        assert_equals_one_call(model.call_in_blocks(x, block_size))


@pytest.mark.parametrize("block_size", [0, -3, 2.5, True, "256"])
def test_bad_predict_block_size_raises(block_size):
    model = SemGCN(hidden_dim=8, num_blocks=1)
    with pytest.raises(ValueError, match="block_size to be a positive integer or None"):
        model.call_in_blocks(np.zeros((2, 16, 2), "float32"), block_size)


def test_predict_on_arrays_matches_keras_array_adapter(rng):
    """Our array batching (autotune off) gives Keras' batches: same rows, order, partial last batch, casts."""
    import tensorflow as tf

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
            ours = model.predict(inputs, batch_size=batch_size, verbose=0, callbacks=[RecordBatches()])
            theirs = keras.Model.predict(model, inputs, batch_size=batch_size, verbose=0)
            keras.tree.map_structure(np.testing.assert_array_equal, ours, theirs)
            size = 32 if batch_size is None else batch_size
            assert batches == [min(size, 70 - start) for start in range(0, 70, size)]
    assert ours["mu"].dtype == np.float32


def test_predict_passes_datasets_and_steps_to_keras(rng):
    import tensorflow as tf

    model = SemGCN(hidden_dim=8, num_blocks=1)
    x = rng.normal(size=(20, 16, 2)).astype("float32")
    model.build((None, 16, 2))
    expected = np.asarray(model(x, training=False))
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(6)
    np.testing.assert_allclose(model.predict(dataset, verbose=0), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, batch_size=5, steps=2, verbose=0), expected[:10], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_predict_bad_batch_size_raises(batch_size):
    model = SemGCN(hidden_dim=8, num_blocks=1)
    with pytest.raises(ValueError, match="batch_size to be a positive integer"):
        model.predict(np.zeros((4, 16, 2), "float32"), batch_size=batch_size, verbose=0)


@pytest.mark.parametrize(
    "factory, shapes",
    [
        (lambda: GraphMDN(hidden_dim=16, num_blocks=1, num_kernels=3), {"mu": (0, 3, 16, 3), "sigma": (0, 3), "pi_logits": (0, 3)}),
        (lambda: SemGCN(hidden_dim=8, num_blocks=1), (0, 16, 3)),
    ],
    ids=["graphmdn", "semgcn"],
)
def test_an_empty_batch_gives_empty_outputs(factory, shapes):
    model = factory()
    outputs = model(np.zeros((0, 16, 2), "float32"), training=False)  # eager: Keras' ops.max refused this
    found = {k: tuple(v.shape) for k, v in outputs.items()} if isinstance(outputs, dict) else tuple(outputs.shape)
    assert found == shapes
    predicted = model.predict(np.zeros((0, 16, 2)), verbose=0)  # Keras itself fails on zero batches
    if isinstance(shapes, dict):
        assert {k: (v.shape, v.dtype) for k, v in predicted.items()} == {k: (s, np.float32) for k, s in shapes.items()}
    else:
        assert (predicted.shape, predicted.dtype) == (shapes, np.float32)
