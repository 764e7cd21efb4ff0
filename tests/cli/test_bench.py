"""`graphmdn-tf bench throughput|accuracy`: flags become the benchmark's settings (the benchmark itself
is tests/bench); the retired spellings still run, with a warning."""

from dataclasses import replace

import pytest

from graphmdn_tf.bench import report, throughput
from graphmdn_tf.bench.throughput import QUICK, BenchSettings
from graphmdn_tf.cli import main


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], BenchSettings()),
        (["--quick"], QUICK),
        (
            [
                "--quick",
                "--presets",
                "wide",
                "k8",
                "--repeats",
                "3",
                "--jit-compile",
                "off",
                "--steps-per-execution",
                "7",
            ],
            replace(
                QUICK, presets=("wide", "k8"), repeats=3, jit_compile=False, steps_per_execution=7
            ),
        ),
        (["--profile", "--repeats", "2"], replace(BenchSettings(), repeats=2)),
        (
            ["--data-dir", "data/cmu"],
            replace(BenchSettings(), epoch_dataset="cmu", epoch_data_dir="data/cmu"),
        ),
        (
            ["--dataset", "h36m", "--data-dir", "h", "--epochs", "3"],
            replace(BenchSettings(), epoch_dataset="h36m", epoch_data_dir="h", epoch_epochs=3),
        ),
        (["--quick", "--epochs", "0"], replace(QUICK, epoch_epochs=0)),
        (["--jit-compile", "auto"], replace(BenchSettings(), jit_compile="auto")),
    ],
)
def test_command_turns_flags_into_settings(monkeypatch, tmp_path, capsys, flags, expected):
    calls = _record_runs(monkeypatch)
    assert main(["bench", "throughput", *flags, "--output-dir", str(tmp_path)]) == 0
    assert calls == [(str(tmp_path), expected, "--profile" in flags)]
    captured = capsys.readouterr()
    assert (
        captured.out.startswith("REPORT\n")
        and f"Written: {tmp_path / 'bench.json'}, {tmp_path / 'bench.md'}" in captured.out
    )
    assert captured.err == ""


def _record_runs(monkeypatch) -> list:
    calls = []
    monkeypatch.setattr(
        throughput,
        "run_benchmark",
        lambda out, settings, profile: calls.append((out, settings, profile)),
    )
    monkeypatch.setattr(report, "format_markdown", lambda report: "REPORT")
    return calls


@pytest.mark.parametrize(
    ("retired", "warning", "expected"),
    [
        (
            ["bench", "--quick", "--out", "OUT"],
            "'bench' without a subcommand is deprecated; use 'bench throughput'\n"
            "graphmdn-tf: warning: --out is deprecated; use --output-dir",
            QUICK,
        ),
        (
            ["bench", "throughput", "--no-xla", "--output-dir", "OUT"],
            "--no-xla is deprecated; use --jit-compile off",
            replace(BenchSettings(), jit_compile=False),
        ),
        (
            ["bench", "--quick", "throughput", "--output-dir", "OUT"],
            "'bench ... throughput' is deprecated; use 'bench throughput ...'",
            QUICK,
        ),
    ],
)
def test_retired_spellings_run_with_a_one_line_warning(
    monkeypatch, tmp_path, capsys, retired, warning, expected
):
    calls = _record_runs(monkeypatch)
    argv = [str(tmp_path) if word == "OUT" else word for word in retired]
    assert main(argv) == 0
    assert calls == [(str(tmp_path), expected, False)]
    assert capsys.readouterr().err == f"graphmdn-tf: warning: {warning}\n"


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--epochs", "-1"], "--epochs"),
        (["--data-dir", "no/such/folder"], "no/such/folder"),
        (  # a named data set other than the synthetic one needs its files
            ["--dataset", "cmu"],
            "Expected --data-dir, the folder with data_3d_cmu.npz, for --dataset 'cmu'",
        ),
    ],
)
def test_a_bad_epoch_run_is_refused_before_anything_is_measured(
    monkeypatch, tmp_path, capsys, flags, named
):
    def no_measuring(*args, **kwargs):
        raise AssertionError("the benchmark started measuring")

    monkeypatch.setattr(throughput, "measure_matmul_peak", no_measuring)
    assert (
        main(["bench", "throughput", "--quick", *flags, "--output-dir", str(tmp_path / "b")]) == 2
    )
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and named in error
    assert not (tmp_path / "b" / "bench.json").exists()
