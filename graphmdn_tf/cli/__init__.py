"""The `graphmdn-tf` command line. Each subcommand turns flags into a config and calls a library function.

Topic modules own their subcommands through a `register(subparsers)` function, so this file stays a
thin dispatcher: `data` (graphmdn_tf.data.commands), `train`/`evaluate`/`quickstart`
(graphmdn_tf.training.commands), `export`/`predict` (graphmdn_tf.export_commands), `bench`
(graphmdn_tf.bench).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Modules that contribute subcommands; a module that is not written yet is simply absent.
_COMMAND_MODULES = (
    "graphmdn_tf.data.commands",
    "graphmdn_tf.training.commands",
    "graphmdn_tf.export_commands",
    "graphmdn_tf.bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="graphmdn-tf", description="GraphMDN: graph mixture density networks for 2D->3D pose lifting."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name == name:
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result = args.handler(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
