"""Shared cases of the evaluation tests: textbook NumPy scores, a model that returns fixed outputs,
and a tiny run directory."""

import keras
import numpy as np

from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.evaluation import evaluate_model
from graphmdn_tf.models import GraphMDN, SemGCN


def procrustes_error(predicted, target):
    """Per-frame P-MPJPE by the textbook Umeyama solution, one frame at a time."""
    errors = []
    for p, t in zip(predicted.astype(np.float64), target.astype(np.float64)):
        p0, t0 = p - p.mean(0), t - t.mean(0)
        u, s, vt = np.linalg.svd(p0.T @ t0)
        d = np.sign(np.linalg.det(u @ vt))
        correction = np.diag([1.0, 1.0, d])
        rotation = u @ correction @ vt
        scale = (s * np.diag(correction)).sum() / (p0**2).sum()
        aligned = scale * p0 @ rotation + t.mean(0)
        errors.append(np.linalg.norm(aligned - t, axis=-1).mean())
    return np.array(errors)


def mpjpe(predicted, target):
    return np.linalg.norm(predicted - target, axis=-1).mean(-1)


def numpy_hypotheses(mu, pi_logits, targets):
    pi = np.exp(pi_logits - pi_logits.max(1, keepdims=True))
    pi /= pi.sum(1, keepdims=True)
    rows = np.arange(len(mu))
    kernel_errors = np.stack([mpjpe(mu[:, k], targets) for k in range(mu.shape[1])], axis=1)
    return {
        "highest": mu[rows, pi.argmax(1)],
        "mean": (pi[:, :, None, None] * mu).sum(1),
        "oracle": mu[rows, kernel_errors.argmin(1)],
    }


def numpy_errors(outputs, targets, convention):
    """{hypothesis: {protocol: per-frame mm}} by the textbook formulas, under a scoring convention."""
    mu = np.array(outputs["mu"], np.float64)
    if convention == "paper":
        mu[:, :, 0] = 0.0  # the authors' main_eval.py: every kernel's root joint at the origin
    poses = numpy_hypotheses(mu, np.asarray(outputs["pi_logits"], np.float64), targets)
    errors = {
        name: {1: 1000 * mpjpe(pose, targets), 2: 1000 * procrustes_error(pose, targets)}
        for name, pose in poses.items()
    }
    if convention == "paper":  # the Protocol #2 Oracle is the kernel best after alignment
        per_kernel = np.stack(
            [procrustes_error(mu[:, k], targets) for k in range(mu.shape[1])], axis=1
        )
        errors["oracle"][2] = 1000 * per_kernel.min(axis=1)
    return errors


def paper_average(per_frame, labels):
    classes = sorted(set(labels))
    per_action = {a: per_frame[labels == a].mean() for a in classes}
    return per_action, np.mean(list(per_action.values()))


def errors_and_nll(*args, **kwargs):
    frames = evaluate_model(*args, **kwargs)
    return frames.errors, frames.nll


class LookupModel:
    """Returns fixed mixture parameters; input row i carries its frame index in inputs[i, 0, 0]."""

    def __init__(self, outputs):
        self.outputs = outputs

    def predict_on_batch(self, inputs):
        rows = inputs[:, 0, 0].astype(int)
        return {key: value[rows] for key, value in self.outputs.items()}


def fixed_run(tmp_path, model_name, **overrides):
    config = TrainingConfig.from_preset(
        "standard",
        model=model_name,
        hidden_dim=8,
        num_blocks=1,
        num_kernels=3,
        stride=8,
        **overrides,
    )
    run_dir = tmp_path / model_name
    run_dir.mkdir()
    config.to_json(run_dir / "config.json")
    keras.utils.set_random_seed(7)
    model = (
        GraphMDN(hidden_dim=8, num_blocks=1, num_kernels=3)
        if model_name == "graphmdn"
        else SemGCN(hidden_dim=8, num_blocks=1)
    )
    model(np.zeros((1, 16, 2), np.float32))
    model.save(run_dir / "model.keras")
    return config, run_dir, model
