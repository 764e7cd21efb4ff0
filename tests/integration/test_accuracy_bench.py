"""`graphmdn-tf bench accuracy`: real training on the CMU split must beat the mean pose.

The quick settings (GraphMDN, seed 0) with EPOCHS epochs over the test copy of the CMU set (300 frames
of each sequence) train about as many steps as one epoch of the full set, which is what CI can afford.
The threshold is loose but real: a model trained a quarter as long is far worse than the mean pose, so
a model that trains too little or wrongly does not clear it.
"""

import json
import statistics

import numpy as np
import pytest

from graphmdn_tf.bench.accuracy import (
    MEAN_POSE,
    AccuracySettings,
    mean_pose_errors,
    run_accuracy_benchmark,
    summarize,
)
from graphmdn_tf.cli import main
from graphmdn_tf.data.pipeline import load_samples
from graphmdn_tf.metrics import p_mpjpe

MARGIN_MM = 50.0
EPOCHS = 6  # of 27 batches of 256 samples (6716 training samples)


def test_summary_statistics_match_numpy():
    runs = [
        {"averages": {"GraphMDN (Mean)": {1: p1, 2: p1 / 2}, "SemGCN": {1: p1 + 3, 2: 1.0}}}
        for p1 in (100.0, 110.0, 123.0)
    ]
    summary = summarize(runs, {1: 170.0, 2: 160.0})
    values = np.array([100.0, 110.0, 123.0])
    assert summary["GraphMDN (Mean)"]["p1"]["mean"] == pytest.approx(values.mean())
    assert summary["GraphMDN (Mean)"]["p1"]["std"] == pytest.approx(values.std(ddof=1))
    assert summary["SemGCN"]["p2"]["std"] == 0.0 and summary[MEAN_POSE]["p1"]["mean"] == 170.0
    assert list(summary) == ["GraphMDN (Mean)", "SemGCN", MEAN_POSE]  # only the methods that ran


def test_mean_pose_floor_matches_numpy(cmu_dir):
    settings = AccuracySettings(data_dir=str(cmu_dir), stride=4)
    config = settings.config("graphmdn", 0)
    floor = mean_pose_errors(config, "raw")
    train = load_samples(
        "cmu", config.data_dir, subjects=("S1", "S5", "S6"), stride=4, progress=False
    )
    test = load_samples("cmu", config.data_dir, subjects=("S7",), stride=4, progress=False)
    prediction = np.broadcast_to(train.targets_3d.mean(0), test.targets_3d.shape)
    labels = test.action_classes
    per_frame = 1000 * np.linalg.norm(prediction - test.targets_3d, axis=-1).mean(-1)
    expected = statistics.fmean(
        per_frame[labels == action].mean() for action in sorted(set(labels))
    )
    assert floor[1] == pytest.approx(expected, rel=1e-5)
    aligned = 1000 * p_mpjpe(prediction, test.targets_3d, per_frame=True)
    assert floor[2] == pytest.approx(
        statistics.fmean(aligned[labels == a].mean() for a in sorted(set(labels))), rel=1e-5
    )


@pytest.mark.slow
def test_quick_accuracy_benchmark_beats_the_mean_pose(cmu_dir, tmp_path, capsys):
    out = tmp_path / "accuracy"
    data_dir = str(cmu_dir)
    code = main(
        [
            "bench",
            "accuracy",
            "--quick",
            "--epochs",
            str(EPOCHS),
            "--models",
            "graphmdn",
            "--data-dir",
            data_dir,
            "--output-dir",
            str(out),
        ]
    )
    assert code == 0
    report = json.loads((out / "accuracy.json").read_text())
    summary = report["summary"]
    floor = summary[MEAN_POSE]["p1"]["mean"]
    assert summary["GraphMDN (Mean)"]["p1"]["mean"] < floor - MARGIN_MM, (
        summary["GraphMDN (Mean)"],
        floor,
    )
    assert (
        summary["GraphMDN (Oracle)"]["p1"]["mean"]
        <= summary["GraphMDN (Highest)"]["p1"]["mean"] + 1e-6
    )
    assert (out / "accuracy.png").read_bytes()[:4] == b"\x89PNG"
    markdown = (out / "accuracy.md").read_text()
    assert "| GraphMDN (Mean) |" in markdown and "scoring convention 'paper'" in markdown
    assert "accuracy.json" in capsys.readouterr().out
    # A second run with the same settings reuses the finished runs instead of training again.
    quick = AccuracySettings(data_dir=data_dir, models=("graphmdn",), epochs=EPOCHS, seeds=(0,))
    again = run_accuracy_benchmark(out, quick)
    assert all(run["reused"] for run in again["runs"])
    assert again["summary"]["GraphMDN (Mean)"] == summary["GraphMDN (Mean)"]
    # Different settings in the same folder are refused, not silently mixed.
    with pytest.raises(ValueError, match="holds a finished run with other settings \\(epochs\\)"):
        run_accuracy_benchmark(
            out, AccuracySettings(data_dir=data_dir, models=("graphmdn",), epochs=1, seeds=(0,))
        )


def test_bad_benchmark_settings_are_one_line_errors(tmp_path, capsys):
    assert main(["bench", "accuracy", "--output-dir", str(tmp_path)]) == 2  # cmu without --data-dir
    assert "Expected --data-dir" in capsys.readouterr().err
    with pytest.raises(ValueError, match="at least one seed"):
        run_accuracy_benchmark(tmp_path, AccuracySettings(data_dir=str(tmp_path), seeds=()))
