"""tools/hypothesis_table.py: the goal's figures of each run, their summary over seeds, a tiny run end to end."""

import json
import statistics

import pytest

from tests.evaluation.cases import fixed_run
from tests.tool_module import load_tool


@pytest.fixture(scope="module")
def tool():
    return load_tool("hypothesis_table")


def _seed(mean, oracle, best_of, highest, skeleton, ece, worst, coverage, kernels):
    return {
        "mean": mean,
        "oracle": oracle,
        "best_of": best_of,
        "selectors": {"Highest": highest, "Skeleton prior": skeleton},
        "ece": ece,
        "ece_worst_joint": worst,
        "ece_worst_joint_name": "Hip",
        "coverage_90": coverage,
        "effective_kernels": kernels,
    }


def test_the_summary_is_the_mean_and_spread_over_seeds_and_judges_the_goal(tool):
    seeds = [
        _seed(80.0, 70.0, 75.0, 81.0, 79.0, 0.02, 0.04, 0.90, 2.0),
        _seed(82.0, 72.0, 85.0, 79.0, 80.0, 0.03, 0.06, 0.88, 3.0),
        _seed(81.0, 74.0, 86.0, 83.0, 79.5, 0.01, 0.05, 0.86, 2.5),
    ]
    summary = tool.summarize(seeds)
    assert summary["mean"]["mean"] == pytest.approx(81.0)
    assert summary["mean"]["sd"] == pytest.approx(statistics.stdev([80.0, 82.0, 81.0]))
    gaps = [100 * (80 - 70) / 80, 100 * (82 - 72) / 82, 100 * (81 - 74) / 81]
    assert summary["oracle_gap_percent"]["mean"] == pytest.approx(statistics.fmean(gaps))
    # Skeleton prior averages 79.5 over the seeds, Highest 81.0: the best selector is chosen on the mean.
    assert summary["best_selector"]["label"] == "Skeleton prior"
    assert summary["best_selector"]["mean"] == pytest.approx(79.5)
    assert statistics.fmean(gaps) == pytest.approx(11.11, abs=0.01)
    assert summary["goal"] == {
        "ece": True,  # 0.02
        "ece_worst_joint": True,  # 0.05
        "coverage_90": True,  # 0.88
        "best_of_below_mean": False,  # 82.0 against 81.0
        "oracle_gap": True,  # 11.1% >= 10%
        "selector_below_mean": True,  # 79.5 against 81.0
        "stable_seeds": True,  # sd 1.0 <= 1.9
    }
    assert tool.summarize(seeds[:1])["goal"]["stable_seeds"] is None  # one seed has no spread


def test_run_metrics_reads_an_evaluation(tool):
    results = {
        "rows": [
            {"protocol": 1, "method": "GraphMDN (Mean)", "average": 80.0},
            {"protocol": 2, "method": "GraphMDN (Mean)", "average": 60.0},
            {"protocol": 1, "method": "GraphMDN (Oracle)", "average": 70.0},
            {"protocol": 1, "method": "GraphMDN (Best of 200 samples)", "average": 75.0},
            {"protocol": 1, "method": "GraphMDN (Temporal)", "average": 78.0},
        ],
        "uncertainty": {
            "GraphMDN": {
                "ece": 0.1,
                "ece_per_joint": {"Hip": 0.3, "RWrist": 0.4},
                "calibration": {"levels": [0.5, 0.85, 0.9000001], "observed": [0.4, 0.7, 0.8]},
                "effective_kernels": 1.5,
            }
        },
    }
    metrics = tool.run_metrics(results)
    assert (metrics["mean"], metrics["oracle"], metrics["best_of"]) == (80.0, 70.0, 75.0)
    assert metrics["selectors"] == {"Temporal": 78.0}
    assert (metrics["ece_worst_joint"], metrics["ece_worst_joint_name"]) == (0.4, "RWrist")
    assert metrics["coverage_90"] == 0.8 and metrics["effective_kernels"] == 1.5


def test_a_finished_run_is_scored_on_both_splits_and_tabled(tool, tmp_path, capsys):
    _, run_dir, _ = fixed_run(tmp_path, "graphmdn", validation_holdout=0.25)
    out = tmp_path / "out"
    out.mkdir()
    run_dir.rename(out / "tiny-seed0")
    tool.ensure_run([], 0, out / "tiny-seed0", "unused: the run is finished")
    assert (
        tool.main(["--data-dir", "d", "--output-dir", str(out), "--variant", "tiny=", "--no-train"])
        == 0
    )
    (row,) = json.loads((out / "hypotheses.json").read_text())
    test = json.loads((out / "tiny-seed0" / "results.json").read_text())
    mean = next(
        r["average"]
        for r in test["rows"]
        if r["protocol"] == 1 and r["method"] == "GraphMDN (Mean)"
    )
    assert row["test"]["mean"]["values"] == [mean] and row["seeds"] == [0]
    validation = out / "tiny-seed0" / "evaluations" / "validation" / "results.json"
    assert row["validation"]["ece"]["values"] == [
        json.loads(validation.read_text())["uncertainty"]["GraphMDN"]["ece"]
    ]
    printed = capsys.readouterr().out
    assert "| tiny | validation | 0 |" in printed and "| tiny | test | 0 |" in printed
    assert (out / "hypotheses.md").read_text() in printed

    # Calibrated: a copy of the run gets the scales and its own evaluations; the run stays as it was.
    before = (out / "tiny-seed0" / "results.json").read_text()
    arguments = ["--data-dir", "d", "--output-dir", str(out), "--variant", "tiny=", "--no-train"]
    assert tool.main([*arguments, "--calibrate", "tiny"]) == 0
    copy = out / "tiny-calibrated-seed0"
    assert (copy / "calibration.json").is_file() and not (
        out / "tiny-seed0" / "calibration.json"
    ).exists()
    assert (out / "tiny-seed0" / "results.json").read_text() == before
    names = [row["name"] for row in json.loads((out / "hypotheses.json").read_text())]
    assert names == ["tiny", "tiny-calibrated"]
    calibrated = json.loads((copy / "results.json").read_text())
    assert "calibrate" in " ".join(calibrated["notes"])


def test_a_bad_variant_is_named(tool, capsys):
    with pytest.raises(SystemExit):
        tool.main(["--data-dir", "d", "--output-dir", "o", "--variant", "no-equals-sign"])
    assert "Expected --variant NAME=FLAGS" in capsys.readouterr().err
