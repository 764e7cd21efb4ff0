"""kill -9 at any point, then the same command: the same weights, history and summaries as a run never killed.

Each kill point runs in a child process that kills itself there (tests/training/resume_script.py); one
more child resumes every killed run and trains the uninterrupted references, all with dropout on (the
dropout seed state is part of the checkpoint): `deterministic` with XLA off, and for 'xla_mid_epoch'
XLA on with 3 steps per execution, an epoch's last execution shorter (resume_script.CONFIG_XLA).
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KILL_POINTS = (
    "mid_epoch",
    "epoch_end_before_checkpoint",
    "epoch_end_after_checkpoint",
    "checkpoint_write",
    "final_save",
    "xla_mid_epoch",
)
# Where each killed run resumes (steps per epoch 14, a checkpoint every 5 steps and at each epoch end).
RESUMED_FROM = {
    "mid_epoch": 19,
    "epoch_end_before_checkpoint": 10,
    "epoch_end_after_checkpoint": 14,
    "checkpoint_write": 10,
    "final_save": 28,
    "xla_mid_epoch": 20,  # XLA on, 3 steps per execution (resume_script.CONFIG_XLA)
}


def _command(*arguments):
    return [sys.executable, "-m", "tests.training.resume_script", *map(str, arguments)]


_ENVIRONMENT = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))


def _start(*arguments):
    return subprocess.Popen(
        _command(*arguments),
        cwd=ROOT,
        env=_ENVIRONMENT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _script(*arguments, timeout=1800):
    return subprocess.run(
        _command(*arguments),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_ENVIRONMENT,
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    # The killed runs are independent processes: started together (each is deterministic on its own).
    children = {point: _start("kill", point, root / point) for point in KILL_POINTS}
    for point, child in children.items():
        _, stderr = child.communicate(timeout=1800)
        assert child.returncode == -signal.SIGKILL, f"{point}: {stderr[-3000:]}"
        assert not (root / point / "model.keras").exists()
    finished = _script("finish", root / "reference", *(root / point for point in KILL_POINTS))
    assert finished.returncode == 0, finished.stderr[-3000:]
    runs = json.loads(finished.stdout.strip().splitlines()[-1])
    return {Path(key).name: value for key, value in runs.items()}


def _reference(point):
    return "reference_xla" if "xla" in point else "reference"


def _assert_training_history_close(rows, reference_rows):
    """The same epochs and columns, and the training loss and errors to float32 noise (XLA's, without
    op determinism; the validation NLL of a sharp mixture moves more and is not compared)."""
    assert rows[0] == reference_rows[0] and len(rows) == len(reference_rows)
    columns = [i for i, name in enumerate(rows[0]) if name == "loss" or name.startswith("mpjpe_")]
    for row, reference_row in zip(rows[1:], reference_rows[1:]):
        assert row[0] == reference_row[0]
        for column in columns:
            assert float(row[column]) == pytest.approx(float(reference_row[column]), rel=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_killed_run_resumes_to_the_same_weights(report, point):
    run, reference = report[point], report[_reference(point)]
    assert run["resumed_from_step"] == RESUMED_FROM[point] and reference["resumed_from_step"] == 0
    assert run["iterations"] == reference["iterations"] == 28
    if "xla" in point:  # no op determinism: two runs never killed differ in the last digits already
        _assert_training_history_close(run["history"], reference["history"])
    else:
        assert (
            run["weights"] == reference["weights"]
        )  # model, optimizer-trained weights and dropout seeds, bitwise


@pytest.mark.slow
@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_killed_run_loses_no_epoch_and_counts_none_twice(report, point):
    run, reference = report[point], report[_reference(point)]
    assert [row[0] for row in run["history"]] == ["epoch", "0", "1"]
    if "xla" in point:
        _assert_training_history_close(run["history"], reference["history"])
    else:
        assert (
            run["history"] == reference["history"]
        )  # the same losses and validation errors, to the digit
    assert run["validation_steps"] == reference["validation_steps"]
    per_epoch = {
        tag: steps
        for tag, steps in run["validation_steps"].items()
        if not tag.endswith("_vs_iterations")
    }
    assert per_epoch and all(steps == [0, 1] for steps in per_epoch.values()), (
        per_epoch
    )  # Keras' *_vs_iterations: 14, 28
    assert run["files"] == reference["files"]  # no temporary file or backup left behind
