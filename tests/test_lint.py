"""The code base passes ruff (lint and import order), configured in ruff.toml."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    # --no-cache: no .ruff_cache written into the repository, which test_notebooks.py, running beside it, watches
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    command = [ruff, "check", "--no-cache", "graphmdn_tf", "tests", "tools"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
