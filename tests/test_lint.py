"""The code base passes ruff: lint and import order (`ruff check`) and formatting (`ruff format
--check`), both configured in ruff.toml."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TREES = ("graphmdn_tf", "tests", "tools")


@pytest.mark.parametrize("command", [("check",), ("format", "--check")], ids=["check", "format"])
def test_ruff_is_clean(command):
    # --no-cache: no .ruff_cache written into the repository, which test_notebooks.py, running beside
    # it, watches
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    result = subprocess.run(
        [ruff, *command, "--no-cache", *TREES], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
