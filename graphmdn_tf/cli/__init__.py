"""The `graphmdn-tf` command line. Each subcommand turns flags into a config and calls a library function.

    graphmdn-tf quickstart | data synth | data check | train | evaluate | export | predict | lift
                | convert | bench

One module per subcommand group: `data` (graphmdn_tf.cli.data), `train` (graphmdn_tf.cli.train),
`evaluate` (graphmdn_tf.cli.evaluate), `quickstart` (graphmdn_tf.cli.quickstart), `export`/`predict`
(graphmdn_tf.cli.export), `lift` (graphmdn_tf.cli.lift), `convert` (graphmdn_tf.cli.convert), `bench`
(graphmdn_tf.cli.bench); each adds its subcommands with `register(subparsers)`, and
`graphmdn_tf.cli.errors.user_errors` turns expected exceptions into a one-line message and an exit code.
`python -m graphmdn_tf.cli` is the same command.
"""

from __future__ import annotations

import argparse

from graphmdn_tf.cli import bench, convert, data, evaluate, export, lift, quickstart, train
from graphmdn_tf.cli.options import cache_dir_of

# In the order `graphmdn-tf --help` lists them.
COMMAND_MODULES = (data, train, evaluate, quickstart, export, lift, convert, bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="graphmdn-tf",
        description="GraphMDN: graph mixture density networks for 2D->3D pose lifting.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with cache_dir_of(args):
        result = args.handler(args)
    return int(result or 0)
