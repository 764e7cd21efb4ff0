"""The command line's one vocabulary, for every subcommand: `--output-dir` (a folder of results),
`--jit-compile {auto,on,off}` (XLA), `--cache-dir` (where data is cached), the type of the
comma-separated lists (subjects, actions), and hidden aliases that keep retired spellings working for
a release with a one-line warning.

Light on purpose: parsers import only this, `graphmdn_tf.config` and other modules without TensorFlow.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from graphmdn_tf.config import name_list
from graphmdn_tf.data.h36m import CACHE_ENV

JIT_COMPILE = {"auto": "auto", "on": True, "off": False}
# Spellings that no command shows any more; each stays a hidden `DeprecatedAlias` for a release.
RETIRED = ("--out", "--output", "--results-dir", "--base-dir", "--no-xla", "--mixture")


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


class DeprecatedAlias(argparse.Action):
    """A retired spelling: hidden from the help, it warns on stderr and stores into the new flag's
    destination (its value, or `value` for a retired switch such as `--no-xla`)."""

    def __init__(self, option_strings, dest, *, new: str, value=None, nargs=None, **kwargs):
        self.new = new
        self.value = value
        kwargs["help"] = argparse.SUPPRESS
        super().__init__(option_strings, dest, nargs=0 if value is not None else nargs, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        warn_deprecated(option_string, self.new)
        setattr(namespace, self.dest, self.value if self.value is not None else values)


def warn_deprecated(old: str, new: str) -> None:
    print(f"graphmdn-tf: warning: {old} is deprecated; use {new}", file=sys.stderr)


def add_renamed(parser, flag: str, old: str, **options) -> None:
    """`flag` with `options`, and its retired spelling `old` as a hidden `DeprecatedAlias` of it; the
    two exclude each other, so neither silently overrides the other."""
    group = parser.add_mutually_exclusive_group()
    action = group.add_argument(flag, **options)
    group.add_argument(
        old,
        dest=action.dest,
        default=action.default,
        choices=action.choices,
        type=action.type,
        action=DeprecatedAlias,
        new=flag,
    )


def add_output_dir(parser, help: str, *, default=None, retired=(), **kwargs) -> None:
    """`--output-dir DIR`, the folder a command writes its results into, with the command's `retired`
    spellings as hidden aliases; `required=True` holds for the flag or its alias."""
    required = kwargs.pop("required", False)
    group = parser.add_mutually_exclusive_group(required=required) if required else parser
    shown = f" (default: {default})" if default is not None else " (required)" if required else ""
    group.add_argument("--output-dir", default=default, metavar="DIR", help=help + shown, **kwargs)
    for old in retired:
        group.add_argument(
            old, dest="output_dir", action=DeprecatedAlias, new="--output-dir", **kwargs
        )


def add_jit_compile(parser, help: str, *, default: str = "auto", bare: str | None = None) -> None:
    """`--jit-compile {auto,on,off}`; `jit_compile_value(args.jit_compile)` is the library's value.

    With `bare`, the retired bare switch `--jit-compile` (no value) still means `bare`, with a warning.
    """
    options = {"nargs": "?", "action": _BareJitCompile, "bare": bare} if bare else {}
    parser.add_argument(
        "--jit-compile",
        choices=tuple(JIT_COMPILE),
        default=default,
        help=f"{help} (default: {default})",
        **options,
    )


class _BareJitCompile(argparse.Action):
    """`--jit-compile VALUE`, or the retired bare `--jit-compile` (argparse passes None) as `bare`."""

    def __init__(self, option_strings, dest, *, bare: str, **kwargs):
        self.bare = bare
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        if values is None:
            warn_deprecated(f"a bare {option_string}", f"{option_string} {self.bare}")
        setattr(namespace, self.dest, self.bare if values is None else values)


def jit_compile_value(flag: str):
    """'auto', True or False for the flag's auto, on or off."""
    return JIT_COMPILE[flag]


def add_cache_dir(parser) -> None:
    parser.add_argument(
        "--cache-dir",
        default=None,
        help=f"where converted data files and the built-in synthetic set are cached (default: "
        f"${CACHE_ENV}, else ~/.cache/graphmdn_tf)",
    )


def add_training_options(parser, overwrite: str) -> None:
    """The options of a command that trains: `--overwrite` (`overwrite` says what it does to a run
    directory that holds a run), `--verbose` (Keras' verbosity) and `--cache-dir`."""
    parser.add_argument("--overwrite", action="store_true", help=overwrite)
    parser.add_argument(
        "--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras verbosity (default: 1)"
    )
    add_cache_dir(parser)


def flag_values(args, *names: str) -> dict:
    """{name: args.name} for `names`: the flags a library function takes under the same names."""
    return {name: getattr(args, name) for name in names}


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
