"""`graphmdn-tf evaluate` on the command line: one-line errors, a user's data set of any name."""

import shutil

from graphmdn_tf.cli import main
from tests.evaluation.cases import fixed_run


def test_evaluate_command_prints_one_line_errors(tmp_path, capsys):
    _, run_dir, _ = fixed_run(tmp_path, "graphmdn")
    assert main(["evaluate", str(run_dir), "--batch-size", "0", "--num-samples", "0"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "Expected --batch-size to be a positive integer" in error


def test_a_user_data_set_of_any_name_is_evaluated_from_the_command_line(tmp_path, capsys, cmu_dir):
    _, run_dir, _ = fixed_run(tmp_path, "graphmdn")
    data_dir = tmp_path / "mine"
    data_dir.mkdir()
    shared = cmu_dir
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
