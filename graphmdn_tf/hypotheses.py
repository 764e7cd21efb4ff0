"""Turning a mixture into poses: Highest, Mean, Oracle (pose and per joint), samples, best of N samples.

All functions take the GraphMDN parameter dict (`mu` [B, M, N, D], `sigma`, `pi_logits`; see
`graphmdn_tf.distributions.mixture`) as tensors or NumPy arrays and return float32 tensors
[batch, N, D] (samples: [S, batch, N, D]). At node level, Highest and Mean act per node.

`SELECTIONS` is the one registry of hypothesis selections: the model's training metrics
(`mpjpe_<name>`), the evaluation tables, the TensorBoard summaries and the exported signatures
(`<name>_pose` for each selection that needs no ground truth) all read it, so a new selection rule is
one `Selection` added here:

    >>> poses = select(outputs, targets_3d)              # {'highest': ..., 'mean': ..., 'oracle': ...}
    >>> [selection.name for selection in SELECTIONS.values() if not selection.needs_target]
    ['highest', 'mean']

Reference: GraphMDN (Oikarinen et al. 2020), Section 4.3.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from graphmdn_tf.distributions.mixture import mixture_distribution, mixture_level
from graphmdn_tf.metrics import mpjpe, mpjpe_tf

#: The name a deterministic model's (SemGCN's) single pose goes by in selections and tables.
PREDICTION = "prediction"


def is_mixture(outputs) -> bool:
    """True for a GraphMDN's parameter dict, False for a deterministic pose array [batch, N, 3]."""
    return isinstance(outputs, Mapping)


def _mu(params: Mapping) -> tf.Tensor:
    return tf.convert_to_tensor(params["mu"], dtype=tf.float32)


def mixture_weights(params: Mapping) -> tf.Tensor:
    """pi: softmax of `pi_logits` over the kernel axis; [B, M] (pose) or [B, M, N] (node)."""
    return tf.nn.softmax(tf.convert_to_tensor(params["pi_logits"], dtype=tf.float32), axis=1)


def _weighted_pose(params: Mapping, weights: tf.Tensor) -> tf.Tensor:
    mu = _mu(params)
    if mixture_level(params) == "pose":
        return tf.einsum("bm,bmnd->bnd", weights, mu)
    return tf.einsum("bmn,bmnd->bnd", weights, mu)


def highest(params: Mapping) -> tf.Tensor:
    """Highest: the mean of the kernel with the largest pi, y = mu_n, n = argmax_j pi_j."""
    logits = tf.convert_to_tensor(params["pi_logits"], dtype=tf.float32)
    num_kernels = tf.shape(logits)[1]
    one_hot = tf.one_hot(tf.argmax(logits, axis=1), num_kernels, axis=1, dtype=tf.float32)
    return _weighted_pose(params, one_hot)


def mean(params: Mapping) -> tf.Tensor:
    """Mean: the mixture mean, y = sum_j pi_j mu_j."""
    return _weighted_pose(params, mixture_weights(params))


def kernel_errors(params: Mapping, target) -> tf.Tensor:
    """Mean per-joint position error of every kernel mean against `target`: [B, M]."""
    target = tf.convert_to_tensor(target, dtype=tf.float32)
    return mpjpe_tf(_mu(params), target[:, None])


def oracle(params: Mapping, target) -> tf.Tensor:
    """Oracle: the kernel mean (a whole pose) closest to the target in MPJPE."""
    mu = _mu(params)
    best = tf.argmin(kernel_errors(params, target), axis=1)  # [B]
    return tf.gather(mu, best, axis=1, batch_dims=1)


def oracle_per_joint(params: Mapping, target) -> tf.Tensor:
    """Per-joint Oracle: for every joint, the kernel whose mean is closest to the target joint."""
    mu = _mu(params)
    target = tf.convert_to_tensor(target, dtype=tf.float32)
    distance = tf.norm(mu - target[:, None], axis=-1)  # [B, M, N]
    one_hot = tf.one_hot(tf.argmin(distance, axis=1), tf.shape(mu)[1], axis=1, dtype=tf.float32)
    return tf.einsum("bmn,bmnd->bnd", one_hot, mu)


def sample_poses(params: Mapping, num_samples: int, seed=None) -> tf.Tensor:
    """`num_samples` poses drawn from the mixture: [S, B, N, D]."""
    if int(num_samples) < 1:
        raise ValueError(f"Expected num_samples >= 1. Received: num_samples={num_samples!r}")
    return mixture_distribution(params).sample(int(num_samples), seed=seed)


def best_of_samples(samples, target) -> tf.Tensor:
    """Of S sampled poses [S, B, N, D], the one closest to the target in MPJPE: [B, N, D]."""
    samples = tf.convert_to_tensor(samples, dtype=tf.float32)
    target = tf.convert_to_tensor(target, dtype=tf.float32)
    errors = mpjpe_tf(samples, target[None])  # [S, B]
    best = tf.argmin(errors, axis=0)
    return tf.gather(tf.transpose(samples, (1, 0, 2, 3)), best, axis=1, batch_dims=1)


def best_of_sampled(outputs, targets_3d, num_samples: int, seed=None, group_size: int = 25) -> np.ndarray:
    """Of `num_samples` poses sampled from the mixture, the one closest to the target: [batch, N, 3] (NumPy).

    Samples are drawn `group_size` at a time (TFP draws every kernel for every sample, so memory grows
    with samples x kernels x batch) and the best so far kept. `seed`: an int, or a pair of ints for
    stateless, reproducible sampling.
    """
    targets_3d = np.asarray(targets_3d, np.float32)
    groups = -(-num_samples // group_size)
    seeds = tfp.random.split_seed(seed, n=groups) if seed is not None else [None] * groups
    best, best_error = None, None
    for group in range(groups):
        count = min(group_size, num_samples - group * group_size)
        candidate = best_of_samples(sample_poses(outputs, count, seed=seeds[group]), targets_3d).numpy()
        error = mpjpe(candidate, targets_3d, per_frame=True)
        if best is None:
            best, best_error = candidate, error
        else:
            better = error < best_error
            best[better], best_error[better] = candidate[better], error[better]
    return best


# ---- the registry ----


@dataclass(frozen=True)
class Selection:
    """One rule that turns a mixture into one pose per frame.

    Attributes:
        name: the key in selections, metric names (`mpjpe_<name>`) and signatures (`<name>_pose`).
        title: the label in tables ('GraphMDN (<title>)'); for a sampled rule a format with `{num_samples}`.
        choose: `choose(params, target)` -> poses [batch, N, D] (TF ops, usable inside `model.fit`); a
            sampled rule: `choose(params, target, num_samples, seed)` -> NumPy poses.
        needs_target: the rule looks at the ground truth (an upper bound, not a prediction).
        sampled: the rule draws poses from the mixture; it runs in evaluation only, with N samples,
            under the key `<name>_<N>`.
    """

    name: str
    title: str
    choose: Callable
    needs_target: bool = False
    sampled: bool = False

    def key(self, num_samples: int = 0) -> str:
        return f"{self.name}_{num_samples}" if self.sampled else self.name

    def label(self, num_samples: int = 0) -> str:
        return self.title.format(num_samples=num_samples)


SELECTIONS = {selection.name: selection for selection in (
    Selection("highest", "Highest", lambda params, target: highest(params)),
    Selection("mean", "Mean", lambda params, target: mean(params)),
    Selection("oracle", "Oracle", oracle, needs_target=True),
    Selection("best_of", "Best of {num_samples} samples", best_of_sampled, needs_target=True, sampled=True),
)}
"""Name -> `Selection`, in the order tables list them."""


def selection_names(*, with_target: bool = True) -> tuple:
    """The selections computed without sampling (training metrics, summaries, export): with the
    target-dependent ones, or (`with_target=False`) only those a served model can answer."""
    return tuple(name for name, selection in SELECTIONS.items()
                 if not selection.sampled and (with_target or not selection.needs_target))


def select(params: Mapping, target=None, names: Sequence[str] | None = None) -> dict:
    """{name: poses [batch, N, D]} (tensors) for the non-sampled selections `names` (default: every one
    the inputs allow: those needing the target only when `target` is given)."""
    if names is None:
        names = selection_names(with_target=target is not None)
    unknown = [name for name in names if name not in SELECTIONS or SELECTIONS[name].sampled]
    if unknown:
        raise ValueError(f"Expected selections from {selection_names()}. Received: {unknown}")
    if target is None and any(SELECTIONS[name].needs_target for name in names):
        raise ValueError(f"Selections {[n for n in names if SELECTIONS[n].needs_target]} need the target pose.")
    return {name: SELECTIONS[name].choose(params, target) for name in names}


def selection_for(key: str) -> Selection:
    """The `Selection` behind a key of `selection_poses` ('mean', 'best_of_200')."""
    if key in SELECTIONS:
        return SELECTIONS[key]
    prefix, _, count = key.rpartition("_")
    if prefix in SELECTIONS and SELECTIONS[prefix].sampled and count.isdigit():
        return SELECTIONS[prefix]
    raise KeyError(f"No selection {key!r}. Known: {tuple(SELECTIONS)}")


def selection_label(key: str) -> str:
    """The table label of a key of `selection_poses`: 'Mean', 'Best of 200 samples'."""
    selection = selection_for(key)
    return selection.label(int(key.rpartition("_")[2]) if selection.sampled else 0)


def selection_poses(outputs, targets_3d=None, *, num_samples: int = 0, seed=None) -> dict:
    """Selection key -> poses [batch, N, 3] (NumPy), for every selection in `SELECTIONS` the inputs allow.

    A mixture gives the target-free selections ('highest', 'mean'), with targets also those that need
    them ('oracle'), and with num_samples > 0 the sampled ones ('best_of_<num_samples>', sampled with
    `seed`); a deterministic model gives its one pose as 'prediction'.
    """
    if not is_mixture(outputs):
        return {PREDICTION: np.asarray(outputs, np.float32)}
    poses = {name: pose.numpy() for name, pose in select(outputs, targets_3d).items()}
    if targets_3d is not None and num_samples > 0:
        for selection in (selection for selection in SELECTIONS.values() if selection.sampled):
            poses[selection.key(num_samples)] = selection.choose(outputs, targets_3d, num_samples, seed)
    return poses
