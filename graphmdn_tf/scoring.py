"""How a model's outputs are scored against the ground truth: conventions, per-frame errors, NLL.

`score_outputs(outputs, targets_3d)` turns one batch of outputs (a GraphMDN's parameter dict or a
SemGCN's poses) into {selection: {1: Protocol #1 errors [batch], 2: Protocol #2 errors [batch]}} in
millimetres, with the selections of `graphmdn_tf.hypotheses.SELECTIONS`; `metrics=METRICS` adds
'pck' (PCK at 150 mm) and 'auc' (its area over 0-150 mm), in percent; `frame_nll` gives the negative
log-likelihood of each target. The evaluation tables (`graphmdn_tf.evaluation`), the per-epoch
TensorBoard summaries (`graphmdn_tf.training.summaries`) and the accuracy benchmark all score through
this module, so they agree by construction.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

# The conventions are plain data in `graphmdn_tf.conventions` (the command line lists them without
# TensorFlow); scoring keeps them in its namespace for its callers.
from graphmdn_tf.conventions import CONVENTIONS, check_convention  # noqa: F401
from graphmdn_tf.distributions.mixture import mixture_distribution
from graphmdn_tf.hypotheses import is_mixture, selection_poses
from graphmdn_tf.metrics import MILLIMETRES, mpjpe, p_mpjpe
from graphmdn_tf.uncertainty import auc, pck

PERCENT = 100.0

#: Per-frame scores of a pose: the paper's two protocols (mm, lower is better), then the MPI-INF-3DHP
#: convention's PCK at 150 mm and AUC over 0-150 mm (% of joints, higher is better).
METRICS = {
    1: "Protocol #1 (MPJPE, mm)",
    2: "Protocol #2 (P-MPJPE, mm)",
    "pck": "PCK at 150 mm (% of joints, higher is better)",
    "auc": "AUC of PCK over 0-150 mm (%, higher is better)",
}
PROTOCOLS = (1, 2)
_SCORES = {
    1: lambda pose, target: MILLIMETRES * mpjpe(pose, target, per_frame=True),
    2: lambda pose, target: MILLIMETRES * p_mpjpe(pose, target, per_frame=True),
    "pck": lambda pose, target: PERCENT * pck(pose, target),
    "auc": lambda pose, target: PERCENT * auc(pose, target),
}


def pose_errors(poses: Mapping, targets_3d, metrics=PROTOCOLS) -> dict:
    """{hypothesis: {metric: per-frame score [batch]}} for `metrics` (keys of `METRICS`); by default
    {1: Protocol #1 errors, 2: Protocol #2 errors} in millimetres."""
    unknown = [metric for metric in metrics if metric not in METRICS]
    if unknown:
        raise ValueError(f"Expected metrics from {tuple(METRICS)}. Received: {unknown}")
    return {
        name: {metric: _SCORES[metric](pose, targets_3d) for metric in metrics}
        for name, pose in poses.items()
    }


def apply_convention(outputs, convention: str = "paper"):
    """The outputs as `convention` scores them (see `CONVENTIONS`): NumPy, the inputs unchanged."""
    check_convention(convention)
    if convention == "raw":
        return outputs
    if is_mixture(outputs):
        mu = np.array(outputs["mu"], dtype=np.float32, copy=True)  # [B, M, N, 3]
        mu[:, :, 0] = 0.0
        return {**outputs, "mu": mu}
    poses = np.asarray(outputs, np.float32)
    return poses - poses[:, :1]


def oracle_aligned_errors(mu, targets_3d) -> np.ndarray:
    """Protocol #2 Oracle: per frame, the lowest P-MPJPE (mm) over the kernel means mu [B, M, N, 3]."""
    mu = np.asarray(mu, np.float32)
    frames, kernels = mu.shape[:2]
    targets = np.repeat(np.asarray(targets_3d, np.float32), kernels, axis=0)  # [B * M, N, 3]
    errors = p_mpjpe(mu.reshape(frames * kernels, *mu.shape[2:]), targets, per_frame=True)
    return MILLIMETRES * errors.reshape(frames, kernels).min(axis=1)


def score_outputs(
    outputs,
    targets_3d,
    *,
    convention: str = "paper",
    num_samples: int = 0,
    seed=None,
    metrics=PROTOCOLS,
    **context,
) -> dict:
    """{hypothesis: {metric: per-frame score [batch]}} under `convention`; by default {1: Protocol #1
    errors, 2: Protocol #2 errors} (mm). `context` (`graphmdn_tf.hypotheses.CONTEXT_KEYS` but the
    target) adds the selections that read it."""
    scored = apply_convention(outputs, convention)
    poses = selection_poses(scored, targets_3d, num_samples=num_samples, seed=seed, **context)
    errors = pose_errors(poses, targets_3d, metrics)
    if convention == "paper" and "oracle" in errors and 2 in metrics:
        errors["oracle"][2] = oracle_aligned_errors(scored["mu"], targets_3d)
    return errors


def frame_nll(outputs, targets_3d) -> np.ndarray | None:
    """Negative log-likelihood of each target pose under the mixture [batch]; None for SemGCN."""
    if not is_mixture(outputs):
        return None
    targets_3d = tf.convert_to_tensor(targets_3d, tf.float32)
    return -mixture_distribution(outputs).log_prob(targets_3d).numpy()
