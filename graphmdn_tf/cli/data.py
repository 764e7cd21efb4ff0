"""`graphmdn-tf data synth` and `graphmdn-tf data check`.

    graphmdn-tf data synth --output-dir DIR [--frames N] [--seed S]
    graphmdn-tf data check DIR --dataset NAME --keypoints gt|sh_pt_mpii [--cache-dir DIR]

`synth` calls `graphmdn_tf.data.synthetic.write_synthetic_dataset`. `check` calls
`graphmdn_tf.data.check.check_dataset`, which loads and validates the two files of a data set exactly as
training would, then prints the frames per subject, action and camera; on an invalid file it prints the
error and exits with 2. It warns (on stderr, exit 0) about subjects `train` would refuse: one that holds
no sequences, or one with 2D keypoints but no 3D poses.
"""

from __future__ import annotations

import argparse
import sys

from graphmdn_tf.cli.errors import set_handler
from graphmdn_tf.cli.options import add_cache_dir, add_output_dir
from graphmdn_tf.data.h36m import DATASETS, KEYPOINT_KINDS
from graphmdn_tf.data.synthetic import DEFAULT_FRAMES_PER_SEQUENCE


def register(subparsers) -> None:
    """Add the `data` command and its `synth` and `check` subcommands."""
    data = subparsers.add_parser("data", help="create or check Human3.6M-format data files")
    commands = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    commands.required = True

    synth = commands.add_parser("synth", help="write the built-in synthetic data set")
    add_output_dir(
        synth, "folder for the three data_*_synthetic.npz files", required=True, retired=("--out",)
    )
    synth.add_argument(
        "--frames",
        type=int,
        default=DEFAULT_FRAMES_PER_SEQUENCE,
        help="frames per sequence, 30 sequences per subject "
        f"(default: {DEFAULT_FRAMES_PER_SEQUENCE})",
    )
    synth.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    set_handler(synth, run_synth, frames_per_sequence="--frames")

    check = commands.add_parser("check", help="load, validate and summarise a data set")
    check.add_argument(
        "data_dir",
        metavar="DIR",
        help="folder with data_3d_<NAME>.npz and data_2d_<NAME>_<KEYPOINTS>.npz",
    )
    check.add_argument(
        "--dataset",
        required=True,
        help=f"the <NAME> in the file names (built in: {', '.join(DATASETS)}; required)",
    )
    check.add_argument(
        "--keypoints", default="gt", choices=KEYPOINT_KINDS, help="which 2D file (default: gt)"
    )
    add_cache_dir(check)
    set_handler(check, run_check)


def run_synth(args: argparse.Namespace) -> int:
    from graphmdn_tf.data.synthetic import write_synthetic_dataset

    out_dir = write_synthetic_dataset(
        args.output_dir, frames_per_sequence=args.frames, seed=args.seed
    )
    print(
        f"wrote the synthetic data set ({args.frames} frames per sequence, seed {args.seed}) to {out_dir}"
    )
    return 0


def run_check(args: argparse.Namespace) -> int:
    from graphmdn_tf.data.check import check_dataset

    report = check_dataset(args.data_dir, args.dataset, args.keypoints, cache_dir=args.cache_dir)
    for message in report.warnings:
        print(f"warning: {message}", file=sys.stderr)
    print(report.summary())
    return 0
