"""The package as users get it: `python -m build` makes a wheel that installs into a fresh virtual
environment and runs the quickstart from outside the checkout.

The fresh environment reuses this environment's dependencies (a .pth file naming its site-packages, whose
own .pth files, such as an editable install of this checkout, are not run), and the wheel is installed
with --no-deps: what is tested is the wheel itself (its files, metadata and entry point), not the
dependency resolver.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tests.conftest import ROOT


def _run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (command, result.stdout[-3000:], result.stderr[-3000:])
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the tracked files (as in a fresh clone; the build writes beside its source)."""
    source, dist = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    for name in _run(["git", "ls-files"], cwd=ROOT).stdout.splitlines():
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(source)])
    (built,) = dist.glob("graphmdn_tf-*-py3-none-any.whl")
    return built


@pytest.fixture(scope="module")
def fresh_venv(wheel, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    ).stdout.strip()
    ours = [path for path in sys.path if Path(path).name in ("site-packages", "dist-packages")]
    (Path(purelib) / "dependencies.pth").write_text("\n".join(ours) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", str(wheel)])
    return venv


@pytest.mark.slow
def test_the_wheel_holds_the_package_files_the_licence_and_nothing_else(wheel):
    tracked = _run(["git", "ls-files", "graphmdn_tf"], cwd=ROOT).stdout.split()
    names = zipfile.ZipFile(wheel).namelist()
    package = sorted(name for name in names if not name.startswith("graphmdn_tf-"))
    assert package == sorted(tracked)  # every file of the package (data too), nothing else
    info = wheel.name.split("-py3")[0] + ".dist-info"
    assert f"{info}/licenses/LICENSE" in names
    entry_points = zipfile.ZipFile(wheel).read(f"{info}/entry_points.txt").decode()
    assert "graphmdn-tf = graphmdn_tf.cli:main" in entry_points


@pytest.mark.slow
def test_the_installed_wheel_runs_the_quickstart_outside_the_checkout(fresh_venv, tmp_path):
    python = fresh_venv / "bin" / "python"
    where = _run(
        [str(python), "-c", "import graphmdn_tf; print(graphmdn_tf.__file__)"], cwd=tmp_path
    ).stdout.strip()
    assert Path(where).is_relative_to(fresh_venv)  # the wheel's copy, not the checkout's
    env = {**os.environ, "GRAPHMDN_TF_CACHE": str(tmp_path / "cache")}
    env.pop("PYTHONPATH", None)
    command = [str(fresh_venv / "bin" / "graphmdn-tf"), "quickstart", "--epochs", "1"]
    _run([*command, "--stride", "8", "--no-export"], cwd=tmp_path, env=env)
    for model in ("graphmdn", "semgcn"):
        assert (tmp_path / "runs" / f"quickstart-{model}" / "model.keras").is_file()
    assert not (tmp_path / "saved_models").exists()


@pytest.mark.slow
def test_the_installed_metadata_matches_the_supported_pythons(fresh_venv):
    script = (
        "import importlib.metadata as m, json; d = m.metadata('graphmdn-tf'); "
        "print(json.dumps({'requires': d['Requires-Python'], 'classifiers': d.get_all('Classifier'),"
        " 'license': d['License-Expression'] or d['License'], 'urls': d.get_all('Project-URL')}))"
    )
    metadata = json.loads(_run([str(fresh_venv / "bin" / "python"), "-c", script]).stdout)
    requires = SpecifierSet(metadata["requires"])
    assert Version(f"{sys.version_info.major}.{sys.version_info.minor}") in requires
    prefix = "Programming Language :: Python :: 3."
    listed = [
        Version(c.removeprefix("Programming Language :: Python :: "))
        for c in metadata["classifiers"]
        if c.startswith(prefix)
    ]
    assert listed and all(version in requires for version in listed)
    lowest = min(listed)
    assert Version(f"{lowest.major}.{lowest.minor - 1}") not in requires  # the lowest is listed
    assert metadata["license"] == "Apache-2.0" and metadata["urls"]
