"""graphmdn_tf/_version.py: the one version, read by setup.cfg without importing the package."""

import json
import subprocess
import sys
from pathlib import Path

import graphmdn_tf
from graphmdn_tf._version import __version__

ROOT = Path(__file__).resolve().parents[1]

_READ = """
import json, sys
from setuptools.config.setupcfg import read_configuration
version = read_configuration("setup.cfg")["metadata"]["version"]
print(json.dumps({"version": version, "imported": sorted(
    name for name in ("graphmdn_tf", "tensorflow") if name in sys.modules)}))
"""


def test_setup_cfg_reads_the_version_without_importing_the_package_or_tensorflow():
    completed = subprocess.run(
        [sys.executable, "-c", _READ], cwd=ROOT, capture_output=True, text=True, check=True
    )
    read = json.loads(completed.stdout.strip().splitlines()[-1])
    assert read == {"version": __version__, "imported": []}
    assert graphmdn_tf.__version__ == __version__
