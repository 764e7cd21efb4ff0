"""Evaluation math against independent NumPy: hypotheses, both protocols, the paper's per-action average."""

import csv
import io
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from graphmdn_tf.cli import main
from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.data.pipeline import load_samples
from graphmdn_tf.evaluation import (
    EvaluationResult,
    action_order,
    combine_results,
    evaluate_model,
    evaluate_run,
    method_names,
    result_rows,
    sequence_chunks,
    sequence_index,
)
from graphmdn_tf.graphs import Graph
from graphmdn_tf.models import GraphMDN, SemGCN
from graphmdn_tf.skeletons import H36M_16
from tests.numpy_reference import pose_level_nll
from tests.training.conftest import read_events


def _procrustes_error(predicted, target):
    """Per-frame P-MPJPE by the textbook Umeyama solution, one frame at a time."""
    errors = []
    for p, t in zip(predicted.astype(np.float64), target.astype(np.float64)):
        p0, t0 = p - p.mean(0), t - t.mean(0)
        u, s, vt = np.linalg.svd(p0.T @ t0)
        d = np.sign(np.linalg.det(u @ vt))
        correction = np.diag([1.0, 1.0, d])
        rotation = u @ correction @ vt
        scale = (s * np.diag(correction)).sum() / (p0**2).sum()
        aligned = scale * p0 @ rotation + t.mean(0)
        errors.append(np.linalg.norm(aligned - t, axis=-1).mean())
    return np.array(errors)


def _mpjpe(predicted, target):
    return np.linalg.norm(predicted - target, axis=-1).mean(-1)


def _numpy_hypotheses(mu, pi_logits, targets):
    pi = np.exp(pi_logits - pi_logits.max(1, keepdims=True))
    pi /= pi.sum(1, keepdims=True)
    rows = np.arange(len(mu))
    kernel_errors = np.stack([_mpjpe(mu[:, k], targets) for k in range(mu.shape[1])], axis=1)
    return {
        "highest": mu[rows, pi.argmax(1)],
        "mean": (pi[:, :, None, None] * mu).sum(1),
        "oracle": mu[rows, kernel_errors.argmin(1)],
    }


def _numpy_errors(outputs, targets, convention):
    """{hypothesis: {protocol: per-frame mm}} by the textbook formulas, under a scoring convention."""
    mu = np.array(outputs["mu"], np.float64)
    if convention == "paper":
        mu[:, :, 0] = 0.0  # the authors' main_eval.py: every kernel's root joint at the origin
    poses = _numpy_hypotheses(mu, np.asarray(outputs["pi_logits"], np.float64), targets)
    errors = {
        name: {1: 1000 * _mpjpe(pose, targets), 2: 1000 * _procrustes_error(pose, targets)}
        for name, pose in poses.items()
    }
    if convention == "paper":  # the Protocol #2 Oracle is the kernel best after alignment
        per_kernel = np.stack(
            [_procrustes_error(mu[:, k], targets) for k in range(mu.shape[1])], axis=1
        )
        errors["oracle"][2] = 1000 * per_kernel.min(axis=1)
    return errors


def _paper_average(per_frame, labels):
    classes = sorted(set(labels))
    per_action = {a: per_frame[labels == a].mean() for a in classes}
    return per_action, np.mean(list(per_action.values()))


def _errors_and_nll(*args, **kwargs):
    frames = evaluate_model(*args, **kwargs)
    return frames.errors, frames.nll


class _LookupModel:
    """Returns fixed mixture parameters; input row i carries its frame index in inputs[i, 0, 0]."""

    def __init__(self, outputs):
        self.outputs = outputs

    def predict_on_batch(self, inputs):
        rows = inputs[:, 0, 0].astype(int)
        return {key: value[rows] for key, value in self.outputs.items()}


@pytest.fixture
def hand_made(rng):
    frames, kernels = 40, 3
    targets = rng.normal(scale=0.2, size=(frames, 16, 3)).astype(np.float32)
    mu = (targets[:, None] + rng.normal(scale=0.05, size=(frames, kernels, 16, 3))).astype(
        np.float32
    )
    outputs = {
        "mu": mu,
        "sigma": rng.uniform(0.02, 0.1, (frames, kernels)).astype(np.float32),
        "pi_logits": rng.normal(size=(frames, kernels)).astype(np.float32),
    }
    inputs = np.zeros((frames, 16, 2), np.float32)
    inputs[:, 0, 0] = np.arange(frames)
    labels = np.array(
        ["Walking"] * 30 + ["Sitting"] * 10
    )  # unbalanced: the paper's average is unweighted
    return inputs, targets, outputs, labels


@pytest.mark.parametrize("convention", ["paper", "raw"])
def test_tables_match_numpy(hand_made, convention):
    inputs, targets, outputs, labels = hand_made
    errors, nll = _errors_and_nll(
        _LookupModel(outputs), inputs, targets, batch_size=16, convention=convention, progress=False
    )
    rows = result_rows(errors, labels, method_names("graphmdn", "standard", errors))
    result = EvaluationResult(
        actions=action_order(labels), rows=rows, num_frames=len(targets), convention=convention
    )
    assert result.actions == ("Sitting", "Walking")
    for name, by_protocol in _numpy_errors(outputs, targets, convention).items():
        for protocol, per_frame in by_protocol.items():
            per_action, average = _paper_average(per_frame, labels)
            row = result.row(protocol, f"GraphMDN ({name.capitalize()})")
            np.testing.assert_allclose(
                [row.per_action[a] for a in per_action], list(per_action.values()), rtol=1e-4
            )
            assert row.average == pytest.approx(average, rel=1e-4)
            assert row.average != pytest.approx(per_frame.mean(), rel=1e-3)  # not frame-weighted
    expected_nll = pose_level_nll(
        targets.astype(np.float64),
        outputs["mu"].astype(np.float64),
        outputs["sigma"].astype(np.float64),
        outputs["pi_logits"].astype(np.float64),
    )
    np.testing.assert_allclose(nll, expected_nll, rtol=1e-4)
    assert np.all(
        errors["oracle"][1] <= errors["highest"][1] + 1e-9
    )  # the Oracle's pick is never worse
    assert f"Scoring convention '{convention}'" in result.to_markdown()


def test_the_conventions_differ_where_they_should(hand_made):
    inputs, targets, outputs, _ = hand_made
    paper, paper_nll = _errors_and_nll(
        _LookupModel(outputs), inputs, targets, progress=False
    )  # the default
    raw, raw_nll = _errors_and_nll(
        _LookupModel(outputs), inputs, targets, convention="raw", progress=False
    )
    np.testing.assert_array_equal(paper_nll, raw_nll)  # the density is the model's own under both
    # The hand-made kernels' root joint is off the origin, so the two score differently (the exact
    # values are checked against NumPy above).
    assert not np.allclose(paper["mean"][1], raw["mean"][1])
    assert np.all(
        paper["oracle"][2] <= paper["highest"][2] + 1e-9
    )  # the aligned Oracle is never worse
    with pytest.raises(
        ValueError,
        match=r"Expected convention to be one of \('paper', 'raw'\)\. Received: convention='mine'",
    ):
        evaluate_model(_LookupModel(outputs), inputs, targets, convention="mine", progress=False)


def test_best_of_samples_with_tiny_sigma_is_the_oracle(hand_made):
    inputs, targets, outputs, _ = hand_made
    sharp = dict(
        outputs,
        sigma=np.full_like(outputs["sigma"], 1e-6),
        pi_logits=np.zeros_like(outputs["pi_logits"]),
    )
    errors, _ = _errors_and_nll(
        _LookupModel(sharp), inputs, targets, num_samples=64, progress=False
    )
    np.testing.assert_allclose(errors["best_of_64"][1], errors["oracle"][1], atol=1e-2)  # mm
    broad = dict(outputs, sigma=np.full_like(outputs["sigma"], 0.05))
    errors, _ = _errors_and_nll(_LookupModel(broad), inputs, targets, num_samples=8, progress=False)
    assert np.all(errors["best_of_8"][1] > 0)
    again, _ = _errors_and_nll(_LookupModel(broad), inputs, targets, num_samples=8, progress=False)
    np.testing.assert_array_equal(
        again["best_of_8"][1], errors["best_of_8"][1]
    )  # seeded: reproducible
    other, _ = _errors_and_nll(
        _LookupModel(broad), inputs, targets, num_samples=8, seed=1, progress=False
    )
    assert not np.array_equal(other["best_of_8"][1], errors["best_of_8"][1])


def test_markdown_and_csv_hold_the_rows(hand_made):
    inputs, targets, outputs, labels = hand_made
    errors, _ = _errors_and_nll(_LookupModel(outputs), inputs, targets, progress=False)
    ambiguous = np.zeros(len(targets), bool)
    ambiguous[[2, 5, 33]] = True
    result = EvaluationResult(
        actions=("Walking", "Sitting"),
        rows=result_rows(errors, labels, method_names("graphmdn", "wide", errors), ambiguous),
        test_nll={"GraphMDN (Wide)": -12.5},
        num_frames=40,
        num_ambiguous=3,
    )
    markdown = result.to_markdown()
    for title in (
        "Protocol #1 (MPJPE, mm)",
        "Protocol #2 (P-MPJPE, mm)",
        "PCK at 150 mm",
        "AUC of PCK over 0-150 mm",
    ):
        assert f"### {title}" in markdown
    assert (
        "| Method | Walk | Sitting | Avg. | Ambig. |" in markdown
        and "| GraphMDN (Wide) | -12.50 |" in markdown
    )
    oracle = result.row(1, "GraphMDN (Oracle, Wide)")
    assert f"| GraphMDN (Oracle, Wide) | {oracle.per_action['Walking']:.1f}" in markdown
    assert (
        f"| {oracle.average:.1f} | {oracle.ambiguous:.1f} |" in markdown
        and "mean over the 3 ambiguous" in markdown
    )
    # The 'Ambig.' column is the plain mean over the flagged samples, for every selection and metric.
    for name, label in method_names("graphmdn", "wide", errors).items():
        for metric in (1, 2, "pck", "auc"):
            assert result.row(metric, label).ambiguous == pytest.approx(
                errors[name][metric][ambiguous].mean()
            )
    table = list(csv.DictReader(io.StringIO(result.to_csv())))
    assert len(table) == 4 * len(result.methods()) and set(table[0]) == {
        "protocol",
        "method",
        "Walking",
        "Sitting",
        "average",
        "ambiguous",
    }
    assert [row["protocol"] for row in table[:: len(result.methods())]] == ["1", "2", "pck", "auc"]
    first = table[0]
    assert float(first["average"]) == pytest.approx(
        result.row(1, first["method"]).average, abs=1e-3
    )
    assert float(first["ambiguous"]) == pytest.approx(
        result.row(1, first["method"]).ambiguous, abs=1e-3
    )
    assert EvaluationResult.from_dict(result.to_dict()) == result
    # Without an ambiguous sample the column holds '-' (markdown) and '' (CSV), never a made-up number.
    empty = EvaluationResult(
        actions=("Walking", "Sitting"), rows=result_rows(errors, labels, {"mean": "M"})
    )
    assert (
        "| - |" in empty.to_markdown()
        and list(csv.DictReader(io.StringIO(empty.to_csv())))[0]["ambiguous"] == ""
    )


def test_method_names_follow_the_paper():
    names = method_names("graphmdn", "wide", ["highest", "mean", "oracle", "best_of_200"])
    assert names == {
        "highest": "GraphMDN (Highest, Wide)",
        "mean": "GraphMDN (Mean, Wide)",
        "oracle": "GraphMDN (Oracle, Wide)",
        "best_of_200": "GraphMDN (Best of 200 samples, Wide)",
    }
    assert method_names("semgcn", "standard", ["prediction"]) == {"prediction": "SemGCN"}
    assert method_names("graphmdn", "k8", ["mean"]) == {"mean": "GraphMDN (Mean, K8)"}
    assert method_names("graphmdn", "standard", ["mean"], mixture="node") == {
        "mean": "GraphMDN (Mean, Node)"
    }
    assert method_names("semgcn", "standard", ["prediction"], mixture="node") == {
        "prediction": "SemGCN"
    }
    assert action_order(["Walking", "Balance", "Directions"]) == (
        "Directions",
        "Walking",
        "Balance",
    )


def _fixed_run(tmp_path, model_name):
    config = TrainingConfig.from_preset(
        "standard", model=model_name, hidden_dim=8, num_blocks=1, num_kernels=3, stride=8
    )
    run_dir = tmp_path / model_name
    run_dir.mkdir()
    config.to_json(run_dir / "config.json")
    keras.utils.set_random_seed(7)
    model = (
        GraphMDN(hidden_dim=8, num_blocks=1, num_kernels=3)
        if model_name == "graphmdn"
        else SemGCN(hidden_dim=8, num_blocks=1)
    )
    model(np.zeros((1, 16, 2), np.float32))
    model.save(run_dir / "model.keras")
    return config, run_dir, model


def test_evaluate_run_on_a_fixed_tiny_model(tmp_path):
    config, run_dir, model = _fixed_run(tmp_path, "graphmdn")
    result = evaluate_run(run_dir, num_samples=10, progress=False)
    for name in ("results.md", "results.csv", "results.json", "results_per_action.png"):
        assert (run_dir / name).stat().st_size > 0
    test = load_samples("synthetic", subjects=config.test_subjects, stride=8, progress=False)
    outputs = {
        k: np.asarray(v, np.float64) for k, v in model.predict(test.inputs_2d, verbose=0).items()
    }
    expected = _numpy_errors(outputs, test.targets_3d, "paper")
    labels = test.action_classes
    for name in ("highest", "mean", "oracle"):
        _, p1 = _paper_average(expected[name][1], labels)
        _, p2 = _paper_average(expected[name][2], labels)
        assert result.row(1, f"GraphMDN ({name.capitalize()})").average == pytest.approx(
            p1, rel=1e-3
        )
        assert result.row(2, f"GraphMDN ({name.capitalize()})").average == pytest.approx(
            p2, rel=1e-3
        )
    nll = pose_level_nll(
        test.targets_3d.astype(np.float64), outputs["mu"], outputs["sigma"], outputs["pi_logits"]
    )
    assert result.test_nll["GraphMDN"] == pytest.approx(nll.mean(), rel=1e-3)
    assert result.methods()[-2:] == [
        "GraphMDN (Best of 10 samples)",
        "GraphMDN (Best joints of 10 samples)",
    ]
    assert result.num_frames == len(test) and result.metrics() == [1, 2, "pck", "auc"]
    assert result.actions[:3] == ("Directions", "Discussion", "Eating")

    _, semgcn_dir, semgcn = _fixed_run(tmp_path, "semgcn")
    baseline = evaluate_run(semgcn_dir, num_samples=10, progress=False, write=False)
    assert baseline.methods() == ["SemGCN"] and baseline.test_nll == {}
    predicted = semgcn.predict(test.inputs_2d, verbose=0)
    _, p1 = _paper_average(
        1000 * _mpjpe(predicted - predicted[:, :1], test.targets_3d), labels
    )  # re-centred
    assert baseline.row(1, "SemGCN").average == pytest.approx(p1, rel=1e-3)
    raw = evaluate_run(semgcn_dir, num_samples=0, convention="raw", progress=False, write=False)
    _, raw_p1 = _paper_average(1000 * _mpjpe(predicted, test.targets_3d), labels)
    assert (
        raw.row(1, "SemGCN").average == pytest.approx(raw_p1, rel=1e-3) and raw.convention == "raw"
    )
    with pytest.raises(ValueError, match="one convention"):
        combine_results([result, raw])
    combined = combine_results([result, baseline])
    assert combined.methods() == result.methods() + ["SemGCN"]
    per_metric = len(result.methods()) + 1
    assert [row.protocol for row in combined.rows] == [1] * per_metric + [2] * per_metric + [
        "pck"
    ] * per_metric + ["auc"] * per_metric
    paths = combined.write(tmp_path / "comparison", "comparison")
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"
    # Two runs with the same labels cannot be combined silently: rows would shadow each other.
    with pytest.raises(
        ValueError, match=r"Expected distinct method names .* Repeated: \['SemGCN'\]"
    ):
        combine_results([baseline, baseline])


def test_evaluate_run_writes_the_uncertainty_plots_and_tensorboard(tmp_path):
    config, run_dir, model = _fixed_run(tmp_path, "graphmdn")
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
    _, semgcn_dir, _ = _fixed_run(tmp_path, "semgcn")
    baseline = evaluate_run(semgcn_dir, num_samples=0, progress=False)
    assert baseline.uncertainty == {} and not (semgcn_dir / "results_calibration.png").exists()
    assert "### Uncertainty" not in (semgcn_dir / "results.md").read_text()


def test_sequence_index_and_chunks():
    subjects = np.array(["S1"] * 5 + ["S5"] * 4)
    actions = np.array(["Walking 1"] * 3 + ["Eating"] * 2 + ["Eating"] * 4)
    cameras = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1])
    ids, frames = sequence_index(subjects, actions, cameras)
    np.testing.assert_array_equal(ids, [0, 0, 0, 1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(frames, [0, 1, 2, 0, 1, 0, 1, 0, 1])
    sequence_ids = np.repeat([0, 1, 2, 3], [3, 2, 6, 1])
    chunks = sequence_chunks(sequence_ids, batch_size=5)
    assert [(c.start, c.stop) for c in chunks] == [
        (0, 5),
        (5, 11),
        (11, 12),
    ]  # whole sequences; 6 > 5 alone
    assert [(c.start, c.stop) for c in sequence_chunks(sequence_ids, batch_size=100)] == [(0, 12)]
    for batch_size in (1, 2, 3, 7):  # every row once, in order, no sequence cut
        chunks = sequence_chunks(sequence_ids, batch_size)
        np.testing.assert_array_equal(
            np.concatenate([np.arange(c.start, c.stop) for c in chunks]), np.arange(12)
        )
        assert all(
            c.start == 0 or sequence_ids[c.start] != sequence_ids[c.start - 1] for c in chunks
        )


def test_evaluation_errors(tmp_path, hand_made):
    with pytest.raises(FileNotFoundError, match="Expected a finished training run"):
        evaluate_run(tmp_path)
    _, run_dir, _ = _fixed_run(tmp_path, "graphmdn")
    for bad in (-1, 2.0, True):
        with pytest.raises(ValueError, match="Expected num_samples to be an integer >= 0"):
            evaluate_run(run_dir, num_samples=bad)
    with pytest.raises(ValueError, match="at least one EvaluationResult"):
        combine_results([])
    inputs, targets, outputs, labels = hand_made
    errors, _ = _errors_and_nll(_LookupModel(outputs), inputs, targets, progress=False)
    result = EvaluationResult(
        actions=("Sitting", "Walking"),
        rows=result_rows(errors, labels, method_names("graphmdn", "standard", errors)),
    )
    other = EvaluationResult(actions=("Running",), rows=())
    with pytest.raises(ValueError, match="same actions"):
        combine_results([result, other])
    with pytest.raises(KeyError, match="No row 'SemGCN' under Protocol #1"):
        result.row(1, "SemGCN")


@pytest.mark.parametrize(
    "text, reason",
    [
        ("{not json", "Expecting property name"),
        ('{"epochs": "two"}', "Expected epochs to be an integer >= 1"),
        ('{"seed": [1]}', "Expected seed to be an integer >= 0"),
        ('{"colour": "red"}', r"Unknown TrainingConfig field\(s\) \['colour'\]"),
        ("[1, 2]", "Expected a training config"),
    ],
)
def test_a_corrupt_or_wrongly_typed_config_is_named(tmp_path, text, reason):
    _, run_dir, _ = _fixed_run(tmp_path, "graphmdn")
    (run_dir / "config.json").write_text(text)
    with pytest.raises(
        ValueError,
        match=rf"{run_dir / 'config.json'}: not a valid graphmdn-tf training config \(.*{reason}",
    ):
        evaluate_run(run_dir, num_samples=0, progress=False)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_a_bad_batch_size_is_refused(tmp_path, batch_size):
    _, run_dir, _ = _fixed_run(tmp_path, "graphmdn")
    with pytest.raises(
        ValueError,
        match=rf"Expected batch_size to be a positive integer. Received: batch_size={batch_size!r}",
    ):
        evaluate_run(run_dir, num_samples=0, batch_size=batch_size, progress=False)


def test_models_that_are_not_ours_are_refused_naming_the_file(tmp_path):
    from graphmdn_tf.graphs import MAX_NODES

    _, run_dir, _ = _fixed_run(tmp_path, "graphmdn")
    path = run_dir / "model.keras"
    keras.Sequential([keras.Input((16, 2)), keras.layers.Dense(3)]).save(
        path
    )  # a model, but not one of ours
    with pytest.raises(
        ValueError, match=rf"{path}: not a graphmdn_tf model file: it holds a Sequential"
    ):
        evaluate_run(run_dir, num_samples=0, progress=False)
    # A Lambda layer is code: Keras' safe mode refuses it, and the error says what the file is not.
    keras.Sequential([keras.Input((16, 2)), keras.layers.Lambda(lambda x: x * 2)]).save(path)
    with pytest.raises(
        ValueError, match=rf"{path}: not a graphmdn_tf model file \(ValueError: .*Lambda"
    ):
        evaluate_run(run_dir, num_samples=0, progress=False)
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=rf"{path}: not a graphmdn_tf model file \("):
        evaluate_run(run_dir, num_samples=0, progress=False)
    # A graph far beyond the dense layers' reach is refused before anything is allocated.
    with pytest.raises(
        ValueError,
        match=rf"Expected num_nodes to be an integer in \[1, {MAX_NODES}\].*Received: num_nodes=300000",
    ):
        Graph(300_000)


def test_evaluate_command_prints_one_line_errors(tmp_path, capsys):
    from graphmdn_tf.cli import main

    _, run_dir, _ = _fixed_run(tmp_path, "graphmdn")
    assert main(["evaluate", str(run_dir), "--batch-size", "0", "--num-samples", "0"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "Expected batch_size to be a positive integer" in error


def test_a_run_is_evaluated_on_other_data_without_touching_its_own_results(tmp_path):
    config, run_dir, model = _fixed_run(tmp_path, "graphmdn")
    own = evaluate_run(run_dir, num_samples=0, progress=False)
    own_table = (run_dir / "results.md").read_text()
    # Other subjects of the same data: RUN_DIR/evaluations/<data>/, with the tables of those samples.
    other = evaluate_run(run_dir, num_samples=0, test_subjects="S1", progress=False)
    target = run_dir / "evaluations" / "synthetic-gt-S1"
    assert (target / "results.md").is_file() and (run_dir / "results.md").read_text() == own_table
    s1 = load_samples("synthetic", subjects=("S1",), stride=8, progress=False)
    assert (
        other.num_frames == len(s1) != own.num_frames
        and "evaluated on synthetic S1 (gt)" in other.notes[0]
    )
    outputs = {
        k: np.asarray(v, np.float64) for k, v in model.predict(s1.inputs_2d, verbose=0).items()
    }
    _, p1 = _paper_average(
        _numpy_errors(outputs, s1.targets_3d, "paper")["mean"][1], s1.action_classes
    )
    assert other.row(1, "GraphMDN (Mean)").average == pytest.approx(p1, rel=1e-3)


def test_a_user_data_set_of_any_name_is_evaluated_from_the_command_line(tmp_path, capsys):
    _, run_dir, _ = _fixed_run(tmp_path, "graphmdn")
    data_dir = tmp_path / "mine"
    data_dir.mkdir()
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cmu"
    shutil.copy(shared / "data_3d_cmu.npz", data_dir / "data_3d_studio.npz")
    shutil.copy(shared / "data_2d_cmu_gt.npz", data_dir / "data_2d_studio_gt.npz")
    cache = tmp_path / "cache"
    code = main(
        [
            "evaluate",
            str(run_dir),
            "--dataset",
            "studio",
            "--data-dir",
            str(data_dir),
            "--num-samples",
            "0",
            "--test-subjects",
            "S7",
            "--cache-dir",
            str(cache),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    target = run_dir / "evaluations" / "studio-gt-S7"
    # The files listed are the ones written: a mixture's plots included, nothing that is not there.
    listed = out.split(f"Written in {target}: ")[1].split(";")[0].split(", ")
    assert listed == [
        "results.md",
        "results.csv",
        "results.json",
        "results_per_action.png",
        "results_calibration.png",
        "results_diversity.png",
    ]
    assert all((target / name).is_file() for name in listed) and (target / "results.json").is_file()
    assert list(
        (cache / "converted").glob("data_3d_studio-*.npz")
    )  # --cache-dir: the converted copy went there
    assert not (run_dir / "results.md").exists()
    code = main(["evaluate", str(run_dir), "--dataset", "studio", "--data-dir", str(data_dir)])
    assert (
        code == 2 and "S9" in capsys.readouterr().err
    )  # no default split for 'studio': the run's S9, S11 stay


def test_a_dataset_without_a_default_split_needs_subjects():
    with pytest.raises(
        ValueError,
        match=r"non-empty train_subjects and test_subjects \(dataset 'studio' has no default",
    ):
        TrainingConfig.from_preset("standard", dataset="studio", data_dir="x")
    assert TrainingConfig.from_preset(
        "standard", dataset="studio", data_dir="x", train_subjects="S1", test_subjects="S7"
    ).validation_split == ("S7",)
    with pytest.raises(ValueError, match="Expected dataset to be a name like"):
        TrainingConfig.from_preset(
            "standard", dataset="../etc", data_dir="x", train_subjects="S1", test_subjects="S7"
        )


def test_results_in_a_users_folder_replace_only_what_evaluate_wrote_there(tmp_path, capsys):
    from graphmdn_tf.written import NotOurFileError, written_names

    _, run_dir, _ = _fixed_run(tmp_path, "graphmdn")
    mine = tmp_path / "mine"
    (mine / "logs" / "evaluation").mkdir(parents=True)
    foreign_events = mine / "logs" / "evaluation" / "events.out.tfevents.0.theirs"
    foreign_events.write_bytes(b"the user's own TensorBoard run")
    evaluate_run(run_dir, num_samples=0, progress=False, results_dir=mine)
    logs = mine / "logs" / "evaluation"
    ours = set(logs.glob("events.out.tfevents.*")) - {foreign_events}
    assert len(ours) == 1 and (mine / "results.md").is_file()
    # Again: its own files and event file are replaced; the user's event file stays as it was.
    evaluate_run(run_dir, num_samples=0, progress=False, results_dir=mine)
    again = set(logs.glob("events.out.tfevents.*")) - {foreign_events}
    assert (
        len(again) == 1
        and again != ours
        and foreign_events.read_bytes() == b"the user's own TensorBoard run"
    )
    # The manifest lists the event file that exists, not the one it replaced.
    assert {name for name in written_names(logs) if name.startswith("events.")} == {
        path.name for path in again
    }
    # A results file the user wrote is never replaced: refused before anything is written.
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "results.csv").write_text("my table")
    with pytest.raises(NotOurFileError, match=r"theirs/results\.csv: not written by graphmdn-tf"):
        evaluate_run(run_dir, num_samples=0, progress=False, results_dir=theirs)
    assert sorted(path.name for path in theirs.iterdir()) == ["results.csv"]
    assert (theirs / "results.csv").read_text() == "my table"
    # The command refuses before evaluating anything: the run's own results are not written either.
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--results-dir", str(theirs), "--num-samples", "0"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "results.csv: not written by graphmdn-tf" in error
    (theirs / "comparison.md").write_text("my comparison")
    assert (
        main(
            [
                "evaluate",
                str(run_dir),
                str(run_dir),
                "--output-dir",
                str(theirs),
                "--num-samples",
                "0",
            ]
        )
        == 2
    )
    assert "comparison.md: not written by graphmdn-tf" in capsys.readouterr().err
    assert (
        not (run_dir / "results.md").exists()
        and (theirs / "comparison.md").read_text() == "my comparison"
    )
