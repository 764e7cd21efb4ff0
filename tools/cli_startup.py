"""How fast the command line answers: the median wall time of `graphmdn-tf --help`, of each subcommand's
`--help` and of `--version`, each in a fresh process, over N runs.

    python tools/cli_startup.py [--runs 5]

Prints one line per command (median and spread in seconds) and whether TensorFlow was imported, then,
for scale, the same for `python -c "import tensorflow"`, which the help waited for when every
subcommand imported the library. The figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = (
    [],
    ["data"],
    ["data", "synth"],
    ["data", "check"],
    ["train"],
    ["evaluate"],
    ["quickstart"],
    ["export"],
    ["predict"],
    ["lift"],
    ["bench"],
    ["bench", "throughput"],
    ["bench", "accuracy"],
)
# The same command line, and whether it left TensorFlow imported.
_PROBE = (
    "import contextlib, io, sys\n"
    "from graphmdn_tf.cli import main\n"
    "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
    "    main(sys.argv[1:])\n"
    "print('tensorflow' in sys.modules)\n"
)


def _time(argv: list[str], probe: str = _PROBE) -> tuple[float, bool]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", probe, *argv], capture_output=True, text=True, check=True
    )
    return time.perf_counter() - start, result.stdout.strip() == "True"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command (default: 5)")
    args = parser.parse_args(argv)
    lines = [(f"graphmdn-tf {' '.join(c)} --help", [*c, "--help"], _PROBE) for c in COMMANDS]
    lines.append(("graphmdn-tf --version", ["--version"], _PROBE))
    lines.append(("python -c 'import tensorflow'", [], "import tensorflow, sys; print(True)"))
    for label, argv, probe in lines:
        times, imported = [], False
        for _ in range(args.runs):
            seconds, tensorflow = _time(argv, probe)
            times.append(seconds)
            imported |= tensorflow
        print(
            f"{label:<42} median {statistics.median(times):.3f} s "
            f"(min {min(times):.3f}, max {max(times):.3f}), TensorFlow imported: {imported}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
