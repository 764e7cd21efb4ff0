"""`data synth` and `data check`, through the `graphmdn-tf` command line."""

import re

import numpy as np
import pytest

from graphmdn_tf.cli import main
from tests.data.npz_files import METADATA_17, write_npz


def run(argv):
    return main(argv)


def check(folder, dataset: str, cache_dir, *flags: str) -> int:
    """The exit code of `graphmdn-tf data check FOLDER --dataset DATASET --cache-dir CACHE_DIR FLAGS`."""
    return run(
        ["data", "check", str(folder), "--dataset", dataset, "--cache-dir", str(cache_dir), *flags]
    )


def test_synth_then_check(tmp_path, capsys):
    out = tmp_path / "synthetic"
    assert run(["data", "synth", "--output-dir", str(out), "--frames", "3", "--seed", "5"]) == 0
    assert sorted(path.name for path in out.iterdir()) == sorted(
        ["data_3d_synthetic.npz", "data_2d_synthetic_gt.npz", "data_2d_synthetic_sh_pt_mpii.npz"]
    )
    assert f"to {out}" in capsys.readouterr().out
    assert check(out, "synthetic", tmp_path / "cache", "--keypoints", "sh_pt_mpii") == 0
    printed = capsys.readouterr().out
    assert "joint order h36m16" in printed
    assert re.search(r"S11\s+WalkTogether 2\s+3\s+3\s+3\s+3\n", printed)
    assert re.search(
        r"all\s+\(total\)\s+630\s+630\s+630\s+630", printed
    )  # 7 subjects x 30 sequences x 3 frames
    assert "2520 samples (frame x camera) in 210 sequences of 7 subjects" in printed


def test_check_summarises_the_cmu_set(cmu_dir, tmp_path, capsys):
    assert check(cmu_dir, "cmu", tmp_path, "--keypoints", "gt") == 0
    printed = capsys.readouterr().out
    assert "data_3d_cmu.npz: valid, 17 joints" in printed
    assert "joint order h36m17" in printed
    assert re.search(r"S1\s+Exercise 1\s+300\s+300\s+300\s+300\n", printed)
    assert re.search(r"S7\s+\(total\)\s+900\s+900\s+900\s+900\n", printed)
    assert re.search(r"all\s+\(total\)\s+2579\s+2579\s+2579\s+2579\n", printed)
    assert printed.index("S1 ") < printed.index("S5 ") < printed.index("S6 ") < printed.index("S7 ")


def test_check_reports_invalid_files_and_exits_non_zero(tmp_path, capsys):
    write_npz(
        tmp_path / "data_3d_h36m.npz", positions_3d={"S1": {"Walking 1": np.zeros((5, 17, 3))}}
    )
    write_npz(
        tmp_path / "data_2d_h36m_gt.npz",
        positions_2d={"S1": {"Walking 1": [np.zeros((5, 17, 2))] * 3}},
        metadata=METADATA_17,
    )
    assert check(tmp_path, "h36m", tmp_path / "cache") == 2
    error = capsys.readouterr().err
    assert (
        "error:" in error
        and "data_2d_h36m_gt.npz" in error
        and "expected a list of 4 camera arrays" in error
    )
    assert run(["data", "check", str(tmp_path / "empty"), "--dataset", "cmu"]) == 2
    assert "data_3d_cmu.npz: no such file" in capsys.readouterr().err


def test_check_prints_trim_warnings(tmp_path, capsys):
    write_npz(tmp_path / "data_3d_h36m.npz", positions_3d={"S5": {"Eating 1": np.ones((6, 32, 3))}})
    write_npz(
        tmp_path / "data_2d_h36m_gt.npz",
        metadata=METADATA_17,
        positions_2d={"S5": {"Eating 1": [np.ones((6, 17, 2))] * 3 + [np.ones((9, 17, 2))]}},
    )
    assert check(tmp_path, "h36m", tmp_path / "cache") == 0
    captured = capsys.readouterr()
    assert "warning:" in captured.err and "camera 3 has 9 frames of 2D" in captured.err
    assert re.search(r"S5\s+Eating 1\s+6\s+6\s+6\s+6\n", captured.out)


def test_check_warns_for_subjects_that_train_refuses(tmp_path, capsys):
    walking = {"Walking 1": np.ones((5, 17, 3))}
    write_npz(tmp_path / "data_3d_h36m.npz", positions_3d={"S1": walking, "S5": {}})
    write_npz(
        tmp_path / "data_2d_h36m_gt.npz",
        metadata=METADATA_17,
        positions_2d={
            "S1": {"Walking 1": [np.ones((5, 17, 2))] * 4},
            "S9": {"Walking 1": [np.ones((5, 17, 2))] * 4},
            "S11": {},
        },
    )
    assert check(tmp_path, "h36m", tmp_path / "cache") == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning: ")]
    assert sorted(warnings) == sorted(
        [
            f"warning: {tmp_path / 'data_3d_h36m.npz'}: subject S5 holds no sequences; train refuses it",
            f"warning: {tmp_path / 'data_2d_h36m_gt.npz'}: subject S11 holds no sequences; train refuses it",
            f"warning: {tmp_path / 'data_2d_h36m_gt.npz'}: subject S9 has 2D keypoints but no 3D poses in "
            "data_3d_h36m.npz; train refuses it",
        ]
    )
    assert re.search(r"S1\s+Walking 1\s+5\s+5\s+5\s+5\n", captured.out)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["data", "check", "x", "--dataset", "cmu", "--keypoints", "cpn"], "invalid choice: 'cpn'"),
        (["data", "synth"], "one of the arguments --output-dir is required"),
        (["data", "synth", "--output-dir", "x", "--frames", "many"], "invalid int value: 'many'"),
    ],
)
def test_bad_command_lines_are_rejected(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_synth_rejects_bad_sizes(tmp_path, capsys):
    assert run(["data", "synth", "--output-dir", str(tmp_path), "--frames", "0"]) == 2
    assert capsys.readouterr().err == (
        "graphmdn-tf data synth: error: Expected --frames to be a positive integer. Received: --frames 0\n"
    )
