"""User errors: one line in the flags' words on stderr and exit code 2 from every command; other
exceptions propagate."""

import argparse
import json
import os

import numpy as np
import pytest

from graphmdn_tf.cli import main
from graphmdn_tf.cli.errors import EXIT_USER_ERROR, flags_of, in_flag_words, user_errors
from graphmdn_tf.runs import RunDirectory, RunInUseError


@pytest.mark.parametrize(
    ("message", "flags", "expected"),
    [
        (
            "Expected frames_per_sequence to be a positive integer. Received: -3",
            {"frames_per_sequence": "--frames"},
            "Expected --frames to be a positive integer. Received: -3",
        ),
        ("...; name one with format=", {"format": "--format"}, "...; name one with --format"),
        (
            "Expected dataset to be a name. Received: dataset='a b'",
            {"dataset": "--dataset"},
            "Expected --dataset to be a name. Received: --dataset 'a b'",
        ),
        (  # a plain word is a flag only as `word=` or `Expected word`
            "a Human3.6M-format file in an unknown format; the dataset is empty",
            {"format": "--format", "dataset": "--dataset"},
            "a Human3.6M-format file in an unknown format; the dataset is empty",
        ),
        (  # a snake_case name is a flag wherever it stands, but not inside a file name
            "Expected non-empty train_subjects (data_dir/data_3d_x.npz)",
            {"train_subjects": "--train-subjects", "data_dir": "--data-dir"},
            "Expected non-empty --train-subjects (--data-dir/data_3d_x.npz)",
        ),
    ],
)
def test_library_names_become_flags(message, flags, expected):
    assert in_flag_words(message, flags) == expected


def test_flags_of_names_visible_flags_and_positionals():
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--output-dir", "-o")
    parser.add_argument("--out", dest="output_dir", help=argparse.SUPPRESS)
    assert flags_of(parser, base_dir="--output-dir") == {
        "run_dir": "RUN_DIR",
        "output_dir": "--output-dir",
        "base_dir": "--output-dir",
    }


def _raising(error):
    def handler(args):
        raise error

    return handler


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad epochs=3"),
        FileNotFoundError("no x.npz"),
        PermissionError("read-only"),
        RunInUseError("in use"),
    ],
)
def test_user_errors_print_one_line_and_return_2(error, capsys):
    wrapped = user_errors(_raising(error), prog="graphmdn-tf train", flags={"epochs": "--epochs"})
    assert wrapped(argparse.Namespace()) == EXIT_USER_ERROR == 2
    expected = str(error).replace("epochs=", "--epochs ")
    assert capsys.readouterr().err == f"graphmdn-tf train: error: {expected}\n"


@pytest.mark.parametrize("error", [RuntimeError("a bug"), TypeError("a bug"), KeyError("a bug")])
def test_other_errors_propagate(error):
    with pytest.raises(type(error), match="a bug"):
        user_errors(_raising(error), prog="graphmdn-tf train", flags={})(argparse.Namespace())


def _bad_inputs(tmp_path):
    """(argv, the exact one-line error) for inputs each command refuses."""
    missing = tmp_path / "missing"
    cmu_only = tmp_path / "cmu_only"
    cmu_only.mkdir()
    np.savez(cmu_only / "data_3d_cmu.npz", positions_3d=np.zeros(1))
    (tmp_path / "not.json").write_text("{epochs: 3")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "typo.json").write_text(json.dumps({"epoch": 3}))
    (tmp_path / "keypoints.json").write_text(json.dumps({"a": 1}))
    (tmp_path / "keypoints.txt").write_text("1 2")
    (tmp_path / "taken.npz").write_bytes(b"mine")
    not_found = (
        f"Expected a finished training run with {missing / 'model.keras'} (written when `train` "
        f"completes). Not found; train (or resume) the run first: graphmdn-tf train --run-dir "
        f"{missing} ..."
    )
    predict = ["predict", "--server", "http://127.0.0.1:9", "--rest"]
    return [
        (
            ["data", "synth", "--output-dir", missing, "--frames", "-3"],
            "graphmdn-tf data synth: error: Expected --frames to be a positive integer. "
            "Received: --frames -3",
        ),
        (
            ["data", "check", cmu_only, "--dataset", "h36m"],
            f"graphmdn-tf data check: error: {cmu_only / 'data_3d_h36m.npz'}: no such file "
            "(expected a Human3.6M-format 3D .npz); found data_3d_cmu.npz (--dataset 'cmu').",
        ),
        (
            ["train", "--dataset", "h36n", "--run-dir", missing],
            "graphmdn-tf train: error: Expected non-empty --train-subjects and --test-subjects "
            "(--dataset 'h36n' has no default split; the data sets with one are h36m, cmu, "
            "synthetic; did you mean 'h36m'?). Received: --train-subjects (), --test-subjects ()",
        ),
        (
            ["train", "--epochs", "0", "--run-dir", missing],
            "graphmdn-tf train: error: Expected --epochs to be an integer >= 1. "
            "Received: --epochs 0",
        ),
        (
            ["train", "--dataset", "cmu", "--run-dir", missing],
            "graphmdn-tf train: error: Expected --data-dir, the folder with data_3d_cmu.npz, for "
            "--dataset 'cmu' (only the synthetic set is generated). Received: --data-dir None",
        ),
        (
            ["train", "--dataset", "cmu", "--data-dir", cmu_only / "data_3d_cmu.npz"]
            + ["--run-dir", missing],
            f"graphmdn-tf train: error: {cmu_only / 'data_3d_cmu.npz'} is a file; expected "
            "--data-dir to be the folder that holds data_3d_cmu.npz",
        ),
        (
            ["train", "--config", missing / "config.json"],
            f"graphmdn-tf train: error: --config {missing / 'config.json'}: no such file "
            "(expected a run's config.json or a JSON object of training fields)",
        ),
        (
            ["train", "--config", tmp_path / "not.json"],
            f"graphmdn-tf train: error: --config {tmp_path / 'not.json'}: not JSON (Expecting "
            "property name enclosed in double quotes: line 1 column 2 (char 1))",
        ),
        (
            ["train", "--config", tmp_path / "list.json"],
            f"graphmdn-tf train: error: --config {tmp_path / 'list.json'}: expected a JSON object "
            "of training fields. Received: a JSON list",
        ),
        (
            ["train", "--config", tmp_path / "typo.json"],
            f"graphmdn-tf train: error: --config {tmp_path / 'typo.json'}: unknown key 'epoch'; "
            "did you mean 'epochs'? (the keys are the training config's fields, as in a run's "
            "config.json)",
        ),
        (
            ["train", "--config", tmp_path / "typo.json", "--preset", "wide"],
            "graphmdn-tf train: error: give --config or --preset, not both (the config file names "
            "its preset)",
        ),
        (["evaluate", missing], f"graphmdn-tf evaluate: error: {not_found}"),
        (["calibrate", missing], f"graphmdn-tf calibrate: error: {not_found}"),
        (["export", missing, "--name", "graphmdn"], f"graphmdn-tf export: error: {not_found}"),
        (
            ["lift", missing, tmp_path / "keypoints.json", "--output-dir", missing],
            f"graphmdn-tf lift: error: {tmp_path / 'keypoints.json'}: a JSON file of none of the "
            "keypoint formats: expected COCO results (a list of {image_id, keypoints}), OpenPose "
            "({people: [{pose_keypoints_2d}]}) or MMPose (a list of {instances: [{keypoints, "
            "keypoint_scores}]}); name one with --format",
        ),
        (
            [*predict, "--input", missing / "x.npy", "--output", missing / "out.npz"],
            f"graphmdn-tf predict: error: --input {missing / 'x.npy'}: no such file or directory",
        ),
        (
            [*predict, "--input", tmp_path / "keypoints.txt", "--output", missing / "out.npz"],
            "graphmdn-tf predict: error: Expected --input to be a .npy or .npz file. "
            f"Received: {tmp_path / 'keypoints.txt'}",
        ),
        (
            [*predict, "--input", missing / "x.npy", "--output", tmp_path / "taken.npz"],
            f"graphmdn-tf predict: error: Refusing to overwrite {tmp_path / 'taken.npz'}; choose "
            "another --output",
        ),
    ]


def test_each_bad_input_is_one_exact_line_and_exit_2(tmp_path, capsys):
    for argv, message in _bad_inputs(tmp_path):
        assert main([str(word) for word in argv]) == 2, argv
        captured = capsys.readouterr()
        assert captured.err == message + "\n", argv
    assert not (tmp_path / "missing").exists()  # nothing was left behind


def test_a_run_directory_in_use_is_one_line_and_exit_2(tmp_path, capsys):
    run_dir = tmp_path / "run"
    with RunDirectory(run_dir).lock():
        assert main(["train", "--run-dir", str(run_dir), "--epochs", "1"]) == 2
    assert capsys.readouterr().err == (
        f"graphmdn-tf train: error: run directory {run_dir} is in use by process {os.getpid()}; "
        "wait for it to finish, or use another run directory\n"
    )
