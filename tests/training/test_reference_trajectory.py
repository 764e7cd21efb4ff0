"""Training parity: replay the authors' 40 recorded training steps with our model, loss and optimizer.

`tests/fixtures/reference/parity/training_peak*_hid128_l4_k5.npz` hold the reference GraphMDN trained for 40
steps on real CMU rows from its own initialisation, without dropout: the initial weights, the rows of
every batch, the learning rate of every update and the loss of every batch (see the fixtures' README).
Replaying them through Keras' `train_on_batch` (Adam with eps 1e-8, global-norm clipping at 1) checks
that a training step (forward in train mode, BatchNorm batch statistics and running averages, gradients,
clipping, Adam) computes what the reference's does.
"""

import json

import keras
import numpy as np
import pytest

from graphmdn_tf.convert import from_reference_state_dict


def _replay(shared_dir, name):
    data = np.load(shared_dir / "reference" / "parity" / name)
    config = json.loads(str(data["config"]))
    initial = {
        key.removeprefix("init/"): data[key] for key in data.files if key.startswith("init/")
    }
    model = from_reference_state_dict(
        initial,
        hidden_dim=config["hid_dim"],
        num_blocks=config["num_layers"],
        num_kernels=config["num_gaussians"],
        mixture_level="pose",
        dropout=0.0,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.0, epsilon=1e-8, global_clipnorm=1.0)
    )
    losses = []
    for rows, learning_rate in zip(data["batch_index"], data["lr"]):
        model.optimizer.learning_rate = float(learning_rate)
        logs = model.train_on_batch(data["inputs"][rows], data["targets"][rows], return_dict=True)
        losses.append(logs["loss"])
    return data, model, np.asarray(losses)


@pytest.mark.slow
def test_replay_at_peak_2e4_follows_the_reference_loss_and_outputs(shared_dir):
    data, model, losses = _replay(shared_dir, "training_peak2e-4_hid128_l4_k5.npz")
    reference = data["loss"]
    # Relative to the loss scale: the NLL passes near zero on its way down, where a relative error of
    # each step alone would be meaningless.
    scale = np.maximum(np.abs(reference), 1.0)
    np.testing.assert_array_less(np.abs(losses - reference) / scale, 1e-2)
    outputs = model.predict(data["eval_input"], verbose=0)
    np.testing.assert_allclose(
        outputs["mu"], np.transpose(data["eval_mu"], (0, 2, 1, 3)), atol=1e-2
    )


@pytest.mark.slow
def test_replay_at_the_paper_peak_agrees_early_and_keeps_the_curve_shape(shared_dir):
    data, _, losses = _replay(shared_dir, "training_peak6e-3_hid128_l4_k5.npz")
    reference = data["loss"]
    # The first steps agree closely; later ones drift apart chaotically through float32 round-off
    # (see the fixtures' README), so the rest is compared by shape: both fall by the same order of
    # magnitude and end in the same range.
    np.testing.assert_allclose(losses[:5], reference[:5], rtol=1e-3)
    assert np.all(np.isfinite(losses))
    assert losses[-10:].mean() < reference[:5].mean() - 0.5 * (
        reference[:5].mean() - reference[-10:].mean()
    )
    assert abs(losses[-10:].mean() - reference[-10:].mean()) < 0.25 * abs(
        reference[:5].mean() - reference[-10:].mean()
    )
