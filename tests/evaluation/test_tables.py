"""graphmdn_tf/evaluation/tables.py: the paper's per-action tables against independent NumPy, markdown, CSV, JSON."""

import csv
import io

import numpy as np
import pytest

from graphmdn_tf.evaluation import (
    EvaluationResult,
    action_order,
    combine_results,
    method_names,
    result_rows,
)
from tests.evaluation.cases import LookupModel, errors_and_nll, numpy_errors, paper_average
from tests.numpy_reference import pose_level_nll


@pytest.mark.parametrize("convention", ["paper", "raw"])
def test_tables_match_numpy(hand_made, convention):
    inputs, targets, outputs, labels = hand_made
    errors, nll = errors_and_nll(
        LookupModel(outputs), inputs, targets, batch_size=16, convention=convention, progress=False
    )
    rows = result_rows(errors, labels, method_names("graphmdn", "standard", errors))
    result = EvaluationResult(
        actions=action_order(labels), rows=rows, num_frames=len(targets), convention=convention
    )
    assert result.actions == ("Sitting", "Walking")
    for name, by_protocol in numpy_errors(outputs, targets, convention).items():
        for protocol, per_frame in by_protocol.items():
            per_action, average = paper_average(per_frame, labels)
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


def test_markdown_and_csv_hold_the_rows(hand_made):
    inputs, targets, outputs, labels = hand_made
    errors, _ = errors_and_nll(LookupModel(outputs), inputs, targets, progress=False)
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
    assert method_names("graphmdn", "standard", ["mean"], mixture_level="node") == {
        "mean": "GraphMDN (Mean, Node)"
    }
    assert method_names("semgcn", "standard", ["prediction"], mixture_level="node") == {
        "prediction": "SemGCN"
    }
    assert action_order(["Walking", "Balance", "Directions"]) == (
        "Directions",
        "Walking",
        "Balance",
    )


def test_combining_results_and_reading_rows_name_what_is_wrong(hand_made):
    with pytest.raises(ValueError, match="at least one EvaluationResult"):
        combine_results([])
    inputs, targets, outputs, labels = hand_made
    errors, _ = errors_and_nll(LookupModel(outputs), inputs, targets, progress=False)
    result = EvaluationResult(
        actions=("Sitting", "Walking"),
        rows=result_rows(errors, labels, method_names("graphmdn", "standard", errors)),
    )
    other = EvaluationResult(actions=("Running",), rows=())
    with pytest.raises(ValueError, match="same actions"):
        combine_results([result, other])
    with pytest.raises(KeyError, match="No row 'SemGCN' under Protocol #1"):
        result.row(1, "SemGCN")
