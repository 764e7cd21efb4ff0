"""`graphmdn-tf data synth` and `graphmdn-tf data check`.

    graphmdn-tf data synth --out DIR [--frames N] [--seed S]
    graphmdn-tf data check DIR --dataset NAME --keypoints gt|sh_pt_mpii [--cache-dir DIR]

`check` loads and validates the two files of a data set exactly as training would, then prints the
frames per subject, action and camera; on an invalid file it prints the error and exits with 1. It
warns (on stderr, exit 0) about subjects `train` would refuse: one that holds no sequences, or one
with 2D keypoints but no 3D poses.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections import Counter

from graphmdn_tf.data.h36m import (
    DATASETS,
    KEYPOINT_KINDS,
    Keypoints2D,
    Poses3D,
    data_file_paths,
    load_keypoints_2d,
    load_poses_3d,
)
from graphmdn_tf.data.pipeline import PoseSamples, load_samples
from graphmdn_tf.data.synthetic import DEFAULT_FRAMES_PER_SEQUENCE, write_synthetic_dataset

LAYOUT_DESCRIPTIONS = {
    "h36m17": "VideoPose3D's 17 joints",
    "h36m16": "Human3.6M 16-joint order of SemGCN",
    "mpii16": "raw stacked-hourglass MPII order, permuted on load",
}


def register(subparsers) -> None:
    """Add the `data` command and its `synth` and `check` subcommands."""
    data = subparsers.add_parser("data", help="create or check Human3.6M-format data files")
    commands = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    commands.required = True

    synth = commands.add_parser("synth", help="write the built-in synthetic data set")
    synth.add_argument("--out", required=True, help="folder for the three data_*_synthetic.npz files")
    synth.add_argument("--frames", type=int, default=DEFAULT_FRAMES_PER_SEQUENCE,
                       help=f"frames per sequence, 30 sequences per subject (default {DEFAULT_FRAMES_PER_SEQUENCE})")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.set_defaults(handler=run_synth)

    check = commands.add_parser("check", help="load, validate and summarise a data set")
    check.add_argument("data_dir", metavar="DIR",
                       help="folder with data_3d_<NAME>.npz and data_2d_<NAME>_<KEYPOINTS>.npz")
    check.add_argument("--dataset", required=True, choices=DATASETS, help="the <NAME> in the file names")
    check.add_argument("--keypoints", default="gt", choices=KEYPOINT_KINDS, help="which 2D file (default gt)")
    check.add_argument("--cache-dir", default=None,
                       help="where converted files are cached (default ~/.cache/graphmdn_tf)")
    check.set_defaults(handler=run_check)


def run_synth(args: argparse.Namespace) -> int:
    try:
        out_dir = write_synthetic_dataset(args.out, frames_per_sequence=args.frames, seed=args.seed)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote the synthetic data set ({args.frames} frames per sequence, seed {args.seed}) to {out_dir}")
    return 0


def format_summary(samples: PoseSamples) -> str:
    """A table of frames per subject and action (one column per camera), with totals."""
    counts = Counter(zip(samples.subjects.tolist(), samples.actions.tolist(), samples.cameras.tolist()))
    cameras = sorted({camera for _, _, camera in counts})
    sequences = sorted({(subject, action) for subject, action, _ in counts},
                       key=lambda key: (_subject_order(key[0]), key[1]))
    width = max([len(action) for _, action in sequences] + [6])
    header = f"{'subject':<8} {'action':<{width}} " + " ".join(f"{f'cam{camera}':>8}" for camera in cameras)
    lines = [header, "-" * len(header)]
    for index, (subject, action) in enumerate(sequences):
        cells = " ".join(f"{counts[subject, action, camera]:>8}" for camera in cameras)
        lines.append(f"{subject:<8} {action:<{width}} {cells}")
        if index + 1 == len(sequences) or sequences[index + 1][0] != subject:
            totals = [sum(counts[subject, a, camera] for s, a in sequences if s == subject) for camera in cameras]
            lines.append(f"{subject:<8} {'(total)':<{width}} " + " ".join(f"{total:>8}" for total in totals))
    lines.append(f"{'all':<8} {'(total)':<{width}} " + " ".join(
        f"{sum(count for (_, _, c), count in counts.items() if c == camera):>8}" for camera in cameras))
    lines.append(f"{len(samples)} samples (frame x camera) in {len(sequences)} sequences of "
                 f"{len(set(samples.subjects.tolist()))} subjects")
    return "\n".join(lines)


def _subject_order(subject: str):
    return (int(subject[1:]), subject) if subject[1:].isdigit() else (10**6, subject)


def refused_subjects(poses_3d: Poses3D, keypoints_2d: Keypoints2D) -> list[str]:
    """Why `train` would refuse subjects the files list: no sequence in a file, or 2D keypoints without 3D poses.

    `check` summarises the subjects of the 3D file; these are the ones it would otherwise pass over in silence.
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


def run_check(args: argparse.Namespace) -> int:
    path_3d, path_2d = data_file_paths(args.data_dir, args.dataset, args.keypoints)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            poses_3d = load_poses_3d(path_3d, cache_dir=args.cache_dir, progress=True)
            keypoints_2d = load_keypoints_2d(path_2d, cache_dir=args.cache_dir, progress=True)
            subjects = list(poses_3d.positions)
            samples = load_samples(args.dataset, args.data_dir, keypoints=args.keypoints, subjects=subjects,
                                   cache_dir=args.cache_dir)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    for message in refused_subjects(poses_3d, keypoints_2d):
        print(f"warning: {message}", file=sys.stderr)
    print(f"{path_3d}: valid, {poses_3d.num_joints} joints")
    print(f"{path_2d}: valid, joint order {keypoints_2d.layout} ({LAYOUT_DESCRIPTIONS[keypoints_2d.layout]})")
    print(format_summary(samples))
    return 0
