"""A mixture model's uncertainty, summarised for the evaluation files, plots and TensorBoard.

`uncertainty_summary` turns a `FrameEvaluation` (per-frame NLL, per-joint NLL, calibration counts,
diversity) into the JSON-ready dict `EvaluationResult.uncertainty` holds per model; `plot_uncertainty`
draws the reliability diagram and the diversity histograms; `write_tensorboard` puts the tables'
averages, the uncertainty figures and both plots into a TensorBoard run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf

from graphmdn_tf import uncertainty
from graphmdn_tf.calibration import coverage_at
from graphmdn_tf.metrics import MILLIMETRES
from graphmdn_tf.written import forget, record, replaceable


def uncertainty_summary(frames, ambiguous, joint_names) -> dict:
    """{'nll', 'nll_ambiguous', 'nll_per_joint', 'ece', 'ece_per_joint', 'coverage_90', 'sharpness_mm',
    'calibration', 'pairwise_distance_mm', 'effective_kernels'} of one mixture model's `FrameEvaluation`
    ('coverage_90': the observed frequency at the 90% level of the calibration curve)."""
    calibration = frames.calibration
    ambiguous = np.asarray(ambiguous, bool)
    return {
        "nll": float(frames.nll.mean()),
        "nll_ambiguous": float(frames.nll[ambiguous].mean()) if ambiguous.any() else None,
        "nll_per_joint": {
            name: float(value) for name, value in zip(joint_names, frames.joint_nll.mean(axis=0))
        },
        "ece": float(calibration.ece),
        "ece_per_joint": {
            name: float(value) for name, value in zip(joint_names, calibration.ece_per_joint)
        },
        "coverage_90": coverage_at(calibration, 0.9),
        "sharpness_mm": {
            f"{round(100 * level)}": MILLIMETRES * float(radius)
            for level, radius in calibration.sharpness.items()
        },
        "calibration": {
            "levels": [float(level) for level in calibration.levels],
            "observed": [float(value) for value in calibration.observed],
            "observed_per_joint": np.asarray(calibration.observed_per_joint).round(5).tolist(),
        },
        "pairwise_distance_mm": MILLIMETRES * float(frames.diversity["pairwise_distance"].mean()),
        "effective_kernels": float(frames.diversity["effective_kernels"].mean()),
    }


def calibration_of(summary: Mapping) -> uncertainty.Calibration:
    """The `uncertainty.Calibration` a summary was made of (what the reliability diagram draws)."""
    curve = summary["calibration"]
    return uncertainty.Calibration(
        levels=np.asarray(curve["levels"]),
        observed=np.asarray(curve["observed"]),
        observed_per_joint=np.asarray(curve["observed_per_joint"]),
        ece=summary["ece"],
        ece_per_joint=np.asarray(list(summary["ece_per_joint"].values())),
        sharpness={
            int(level) / 100: radius / MILLIMETRES
            for level, radius in summary["sharpness_mm"].items()
        },
    )


def plot_uncertainty(result, directory: Path, stem: str) -> dict:
    """{'calibration': <stem>_calibration.png, 'diversity': <stem>_diversity.png} for the mixture models
    of `result` (the diversity plot when their per-frame diversity is at hand); {} for none."""
    paths = {}
    if result.uncertainty:
        calibrations = {
            label: calibration_of(summary) for label, summary in result.uncertainty.items()
        }
        paths["calibration"] = uncertainty.plot_reliability(
            calibrations, directory / f"{stem}_calibration.png"
        )
    if result.diversity:
        paths["diversity"] = uncertainty.plot_diversity(
            result.diversity, directory / f"{stem}_diversity.png"
        )
    return paths


def tensorboard_scalars(result) -> dict:
    """Tag -> value: every row's average and ambiguous-subset mean, and each model's uncertainty figures."""
    scalars = {}
    for row in result.rows:
        metric = f"protocol{row.protocol}" if row.protocol in (1, 2) else row.protocol
        scalars[f"{metric}/{row.method}"] = row.average
        if row.ambiguous is not None and np.isfinite(row.ambiguous):
            scalars[f"{metric}_ambiguous/{row.method}"] = row.ambiguous
    for label, summary in result.uncertainty.items():
        for key in ("nll", "nll_ambiguous", "ece", "pairwise_distance_mm", "effective_kernels"):
            if summary.get(key) is not None:
                scalars[f"uncertainty/{key}/{label}"] = summary[key]
        for level, radius in summary["sharpness_mm"].items():
            scalars[f"uncertainty/radius_{level}_mm/{label}"] = radius
    return scalars


def write_tensorboard(
    result, log_dir: str | Path, images: Mapping[str, Path], *, ours: bool = False
) -> Path:
    """Write `result`'s scalars (step 0) and the PNG `images` into the TensorBoard run `log_dir`,
    replacing the event files an earlier evaluation wrote there: with `ours` (a run directory's
    logs/evaluation) every event file of `log_dir`, else only those its manifest lists as written by
    graphmdn-tf (`graphmdn_tf.written`); the new event file is recorded there and the replaced ones
    are struck from it."""
    log_dir = Path(log_dir)
    events = "events.out.tfevents.*"
    before = set(log_dir.glob(events))
    replaced = sorted(before) if ours else replaceable(log_dir, sorted(before))
    for old in replaced:
        old.unlink()
        before.discard(old)
    if not ours:
        forget(
            log_dir, [old.name for old in replaced]
        )  # the manifest lists only event files that exist
    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default():
        for tag, value in tensorboard_scalars(result).items():
            tf.summary.scalar(tag, value, step=0)
        for name, path in images.items():
            tf.summary.image(
                f"evaluation/{name}", tf.image.decode_png(Path(path).read_bytes())[None], step=0
            )
        tf.summary.text("evaluation/results", result.to_markdown(), step=0)
    writer.close()
    if not ours:
        record(log_dir, [path.name for path in set(log_dir.glob(events)) - before])
    return log_dir
