"""Parity with the authors' PyTorch GraphMDN: forward passes recorded in tests/fixtures/reference/parity."""

import json

import numpy as np
import pytest

from graphmdn_tf.convert import from_reference_state_dict
from graphmdn_tf.losses import mixture_nll

FIXTURES = ["pose_level_hid128_l4_k5.npz", "node_level_hid64_l2_k3.npz"]


def _load(shared_dir, name):
    data = np.load(shared_dir / "reference" / "parity" / name)
    config = json.loads(str(data["config"]))
    state_dict = {key[2:]: data[key] for key in data.files if key.startswith("w/")}
    return data, config, state_dict


def _convert(config, state_dict):
    return from_reference_state_dict(
        state_dict,
        hidden_dim=config["hid_dim"],
        num_blocks=config["num_layers"],
        num_kernels=config["num_gaussians"],
        mixture_level="pose" if config["pose_level"] else "node",
    )


def _model(route, config, state_dict, tmp_path):
    """The converted model, reached by `route`: straight from the state_dict, through a .keras file, or from
    a DataParallel checkpoint (`module.` prefix and a BatchNorm step counter)."""
    if route == "dataparallel_prefix":
        state_dict = {f"module.{k}": v for k, v in state_dict.items()}
        state_dict["module.gconv_input.0.bn.num_batches_tracked"] = np.array(100)
    model = _convert(config, state_dict)
    if route == "keras_save_and_load":
        import keras

        model.save(tmp_path / "reference.keras")
        model = keras.models.load_model(tmp_path / "reference.keras")
    return model


@pytest.mark.parametrize(
    "name, route",
    [
        (FIXTURES[0], "converted"),
        (FIXTURES[1], "converted"),
        (FIXTURES[0], "keras_save_and_load"),
        (FIXTURES[1], "dataparallel_prefix"),
    ],
)
def test_means_match_reference(shared_dir, tmp_path, name, route):
    data, config, state_dict = _load(shared_dir, name)
    out = _model(route, config, state_dict, tmp_path)(data["input"], training=False)
    # Reference layout: mu [B, N, K, 3] (ours [B, K, N, 3]).
    np.testing.assert_allclose(
        np.transpose(out["mu"].numpy(), (0, 2, 1, 3)), data["mu"], atol=1e-4, rtol=0
    )


@pytest.mark.parametrize("name", FIXTURES)
def test_sigma_weights_and_loss_match_reference(shared_dir, name):
    data, config, state_dict = _load(shared_dir, name)
    out = _convert(config, state_dict)(data["input"], training=False)
    # Reference layout: sigma [B, N, K, 1], pi_logits [B, N, K] (raw, per node).
    if config["pose_level"]:
        np.testing.assert_allclose(
            out["sigma"].numpy(), data["sigma"][:, 0, :, 0], atol=1e-4, rtol=0
        )
        np.testing.assert_allclose(
            out["pi_logits"].numpy(), data["pi_logits"].mean(axis=1), atol=1e-4, rtol=0
        )
    else:
        np.testing.assert_allclose(
            np.transpose(out["sigma"].numpy(), (0, 2, 1)), data["sigma"][..., 0], atol=1e-4, rtol=0
        )
        np.testing.assert_allclose(
            np.transpose(out["pi_logits"].numpy(), (0, 2, 1)), data["pi_logits"], atol=1e-4, rtol=0
        )
    loss = float(mixture_nll(data["target"], out))
    assert loss == pytest.approx(float(data["loss"]), rel=1e-4)


def test_missing_wrong_shape_and_leftover_parameters_raise(shared_dir):
    _, config, state_dict = _load(shared_dir, FIXTURES[1])
    missing = dict(state_dict)
    del missing["gconv_layers.1.non_local.phi.0.bias"]
    with pytest.raises(
        KeyError,
        match=r"no parameter 'gconv_layers\.1\.non_local\.phi\.0\.bias' \(expected shape \(32,\)\)",
    ):
        _convert(config, missing)
    with pytest.raises(
        ValueError, match=r"'gconv_output\.W' has shape \(2, 64, 15\); expected \(2, 64, 25\)"
    ):
        from_reference_state_dict(
            state_dict, hidden_dim=64, num_blocks=2, num_kernels=5, mixture_level="node"
        )
    with pytest.raises(
        ValueError, match=r"reference parameters were not used .*gconv_layers\.2\.gconv1"
    ):
        from_reference_state_dict(
            state_dict, hidden_dim=64, num_blocks=1, num_kernels=3, mixture_level="node"
        )
