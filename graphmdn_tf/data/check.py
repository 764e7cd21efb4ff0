"""Check a Human3.6M-format data set the way training reads it, and summarise what it holds.

`check_dataset` loads and validates the two files of a data set exactly as training would and returns
a `DataSetCheck`: the files, the samples of every subject of the 3D file, and the warnings (the
loaders' own, then the subjects `train` would refuse: one that holds no sequences, or one with 2D
keypoints but no 3D poses). `graphmdn-tf data check` prints it.

Example:
    >>> report = check_dataset("data/cmu", "cmu")
    >>> print(report.summary())  # the files, their joint order, frames per subject, action and camera
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from graphmdn_tf.data.h36m import (
    Keypoints2D,
    Poses3D,
    data_file_paths,
    load_keypoints_2d,
    load_poses_3d,
)
from graphmdn_tf.data.pipeline import PoseSamples, load_samples

LAYOUT_DESCRIPTIONS = {
    "h36m17": "VideoPose3D's 17 joints",
    "h36m16": "Human3.6M 16-joint order of SemGCN",
    "mpii16": "raw stacked-hourglass MPII order, permuted on load",
}


@dataclass(frozen=True)
class DataSetCheck:
    """A data set that loaded and validated: its two files, their samples and what to warn about."""

    path_3d: Path
    path_2d: Path
    poses_3d: Poses3D
    keypoints_2d: Keypoints2D
    samples: PoseSamples
    warnings: tuple[str, ...]

    def summary(self) -> str:
        """One line per file (valid, joints or joint order), then `format_summary` of the samples."""
        layout = self.keypoints_2d.layout
        return "\n".join(
            [
                f"{self.path_3d}: valid, {self.poses_3d.num_joints} joints",
                f"{self.path_2d}: valid, joint order {layout} ({LAYOUT_DESCRIPTIONS[layout]})",
                format_summary(self.samples),
            ]
        )


def check_dataset(
    data_dir: str | Path,
    dataset: str,
    keypoints: str = "gt",
    *,
    cache_dir: str | Path | None = None,
) -> DataSetCheck:
    """Load and validate `data_3d_<dataset>.npz` and `data_2d_<dataset>_<keypoints>.npz` in `data_dir`.

    Raises:
        OSError (a missing file) or ValueError (an invalid one), naming the file and the problem.
    """
    path_3d, path_2d = data_file_paths(data_dir, dataset, keypoints)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        poses_3d = load_poses_3d(path_3d, cache_dir=cache_dir, progress=True)
        keypoints_2d = load_keypoints_2d(path_2d, cache_dir=cache_dir, progress=True)
        subjects = list(poses_3d.positions)
        samples = load_samples(
            dataset, data_dir, keypoints=keypoints, subjects=subjects, cache_dir=cache_dir
        )
    messages = [str(warning.message) for warning in caught] + refused_subjects(
        poses_3d, keypoints_2d
    )
    return DataSetCheck(path_3d, path_2d, poses_3d, keypoints_2d, samples, tuple(messages))


def format_summary(samples: PoseSamples) -> str:
    """A table of frames per subject and action (one column per camera), with totals."""
    counts = Counter(
        zip(samples.subjects.tolist(), samples.actions.tolist(), samples.cameras.tolist())
    )
    cameras = sorted({camera for _, _, camera in counts})
    sequences = sorted(
        {(subject, action) for subject, action, _ in counts},
        key=lambda key: (_subject_order(key[0]), key[1]),
    )
    width = max([len(action) for _, action in sequences] + [6])
    header = f"{'subject':<8} {'action':<{width}} " + " ".join(
        f"{f'cam{camera}':>8}" for camera in cameras
    )
    lines = [header, "-" * len(header)]
    for index, (subject, action) in enumerate(sequences):
        cells = " ".join(f"{counts[subject, action, camera]:>8}" for camera in cameras)
        lines.append(f"{subject:<8} {action:<{width}} {cells}")
        if index + 1 == len(sequences) or sequences[index + 1][0] != subject:
            totals = [
                sum(counts[subject, a, camera] for s, a in sequences if s == subject)
                for camera in cameras
            ]
            lines.append(
                f"{subject:<8} {'(total)':<{width}} " + " ".join(f"{total:>8}" for total in totals)
            )
    lines.append(
        f"{'all':<8} {'(total)':<{width}} "
        + " ".join(
            f"{sum(count for (_, _, c), count in counts.items() if c == camera):>8}"
            for camera in cameras
        )
    )
    lines.append(
        f"{len(samples)} samples (frame x camera) in {len(sequences)} sequences of "
        f"{len(set(samples.subjects.tolist()))} subjects"
    )
    return "\n".join(lines)


def _subject_order(subject: str):
    return (int(subject[1:]), subject) if subject[1:].isdigit() else (10**6, subject)


def refused_subjects(poses_3d: Poses3D, keypoints_2d: Keypoints2D) -> list[str]:
    """Why `train` would refuse subjects the files list: no sequence in a file, or 2D keypoints without 3D poses.

    `check_dataset` summarises the subjects of the 3D file; these are the ones it would otherwise pass over in
    silence.
    """
    messages = [
        f"{source.path}: subject {subject} holds no sequences; train refuses it"
        for source in (poses_3d, keypoints_2d)
        for subject in source.empty_subjects
    ]
    messages += [
        f"{keypoints_2d.path}: subject {subject} has 2D keypoints but no 3D poses in {poses_3d.path.name}; "
        "train refuses it"
        for subject in keypoints_2d.positions
        if subject not in poses_3d.positions
    ]
    return messages
