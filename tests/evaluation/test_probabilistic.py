"""graphmdn_tf/evaluation/probabilistic.py: the uncertainty summary, its plots and TensorBoard, through `evaluate_run`."""

import numpy as np
import pytest
import tensorflow as tf

from graphmdn_tf.data.pipeline import load_samples
from graphmdn_tf.evaluation import evaluate_run, method_names
from graphmdn_tf.skeletons import H36M_16
from tests.evaluation.cases import fixed_run
from tests.training.conftest import read_events


def test_evaluate_run_writes_the_uncertainty_plots_and_tensorboard(tmp_path):
    config, run_dir, model = fixed_run(tmp_path, "graphmdn")
    result = evaluate_run(run_dir, num_samples=0, progress=False)
    test = load_samples("synthetic", subjects=config.test_subjects, stride=8, progress=False)
    outputs = {
        k: np.asarray(v, np.float64) for k, v in model.predict(test.inputs_2d, verbose=0).items()
    }
    # Every selection that needs no ground truth is in the tables (the run's training priors and the
    # test sequences are at hand), beside Highest, Mean and the Oracles.
    names = method_names(
        "graphmdn",
        "standard",
        [
            "highest",
            "mean",
            "reprojection",
            "reprojection_weighted",
            "skeleton",
            "temporal",
            "temporal_causal",
            "oracle",
            "oracle_joint",
        ],
    )
    assert result.methods() == list(names.values())
    summary = result.uncertainty["GraphMDN"]
    assert summary["nll"] == pytest.approx(result.test_nll["GraphMDN"])
    pi = np.exp(outputs["pi_logits"] - outputs["pi_logits"].max(1, keepdims=True))
    pi /= pi.sum(1, keepdims=True)
    entropy = -(pi * np.log(pi)).sum(1)
    assert summary["effective_kernels"] == pytest.approx(np.exp(entropy).mean(), rel=1e-4)
    assert list(summary["nll_per_joint"]) == list(H36M_16.joint_names) and 0 <= summary["ece"] <= 1
    assert summary["sharpness_mm"]["50"] < summary["sharpness_mm"]["90"]
    curve = summary["calibration"]
    assert summary["coverage_90"] == curve["observed"][curve["levels"].index(pytest.approx(0.9))]
    markdown = (run_dir / "results.md").read_text()
    assert (
        "### Uncertainty (the mixture's own distribution)" in markdown
        and "NLL per joint" in markdown
    )
    for name in ("results_calibration.png", "results_diversity.png"):
        assert (run_dir / name).read_bytes()[:4] == b"\x89PNG"
    events = read_events(run_dir / "logs" / "evaluation")
    assert events["protocol1/GraphMDN (Mean)"] == [
        (0, pytest.approx(result.row(1, "GraphMDN (Mean)").average))
    ]
    assert events["pck/GraphMDN (Skeleton prior)"][0][1] == pytest.approx(
        result.row("pck", "GraphMDN (Skeleton prior)").average
    )
    assert events["uncertainty/ece/GraphMDN"][0][1] == pytest.approx(summary["ece"])
    assert {"evaluation/png", "evaluation/calibration", "evaluation/diversity"} <= set(events)
    # The event holds the plot's pixels (tf.summary.image re-encodes them).
    np.testing.assert_array_equal(
        tf.image.decode_png(events["evaluation/calibration"][0][1]).numpy(),
        tf.image.decode_png((run_dir / "results_calibration.png").read_bytes()).numpy(),
    )
    # A second evaluation replaces the first one's events instead of adding a second run's worth.
    evaluate_run(run_dir, num_samples=0, progress=False)
    assert len(list((run_dir / "logs" / "evaluation").glob("events.out.tfevents.*"))) == 1
    # A point estimate has no uncertainty section and no uncertainty plots.
    _, semgcn_dir, _ = fixed_run(tmp_path, "semgcn")
    baseline = evaluate_run(semgcn_dir, num_samples=0, progress=False)
    assert baseline.uncertainty == {} and not (semgcn_dir / "results_calibration.png").exists()
    assert "### Uncertainty" not in (semgcn_dir / "results.md").read_text()
