"""User errors on the command line: one line on stderr in the flags' words and exit code 2, never a
traceback.

A user error is an exception the library raises on purpose with a message that says what to fix (a bad
value, a missing file, a run directory in use). The library names its Python arguments
(`Expected frames_per_sequence ... Received: format=...`); `set_handler` wraps each subcommand's handler
so that the message names the subcommand's flags instead:

    set_handler(parser, run_synth, frames_per_sequence="--frames")   # after the parser's arguments

Every flag's destination maps to its flag; keyword arguments add library names that differ from them.
"""

from __future__ import annotations

import argparse
import functools
import re
import sys
from pathlib import Path

# The exit code of every user error, as argparse uses for a bad command line.
EXIT_USER_ERROR = 2
# Library exceptions that are user errors, by module: they count only once their module is imported
# (a handler that never imported it cannot have raised them), so this module stays light.
_LIBRARY_ERRORS = {
    "graphmdn_tf.runs": ("RunInUseError",),
    "graphmdn_tf.serving": ("ServingError",),
}


def user_error_types() -> tuple:
    """The exception types reported as user errors: OSError (missing, unreadable or unwritable files),
    ValueError (bad values and data files) and the library's own, where loaded."""
    loaded = [
        getattr(sys.modules[module], name)
        for module, names in _LIBRARY_ERRORS.items()
        if module in sys.modules
        for name in names
    ]
    return (OSError, ValueError, *loaded)


def flags_of(parser: argparse.ArgumentParser, **renamed: str) -> dict[str, str]:
    """{argument name: flag} for the parser's visible arguments (a positional by its metavar), plus
    `renamed` (library argument -> flag) for library names that are no flag's destination."""
    flags = {}
    for action in parser._actions:
        if action.help is argparse.SUPPRESS or action.dest in ("help", argparse.SUPPRESS):
            continue
        long = [option for option in action.option_strings if option.startswith("--")]
        flags[action.dest] = long[0] if long else (action.metavar or action.dest.upper())
    return {**flags, **renamed}


def in_flag_words(message: str, flags: dict[str, str]) -> str:
    """`message` with the library's argument names replaced by `flags`: `name=value` -> `--flag value`,
    `Expected name` -> `Expected --flag`, and a snake_case name (unambiguous) wherever it stands."""
    for name, flag in sorted(flags.items(), key=lambda item: -len(item[0])):
        if not name.isidentifier():
            continue
        word = rf"(?<![\w\-.<]){re.escape(name)}"
        message = re.sub(rf"{word}=(?=\S)", f"{flag} ", message)
        message = re.sub(rf"{word}=", flag, message)
        message = re.sub(rf"(Expected ){re.escape(name)}\b", rf"\g<1>{flag}", message)
        if "_" in name:
            message = re.sub(rf"{word}\b(?![\-.])", flag, message)
    return message


def _message(error: Exception, args: argparse.Namespace, flags: dict[str, str]) -> str:
    """The error's one line; an OSError of a file a flag named says which flag and what went wrong."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        named = [
            flags[name]
            for name, value in vars(args).items()
            if name in flags
            and isinstance(value, (str, Path))
            and str(value) == str(error.filename)
        ]
        where = f"{named[0]} {error.filename}" if named else str(error.filename)
        return f"{where}: {error.strerror.lower()}"
    return in_flag_words(str(error), flags)


def user_errors(handler, /, *, prog: str, flags: dict[str, str], also: tuple = ()):
    """`handler(args) -> int`, with a user error (`user_error_types`, and the types in `also`) printed
    as `PROG: error: MESSAGE` (in `flags`' words) on stderr and returned as `EXIT_USER_ERROR`; any
    other exception propagates."""

    @functools.wraps(handler)
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except Exception as error:
            if not isinstance(error, (*user_error_types(), *also)):
                raise
            print(f"{prog}: error: {_message(error, args, flags)}", file=sys.stderr)
            return EXIT_USER_ERROR

    return wrapped


def set_handler(
    parser: argparse.ArgumentParser, handler, *, also: tuple = (), **renamed: str
) -> None:
    """Make `handler` the parser's command, its user errors in the parser's flags (see `flags_of`);
    `also`: more exception types that are user errors for this command (e.g. ImportError where the
    library names the extra to install)."""
    parser.set_defaults(
        handler=user_errors(handler, prog=parser.prog, flags=flags_of(parser, **renamed), also=also)
    )
