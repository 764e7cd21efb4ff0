"""Training and evaluation samples: Human3.6M-format files -> `PoseSamples` -> `tf.data`.

The setting is SemGCN's (and GraphMDN's): one sample per (frame, camera); inputs are the 16 joints'
2D positions in normalised screen coordinates, targets the 16 joints' camera-space 3D positions in
metres relative to the hip (joint 0), in the joint order of `graphmdn_tf.skeletons.H36M_16`.

Example:
    >>> samples = load_samples("synthetic", subjects=TRAIN_SUBJECTS)          # built-in data set
    >>> dataset = make_dataset(samples, batch_size=64, shuffle=True, seed=0)   # ([64,16,2], [64,16,3])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from graphmdn_tf.checks import check_positive_int
from graphmdn_tf.data.h36m import (
    DEFAULT_SPLITS,
    PROGRESS_MIN_FRAMES,
    action_class,
    camera_samples,
    check_dataset_name,
    data_file_paths,
    load_keypoints_2d,
    load_poses_3d,
    select_sequences,
)
from graphmdn_tf.data.synthetic import default_synthetic_dir
from graphmdn_tf.skeletons import H36M_16

TRAIN_SUBJECTS, TEST_SUBJECTS = DEFAULT_SPLITS["h36m"]  # the paper's Human3.6M split
NUM_JOINTS = H36M_16.num_joints


@dataclass(frozen=True)
class PoseSamples:
    """Paired 2D inputs and 3D targets, one row per (frame, camera), with labels for evaluation.

    Attributes:
        inputs_2d: float32 [samples, 16, 2], normalised screen coordinates.
        targets_3d: float32 [samples, 16, 3], camera-space metres relative to the hip (joint 0 is zero).
        subjects: [samples] str, e.g. 'S9'.
        actions: [samples] str, the sequence key, e.g. 'Sitting 1'.
        cameras: [samples] int, camera index 0-3.
    """

    inputs_2d: np.ndarray
    targets_3d: np.ndarray
    subjects: np.ndarray
    actions: np.ndarray
    cameras: np.ndarray

    def __post_init__(self):
        count = len(self.inputs_2d)
        if np.shape(self.inputs_2d)[1:] != (NUM_JOINTS, 2) or np.shape(self.targets_3d)[1:] != (
            NUM_JOINTS,
            3,
        ):
            raise ValueError(
                f"Expected inputs_2d [samples, {NUM_JOINTS}, 2] and targets_3d [samples, {NUM_JOINTS}, 3]. "
                f"Received: inputs_2d.shape={np.shape(self.inputs_2d)}, targets_3d.shape={np.shape(self.targets_3d)}"
            )
        for field in fields(self):
            if len(getattr(self, field.name)) != count:
                raise ValueError(
                    f"Expected {count} rows in every field (as in inputs_2d). "
                    f"Received: {field.name} has {len(getattr(self, field.name))}"
                )

    def __len__(self) -> int:
        return len(self.inputs_2d)

    @property
    def action_classes(self) -> np.ndarray:
        """[samples] str: the action class of each row (`'Sitting 1' -> 'Sitting'`)."""
        return np.array([action_class(action) for action in self.actions], dtype=str)

    def subset(self, mask_or_indices) -> PoseSamples:
        """The rows picked by a boolean mask [samples] or an array of indices (copies)."""
        selector = np.asarray(mask_or_indices)
        if selector.dtype == bool and selector.shape != (len(self),):
            raise ValueError(
                f"Expected a boolean mask of shape ({len(self)},). Received: shape {selector.shape}"
            )
        if selector.dtype != bool and not np.issubdtype(selector.dtype, np.integer):
            raise ValueError(
                f"Expected a boolean mask or integer indices. Received: dtype {selector.dtype}"
            )
        return PoseSamples(
            **{field.name: getattr(self, field.name)[selector] for field in fields(self)}
        )

    @classmethod
    def concatenate(cls, parts: Sequence[PoseSamples]) -> PoseSamples:
        """Rows of several `PoseSamples`, in order."""
        if not parts:
            raise ValueError("Expected at least one PoseSamples to concatenate.")
        return cls(
            **{
                field.name: np.concatenate([getattr(part, field.name) for part in parts])
                for field in fields(cls)
            }
        )


def load_samples(
    dataset: str,
    data_dir: str | Path | None = None,
    *,
    keypoints: str = "gt",
    subjects: Sequence[str],
    actions: Sequence[str] | None = None,
    stride: int = 1,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> PoseSamples:
    """Load Human3.6M-format files as SemGCN-style samples.

    Args:
        dataset: the `<name>` in `data_3d_<name>.npz`: 'h36m', 'cmu', 'synthetic' or a user's own.
        data_dir: the folder holding the files. `None` is allowed for 'synthetic' only: the built-in
            set is generated once (seconds) into the cache directory and reused.
        keypoints: 'gt' (ground-truth 2D) or 'sh_pt_mpii' (stacked-hourglass detections).
        subjects: e.g. `TRAIN_SUBJECTS` or `TEST_SUBJECTS`.
        actions: action classes ('Sitting' selects 'Sitting 1' but not 'SittingDown') or exact sequence
            keys; `None` for all.
        stride: keep every `stride`-th frame of each sequence.
        cache_dir: where converted files (and the default synthetic set) live; default
            `h36m.default_cache_dir()`.
        progress: show progress bars for large files and many sequences.

    Returns:
        `PoseSamples`, ordered by subject, sequence, camera, frame.

    Raises:
        FileNotFoundError, `DataFileError` (a `ValueError`) or `ValueError`, naming the file and problem.
    """
    check_positive_int(stride, "stride")
    check_dataset_name(dataset)
    if data_dir is None:
        if dataset != "synthetic":
            raise ValueError(
                f"Expected data_dir, the folder with data_3d_{dataset}.npz and data_2d_{dataset}_{keypoints}.npz "
                "(only dataset='synthetic' can be generated). Received: data_dir=None"
            )
        data_dir = default_synthetic_dir(cache_dir=cache_dir, progress=progress)
    path_3d, path_2d = data_file_paths(data_dir, dataset, keypoints)
    poses_3d = load_poses_3d(path_3d, cache_dir=cache_dir, progress=progress)
    keypoints_2d = load_keypoints_2d(path_2d, cache_dir=cache_dir, progress=progress)
    sequences = select_sequences(poses_3d, keypoints_2d, subjects, actions)
    parts = []
    frames = (
        sum(len(poses_3d.positions[subject][action]) for subject, action in sequences) // stride
    )
    bar = tqdm(
        sequences,
        desc="building samples",
        disable=not progress or frames < PROGRESS_MIN_FRAMES,
        leave=False,
    )
    for subject, action in bar:
        for camera, inputs_2d, targets_3d in camera_samples(
            poses_3d, keypoints_2d, subject, action, stride
        ):
            count = len(inputs_2d)
            parts.append(
                PoseSamples(
                    inputs_2d=inputs_2d,
                    targets_3d=targets_3d,
                    subjects=np.full(count, subject),
                    actions=np.full(count, action),
                    cameras=np.full(count, camera, dtype=np.int32),
                )
            )
    return PoseSamples.concatenate(parts)


def config_samples(
    config, subjects: Sequence[str], *, stride: int | None = None, progress: bool = True
) -> PoseSamples:
    """`load_samples` of `subjects` from the data a config names: its dataset, data_dir, keypoints,
    actions and (unless `stride` is given) stride.

    Any object with those attributes works (a `graphmdn_tf.config.TrainingConfig`).
    """
    return load_samples(
        config.dataset,
        config.data_dir,
        keypoints=config.keypoints,
        subjects=subjects,
        actions=config.actions,
        stride=config.stride if stride is None else stride,
        progress=progress,
    )


def hold_out_ends(samples: PoseSamples, fraction: float) -> tuple[PoseSamples, PoseSamples]:
    """(kept, held): the last `round(fraction * T)` frames of every (subject, sequence, camera) run of
    T frames are held out, the rest kept, both in the order of `samples`.

    Holding out each sequence's end, not random frames, keeps the held-out poses apart from the kept
    ones: neighbouring frames of a sequence are nearly the same pose.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"Expected fraction in [0, 1). Received: fraction={fraction!r}")
    keys = np.stack(
        [samples.subjects.astype(str), samples.actions.astype(str), samples.cameras.astype(str)],
        axis=1,
    )
    starts = np.flatnonzero(np.r_[True, np.any(keys[1:] != keys[:-1], axis=1)])
    ends = np.r_[starts[1:], len(samples)]
    held = np.zeros(len(samples), bool)
    for start, end in zip(starts, ends):
        held[end - int(round(fraction * (end - start))) : end] = True
    return samples.subset(~held), samples.subset(held)


def config_splits(config, progress: bool = True) -> tuple[PoseSamples, PoseSamples]:
    """(training, validation) samples of a config: the training subjects less their held-out ends and
    those ends (`validation_holdout` > 0), or the training subjects and the validation subjects.

    Any object with `config_samples`' attributes and `train_subjects`, `validation_split` and
    `validation_holdout` works (a `graphmdn_tf.config.TrainingConfig`).
    """
    train = config_samples(config, config.train_subjects, progress=progress)
    if config.validation_holdout:
        kept, held = hold_out_ends(train, config.validation_holdout)
        if len(held) == 0:
            raise ValueError(
                f"Expected validation_holdout={config.validation_holdout} to hold out at least one "
                f"frame. Received: sequences too short for it at stride {config.stride} "
                f"(subjects {', '.join(config.train_subjects)}); raise validation_holdout or lower stride"
            )
        return kept, held
    return train, config_samples(config, config.validation_split, progress=progress)


def make_dataset(
    samples: PoseSamples,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int | None = None,
    drop_remainder: bool = False,
    repeat: bool = False,
    with_indices: bool = False,
    start: int = 0,
    count: int | None = None,
) -> tf.data.Dataset:
    """A `tf.data.Dataset` of `(inputs_2d [batch, 16, 2], targets_3d [batch, 16, 3])` float32 batches.

    The arrays are held once as tensors; the pipeline shuffles row indices (8 bytes a sample, reshuffled
    every epoch), batches them and gathers whole batches, then prefetches. With `shuffle=True` and a
    `seed`, the order of every epoch is reproducible; with `shuffle=False` the order is that of `samples`.

    Args:
        samples: from `load_samples`.
        batch_size: rows per batch (the last one may be smaller unless `drop_remainder`).
        shuffle: shuffle rows (uniformly over the whole set) every epoch.
        seed: shuffle seed, for reproducible order.
        drop_remainder: drop the last, smaller batch.
        repeat: repeat forever (epochs reshuffled); Keras then needs `steps_per_epoch`.
        with_indices: yield `(inputs_2d, targets_3d, indices [batch] int64)`, so that a shuffled
            evaluation can find each row's subject, action and camera in `samples`.
        start, count: the batches from batch `start` on, `count` of them (None: all), taken from the
            shuffled index batches before any row is gathered (a resumed run skips cheaply).
    """
    check_positive_int(batch_size, "batch_size")
    if len(samples) == 0:
        raise ValueError("Expected at least one sample. Received: an empty PoseSamples")
    with tf.device(
        "/CPU:0"
    ):  # tf.data gathers on the host: keep the arrays there, not in GPU memory
        inputs_2d = tf.convert_to_tensor(np.asarray(samples.inputs_2d, dtype=np.float32))
        targets_3d = tf.convert_to_tensor(np.asarray(samples.targets_3d, dtype=np.float32))
    indices = tf.data.Dataset.range(len(samples))
    if shuffle:
        indices = indices.shuffle(len(samples), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        indices = indices.repeat()
    indices = indices.batch(batch_size, drop_remainder=drop_remainder).skip(start)
    if count is not None:
        indices = indices.take(count)

    def gather(batch_indices):
        batch = (tf.gather(inputs_2d, batch_indices), tf.gather(targets_3d, batch_indices))
        return batch + (batch_indices,) if with_indices else batch

    return indices.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(
        tf.data.AUTOTUNE
    )
