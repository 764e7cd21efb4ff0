"""One real `graphmdn-tf bench --quick --profile` run, shared by the tests of what it writes and prints.

It runs in a fresh process: XLA reads the op-tracing flag of `--profile` at its first compilation, which
in a test session has long happened. Both the throughput report (tests/bench/test_throughput.py) and the
profile (tests/bench/test_profile.py) are checked on this one run, so CI pays for the quick benchmark once.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def quick_bench(tmp_path_factory) -> tuple[Path, str]:
    """(the --out folder, what the command printed) of `bench --quick --profile`, which must exit 0."""
    out = tmp_path_factory.mktemp("quick_bench") / "bench"
    command = [sys.executable, "-m", "graphmdn_tf.cli", "bench", "--quick", "--profile", "--out", str(out)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return out, completed.stdout
