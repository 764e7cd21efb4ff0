"""`evaluate_run`: a finished run's tables, uncertainty summary, plots and TensorBoard run, on any data
(the example is the package's, `graphmdn_tf.evaluation`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.data.h36m import DEFAULT_SPLITS
from graphmdn_tf.data.pipeline import config_samples, config_splits
from graphmdn_tf.evaluation.frames import ambiguous_subset, evaluate_model, sequence_index
from graphmdn_tf.evaluation.probabilistic import uncertainty_summary, write_tensorboard
from graphmdn_tf.evaluation.tables import (
    EvaluationResult,
    action_order,
    method_names,
    model_label,
    result_rows,
)
from graphmdn_tf.hypotheses import selection_for
from graphmdn_tf.runs import LOGS_DIR, RESULTS_STEM, RunDirectory
from graphmdn_tf.scoring import METRICS
from graphmdn_tf.selectors import MotionPrior, SkeletonPrior
from graphmdn_tf.skeletons import H36M_16

DATA_FIELDS = ("dataset", "data_dir", "keypoints", "test_subjects", "actions")
"""The data settings `evaluate_run` can take from elsewhere than the run's config."""

#: `evaluate_run(calibration=...)`: a calibrated run's model with and without its scales, or one of them.
CALIBRATION_CHOICES = ("both", "on", "off")
UNCALIBRATED = "uncalibrated"

SPLITS = ("test", "validation")
"""What `evaluate_run` scores: the test subjects, or the run's own validation split."""

VALIDATION_TAG = "validation"
"""The folder under RUN_DIR/evaluations/ of the results on the run's validation split."""


def evaluation_data(config: TrainingConfig, **overrides) -> TrainingConfig:
    """The run's config with the data settings in `overrides` (None: the run's own) for evaluation.

    A new `dataset` without `test_subjects` takes that data set's default test split (if it has one).
    """
    unknown = sorted(set(overrides) - set(DATA_FIELDS))
    if unknown:
        raise ValueError(f"Expected data settings from {DATA_FIELDS}. Received: {unknown}")
    given = {name: value for name, value in overrides.items() if value is not None}
    if "dataset" in given and "test_subjects" not in given and given["dataset"] in DEFAULT_SPLITS:
        given["test_subjects"] = DEFAULT_SPLITS[given["dataset"]][1]
    return config.replace(**given)


def data_tag(config: TrainingConfig) -> str:
    """A folder name for results on these data: '<dataset>-<keypoints>-<subjects>[-<n>actions]'."""
    actions = f"-{len(config.actions)}actions" if config.actions else ""
    return f"{config.dataset}-{config.keypoints}-{'+'.join(config.test_subjects)}{actions}"


def evaluate_run(
    run_dir: str | Path,
    *,
    num_samples: int = 200,
    batch_size: int = 4096,
    seed: int = 0,
    stride: int | None = None,
    convention: str = "paper",
    write: bool = True,
    progress: bool = True,
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    keypoints: str | None = None,
    test_subjects=None,
    actions=None,
    results_dir: str | Path | None = None,
    split: str = "test",
    calibration: str = "both",
) -> EvaluationResult:
    """Evaluate a finished run (RUN_DIR/config.json and model.keras) on its test subjects, or on other data.

    Args:
        run_dir: the directory `train` wrote.
        num_samples: N for the best-of-N row (poses sampled from the mixture); 0 leaves it out.
        batch_size: samples per prediction chunk.
        seed: sampling seed.
        stride: evaluate every stride-th test frame (default: the run's stride).
        convention: how poses are scored, 'paper' (the authors' evaluation, default) or 'raw'
            (`CONVENTIONS`); the tables say which.
        write: write results.md, results.csv, results.json and results_per_action.png (`results_dir`).
        dataset, data_dir, keypoints, test_subjects, actions: data to evaluate on instead of the run's
            own (each None: the run's setting; see `evaluation_data`).
        results_dir: where the results go; default the run directory for its own data, and
            RUN_DIR/evaluations/<data_tag> for other data, so the run's own results are never replaced.
            In a folder of the user's, files of the same names that graphmdn-tf did not write there are
            never replaced (`graphmdn_tf.written`: `NotOurFileError`, before anything is written).
        split: 'test' (the test subjects, or the data given) or 'validation': the run's own validation
            split (`data.pipeline.config_splits`: its held-out frames with `validation_holdout`, else
            its validation subjects), where settings are chosen; results by default in
            RUN_DIR/evaluations/validation. It takes no other data settings and no stride.
        calibration: for a run with calibration.json (`graphmdn-tf calibrate`), "both" (default):
            the calibrated model under the run's label and, beside it, the uncalibrated model's
            uncertainty entry and best-of-N rows, labelled '(..., uncalibrated)' (the other
            selections read pi and mu only, which calibration leaves unchanged); "on": the
            calibrated model only; "off": the model as trained only. No effect on other runs.

    Returns:
        An `EvaluationResult`.
    """
    run = RunDirectory(run_dir)
    run.require_finished()
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 0:
        raise ValueError(
            f"Expected num_samples to be an integer >= 0. Received: num_samples={num_samples!r}"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            f"Expected batch_size to be a positive integer. Received: batch_size={batch_size!r}"
        )
    if split not in SPLITS:
        raise ValueError(f"Expected split to be one of {SPLITS}. Received: split={split!r}")
    if calibration not in CALIBRATION_CHOICES:
        raise ValueError(
            f"Expected calibration to be one of {CALIBRATION_CHOICES}. "
            f"Received: calibration={calibration!r}"
        )
    config = run.load_config()
    if split == "validation":
        given = [
            name
            for name, value in zip(
                DATA_FIELDS, (dataset, data_dir, keypoints, test_subjects, actions)
            )
            if value is not None
        ]
        if given or stride is not None:
            raise ValueError(
                "Expected no data settings or stride with split='validation' (it is the run's own "
                f"validation split). Received: {', '.join(given + ['stride'] * (stride is not None))}"
            )
    data = evaluation_data(
        config,
        dataset=dataset,
        data_dir=data_dir,
        keypoints=keypoints,
        test_subjects=test_subjects,
        actions=actions,
    )
    samples = (
        config_splits(config, progress=progress)[1]
        if split == "validation"
        else config_samples(
            data, data.test_subjects, stride=stride or data.stride, progress=progress
        )
    )
    calibrated = run.is_calibrated() and model_is_mixture(config) and calibration != "off"
    model = run.load_model(calibrated=calibrated)
    sequence_ids, frame_index = sequence_index(samples.subjects, samples.actions, samples.cameras)
    priors = (
        training_priors(config, stride or data.stride, progress)
        if model_is_mixture(config)
        else None
    )

    def evaluate(model, priors=None):  # the same chunks and seeds each time: paired samples
        return evaluate_model(
            model,
            samples.inputs_2d,
            samples.targets_3d,
            sequence_ids=sequence_ids,
            priors=priors,
            num_samples=num_samples,
            batch_size=batch_size,
            seed=seed,
            convention=convention,
            progress=progress,
        )

    frames = evaluate(model, priors)
    uncalibrated = (
        evaluate(run.load_model(calibrated=False)) if calibrated and calibration == "both" else None
    )
    ambiguous = ambiguous_subset(
        samples.inputs_2d, samples.targets_3d, sequence_ids, frame_index, samples.cameras
    )
    result = _run_result(
        config, data, run, samples, frames, ambiguous, convention, split, calibrated, uncalibrated
    )
    if write:
        default = (
            run.evaluation_dir(VALIDATION_TAG)
            if split == "validation"
            else default_results_dir(run, config, data)
        )
        destination = Path(results_dir) if results_dir is not None else default
        ours = (
            destination.resolve() == default.resolve()
        )  # the run's own folders; elsewhere, only our files are replaced
        paths = result.write(destination, RESULTS_STEM, ours=ours)
        images = {
            name: paths[name] for name in ("png", "calibration", "diversity") if name in paths
        }
        write_tensorboard(result, destination / LOGS_DIR / "evaluation", images, ours=ours)
    return result


def model_is_mixture(config: TrainingConfig) -> bool:
    return config.model == "graphmdn"


def training_priors(config: TrainingConfig, stride: int, progress: bool = True) -> dict:
    """{'skeleton_prior', 'motion_prior'} learned from the run's training poses (camera 0's rows: bone
    lengths and speeds do not depend on the camera), at the evaluation's frame stride."""
    train = config_samples(config, config.train_subjects, stride=stride, progress=progress)
    train = train.subset(train.cameras == train.cameras.min())
    sequence_ids, _ = sequence_index(train.subjects, train.actions, train.cameras)
    return {
        "skeleton_prior": SkeletonPrior.fit(train.targets_3d, H36M_16),
        "motion_prior": MotionPrior.fit(train.targets_3d, sequence_ids),
    }


def default_results_dir(run: RunDirectory, config: TrainingConfig, data: TrainingConfig) -> Path:
    """The run directory for results on its own data, RUN_DIR/evaluations/<data_tag> for other data."""
    own = all(getattr(data, name) == getattr(config, name) for name in DATA_FIELDS)
    return run.path if own else run.evaluation_dir(data_tag(data))


def uncalibrated_label(label: str) -> str:
    """'GraphMDN' -> 'GraphMDN (uncalibrated)', 'GraphMDN (Best of 200 samples)' -> 'GraphMDN (Best of
    200 samples, uncalibrated)'."""
    if label.endswith(")"):
        return f"{label[:-1]}, {UNCALIBRATED})"
    return f"{label} ({UNCALIBRATED})"


def _run_result(
    config,
    data,
    run,
    samples,
    frames,
    ambiguous,
    convention,
    split="test",
    calibrated=False,
    uncalibrated=None,
) -> EvaluationResult:
    label = model_label(config.model, config.preset, config.mixture_level)
    if split == "validation":
        on = f"; evaluated on its validation split ({_validation_text(config)})"
    elif data == config:
        on = ""
    else:
        on = f"; evaluated on {data.dataset} {','.join(data.test_subjects)} ({data.keypoints})"
    names = method_names(config.model, config.preset, frames.errors, config.mixture_level)
    mixture = frames.nll is not None
    rows = result_rows(frames.errors, samples.action_classes, names, ambiguous)
    test_nll = {label: float(frames.nll.mean())} if mixture else {}
    summaries = (
        {label: uncertainty_summary(frames, ambiguous, H36M_16.joint_names)} if mixture else {}
    )
    notes = [f"{label}: {run.path} ({_origin(run, config)}{on})."]
    if mixture and run.is_calibrated():
        notes.append(
            f"{label}: sigma {'with' if calibrated else 'without'} the scale factors of "
            f"{run.calibration_path} (`graphmdn-tf calibrate`)"
            + (f"; '{UNCALIBRATED}' entries: without them." if uncalibrated is not None else ".")
        )
    if uncalibrated is not None:
        sampled = {
            key: uncalibrated_label(names[key])
            for key in uncalibrated.errors
            if key in names and selection_for(key).sampled
        }
        rows = rows + result_rows(uncalibrated.errors, samples.action_classes, sampled, ambiguous)
        order = list(METRICS)
        rows = tuple(sorted(rows, key=lambda row: order.index(row.protocol)))  # stable
        test_nll[uncalibrated_label(label)] = float(uncalibrated.nll.mean())
        summaries[uncalibrated_label(label)] = uncertainty_summary(
            uncalibrated, ambiguous, H36M_16.joint_names
        )
    return EvaluationResult(
        actions=action_order(samples.action_classes),
        rows=rows,
        test_nll=test_nll,
        num_ambiguous=int(np.sum(ambiguous)),
        uncertainty=summaries,
        diversity={label: frames.diversity} if mixture else {},
        num_frames=len(samples),
        notes=tuple(notes),
        convention=convention,
    )


def _validation_text(config: TrainingConfig) -> str:
    if config.validation_holdout:
        return (
            f"the last {config.validation_holdout:g} of every sequence of "
            f"{','.join(config.train_subjects)}"
        )
    return ",".join(config.validation_split)


def _origin(run: RunDirectory, config: TrainingConfig) -> str:
    """How the run's model was made: its training data and epochs, or the checkpoint it was converted from."""
    converted = run.converted_from()
    if converted is not None:
        return f"converted from {converted}; data {config.dataset}, test {','.join(config.test_subjects)}"
    return (
        f"{config.dataset}, train {','.join(config.train_subjects)}, test "
        f"{','.join(config.test_subjects)}, {config.epochs} epochs"
    )
