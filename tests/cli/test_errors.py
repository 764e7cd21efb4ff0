"""`user_errors`: an expected exception becomes one line on stderr and an exit code; others propagate."""

import argparse

import pytest

from graphmdn_tf.cli.errors import user_errors


def _raising(error):
    def handler(args):
        raise error

    return handler


@pytest.mark.parametrize("error", [ValueError("bad --epochs"), FileNotFoundError("no x.npz"), FileExistsError("a run")])
def test_user_errors_print_one_line_and_return_2(error, capsys):
    assert user_errors(_raising(error))(argparse.Namespace(command="train")) == 2
    assert capsys.readouterr().err == f"graphmdn-tf train: error: {error}\n"


def test_options_choose_the_errors_the_code_and_the_message(capsys):
    wrapped = user_errors(catch=(OSError,), exit_code=1, message="error: {error}")(_raising(OSError("disk full")))
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
