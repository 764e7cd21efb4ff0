"""How a model's outputs are scored against the ground truth: conventions, per-frame errors, NLL.

`score_outputs(outputs, targets_3d)` turns one batch of outputs (a GraphMDN's parameter dict or a
SemGCN's poses) into {selection: {1: Protocol #1 errors [batch], 2: Protocol #2 errors [batch]}} in
millimetres, with the selections of `graphmdn_tf.hypotheses.SELECTIONS`; `frame_nll` gives the negative
log-likelihood of each target. The evaluation tables (`graphmdn_tf.evaluation`), the per-epoch
TensorBoard summaries (`graphmdn_tf.training.summaries`) and the accuracy benchmark all score through
this module, so they agree by construction.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from graphmdn_tf.distributions.mixture import mixture_distribution
from graphmdn_tf.hypotheses import is_mixture, selection_poses
from graphmdn_tf.metrics import mpjpe, p_mpjpe

MILLIMETRES = 1000.0

# How poses are scored. 'paper' is what the authors' evaluation scripts do, which produced the paper's
# tables: GraphMDN (`main_eval.py`) sets the root joint of every kernel mean to the origin before
# choosing hypotheses and takes the Protocol #2 Oracle as the kernel with the lowest error *after*
# alignment; SemGCN (`main_gcn.py`) re-centres each prediction on its own root. 'raw' scores the model's
# outputs as they are, with the Protocol #2 Oracle being the Protocol #1 Oracle's pose. Targets are
# root-relative either way. The test NLL always uses the model's own (raw) distribution.
CONVENTIONS = {
    "paper": "the authors' evaluation (GraphMDN kernels' root joint set to the origin, SemGCN poses re-centred "
             "on their root, Protocol #2 Oracle chosen after alignment)",
    "raw": "the model's outputs as they are (Protocol #2 Oracle = the Protocol #1 Oracle's pose)",
}


def check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ValueError(f"Expected convention to be one of {tuple(CONVENTIONS)}. Received: convention={convention!r}")
    return convention


def pose_errors(poses: Mapping, targets_3d) -> dict:
    """{hypothesis: {1: Protocol #1 errors [batch], 2: Protocol #2 errors [batch]}} in millimetres."""
    return {
        name: {1: MILLIMETRES * mpjpe(pose, targets_3d, per_frame=True),
               2: MILLIMETRES * p_mpjpe(pose, targets_3d, per_frame=True)}
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


def score_outputs(outputs, targets_3d, *, convention: str = "paper", num_samples: int = 0, seed=None) -> dict:
    """{hypothesis: {1: Protocol #1 errors [batch], 2: Protocol #2 errors [batch]}} (mm) under `convention`."""
    scored = apply_convention(outputs, convention)
    errors = pose_errors(selection_poses(scored, targets_3d, num_samples=num_samples, seed=seed), targets_3d)
    if convention == "paper" and "oracle" in errors:
        errors["oracle"][2] = oracle_aligned_errors(scored["mu"], targets_3d)
    return errors


def frame_nll(outputs, targets_3d) -> np.ndarray | None:
    """Negative log-likelihood of each target pose under the mixture [batch]; None for SemGCN."""
    if not is_mixture(outputs):
        return None
    targets_3d = tf.convert_to_tensor(targets_3d, tf.float32)
    return -mixture_distribution(outputs).log_prob(targets_3d).numpy()
