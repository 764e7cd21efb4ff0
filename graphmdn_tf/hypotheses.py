"""Turning a mixture into poses: Highest, Mean, Oracle (pose and per joint), samples, best of N samples.

All functions take the GraphMDN parameter dict (`mu` [B, M, N, D], `sigma`, `pi_logits`; see
`graphmdn_tf.distributions.mixture`) as tensors or NumPy arrays and return float32 tensors
[batch, N, D] (samples: [S, batch, N, D]). At node level, Highest and Mean act per node.

`SELECTIONS` is the one registry of hypothesis selections: the model's training metrics
(`mpjpe_<name>`), the evaluation tables, the TensorBoard summaries and the exported signatures
(`<name>_pose` for each selection that needs no ground truth) all read it, so a new selection rule is
one `Selection` added here:

    >>> poses = select(outputs, targets_3d)       # {'highest': ..., 'mean': ..., 'oracle': ..., 'oracle_joint': ...}
    >>> select(outputs, inputs_2d=keypoints)      # {'highest': ..., 'mean': ..., 'reprojection': ..., ...}
    >>> selection_names(with_target=False)        # what a served model answers from the mixture alone
    ('highest', 'mean')

The rules that choose without the ground truth from more than the mixture (the 2D input's
reprojection, skeleton and motion priors learned from the training set, whole sequences) are in
`graphmdn_tf.selectors`; a rule names what it reads in `Selection.requires` (`CONTEXT_KEYS`).

Reference: GraphMDN (Oikarinen et al. 2020), Section 4.3.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from graphmdn_tf import selectors
from graphmdn_tf.distributions.mixture import mixture_distribution, mixture_level
from graphmdn_tf.metrics import mpjpe_tf

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


def best_of_samples(samples, target, per_joint: bool = False) -> tf.Tensor:
    """Of S sampled poses [S, B, N, D], the one closest to the target in MPJPE: [B, N, D].

    `per_joint`: for every joint, the sample's joint closest to the target joint (the joint-wise best,
    J-Best, against the pose-wise P-Best).
    """
    samples = tf.convert_to_tensor(samples, dtype=tf.float32)
    target = tf.convert_to_tensor(target, dtype=tf.float32)
    if per_joint:
        distance = tf.norm(samples - target[None], axis=-1)  # [S, B, N]
        one_hot = tf.one_hot(
            tf.argmin(distance, axis=0), tf.shape(samples)[0], axis=0, dtype=tf.float32
        )
        return tf.einsum("sbn,sbnd->bnd", one_hot, samples)
    errors = mpjpe_tf(samples, target[None])  # [S, B]
    best = tf.argmin(errors, axis=0)
    return tf.gather(tf.transpose(samples, (1, 0, 2, 3)), best, axis=1, batch_dims=1)


def best_of_sampled(
    outputs, targets_3d, num_samples: int, seed=None, group_size: int = 25, per_joint: bool = False
) -> np.ndarray:
    """Of `num_samples` poses sampled from the mixture, the one closest to the target: [batch, N, 3] (NumPy).

    Samples are drawn `group_size` at a time (TFP draws every kernel for every sample, so memory grows
    with samples x kernels x batch) and the best so far kept. `seed`: an int, or a pair of ints for
    stateless, reproducible sampling. `per_joint`: the best sample for every joint separately (J-Best).
    """
    targets_3d = np.asarray(targets_3d, np.float32)
    groups = -(-num_samples // group_size)
    seeds = tfp.random.split_seed(seed, n=groups) if seed is not None else [None] * groups
    best, best_error = None, None
    for group in range(groups):
        count = min(group_size, num_samples - group * group_size)
        candidate = best_of_samples(
            sample_poses(outputs, count, seed=seeds[group]), targets_3d, per_joint
        ).numpy()
        error = np.linalg.norm(candidate - targets_3d, axis=-1)  # [B, N]
        if not per_joint:
            error = error.mean(axis=-1, keepdims=True)
        if best is None:
            best, best_error = candidate, error
        else:
            better = error < best_error  # [B, 1] pose-wise, [B, N] per joint
            best = np.where(better[..., None], candidate, best)
            best_error = np.minimum(error, best_error)
    return best


# ---- the registry ----

#: What a selection rule may look at besides the mixture, by the key it has in a selection context:
CONTEXT_KEYS = {
    "target": "the ground-truth pose [batch, N, D] (an upper bound, not a prediction)",
    "inputs_2d": "the model's 2D input keypoints [batch, N, 2]",
    "skeleton_prior": "a `graphmdn_tf.selectors.SkeletonPrior` fitted on the training poses",
    "motion_prior": "a `graphmdn_tf.selectors.MotionPrior` fitted on the training sequences",
    "sequence_ids": "[batch] int, the sequence of each row; a sequence's rows contiguous, in frame order",
}


@dataclass(frozen=True)
class Selection:
    """One rule that turns a mixture into one pose per frame.

    Attributes:
        name: the key in selections, metric names (`mpjpe_<name>`) and signatures (`<name>_pose`).
        title: the label in tables ('GraphMDN (<title>)'); for a sampled rule a format with `{num_samples}`.
        choose: `choose(params, context)` -> poses [batch, N, D], where `context` maps the keys in
            `requires` (`CONTEXT_KEYS`) to their values; a sampled rule:
            `choose(params, context, num_samples, seed)` -> NumPy poses.
        requires: the context keys the rule reads; () for a rule a served model can answer from the
            mixture alone (then `choose` is TF ops, usable inside `model.fit` and exported signatures).
        sampled: the rule draws poses from the mixture; it runs in evaluation only, with N samples,
            under the key `<name>_<N>`.
        metric: the rule is also a training metric (`mpjpe_<name>`, every step): only cheap TF rules
            that need at most the target.
    """

    name: str
    title: str
    choose: Callable
    requires: tuple = ()
    sampled: bool = False
    metric: bool = False

    def __post_init__(self):
        unknown = sorted(set(self.requires) - set(CONTEXT_KEYS))
        if unknown:
            raise ValueError(f"Expected requires from {tuple(CONTEXT_KEYS)}. Received: {unknown}")

    @property
    def needs_target(self) -> bool:
        """The rule looks at the ground truth: an upper bound (Oracle, best of N), not a prediction."""
        return "target" in self.requires

    def key(self, num_samples: int = 0) -> str:
        return f"{self.name}_{num_samples}" if self.sampled else self.name

    def label(self, num_samples: int = 0) -> str:
        return self.title.format(num_samples=num_samples)


def _reading(name: str, title: str, function: Callable, *keys: str, **flags) -> Selection:
    """The `Selection` whose rule is `function(params, *(context[key] for key in keys), *rest)`, with
    `rest` = (num_samples, seed) for a sampled rule; it requires `keys`."""

    def choose(params, context, *rest):
        return function(params, *(context[key] for key in keys), *rest)

    return Selection(name, title, choose, requires=keys, **flags)


_TEMPORAL_CONTEXT = ("sequence_ids", "motion_prior")
SELECTIONS = {
    selection.name: selection
    for selection in (
        _reading("highest", "Highest", highest, metric=True),
        _reading("mean", "Mean", mean, metric=True),
        _reading("reprojection", "Reprojection", selectors.reprojection, "inputs_2d"),
        _reading(
            "reprojection_weighted",
            "Reprojection-weighted mean",
            selectors.reprojection_weighted,
            "inputs_2d",
        ),
        _reading("skeleton", "Skeleton prior", selectors.skeleton_prior, "skeleton_prior"),
        _reading(
            "temporal",
            "Temporal",
            partial(selectors.temporal, causal=False),
            *_TEMPORAL_CONTEXT,
        ),
        _reading(
            "temporal_causal",
            "Temporal, causal",
            partial(selectors.temporal, causal=True),
            *_TEMPORAL_CONTEXT,
        ),
        _reading("oracle", "Oracle", oracle, "target", metric=True),
        _reading("oracle_joint", "Oracle per joint", oracle_per_joint, "target"),
        _reading(
            "best_of", "Best of {num_samples} samples", best_of_sampled, "target", sampled=True
        ),
        _reading(
            "best_of_joint",
            "Best joints of {num_samples} samples",
            partial(best_of_sampled, per_joint=True),
            "target",
            sampled=True,
        ),
    )
}
"""Name -> `Selection`, in the order tables list them: predictions first, then the upper bounds."""


def selection_names(*, with_target: bool = True, available: Sequence[str] | None = None) -> tuple:
    """Names of the selections computed without sampling whose `requires` are all `available`.

    Default `available`: ('target',) (`with_target`) or () (only what a served model can answer).
    """
    if available is None:
        available = ("target",) if with_target else ()
    return tuple(
        name
        for name, selection in SELECTIONS.items()
        if not selection.sampled and set(selection.requires) <= set(available)
    )


def metric_names() -> tuple:
    """The selections a model tracks as training metrics (`mpjpe_<name>`)."""
    return tuple(name for name, selection in SELECTIONS.items() if selection.metric)


def _context(target, context: Mapping) -> dict:
    unknown = sorted(set(context) - set(CONTEXT_KEYS))
    if unknown:
        raise ValueError(f"Expected context keys from {tuple(CONTEXT_KEYS)}. Received: {unknown}")
    given = {"target": target, **context}
    return {key: value for key, value in given.items() if value is not None}


def select(params: Mapping, target=None, names: Sequence[str] | None = None, **context) -> dict:
    """{name: poses [batch, N, D]} for the non-sampled selections `names` (default: every one whose
    `requires` the given `target` and `context` (keys of `CONTEXT_KEYS`) provide)."""
    given = _context(target, context)
    if names is None:
        names = selection_names(available=tuple(given))
    unknown = [name for name in names if name not in SELECTIONS or SELECTIONS[name].sampled]
    if unknown:
        raise ValueError(
            f"Expected selections from {selection_names(available=tuple(CONTEXT_KEYS))}. "
            f"Received: {unknown}"
        )
    for name in names:
        missing = [key for key in SELECTIONS[name].requires if key not in given]
        if missing:
            raise ValueError(
                f"Selection {name!r} needs {missing} ({'; '.join(CONTEXT_KEYS[k] for k in missing)})."
            )
    return {name: SELECTIONS[name].choose(params, given) for name in names}


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


def selection_poses(
    outputs, targets_3d=None, *, num_samples: int = 0, seed=None, **context
) -> dict:
    """Selection key -> poses [batch, N, 3] (NumPy), for every selection in `SELECTIONS` the inputs allow.

    A mixture gives the selections whose `requires` the given target and `context` provide: alone
    'highest' and 'mean'; with targets also the upper bounds ('oracle', 'oracle_joint'), and with
    num_samples > 0 the sampled ones ('best_of_<num_samples>', 'best_of_joint_<num_samples>', sampled
    with `seed`); with `inputs_2d`, priors and `sequence_ids` the rules of `graphmdn_tf.selectors`. A
    deterministic model gives its one pose as 'prediction'.
    """
    if not is_mixture(outputs):
        return {PREDICTION: np.asarray(outputs, np.float32)}
    given = _context(targets_3d, context)
    chosen = select(
        outputs,
        given.get("target"),
        **{key: value for key, value in given.items() if key != "target"},
    )
    poses = {name: np.asarray(pose, np.float32) for name, pose in chosen.items()}
    if num_samples > 0:
        for selection in SELECTIONS.values():
            if selection.sampled and set(selection.requires) <= set(given):
                poses[selection.key(num_samples)] = selection.choose(
                    outputs, given, num_samples, seed
                )
    return poses
