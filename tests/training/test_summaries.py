import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from tensorboard import manager as tensorboard_manager

from graphmdn_tf.training.summaries import (
    mixture_diagnostics,
    tensorboard_servers,
    validation_scalars,
)


@pytest.fixture
def outputs(rng):
    frames, kernels = 50, 4
    targets = rng.normal(scale=0.2, size=(frames, 16, 3)).astype(np.float32)
    mu = (targets[:, None] + rng.normal(scale=0.05, size=(frames, kernels, 16, 3))).astype(
        np.float32
    )
    return {
        "mu": mu,
        "sigma": rng.uniform(0.01, 0.1, (frames, kernels)).astype(np.float32),
        "pi_logits": rng.normal(scale=2.0, size=(frames, kernels)).astype(np.float32),
    }, targets


def test_mixture_diagnostics_match_numpy(outputs):
    params, targets = outputs
    pi = np.exp(params["pi_logits"].astype(np.float64))
    pi /= pi.sum(1, keepdims=True)
    entropy = -(pi * np.log(pi)).sum(1).mean()
    errors = np.linalg.norm(params["mu"] - targets[:, None], axis=-1).mean(-1)  # [B, K]
    diagnostics = mixture_diagnostics(params, targets)
    assert diagnostics["pi_entropy"] == pytest.approx(entropy, rel=1e-5)
    assert diagnostics["pi_entropy_fraction"] == pytest.approx(entropy / np.log(4), rel=1e-5)
    assert diagnostics["mean_sigma_mm"] == pytest.approx(
        1000 * (pi * params["sigma"]).sum(1).mean(), rel=1e-5
    )
    assert diagnostics["mean_sigma_all_kernels_mm"] == pytest.approx(
        1000 * params["sigma"].mean(), rel=1e-5
    )
    np.testing.assert_allclose(
        diagnostics["highest_share"], np.bincount(pi.argmax(1), minlength=4) / 50
    )
    np.testing.assert_allclose(
        diagnostics["oracle_share"], np.bincount(errors.argmin(1), minlength=4) / 50
    )


def test_node_level_diagnostics_count_every_joint(rng):
    logits = np.zeros((2, 3, 16), np.float32)
    logits[:, 1, :8] = 5.0  # kernel 1 wins on half the joints, kernel 0 (ties) on the rest
    params = {
        "mu": np.zeros((2, 3, 16, 3), np.float32),
        "sigma": np.full((2, 3, 16), 0.1, np.float32),
        "pi_logits": logits,
    }
    diagnostics = mixture_diagnostics(params, np.zeros((2, 16, 3), np.float32))
    np.testing.assert_allclose(diagnostics["highest_share"], [0.5, 0.5, 0.0])
    assert diagnostics["mean_sigma_mm"] == pytest.approx(100.0)


def test_validation_scalars(outputs):
    params, targets = outputs
    scalars = validation_scalars(params, targets)
    for protocol in (1, 2):
        for name in ("highest", "mean", "oracle"):
            assert scalars[f"protocol{protocol}/{name}"] > 0
    assert scalars["protocol1/oracle"] <= scalars["protocol1/highest"]
    assert {f"mixture/oracle_share/kernel_{k}" for k in range(4)} <= set(
        scalars
    ) and "nll" in scalars
    # A deterministic model is scored as `evaluate` scores it (the 'paper' convention re-centres the
    # prediction on its root): root-relative targets, every joint but the root off by 1 cm per axis.
    relative = targets - targets[:, :1]
    predicted = relative.copy()
    predicted[:, 1:] += 0.01
    deterministic = validation_scalars(predicted, relative)
    assert set(deterministic) == {"protocol1/prediction", "protocol2/prediction"}
    assert deterministic["protocol1/prediction"] == pytest.approx(
        15 / 16 * 10 * np.sqrt(3), rel=1e-4
    )
    shifted = validation_scalars(
        predicted + 0.05, relative
    )  # a shift of the whole pose is re-centred away
    assert shifted["protocol1/prediction"] == pytest.approx(
        deterministic["protocol1/prediction"], rel=1e-4
    )


def test_validation_pass_pads_to_whole_batches_and_scores_every_frame(rng, tmp_path):
    """10 frames at batch 4: the pass runs 3 batches of 4 (the last padded) through one function traced
    once, and what it logs is the model's own predict over exactly the 10 frames."""
    from graphmdn_tf.models.build import build_model
    from graphmdn_tf.training.summaries import ValidationSummaries, keras_validation_logs
    from tests.training.conftest import tiny_config

    model = build_model(tiny_config())
    model.compile(optimizer="adam", jit_compile=False)
    inputs = rng.uniform(-1, 1, (10, 16, 2)).astype(np.float32)
    targets = rng.normal(scale=0.2, size=(10, 16, 3)).astype(np.float32)
    callback = ValidationSummaries(tmp_path, inputs, targets, image_frames=0, batch_size=4)
    callback.set_model(model)
    shapes = []
    original = model.call

    def recording_call(batch, training=None):
        shapes.append((tuple(batch.shape), training))
        return original(batch, training=training)

    model.call = recording_call
    callback.on_train_begin()
    logs = {}
    callback.on_epoch_end(0, logs)
    callback.on_epoch_end(1, {})
    model.call = original
    assert shapes == [((4, 16, 2), False)]  # traced once, for one batch shape, in inference mode
    assert callback._forward.experimental_get_tracing_count() == 1
    expected = model.predict(inputs, batch_size=10, verbose=0)
    np.testing.assert_allclose(callback._predict()["mu"], expected["mu"], rtol=1e-5, atol=1e-6)
    assert callback.last_scalars == pytest.approx(validation_scalars(expected, targets), rel=1e-5)
    assert logs == pytest.approx(keras_validation_logs(model, expected, targets), rel=1e-5)


@pytest.fixture
def info_dir(tmp_path, monkeypatch):
    """TensorBoard's folder of server files, moved under tmp_path (it lives in the temporary directory)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return Path(tmp_path) / ".tensorboard-info"


def _server_file(info_dir, pid, port):
    info = tensorboard_manager.TensorBoardInfo(
        version="2.21.0",
        start_time=0,
        pid=pid,
        port=port,
        path_prefix="",
        logdir=f"/logs/{pid}",
        db="",
        cache_key=f"key-{pid}",
    )
    info_dir.mkdir(exist_ok=True)
    (info_dir / f"pid-{pid}.info").write_text(tensorboard_manager._info_to_string(info))


def test_tensorboard_servers_survive_a_server_exiting_while_listed(info_dir, monkeypatch):
    _server_file(info_dir, 101, 6006)
    _server_file(info_dir, 102, 6007)
    listdir, exits = os.listdir, []

    def listdir_then_102_exits(path):
        """The race, reproduced: server 102 removes its file after get_all lists the folder, before it reads."""
        names = listdir(path)
        if not exits and (info_dir / "pid-102.info").exists():
            exits.append(102)
            (info_dir / "pid-102.info").unlink()
        return names

    monkeypatch.setattr(tensorboard_manager.os, "listdir", listdir_then_102_exits)
    with pytest.raises(FileNotFoundError):  # what TensorBoard's own listing does in that moment
        tensorboard_manager.get_all()
    _server_file(info_dir, 102, 6007)
    exits.clear()
    assert [(info.pid, info.port) for info in tensorboard_servers()] == [(101, 6006)]
    assert exits == [102]


def test_tensorboard_servers_give_up_on_a_file_that_never_opens(info_dir):
    _server_file(info_dir, 101, 6006)
    (info_dir / "pid-103.info").symlink_to(info_dir / "gone")  # listed, and no open ever succeeds
    with pytest.raises(FileNotFoundError):
        tensorboard_servers(attempts=3)
