"""The `graphmdn-tf` parser: exactly the documented subcommands, and `python -m graphmdn_tf.cli` runs it."""

import argparse
import os
import subprocess
import sys
from pathlib import Path

from graphmdn_tf.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
# As the README and the package docstring list them.
DOCUMENTED = {
    "quickstart",
    "data",
    "train",
    "evaluate",
    "export",
    "predict",
    "lift",
    "convert",
    "bench",
}


def _subcommands(parser: argparse.ArgumentParser) -> dict:
    (action,) = [
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    ]
    return action.choices


def test_exactly_the_documented_subcommands():
    commands = _subcommands(build_parser())
    assert set(commands) == DOCUMENTED
    assert set(_subcommands(commands["data"])) == {"synth", "check"}


def test_every_subcommand_has_a_handler():
    parser = build_parser()
    minimal = {
        "data": ["data", "synth", "--out", "x"],
        "evaluate": ["evaluate", "r"],
        "export": ["export", "r", "--name", "n"],
        "predict": ["predict", "--server", "s", "--rest", "--input", "i", "--out", "o"],
        "lift": ["lift", "run", "k.json", "--out", "o"],
        "convert": ["convert", "ckpt.pth.tar", "--run-dir", "r"],
    }
    for command in DOCUMENTED:
        args = parser.parse_args(minimal.get(command, [command]))
        assert args.command == command and callable(args.handler)


def test_quickstart_exports_by_default():
    assert build_parser().parse_args(["quickstart"]).export is True
    assert build_parser().parse_args(["quickstart", "--no-export"]).export is False


def test_python_dash_m_prints_the_help():
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        [sys.executable, "-m", "graphmdn_tf.cli", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: graphmdn-tf [-h] COMMAND ...")
    for command in DOCUMENTED:
        assert f"    {command}" in result.stdout
