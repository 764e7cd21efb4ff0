"""The `graphmdn-tf` parser: the documented subcommands, one vocabulary of flags in every one of them,
`--version`, and help without TensorFlow."""

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

import graphmdn_tf
from graphmdn_tf.cli import build_parser, main
from graphmdn_tf.cli.options import RETIRED, DeprecatedAlias

ROOT = Path(__file__).resolve().parents[2]
# As the README and the package docstring list them.
DOCUMENTED = {
    "quickstart",
    "data",
    "train",
    "evaluate",
    "calibrate",
    "export",
    "predict",
    "lift",
    "convert",
    "bench",
}
# The commands that write a folder of results, and so have --output-dir.
WRITE_A_FOLDER = {
    "quickstart",
    "data synth",
    "evaluate",
    "export",
    "lift",
    "bench throughput",
    "bench accuracy",
}


def _subcommands(parser: argparse.ArgumentParser) -> dict:
    actions = [
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    ]
    return actions[0].choices if actions else {}


def _commands(parser=None, name: str = "") -> dict:
    """{'data synth': parser, 'train': parser, ...}: every leaf command, through sub-subcommands."""
    parser = parser or build_parser()
    found = {}
    for word, child in _subcommands(parser).items():
        full = f"{name} {word}".strip()
        found.update(_commands(child, full) if _subcommands(child) else {full: child})
    return found


COMMANDS = _commands()


def _options(parser):
    return [action for action in parser._actions if action.option_strings and action.dest != "help"]


def test_exactly_the_documented_subcommands():
    assert {name.split()[0] for name in COMMANDS} == DOCUMENTED
    assert {name for name in COMMANDS if " " in name} == {
        "data synth",
        "data check",
        "bench throughput",
        "bench accuracy",
    }


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_flag_has_help_that_shows_its_default(name):
    for action in _options(COMMANDS[name]):
        if action.help is argparse.SUPPRESS:
            continue
        assert action.help, f"{name} {action.option_strings[0]} has no help text"
        says_default = "default" in action.help or action.required or "required" in action.help
        assert says_default, f"{name} {action.option_strings[0]}: {action.help!r} shows no default"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_retired_spellings_are_only_hidden_deprecated_aliases(name):
    for action in _options(COMMANDS[name]):
        retired = set(action.option_strings) & set(RETIRED)
        if name == "predict" and action.option_strings == ["--output"]:
            continue  # predict writes one file: --output
        if retired:
            assert isinstance(action, DeprecatedAlias) and action.help is argparse.SUPPRESS, (
                name,
                retired,
            )


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_folders_of_results_are_output_dir_and_xla_is_jit_compile(name):
    visible = {
        option: action
        for action in _options(COMMANDS[name])
        if action.help is not argparse.SUPPRESS
        for option in action.option_strings
    }
    assert ("--output-dir" in visible) == (name in WRITE_A_FOLDER), name
    assert not [
        option
        for option in visible
        if option.endswith(("-out", "-dir"))
        and option not in ("--output-dir", "--run-dir", "--data-dir", "--cache-dir")
    ], name
    for option, action in visible.items():
        if "xla" in option or "jit" in option:
            assert option == "--jit-compile" and tuple(action.choices) == ("auto", "on", "off")


def test_every_subcommand_has_a_handler():
    parser = build_parser()
    minimal = {
        "data synth": ["data", "synth", "--output-dir", "x"],
        "data check": ["data", "check", "x", "--dataset", "cmu"],
        "evaluate": ["evaluate", "r"],
        "calibrate": ["calibrate", "r"],
        "export": ["export", "r", "--name", "n"],
        "predict": ["predict", "--server", "s", "--rest", "--input", "i", "--output", "o"],
        "lift": ["lift", "run", "k.json", "--output-dir", "o"],
        "convert": ["convert", "ckpt.pth.tar", "--run-dir", "r"],
    }
    for name in COMMANDS:
        args = parser.parse_args(minimal.get(name, name.split()))
        assert args.command == name.split()[0] and callable(args.handler)


@pytest.mark.parametrize(
    ("old", "new", "dest", "value"),
    [
        (["lift", "r", "k.json", "--out", "o"], "--output-dir", "output_dir", Path("o")),
        (["data", "synth", "--out", "o"], "--output-dir", "output_dir", "o"),
        (["quickstart", "--output", "o"], "--output-dir", "output_dir", "o"),
        (["evaluate", "r", "--results-dir", "o"], "--output-dir", "output_dir", "o"),
        (
            ["export", "r", "--name", "n", "--base-dir", "o"],
            "--output-dir",
            "output_dir",
            Path("o"),
        ),
        (["export", "r", "--name", "n", "--jit-compile"], "--jit-compile on", "jit_compile", "on"),
        (
            ["predict", "--server", "s", "--rest", "--input", "i", "--out", "o"],
            "--output",
            "output",
            Path("o"),
        ),
    ],
)
def test_a_retired_spelling_still_works_with_a_one_line_warning(old, new, dest, value, capsys):
    args = build_parser().parse_args(old)
    assert getattr(args, dest) == value
    retired = "a bare --jit-compile" if new == "--jit-compile on" else old[-2]
    assert capsys.readouterr().err == (
        f"graphmdn-tf: warning: {retired} is deprecated; use {new}\n"
    )


def test_export_jit_compile_takes_auto_on_off():
    parser = build_parser()
    for flag, value in (("on", "on"), ("off", "off"), ("auto", "auto")):
        args = parser.parse_args(["export", "r", "--name", "n", "--jit-compile", flag])
        assert args.jit_compile == value
    assert parser.parse_args(["export", "r", "--name", "n"]).jit_compile == "off"


def test_quickstart_exports_by_default():
    assert build_parser().parse_args(["quickstart"]).export is True
    assert build_parser().parse_args(["quickstart", "--no-export"]).export is False


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"graphmdn-tf {graphmdn_tf.__version__}\n"


def _python(code: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def test_help_of_every_command_imports_no_tensorflow():
    code = f"""
import contextlib, io, sys
from graphmdn_tf.cli import main
commands = {sorted(COMMANDS)!r} + ["data", "bench"]
for argv in [[]] + [name.split() for name in commands]:
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
        main([*argv, "--help"])
    assert out.getvalue().startswith("usage: graphmdn-tf"), argv
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    main(["--version"])
print(sorted(name for name in ("tensorflow", "keras", "tensorflow_probability", "tf_keras")
             if name in sys.modules))
"""
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n" and result.stderr == ""


def test_python_dash_m_prints_the_help():
    result = subprocess.run(
        [sys.executable, "-m", "graphmdn_tf.cli", "--help"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: graphmdn-tf [-h] [--version] COMMAND ...")
    for command in DOCUMENTED:
        assert f"    {command}" in result.stdout


def test_lift_help_lists_the_selections_lift_makes():
    from graphmdn_tf.cli.lift import SELECTION_NAMES
    from graphmdn_tf.lifting import SELECTIONS

    assert SELECTION_NAMES == SELECTIONS
