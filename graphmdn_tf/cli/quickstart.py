"""`graphmdn-tf quickstart`: the flags of `graphmdn_tf.quickstart.quickstart`, the whole pipeline on
the built-in synthetic data set."""

from __future__ import annotations

import argparse

from graphmdn_tf.cli.errors import set_handler
from graphmdn_tf.cli.options import add_cache_dir, add_output_dir


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
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="retrain instead of reusing finished quickstart runs (default: off)",
    )
    parser.add_argument(
        "--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras verbosity (default: 1)"
    )
    add_cache_dir(parser)
    set_handler(parser, run_quickstart, output="--output-dir")


def run_quickstart(args) -> int:
    from graphmdn_tf.quickstart import quickstart

    quickstart(
        output=args.output_dir,
        epochs=args.epochs,
        stride=args.stride,
        export=args.export,
        overwrite=args.overwrite,
        verbose=args.verbose,
    )
    return 0
