"""Choosing one hypothesis per frame WITHOUT the ground truth: reprojection, skeleton and motion priors.

Every selector takes the GraphMDN parameter dict (`mu` [B, M, N, 3], `sigma` and `pi_logits` [B, M]
at pose level or [B, M, N] at node level; tensors or NumPy) and returns NumPy float32 poses [B, N, 3].
At node level the choice is made per joint. pi = softmax(pi_logits) over the kernel axis.

Reprojection consistency (the 2D input is evidence the 3D kernels can be checked against)
    Weak perspective: x2d_j ~ s X_j[:2] + t with one scale s and a 2D translation t per pose.
    Least squares: s = sum_j (X_j - Xbar) . (x_j - xbar) / sum_j |X_j - Xbar|^2 (X restricted to x, y),
    t = xbar - s Xbar; s is clamped at `MIN_SCALE` (s <= 0 would be a mirrored, invalid camera) and t
    recomputed (t = xbar - s Xbar is optimal for any fixed s). residual = sqrt(mean_j |s X_j + t - x_j|^2)
    in input units.
    `reprojection`: pose level: the kernel with the smallest residual; node level: s, t fitted once on
    the per-node mixture mean pose, then per joint the kernel whose projection s mu_jk[:2] + t lies
    nearest the input joint.
    `reprojection_weighted`: the mean pose with pi_k re-weighted, w_k ∝ pi_k exp(-r_k^2 / (2 noise^2))
    (computed as a log-space softmax); node level: the same per joint with r_jk the joint's 2D distance.
    noise -> inf gives Mean, noise -> 0 gives `reprojection`.

Skeleton priors (`SkeletonPrior`, fitted on training poses)
    Bone b (child c, parent p): length L_b = |X_c - X_p|; scale-free ratio rho_b = L_b / sum_b' L_b'.
    The prior keeps mean/std of log rho_b and, for each mirrored bone pair (left, right), of
    log(L_left / L_right). implausibility = 0.5 * sum of squared z-scores (a Gaussian negative
    log-likelihood up to a constant); stds are floored at `MIN_STD`.
    `skeleton_prior`: pose level: argmin_k implausibility(mu_k) - pi_weight * log pi_k (with
    pi_weight = 1 this is the MAP kernel: prior NLL plus the network's own log-weight). Node level: the
    ratio needs the total length, which depends on every joint's choice, so the scale S is taken from
    the per-node mixture mean pose (sum of its bone lengths) and each bone costs
    0.5 * ((log(|X_c(k_c) - X_p(k_p)| / S) - mean_b) / std_b)^2; with unaries -pi_weight * log pi_jk
    the total is a sum over the tree's edges and is minimised exactly by dynamic programming from the
    leaves to the root. Symmetry terms couple two branches (not a tree factor) and are left out there.

Temporal consistency (`MotionPrior`, Viterbi)
    sigma_v: the per-coordinate RMS of root-relative joint displacement between consecutive frames of
    the same sequence. For C independent chains, minimise over kernel paths k_1..k_T
        sum_t -log pi_t(k_t) + sum_{t>1} |mu_t(k_t) - mu_{t-1}(k_{t-1})|^2 / (2 sigma_v^2)
    (squares summed over the chain's joints and coordinates): pose level one chain over whole poses,
    node level one chain per joint. causal=False: Viterbi with backtracking (uses the whole sequence);
    causal=True: filtering, at each t the state minimising the forward cost (frames <= t only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from graphmdn_tf.distributions.arrays import MixtureArrays, log_softmax, mixture_mean
from graphmdn_tf.skeletons import H36M_16, Skeleton

#: Smallest weak-perspective scale accepted by the fit (a mirrored or degenerate camera is not valid).
MIN_SCALE = 1e-3
#: Default 2D noise for `reprojection_weighted`, in input units: inputs are screen coordinates
#: normalised to about 500 px per unit, so 0.01 is ~5 px, the order of a 2D detector's error.
DEFAULT_NOISE = 0.01
#: Floor on the prior's standard deviations (log units), so a bone that never varies in training
#: does not make every tiny deviation infinitely implausible.
MIN_STD = 1e-2
#: The hard selectors (`reprojection`, `skeleton_prior`, `temporal`) choose only among kernels whose
#: weight is at least this fraction of the frame's (or joint's) largest: a kernel the network itself
#: all but rules out is not a hypothesis. Without it a "dead" kernel (pi ~ 0, a mean far from any pose,
#: nearly constant over time) wins the temporal path on stillness alone, and can win the others by chance.
MIN_RELATIVE_WEIGHT = 0.01
#: Node-level `skeleton_prior` works through the batch in chunks of about this many kernel pairs.
_PAIR_BUDGET = 2_000_000


# ---- inputs ----


def _unpack(params: Mapping) -> tuple[np.ndarray, np.ndarray, str]:
    """mu [B, M, N, 3], log pi ([B, M] or [B, M, N]) as float64 NumPy, and the level."""
    arrays = MixtureArrays.from_params(params, dims=3)
    return arrays.mu, arrays.log_pi, arrays.level


def _inputs(inputs_2d, mu: np.ndarray) -> np.ndarray:
    inputs_2d = np.asarray(inputs_2d, np.float64)
    expected = (mu.shape[0], mu.shape[2], 2)
    if inputs_2d.shape != expected:
        raise ValueError(
            f"Expected inputs_2d of shape {expected}. Received: inputs_2d.shape={inputs_2d.shape}"
        )
    return inputs_2d


def _excluded(log_pi: np.ndarray) -> np.ndarray:
    """0 for the kernels a hard selector may choose, +inf for those under `MIN_RELATIVE_WEIGHT` of the top one."""
    threshold = np.max(log_pi, axis=1, keepdims=True) + np.log(MIN_RELATIVE_WEIGHT)
    return np.where(log_pi >= threshold, 0.0, np.inf)


def _pick(mu: np.ndarray, index: np.ndarray) -> np.ndarray:
    """mu [B, M, N, 3] at kernel index [B] (whole poses) or [B, N] (per joint) -> [B, N, 3] float32."""
    if index.ndim == 1:
        return mu[np.arange(len(mu)), index].astype(np.float32)
    batch, joints = np.meshgrid(np.arange(mu.shape[0]), np.arange(mu.shape[2]), indexing="ij")
    return mu[batch, index, joints].astype(np.float32)


# ---- reprojection ----


def weak_perspective_fit(points_3d, inputs_2d) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least squares x2d ~ s X[..., :2] + t: (scale [...], translation [..., 2], RMS residual [...])."""
    points = np.asarray(points_3d, np.float64)
    target = np.asarray(inputs_2d, np.float64)
    if points.shape[-1] != 3 or target.shape[-1] != 2 or points.shape[:-1] != target.shape[:-1]:
        raise ValueError(
            f"Expected points_3d [..., N, 3] and inputs_2d [..., N, 2] with the same leading "
            f"shape. Received: points_3d.shape={points.shape}, inputs_2d.shape={target.shape}"
        )
    xy = points[..., :2]
    xy_mean, target_mean = xy.mean(axis=-2, keepdims=True), target.mean(axis=-2, keepdims=True)
    centred = xy - xy_mean
    numerator = np.sum(centred * (target - target_mean), axis=(-2, -1))
    denominator = np.sum(centred**2, axis=(-2, -1))
    scale = np.maximum(numerator / np.maximum(denominator, 1e-12), MIN_SCALE)
    translation = target_mean[..., 0, :] - scale[..., None] * xy_mean[..., 0, :]
    error = scale[..., None, None] * xy + translation[..., None, :] - target
    residual = np.sqrt(np.mean(np.sum(error**2, axis=-1), axis=-1))
    return scale, translation, residual


def reprojection_residuals(params: Mapping, inputs_2d) -> np.ndarray:
    """Each kernel's weak-perspective RMS residual against the 2D input: [B, M]."""
    mu, _, _ = _unpack(params)
    inputs_2d = _inputs(inputs_2d, mu)
    return weak_perspective_fit(mu, np.broadcast_to(inputs_2d[:, None], mu.shape[:3] + (2,)))[2]


def _joint_distances(mu: np.ndarray, log_pi: np.ndarray, inputs_2d: np.ndarray) -> np.ndarray:
    """Node level: s, t fitted on the mean pose; each kernel joint's projected distance [B, M, N]."""
    scale, translation, _ = weak_perspective_fit(mixture_mean(mu, log_pi), inputs_2d)
    projected = scale[:, None, None, None] * mu[..., :2] + translation[:, None, None, :]
    return np.linalg.norm(projected - inputs_2d[:, None], axis=-1)


def reprojection(params: Mapping, inputs_2d) -> np.ndarray:
    """The kernel (pose level) or per-joint kernel (node level) most consistent with the 2D input."""
    mu, log_pi, level = _unpack(params)
    inputs_2d = _inputs(inputs_2d, mu)
    if level == "pose":
        return _pick(
            mu, np.argmin(reprojection_residuals(params, inputs_2d) + _excluded(log_pi), axis=1)
        )
    return _pick(mu, np.argmin(_joint_distances(mu, log_pi, inputs_2d) + _excluded(log_pi), axis=1))


def reprojection_weighted(params: Mapping, inputs_2d, noise: float = DEFAULT_NOISE) -> np.ndarray:
    """Mean pose with pi_k re-weighted by exp(-r_k^2 / (2 noise^2)) (per joint at node level)."""
    if not noise > 0:
        raise ValueError(f"Expected noise > 0. Received: noise={noise!r}")
    mu, log_pi, level = _unpack(params)
    inputs_2d = _inputs(inputs_2d, mu)
    if level == "pose":
        residual = reprojection_residuals(params, inputs_2d)
    else:
        residual = _joint_distances(mu, log_pi, inputs_2d)
    weights = log_softmax(log_pi - residual**2 / (2.0 * noise**2), axis=1)
    return mixture_mean(mu, weights).astype(np.float32)


# ---- skeleton prior ----


def _bones(skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    children = np.array([j for j, p in enumerate(skeleton.parents) if p >= 0])
    return children, np.array([skeleton.parents[j] for j in children])


def _mirror_pairs(skeleton: Skeleton) -> tuple[tuple[int, int], ...]:
    """(left bone, right bone) indices into `_bones`, from the paired joints_left/right children."""
    children = list(_bones(skeleton)[0])
    return tuple(
        (children.index(left), children.index(right))
        for left, right in zip(skeleton.joints_left, skeleton.joints_right, strict=True)
        if left in children and right in children
    )


def _bone_lengths(poses: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    children, parents = _bones(skeleton)
    if poses.ndim < 2 or poses.shape[-2:] != (skeleton.num_joints, 3):
        raise ValueError(
            f"Expected poses of shape [..., {skeleton.num_joints}, 3]. Received: "
            f"poses.shape={poses.shape}"
        )
    return np.maximum(
        np.linalg.norm(poses[..., children, :] - poses[..., parents, :], axis=-1), 1e-9
    )


def _features(poses: np.ndarray, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """(log bone-length ratios [..., bones], log left/right ratios [..., pairs])."""
    lengths = _bone_lengths(poses, skeleton)
    ratios = np.log(lengths) - np.log(lengths.sum(axis=-1, keepdims=True))
    pairs = np.array(_mirror_pairs(skeleton), dtype=int).reshape(-1, 2)
    return ratios, np.log(lengths[..., pairs[:, 0]]) - np.log(lengths[..., pairs[:, 1]])


@dataclass(frozen=True)
class SkeletonPrior:
    """Gaussian prior on log bone-length ratios (length / total) and log left/right bone ratios."""

    skeleton_name: str
    parents: tuple
    joints_left: tuple
    joints_right: tuple
    ratio_mean: tuple
    ratio_std: tuple
    symmetry_mean: tuple
    symmetry_std: tuple

    @classmethod
    def fit(cls, poses_3d, skeleton: Skeleton = H36M_16) -> SkeletonPrior:
        ratios, symmetry = _features(np.asarray(poses_3d, np.float64), skeleton)
        ratios, symmetry = (
            ratios.reshape(-1, ratios.shape[-1]),
            symmetry.reshape(-1, symmetry.shape[-1]),
        )
        return cls(
            skeleton.name,
            tuple(skeleton.parents),
            tuple(skeleton.joints_left),
            tuple(skeleton.joints_right),
            *(
                tuple(float(v) for v in values)
                for values in (ratios.mean(0), ratios.std(0), symmetry.mean(0), symmetry.std(0))
            ),
        )

    @property
    def skeleton(self) -> Skeleton:
        names = tuple(str(j) for j in range(len(self.parents)))
        return Skeleton(
            self.skeleton_name, names, self.parents, self.joints_left, self.joints_right
        )

    def implausibility(self, poses) -> np.ndarray:
        """0.5 * sum of squared z-scores of the pose's features: [...]."""
        ratios, symmetry = _features(np.asarray(poses, np.float64), self.skeleton)
        z_ratio = (ratios - np.array(self.ratio_mean)) / np.maximum(
            np.array(self.ratio_std), MIN_STD
        )
        z_sym = (symmetry - np.array(self.symmetry_mean)) / np.maximum(
            np.array(self.symmetry_std), MIN_STD
        )
        return 0.5 * (np.sum(z_ratio**2, axis=-1) + np.sum(z_sym**2, axis=-1))

    def to_dict(self) -> dict:
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in self.__dict__.items()
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> SkeletonPrior:
        return cls(
            **{
                name: tuple(value) if isinstance(value, list) else value
                for name, value in data.items()
            }
        )


def _tree_order(parents: tuple) -> list[int]:
    """Joints ordered so that every joint comes after its parent."""
    order, placed = [], set()
    while len(order) < len(parents):
        for joint, parent in enumerate(parents):
            if joint not in placed and (parent < 0 or parent in placed):
                order.append(joint)
                placed.add(joint)
    return order


def _node_level_tree(
    mu: np.ndarray, log_pi: np.ndarray, prior: SkeletonPrior, pi_weight: float
) -> np.ndarray:
    """Exact per-joint kernel choice [B, N] minimising unaries plus bone-length costs on the tree."""
    parents, batch = prior.parents, np.arange(mu.shape[0])
    scale = _bone_lengths(mixture_mean(mu, log_pi), prior.skeleton).sum(axis=-1)  # [B]
    bone_of = {child: b for b, child in enumerate(_bones(prior.skeleton)[0])}
    cost = -pi_weight * log_pi + _excluded(log_pi)  # [B, M, N]: unary plus messages from children
    best_child = {}
    order = _tree_order(parents)
    for child in reversed(order):
        parent = parents[child]
        if parent < 0:
            continue
        b = bone_of[child]
        length = np.linalg.norm(
            mu[:, :, None, child] - mu[:, None, :, parent], axis=-1
        )  # [B, Mc, Mp]
        z = (np.log(np.maximum(length, 1e-9) / scale[:, None, None]) - prior.ratio_mean[b]) / max(
            prior.ratio_std[b], MIN_STD
        )
        total = cost[:, :, child, None] + 0.5 * z**2  # [B, Mc, Mp]
        best_child[child] = np.argmin(total, axis=1)  # [B, Mp]
        cost[:, :, parent] += np.min(total, axis=1)
    choice = np.zeros((mu.shape[0], mu.shape[2]), dtype=np.int64)
    for joint in order:
        parent = parents[joint]
        choice[:, joint] = (
            np.argmin(cost[:, :, joint], axis=1)
            if parent < 0
            else best_child[joint][batch, choice[:, parent]]
        )
    return choice


def skeleton_prior(params: Mapping, prior: SkeletonPrior, pi_weight: float = 1.0) -> np.ndarray:
    """The kernel (pose level) or per-joint kernels (node level) minimising implausibility - pi_weight log pi.

    pi_weight = 1 (default) adds the network's log-weight to the prior's negative log-likelihood (a MAP
    choice), so the prior breaks near-ties between kernels rather than overriding a confident network.
    """
    mu, log_pi, level = _unpack(params)
    if mu.shape[2] != len(prior.parents):
        raise ValueError(
            f"Expected mu with {len(prior.parents)} nodes for the prior's skeleton. "
            f"Received: mu.shape={mu.shape}"
        )
    if level == "pose":
        return _pick(
            mu, np.argmin(prior.implausibility(mu) - pi_weight * log_pi + _excluded(log_pi), axis=1)
        )
    chunk = max(
        1, _PAIR_BUDGET // (mu.shape[1] ** 2)
    )  # bounds the [chunk, M, M, 3] bone tables' memory
    choice = np.concatenate(
        [
            _node_level_tree(
                mu[start : start + chunk], log_pi[start : start + chunk], prior, pi_weight
            )
            for start in range(0, len(mu), chunk)
        ]
    )
    return _pick(mu, choice)


# ---- temporal consistency ----


@dataclass(frozen=True)
class MotionPrior:
    """sigma_v: per-coordinate RMS of a root-relative joint's displacement between consecutive frames."""

    sigma_v: float

    @classmethod
    def fit(cls, targets_3d, sequence_ids) -> MotionPrior:
        targets = np.asarray(targets_3d, np.float64)
        ids = np.asarray(sequence_ids)
        if targets.ndim != 3 or targets.shape[-1] != 3 or ids.shape != targets.shape[:1]:
            raise ValueError(
                f"Expected targets_3d [B, N, 3] and sequence_ids [B]. Received: "
                f"targets_3d.shape={targets.shape}, sequence_ids.shape={ids.shape}"
            )
        same = ids[1:] == ids[:-1]
        if not same.any():
            raise ValueError(
                "Expected at least two consecutive rows of one sequence to fit the motion prior."
            )
        steps = (targets[1:] - targets[:-1])[same]
        return cls(sigma_v=float(max(np.sqrt(np.mean(steps**2)), 1e-9)))

    def to_dict(self) -> dict:
        return {"sigma_v": self.sigma_v}

    @classmethod
    def from_dict(cls, data: Mapping) -> MotionPrior:
        return cls(sigma_v=float(data["sigma_v"]))


def _transition(previous: np.ndarray, current: np.ndarray, sigma_v: float) -> np.ndarray:
    """|mu_t(k) - mu_{t-1}(j)|^2 / (2 sigma_v^2) for every chain: [C, M_prev j, M_cur k]."""
    difference = previous[:, None] - current[None, :]  # [Mj, Mk, C, D]
    return np.transpose(np.sum(difference**2, axis=-1), (2, 0, 1)) / (2.0 * sigma_v**2)


def viterbi_kernels(mu, log_pi, sigma_v: float, causal: bool = False) -> np.ndarray:
    """Kernel index per frame and chain [T, C] minimising -log pi plus the Gaussian motion cost.

    mu [T, M, C, D] (D: the chain's joints x coordinates flattened, or 3), log_pi [T, M, C].
    """
    mu, log_pi = np.asarray(mu, np.float64), np.asarray(log_pi, np.float64)
    if mu.ndim != 4 or log_pi.shape != mu.shape[:3]:
        raise ValueError(
            f"Expected mu [T, M, C, D] and log_pi [T, M, C]. Received: mu.shape={mu.shape}, "
            f"log_pi.shape={log_pi.shape}"
        )
    if not sigma_v > 0:
        raise ValueError(f"Expected sigma_v > 0. Received: sigma_v={sigma_v!r}")
    frames, chains = mu.shape[0], np.arange(mu.shape[2])
    forward = -log_pi[0].T  # [C, M]
    indices, back = np.zeros((frames, mu.shape[2]), dtype=np.int64), []
    indices[0] = np.argmin(forward, axis=1)
    for t in range(1, frames):
        total = forward[:, :, None] + _transition(mu[t - 1], mu[t], sigma_v)  # [C, Mj, Mk]
        back.append(np.argmin(total, axis=1))  # [C, Mk]
        forward = np.min(total, axis=1) - log_pi[t].T
        indices[t] = np.argmin(forward, axis=1)
    if causal:
        return indices
    for t in range(frames - 1, 0, -1):
        indices[t - 1] = back[t - 1][chains, indices[t]]
    return indices


def _sequence_slices(sequence_ids, batch: int) -> list[slice]:
    ids = np.asarray(sequence_ids)
    if ids.shape != (batch,):
        raise ValueError(
            f"Expected sequence_ids of shape ({batch},). Received: sequence_ids.shape={ids.shape}"
        )
    starts = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]]))
    seen = ids[starts]
    if len(set(seen.tolist())) != len(seen):
        repeated = sorted({v for v in seen.tolist() if list(seen.tolist()).count(v) > 1})
        raise ValueError(
            f"Expected the rows of each sequence to be contiguous; sequence ids {repeated} "
            "reappear after another sequence."
        )
    ends = np.concatenate([starts[1:], [batch]])
    return [slice(int(start), int(end)) for start, end in zip(starts, ends, strict=True)]


def temporal(
    params: Mapping, sequence_ids, motion_prior: MotionPrior, causal: bool = False
) -> np.ndarray:
    """Per sequence, the kernel path (pose level: whole poses; node level: per joint) of `viterbi_kernels`."""
    mu, log_pi, level = _unpack(params)
    log_pi = log_pi - _excluded(log_pi)  # excluded kernels: -inf, a state no path enters
    index = np.zeros(
        mu.shape[:1] if level == "pose" else (mu.shape[0], mu.shape[2]), dtype=np.int64
    )
    for rows in _sequence_slices(sequence_ids, mu.shape[0]):
        if level == "pose":
            chain_mu = mu[rows].reshape(mu[rows].shape[:2] + (1, -1))
            index[rows] = viterbi_kernels(
                chain_mu, log_pi[rows][:, :, None], motion_prior.sigma_v, causal
            )[:, 0]
        else:
            index[rows] = viterbi_kernels(mu[rows], log_pi[rows], motion_prior.sigma_v, causal)
    return _pick(mu, index)
