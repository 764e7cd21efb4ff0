"""graphmdn_tf/evaluation/run.py: `evaluate_run` on a run directory against independent NumPy, and its refusals."""

import keras
import numpy as np
import pytest

from graphmdn_tf.cli import main
from graphmdn_tf.data.pipeline import config_splits, load_samples
from graphmdn_tf.evaluation import combine_results, evaluate_run
from graphmdn_tf.graphs import Graph
from tests.evaluation.cases import fixed_run, mpjpe, numpy_errors, paper_average
from tests.numpy_reference import pose_level_nll


def test_evaluate_run_on_a_fixed_tiny_model(tmp_path):
    config, run_dir, model = fixed_run(tmp_path, "graphmdn")
    result = evaluate_run(run_dir, num_samples=10, progress=False)
    for name in ("results.md", "results.csv", "results.json", "results_per_action.png"):
        assert (run_dir / name).stat().st_size > 0
    test = load_samples("synthetic", subjects=config.test_subjects, stride=8, progress=False)
    outputs = {
        k: np.asarray(v, np.float64) for k, v in model.predict(test.inputs_2d, verbose=0).items()
    }
    expected = numpy_errors(outputs, test.targets_3d, "paper")
    labels = test.action_classes
    for name in ("highest", "mean", "oracle"):
        _, p1 = paper_average(expected[name][1], labels)
        _, p2 = paper_average(expected[name][2], labels)
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

    _, semgcn_dir, semgcn = fixed_run(tmp_path, "semgcn")
    baseline = evaluate_run(semgcn_dir, num_samples=10, progress=False, write=False)
    assert baseline.methods() == ["SemGCN"] and baseline.test_nll == {}
    predicted = semgcn.predict(test.inputs_2d, verbose=0)
    _, p1 = paper_average(
        1000 * mpjpe(predicted - predicted[:, :1], test.targets_3d), labels
    )  # re-centred
    assert baseline.row(1, "SemGCN").average == pytest.approx(p1, rel=1e-3)
    raw = evaluate_run(semgcn_dir, num_samples=0, convention="raw", progress=False, write=False)
    _, raw_p1 = paper_average(1000 * mpjpe(predicted, test.targets_3d), labels)
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


def test_evaluate_run_refuses_a_missing_run_and_a_bad_num_samples(tmp_path):
    with pytest.raises(FileNotFoundError, match="Expected a finished training run"):
        evaluate_run(tmp_path)
    _, run_dir, _ = fixed_run(tmp_path, "graphmdn")
    for bad in (-1, 2.0, True):
        with pytest.raises(ValueError, match="Expected num_samples to be an integer >= 0"):
            evaluate_run(run_dir, num_samples=bad)


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
    _, run_dir, _ = fixed_run(tmp_path, "graphmdn")
    (run_dir / "config.json").write_text(text)
    with pytest.raises(
        ValueError,
        match=rf"{run_dir / 'config.json'}: not a valid graphmdn-tf training config \(.*{reason}",
    ):
        evaluate_run(run_dir, num_samples=0, progress=False)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_a_bad_batch_size_is_refused(tmp_path, batch_size):
    _, run_dir, _ = fixed_run(tmp_path, "graphmdn")
    with pytest.raises(
        ValueError,
        match=rf"Expected batch_size to be a positive integer. Received: batch_size={batch_size!r}",
    ):
        evaluate_run(run_dir, num_samples=0, batch_size=batch_size, progress=False)


def test_models_that_are_not_ours_are_refused_naming_the_file(tmp_path):
    from graphmdn_tf.graphs import MAX_NODES

    _, run_dir, _ = fixed_run(tmp_path, "graphmdn")
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


def test_a_run_is_evaluated_on_other_data_without_touching_its_own_results(tmp_path):
    config, run_dir, model = fixed_run(tmp_path, "graphmdn")
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
    _, p1 = paper_average(
        numpy_errors(outputs, s1.targets_3d, "paper")["mean"][1], s1.action_classes
    )
    assert other.row(1, "GraphMDN (Mean)").average == pytest.approx(p1, rel=1e-3)


def test_a_run_is_evaluated_on_its_validation_split(tmp_path):
    config, run_dir, model = fixed_run(tmp_path, "graphmdn", validation_holdout=0.25)
    result = evaluate_run(run_dir, num_samples=0, progress=False, split="validation")
    target = run_dir / "evaluations" / "validation"
    assert (target / "results.json").is_file() and not (run_dir / "results.json").exists()
    _, validation = config_splits(config, progress=False)
    assert result.num_frames == len(validation) and "its validation split" in result.notes[0]
    outputs = {
        k: np.asarray(v, np.float64)
        for k, v in model.predict(validation.inputs_2d, verbose=0).items()
    }
    _, p1 = paper_average(
        numpy_errors(outputs, validation.targets_3d, "paper")["mean"][1],
        validation.action_classes,
    )
    assert result.row(1, "GraphMDN (Mean)").average == pytest.approx(p1, rel=1e-3)
    with pytest.raises(ValueError, match=r"Expected split to be one of \('test', 'validation'\)"):
        evaluate_run(run_dir, split="train", progress=False)
    with pytest.raises(
        ValueError,
        match=r"Expected no data settings or stride with split='validation'.*test_subjects",
    ):
        evaluate_run(run_dir, split="validation", test_subjects="S1", progress=False)


def test_results_in_a_users_folder_replace_only_what_evaluate_wrote_there(tmp_path, capsys):
    from graphmdn_tf.written import NotOurFileError, written_names

    _, run_dir, _ = fixed_run(tmp_path, "graphmdn")
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
    assert main(["evaluate", str(run_dir), "--output-dir", str(theirs), "--num-samples", "0"]) == 2
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
