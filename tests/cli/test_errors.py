"""`user_errors`: an expected exception becomes one line on stderr and an exit code; others propagate."""

import argparse

import pytest

from graphmdn_tf.cli.errors import user_errors


def _raising(error):
    def handler(args):
        raise error

    return handler


@pytest.mark.parametrize(
    "error", [ValueError("bad --epochs"), FileNotFoundError("no x.npz"), FileExistsError("a run")]
)
def test_user_errors_print_one_line_and_return_2(error, capsys):
    assert user_errors(_raising(error))(argparse.Namespace(command="train")) == 2
    assert capsys.readouterr().err == f"graphmdn-tf train: error: {error}\n"


def test_options_choose_the_errors_the_code_and_the_message(capsys):
    wrapped = user_errors(catch=(OSError,), exit_code=1, message="error: {error}")(
        _raising(OSError("disk full"))
    )
    assert wrapped(argparse.Namespace(command="data")) == 1
    assert capsys.readouterr().err == "error: disk full\n"


@pytest.mark.parametrize("error", [RuntimeError("a bug"), TypeError("a bug"), KeyError("a bug")])
def test_other_errors_propagate(error):
    with pytest.raises(type(error), match="a bug"):
        user_errors(_raising(error))(argparse.Namespace(command="train"))


def test_the_handler_result_and_name_pass_through():
    def run_train(args):
        return 0

    wrapped = user_errors(run_train)
    assert wrapped(argparse.Namespace(command="train")) == 0 and wrapped.__name__ == "run_train"


def _exit_codes_of_unusable_inputs(tmp_path):
    """(argv, exit code the README's 'Command-line errors' gives) for an input each command cannot use."""
    missing = tmp_path / "missing"
    return [
        (
            [
                "train",
                "--dataset",
                "cmu",
                "--data-dir",
                str(missing),
                "--run-dir",
                str(tmp_path / "run"),
            ],
            2,
        ),
        (["evaluate", str(missing)], 2),
        (["lift", str(missing), str(missing / "k.json"), "--out", str(tmp_path / "lifted")], 2),
        (["quickstart", "--epochs", "0", "--output", str(tmp_path / "quick")], 2),
        (["bench", "--quick", "--data-dir", str(missing), "--out", str(tmp_path / "bench")], 2),
        (
            [
                "bench",
                "accuracy",
                "--quick",
                "--data-dir",
                str(missing),
                "--out",
                str(tmp_path / "accuracy"),
            ],
            2,
        ),
        (["export", str(missing), "--name", "graphmdn", "--base-dir", str(tmp_path / "models")], 1),
        (
            [
                "predict",
                "--server",
                "http://127.0.0.1:9",
                "--rest",
                "--input",
                str(missing / "x.npy"),
                "--out",
                str(tmp_path / "out.npz"),
            ],
            1,
        ),
        (["data", "check", str(missing), "--dataset", "cmu"], 1),
    ]


def test_each_command_exits_as_the_readme_says_with_one_line(tmp_path, capsys):
    from graphmdn_tf.cli import main

    for argv, code in _exit_codes_of_unusable_inputs(tmp_path):
        assert main(argv) == code, argv
        err = capsys.readouterr().err.strip()
        assert err and "Traceback" not in err and len(err.splitlines()) == 1, (argv, err)
    assert sorted(path.name for path in tmp_path.iterdir()) == []  # nothing was left behind
