r"""Post-hoc calibration of a GraphMDN's sigma: per-joint scale factors fitted by maximum likelihood.

A calibrated model replaces each kernel's sigma by sigma times a scale factor of its joint,

    sigma'_jn = sigma_jn * s_n          (per joint, N factors)
    sigma'_jn = sigma_jn * s_jn         (per kernel and joint, M x N factors)

(a uniform pose-level sigma_j is read as sigma_jn = sigma_j for every joint n). pi and mu are unchanged,
so every point estimate (Highest, Mean, Oracle) stays the same; the likelihood, calibration and samples
change. A pose-level kernel stays one kernel choice per pose, each joint with its own spread; a
node-level mixture keeps one mixture per node (see `graphmdn_tf.distributions.mixture`).

Fit. With t = log s (so s > 0) the mean negative log-likelihood of targets y [B, N, D] is

    pose:  L(t) = -(1/B) sum_b log sum_j pi_bj prod_n N(y_bn | mu_bjn, sigma'_bjn^2 I_D)
    node:  L(t) = -(1/B) sum_b sum_n log sum_j pi_bjn N(y_bn | mu_bjn, sigma'_bjn^2 I_D)

and its gradient, with r_bjn the posterior weight of kernel j (pose level: r_bj for every joint) and
q_bjn = |y_bn - mu_bjn|^2 / sigma'_bjn^2,

    dL/dt_n = (1/B) sum_b sum_j r_bjn (D - q_bjn)      (per kernel: no sum over j for dL/dt_jn).

The fit is expectation-maximisation in float64, deterministic: with r fixed, the optimum of t is
closed-form, s_n^2 = sum_bj r_bjn q0_bjn / (D sum_bj r_bjn) with q0 the squared distance over the
uncalibrated sigma^2, and each step never increases L. It stops when every |dL/dt| is below
`tolerance` (the optimum is checked, not assumed); `SigmaScaleFit.converged` says whether it got there.
A kernel that holds no weight on the data keeps the scale 1 (its gradient is zero).

The scales are stored in RUN_DIR/calibration.json (`CalibrationRecord`); `scale_sigma` applies them to
a model's outputs (TF ops: the model, its folded export) and `scaled_params` to parameter arrays.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from graphmdn_tf import uncertainty
from graphmdn_tf._version import __version__
from graphmdn_tf.atomic import atomic_file
from graphmdn_tf.distributions.arrays import MixtureArrays

CALIBRATION_FORMAT = 1
_EMPTY_KERNEL = 1e-12


# ------------------------------------------------------------------------------------------ applying


def check_scales(scales, num_kernels: int, num_nodes: int) -> np.ndarray:
    """`scales` as float64 [N] or [M, N], finite and > 0, or a ValueError naming the shape expected."""
    array = np.asarray(scales, np.float64)
    if array.shape not in ((num_nodes,), (num_kernels, num_nodes)):
        raise ValueError(
            f"Expected sigma scales of shape [{num_nodes}] (per joint) or [{num_kernels}, "
            f"{num_nodes}] (per kernel and joint). Received: shape {list(array.shape)}"
        )
    if not np.all(np.isfinite(array)) or not np.all(array > 0):
        raise ValueError("Expected sigma scales to be finite and > 0")
    return array


def scale_sigma(sigma, scales):
    """sigma [B, M] (uniform pose level) or [B, M, N] times `scales` [N] or [M, N]: [B, M, N] (TF ops)."""
    scales = tf.cast(tf.convert_to_tensor(scales), sigma.dtype)
    if len(sigma.shape) == 2:
        sigma = sigma[:, :, None]
    return sigma * scales


def scaled_params(params: Mapping, scales) -> dict:
    """A copy of `params` (`mu`, `sigma`, `pi_logits`; arrays or tensors) with sigma times `scales`,
    float64 NumPy; a uniform pose-level sigma becomes [B, M, N]."""
    sigma = np.asarray(params["sigma"], np.float64)
    if sigma.ndim == 2:
        sigma = sigma[:, :, None]
    scales = np.asarray(scales, np.float64)
    return {
        **{key: np.asarray(value, np.float64) for key, value in params.items()},
        "sigma": sigma * scales,
    }


def node_names(graph) -> list[str]:
    """The graph's node names as strings (its node indices where it has none)."""
    return [str(name) for name in (graph.node_names or range(graph.num_nodes))]


# ---------------------------------------------------------------------------------------------- fitting


@dataclass(frozen=True)
class SigmaScaleFit:
    """The result of `fit_sigma_scales`.

    Attributes:
        scales: [N] or [M, N] float64.
        nll_before, nll_after: mean NLL of the targets (nats, the targets' unit) without and with them.
        gradient: the largest |dL/dt| at the result.
        iterations: EM steps taken.
        converged: whether `gradient` fell below the tolerance.
    """

    scales: np.ndarray
    nll_before: float
    nll_after: float
    gradient: float
    iterations: int
    converged: bool


def _squared_distances(mixture: MixtureArrays, targets: np.ndarray) -> np.ndarray:
    """q0_bjn = |y_bn - mu_bjn|^2 / sigma_bjn^2 (uncalibrated sigma); [B, M, N]."""
    squared = np.sum((targets[:, None] - mixture.mu) ** 2, axis=-1)
    return squared / mixture.sigma**2


def _nll_and_posteriors(mixture: MixtureArrays, q0: np.ndarray, log_scales: np.ndarray):
    """(mean NLL, posteriors r [B, M, N], q [B, M, N] over the scaled sigma) at log scales t."""
    dims = mixture.mu.shape[-1]
    q = q0 * np.exp(-2 * log_scales)
    log_kernel = (
        -0.5 * dims * np.log(2 * np.pi) - dims * (np.log(mixture.sigma) + log_scales) - 0.5 * q
    )
    if mixture.level == "pose":
        terms = mixture.log_pi[:, :, 0] + np.sum(log_kernel, axis=2)  # [B, M]
        peak = np.max(terms, axis=1, keepdims=True)
        log_total = peak + np.log(np.sum(np.exp(terms - peak), axis=1, keepdims=True))
        posteriors = np.broadcast_to(np.exp(terms - log_total)[:, :, None], q.shape)
        return float(-np.mean(log_total)), posteriors, q
    terms = mixture.log_pi + log_kernel  # [B, M, N]
    peak = np.max(terms, axis=1, keepdims=True)
    log_total = peak + np.log(np.sum(np.exp(terms - peak), axis=1, keepdims=True))
    return float(-np.mean(np.sum(log_total, axis=(1, 2)))), np.exp(terms - log_total), q


def _mixture_and_targets(params: Mapping, targets) -> tuple[MixtureArrays, np.ndarray]:
    mixture = MixtureArrays.from_params(params).per_joint()
    targets = np.asarray(targets, np.float64)
    expected = (mixture.mu.shape[0], *mixture.mu.shape[2:])
    if targets.shape != expected:
        raise ValueError(
            f"Expected targets of shape {expected} for mu.shape={mixture.mu.shape}. "
            f"Received: targets.shape={targets.shape}"
        )
    if not len(targets):
        raise ValueError("Expected at least one target pose to fit sigma scales on. Received: 0")
    return mixture, targets


def mixture_nll(params: Mapping, targets, scales=None) -> float:
    """The mean NLL of `targets` [B, N, D] under the mixture, with sigma times `scales` (None: 1)."""
    mixture, targets = _mixture_and_targets(params, targets)
    log_scales = 0.0 if scales is None else np.log(np.asarray(scales, np.float64))
    return _nll_and_posteriors(mixture, _squared_distances(mixture, targets), log_scales)[0]


def fit_sigma_scales(
    params: Mapping,
    targets,
    *,
    per_kernel: bool = False,
    tolerance: float = 1e-6,
    max_iterations: int = 2000,
) -> SigmaScaleFit:
    """Maximum-likelihood scale factors of sigma for `targets` [B, N, D] (see the module docstring).

    Args:
        params: the uncalibrated mixture parameters of the targets' inputs (`mu`, `sigma`,
            `pi_logits`, pose or node level).
        targets: the true poses [B, N, D].
        per_kernel: fit s_jn [M, N] instead of s_n [N].
        tolerance: stop when every |dL/dt| is below it.
        max_iterations: EM steps at most.
    """
    mixture, targets = _mixture_and_targets(params, targets)
    batch, kernels, nodes, dims = mixture.mu.shape
    q0 = _squared_distances(mixture, targets)
    axes = (0,) if per_kernel else (0, 1)
    log_scales = np.zeros((kernels, nodes) if per_kernel else (nodes,))
    nll_before, posteriors, q = _nll_and_posteriors(mixture, q0, log_scales)
    nll, iterations = nll_before, 0
    while True:
        weight = np.sum(posteriors, axis=axes)
        gradient = np.sum(posteriors * (dims - q), axis=axes) / batch
        largest = float(np.max(np.abs(gradient)))
        if largest < tolerance or iterations >= max_iterations:
            break
        occupied = weight > _EMPTY_KERNEL
        moment = np.sum(posteriors * q0, axis=axes) / (dims * np.where(occupied, weight, 1.0))
        log_scales = np.where(occupied, 0.5 * np.log(np.where(occupied, moment, 1.0)), log_scales)
        nll, posteriors, q = _nll_and_posteriors(mixture, q0, log_scales)
        iterations += 1
    return SigmaScaleFit(
        scales=np.exp(log_scales),
        nll_before=nll_before,
        nll_after=nll,
        gradient=largest,
        iterations=iterations,
        converged=largest < tolerance,
    )


def calibration_error(params: Mapping, targets, scales=None) -> dict:
    """{'ece': overall, 'ece_per_joint': [N], 'coverage_90': the observed frequency at the 90% level}
    of the per-joint marginals (`uncertainty.calibration`), with sigma times `scales` (None: 1)."""
    if scales is not None:
        params = scaled_params(params, scales)
    result = uncertainty.calibration(params, targets)
    return {
        "ece": float(result.ece),
        "ece_per_joint": [float(value) for value in result.ece_per_joint],
        "coverage_90": coverage_at(result, 0.9),
    }


def coverage_at(result: uncertainty.Calibration, level: float) -> float:
    """The observed frequency of a calibration curve at `level` (one of its levels)."""
    matches = np.flatnonzero(np.isclose(result.levels, level))
    if not len(matches):
        raise ValueError(f"Expected a level of the curve {list(result.levels)}. Received: {level}")
    return float(result.observed[matches[0]])


# ------------------------------------------------------------------------------------------ the record


@dataclass(frozen=True)
class CalibrationRecord:
    """What RUN_DIR/calibration.json holds: the scales and what they were fitted on.

    Attributes:
        scales: [N] (per joint) or [M, N] (per kernel and joint), nested lists.
        joint_names: the N joints, in the model's node order.
        level: the model's mixture level, 'pose' or 'node'.
        num_kernels: M.
        per_kernel: whether the scales are per kernel and joint.
        fitted_on: {'split', 'subjects', 'frames', ...}: the samples the fit used.
        before, after: {'nll', 'ece', 'ece_per_joint', 'coverage_90'} on those samples.
        fit: {'iterations', 'gradient', 'converged'}.
        version: the graphmdn_tf version that wrote it.
    """

    scales: list
    joint_names: list
    level: str
    num_kernels: int
    per_kernel: bool
    fitted_on: dict = field(default_factory=dict)
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    fit: dict = field(default_factory=dict)
    version: str = __version__
    format: int = CALIBRATION_FORMAT

    def scale_array(self) -> np.ndarray:
        return check_scales(self.scales, self.num_kernels, len(self.joint_names))

    def to_json(self, path) -> Path:
        """Write the record to `path` atomically (a reader sees the old file or the new one)."""
        path = Path(path)
        with atomic_file(path, unique=True) as temporary:
            temporary.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def from_json(cls, path) -> CalibrationRecord:
        """The record in `path`, checked, or a one-line ValueError naming the file and what is wrong."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except ValueError:
            raise ValueError(
                f"{path}: damaged (not JSON); run graphmdn-tf calibrate again"
            ) from None
        required = ("scales", "joint_names", "level", "num_kernels", "per_kernel")
        if not isinstance(data, dict) or any(key not in data for key in required):
            raise ValueError(
                f"{path}: damaged (expected a JSON object with {', '.join(required)}); "
                "run graphmdn-tf calibrate again"
            )
        known = {name for name in cls.__dataclass_fields__}
        record = cls(**{key: value for key, value in data.items() if key in known})
        if record.level not in ("pose", "node") or not isinstance(record.joint_names, list):
            raise ValueError(f"{path}: damaged (level {record.level!r}); run calibrate again")
        try:
            record.scale_array()
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"{path}: damaged ({error}); run graphmdn-tf calibrate again"
            ) from None
        return record

    def check_model(self, level: str, num_kernels: int, joint_names: Sequence[str], path) -> None:
        """A ValueError when the record does not fit a model of this level, M and joints."""
        if (self.level, self.num_kernels, list(self.joint_names)) != (
            level,
            num_kernels,
            list(joint_names),
        ):
            raise ValueError(
                f"{path} was fitted for a {self.level}-level model with {self.num_kernels} kernels "
                f"and joints {self.joint_names}; the run's model is {level}-level with "
                f"{num_kernels} kernels. Run graphmdn-tf calibrate again"
            )
