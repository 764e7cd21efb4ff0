"""graphmdn_tf.calibration: the maximum-likelihood sigma scales recover known scales, the optimum is
checked against the likelihood itself, and the stored record refuses damaged files."""

import json

import numpy as np
import pytest
import tensorflow as tf

from graphmdn_tf import mixture_distribution
from graphmdn_tf.calibration import (
    CalibrationRecord,
    calibration_error,
    check_scales,
    fit_sigma_scales,
    mixture_nll,
    scale_sigma,
    scaled_params,
)

KERNELS, NODES, DIMS = 3, 16, 3


def _softmax(logits, axis=1):
    weights = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return weights / weights.sum(axis=axis, keepdims=True)


def _mixture(rng, level, batch, sigma_per_joint=False):
    """Hand-made parameters: kernel means 0.3 apart on average, sigma 2-5 cm."""
    per_kernel = (batch, KERNELS) if level == "pose" else (batch, KERNELS, NODES)
    sigma_shape = (batch, KERNELS, NODES) if sigma_per_joint else per_kernel
    return {
        "mu": rng.normal(scale=0.3, size=(batch, KERNELS, NODES, DIMS)),
        "sigma": rng.uniform(0.02, 0.05, size=sigma_shape),
        "pi_logits": rng.normal(size=per_kernel),
    }


def _draw(rng, params, scales):
    """One target per row from the mixture with sigma times `scales`, drawn in NumPy."""
    mu = params["mu"]
    batch = mu.shape[0]
    sigma = params["sigma"] if params["sigma"].ndim == 3 else params["sigma"][:, :, None]
    sigma = np.broadcast_to(sigma * scales, mu.shape[:3])
    pi = _softmax(params["pi_logits"])
    rows = np.arange(batch)
    if pi.ndim == 2:  # pose level: one kernel for the whole pose
        kernel = np.array([rng.choice(KERNELS, p=p) for p in pi])
        chosen_mu, chosen_sigma = mu[rows, kernel], sigma[rows, kernel]
    else:  # node level: one kernel per node
        cumulative = np.cumsum(pi, axis=1)  # [B, M, N]
        kernel = np.minimum(
            np.sum(rng.uniform(size=(batch, 1, NODES)) > cumulative, axis=1), KERNELS - 1
        )  # [B, N]
        nodes = np.arange(NODES)
        chosen_mu = mu[rows[:, None], kernel, nodes[None]]
        chosen_sigma = sigma[rows[:, None], kernel, nodes[None]]
    return chosen_mu + rng.normal(size=chosen_mu.shape) * chosen_sigma[..., None]


CASES = [
    ("pose", False, False),
    ("pose", True, False),
    ("node", False, False),
    ("pose", False, True),
    ("node", False, True),
]


@pytest.mark.parametrize(
    ("level", "sigma_per_joint", "per_kernel"),
    CASES,
    ids=["pose", "pose-sigma-per-joint", "node", "pose-per-kernel", "node-per-kernel"],
)
def test_known_scales_are_recovered(level, sigma_per_joint, per_kernel):
    rng = np.random.default_rng(7)
    params = _mixture(rng, level, batch=3000, sigma_per_joint=sigma_per_joint)
    true = rng.uniform(0.5, 2.0, size=(KERNELS, NODES) if per_kernel else NODES)
    targets = _draw(rng, params, true)
    fit = fit_sigma_scales(params, targets, per_kernel=per_kernel)
    assert fit.converged and fit.gradient < 1e-6
    # Each scale is estimated from 3 coordinates of about 3000 (per kernel: about 1000) draws: a
    # standard error of at most 1.3%; 6% is over four standard errors.
    np.testing.assert_allclose(fit.scales, true, rtol=0.06)
    assert fit.nll_after < fit.nll_before
    assert fit.nll_after == pytest.approx(mixture_nll(params, targets, fit.scales), abs=1e-9)


@pytest.mark.parametrize("level", ["pose", "node"])
def test_the_fit_is_a_maximum_of_the_likelihood(level):
    """Moving any one scale up or down by 1% makes the NLL (computed by TFP) worse."""
    rng = np.random.default_rng(3)
    params = _mixture(rng, level, batch=400)
    targets = _draw(rng, params, rng.uniform(0.7, 1.4, size=NODES))
    fit = fit_sigma_scales(params, targets)

    def tfp_nll(scales):
        scaled = {
            key: value.astype(np.float32) for key, value in scaled_params(params, scales).items()
        }
        return -float(np.mean(mixture_distribution(scaled).log_prob(targets.astype(np.float32))))

    best = tfp_nll(fit.scales)
    assert best == pytest.approx(fit.nll_after, rel=1e-4)
    for node in range(NODES):
        for factor in (0.99, 1.01):
            moved = fit.scales.copy()
            moved[node] *= factor
            assert mixture_nll(params, targets, moved) > fit.nll_after


def test_scales_of_one_leave_a_calibrated_mixture_alone():
    rng = np.random.default_rng(11)
    params = _mixture(rng, "pose", batch=3000)
    targets = _draw(rng, params, np.ones(NODES))
    fit = fit_sigma_scales(params, targets)
    np.testing.assert_allclose(fit.scales, 1.0, atol=0.05)
    before = calibration_error(params, targets)
    assert before["ece"] < 0.03 and 0.85 <= before["coverage_90"] <= 0.95


def test_calibration_lowers_the_error_of_a_miscalibrated_mixture():
    rng = np.random.default_rng(5)
    params = _mixture(rng, "node", batch=1500)
    true = np.linspace(1.5, 3.0, NODES)
    targets = _draw(rng, params, true)
    fit = fit_sigma_scales(params, targets)
    before, after = (
        calibration_error(params, targets),
        calibration_error(params, targets, fit.scales),
    )
    assert before["ece"] > 0.05 and after["ece"] < 0.02
    assert max(after["ece_per_joint"]) < 0.04 < 0.1 < max(before["ece_per_joint"])


def test_a_kernel_without_weight_keeps_the_scale_one():
    rng = np.random.default_rng(2)
    params = _mixture(rng, "pose", batch=200)
    params["pi_logits"][:, 2] = -1e4  # kernel 2 never chosen
    targets = _draw(rng, params, np.full(NODES, 1.5))
    fit = fit_sigma_scales(params, targets, per_kernel=True)
    assert fit.converged
    np.testing.assert_array_equal(fit.scales[2], 1.0)


def test_scale_sigma_in_tf_is_the_numpy_product(rng):
    sigma = rng.uniform(0.1, 1.0, size=(4, KERNELS)).astype(np.float32)
    scales = rng.uniform(0.5, 2.0, size=NODES)
    got = scale_sigma(tf.constant(sigma), scales).numpy()
    np.testing.assert_allclose(got, sigma[:, :, None] * scales[None, None], rtol=1e-6)
    per_joint = rng.uniform(0.1, 1.0, size=(4, KERNELS, NODES)).astype(np.float32)
    per_kernel = rng.uniform(0.5, 2.0, size=(KERNELS, NODES))
    np.testing.assert_allclose(
        scale_sigma(tf.constant(per_joint), per_kernel).numpy(), per_joint * per_kernel, rtol=1e-6
    )


@pytest.mark.parametrize(
    ("scales", "match"),
    [
        (np.ones(15), r"shape \[16\] \(per joint\) or \[3, 16\]"),
        (np.ones((2, 16)), r"Received: shape \[2, 16\]"),
        (np.r_[np.ones(15), 0.0], "finite and > 0"),
        (np.r_[np.ones(15), np.nan], "finite and > 0"),
    ],
)
def test_bad_scales_are_refused(scales, match):
    with pytest.raises(ValueError, match=match):
        check_scales(scales, KERNELS, NODES)


def test_bad_targets_are_refused(rng):
    params = _mixture(rng, "pose", batch=4)
    with pytest.raises(ValueError, match=r"Expected targets of shape \(4, 16, 3\)"):
        fit_sigma_scales(params, np.zeros((4, 15, 3)))


def _record(**changes):
    values = dict(
        scales=[1.0] * NODES,
        joint_names=[f"j{n}" for n in range(NODES)],
        level="pose",
        num_kernels=KERNELS,
        per_kernel=False,
    )
    return CalibrationRecord(**{**values, **changes})


def test_the_record_survives_a_round_trip(tmp_path):
    record = _record(scales=np.linspace(0.5, 2, NODES).tolist(), fitted_on={"frames": 10})
    path = record.to_json(tmp_path / "calibration.json")
    assert CalibrationRecord.from_json(path) == record
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calibration.json"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", r"calibration.json: damaged \(not JSON\)"),
        ("[1, 2]", "damaged .expected a JSON object with scales"),
        (json.dumps({"scales": [1.0]}), "damaged .expected a JSON object with scales"),
        (
            json.dumps({**_record().__dict__, "scales": [1.0] * 15}),
            r"damaged \(Expected sigma scales of shape \[16\]",
        ),
        (json.dumps({**_record().__dict__, "scales": [-1.0] * 16}), "finite and > 0"),
        (json.dumps({**_record().__dict__, "level": "joint"}), "damaged .level 'joint'"),
    ],
)
def test_a_damaged_record_is_refused_in_one_line(tmp_path, text, match):
    path = tmp_path / "calibration.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as error:
        CalibrationRecord.from_json(path)
    assert "\n" not in str(error.value)
