r"""Uncertainty of a GraphMDN's mixture: per-joint likelihood, PCK/AUC, calibration, diversity, ambiguity.

Pure functions: parameters (`mu` [B, M, N, D], `sigma` / `pi_logits` [B, M] pose level or [B, M, N]
node level; see `graphmdn_tf.distributions.mixture`) as tensors or NumPy arrays in, NumPy float64
arrays out. Poses are in metres, joint 0 is the root.

Per-joint marginal. A pose-level kernel is an isotropic Gaussian in R^{N D}, so its marginal over one
joint's D coordinates is N(mu_kn, sigma_k^2 I_D); the marginal of joint n is

    p_n(y_n) = sum_k pi_k N(y_n | mu_kn, sigma_k^2 I_D)      (node level: pi_kn, sigma_kn).

Both levels are therefore handled as [B, M, N] weights and scales (pose level broadcast over N).
`joint_nll` = -log p_n(y_n), by logsumexp.

PCK / AUC (MPI-INF-3DHP convention): PCK = fraction of joints with Euclidean error <= 150 mm; AUC =
mean PCK over thresholds 0, 5, ..., 150 mm.

Calibration (D = 3). About the mixture-mean position c_n = sum_k pi_kn mu_kn, the mass of a kernel
X ~ N(mu, s^2 I_3) within radius r is, with a = |mu - c| / s, rho = r / s (non-central chi, 3 dof),

    P(|X - c| <= r) = Phi(rho - a) + Phi(rho + a) - 1 + (phi(rho + a) - phi(rho - a)) / a,
    a -> 0:         2 Phi(rho) - 1 - 2 rho phi(rho) - a^2 rho^3 phi(rho) / 3 + O(a^4)

(the series is used for a < 1e-3, where the difference quotient cancels). The mixture's mass is the
pi-weighted sum. The probability integral transform u_n = mass within |y_n - c_n| is uniform on
[0, 1] for a calibrated model, so the observed frequency at level q is mean(u <= q), with no root
finding; the radius holding mass q (sharpness) is found by bisection.

Chunked evaluation: `calibration_counts` returns additive sums (`CalibrationCounts`: hit counts per
joint and level, frame count, radius sums); add chunks with `+` or `CalibrationCounts.merge`, then
`Calibration.from_counts`. `calibration(params, targets)` is that for a single chunk.

Diversity: pairwise distance = sum_{i<j} pi_i pi_j MPJPE(mu_i, mu_j) / sum_{i<j} pi_i pi_j (0 when one
kernel holds all weight); node level per node with that node's pi, averaged over nodes (with pose
weights broadcast over nodes the two coincide). Effective kernels = exp(entropy(pi)).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from graphmdn_tf.distributions.arrays import MixtureArrays
from graphmdn_tf.metrics import MILLIMETRES
from graphmdn_tf.viz import plt

PCK_THRESHOLD = 0.150
AUC_THRESHOLDS = np.linspace(0.0, PCK_THRESHOLD, 31)
CALIBRATION_LEVELS = np.linspace(0.05, 0.95, 19)
SHARPNESS_MASSES = (0.5, 0.9)
_SERIES_BELOW = 1e-3


# ----------------------------------------------------------------------------------------------- inputs


def _mixture(params: Mapping, dims: int | None = None) -> MixtureArrays:
    """The mixture with sigma and log_pi per joint, [B, M, N], at both levels."""
    return MixtureArrays.from_params(params, dims).per_joint()


def _joints(array, mixture: MixtureArrays, name: str, trailing: tuple = ()) -> np.ndarray:
    """Check an array against [B, N, *trailing] of the mixture."""
    array = np.asarray(array, np.float64)
    batch, _, nodes, dims = mixture.mu.shape
    expected = (batch, nodes, *[dims if t == "D" else t for t in trailing])
    if array.shape != expected:
        raise ValueError(
            f"Expected {name} of shape {expected} for mu.shape={mixture.mu.shape}. Received: {name}.shape={array.shape}"
        )
    return array


# ------------------------------------------------------------------------------------------- likelihood


def joint_nll(params: Mapping, targets) -> np.ndarray:
    """-log p_n(y_n), the NLL (nats, metres) of each target joint under its marginal; [B, N]."""
    mixture = _mixture(params)
    targets = _joints(targets, mixture, "targets", ("D",))
    dims = mixture.mu.shape[-1]
    squared = np.sum((targets[:, None] - mixture.mu) ** 2, axis=-1)  # [B, M, N]
    log_kernel = (
        -0.5 * dims * np.log(2 * np.pi)
        - dims * np.log(mixture.sigma)
        - squared / (2 * mixture.sigma**2)
    )
    terms = mixture.log_pi + log_kernel
    peak = np.max(terms, axis=1)
    return -(peak + np.log(np.sum(np.exp(terms - peak[:, None]), axis=1)))


# ----------------------------------------------------------------------------------------------- PCK/AUC


def _errors(poses, targets) -> np.ndarray:
    poses, targets = np.asarray(poses, np.float64), np.asarray(targets, np.float64)
    if poses.shape != targets.shape or poses.ndim != 3:
        raise ValueError(
            "Expected poses and targets of the same shape [frames, joints, dims]. "
            f"Received: poses.shape={poses.shape}, targets.shape={targets.shape}"
        )
    return np.linalg.norm(poses - targets, axis=-1)


def pck(poses, targets, threshold: float = PCK_THRESHOLD) -> np.ndarray:
    """Per frame, the fraction of joints with Euclidean error <= threshold (metres); [B]."""
    return np.mean(_errors(poses, targets) <= threshold, axis=-1).astype(np.float64)


def auc(
    poses,
    targets,
    max_threshold: float = PCK_THRESHOLD,
    num_thresholds: int = len(AUC_THRESHOLDS),
) -> np.ndarray:
    """Per frame, the mean PCK over thresholds linspace(0, max_threshold, num_thresholds); [B]."""
    errors = _errors(poses, targets)
    thresholds = np.linspace(0.0, max_threshold, num_thresholds)
    return np.mean(errors[..., None] <= thresholds, axis=(-2, -1))


# ------------------------------------------------------------------------------------------ calibration


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + tf.math.erf(tf.constant(x / np.sqrt(2.0), tf.float64)).numpy())


def _normal_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x**2) / np.sqrt(2 * np.pi)


def _kernel_mass(a: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """P(|X - c| <= r) for X ~ N(mu, s^2 I_3), a = |mu - c| / s, rho = r / s (see the module doc)."""
    a, rho = np.broadcast_arrays(a, rho)
    small = a < _SERIES_BELOW
    safe_a = np.where(small, 1.0, a)
    direct = (
        _normal_cdf(rho - safe_a)
        + _normal_cdf(rho + safe_a)
        - 1.0
        + (_normal_pdf(rho + safe_a) - _normal_pdf(rho - safe_a)) / safe_a
    )
    pdf = _normal_pdf(rho)
    series = 2 * _normal_cdf(rho) - 1.0 - 2 * rho * pdf - a**2 * rho**3 * pdf / 3.0
    return np.clip(np.where(small, series, direct), 0.0, 1.0)


def _mass_within(mixture: MixtureArrays, centers: np.ndarray, radii: np.ndarray) -> np.ndarray:
    a = np.linalg.norm(mixture.mu - centers[:, None], axis=-1) / mixture.sigma  # [B, M, N]
    rho = radii[:, None] / mixture.sigma
    return np.clip(np.sum(mixture.pi * _kernel_mass(a, rho), axis=1), 0.0, 1.0)


def joint_mass_within(params: Mapping, centers, radii) -> np.ndarray:
    """Mass of each joint's marginal within `radii` [B, N] of `centers` [B, N, 3]; [B, N] (D = 3 only)."""
    mixture = _mixture(params, dims=3)
    return _mass_within(
        mixture, _joints(centers, mixture, "centers", ("D",)), _joints(radii, mixture, "radii")
    )


def _radius_for_mass(
    mixture: MixtureArrays, centers: np.ndarray, mass: float, iterations: int
) -> np.ndarray:
    offsets = np.linalg.norm(mixture.mu - centers[:, None], axis=-1)
    low = np.zeros(centers.shape[:2])
    high = np.max(offsets + 10 * mixture.sigma, axis=1)
    for _ in range(iterations):
        middle = 0.5 * (low + high)
        below = _mass_within(mixture, centers, middle) < mass
        low, high = np.where(below, middle, low), np.where(below, high, middle)
    return 0.5 * (low + high)


def radius_for_mass(params: Mapping, centers, mass: float, iterations: int = 50) -> np.ndarray:
    """The radius about `centers` [B, N, 3] holding `mass` of each joint's marginal, by bisection; [B, N]."""
    if not 0.0 < mass < 1.0:
        raise ValueError(f"Expected a mass in (0, 1). Received: mass={mass}")
    mixture = _mixture(params, dims=3)
    return _radius_for_mass(mixture, _joints(centers, mixture, "centers", ("D",)), mass, iterations)


@dataclass(frozen=True)
class CalibrationCounts:
    """Additive calibration sums of one or more chunks; add with `+` or `merge`.

    hits [N, L]: count of frames with u_n <= level; frames: frame count;
    radius_sums: {mass: [N] sum over frames of the radius holding that mass}.
    """

    levels: np.ndarray
    hits: np.ndarray
    frames: int
    radius_sums: dict = field(default_factory=dict)

    def __add__(self, other: CalibrationCounts) -> CalibrationCounts:
        if not np.array_equal(self.levels, other.levels) or set(self.radius_sums) != set(
            other.radius_sums
        ):
            raise ValueError(
                "Cannot add calibration counts over different levels or sharpness masses."
            )
        sums = {mass: self.radius_sums[mass] + other.radius_sums[mass] for mass in self.radius_sums}
        return CalibrationCounts(
            self.levels, self.hits + other.hits, self.frames + other.frames, sums
        )

    @staticmethod
    def merge(counts: Sequence[CalibrationCounts]) -> CalibrationCounts:
        if not counts:
            raise ValueError("Expected at least one CalibrationCounts to merge. Received: []")
        total = counts[0]
        for part in counts[1:]:
            total = total + part
        return total


@dataclass(frozen=True)
class Calibration:
    """Reliability of the per-joint predictive distributions (see the module doc)."""

    levels: np.ndarray  # [L]
    observed: np.ndarray  # [L]
    observed_per_joint: np.ndarray  # [N, L]
    ece: float
    ece_per_joint: np.ndarray  # [N]
    sharpness: dict  # {mass: mean radius (metres)}

    @classmethod
    def from_counts(cls, counts: CalibrationCounts) -> Calibration:
        if counts.frames == 0:
            raise ValueError(
                "Expected calibration counts over at least one frame. Received: frames=0"
            )
        per_joint = counts.hits / counts.frames
        nodes = per_joint.shape[0]
        sharpness = {
            mass: float(np.sum(sums) / (counts.frames * nodes))
            for mass, sums in counts.radius_sums.items()
        }
        return cls(
            levels=counts.levels,
            observed=per_joint.mean(axis=0),
            observed_per_joint=per_joint,
            ece=float(np.mean(np.abs(per_joint.mean(axis=0) - counts.levels))),
            ece_per_joint=np.mean(np.abs(per_joint - counts.levels), axis=1),
            sharpness=sharpness,
        )


def probability_integral_transform(params: Mapping, targets) -> np.ndarray:
    """u_n = mass of joint n's marginal within |y_n - c_n| of its mixture mean c_n; [B, N] (uniform if calibrated)."""
    mixture = _mixture(params, dims=3)
    targets = _joints(targets, mixture, "targets", ("D",))
    centers = mixture.mean_pose()
    return _mass_within(mixture, centers, np.linalg.norm(targets - centers, axis=-1))


def calibration_counts(
    params: Mapping, targets, levels=CALIBRATION_LEVELS, masses: Sequence[float] = SHARPNESS_MASSES
) -> CalibrationCounts:
    """The additive sums of one chunk; `Calibration.from_counts(CalibrationCounts.merge(chunks))`."""
    levels = np.asarray(levels, np.float64)
    mixture = _mixture(params, dims=3)
    targets = _joints(targets, mixture, "targets", ("D",))
    centers = mixture.mean_pose()
    u = _mass_within(mixture, centers, np.linalg.norm(targets - centers, axis=-1))
    hits = np.sum(u[..., None] <= levels, axis=0).astype(np.int64)  # [N, L]
    sums = {float(m): np.sum(_radius_for_mass(mixture, centers, m, 50), axis=0) for m in masses}
    return CalibrationCounts(levels, hits, int(u.shape[0]), sums)


def calibration(params: Mapping, targets, levels=CALIBRATION_LEVELS) -> Calibration:
    """Calibration of one pass over `targets` [B, N, 3]; for chunks use `calibration_counts`."""
    return Calibration.from_counts(calibration_counts(params, targets, levels))


# -------------------------------------------------------------------------------------------- diversity


def diversity(params: Mapping) -> dict:
    """{'pairwise_distance': [B] metres, 'effective_kernels': [B]} (see the module doc)."""
    mixture = _mixture(params)
    pi = mixture.pi  # [B, M, N]
    distance = np.linalg.norm(mixture.mu[:, :, None] - mixture.mu[:, None], axis=-1)  # [B, M, M, N]
    weight = pi[:, :, None] * pi[:, None]
    upper = np.triu(np.ones(pi.shape[1], bool), k=1)[None, :, :, None]
    numerator = np.sum(np.where(upper, weight * distance, 0.0), axis=(1, 2))
    denominator = np.sum(np.where(upper, weight, 0.0), axis=(1, 2))  # [B, N]
    per_node = np.where(
        denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), 0.0
    )
    entropy = -np.sum(pi * np.where(pi > 0, mixture.log_pi, 0.0), axis=1)  # [B, N]
    return {
        "pairwise_distance": per_node.mean(axis=1),
        "effective_kernels": np.exp(entropy).mean(axis=1),
    }


# ------------------------------------------------------------------------------------------ ambiguity


def _check_ambiguity_inputs(inputs_2d, targets_3d, sequence_ids, frame_index):
    inputs_2d, targets_3d = np.asarray(inputs_2d, np.float64), np.asarray(targets_3d, np.float64)
    sequence_ids, frame_index = np.asarray(sequence_ids), np.asarray(frame_index)
    batch = inputs_2d.shape[0] if inputs_2d.ndim == 3 else -1
    if (
        inputs_2d.ndim != 3
        or inputs_2d.shape[-1] != 2
        or targets_3d.shape != (*inputs_2d.shape[:2], 3)
    ):
        raise ValueError(
            "Expected inputs_2d [B, N, 2] and targets_3d [B, N, 3]. "
            f"Received: inputs_2d.shape={inputs_2d.shape}, targets_3d.shape={targets_3d.shape}"
        )
    if sequence_ids.shape != (batch,) or frame_index.shape != (batch,):
        raise ValueError(
            f"Expected sequence_ids and frame_index of shape ({batch},). "
            f"Received: sequence_ids.shape={sequence_ids.shape}, frame_index.shape={frame_index.shape}"
        )
    return inputs_2d, targets_3d, sequence_ids, frame_index


def _near_pairs(pixels: np.ndarray, rows: slice, columns: slice, limit: float) -> tuple:
    """(i, j), i in rows, j in columns, j != i, with squared root-relative pixel distance < limit."""
    squared = np.sum(pixels**2, axis=1)
    approximate = (
        squared[rows, None] + squared[None, columns] - 2 * pixels[rows] @ pixels[columns].T
    )
    slack = (
        1e-9 * (squared[rows, None] + squared[None, columns]) + 1e-9
    )  # rounding of the expansion
    i, j = np.nonzero(approximate < limit + slack)  # candidates; the exact distance decides
    i, j = i + rows.start, j + columns.start
    exact = np.sum((pixels[i] - pixels[j]) ** 2, axis=1)
    keep = (exact < limit) & (i != j)
    return i[keep], j[keep]


def ambiguous_samples(
    inputs_2d,
    targets_3d,
    sequence_ids,
    frame_index,
    *,
    pixel_radius: float = 6.0,
    pixels_per_unit: float = 500.0,
    min_difference: float = 0.050,
    exclude_frames: int = 50,
    block: int = 2048,
) -> np.ndarray:
    """bool [B]: some other sample has root-relative 2D within RMS `pixel_radius` px and 3D MPJPE >= min_difference.

    Pairs of one sequence fewer than `exclude_frames` frames apart are not counted.
    """
    inputs_2d, targets_3d, sequence_ids, frame_index = _check_ambiguity_inputs(
        inputs_2d, targets_3d, sequence_ids, frame_index
    )
    batch, nodes = inputs_2d.shape[:2]
    result = np.zeros(batch, bool)
    if batch < 2:
        return result
    pixels = ((inputs_2d - inputs_2d[:, :1]) * pixels_per_unit).reshape(batch, -1)
    relative = targets_3d - targets_3d[:, :1]
    blocks = [slice(start, min(start + block, batch)) for start in range(0, batch, block)]
    for rows in blocks:  # block x block products: memory O(block^2), not O(block * B)
        for columns in blocks:
            i, j = _near_pairs(pixels, rows, columns, pixel_radius**2 * nodes)
            neighbours = (sequence_ids[i] == sequence_ids[j]) & (
                np.abs(frame_index[i] - frame_index[j]) < exclude_frames
            )
            i, j = i[~neighbours], j[~neighbours]
            difference = np.linalg.norm(relative[i] - relative[j], axis=-1).mean(axis=-1)
            result[i[difference >= min_difference]] = True
    return result


# ---------------------------------------------------------------------------------------------- plots


def plot_reliability(calibrations: Mapping[str, Calibration], path) -> Path:
    """Observed vs predicted probability per model (ECE in the legend); per-joint lines for the first model."""
    path = Path(path)
    figure, axis = plt.subplots(figsize=(5, 5))
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
    for index, (label, result) in enumerate(calibrations.items()):
        if index == 0:
            for per_joint in result.observed_per_joint:
                axis.plot(result.levels, per_joint, color=f"C{index}", linewidth=0.5, alpha=0.3)
        axis.plot(
            result.levels,
            result.observed,
            color=f"C{index}",
            marker="o",
            label=f"{label} (ECE {result.ece:.3f})",
        )
    axis.set(
        xlabel="predicted probability (mass within radius)",
        ylabel="observed frequency",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    axis.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    plt.close(figure)
    return path


def plot_diversity(diversities: Mapping[str, dict], path) -> Path:
    """Histograms of effective kernels and of weighted pairwise kernel distance (mm) per model."""
    path = Path(path)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for label, values in diversities.items():
        left.hist(np.asarray(values["effective_kernels"]), bins=30, alpha=0.5, label=label)
        right.hist(
            MILLIMETRES * np.asarray(values["pairwise_distance"]), bins=30, alpha=0.5, label=label
        )
    left.set(xlabel="effective kernels exp(H(pi))", ylabel="frames")
    right.set(xlabel="weighted pairwise kernel distance (mm)", ylabel="frames")
    for axis in (left, right):
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    plt.close(figure)
    return path
