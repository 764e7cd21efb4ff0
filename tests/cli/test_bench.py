"""`graphmdn-tf bench`: flags become the benchmark's settings (the benchmark itself is tests/bench)."""

from dataclasses import replace

import pytest

from graphmdn_tf.bench import throughput
from graphmdn_tf.bench.throughput import QUICK, BenchSettings
from graphmdn_tf.cli import bench as cli_bench
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
                "--no-xla",
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
    ],
)
def test_command_turns_flags_into_settings(monkeypatch, tmp_path, capsys, flags, expected):
    calls = []
    monkeypatch.setattr(
        throughput,
        "run_benchmark",
        lambda out, settings, profile: calls.append((out, settings, profile)),
    )
    monkeypatch.setattr(cli_bench, "format_markdown", lambda report: "REPORT")
    assert main(["bench", *flags, "--out", str(tmp_path)]) == 0
    assert calls == [(str(tmp_path), expected, "--profile" in flags)]
    printed = capsys.readouterr().out
    assert (
        printed.startswith("REPORT\n")
        and f"Written: {tmp_path / 'bench.json'}, {tmp_path / 'bench.md'}" in printed
    )


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--epochs", "-1"], "epochs"),
        (["--data-dir", "no/such/folder"], "no/such/folder"),
        (
            ["--dataset", "cmu"],
            "data_dir",
        ),  # a named data set other than the synthetic one needs its files
    ],
)
def test_a_bad_epoch_run_is_refused_before_anything_is_measured(
    monkeypatch, tmp_path, capsys, flags, named
):
    def no_measuring(*args, **kwargs):
        raise AssertionError("the benchmark started measuring")

    monkeypatch.setattr(throughput, "measure_matmul_peak", no_measuring)
    assert main(["bench", "--quick", *flags, "--out", str(tmp_path / "b")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and named in error
    assert not (tmp_path / "b" / "bench.json").exists()
