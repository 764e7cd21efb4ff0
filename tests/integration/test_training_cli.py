"""`graphmdn-tf train / evaluate / quickstart` end to end, in subprocesses, including kill-and-resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from graphmdn_tf.training.one_cycle import one_cycle_learning_rate
from tests.training.conftest import read_events

ROOT = Path(__file__).resolve().parents[2]
TINY_FLAGS = ["--hidden-dim", "16", "--num-blocks", "1", "--num-kernels", "3", "--stride", "4", "--batch-size", "128",
              "--validation-frames", "256", "--image-frames", "1", "--jit-compile", "off", "--log-every-steps", "1",
              "--verbose", "2"]
STEPS_PER_EPOCH = 3600 // 128


def _command(*arguments):
    return [sys.executable, "-m", "graphmdn_tf.cli", *map(str, arguments)]


def _environment():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))


def _run(arguments, cwd=ROOT, timeout=300):
    return subprocess.run(_command(*arguments), cwd=cwd, env=_environment(), capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_killed_training_resumes_and_finishes(tmp_path):
    run_dir = tmp_path / "run"
    arguments = ["train", "--run-dir", run_dir, "--epochs", "4", "--save-every-steps", "5", *TINY_FLAGS]
    backup = run_dir / "backup" / "latest.weights.h5"
    process = subprocess.Popen(_command(*arguments), cwd=ROOT, env=_environment(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 240
    while not backup.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    assert backup.exists(), "no backup checkpoint appeared"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert not (run_dir / "model.keras").exists() and backup.exists()

    resumed = _run(arguments)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    summary = json.loads((run_dir / "training.json").read_text())
    total = 4 * STEPS_PER_EPOCH
    assert 0 < summary["resumed_from_step"] < total and f"resuming at step {summary['resumed_from_step']}" in resumed.stdout
    assert summary["final_step"] == summary["total_steps"] == total
    assert (run_dir / "model.keras").is_file() and not (run_dir / "backup").exists()
    # The learning-rate curve continues where the killed run stopped.
    rates = dict(read_events(run_dir / "logs" / "train")["step/learning_rate"])
    resumed_steps = np.arange(summary["resumed_from_step"], total)
    np.testing.assert_allclose([rates[s] for s in resumed_steps], one_cycle_learning_rate(resumed_steps, total),
                               rtol=1e-5)

    again = _run(arguments)
    assert again.returncode == 2 and "holds a finished run" in again.stderr


@pytest.mark.slow
def test_train_and_evaluate_from_the_command_line(tmp_path):
    for model in ("graphmdn", "semgcn"):
        trained = _run(["train", "--model", model, "--run-dir", tmp_path / model, "--epochs", "1", *TINY_FLAGS])
        assert trained.returncode == 0, trained.stdout + trained.stderr
        assert f"graphmdn-tf evaluate {tmp_path / model}" in trained.stdout
        config = json.loads((tmp_path / model / "config.json").read_text())
        assert config["model"] == model and config["hidden_dim"] == 16 and config["jit_compile"] is False
    evaluated = _run(["evaluate", tmp_path / "graphmdn", tmp_path / "semgcn", "--num-samples", "5",
                      "--output-dir", tmp_path / "comparison"])
    assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
    assert "## Comparison" in evaluated.stdout and "| GraphMDN (Best of 5 samples) |" in evaluated.stdout
    assert "| SemGCN |" in evaluated.stdout
    for name in ("results.md", "results.csv", "results_per_action.png"):
        assert (tmp_path / "graphmdn" / name).is_file()
    assert (tmp_path / "comparison" / "comparison.csv").read_text().count("SemGCN") == 2

    missing = _run(["evaluate", tmp_path / "nothing"])
    assert missing.returncode == 2 and "Expected a finished training run" in missing.stderr
    bad = _run(["train", "--run-dir", tmp_path / "bad", "--dataset", "cmu"])
    assert bad.returncode == 2 and "Expected data_dir" in bad.stderr


@pytest.mark.slow
def test_quickstart_runs_the_whole_pipeline(tmp_path):
    finished = _run(["quickstart", "--output", tmp_path / "runs", "--epochs", "1", "--stride", "8"], cwd=tmp_path,
                    timeout=600)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    for step in range(1, 6):
        assert f"[{step}/5]" in finished.stdout
    assert "| GraphMDN (Mean) |" in finished.stdout and "| SemGCN |" in finished.stdout
    for model in ("graphmdn", "semgcn"):
        run_dir = tmp_path / "runs" / f"quickstart-{model}"
        assert (run_dir / "model.keras").is_file() and any((run_dir / "logs" / "validation").iterdir())
    assert (tmp_path / "runs" / "quickstart-comparison" / "comparison.md").is_file()
    assert (tmp_path / "saved_models" / "graphmdn" / "1" / "saved_model.pb").is_file()
    again = _run(["quickstart", "--output", tmp_path / "runs", "--epochs", "1", "--stride", "8"], cwd=tmp_path)
    assert again.returncode == 0 and "reusing the finished run" in again.stdout
    assert not (tmp_path / "saved_models" / "graphmdn" / "2").exists()
