"""GraphMDN (graphmdn_tf/models/graphmdn.py): the mixture head on the backbone, its NLL training and selections."""

import warnings

import keras
import numpy as np
import pytest

from graphmdn_tf import Graph, GraphMDN, mixture_distribution
from graphmdn_tf.losses import batch_pi_entropy, mixture_nll, winner_takes_all_nll
from graphmdn_tf.models.build import load_model
from tests.models.toy_data import two_valued_problem


@pytest.mark.parametrize("mixture_level", ["pose", "node"])
def test_fit_learns_with_xla_and_no_user_loss(rng, mixture_level):
    x, y = two_valued_problem(rng)
    model = GraphMDN(hidden_dim=32, num_blocks=1, num_kernels=3, mixture_level=mixture_level)
    model.compile(optimizer=keras.optimizers.Adam(3e-3, clipnorm=1.0), jit_compile=True)
    before = model.evaluate(x, y, verbose=0, return_dict=True)
    history = model.fit(x, y, batch_size=64, epochs=6, verbose=0)
    after = model.evaluate(x, y, verbose=0, return_dict=True)
    assert after["loss"] < before["loss"] - 5.0
    assert set(history.history) == {"loss", "mpjpe_mean", "mpjpe_highest", "mpjpe_oracle"}
    # The oracle can only match or beat the highest-weight kernel.
    assert after["mpjpe_oracle"] <= after["mpjpe_highest"] + 1e-3


def test_oracle_resolves_a_two_valued_target(rng):
    # y's last coordinate is +-0.4 at random: a single prediction must average it away (error ~0.4);
    # a two-kernel mixture learns both branches, so its oracle is far better than its mean.
    x, y = two_valued_problem(rng, n=1024)
    model = GraphMDN(hidden_dim=32, num_blocks=1, num_kernels=2, dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(5e-3, clipnorm=1.0))
    model.fit(x, y, batch_size=128, epochs=25, verbose=0)
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert result["mpjpe_oracle"] < 0.5 * result["mpjpe_mean"]


def test_runs_on_other_graphs(rng):
    # A 6-node ring of sensors with paired groups, 1 input feature and a 2-D target per node.
    ring = Graph(
        6, ((0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0)), node_groups=((0, 3), (1, 4), (2, 5))
    )
    x, y = two_valued_problem(rng, n=256, nodes=6, input_dim=1, target_dim=2)
    model = GraphMDN(
        graph=ring,
        hidden_dim=16,
        num_blocks=1,
        num_kernels=2,
        input_dim=1,
        target_dim=2,
        track_errors=False,
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(x, y, epochs=3, batch_size=64, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    out = model.predict(x[:4], verbose=0)
    assert out["mu"].shape == (4, 2, 6, 2) and out["pi_logits"].shape == (4, 2)
    assert mixture_distribution(out).sample(3, seed=0).shape == (3, 4, 6, 2)


def test_mixed_precision_keeps_the_mixture_in_float32(rng):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = GraphMDN(hidden_dim=16, num_blocks=1, num_kernels=2)
        x, y = two_valued_problem(rng, n=64)
        model.compile(optimizer="adam")
        history = model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        out = model(x[:2])
        assert model.backbone.compute_dtype == "float16"
        assert {keras.backend.standardize_dtype(v.dtype) for v in out.values()} == {"float32"}
        assert np.isfinite(history.history["loss"][0])
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("mixture_level, sigma_shape", [("pose", (3, 4)), ("node", (3, 4, 16))])
def test_the_head_follows_the_mixture_arguments(rng, mixture_level, sigma_shape):
    model = GraphMDN(
        hidden_dim=8, num_blocks=1, num_kernels=4, mixture_level=mixture_level, min_sigma=0.5
    )
    outputs = model(rng.normal(size=(3, 16, 2)).astype("float32"), training=False)
    assert (model.head.num_kernels, model.head.mixture_level, model.head.min_sigma) == (
        4,
        mixture_level,
        0.5,
    )
    assert outputs["mu"].shape == (3, 4, 16, 3) and outputs["sigma"].shape == sigma_shape
    assert float(np.min(outputs["sigma"])) >= 0.5
    assert {
        "num_kernels": 4,
        "mixture_level": mixture_level,
        "min_sigma": 0.5,
    }.items() <= model.get_config().items()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"mixture_level": "joint"},
            r"Expected mixture_level to be one of \('pose', 'node'\)\. "
            r"Received: mixture_level='joint'",
        ),
        ({"num_blocks": -1}, r"Expected num_blocks >= 0\. Received: num_blocks=-1"),
        ({"num_kernels": 0}, "Expected num_kernels to be a positive integer"),
        ({"min_sigma": 0.0}, "Expected min_sigma > 0"),
        (
            {"mixture_level": "node", "sigma_per_joint": True},
            "Expected sigma_per_joint only with mixture_level='pose'",
        ),
        ({"pi_entropy_weight": -1.0}, r"Expected pi_entropy_weight >= 0\. Received: "),
        ({"wta_warmup_steps": -2}, r"Expected wta_warmup_steps to be an integer >= 0\. Received: "),
        ({"wta_warmup_steps": 1.5}, "Expected wta_warmup_steps to be an integer >= 0"),
    ],
)
def test_bad_constructor_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GraphMDN(**kwargs)


def test_the_old_keyword_mixture_warns_and_an_old_config_loads_silently():
    with pytest.warns(
        DeprecationWarning,
        match=r"GraphMDN\(mixture=\.\.\.\) is deprecated; use GraphMDN\(mixture_level=\.\.\.\)",
    ):
        model = GraphMDN(hidden_dim=8, num_blocks=1, num_kernels=2, mixture="node")
    assert model.mixture_level == model.head.mixture_level == "node"
    with pytest.warns(DeprecationWarning, match=r"GraphMDN\(mixture=\.\.\.\)"):
        assert GraphMDN.from_preset("standard", mixture="node").mixture_level == "node"
    config = model.get_config()
    old = {("mixture" if key == "mixture_level" else key): value for key, value in config.items()}
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*mixture", category=DeprecationWarning)
        restored = GraphMDN.from_config(old)
    assert restored.get_config() == config and restored.head.mixture_level == "node"


@pytest.mark.parametrize(
    "mixture, scale_shape", [("pose", (16,)), ("node", (16,)), ("pose", (4, 16))]
)
def test_a_sigma_scale_multiplies_the_heads_sigma_and_survives_the_config(
    rng, mixture, scale_shape, tmp_path
):
    scales = rng.uniform(0.5, 2.0, size=scale_shape)
    plain = GraphMDN(hidden_dim=8, num_blocks=1, num_kernels=4, mixture_level=mixture)
    inputs = rng.normal(size=(3, 16, 2)).astype("float32")
    raw = plain(inputs, training=False)
    calibrated = plain.with_sigma_scale(scales)
    outputs = calibrated(inputs, training=False)
    sigma = np.asarray(raw["sigma"], np.float64)
    expected = (sigma[:, :, None] if sigma.ndim == 2 else sigma) * scales  # [3, 4, 16]
    np.testing.assert_allclose(outputs["sigma"], expected, rtol=1e-6)
    for name in ("mu", "pi_logits"):
        np.testing.assert_array_equal(outputs[name], raw[name])
    assert plain.get_config()["sigma_scale"] is None
    assert np.array_equal(calibrated.get_config()["sigma_scale"], scales.tolist())
    calibrated.save(tmp_path / "calibrated.keras")
    reloaded = keras.saving.load_model(tmp_path / "calibrated.keras")
    np.testing.assert_allclose(reloaded(inputs)["sigma"], outputs["sigma"], rtol=1e-6)


@pytest.mark.parametrize(
    "scales, message",
    [(np.ones(15), r"shape \[16\] \(per joint\) or \[5, 16\]"), (-np.ones(16), "> 0")],
)
def test_a_bad_sigma_scale_is_refused(scales, message):
    with pytest.raises(ValueError, match=message):
        GraphMDN(sigma_scale=scales)


def test_a_per_joint_sigma_model_saves_and_loads(rng, tmp_path):
    model = GraphMDN(hidden_dim=8, num_blocks=1, num_kernels=3, sigma_per_joint=True)
    x = rng.normal(size=(4, 16, 2)).astype("float32")
    outputs = model(x, training=False)
    assert outputs["sigma"].shape == (4, 3, 16) and outputs["pi_logits"].shape == (4, 3)
    model.save(tmp_path / "joint.keras")
    loaded = load_model(tmp_path / "joint.keras")
    assert loaded.sigma_per_joint and loaded.head.sigma_per_joint
    np.testing.assert_allclose(
        np.asarray(loaded(x, training=False)["sigma"]), np.asarray(outputs["sigma"]), atol=1e-6
    )


def test_a_config_saved_before_the_new_arguments_loads_as_the_paper(rng):
    config = GraphMDN(hidden_dim=8, num_blocks=1).get_config()
    for name in ("sigma_per_joint", "pi_entropy_weight", "wta_warmup_steps"):
        del config[name]
    model = GraphMDN.from_config(config)
    assert (model.sigma_per_joint, model.pi_entropy_weight, model.wta_warmup_steps) == (
        False,
        0.0,
        0,
    )
    assert model(rng.normal(size=(2, 16, 2)).astype("float32"))["sigma"].shape == (2, 5)


def test_the_loss_is_winner_takes_all_during_the_warm_up_then_the_nll(rng):
    model = GraphMDN(hidden_dim=8, num_blocks=1, num_kernels=3, wta_warmup_steps=2)
    x, y = two_valued_problem(rng, n=16)
    model.compile(optimizer="adam")
    model.make_training_variables()
    outputs = model(x, training=False)
    np.testing.assert_allclose(
        float(model.pose_loss(y, outputs)), float(winner_takes_all_nll(y, outputs)), rtol=1e-6
    )
    model.optimizer.iterations.assign(2)
    np.testing.assert_allclose(
        float(model.pose_loss(y, outputs)), float(mixture_nll(y, outputs)), rtol=1e-6
    )
    model.fit(
        x, y, epochs=1, batch_size=8, verbose=0
    )  # it trains (and XLA-compiles) with the switch


def test_the_entropy_weight_subtracts_the_batch_pi_entropy(rng):
    model = GraphMDN(hidden_dim=8, num_blocks=1, num_kernels=3, pi_entropy_weight=0.7)
    x, y = two_valued_problem(rng, n=8)
    outputs = model(x, training=False)
    expected = float(mixture_nll(y, outputs)) - 0.7 * float(batch_pi_entropy(outputs))
    np.testing.assert_allclose(float(model.pose_loss(y, outputs)), expected, rtol=1e-6)
    assert model.get_config()["pi_entropy_weight"] == 0.7
