"""Command-line flags -> TrainingConfig (parsing only; the end-to-end runs are in tests/integration)."""

from pathlib import Path

import pytest

from graphmdn_tf.cli import build_parser
from graphmdn_tf.cli.train import config_from_args, default_run_dir
from graphmdn_tf.config import TrainingConfig


def _config(*flags):
    return config_from_args(build_parser().parse_args(["train", *flags]))


def test_flags_not_given_keep_the_preset():
    assert _config() == TrainingConfig.from_preset("standard")
    assert _config("--preset", "k200") == TrainingConfig.from_preset("k200")


def test_every_kind_of_flag():
    config = _config("--preset", "wide", "--model", "semgcn", "--dataset", "h36m", "--data-dir", "/data/h36m",
                     "--keypoints", "sh_pt_mpii", "--train-subjects", "S1,S5", "--actions", "Walking,Sitting",
                     "--epochs", "3", "--peak-learning-rate", "3e-3", "--one-cycle-shape", "cosine",
                     "--deterministic", "--no-mixed-precision", "--jit-compile", "on", "--strategy", "mirrored")
    assert config == TrainingConfig.from_preset(
        "wide", model="semgcn", dataset="h36m", data_dir="/data/h36m", keypoints="sh_pt_mpii",
        train_subjects=("S1", "S5"), actions=("Walking", "Sitting"), epochs=3, peak_learning_rate=3e-3,
        one_cycle_shape="cosine", deterministic=True, mixed_precision=False, jit_compile=True, strategy="mirrored")
    assert _config("--jit-compile", "off").jit_compile is False


@pytest.mark.parametrize("flags", [["--epochs", "two"], ["--schedule", "cyclic"], ["--preset", "huge"]])
def test_bad_flags_exit_with_usage(flags, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["train", *flags])
    assert exit_info.value.code == 2 and "invalid" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--peak-learning-rate", "--clipnorm", "--div-factor", "--final-div-factor"])
@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_non_finite_float_flags_are_rejected(flag, value):
    name = flag[2:].replace("-", "_")
    with pytest.raises(ValueError, match=rf"Expected {name} to be a finite number. Received: {name}={value}"):
        _config(f"{flag}={value}")


def test_default_run_dir():
    assert default_run_dir(TrainingConfig.from_preset("k8")) == Path("runs/graphmdn-k8-synthetic")
    assert default_run_dir(_config("--dataset", "h36m", "--data-dir", "d", "--keypoints", "sh_pt_mpii")) == Path(
        "runs/graphmdn-standard-h36m-sh_pt_mpii")
