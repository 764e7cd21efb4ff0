"""`graphmdn-tf calibrate` end to end on a tiny run trained with a validation holdout: the scales are
stored, and evaluate, lift, export and the Python API apply them; bad input gets one line and exit 2.
The exported `sample` signature is checked statistically against the served parameters."""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from graphmdn_tf.calibration import CalibrationRecord, fit_sigma_scales
from graphmdn_tf.cli import main
from graphmdn_tf.data.pipeline import config_splits
from graphmdn_tf.evaluation import evaluate_run
from graphmdn_tf.export import ExportedFile, export_run, export_saved_model
from graphmdn_tf.lifting import lift
from graphmdn_tf.models import GraphMDN
from graphmdn_tf.models.build import load_model
from graphmdn_tf.runs import RunDirectory
from tests.sampling_checks import check_independent_nodes, check_samples

TINY = [
    "--hidden-dim", "16", "--num-blocks", "1", "--num-kernels", "3", "--stride", "4",
    "--batch-size", "128", "--validation-frames", "256", "--image-frames", "1",
    "--jit-compile", "off", "--verbose", "0", "--epochs", "1",
]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny synthetic GraphMDN run with the last 10% of every training sequence held out."""
    run_dir = tmp_path_factory.mktemp("calibrate") / "run"
    assert main(["train", "--run-dir", str(run_dir), "--validation-holdout", "0.1", *TINY]) == 0
    return run_dir


@pytest.fixture
def run_copy(trained, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained, run_dir)
    return run_dir


def _validation(run_dir):
    config = RunDirectory(run_dir).load_config()
    return config_splits(config, progress=False)[1]


def test_calibrate_fits_the_validation_split_and_every_consumer_applies_it(
    run_copy, tmp_path, capsys
):
    assert main(["calibrate", str(run_copy)]) == 0
    printed = capsys.readouterr().out
    assert "validation_holdout" in printed and "calibration.json" in printed
    run = RunDirectory(run_copy)
    record = CalibrationRecord.from_json(run.calibration_path)
    scales = np.asarray(record.scales)
    assert scales.shape == (16,) and record.level == "pose" and not record.per_kernel
    assert record.fitted_on["split"] == "validation_holdout"
    assert record.fit["converged"] and record.after["nll"] < record.before["nll"]

    # The stored scales are the fit of the uncalibrated model's parameters on the held-out frames.
    validation = _validation(run_copy)
    raw = run.load_model(calibrated=False)
    assert record.fitted_on["frames"] == len(validation)
    params = raw.predict(validation.inputs_2d, verbose=0)
    np.testing.assert_allclose(
        fit_sigma_scales(params, validation.targets_3d).scales, scales, rtol=1e-6
    )

    # The Python API: load_model's sigma is the uncalibrated sigma times the scales, [B, M, N].
    inputs = validation.inputs_2d[:8]
    expected_sigma = np.asarray(raw.predict(inputs, verbose=0)["sigma"])[:, :, None] * scales
    calibrated = run.load_model()
    outputs = calibrated.predict(inputs, verbose=0)
    np.testing.assert_allclose(outputs["sigma"], expected_sigma, rtol=1e-5)
    np.testing.assert_allclose(outputs["mu"], raw.predict(inputs, verbose=0)["mu"], atol=1e-6)

    # A saved calibrated model keeps its scales.
    calibrated.save(tmp_path / "calibrated.keras")
    np.testing.assert_allclose(
        load_model(tmp_path / "calibrated.keras").predict(inputs, verbose=0)["sigma"],
        expected_sigma,
        rtol=1e-5,
    )

    # lift: the sigma it writes is the calibrated one.
    pixels = (validation.inputs_2d[:8] + np.array([1.0, 1.0])) * 500.0  # image 1000 x 1000
    lifted = lift(run_copy, pixels, image_size=(1000, 1000), progress=False)
    np.testing.assert_allclose(lifted.sigma, expected_sigma, rtol=1e-4)

    # export: the served sigma is the uncalibrated sigma times the scales.
    version = export_run(run_copy, "calibrated", base_dir=tmp_path / "saved_models")
    served = tf.saved_model.load(str(version)).signatures["serving_default"]
    answer = served(keypoints=tf.constant(inputs, tf.float32))
    assert answer["sigma"].shape == (8, 3, 16)
    np.testing.assert_allclose(answer["sigma"].numpy(), expected_sigma, rtol=1e-4)

    # evaluate: calibrated and uncalibrated side by side; --calibration on and off give one of them.
    few = dict(num_samples=5, stride=8, actions=("Walking", "Sitting"), write=False, progress=False)
    both = evaluate_run(run_copy, **few)
    assert set(both.uncertainty) == {"GraphMDN", "GraphMDN (uncalibrated)"}
    methods = both.methods()
    assert "GraphMDN (Best of 5 samples)" in methods
    assert "GraphMDN (Best of 5 samples, uncalibrated)" in methods
    assert both.uncertainty["GraphMDN"]["nll"] < both.uncertainty["GraphMDN (uncalibrated)"]["nll"]
    for key in ("ece", "ece_per_joint", "coverage_90", "effective_kernels"):
        assert key in both.uncertainty["GraphMDN"]
    off = evaluate_run(run_copy, calibration="off", **few)
    assert set(off.uncertainty) == {"GraphMDN"}
    assert off.uncertainty["GraphMDN"] == both.uncertainty["GraphMDN (uncalibrated)"]
    assert off.row(1, "GraphMDN (Best of 5 samples)").average == pytest.approx(
        both.row(1, "GraphMDN (Best of 5 samples, uncalibrated)").average
    )
    assert off.row(1, "GraphMDN (Mean)") == both.row(1, "GraphMDN (Mean)")


def test_per_kernel_and_frames(run_copy, capsys):
    assert main(["calibrate", str(run_copy), "--per-kernel", "--frames", "50"]) == 0
    record = CalibrationRecord.from_json(RunDirectory(run_copy).calibration_path)
    assert np.asarray(record.scales).shape == (3, 16) and record.per_kernel
    assert record.fitted_on["frames"] == 50
    assert RunDirectory(run_copy).load_model().sigma_scale.shape == (3, 16)


def _error(arguments, capsys) -> str:
    assert main(arguments) == 2
    message = capsys.readouterr().err.strip()
    assert "\n" not in message and "Traceback" not in message
    return message


def test_bad_input_gets_one_line_and_exit_code_2(run_copy, tmp_path, capsys):
    config = json.loads((run_copy / "config.json").read_text())
    (run_copy / "config.json").write_text(json.dumps({**config, "validation_holdout": 0.0}))
    message = _error(["calibrate", str(run_copy)], capsys)
    assert "validated on its test subjects" in message and "--validation-holdout" in message
    assert "--subjects" in message
    test_subject = config["test_subjects"][0]
    message = _error(["calibrate", str(run_copy), "--subjects", test_subject], capsys)
    assert "other than the run's test subjects" in message and "--subjects" in message
    assert not RunDirectory(run_copy).is_calibrated()

    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "config.json").write_text((run_copy / "config.json").read_text())
    assert "Expected a finished training run" in _error(["calibrate", str(unfinished)], capsys)

    assert "--frames" in _error(["calibrate", str(run_copy), "--frames", "0"], capsys)

    (run_copy / "calibration.json").write_text("{not json")
    for command in (
        ["evaluate", str(run_copy), "--num-samples", "0"],
        ["export", str(run_copy), "--name", "m", "--output-dir", str(tmp_path / "models")],
    ):
        assert "calibration.json: damaged" in _error(command, capsys)
    (run_copy / "calibration.json").write_text(
        json.dumps(
            {
                "scales": [1.0] * 16,
                "joint_names": [f"j{n}" for n in range(16)],
                "level": "pose",
                "num_kernels": 3,
                "per_kernel": False,
            }
        )
    )
    assert "was fitted for" in _error(["export", str(run_copy), "--name", "m"], capsys)


def _separated_model(level: str, scales: np.ndarray) -> GraphMDN:
    """A GraphMDN whose head ignores its input: kernel j's mean is (-0.6, 0, 0.6)[j] in every
    coordinate, sigma 0.05, fixed pi logits; calibrated with `scales`."""
    model = GraphMDN(
        hidden_dim=8, num_blocks=1, num_kernels=3, mixture_level=level, sigma_scale=scales
    )
    model.build((None, 16, 2))
    projection = model.head.projection
    for kernel in (projection.self_kernel, projection.neighbor_kernel):
        kernel.assign(np.zeros(kernel.shape, np.float32))
    means = np.repeat(np.arctanh([-0.6, 0.0, 0.6]), 3)  # [M * D], kernel-major
    bias = np.concatenate([means, np.full(3, np.log(0.05)), [0.4, -0.3, 0.1]])
    projection.bias.assign(bias.astype(np.float32))
    return model


@pytest.mark.parametrize("level", ["pose", "node"])
def test_the_exported_sample_signature_draws_from_the_served_mixture(level, tmp_path):
    """The `sample` signature's poses against the `serving_default` parameters (NumPy checks)."""
    scales = np.linspace(0.6, 1.4, 16)
    model = _separated_model(level, scales)
    version = export_saved_model(model, tmp_path, name="separated", num_samples=4000, seed=3)
    loaded = tf.saved_model.load(str(version))
    keypoints = tf.constant(np.random.default_rng(0).uniform(-1, 1, (1, 16, 2)), tf.float32)
    served = {
        k: v.numpy()[0]
        for k, v in loaded.signatures["serving_default"](keypoints=keypoints).items()
    }
    samples = loaded.signatures["sample"](keypoints=keypoints)["samples"].numpy()[0]  # [S, N, 3]
    np.testing.assert_allclose(served["sigma"], 0.05 * np.broadcast_to(scales, (3, 16)), rtol=1e-5)
    check_samples(samples, served["mu"], served["sigma"], served["pi"], level)
    if level == "node":
        check_independent_nodes(samples, served["mu"], served["pi"], [(0, 1), (3, 15)])


@pytest.mark.parametrize("file_format", ["onnx", "litert"])
def test_onnx_and_litert_exports_carry_the_scales(file_format, tmp_path):
    scales = np.linspace(0.6, 1.4, 16)
    plain = GraphMDN(hidden_dim=8, num_blocks=1, num_kernels=3)
    keypoints = np.random.default_rng(1).uniform(-1, 1, (4, 16, 2)).astype(np.float32)
    expected = np.asarray(plain.predict(keypoints, verbose=0)["sigma"])[:, :, None] * scales
    version = export_saved_model(
        plain.with_sigma_scale(scales), tmp_path, name="calibrated", format=file_format
    )
    served = ExportedFile(version)(keypoints)["sigma"]
    assert served.shape == (4, 3, 16)
    np.testing.assert_allclose(served, expected, rtol=1e-4)
