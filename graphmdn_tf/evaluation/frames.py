"""Per-frame scores of a model over a test set: every selection's errors, the NLL, calibration, diversity.

`evaluate_model` predicts the test set in chunks of whole sequences (so that the temporal selections
see every sequence in one piece), chooses a pose with every selection the inputs allow
(`graphmdn_tf.hypotheses.SELECTIONS`: with the 2D inputs, the training priors and the sequence ids,
also the selectors that need no ground truth) and scores each under every metric of
`graphmdn_tf.scoring.METRICS`. A mixture's own (raw) distribution also gives each frame's NLL, each
joint's NLL, calibration counts and the kernels' diversity (`graphmdn_tf.uncertainty`), accumulated
chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import keras
import numpy as np
from tqdm.auto import tqdm

from graphmdn_tf import uncertainty
from graphmdn_tf.hypotheses import is_mixture
from graphmdn_tf.scoring import METRICS, check_convention, frame_nll, score_outputs


@dataclass(frozen=True)
class FrameEvaluation:
    """What `evaluate_model` measured, one value per test sample (frame x camera).

    Attributes:
        errors: {selection: {metric: [samples]}} (`METRICS`: mm for protocols 1 and 2, % for PCK and AUC).
        nll: [samples] negative log-likelihood of each target pose (nats, metres), None for SemGCN.
        joint_nll: [samples, N] each joint's NLL under the mixture's marginal for it, None for SemGCN.
        calibration: `uncertainty.Calibration` over every sample and joint, None for SemGCN.
        diversity: {'pairwise_distance': [samples] (m), 'effective_kernels': [samples]}, None for SemGCN.
    """

    errors: dict
    nll: np.ndarray | None = None
    joint_nll: np.ndarray | None = None
    calibration: object = None
    diversity: dict | None = None


def sequence_index(subjects, actions, cameras) -> tuple[np.ndarray, np.ndarray]:
    """(sequence id [samples] int, frame index within the sequence [samples] int) for rows ordered by
    subject, sequence, camera, frame (as `load_samples` returns them); one sequence per (subject,
    action, camera) run of rows."""
    keys = np.char.add(
        np.char.add(np.asarray(subjects, str), "\x00"),
        np.char.add(np.asarray(actions, str), np.char.add("\x00", np.asarray(cameras).astype(str))),
    )
    starts = np.ones(len(keys), bool)
    starts[1:] = keys[1:] != keys[:-1]
    ids = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    return ids.astype(np.int64), (np.arange(len(keys)) - first[ids]).astype(np.int64)


def sequence_chunks(sequence_ids, batch_size: int) -> list[slice]:
    """Row ranges of whole sequences, each at most `batch_size` rows unless one sequence is longer."""
    sequence_ids = np.asarray(sequence_ids)
    boundaries = list(np.flatnonzero(np.diff(sequence_ids) != 0) + 1) + [len(sequence_ids)]
    chunks, start, end = [], 0, 0
    for boundary in boundaries:
        if boundary - start > batch_size and end > start:
            chunks.append(slice(start, end))
            start = end
        end = boundary
    if end > start:
        chunks.append(slice(start, end))
    return chunks


class _Accumulator:
    """Per-chunk results, merged at the end."""

    def __init__(self):
        self.errors, self.nll, self.joint_nll, self.calibration, self.diversity = {}, [], [], [], []

    def add(self, outputs, targets, scores: Mapping):
        for name, by_metric in scores.items():
            for metric, values in by_metric.items():
                self.errors.setdefault(name, {}).setdefault(metric, []).append(values)
        if is_mixture(outputs):
            self.nll.append(frame_nll(outputs, targets))
            self.joint_nll.append(uncertainty.joint_nll(outputs, targets))
            self.calibration.append(uncertainty.calibration_counts(outputs, targets))
            self.diversity.append(uncertainty.diversity(outputs))

    def result(self) -> FrameEvaluation:
        errors = {
            name: {metric: np.concatenate(parts) for metric, parts in by_metric.items()}
            for name, by_metric in self.errors.items()
        }
        if not self.nll:
            return FrameEvaluation(errors)
        return FrameEvaluation(
            errors,
            nll=np.concatenate(self.nll),
            joint_nll=np.concatenate(self.joint_nll),
            calibration=uncertainty.Calibration.from_counts(
                uncertainty.CalibrationCounts.merge(self.calibration)
            ),
            diversity={
                key: np.concatenate([part[key] for part in self.diversity])
                for key in self.diversity[0]
            },
        )


def evaluate_model(
    model,
    inputs_2d,
    targets_3d,
    *,
    sequence_ids=None,
    priors: Mapping | None = None,
    num_samples: int = 0,
    batch_size: int = 4096,
    seed: int = 0,
    convention: str = "paper",
    progress: bool = True,
) -> FrameEvaluation:
    """Per-frame scores of every selection over a whole test set, scored under `convention` (`CONVENTIONS`).

    Args:
        model: anything with `predict_on_batch` (a GraphMDN, a SemGCN).
        inputs_2d, targets_3d: [samples, N, 2] and [samples, N, 3].
        sequence_ids: [samples] int, the sequence of each row (contiguous, in frame order): enables the
            temporal selections and keeps every sequence in one chunk. None: rows are independent.
        priors: {'skeleton_prior': ..., 'motion_prior': ...} learned from the training set
            (`graphmdn_tf.selectors`), enabling the selections that read them.
        num_samples: N for the sampled rows (best of N); 0 leaves them out.
        batch_size: samples per prediction chunk (a sequence longer than it is one chunk).
        seed: sampling seed.
    """
    check_convention(convention)
    count = len(inputs_2d)
    chunks = (
        sequence_chunks(sequence_ids, batch_size)
        if sequence_ids is not None
        else [slice(start, start + batch_size) for start in range(0, count, batch_size)]
    )
    accumulator = _Accumulator()
    for index, rows in enumerate(
        tqdm(chunks, desc="evaluating", unit="chunk", disable=not progress)
    ):
        inputs = np.asarray(inputs_2d[rows], np.float32)
        targets = np.asarray(targets_3d[rows], np.float32)
        outputs = keras.tree.map_structure(np.asarray, model.predict_on_batch(inputs))
        context = {"inputs_2d": inputs, **(priors or {})}
        if sequence_ids is not None:
            context["sequence_ids"] = np.asarray(sequence_ids[rows])
        scores = score_outputs(
            outputs,
            targets,
            convention=convention,
            num_samples=num_samples,
            seed=(seed, index),
            metrics=tuple(METRICS),
            **context,
        )
        accumulator.add(outputs, targets, scores)
    return accumulator.result()


def ambiguous_subset(inputs_2d, targets_3d, sequence_ids, frame_index, cameras) -> np.ndarray:
    """[samples] bool: `uncertainty.ambiguous_samples` among each camera's samples (the camera fixes
    how a 3D pose projects, so 2D near-duplicates are looked for within one camera)."""
    mask = np.zeros(len(inputs_2d), bool)
    cameras = np.asarray(cameras)
    for camera in np.unique(cameras):
        rows = np.flatnonzero(cameras == camera)
        mask[rows] = uncertainty.ambiguous_samples(
            inputs_2d[rows], targets_3d[rows], sequence_ids[rows], frame_index[rows]
        )
    return mask
