"""SemGCN (graphmdn_tf/models/semgcn.py): one pose from the shared backbone, trained on SemGCN's L2 loss."""

import keras
import numpy as np
import pytest

from graphmdn_tf import Graph, SemGCN
from tests.models.toy_data import two_valued_problem


def test_fits_with_l2(rng):
    x, y = two_valued_problem(rng)
    model = SemGCN(hidden_dim=32, num_blocks=1)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=True)
    before = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    history = model.fit(x, y, batch_size=64, epochs=10, verbose=0)
    after = model.evaluate(x, y, verbose=0, return_dict=True)
    # The random sign of the last coordinate (+-0.4) leaves an irreducible MSE of 0.16 / 3 = 0.053;
    # the rest of the error is learnable and mostly gone after 10 epochs.
    assert before > 0.12 and after["loss"] < 0.08
    assert set(history.history) == {"loss", "mpjpe_prediction"}
    expected = float(np.mean((model.predict(x, verbose=0) - y) ** 2))
    assert after["loss"] == pytest.approx(expected, rel=1e-4)


def test_runs_on_other_graphs(rng):
    ring = Graph(
        6, ((0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0)), node_groups=((0, 3), (1, 4), (2, 5))
    )
    x, _ = two_valued_problem(rng, n=4, nodes=6, input_dim=1, target_dim=2)
    model = SemGCN(graph=ring, hidden_dim=8, num_blocks=1, input_dim=1, target_dim=2)
    assert model(x).shape == (4, 6, 2)
    assert model.output_conv.units == 2


def test_the_output_stays_float32_under_mixed_precision(rng):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = SemGCN(hidden_dim=8, num_blocks=1)
        out = model(rng.normal(size=(2, 16, 2)).astype("float32"))
        assert model.backbone.compute_dtype == "float16"
        assert keras.backend.standardize_dtype(out.dtype) == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")
