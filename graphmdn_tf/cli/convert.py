"""`graphmdn-tf convert`: a published GraphMDN or SemGCN checkpoint -> a run directory (`graphmdn_tf.convert`).

    graphmdn-tf convert CHECKPOINT --run-dir RUN [--mixture-level pose|node] [--dataset NAME --data-dir DIR ...]

CHECKPOINT is a `.pth.tar` of vectra-ai-research/GraphMDN or garyzhao/SemGCN (with or without non-local
blocks); the architecture is read from its state dict. RUN then holds config.json, model.keras and
conversion.json, and `evaluate RUN`, `lift RUN ...` and `export RUN` accept it. Reading the checkpoint
needs PyTorch (`pip install "graphmdn-tf[torch]"`). A bad file or flag is one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from graphmdn_tf.cli.errors import set_handler
from graphmdn_tf.cli.options import add_renamed, comma_names, flag_values
from graphmdn_tf.layers.levels import MIXTURE_LEVELS


def register(subparsers) -> None:
    """Add `convert` to the `graphmdn-tf` command line (imports no TensorFlow)."""
    parser = subparsers.add_parser(
        "convert",
        help="turn the authors' GraphMDN or SemGCN checkpoint (.pth.tar) into a run directory",
        description="Read a checkpoint of vectra-ai-research/GraphMDN or garyzhao/SemGCN (with or without "
        "non-local blocks), infer its architecture from the state dict and write RUN_DIR (config.json, "
        "model.keras, conversion.json) for `evaluate`, `lift` and `export`. Needs PyTorch.",
    )
    parser.add_argument(
        "checkpoint", type=Path, metavar="CHECKPOINT", help="the .pth.tar checkpoint file"
    )
    parser.add_argument(
        "--run-dir", required=True, type=Path, help="the run directory to write (new or empty)"
    )
    add_renamed(
        parser,
        "--mixture-level",
        "--mixture",
        choices=MIXTURE_LEVELS,
        default=None,
        help="a GraphMDN checkpoint's mixture level, which it does not record: 'pose' if it was "
        "trained with --pose_level_pi --uniform_sigma, 'node' otherwise (required for GraphMDN; "
        "default: none)",
    )
    parser.add_argument(
        "--dropout",
        type=float,
        default=None,
        help="dropout of the converted model when trained further (default: the repository's, "
        "0.1 GraphMDN, 0 SemGCN)",
    )
    data = parser.add_argument_group("the run's data, which `evaluate RUN_DIR` uses")
    data.add_argument(
        "--dataset",
        default="synthetic",
        help="the <NAME> in data_3d_<NAME>.npz: h36m, cmu, synthetic or your own (default: synthetic)",
    )
    data.add_argument(
        "--data-dir",
        default=None,
        help="folder with data_3d_<NAME>.npz and data_2d_<NAME>_<KEYPOINTS>.npz (default: none, "
        "the built-in synthetic set)",
    )
    data.add_argument(
        "--keypoints", default="gt", help="the 2D inputs, e.g. gt or sh_pt_mpii (default: gt)"
    )
    data.add_argument(
        "--train-subjects",
        type=comma_names,
        default=(),
        help="comma-separated; the evaluation's skeleton prior reads them (default: the data "
        "set's split)",
    )
    data.add_argument(
        "--test-subjects",
        type=comma_names,
        default=(),
        help="comma-separated (default: the data set's split, e.g. S9,S11 for h36m)",
    )
    set_handler(parser, run_convert, also=(ImportError,))


def run_convert(args: argparse.Namespace) -> int:
    from graphmdn_tf.convert import convert_checkpoint

    data = ("dataset", "data_dir", "keypoints", "train_subjects", "test_subjects")
    run, architecture = convert_checkpoint(
        args.checkpoint, args.run_dir, **flag_values(args, "mixture_level", "dropout", *data)
    )
    print(
        f"Converted {args.checkpoint}, {architecture.describe()}, into {run.path} "
        "(model.keras, config.json, conversion.json).\n"
        f"Next: graphmdn-tf evaluate {run.path}; graphmdn-tf export {run.path} --name NAME"
    )
    return 0
