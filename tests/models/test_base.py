"""What GraphPoseModel (graphmdn_tf/models/base.py) gives both models: the backbone, config, .keras files, input checks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from graphmdn_tf import GraphMDN, SemGCN
from graphmdn_tf.models.base import GraphPoseModel
from tests.models.toy_data import two_valued_problem

# The config keys a saved `.keras` file holds; a key renamed or dropped would break files saved earlier.
BASE_CONFIG_KEYS = {
    "name",
    "trainable",
    "graph",
    "input_dim",
    "target_dim",
    "track_errors",
    "error_scale",
    "hidden_dim",
    "num_blocks",
    "dropout",
    "non_local",
}
CONFIG_KEYS = {
    GraphMDN: BASE_CONFIG_KEYS
    | {"num_kernels", "mixture_level", "min_sigma", "sigma_scale"}
    | {"sigma_per_joint", "pi_entropy_weight", "wta_warmup_steps"},
    SemGCN: BASE_CONFIG_KEYS,
}


@pytest.mark.parametrize("cls", [GraphMDN, SemGCN])
def test_the_base_builds_and_serializes_the_backbone(cls):
    model = cls(hidden_dim=12, num_blocks=2, dropout=0.25, non_local=False)
    assert isinstance(model, GraphPoseModel)
    config = model.get_config()
    assert set(config) == CONFIG_KEYS[cls]
    backbone = model.backbone.get_config()
    for key in ("hidden_dim", "num_blocks", "dropout", "non_local"):
        assert config[key] == backbone[key] == getattr(model, key)
    assert backbone["graph"] == config["graph"]
    assert len(model.backbone.residual_blocks) == 2 and model.backbone.input_non_local is None
    assert model.backbone.residual_blocks[1].block2.conv.units == 12


@pytest.mark.parametrize(
    "factory",
    [
        lambda: GraphMDN(hidden_dim=16, num_blocks=1, num_kernels=3, mixture_level="pose"),
        lambda: GraphMDN(
            hidden_dim=16, num_blocks=2, num_kernels=2, mixture_level="node", dropout=0.2
        ),
        lambda: SemGCN(hidden_dim=16, num_blocks=1),
    ],
)
def test_keras_save_load_round_trip(rng, tmp_path, factory):
    x, y = two_valued_problem(rng, n=64)
    model = factory()
    model.compile(optimizer="adam")
    model.fit(
        x, y, epochs=1, batch_size=32, verbose=0
    )  # moves BatchNorm statistics off their defaults
    model.save(tmp_path / "model.keras")
    restored = keras.models.load_model(tmp_path / "model.keras")
    assert type(restored) is type(model) and restored.get_config() == model.get_config()
    keras.tree.map_structure(
        np.testing.assert_array_equal, model.predict(x, verbose=0), restored.predict(x, verbose=0)
    )
    # The restored model keeps training (optimizer state restored too).
    restored.fit(x, y, epochs=1, batch_size=32, verbose=0)


@pytest.mark.parametrize(
    "shape, message",
    [
        (
            (4, 17, 2),
            r"Expected 16 nodes to match the graph's adjacency \(16, 16\)\. Received: inputs.shape=\(4, 17, 2\)",
        ),
        (
            (4, 16, 3),
            r"Expected 2 input features per node \(\[batch, 16, 2\]\)\. Received: inputs.shape=\(4, 16, 3\)",
        ),
        ((4, 32), r"rank-3 input .* Received: inputs.shape=\(4, 32\)"),
    ],
)
@pytest.mark.parametrize("cls", [GraphMDN, SemGCN])
def test_bad_input_shapes_raise(cls, shape, message):
    model = cls(hidden_dim=8, num_blocks=1)
    with pytest.raises(ValueError, match=message):
        model(np.zeros(shape, "float32"))
    with pytest.raises(ValueError, match=message):
        cls(hidden_dim=8, num_blocks=1).build(shape)


def _fit_once(model, x, y):
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)


def _train_on_one_batch(model, x, y):
    model.train_on_batch(x[:32], y[:32])


@pytest.mark.parametrize("train", [_fit_once, _train_on_one_batch])
@pytest.mark.parametrize("built", [True, False])
@pytest.mark.parametrize("cls", [GraphMDN, SemGCN])
def test_training_makes_the_weights_and_optimizer_slots_before_it_traces_its_step(
    rng, cls, built, train
):
    # tf.function traces a step that creates variables twice; fit and train_on_batch make the model's
    # weights (when it is unbuilt) and Adam's slots first.
    x, y = two_valued_problem(rng, n=64)
    model = cls(hidden_dim=16, num_blocks=1)
    if built:
        model.build((None, 16, 2))  # as `build_model` does
    model.compile(optimizer="adam")
    made_while_tracing = []

    def creator(next_creator, **kwargs):
        if tf.inside_function():
            made_while_tracing.append(kwargs.get("name"))
        return next_creator(**kwargs)

    with tf.variable_creator_scope(creator):
        train(model, x, y)
    assert made_while_tracing == []
    assert model.optimizer.built and len(model.optimizer.variables) > 2 * len(
        model.trainable_variables
    )


def _fit_two_epochs(fit, model, x, y):
    fit(
        model, x, y, epochs=2, batch_size=16, verbose=0, shuffle=False
    )  # its losses are in the weights


def _train_on_three_batches(train_on_batch, model, x, y):
    return [
        train_on_batch(model, x[rows], y[rows])
        for rows in (slice(0, 32), slice(32, 64), slice(0, 32))
    ]


@pytest.mark.parametrize(
    "method, run", [("fit", _fit_two_epochs), ("train_on_batch", _train_on_three_batches)]
)
@pytest.mark.parametrize("cls", [GraphMDN, SemGCN])
def test_an_unbuilt_model_trains_to_the_weights_keras_own_training_gives(rng, cls, method, run):
    x, y = two_valued_problem(rng, n=64)
    results = []
    for owner in (
        GraphPoseModel,
        keras.Model,
    ):  # ours builds first; Keras' builds in the first call
        keras.utils.set_random_seed(3)
        model = cls(hidden_dim=16, num_blocks=1, dropout=0.1)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        losses = run(getattr(owner, method), model, x, y)
        results.append((losses, [weight.numpy() for weight in model.weights]))
    (our_losses, ours), (their_losses, theirs) = results
    assert our_losses == their_losses and len(ours) == len(theirs)
    for our_weight, their_weight in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(our_weight, their_weight)


def test_fit_refuses_data_of_another_shape_as_call_does(rng):
    model = GraphMDN(hidden_dim=16, num_blocks=1)
    model.compile(optimizer="adam")
    with pytest.raises(
        ValueError, match=r"Expected 2 input features per node \(\[batch, 16, 2\]\). Received: "
    ):
        model.fit(np.zeros((8, 16, 3), np.float32), np.zeros((8, 16, 3), np.float32), verbose=0)
