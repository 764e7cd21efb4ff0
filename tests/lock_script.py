"""A child process of tests/test_runs.py that holds a run directory's lock with `fcntl` unavailable.

    python -m tests.lock_script hold RUN_DIR   # locks RUN_DIR, prints "locked", waits for a line on stdin

`import fcntl` fails in this process, as on Windows, so `graphmdn_tf.runs` imports without it.
"""

import sys

sys.modules["fcntl"] = None  # `import fcntl` raises ImportError from here on

from graphmdn_tf import runs  # noqa: E402


def hold(run_dir: str) -> None:
    assert runs.fcntl is None and runs.msvcrt is None
    with runs.RunDirectory(run_dir).lock():
        print("locked", flush=True)
        sys.stdin.readline()


if __name__ == "__main__":
    hold(sys.argv[2])
