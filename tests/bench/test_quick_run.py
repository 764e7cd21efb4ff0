"""One real `graphmdn-tf bench throughput --quick --profile` run (what CI runs of the benchmark), and what it writes and prints.

It runs in a fresh process: XLA reads the op-tracing flag of `--profile` at its first compilation, which
in a test session has long happened. The throughput report and the profile are both checked on this one
run (module fixture), so the quick benchmark runs once. The parts are tested in test_throughput.py,
test_profile.py and test_report.py (figures are not asserted: they depend on the machine and its load;
their presence and consistency are).
"""

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from graphmdn_tf import GraphMDN
from graphmdn_tf.bench.flops import analytic_forward_flops
from graphmdn_tf.bench.machine import describe_gpu, describe_processor
from graphmdn_tf.bench.profile import CATEGORIES
from graphmdn_tf.bench.report import INFERENCE_PATHS, format_markdown
from graphmdn_tf.bench.throughput import QUICK
from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.data.pipeline import load_samples
from graphmdn_tf.models.build import build_model

ROOT = Path(__file__).resolve().parents[2]
REPORT_FIELDS = [
    "settings",
    "device",
    "cpu_threads",
    "cpu_cores_available",
    "cpu_model",
    "cpu_vector_extensions",
    "gpu_model",
    "tensorflow",
    "tensor_float_32",
    "matmul_peak_gflops",
    "presets",
    "matmul_peak_gflops_after",
    "epochs",
]
EPOCH_FIELDS = [
    "preset",
    "dataset",
    "data_dir",
    "model",
    "mixture_level",
    "batch_size",
    "jit_compile",
    "steps_per_execution",
    "train_samples",
    "steps_per_epoch",
    "validation_frames",
    "image_frames",
    "train_flops_per_sample",
    "peak_gflops",
    "epochs",
]
PRESET_FIELDS = [
    "preset",
    "arguments",
    "parameters",
    "predict_block_size",
    "forward_flops_per_sample",
    "train_flops_per_sample",
    "flops_breakdown_batch1",
    "profiler_matmul_flops_batch1",
    "analytic_matmul_flops_batch1",
    "train_samples_per_s",
    "train_samples_per_s_repeats",
    "train_gflops",
    "train_percent_of_peak",
    "train_cpu_cores_busy",
    *(
        f"inference_{path}_{field}"
        for path in INFERENCE_PATHS
        for field in ("cpu_cores_busy", "samples_per_s", "samples_per_s_repeats", "percent_of_peak")
    ),
    "inference_saved_model_batch1_ms",
    "inference_saved_model_xla_batch1_ms",
]


@pytest.fixture(scope="module")
def quick_bench(tmp_path_factory) -> tuple[Path, str]:
    """(the --output-dir folder, what the command printed) of `bench throughput --quick --profile`, which must exit 0."""
    out = tmp_path_factory.mktemp("quick_bench") / "bench"
    command = [
        sys.executable,
        "-m",
        "graphmdn_tf.cli",
        "bench",
        "throughput",
        "--quick",
        "--profile",
        "--output-dir",
        str(out),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return out, completed.stdout


def test_bench_command_writes_json_and_markdown(quick_bench):
    out, printed = quick_bench
    report = json.loads((out / "bench.json").read_text())
    assert list(report) == REPORT_FIELDS
    assert report["settings"] == json.loads(json.dumps(asdict(QUICK)))
    assert report["tensor_float_32"] is tf.config.experimental.tensor_float_32_execution_enabled()
    assert {
        key: report[key] for key in ("cpu_model", "cpu_vector_extensions")
    } == describe_processor()
    assert report["gpu_model"] == describe_gpu()
    (preset,) = report["presets"]
    assert [
        key for key in preset if key != "profile"
    ] == PRESET_FIELDS and "profile" in preset  # a profiled run
    assert preset["preset"] == "standard"
    assert preset["arguments"] == {
        "hidden_dim": 128,
        "num_blocks": 4,
        "num_kernels": 5,
        "mixture_level": "pose",
        "dropout": 0.1,
        "sigma_per_joint": False,
        "pi_entropy_weight": 0.0,
        "wta_warmup_steps": 0,
    }
    assert preset["profiler_matmul_flops_batch1"] == preset["analytic_matmul_flops_batch1"]
    assert preset["train_flops_per_sample"] == 3 * preset["forward_flops_per_sample"]
    for key in ("train", *(f"inference_{path}" for path in INFERENCE_PATHS)):
        assert len(preset[f"{key}_samples_per_s_repeats"]) == QUICK.repeats
        assert preset[f"{key}_samples_per_s"] == pytest.approx(
            float(np.median(preset[f"{key}_samples_per_s_repeats"]))
        )
        assert isinstance(preset[f"{key}_cpu_cores_busy"], float)
    assert report["matmul_peak_gflops"] > 0 and report["matmul_peak_gflops_after"] > 0
    peak = (
        report["matmul_peak_gflops"] * 1e9
    )  # the presets' percentages are against the first measurement
    assert preset["train_percent_of_peak"] == pytest.approx(
        100 * preset["train_flops_per_sample"] * preset["train_samples_per_s"] / peak
    )
    assert preset["predict_block_size"] == GraphMDN.predict_block_size
    assert all(
        preset[f"inference_{path}_batch1_ms"] > 0 for path in ("saved_model", "saved_model_xla")
    )
    run = report[
        "epochs"
    ]  # the quick run: the synthetic set at stride 40, 300 validation frames asked for
    assert list(run) == EPOCH_FIELDS
    assert (run["dataset"], run["data_dir"], run["preset"], run["batch_size"]) == (
        "synthetic",
        None,
        "standard",
        256,
    )
    config = TrainingConfig.from_preset("standard", **dict(QUICK.epoch_overrides))
    assert run["train_samples"] == len(
        load_samples("synthetic", subjects=config.train_subjects, stride=40, progress=False)
    )
    assert run["steps_per_epoch"] == run["train_samples"] // 256 and run["validation_frames"] <= 300
    forward = (
        analytic_forward_flops(build_model(config), 256).total / 256
    )  # the default model at batch 256
    assert run["train_flops_per_sample"] == pytest.approx(3 * forward, rel=1e-9)
    assert (
        run["peak_gflops"] == report["matmul_peak_gflops_after"]
    )  # the epochs' against the one just before them
    assert [row["epoch"] for row in run["epochs"]] == list(range(QUICK.epoch_epochs))
    for row in run["epochs"]:
        total = row["train_seconds"] + row["validation_seconds"]
        assert row["validation_percent_of_epoch"] == pytest.approx(
            100 * row["validation_seconds"] / total
        )
        assert row["train_samples_per_s"] == pytest.approx(
            run["steps_per_epoch"] * 256 / row["train_seconds"]
        )
        assert row["train_percent_of_peak"] == pytest.approx(
            100
            * run["train_flops_per_sample"]
            * row["train_samples_per_s"]
            / (run["peak_gflops"] * 1e9)
        )
    markdown = (out / "bench.md").read_text()
    assert markdown == format_markdown(report)
    last = run["epochs"][-1]
    headline = markdown.splitlines()[6]  # after the title, processor and peak lines
    assert headline.startswith("**Training as users run it** (`train` with the default settings")
    assert (
        f"epoch {QUICK.epoch_epochs} of {QUICK.epoch_epochs}): **{last['train_samples_per_s']:.0f} "
        f"samples/s, {last['train_percent_of_peak']:.0f}% of the matmul peak**" in headline
    )
    assert "| validation s | validation % of epoch |" in markdown
    assert (
        f"Train % peak is against {run['peak_gflops']:.1f} GFLOP/s, the peak measured just before"
        in markdown
    )
    assert f"in blocks of {GraphMDN.predict_block_size} rows" in markdown
    assert markdown in printed


def test_bench_profile_traces_training_and_reports_where_the_time_goes(quick_bench):
    out, printed = quick_bench
    (preset,) = json.loads((out / "bench.json").read_text())["presets"]
    profile = preset["profile"]
    assert list((out / "profile" / "standard").glob("plugins/profile/*/*.xplane.pb"))
    assert sum(profile["category_share"].values()) == pytest.approx(1.0)
    assert set(profile["category_share"]) <= set(CATEGORIES)
    assert profile["category_share"]["matrix products"] > 0  # the model's matmuls are in the trace
    assert profile["top_ops_ms"] and all(ms > 0 for _, ms in profile["top_ops_ms"])
    assert "Where a training step's XLA op time goes" in (out / "bench.md").read_text()
    assert "| standard |" in printed
