"""User errors on the command line: a one-line message on stderr and an exit code, never a traceback.

A user error is an exception the library raises on purpose with a message that says what to fix (a bad
flag value, a missing file, a finished run). Every subcommand's handler is wrapped with `user_errors`:

    @user_errors                                    # FileExistsError, FileNotFoundError, ValueError, ... -> 2
    def run_train(args) -> int: ...

    @user_errors(catch=(OSError, ValueError, TypeError), exit_code=1)
    def run_export(args) -> int: ...
"""

from __future__ import annotations

import functools
import sys

from graphmdn_tf.runs import RunNotWritableError

# What `train`, `evaluate`, `quickstart` and `bench` report as a user error (exit code 2): also a file where
# a folder is expected (or the reverse), and a full or read-only disk under a run directory.
USER_ERRORS = (
    FileExistsError,
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    ValueError,
    RunNotWritableError,
)
MESSAGE = "graphmdn-tf {command}: error: {error}"


def user_errors(
    handler=None, /, *, catch: tuple = USER_ERRORS, exit_code: int = 2, message: str = MESSAGE
):
    """Wrap a subcommand handler `handler(args) -> int` so that the exceptions in `catch` print
    `message` (formatted with `command=args.command` and `error`) on stderr and return `exit_code`.

    Use it bare (`@user_errors`) or with options (`@user_errors(exit_code=1)`).
    """
    if handler is None:
        return functools.partial(user_errors, catch=catch, exit_code=exit_code, message=message)

    @functools.wraps(handler)
    def wrapped(args) -> int:
        try:
            return handler(args)
        except catch as error:
            print(message.format(command=args.command, error=error), file=sys.stderr)
            return exit_code

    return wrapped
