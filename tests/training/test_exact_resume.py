"""kill -9 at any point, then the same command: the same weights, history and summaries as a run never killed.

Each kill point runs in a child process that kills itself there (tests/training/resume_script.py); one
more child resumes every killed run and trains the uninterrupted reference, all with `deterministic`
and dropout on (the dropout seed state is part of the checkpoint).
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
)
# Where each killed run resumes (steps per epoch 14, a checkpoint every 5 steps and at each epoch end).
RESUMED_FROM = {
    "mid_epoch": 19,
    "epoch_end_before_checkpoint": 10,
    "epoch_end_after_checkpoint": 14,
    "checkpoint_write": 10,
    "final_save": 28,
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


@pytest.mark.slow
@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_killed_run_resumes_to_the_same_weights(report, point):
    run, reference = report[point], report["reference"]
    assert run["resumed_from_step"] == RESUMED_FROM[point] and reference["resumed_from_step"] == 0
    assert run["iterations"] == reference["iterations"] == 28
    assert (
        run["weights"] == reference["weights"]
    )  # model, optimizer-trained weights and dropout seeds, bitwise


@pytest.mark.slow
@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_killed_run_loses_no_epoch_and_counts_none_twice(report, point):
    run, reference = report[point], report["reference"]
    assert [row[0] for row in run["history"]] == ["epoch", "0", "1"]
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
