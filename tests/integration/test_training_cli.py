"""`graphmdn-tf train / evaluate / quickstart` end to end, in subprocesses, including kill-and-resume."""

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from graphmdn_tf.cli import main
from graphmdn_tf.data.pipeline import load_samples
from graphmdn_tf.training.one_cycle import one_cycle_learning_rate
from tests.training.conftest import read_events

ROOT = Path(__file__).resolve().parents[2]
TINY_FLAGS = [
    "--hidden-dim",
    "16",
    "--num-blocks",
    "1",
    "--num-kernels",
    "3",
    "--stride",
    "4",
    "--batch-size",
    "128",
    "--validation-frames",
    "256",
    "--image-frames",
    "1",
    "--jit-compile",
    "off",
    "--log-every-steps",
    "1",
    "--verbose",
    "2",
]
STEPS_PER_EPOCH = 3600 // 128


def _command(*arguments):
    return [sys.executable, "-m", "graphmdn_tf.cli", *map(str, arguments)]


def _environment():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))


def _run(arguments, cwd=ROOT, timeout=300):
    return subprocess.run(
        _command(*arguments),
        cwd=cwd,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_killed_training_resumes_and_finishes(tmp_path):
    run_dir = tmp_path / "run"
    arguments = [
        "train",
        "--run-dir",
        run_dir,
        "--epochs",
        "2",
        "--save-every-steps",
        "5",
        *TINY_FLAGS,
    ]
    backup_dir = run_dir / "backup"

    def backups():
        return sorted(backup_dir.glob("step-*.npz")) if backup_dir.is_dir() else []

    process = subprocess.Popen(
        _command(*arguments),
        cwd=ROOT,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # Waits for the first backup however slow the machine is; the deadline only stops a hung process.
    deadline = time.time() + 1800
    while not backups() and process.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    assert backups(), "no backup checkpoint appeared"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert not (run_dir / "model.keras").exists() and backups()

    resumed = _run(arguments)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    summary = json.loads((run_dir / "training.json").read_text())
    total = 2 * STEPS_PER_EPOCH
    assert (
        0 < summary["resumed_from_step"] < total
        and f"resuming at step {summary['resumed_from_step']}" in resumed.stdout
    )
    assert (
        summary["final_step"] == summary["optimizer_iterations"] == summary["total_steps"] == total
    )
    assert (run_dir / "model.keras").is_file() and not (run_dir / "backup").exists()
    # The learning-rate curve continues where the killed run stopped.
    rates = dict(read_events(run_dir / "logs" / "train")["step/learning_rate"])
    resumed_steps = np.arange(summary["resumed_from_step"], total)
    np.testing.assert_allclose(
        [rates[s] for s in resumed_steps], one_cycle_learning_rate(resumed_steps, total), rtol=1e-5
    )

    again = _run(arguments)
    assert again.returncode == 2 and "holds a finished run" in again.stderr


def _limit_file_size(max_bytes):
    """For a child process: files can grow to `max_bytes` only, and writing past that fails with EFBIG
    (SIGXFSZ ignored) - the nearest a test can get to a full disk without mounting one."""

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return limit


@pytest.mark.slow
def test_a_disk_that_refuses_writes_is_a_one_line_error_and_the_run_resumes_after(tmp_path):
    load_samples(
        "synthetic", subjects=("S1",), progress=False
    )  # the data cache exists before the limit
    run_dir = tmp_path / "run"
    arguments = [
        "train",
        "--run-dir",
        run_dir,
        "--epochs",
        "1",
        "--save-every-steps",
        "5",
        *TINY_FLAGS,
    ]
    refused = subprocess.run(
        _command(*arguments),
        cwd=ROOT,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=1800,
        preexec_fn=_limit_file_size(30_000),
    )  # the first checkpoint is larger
    assert refused.returncode == 2, refused.stderr[-3000:]
    message = f"graphmdn-tf train: error: cannot write {run_dir / 'backup' / 'step-000000005.npz'}: File too large."
    assert message in refused.stderr and "Traceback" not in refused.stderr
    assert not (run_dir / "model.keras").exists() and not list(
        (run_dir / "backup").glob("*")
    )  # no partial file
    resumed = _run(arguments, timeout=1800)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((run_dir / "training.json").read_text())["final_step"] == STEPS_PER_EPOCH


def _main(arguments, capsys):
    """Run the CLI in this process (argument parsing and handlers as the entry point runs them)."""
    code = main([str(argument) for argument in arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_train_and_evaluate_from_the_command_line(tmp_path, capsys):
    for model in ("graphmdn", "semgcn"):
        code, out, err = _main(
            [
                "train",
                "--model",
                model,
                "--run-dir",
                tmp_path / model,
                "--epochs",
                "1",
                *TINY_FLAGS,
            ],
            capsys,
        )
        assert code == 0, err
        assert f"graphmdn-tf evaluate {tmp_path / model}" in out
        config = json.loads((tmp_path / model / "config.json").read_text())
        assert (
            config["model"] == model
            and config["hidden_dim"] == 16
            and config["jit_compile"] is False
        )
    code, out, err = _main(
        [
            "evaluate",
            tmp_path / "graphmdn",
            tmp_path / "semgcn",
            "--num-samples",
            "5",
            "--output-dir",
            tmp_path / "comparison",
        ],
        capsys,
    )
    assert code == 0, err
    assert (
        "## Comparison" in out and "| GraphMDN (Best of 5 samples) |" in out and "| SemGCN |" in out
    )
    # --output-dir holds every result: each run's under its name, and the comparison.
    for name in ("results.md", "results.csv", "results_per_action.png"):
        assert (tmp_path / "comparison" / "graphmdn" / name).is_file()
        assert not (tmp_path / "graphmdn" / name).exists()
    assert (tmp_path / "comparison" / "comparison.csv").read_text().count(
        "SemGCN"
    ) == 4  # P1, P2, PCK, AUC
    # Each run lists what it wrote: a point estimate has no calibration or diversity plot.
    semgcn_files = out.split(f"Written in {tmp_path / 'comparison' / 'semgcn'}: ")[1].split(";")[0]
    assert semgcn_files == "results.md, results.csv, results.json, results_per_action.png"
    assert (
        "results_calibration.png"
        in out.split(f"Written in {tmp_path / 'comparison' / 'graphmdn'}: ")[1].split(";")[0]
    )
    assert (
        f"Written in {tmp_path / 'comparison'}: comparison.md, comparison.csv, comparison.json"
        in out
    )

    code, _, err = _main(["evaluate", tmp_path / "nothing"], capsys)
    assert code == 2 and "Expected a finished training run" in err
    code, _, err = _main(["train", "--run-dir", tmp_path / "bad", "--dataset", "cmu"], capsys)
    assert code == 2 and "Expected --data-dir" in err


@pytest.mark.slow
def test_quickstart_runs_the_whole_pipeline(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # saved_models/ goes here
    arguments = ["quickstart", "--output-dir", tmp_path / "runs", "--epochs", "1", "--stride", "8"]
    code, out, err = _main(arguments, capsys)
    assert code == 0, err
    for step in range(1, 6):
        assert f"[{step}/5]" in out
    assert "| GraphMDN (Mean) |" in out and "| SemGCN |" in out
    for model in ("graphmdn", "semgcn"):
        run_dir = tmp_path / "runs" / f"quickstart-{model}"
        assert (run_dir / "model.keras").is_file() and any(
            (run_dir / "logs" / "validation").iterdir()
        )
    assert (tmp_path / "runs" / "quickstart-comparison" / "comparison.md").is_file()
    assert (tmp_path / "saved_models" / "graphmdn" / "1" / "saved_model.pb").is_file()
    code, out, _ = _main(arguments, capsys)
    assert code == 0 and out.count("reusing the finished run") == 2
    assert not (tmp_path / "saved_models" / "graphmdn" / "2").exists()
