"""`graphmdn-tf quickstart`: the flags of `graphmdn_tf.quickstart.quickstart`, the whole pipeline on
the built-in synthetic data set."""

from __future__ import annotations

import argparse

from graphmdn_tf.cli.errors import set_handler
from graphmdn_tf.cli.options import add_output_dir, add_training_options, flag_values


def register(subparsers) -> None:
    """Add `quickstart` to the `graphmdn-tf` command line."""
    parser = subparsers.add_parser(
        "quickstart",
        help="synthetic data -> train GraphMDN and SemGCN -> evaluate -> compare -> export",
        description="The whole pipeline in a few minutes on a CPU, on the built-in synthetic data set.",
    )
    add_output_dir(
        parser, "parent of the quickstart-* run directories", default="runs", retired=("--output",)
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="epochs for both models (default: the quickstart's)",
    )
    parser.add_argument(
        "--stride", type=int, default=None, help="frame stride (default: the quickstart's)"
    )
    parser.add_argument(
        "--export",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="export the GraphMDN as a SavedModel into saved_models/ (default: on)",
    )
    add_training_options(
        parser, "retrain instead of reusing finished quickstart runs (default: off)"
    )
    set_handler(parser, run_quickstart, output="--output-dir")


def run_quickstart(args) -> int:
    from graphmdn_tf.quickstart import quickstart

    quickstart(
        output=args.output_dir,
        **flag_values(args, "epochs", "stride", "export", "overwrite", "verbose"),
    )
    return 0
