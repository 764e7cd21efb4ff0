"""`graphmdn-tf convert` -> `evaluate` -> `export` (and `lift`) on checkpoints of the authors' code."""

import json
import sys

import numpy as np
import pytest
import tensorflow as tf

from graphmdn_tf.cli import main
from tests.test_convert_reference import _check_outputs, _fixture, _save_checkpoint


def _main(arguments, capsys):
    code = main([str(argument) for argument in arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, level", [("semgcn_nonlocal_hid32_l1", None), ("graphmdn_pose_hid16_l1_k3", "pose")]
)
def test_three_commands_from_a_published_checkpoint_to_a_served_model(
    name, level, tmp_path, capsys
):
    data, state_dict = _fixture(name)
    checkpoint = _save_checkpoint(state_dict, tmp_path / "ckpt_best.pth.tar")
    run_dir = tmp_path / "run"
    level_flags = ["--mixture-level", level] if level else []
    code, out, err = _main(["convert", checkpoint, "--run-dir", run_dir, *level_flags], capsys)
    assert code == 0, err
    assert f"Converted {checkpoint}, " in out and f"graphmdn-tf evaluate {run_dir}" in out

    code, out, err = _main(
        ["evaluate", run_dir, "--num-samples", "0", "--stride", "16", "--batch-size", "512"],
        capsys,
    )
    assert code == 0, err
    results = json.loads((run_dir / "results.json").read_text())
    assert results and f"converted from {checkpoint}; data synthetic, test " in out
    assert f"converted from {checkpoint}" in (run_dir / "results.md").read_text()

    code, out, err = _main(
        ["export", run_dir, "--name", "converted", "--base-dir", tmp_path / "saved_models"], capsys
    )
    assert code == 0, err
    serving = tf.saved_model.load(str(tmp_path / "saved_models" / "converted" / "1"))
    served = serving.signatures["serving_default"](keypoints=tf.constant(data["input"]))
    if level is None:
        _check_outputs(served["pose"].numpy(), data, level)
    else:
        expected_mu = np.transpose(data["mu"], (0, 2, 1, 3))
        np.testing.assert_allclose(served["mu"].numpy(), expected_mu, atol=1e-5, rtol=0)

    keypoints = tmp_path / "poses.npy"
    np.save(keypoints, (data["input"] + 1) * 500)  # pixels of a 1000 x 1000 frame
    code, out, err = _main(
        [
            "lift",
            run_dir,
            keypoints,
            "--output-dir",
            tmp_path / "lifted",
            "--image-size",
            "1000",
            "1000",
        ],
        capsys,
    )
    assert code == 0, err
    with np.load(tmp_path / "lifted" / "poses.npz") as lifted:
        poses = lifted["mu"] if level else lifted["mu"][:, 0]
        expected = np.transpose(data["mu"], (0, 2, 1, 3)) if level else data["pose"]
        np.testing.assert_allclose(poses, expected, atol=1e-5, rtol=0)


def test_convert_errors_are_one_line_with_exit_code_2(tmp_path, capsys, monkeypatch):
    _, state_dict = _fixture("graphmdn_node_hid32_l2_k2")
    checkpoint = _save_checkpoint(state_dict, tmp_path / "ckpt.pth.tar")
    code, out, err = _main(["convert", checkpoint, "--run-dir", tmp_path / "run"], capsys)
    assert code == 2 and out == ""
    assert err.startswith(
        f"graphmdn-tf convert: error: {checkpoint}: GraphMDN (vectra-ai-research/GraphMDN): hidden 32"
    )
    assert "(--mixture-level)" in err and err.count("\n") == 1
    code, _, err = _main(
        ["convert", tmp_path / "absent.pth.tar", "--run-dir", tmp_path / "r"], capsys
    )
    assert (
        code == 2
        and err
        == f"graphmdn-tf convert: error: No checkpoint file at {tmp_path / 'absent.pth.tar'}\n"
    )
    monkeypatch.setitem(sys.modules, "torch", None)
    code, _, err = _main(["convert", checkpoint, "--run-dir", tmp_path / "run"], capsys)
    assert code == 2 and "pip install 'graphmdn-tf[torch]'" in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists() and not (tmp_path / "r").exists()


def test_every_convert_flag_has_help(capsys):
    with pytest.raises(SystemExit):
        main(["convert", "--help"])
    text = capsys.readouterr().out
    for flag in (
        "--run-dir",
        "--mixture-level",
        "--dropout",
        "--dataset",
        "--data-dir",
        "--keypoints",
    ):
        assert flag in text
    assert "--train-subjects" in text and "--test-subjects" in text and "(default: " in text
