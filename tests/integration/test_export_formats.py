"""ONNX and LiteRT export: each written file run in its own runtime against the SavedModel, bad inputs,
versions, and `ExportedFile`'s checks."""

import json
import sys

import numpy as np
import onnxruntime
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from graphmdn_tf.cli import main
from graphmdn_tf.export import ExportedFile, export_saved_model
from tests.integration.serving_checks import keypoints, pixel_inputs, small_model

KINDS = ("pose", "node", "semgcn")
#: Export parity: the runtimes' kernels differ from TF's, so float32 sums may round differently.
PARITY = 1e-4
MIXTURE_KEYS = ["highest_pose", "mean_pose", "mu", "pi", "sigma"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """kind -> {"model", "saved_model" (loaded), "onnx" and "litert" (version folders)}."""
    base = tmp_path_factory.mktemp("saved_models")
    result = {}
    for kind in KINDS:
        model = small_model(kind)
        model(keypoints(np.random.default_rng(0), 2))
        saved = export_saved_model(model, base, name=kind, num_samples=2)
        result[kind] = {
            "model": model,
            "saved_model": tf.saved_model.load(str(saved)),
            "onnx": export_saved_model(model, base, name=kind, format="onnx"),
            "litert": export_saved_model(model, base, name=kind, format="litert"),
        }
    return result


def _saved_model(exported, kind, signature="serving_default", **inputs) -> dict:
    outputs = exported[kind]["saved_model"].signatures[signature](
        **{key: tf.constant(value) for key, value in inputs.items()}
    )
    return {key: value.numpy() for key, value in outputs.items()}


def _onnx_session(exported, kind):
    return onnxruntime.InferenceSession(
        str(exported[kind]["onnx"] / "model.onnx"), providers=["CPUExecutionProvider"]
    )


def _litert_runner(exported, kind, signature="serving_default"):
    interpreter = Interpreter(model_path=str(exported[kind]["litert"] / "model.tflite"))
    return interpreter.get_signature_runner(signature)


def _run_onnx(exported, kind, x) -> dict:
    session = _onnx_session(exported, kind)
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {"keypoints": x}), strict=True))


def _assert_close(actual: dict, expected: dict) -> None:
    assert sorted(actual) == sorted(expected)
    for key, value in expected.items():
        assert actual[key].dtype == np.float32 and actual[key].shape == value.shape, key
        np.testing.assert_allclose(actual[key], value, rtol=0, atol=PARITY, err_msg=key)


def test_each_format_is_one_file_in_its_own_version_folder(exported):
    for kind in KINDS:
        assert [p.name for p in exported[kind]["onnx"].iterdir()] == ["model.onnx"]
        assert [p.name for p in exported[kind]["litert"].iterdir()] == ["model.tflite"]
        assert (exported[kind]["onnx"].name, exported[kind]["litert"].name) == ("2", "3")


@pytest.mark.parametrize("batch", [1, 7, 300])
@pytest.mark.parametrize("kind", KINDS)
def test_onnx_runs_in_onnxruntime_as_the_saved_model(exported, kind, batch):
    x = keypoints(np.random.default_rng(batch), batch)
    session = _onnx_session(exported, kind)
    assert [(i.name, i.shape[1:], i.type) for i in session.get_inputs()] == [
        ("keypoints", [16, 2], "tensor(float)")
    ]
    expected = _saved_model(exported, kind, keypoints=x)
    assert sorted(expected) == (MIXTURE_KEYS if kind != "semgcn" else ["pose"])
    _assert_close(_run_onnx(exported, kind, x), expected)
    _assert_close(ExportedFile(exported[kind]["onnx"])(x), expected)


@pytest.mark.parametrize("batch", [1, 7, 300])
@pytest.mark.parametrize("kind", KINDS)
def test_litert_runs_in_the_interpreter_as_the_saved_model(exported, kind, batch):
    x = keypoints(np.random.default_rng(batch), batch)
    interpreter = Interpreter(model_path=str(exported[kind]["litert"] / "model.tflite"))
    assert sorted(interpreter.get_signature_list()) == ["from_pixels", "serving_default"]
    expected = _saved_model(exported, kind, keypoints=x)
    _assert_close(_litert_runner(exported, kind)(keypoints=x), expected)
    _assert_close(ExportedFile(exported[kind]["litert"] / "model.tflite")(x), expected)

    pixels = pixel_inputs(np.random.default_rng(batch + 1), batch)
    _assert_close(
        _litert_runner(exported, kind, "from_pixels")(**pixels),
        _saved_model(exported, kind, "from_pixels", **pixels),
    )


@pytest.mark.parametrize("kind", KINDS)
def test_the_runtimes_refuse_a_wrong_shape_or_dtype_in_their_own_words(exported, kind):
    session = _onnx_session(exported, kind)
    with pytest.raises(onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument) as error:
        session.run(None, {"keypoints": np.zeros((2, 15, 2), np.float32)})
    assert "Got invalid dimensions for input: keypoints" in str(error.value)
    with pytest.raises(onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument) as error:
        session.run(None, {"keypoints": np.zeros((2, 16, 2), np.float64)})
    assert "Unexpected input data type" in str(error.value)

    runner = _litert_runner(exported, kind)
    with pytest.raises(ValueError, match="Got value of type FLOAT64 but expected type FLOAT32"):
        runner(keypoints=np.zeros((2, 16, 2), np.float64))
    with pytest.raises(RuntimeError, match="failed to prepare"):
        runner(keypoints=np.zeros((2, 15, 2), np.float32))


@pytest.mark.parametrize("kind", KINDS)
def test_the_runtimes_answer_a_nan_that_the_saved_model_refuses(exported, kind):
    """What `ExportedFile` is for: the Assert ops are gone, so a NaN request gets a NaN answer."""
    x = keypoints(np.random.default_rng(3), 2)
    x[1, 4, 0] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="Expected keypoints to be finite"):
        _saved_model(exported, kind, keypoints=x)
    assert np.isnan(_run_onnx(exported, kind, x)["pose" if kind == "semgcn" else "mu"][1]).any()
    litert = _litert_runner(exported, kind)(keypoints=x)
    assert np.isnan(litert["pose" if kind == "semgcn" else "mu"][1]).any()


def _nan_at(index):
    x = np.zeros((3, 16, 2), np.float32)
    x[index] = np.nan
    return x


BAD_INPUTS = [
    (
        np.zeros((2, 15, 2), np.float32),
        r"Expected keypoints of shape \[batch, 16, 2\]\. Received shape: \[2, 15, 2\]",
    ),
    (
        np.zeros((16, 2), np.float32),
        r"Expected keypoints of shape \[batch, 16, 2\]\. Received shape: \[16, 2\]",
    ),
    (
        np.zeros((2, 16, 2), np.float64),
        r"Expected keypoints as a float32 NumPy array \[batch, 16, 2\]\. Received: float64",
    ),
    ([[0.0, 0.0]] * 16, r"Expected keypoints as a float32 NumPy array .* Received: list"),
    (_nan_at((2, 5, 1)), r"Expected keypoints to be finite \(no NaN or Inf\)"),
    (
        np.full((1, 16, 2), 101.0, np.float32),
        r"Expected keypoints within \[-100, 100\]\. Received values from 101 to 101",
    ),
]


@pytest.mark.parametrize("fmt", ["onnx", "litert"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "inputs, message", BAD_INPUTS, ids=["joints", "rank", "float64", "list", "nan", "range"]
)
def test_exported_file_refuses_bad_inputs_in_one_line(exported, kind, fmt, inputs, message):
    with pytest.raises(ValueError, match=message) as error:
        ExportedFile(exported[kind][fmt])(inputs)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("fmt", ["onnx", "litert"])
@pytest.mark.parametrize("kind", KINDS)
def test_exported_file_answers_an_empty_batch_and_the_bounds(exported, kind, fmt):
    empty = np.zeros((0, 16, 2), np.float32)
    expected = _saved_model(exported, kind, keypoints=empty)
    _assert_close(ExportedFile(exported[kind][fmt])(empty), expected)
    bounds = np.full((2, 16, 2), 100.0, np.float32)
    bounds[1] = -100.0
    outputs = ExportedFile(exported[kind][fmt])(bounds)
    assert all(np.isfinite(value).all() for value in outputs.values())


@pytest.mark.parametrize("fmt", ["onnx", "litert"])
def test_exported_file_refuses_non_finite_outputs(tmp_path, fmt):
    model = small_model("pose")
    model(keypoints(np.random.default_rng(0), 1))
    model.set_weights([np.full_like(weight, 1e18) for weight in model.get_weights()])
    path = export_saved_model(model, tmp_path, name="overflowing", format=fmt)
    with pytest.raises(ValueError, match=r"The model computed a non-finite \w+ \(NaN or Inf\)"):
        ExportedFile(path)(keypoints(np.random.default_rng(1), 3))


def test_exported_file_names_what_it_expects(exported, tmp_path):
    with pytest.raises(FileNotFoundError, match="Expected .* to hold one of"):
        ExportedFile(tmp_path)
    (tmp_path / "model.bin").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"Expected an exported model.onnx or model.tflite"):
        ExportedFile(tmp_path / "model.bin")


def test_formats_share_the_versions_and_never_overwrite(exported, tmp_path):
    model = exported["pose"]["model"]
    assert export_saved_model(model, tmp_path, name="m", format="litert").name == "1"
    assert export_saved_model(model, tmp_path, name="m").name == "2"
    with pytest.raises(FileExistsError, match="Refusing to overwrite the exported version"):
        export_saved_model(model, tmp_path, name="m", version=1, format="onnx")
    assert [p.name for p in (tmp_path / "m" / "1").iterdir()] == ["model.tflite"]
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["1", "2"]


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"format": "tflite"}, r"Expected format to be one of \('saved_model', 'onnx', 'litert'\)"),
        (
            {"format": "onnx", "jit_compile": True},
            "jit_compile applies to the saved_model format only",
        ),
    ],
)
def test_export_rejects_a_bad_format(exported, tmp_path, arguments, message):
    with pytest.raises(ValueError, match=message):
        export_saved_model(exported["pose"]["model"], tmp_path, name="m", **arguments)
    assert not (tmp_path / "m").exists()


def test_export_command_writes_each_format(exported, tmp_path, capsys):
    model = exported["node"]["model"]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    model.save(run_dir / "model.keras")
    (run_dir / "config.json").write_text(json.dumps({"model": "graphmdn"}))
    base = tmp_path / "saved_models"
    arguments = ["export", str(run_dir), "--name", "cli", "--output-dir", str(base)]
    x = keypoints(np.random.default_rng(5), 4)
    expected = _saved_model(exported, "node", keypoints=x)
    for version, fmt in ((1, "onnx"), (2, "litert")):
        assert main([*arguments, "--format", fmt]) == 0
        assert f"to {base / 'cli' / str(version)}" in capsys.readouterr().out
        _assert_close(ExportedFile(base / "cli" / str(version))(x), expected)
    assert main([*arguments, "--format", "onnx", "--jit-compile", "on"]) == 2
    assert "--jit-compile applies to the saved_model format only" in capsys.readouterr().err
    assert sorted(p.name for p in (base / "cli").iterdir()) == ["1", "2"]


@pytest.mark.parametrize("fmt, module", [("onnx", "tf2onnx"), ("litert", "ai_edge_litert")])
def test_a_missing_converter_names_the_extra_to_install(
    exported, tmp_path, monkeypatch, fmt, module
):
    monkeypatch.setitem(sys.modules, module, None)  # what Python does for a package not installed
    with pytest.raises(ImportError, match=rf"pip install 'graphmdn-tf\[{fmt}\]'"):
        export_saved_model(exported["pose"]["model"], tmp_path, name="m", format=fmt)
    assert not (tmp_path / "m").exists()
