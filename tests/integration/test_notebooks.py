"""The notebooks in notebooks/ run top to bottom, render their figures, and are committed without outputs.

Each notebook is executed with nbclient in a fresh Jupyter kernel running this interpreter: the test
writes a kernelspec (`sys.executable -m ipykernel_launcher`) into a temporary folder on JUPYTER_PATH,
so no `ipykernel install` is needed and no other Python's kernel can be picked up. The working
directory is notebooks/, as in a user's Jupyter.

Parameters are injected as papermill does: a cell tagged "injected-parameters" goes right after the
cell tagged "parameters", here setting `RUN_ROOT` to a temporary folder, so the notebooks' runs,
exports and logs land outside the repository, and `QUICKER` shortens the training: the pose notebooks
train one epoch on every 16th frame of the built-in synthetic set instead of their defaults' 2-4 epochs
on every 4th (what is tested is that every cell runs and draws; how well a default run trains is
tests/integration/test_accuracy_bench.py's), notebook 05 fewer epochs. `GRAPHMDN_TF_CACHE` points the
data cache (the built-in synthetic set) to a temporary folder shared by the notebooks of one session.

Committed notebooks carry no outputs (notebooks/README.md states the policy); the test fails on any
cell error, on a notebook without a rendered figure (image/png output), on files left in the
repository, and on a TensorBoard server left running. The Docker command notebook 04 prints must be
the README's (the README's Serving section is itself tested in test_serving.py).
"""

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from graphmdn_tf.training.summaries import tensorboard_servers

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = ROOT / "notebooks"
NOTEBOOKS = (
    "01_quickstart.ipynb",
    "02_train_and_monitor.ipynb",
    "03_hypotheses.ipynb",
    "04_export_and_serve.ipynb",
    "05_beyond_poses.ipynb",
)
POSE_PARAMETERS = (
    "DATASET",
    "DATA_DIR",
    "KEYPOINTS",
    "PRESET",
    "EPOCHS",
    "STRIDE",
    "BATCH_SIZE",
    "RUN_ROOT",
)
#: The parameters each notebook's parameters cell must set (05 is the robot arm: no pose data set).
# Notebook 05's default recipe (30 epochs) is what tests/test_beyond_poses.py checks the verdicts of;
# here every notebook only has to run top to bottom and draw, so each trains less than its defaults.
QUICKER = {name: {"EPOCHS": 1, "STRIDE": 16} for name in NOTEBOOKS} | {
    "05_beyond_poses.ipynb": {"EPOCHS": 2}
}
PARAMETERS = {name: POSE_PARAMETERS for name in NOTEBOOKS} | {
    "05_beyond_poses.ipynb": (
        "LINK_LENGTHS",
        "TRAIN_ARMS",
        "EPOCHS",
        "BATCH_SIZE",
        "SEED",
        "RUN_ROOT",
    ),
}
KERNEL_NAME = "graphmdn-tf-tests"
CELL_TIMEOUT_S = 600


def read_notebook(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS_DIR / name, as_version=4)


def inject_parameters(notebook: nbformat.NotebookNode, **values) -> None:
    """Papermill's convention: a new cell tagged "injected-parameters" right after the one tagged "parameters"."""
    tagged = [
        index
        for index, cell in enumerate(notebook.cells)
        if "parameters" in cell.metadata.get("tags", [])
    ]
    assert len(tagged) == 1, f"expected one cell tagged 'parameters', found {len(tagged)}"
    source = "# Parameters injected by tests/integration/test_notebooks.py\n"
    source += "".join(f"{name} = {value!r}\n" for name, value in values.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(tagged[0] + 1, cell)


def docker_commands(text: str) -> list[str]:
    """The `docker run ... tensorflow/serving` commands in `text`, with the host folder of `-v` elided."""
    commands = re.findall(r"docker run .*?tensorflow/serving", text, flags=re.S)
    return [re.sub(r'-v "[^"]*:', '-v "HOST_FOLDER:', command) for command in commands]


def repository_files() -> set:
    """What a notebook run could leave in the repository: everything under notebooks/ and the entries
    of the repository root and of saved_models/."""
    found = {path for path in NOTEBOOKS_DIR.rglob("*") if ".ipynb_checkpoints" not in path.parts}
    found |= set(ROOT.iterdir())
    saved_models = ROOT / "saved_models"
    if saved_models.is_dir():
        found |= set(saved_models.iterdir())
    return found


@pytest.fixture(scope="session")
def jupyter_path(tmp_path_factory) -> Path:
    """A Jupyter data folder whose only kernel runs this interpreter."""
    folder = tmp_path_factory.mktemp("jupyter")
    spec_dir = folder / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python ({sys.executable})",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return folder


@pytest.fixture(scope="session")
def data_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("graphmdn_tf_cache")


def test_the_notebooks_exist_and_are_documented():
    readme = (NOTEBOOKS_DIR / "README.md").read_text()
    for name in NOTEBOOKS:
        assert (NOTEBOOKS_DIR / name).is_file(), name
        assert f"`{name}`" in readme, f"notebooks/README.md does not describe {name}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_is_valid_and_has_no_outputs(name):
    notebook = read_notebook(name)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells[0].metadata.get("tags") == ["parameters"], (
        "the first code cell must be the parameters cell"
    )
    for index, cell in enumerate(code_cells):
        assert cell.outputs == [] and cell.execution_count is None, (
            f"{name}: code cell {index} carries outputs; commit notebooks without outputs (notebooks/README.md)"
        )
    parameters = code_cells[0].source
    for parameter in PARAMETERS[name]:
        assert f"\n{parameter} = " in f"\n{parameters}", (
            f"{name}: no {parameter} in the parameters cell"
        )


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom(name, tmp_path, jupyter_path, data_cache, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter_path))
    monkeypatch.setenv("GRAPHMDN_TF_CACHE", str(data_cache))
    run_root = tmp_path / "runs"
    notebook = read_notebook(name)
    inject_parameters(notebook, RUN_ROOT=str(run_root), **QUICKER[name])
    before = repository_files()

    client = NotebookClient(
        notebook,
        kernel_name=KERNEL_NAME,
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error

    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    assert not [output for output in outputs if output.output_type == "error"]
    figures = [output for output in outputs if "image/png" in output.get("data", {})]
    assert figures, f"{name} rendered no figure (image/png output)"
    assert any(run_root.iterdir()), f"{name} wrote nothing under RUN_ROOT"
    assert repository_files() == before, (
        f"{name} left files in the repository: {repository_files() ^ before}"
    )
    left_running = [
        info for info in tensorboard_servers() if Path(info.logdir).is_relative_to(tmp_path)
    ]
    assert not left_running, f"{name} left TensorBoard running: {left_running}"
    if name == "04_export_and_serve.ipynb":
        printed = "".join(
            output.get("text", "") for output in outputs if output.output_type == "stream"
        )
        (command,) = docker_commands(printed)
        assert command in docker_commands((ROOT / "docs" / "serving.md").read_text()), command
