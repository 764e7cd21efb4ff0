"""Command-line flags -> TrainingConfig (parsing only; the end-to-end runs are in tests/integration)."""

from pathlib import Path

import pytest

from graphmdn_tf.cli import build_parser, main
from graphmdn_tf.cli.train import config_from_args, default_run_dir
from graphmdn_tf.config import TrainingConfig


def _config(*flags):
    return config_from_args(build_parser().parse_args(["train", *flags]))


def test_flags_not_given_keep_the_preset():
    assert _config() == TrainingConfig.from_preset("standard")
    assert _config("--preset", "k200") == TrainingConfig.from_preset("k200")


def test_every_kind_of_flag():
    config = _config(
        "--preset",
        "wide",
        "--model",
        "semgcn",
        "--dataset",
        "h36m",
        "--data-dir",
        "/data/h36m",
        "--keypoints",
        "sh_pt_mpii",
        "--train-subjects",
        "S1,S5",
        "--actions",
        "Walking,Sitting",
        "--epochs",
        "3",
        "--peak-learning-rate",
        "3e-3",
        "--one-cycle-shape",
        "cosine",
        "--deterministic",
        "--no-mixed-precision",
        "--jit-compile",
        "on",
        "--strategy",
        "mirrored",
    )
    assert config == TrainingConfig.from_preset(
        "wide",
        model="semgcn",
        dataset="h36m",
        data_dir="/data/h36m",
        keypoints="sh_pt_mpii",
        train_subjects=("S1", "S5"),
        actions=("Walking", "Sitting"),
        epochs=3,
        peak_learning_rate=3e-3,
        one_cycle_shape="cosine",
        deterministic=True,
        mixed_precision=False,
        jit_compile=True,
        strategy="mirrored",
    )
    assert _config("--jit-compile", "off").jit_compile is False


@pytest.mark.parametrize(
    "flags", [["--epochs", "two"], ["--schedule", "cyclic"], ["--preset", "huge"]]
)
def test_bad_flags_exit_with_usage(flags, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["train", *flags])
    assert exit_info.value.code == 2 and "invalid" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        (["train"], "--train-subjects"),
        (["train"], "--test-subjects"),
        (["train"], "--validation-subjects"),
        (["train"], "--actions"),
        (["evaluate", "runs/a"], "--test-subjects"),
        (["evaluate", "runs/a"], "--actions"),
        (["bench", "accuracy"], "--train-subjects"),
        (["bench", "accuracy"], "--test-subjects"),
    ],
)
@pytest.mark.parametrize("value", ["", ",", "S1,,S5", "S1,S5,", " "])
def test_a_list_flag_with_an_empty_name_exits_with_usage(command, flag, value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*command, f"{flag}={value}"])
    assert exit_info.value.code == 2
    assert (
        f"argument {flag}: expected comma-separated names, e.g. S9,S11. Received: {value!r}"
        in capsys.readouterr().err
    )


def test_list_flags_keep_every_name_in_order():
    config = _config("--validation-subjects", " S11, S9 ", "--actions", "Walking")
    assert config.validation_subjects == ("S11", "S9") and config.actions == ("Walking",)


@pytest.mark.parametrize(
    "flag", ["--peak-learning-rate", "--clipnorm", "--div-factor", "--final-div-factor"]
)
@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_non_finite_float_flags_are_rejected(flag, value):
    name = flag[2:].replace("-", "_")
    with pytest.raises(
        ValueError, match=rf"Expected {name} to be a finite number. Received: {name}={value}"
    ):
        _config(f"{flag}={value}")


def test_default_run_dir():
    assert default_run_dir(TrainingConfig.from_preset("k8")) == Path("runs/graphmdn-k8-synthetic")
    assert default_run_dir(
        _config("--dataset", "h36m", "--data-dir", "d", "--keypoints", "sh_pt_mpii")
    ) == Path("runs/graphmdn-standard-h36m-sh_pt_mpii")


def test_a_file_given_as_the_cache_folder_is_one_line_and_exit_2(tmp_path, capsys):
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("the user's file")
    assert (
        main(
            [
                "train",
                "--cache-dir",
                str(not_a_folder),
                "--run-dir",
                str(tmp_path / "run"),
                "--epochs",
                "1",
            ]
        )
        == 2
    )
    assert capsys.readouterr().err == (
        f"graphmdn-tf train: error: The data cache {not_a_folder} (given by --cache-dir or $GRAPHMDN_TF_CACHE) is not "
        "a folder. Expected a folder, or a path where one can be made (choose one with --cache-dir or "
        "$GRAPHMDN_TF_CACHE)\n"
    )
    assert not_a_folder.read_text() == "the user's file"
    assert not (tmp_path / "run").exists()  # the refused run left no folder behind


def test_train_help_shows_each_field_description_and_default_from_the_one_source(capsys):
    from dataclasses import fields

    from graphmdn_tf.cli.errors import in_flag_words
    from graphmdn_tf.config import default_text, field_flag

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    shown = "".join(capsys.readouterr().out.split())  # argparse wraps lines, also after a hyphen
    flags = {field.name: field_flag(field.name) for field in fields(TrainingConfig)}
    for field in fields(TrainingConfig):
        text = f"{field.metadata['help']} (default: {default_text(field)})"
        assert field_flag(field.name) in shown, field.name
        assert "".join(in_flag_words(text, flags).split()) in shown, field.name
    for text in (
        "(default: per --preset: standard 128, wide 512, k8 128, k200 512)",
        "one-cycle: start rate = --peak-learning-rate / --div-factor (default: 25)",
        "(then give --train-subjects and --test-subjects) (default: synthetic)",
    ):
        assert "".join(text.split()) in shown


def test_fields_markdown_has_a_row_per_field():
    from dataclasses import fields

    from graphmdn_tf.config import fields_markdown

    lines = fields_markdown().splitlines()
    assert lines[:2] == ["| Field | Flag | Default | Description |", "|---|---|---|---|"]
    names = [field.name for field in fields(TrainingConfig)]
    assert [line.split(" | ")[0].strip("| `") for line in lines[2:]] == names
    row = lines[2 + names.index("peak_learning_rate")]
    assert row == (
        "| `peak_learning_rate` | `--peak-learning-rate` | 0.006 | "
        "one-cycle: the highest learning rate |"
    )


def _run_config(tmp_path, config: TrainingConfig) -> Path:
    """A run directory's config.json, as `train` writes it."""
    path = tmp_path / "runs" / "a" / "config.json"
    path.parent.mkdir(parents=True)
    config.to_json(path)
    return path


def test_a_runs_config_json_round_trips_through_train_config(tmp_path):
    original = TrainingConfig.from_preset(
        "k200",
        model="graphmdn",
        mixture_level="node",
        dataset="cmu",
        data_dir="data/cmu",
        validation_subjects="S6",
        actions="Walking,Eating",
        jit_compile=False,
        seed=3,
    )
    assert _config("--config", str(_run_config(tmp_path, original))) == original


def test_an_old_runs_config_file_gives_its_level_under_the_new_name():
    old_run = Path(__file__).parents[1] / "training" / "old_run" / "run" / "config.json"
    assert '"mixture": "pose"' in old_run.read_text()
    config = _config("--config", str(old_run), "--mixture-level", "node")
    assert config == TrainingConfig.from_json(old_run).replace(mixture_level="node")


def test_flags_override_the_config_file(tmp_path):
    original = TrainingConfig.from_preset("wide", epochs=5, stride=4)
    path = _run_config(tmp_path, original)
    config = _config("--config", str(path), "--seed", "1", "--train-subjects", "S1,S5")
    assert config == original.replace(seed=1, train_subjects=("S1", "S5"))
    assert _config("--config", str(path), "--jit-compile", "on").jit_compile is True


def test_a_handwritten_config_file_fills_the_rest_with_the_field_defaults(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text('{"hidden_dim": 64, "epochs": 3}')
    assert _config("--config", str(path)) == TrainingConfig(hidden_dim=64, epochs=3)


def test_a_config_file_with_a_bad_value_names_the_flag_and_value(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text('{"epochs": "three"}')
    assert main(["train", "--config", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == (
        "graphmdn-tf train: error: Expected --epochs to be an integer >= 1. Received: --epochs 'three'\n"
    )
    assert not (tmp_path / "run").exists()
