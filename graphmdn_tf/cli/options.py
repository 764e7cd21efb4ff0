"""Flags several subcommands share: `--cache-dir` on every command that reads data, and the type of the
comma-separated lists (subjects, actions)."""

from __future__ import annotations

import argparse
import contextlib
import os

from graphmdn_tf.config import name_list
from graphmdn_tf.data.h36m import CACHE_ENV


def comma_names(text: str) -> tuple:
    """The argparse type of a comma-separated list of names: 'S9, S11' -> ('S9', 'S11'). An empty name
    (an empty value, a doubled or trailing comma) is refused rather than dropped."""
    try:
        return name_list(text, "names")
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated names, e.g. S9,S11. Received: {text!r} "
            "(an empty name; leave the flag out for the default)"
        ) from None


def add_cache_dir(parser) -> None:
    parser.add_argument(
        "--cache-dir",
        default=None,
        help=f"where converted data files and the built-in synthetic set are cached (default: "
        f"${CACHE_ENV}, else ~/.cache/graphmdn_tf)",
    )


@contextlib.contextmanager
def cache_dir_of(args):
    """For the command's duration, the data cache is `args.cache_dir` (when the command has and got one)."""
    cache_dir = getattr(args, "cache_dir", None)
    if cache_dir is None:
        yield
        return
    previous = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(cache_dir)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(CACHE_ENV, None)
        else:
            os.environ[CACHE_ENV] = previous
