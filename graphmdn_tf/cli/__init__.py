"""The `graphmdn-tf` command line. Each subcommand turns flags into a config and calls a library function.

    graphmdn-tf quickstart | data synth | data check | train | evaluate | calibrate | export | predict
                | lift | convert | bench throughput | bench accuracy

One module per subcommand group: `data`, `train`, `evaluate`, `calibrate`, `quickstart`, `export` (`export` and
`predict`), `lift`, `convert`, `bench`; each adds its subcommands with `register(subparsers)`, importing
only light modules (no TensorFlow: `--help` answers at once); its handlers import the library when they
run. `graphmdn_tf.cli.errors.set_handler` turns the library's expected exceptions into one line in the
flags' words and exit code 2; `graphmdn_tf.cli.options` holds the shared vocabulary. `python -m
graphmdn_tf.cli` is the same command.
"""

from __future__ import annotations

import argparse

import graphmdn_tf
from graphmdn_tf.cli import (
    bench,
    calibrate,
    convert,
    data,
    evaluate,
    export,
    lift,
    quickstart,
    train,
)
from graphmdn_tf.cli.options import cache_dir_of

# In the order `graphmdn-tf --help` lists them.
COMMAND_MODULES = (data, train, evaluate, calibrate, quickstart, export, lift, convert, bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="graphmdn-tf",
        description="GraphMDN: graph mixture density networks for 2D->3D pose lifting.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {graphmdn_tf.__version__}",
        help="print the package version and exit",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(bench.with_subcommand(argv))
    with cache_dir_of(args):
        result = args.handler(args)
    return int(result or 0)
