"""bench.md from a report dict: every figure in its row, the check verdict, and the optional parts."""

import copy
from dataclasses import asdict

import pytest

from graphmdn_tf.bench.report import INFERENCE_PATHS, format_markdown
from graphmdn_tf.bench.throughput import BenchSettings


def _preset(name, scale=1):
    result = {
        "preset": name,
        "parameters": 123_456 * scale,
        "predict_block_size": 256,
        "forward_flops_per_sample": 13.6e6 * scale,
        "train_flops_per_sample": 40.8e6 * scale,
        "profiler_matmul_flops_batch1": 100,
        "analytic_matmul_flops_batch1": 100,
        "train_samples_per_s": 4505.4 / scale,
        "train_percent_of_peak": 37.2,
        "train_cpu_cores_busy": 1.864,
    }
    for index, path in enumerate(INFERENCE_PATHS):
        result[f"inference_{path}_samples_per_s"] = 25_000.0 + index
        result[f"inference_{path}_percent_of_peak"] = 68.0 - index
        result[f"inference_{path}_cpu_cores_busy"] = 1.9 - index / 10
    result["inference_saved_model_batch1_ms"], result["inference_saved_model_xla_batch1_ms"] = (
        1.234,
        0.5,
    )
    return result


@pytest.fixture
def report():
    return {
        "settings": asdict(BenchSettings()),
        "device": "CPU",
        "tensorflow": "2.21.0",
        "tensor_float_32": True,
        "matmul_peak_gflops": 497.31,
        "cpu_cores_available": 2,
        "presets": [_preset("standard"), _preset("wide", 2)],
    }


def test_rows_hold_every_figure(report):
    lines = format_markdown(report).splitlines()
    assert lines[0] == "# graphmdn-tf bench (CPU, TensorFlow 2.21.0)"
    assert lines[2] == "Processor: unknown processor"  # a report without the processor fields
    assert lines[4] == "float32 matmul peak (2048^2): **497.3 GFLOP/s**"  # no TF32 note on the CPU
    assert (
        "| standard | 123,456 | 13.6 (40.8) | ok | 4505 | 37% | 25000 | 68% | 25001 | 67% | 25002 | 66% | 1.23 | 0.50 |"
        in lines
    )
    assert (
        "| wide | 246,912 | 27.2 (81.6) | ok | 2253 | 37% | 25000 | 68% | 25001 | 67% | 25002 | 66% | 1.23 | 0.50 |"
        in lines
    )
    assert "| standard | 1.86 | 1.90 | 1.80 | 1.70 |" in lines
    settings = next(line for line in lines if line.startswith("Training:"))
    assert settings == (
        "Training: batch 256, pose level, 5 kernels, Adam + global clipnorm 1, XLA=True, steps_per_execution=20; "
        "inference batch 1024 (Keras `predict` in blocks of 256 rows). Medians of 5 repeats."
    )
    assert "CPU cores kept busy (process CPU time / wall time; 2 available)." in format_markdown(
        report
    )
    assert "Where a training step's XLA op time goes" not in format_markdown(report)


def test_the_peak_measured_after_the_presets_is_shown_beside_the_first(report):
    report["matmul_peak_gflops_after"] = 201.44
    assert format_markdown(report).splitlines()[4] == (
        "float32 matmul peak (2048^2): **497.3 GFLOP/s**; 201.4 GFLOP/s measured again after the presets "
        "(the presets' percentages are against the first, the epochs' against this one)"
    )


def test_a_profiler_disagreement_is_marked(report):
    report["presets"][1]["profiler_matmul_flops_batch1"] = 99
    rows = [
        line
        for line in format_markdown(report).splitlines()
        if "| 123,456 |" in line or "| 246,912 |" in line
    ]
    assert ["MISMATCH" in row for row in rows] == [False, True]


def test_the_processor_and_gpu_are_named(report):
    report.update(
        cpu_model="Intel(R) Xeon(R) Processor", cpu_vector_extensions=["avx2", "fma", "avx512f"]
    )
    assert (
        format_markdown(report).splitlines()[2]
        == "Processor: Intel(R) Xeon(R) Processor; avx2, fma, avx512f"
    )
    report.update(
        device="/device:GPU:0", gpu_model="NVIDIA H100 80GB HBM3", cpu_vector_extensions=[]
    )
    assert (
        format_markdown(report).splitlines()[2]
        == "Processor: Intel(R) Xeon(R) Processor; GPU: NVIDIA H100 80GB HBM3"
    )


@pytest.mark.parametrize(
    ("device", "tf32", "noted"),
    [("CPU", True, False), ("/device:GPU:0", True, True), ("/device:GPU:0", False, False)],
)
def test_tf32_is_noted_only_where_the_gpu_uses_it(report, device, tf32, noted):
    report.update(device=device, tensor_float_32=tf32)
    assert ("TF32 matmuls enabled" in format_markdown(report)) is noted


def test_profiled_presets_get_the_time_table(report):
    profiled = copy.deepcopy(report)
    profiled["presets"][1]["profile"] = {
        "category_share": {
            "matrix products": 0.62,
            "elementwise fusions": 0.18,
            "reductions": 0.12,
            "layout copies": 0.08,
        },
        "top_ops_ms": [
            ["dot.1", 3.21],
            ["fusion.2", 1.1],
            ["copy.3", 0.5],
            ["reduce.4", 0.4],
            ["add.5", 0.1],
        ],
    }
    markdown = format_markdown(profiled)
    assert (
        "| preset | matrix products | elementwise fusions | reductions | layout copies | largest ops"
        in markdown
    )
    assert (
        "| wide | 62% | 18% | 12% | 8% | dot.1 3.2, fusion.2 1.1, copy.3 0.5, reduce.4 0.4 |"
        in markdown
    )
    assert "| standard | 50%" not in markdown and "tensorboard --logdir <out>/profile" in markdown
    assert markdown.startswith(format_markdown(report).rstrip("\n"))


def test_a_report_without_presets_still_formats(report):
    report["presets"] = []
    assert "in blocks of - rows" in format_markdown(report)
