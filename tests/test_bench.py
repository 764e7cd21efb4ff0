"""The benchmark command works end to end (a tiny run: figures are not asserted, their presence and consistency are)."""

import json

import pytest

from graphmdn_tf import GraphMDN
from graphmdn_tf.bench import analytic_forward_flops, profiler_matmul_flops
from graphmdn_tf.cli import main


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"hidden_dim": 64, "num_blocks": 2, "num_kernels": 3, "mixture": "node"}, {"non_local": False, "num_blocks": 1}],
)
def test_analytic_flops_agree_with_the_profiler(kwargs):
    model = GraphMDN(**kwargs)
    model.build((None, 16, 2))
    analytic = analytic_forward_flops(model, batch=1)
    assert profiler_matmul_flops(model, batch=1) == analytic.matmul + analytic.batched


def test_standard_preset_flops_by_hand():
    # Per sample at large batch: 10 SemGraphConv dense products, 10 neighbour einsums, 5 non-local blocks.
    model = GraphMDN.from_preset("standard")
    model.build((None, 16, 2))
    n, c, i, p = 16, 128, 64, 8
    conv = [(2, c)] + [(c, c)] * 8 + [(c, 25)]
    dense = sum(2 * n * a * 2 * b for a, b in conv)
    neighbour = sum(2 * n * n * b for _, b in conv)
    non_local = 5 * (2 * n * c + 2 * n * c * 2 * i + 2 * n * n * 2 * i + 2 * p * i + 2 * n * p * i + 2 * n * i * c)
    batch = 1 << 20  # batch-independent terms vanish
    per_sample = analytic_forward_flops(model, batch).total / batch
    assert per_sample == pytest.approx(dense + neighbour + non_local, rel=1e-6)


def test_bench_command_writes_json_and_markdown(tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["bench", "--quick", "--out", str(out)]) == 0
    report = json.loads((out / "bench.json").read_text())
    assert report["matmul_peak_gflops"] > 0
    (preset,) = report["presets"]
    assert preset["preset"] == "standard"
    assert preset["profiler_matmul_flops_batch1"] == preset["analytic_matmul_flops_batch1"]
    for key in ("train_samples_per_s", "inference_keras_predict_samples_per_s", "inference_saved_model_samples_per_s"):
        assert preset[key] > 0
        assert len(preset[f"{key}_repeats"]) == 2  # QUICK runs 2 repeats
    expected_percent = 100 * preset["train_flops_per_sample"] * preset["train_samples_per_s"] / (report["matmul_peak_gflops"] * 1e9)
    assert preset["train_percent_of_peak"] == pytest.approx(expected_percent)
    markdown = (out / "bench.md").read_text()
    assert "float32 matmul peak" in markdown and "| standard |" in markdown
    assert "| standard |" in capsys.readouterr().out
