"""`graphmdn-tf quickstart`: the flags of `graphmdn_tf.quickstart.quickstart`, the whole pipeline on
the built-in synthetic data set."""

from __future__ import annotations

import argparse

from graphmdn_tf.cli.errors import user_errors
from graphmdn_tf.cli.options import add_cache_dir
from graphmdn_tf.quickstart import quickstart


def register(subparsers) -> None:
    """Add `quickstart` to the `graphmdn-tf` command line."""
    parser = subparsers.add_parser(
        "quickstart",
        help="synthetic data -> train GraphMDN and SemGCN -> evaluate -> compare -> export",
        description="The whole pipeline in a few minutes on a CPU, on the built-in synthetic data set.",
    )
    parser.add_argument(
        "--output",
        default="runs",
        help="parent of the quickstart-* run directories (default: runs)",
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
        help="export the GraphMDN as a SavedModel into saved_models/",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="retrain instead of reusing finished quickstart runs",
    )
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    add_cache_dir(parser)
    parser.set_defaults(handler=run_quickstart)


@user_errors
def run_quickstart(args) -> int:
    quickstart(
        output=args.output,
        epochs=args.epochs,
        stride=args.stride,
        export=args.export,
        overwrite=args.overwrite,
        verbose=args.verbose,
    )
    return 0
