"""`calibrate_run`: fit a finished GraphMDN run's sigma scale factors and store them in the run.

The fit (`graphmdn_tf.calibration.fit_sigma_scales`) uses the run's validation split, never its test
subjects:
    - a run trained with `validation_holdout` (`--validation-holdout`): the held-out last frames of
      its training sequences (`graphmdn_tf.data.pipeline.config_splits`);
    - else a run whose `validation_subjects` are not its test subjects: those subjects;
    - else (it validated on its test subjects) the fit is refused, unless `subjects` names other
      subjects of its data (not its test subjects) to fit on.
The scales go to RUN_DIR/calibration.json with what they were fitted on and the NLL, ECE and coverage
at the 90% level before and after; `RunDirectory.load_model` applies them from then on.

Example:
    >>> record = calibrate_run("runs/graphmdn-standard-cmu")           # per-joint scales
    >>> record.after["ece"], record.scale_array()
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from graphmdn_tf.calibration import (
    CalibrationRecord,
    calibration_error,
    fit_sigma_scales,
    mixture_nll,
    node_names,
)
from graphmdn_tf.data.pipeline import config_samples, config_splits
from graphmdn_tf.runs import RunDirectory


def calibration_samples(config, subjects=None, progress: bool = True):
    """(samples, {'split', 'subjects'}) the fit uses (see the module docstring).

    Raises:
        ValueError: the run validated on its test subjects and no `subjects` are given, or
            `subjects` include a test subject.
    """
    if subjects:
        subjects = tuple(subjects)
        overlap = sorted(set(subjects) & set(config.test_subjects))
        if overlap:
            raise ValueError(
                f"Expected subjects other than the run's test subjects {list(config.test_subjects)}. "
                f"Received: subjects={','.join(subjects)} (fitting on the test subjects would "
                "calibrate on the data the evaluation scores)"
            )
        return config_samples(config, subjects, progress=progress), {
            "split": "subjects",
            "subjects": list(subjects),
        }
    if config.validation_holdout:
        _, held = config_splits(config, progress=progress)
        return held, {
            "split": "validation_holdout",
            "subjects": list(config.train_subjects),
            "validation_holdout": config.validation_holdout,
        }
    if config.validation_subjects and not set(config.validation_subjects) & set(
        config.test_subjects
    ):
        subjects = tuple(config.validation_subjects)
        return config_samples(config, subjects, progress=progress), {
            "split": "validation_subjects",
            "subjects": list(subjects),
        }
    raise ValueError(
        f"The run validated on its test subjects ({','.join(config.test_subjects)}), and "
        "calibrating on them would fit the data the evaluation scores. Train with "
        "--validation-holdout 0.1, or name other subjects to fit on with subjects=S8"
    )


def _rows(count: int, frames: int | None) -> np.ndarray:
    """Row indices: all, or `frames` of them evenly spaced (deterministic)."""
    if frames is None or frames >= count:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, frames).round().astype(np.int64))


def calibrate_run(
    run_dir: str | Path,
    *,
    per_kernel: bool = False,
    frames: int | None = None,
    subjects=None,
    batch_size: int = 4096,
    progress: bool = True,
) -> CalibrationRecord:
    """Fit the sigma scale factors of a finished GraphMDN run and write RUN_DIR/calibration.json.

    Args:
        run_dir: a finished run directory.
        per_kernel: scale factors per kernel and joint (M x N) instead of per joint (N).
        frames: fit on at most this many samples of the split, evenly spaced (None: all).
        subjects: fit on these subjects of the run's data instead of its validation split (never its
            test subjects).
        batch_size: samples per forward pass.
        progress: show progress bars while the data load.

    Returns:
        The `CalibrationRecord` written.

    Raises:
        FileNotFoundError: the run is not finished.
        ValueError: not a GraphMDN run, no allowed split (see `calibration_samples`), a bad `frames`.
    """
    run = RunDirectory(run_dir)
    run.require_finished()
    if frames is not None and (
        isinstance(frames, bool) or not isinstance(frames, int) or frames < 1
    ):
        raise ValueError(f"Expected frames to be a positive integer. Received: frames={frames!r}")
    config = run.load_config()
    if config.model != "graphmdn":
        raise ValueError(
            f"Expected a GraphMDN run to calibrate. Received: {run.path} holds a {config.model} run"
        )
    samples, fitted_on = calibration_samples(config, subjects, progress)
    if not len(samples):
        raise ValueError(f"The calibration split {fitted_on} of {run.path} holds no samples")
    rows = _rows(len(samples), frames)
    inputs = np.asarray(samples.inputs_2d[rows], np.float32)
    targets = np.asarray(samples.targets_3d[rows], np.float64)
    model = run.load_model(calibrated=False)
    params = keras.tree.map_structure(
        np.asarray, model.predict(inputs, batch_size=batch_size, verbose=0)
    )
    fit = fit_sigma_scales(params, targets, per_kernel=per_kernel)
    before = {"nll": fit.nll_before, **calibration_error(params, targets)}
    after = {"nll": mixture_nll(params, targets, fit.scales)}
    after.update(calibration_error(params, targets, fit.scales))
    record = CalibrationRecord(
        scales=fit.scales.tolist(),
        joint_names=node_names(model.graph),
        level=model.mixture,
        num_kernels=model.num_kernels,
        per_kernel=per_kernel,
        fitted_on={**fitted_on, "frames": int(len(rows)), "of_frames": int(len(samples))},
        before=before,
        after=after,
        fit={
            "iterations": fit.iterations,
            "gradient": fit.gradient,
            "converged": fit.converged,
        },
    )
    record.to_json(run.calibration_path)
    return record
