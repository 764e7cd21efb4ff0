"""Scoring (graphmdn_tf.scoring) against independent NumPy: the conventions, per-frame errors and the NLL."""

import numpy as np
import pytest

from graphmdn_tf.scoring import (
    CONVENTIONS,
    METRICS,
    apply_convention,
    check_convention,
    frame_nll,
    oracle_aligned_errors,
    score_outputs,
)
from tests.numpy_reference import pose_level_nll


def _outputs(seed=0, frames=4, kernels=3):
    rng = np.random.default_rng(seed)
    return {
        "mu": rng.normal(size=(frames, kernels, 16, 3)).astype("float32"),
        "sigma": rng.uniform(0.5, 1.5, (frames, kernels)).astype("float32"),
        "pi_logits": rng.normal(size=(frames, kernels)).astype("float32"),
    }


def _targets(seed=1, frames=4):
    targets = np.random.default_rng(seed).normal(size=(frames, 16, 3)).astype("float32")
    return targets - targets[:, :1]


def test_the_paper_convention_moves_every_kernel_root_to_the_origin_and_recentres_poses():
    outputs = _outputs()
    scored = apply_convention(outputs, "paper")
    assert np.all(scored["mu"][:, :, 0] == 0) and np.array_equal(
        scored["mu"][:, :, 1:], outputs["mu"][:, :, 1:]
    )
    assert not np.all(outputs["mu"][:, :, 0] == 0)  # the inputs are unchanged
    poses = outputs["mu"][:, 0]
    np.testing.assert_allclose(apply_convention(poses, "paper"), poses - poses[:, :1])
    assert apply_convention(outputs, "raw") is outputs


def test_scores_match_numpy_for_both_conventions():
    outputs, targets = _outputs(), _targets()
    for convention in CONVENTIONS:
        mu = apply_convention(outputs, convention)["mu"].astype(np.float64)
        errors = score_outputs(outputs, targets, convention=convention)
        per_kernel = 1000 * np.linalg.norm(mu - targets[:, None], axis=-1).mean(-1)  # [B, M] mm
        np.testing.assert_allclose(errors["oracle"][1], per_kernel.min(1), rtol=1e-5)
        weights = np.exp(outputs["pi_logits"]) / np.exp(outputs["pi_logits"]).sum(1, keepdims=True)
        mean_pose = np.einsum("bm,bmnd->bnd", weights, mu)
        np.testing.assert_allclose(
            errors["mean"][1],
            1000 * np.linalg.norm(mean_pose - targets, axis=-1).mean(-1),
            rtol=1e-4,
        )
    # 'paper' takes the Protocol #2 Oracle after alignment: never worse than aligning the Protocol #1 Oracle.
    paper, raw = score_outputs(outputs, targets), score_outputs(outputs, targets, convention="raw")
    np.testing.assert_allclose(
        paper["oracle"][2], oracle_aligned_errors(apply_convention(outputs)["mu"], targets)
    )
    assert np.all(
        paper["oracle"][2]
        <= score_outputs(apply_convention(outputs), targets, convention="raw")["oracle"][2] + 1e-3
    )
    assert set(raw) == set(paper) == {"highest", "mean", "oracle", "oracle_joint"}


def test_pck_and_auc_rows_are_the_mpi_inf_3dhp_convention_in_percent():
    outputs, targets = _outputs(), _targets()
    errors = score_outputs(outputs, targets, convention="raw", metrics=tuple(METRICS))
    weights = np.exp(outputs["pi_logits"]) / np.exp(outputs["pi_logits"]).sum(1, keepdims=True)
    distance = np.linalg.norm(
        np.einsum("bm,bmnd->bnd", weights, outputs["mu"]) - targets, axis=-1
    )  # [B, N] m
    np.testing.assert_allclose(errors["mean"]["pck"], 100 * (distance <= 0.150).mean(-1), atol=1e-9)
    thresholds = np.arange(0, 151, 5) / 1000  # 0, 5, ..., 150 mm
    expected_auc = 100 * np.mean([(distance <= t).mean(-1) for t in thresholds], axis=0)
    np.testing.assert_allclose(errors["mean"]["auc"], expected_auc, atol=1e-9)
    assert set(errors["mean"]) == {1, 2, "pck", "auc"}
    with pytest.raises(
        ValueError, match=r"Expected metrics from \(1, 2, 'pck', 'auc'\)\. Received: \['pcp'\]"
    ):
        score_outputs(outputs, targets, metrics=(1, "pcp"))


def test_frame_nll_is_eq_9():
    outputs, targets = _outputs(), _targets()
    np.testing.assert_allclose(
        frame_nll(outputs, targets), pose_level_nll(targets, **outputs), rtol=1e-4
    )
    assert frame_nll(outputs["mu"][:, 0], targets) is None


def test_an_unknown_convention_is_refused():
    with pytest.raises(ValueError, match=r"Expected convention to be one of \('paper', 'raw'\)"):
        check_convention("authors")
    with pytest.raises(ValueError, match="Received: convention='x'"):
        score_outputs(_outputs(), _targets(), convention="x")
