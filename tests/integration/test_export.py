"""SavedModel export: signatures, parity with the Keras model, in-graph input checks, versioning, the CLI."""

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from graphmdn_tf import export as export_module
from graphmdn_tf import hypotheses
from graphmdn_tf.cli import main
from graphmdn_tf.export import export_run, export_saved_model, next_version
from graphmdn_tf.models import GraphMDN
from tests.integration.serving_checks import (
    NUM_KERNELS,
    TOLERANCE,
    assert_outputs_close,
    expected_outputs,
    keypoints,
    normalise_on_client,
    pixel_inputs,
    small_model,
    xla_compiled_functions,
)

NUM_SAMPLES = 6
SEED = 7
KINDS = ("pose", "node", "semgcn")


@pytest.fixture(scope="module", params=[False, True], ids=["portable", "xla"])
def exported(tmp_path_factory, request):
    """kind -> (Keras model, export path, loaded SavedModel): one export per kind and per `jit_compile`."""
    base = tmp_path_factory.mktemp("saved_models")
    result = {}
    for kind in KINDS:
        model = small_model(kind)
        path = export_saved_model(
            model, base, name=kind, num_samples=NUM_SAMPLES, seed=SEED, jit_compile=request.param
        )
        result[kind] = (model, path, tf.saved_model.load(str(path)))
    return result


def _call(loaded, signature: str, **inputs) -> dict:
    outputs = loaded.signatures[signature](
        **{key: tf.constant(value) for key, value in inputs.items()}
    )
    return {key: value.numpy() for key, value in outputs.items()}


@pytest.mark.parametrize("batch", [0, 1, 7, 256, 257, 1024])
@pytest.mark.parametrize("kind", ["pose", "node"])
def test_serving_default_equals_the_keras_model_and_hypotheses(exported, kind, batch):
    model, path, loaded = exported[kind]
    assert (
        path.name == "1" and (path / "saved_model.pb").is_file() and (path / "variables").is_dir()
    )
    x = keypoints(np.random.default_rng(batch), batch)
    outputs = _call(loaded, "serving_default", keypoints=x)

    expected = expected_outputs(model, x)
    per_kernel = (batch, NUM_KERNELS) if kind == "pose" else (batch, NUM_KERNELS, 16)
    assert expected["pi"].shape == per_kernel and expected["mu"].shape == (
        batch,
        NUM_KERNELS,
        16,
        3,
    )
    assert_outputs_close(outputs, expected)

    params = model(x, training=False)
    from_hypotheses = {
        "pi": hypotheses.mixture_weights(params),
        "mu": params["mu"],
        "sigma": params["sigma"],
        "mean_pose": hypotheses.mean(params),
        "highest_pose": hypotheses.highest(params),
    }
    assert_outputs_close(
        outputs, {key: np.asarray(value) for key, value in from_hypotheses.items()}
    )


@pytest.mark.parametrize("kind", ["pose", "node"])
def test_sample_signature_draws_seeded_samples_from_the_mixture(exported, kind):
    model, _, loaded = exported[kind]
    x = keypoints(np.random.default_rng(3), 7)
    samples = _call(loaded, "sample", keypoints=x)
    assert list(samples) == ["samples"] and samples["samples"].shape == (7, NUM_SAMPLES, 16, 3)
    np.testing.assert_array_equal(
        samples["samples"], _call(loaded, "sample", keypoints=x)["samples"]
    )
    expected = hypotheses.sample_poses(
        model(x, training=False), NUM_SAMPLES, seed=(SEED, 0)
    ).numpy()
    np.testing.assert_allclose(
        samples["samples"], expected.transpose(1, 0, 2, 3), rtol=0, atol=TOLERANCE
    )
    assert samples["samples"].std(axis=1).min() > 0  # S distinct draws, not S copies


def test_a_per_joint_sigma_is_served_per_joint_and_sampled_with_it(tmp_path):
    model = GraphMDN(hidden_dim=16, num_blocks=1, num_kernels=NUM_KERNELS, sigma_per_joint=True)
    path = export_saved_model(model, tmp_path, name="joint", num_samples=NUM_SAMPLES, seed=SEED)
    loaded = tf.saved_model.load(str(path))
    x = keypoints(np.random.default_rng(5), 4)
    outputs = _call(loaded, "serving_default", keypoints=x)
    params = model(x, training=False)
    assert outputs["sigma"].shape == (4, NUM_KERNELS, 16) and outputs["pi"].shape == (
        4,
        NUM_KERNELS,
    )
    np.testing.assert_allclose(
        outputs["sigma"], np.asarray(params["sigma"]), rtol=0, atol=TOLERANCE
    )
    assert_outputs_close(outputs, expected_outputs(model, x))
    samples = _call(loaded, "sample", keypoints=x)["samples"]
    expected = hypotheses.sample_poses(params, NUM_SAMPLES, seed=(SEED, 0)).numpy()
    np.testing.assert_allclose(samples, expected.transpose(1, 0, 2, 3), rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("kind", KINDS)
def test_from_pixels_equals_normalising_on_the_client(exported, kind):
    _, _, loaded = exported[kind]
    inputs = pixel_inputs(np.random.default_rng(5), 9)
    from_pixels = _call(loaded, "from_pixels", **inputs)
    from_client = _call(loaded, "serving_default", keypoints=normalise_on_client(inputs))
    assert_outputs_close(from_pixels, from_client)


def test_semgcn_exports_a_deterministic_pose_signature(exported):
    model, _, loaded = exported["semgcn"]
    assert set(loaded.signatures) == {"serving_default", "from_pixels"}
    x = keypoints(np.random.default_rng(11), 7)
    assert_outputs_close(_call(loaded, "serving_default", keypoints=x), expected_outputs(model, x))


def _bad(shape=(2, 16, 2), fill=0.0, where=None, value=np.nan):
    array = np.full(shape, fill, np.float32)
    if where is not None:
        array[where] = value
    return array


_WIDTHS = np.array([640.0, 1000.0], np.float32)
_KEYPOINTS_SHAPE = r"Expected keypoints of shape \[batch, 16, 2\]\. Received shape"
_INVALID = [
    (
        "pose",
        "serving_default",
        {"keypoints": _bad(where=(1, 3, 0))},
        "Expected keypoints to be finite",
    ),
    (
        "pose",
        "serving_default",
        {"keypoints": _bad(where=(0, 15, 1), value=np.inf)},
        "keypoints to be finite",
    ),
    ("pose", "serving_default", {"keypoints": _bad((2, 17, 2))}, _KEYPOINTS_SHAPE),
    ("pose", "serving_default", {"keypoints": _bad((16, 2))}, _KEYPOINTS_SHAPE),
    ("pose", "serving_default", {"keypoints": _bad((2, 16, 3))}, _KEYPOINTS_SHAPE),
    ("pose", "serving_default", {"keypoints": _bad((2, 16, 2, 1))}, _KEYPOINTS_SHAPE),
    (
        "node",
        "serving_default",
        {"keypoints": _bad(where=(0, 0, 0), value=-np.inf)},
        "keypoints to be finite",
    ),
    ("node", "sample", {"keypoints": _bad(where=(1, 2, 1))}, "Expected keypoints to be finite"),
    ("node", "sample", {"keypoints": _bad((3, 15, 2))}, _KEYPOINTS_SHAPE),
    (
        "semgcn",
        "serving_default",
        {"keypoints": _bad(where=(1, 1, 1))},
        "Expected keypoints to be finite",
    ),
    (
        "pose",
        "from_pixels",
        {
            "keypoints_px": _bad((2, 16, 2), 100.0),
            "image_width": np.array([640.0, 0.0], np.float32),
            "image_height": _WIDTHS,
        },
        re.escape(
            "Expected image_width within [1, 65536] pixels. Received values from] [0] [to] [640]"
        ),
    ),
    (
        "pose",
        "from_pixels",
        {
            "keypoints_px": _bad((2, 16, 2), 100.0),
            "image_width": _WIDTHS,
            "image_height": np.array([-480.0, 480.0], np.float32),
        },
        re.escape(
            "Expected image_height within [1, 65536] pixels. Received values from] [-480] [to] [480]"
        ),
    ),
    (
        "pose",
        "from_pixels",
        {
            "keypoints_px": _bad((2, 16, 2), 100.0),
            "image_width": np.array([np.nan, 640.0], np.float32),
            "image_height": _WIDTHS,
        },
        "Expected image_width to be finite",
    ),
    (
        "node",
        "from_pixels",
        {
            "keypoints_px": _bad((2, 16, 2), 100.0),
            "image_width": _WIDTHS[:1],
            "image_height": _WIDTHS[:1],
        },
        "Expected one image_width per example of keypoints_px",
    ),
    (
        "node",
        "from_pixels",
        {
            "keypoints_px": _bad((2, 16, 2), 100.0),
            "image_width": _WIDTHS[:, None],
            "image_height": _WIDTHS,
        },
        r"Expected image_width of shape \[batch\]",
    ),
    (
        "semgcn",
        "from_pixels",
        {"keypoints_px": _bad((2, 14, 2), 100.0), "image_width": _WIDTHS, "image_height": _WIDTHS},
        r"Expected keypoints_px of shape \[batch, 16, 2\]",
    ),
]


@pytest.mark.parametrize("kind, signature, inputs, message", _INVALID)
def test_invalid_inputs_are_refused_inside_the_graph(exported, kind, signature, inputs, message):
    _, _, loaded = exported[kind]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        _call(loaded, signature, **inputs)


def _absurd(value, where=None):
    """Keypoints [2, 16, 2] of 0.5, with `value` everywhere (where=None) or at one joint."""
    return (
        _bad(fill=0.5, where=where, value=value)
        if where is not None
        else np.full((2, 16, 2), value, np.float32)
    )


def _pixels(keypoints_px=None, width=640.0, height=480.0, batch=2):
    """`from_pixels` inputs: pixel keypoints (300 px by default) in 640 x 480 images, but for the last
    example's width and the first example's height."""
    if keypoints_px is None:
        keypoints_px = np.full((batch, 16, 2), 300.0, np.float32)
    widths, heights = np.full(batch, 640.0, np.float32), np.full(batch, 480.0, np.float32)
    widths[-1], heights[0] = width, height
    return {"keypoints_px": keypoints_px, "image_width": widths, "image_height": heights}


_BOUND = re.escape(f"[-{export_module.MAX_ABS_KEYPOINT:g}, {export_module.MAX_ABS_KEYPOINT:g}]")
_SIZES = re.escape(f"[{export_module.MIN_IMAGE_SIZE:g}, {export_module.MAX_IMAGE_SIZE:g}]")
_ABSURD = [
    (
        "pose",
        "serving_default",
        {"keypoints": _absurd(1e10)},
        rf"Expected keypoints within {_BOUND}",
    ),
    (
        "pose",
        "serving_default",
        {"keypoints": _absurd(-1e10)},
        rf"Expected keypoints within {_BOUND}",
    ),
    (
        "node",
        "serving_default",
        {"keypoints": _absurd(1e30, (1, 7, 0))},
        rf"Expected keypoints within {_BOUND}",
    ),
    ("pose", "sample", {"keypoints": _absurd(1e10)}, rf"Expected keypoints within {_BOUND}"),
    (
        "node",
        "sample",
        {"keypoints": _absurd(1e30, (0, 3, 1))},
        rf"Expected keypoints within {_BOUND}",
    ),
    (
        "semgcn",
        "serving_default",
        {"keypoints": _absurd(1e30, (0, 0, 0))},
        rf"Expected keypoints within {_BOUND}",
    ),
    ("pose", "from_pixels", _pixels(width=1e-30), rf"Expected image_width within {_SIZES} pixels"),
    ("node", "from_pixels", _pixels(height=1e30), rf"Expected image_height within {_SIZES} pixels"),
    ("semgcn", "from_pixels", _pixels(width=1e30), rf"Expected image_width within {_SIZES} pixels"),
    (
        "pose",
        "from_pixels",
        _pixels(_absurd(1e30, (1, 2, 0))),
        rf"Expected keypoints_px to normalise into {_BOUND}",
    ),
    (
        "pose",
        "from_pixels",
        _pixels(width=1.0, height=1e4),
        rf"Expected keypoints_px to normalise into {_BOUND}",
    ),
]


@pytest.mark.parametrize("kind, signature, inputs, message", _ABSURD)
def test_finite_but_absurd_inputs_are_refused_with_the_accepted_range(
    exported, kind, signature, inputs, message
):
    _, _, loaded = exported[kind]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        _call(loaded, signature, **inputs)


@pytest.mark.parametrize("kind", KINDS)
def test_inputs_at_the_documented_bounds_are_answered(exported, kind):
    _, _, loaded = exported[kind]
    bound = export_module.MAX_ABS_KEYPOINT
    x = np.stack([np.full((16, 2), bound), np.full((16, 2), -bound)]).astype(np.float32)
    answers = [_call(loaded, "serving_default", keypoints=x)]
    sizes = np.array([export_module.MIN_IMAGE_SIZE, export_module.MAX_IMAGE_SIZE], np.float32)
    pixels = {
        "keypoints_px": np.zeros((2, 16, 2), np.float32),
        "image_width": sizes,
        "image_height": sizes,
    }
    answers.append(_call(loaded, "from_pixels", **pixels))
    if kind != "semgcn":
        answers.append(_call(loaded, "sample", keypoints=x))
    for outputs in answers:
        assert all(np.isfinite(value).all() for value in outputs.values())


@pytest.fixture(scope="module")
def overflowing(tmp_path_factory):
    """kind -> loaded SavedModel of a model whose weights are so large that valid inputs overflow to Inf/NaN."""
    base = tmp_path_factory.mktemp("overflowing")
    result = {}
    for kind in KINDS:
        model = small_model(kind)
        model(keypoints(np.random.default_rng(0), 1))
        model.set_weights([np.full_like(weight, 1e18) for weight in model.get_weights()])
        result[kind] = tf.saved_model.load(
            str(export_saved_model(model, base, name=kind, num_samples=2))
        )
    return result


@pytest.mark.parametrize("kind", KINDS)
def test_non_finite_outputs_fail_the_request_instead_of_being_answered(overflowing, kind):
    loaded = overflowing[kind]
    x = keypoints(np.random.default_rng(1), 3)
    requests = [("serving_default", {"keypoints": x}), ("from_pixels", _pixels(batch=3))]
    if kind != "semgcn":
        requests.append(("sample", {"keypoints": x}))
    for signature, inputs in requests:
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=r"The model computed a non-finite \w+"
        ):
            _call(loaded, signature, **inputs)


@pytest.mark.parametrize("kind", ["pose", "node"])
def test_sample_signature_answers_an_empty_batch(exported, kind):
    _, _, loaded = exported[kind]
    samples = _call(loaded, "sample", keypoints=np.zeros((0, 16, 2), np.float32))["samples"]
    assert samples.shape == (0, NUM_SAMPLES, 16, 3) and samples.dtype == np.float32


_FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf

    paths, inputs, out = json.loads(sys.argv[1]), np.load(sys.argv[2]), sys.argv[3]
    results = {}
    for kind, path in paths.items():
        loaded = tf.saved_model.load(path)
        outputs = loaded.signatures["serving_default"](keypoints=tf.constant(inputs))
        results.update({f"{kind}/{key}": value.numpy() for key, value in outputs.items()})
        if "sample" in loaded.signatures:
            results[f"{kind}/samples"] = loaded.signatures["sample"](keypoints=tf.constant(inputs))["samples"].numpy()
        try:
            loaded.signatures["serving_default"](keypoints=tf.constant(np.full((1, 16, 2), np.nan, np.float32)))
        except tf.errors.InvalidArgumentError as error:
            results[f"{kind}/nan_error"] = np.array(error.message)
    np.savez(out, **results)
    print(json.dumps({name: name in sys.modules for name in ("graphmdn_tf", "tensorflow_probability")}))
    """
)


def test_saved_model_runs_in_a_process_without_graphmdn_or_tfp(exported, tmp_path):
    x = keypoints(np.random.default_rng(17), 7)
    np.save(tmp_path / "inputs.npy", x)
    (tmp_path / "load.py").write_text(_FRESH_PROCESS)
    paths = {kind: str(path) for kind, (_, path, _) in exported.items()}
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    completed = subprocess.run(
        [sys.executable, "load.py", json.dumps(paths), "inputs.npy", "out.npz"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == {
        "graphmdn_tf": False,
        "tensorflow_probability": False,
    }
    results = np.load(tmp_path / "out.npz")
    for kind, (model, _, _) in exported.items():
        expected = expected_outputs(model, x)
        assert_outputs_close({key: results[f"{kind}/{key}"] for key in expected}, expected)
        assert "Expected keypoints to be finite" in str(results[f"{kind}/nan_error"])
        if kind != "semgcn":
            samples = hypotheses.sample_poses(
                model(x, training=False), NUM_SAMPLES, seed=(SEED, 0)
            ).numpy()
            np.testing.assert_allclose(
                results[f"{kind}/samples"], samples.transpose(1, 0, 2, 3), atol=TOLERANCE
            )


def _saved_model_cli_signatures(text: str) -> dict:
    """`saved_model_cli show --all` text -> {signature: {"method": ..., "inputs"|"outputs": {key: (dtype, shape)}}}."""
    signatures = {}
    for section in re.split(r"^signature_def\['", text, flags=re.M)[1:]:
        name = section.split("'", 1)[0]
        tensors = re.findall(
            r"(inputs|outputs)\['(\w+)'\] tensor_info:\s+dtype: (\w+)\s+shape: (\([^)]*\))", section
        )
        method = re.search(r"Method name is: (\S*)", section)
        signatures[name] = {
            "method": method.group(1) if method else None,
            "inputs": {},
            "outputs": {},
        }
        for direction, key, dtype, shape in tensors:
            signatures[name][direction][key] = (dtype, shape)
    return signatures


def test_saved_model_cli_shows_the_signatures(exported):
    saved_model_cli = Path(sys.executable).parent / "saved_model_cli"
    assert saved_model_cli.is_file(), (
        f"saved_model_cli (installed with tensorflow) not found beside {sys.executable}"
    )
    path = exported["pose"][1]
    completed = subprocess.run(
        [str(saved_model_cli), "show", "--all", "--dir", str(path)],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "MetaGraphDef with tag-set: 'serve'" in completed.stdout
    signatures = _saved_model_cli_signatures(completed.stdout)
    k = str(NUM_KERNELS)
    mixture_outputs = {
        "pi": ("DT_FLOAT", f"(-1, {k})"),
        "mu": ("DT_FLOAT", f"(-1, {k}, 16, 3)"),
        "sigma": ("DT_FLOAT", f"(-1, {k})"),
        "mean_pose": ("DT_FLOAT", "(-1, 16, 3)"),
        "highest_pose": ("DT_FLOAT", "(-1, 16, 3)"),
    }
    keypoints_input = {"keypoints": ("DT_FLOAT", "(-1, 16, 2)")}
    assert signatures["serving_default"] == {
        "method": "tensorflow/serving/predict",
        "inputs": keypoints_input,
        "outputs": mixture_outputs,
    }
    assert signatures["from_pixels"] == {
        "method": "tensorflow/serving/predict",
        "inputs": {
            "keypoints_px": ("DT_FLOAT", "(-1, 16, 2)"),
            "image_width": ("DT_FLOAT", "(-1)"),
            "image_height": ("DT_FLOAT", "(-1)"),
        },
        "outputs": mixture_outputs,
    }
    assert signatures["sample"] == {
        "method": "tensorflow/serving/predict",
        "inputs": keypoints_input,
        "outputs": {"samples": ("DT_FLOAT", f"(-1, {NUM_SAMPLES}, 16, 3)")},
    }


def test_next_version_counts_integer_directories_only(tmp_path):
    assert next_version(tmp_path / "missing") == 1
    assert next_version(tmp_path) == 1
    for name in ("1", "3", "notes", ".4.partial-abc"):
        (tmp_path / name).mkdir()
    (tmp_path / "7").write_text("a file, not a version")
    assert next_version(tmp_path) == 4


def test_export_takes_the_next_free_version_and_never_overwrites(exported, tmp_path):
    model = exported["pose"][0]
    model_dir = tmp_path / "graphmdn"
    for version in ("1", "3"):
        (model_dir / version).mkdir(parents=True)
        (model_dir / version / "marker").write_text(version)
    path = export_saved_model(model, tmp_path, name="graphmdn", num_samples=2)
    assert path == model_dir / "4" and (path / "saved_model.pb").is_file()
    for version in (3, 4):
        with pytest.raises(FileExistsError, match=re.escape(str(model_dir / str(version)))):
            export_saved_model(model, tmp_path, name="graphmdn", version=version)
    assert (model_dir / "3" / "marker").read_text() == "3"
    assert sorted(os.listdir(model_dir)) == ["1", "3", "4"]


def test_a_stray_file_named_like_a_version_is_skipped_and_kept(exported, tmp_path):
    model_dir = tmp_path / "graphmdn"
    model_dir.mkdir()
    (model_dir / "1").write_text("a user's file, not a version")
    assert next_version(model_dir) == 2
    path = export_saved_model(exported["pose"][0], tmp_path, name="graphmdn", num_samples=2)
    assert path == model_dir / "2" and (path / "saved_model.pb").is_file()
    (model_dir / "3").write_text("another file")
    assert (
        export_saved_model(exported["pose"][0], tmp_path, name="graphmdn", num_samples=2)
        == model_dir / "4"
    )
    assert (model_dir / "1").read_text() == "a user's file, not a version"
    assert (model_dir / "3").read_text() == "another file"
    with pytest.raises(FileExistsError, match=re.escape(str(model_dir / "1"))):
        export_saved_model(exported["pose"][0], tmp_path, name="graphmdn", version=1)
    assert (model_dir / "1").read_text() == "a user's file, not a version"


def test_a_failed_export_leaves_no_partial_version(exported, tmp_path, monkeypatch):
    class HalfWrittenArchive:
        def write_out(self, filepath, verbose=True):
            Path(filepath).mkdir()
            (Path(filepath) / "saved_model.pb").write_bytes(b"half")
            raise OSError("disk full")

    monkeypatch.setattr(
        export_module._ServingFunctions, "archive", lambda self: HalfWrittenArchive()
    )
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(exported["node"][0], tmp_path, name="graphmdn", version=2)
    assert os.listdir(tmp_path / "graphmdn") == []


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ({"name": ""}, ValueError, "Expected a model name"),
        ({"name": "../escape"}, ValueError, r"Received: name='\.\./escape'"),
        ({"name": "a/b"}, ValueError, "Expected a model name"),
        ({"name": ".hidden"}, ValueError, "Expected a model name"),
        ({"version": 0}, ValueError, "Received: version=0"),
        ({"version": -2}, ValueError, "Received: version=-2"),
        ({"version": 1.5}, ValueError, "Received: version=1.5"),
        ({"version": True}, ValueError, "Received: version=True"),
        ({"num_samples": 0}, ValueError, "Received: num_samples=0"),
    ],
)
def test_export_rejects_bad_arguments(exported, tmp_path, arguments, error, message):
    with pytest.raises(error, match=message):
        export_saved_model(exported["pose"][0], tmp_path, **{"name": "graphmdn", **arguments})
    assert not (tmp_path / "graphmdn").exists()


def test_export_rejects_a_model_that_is_not_a_pose_model(tmp_path):
    dense = keras.Sequential([keras.Input((16, 2)), keras.layers.Dense(3)])
    with pytest.raises(
        TypeError, match="Expected a graphmdn_tf GraphMDN or SemGCN model. Received: Sequential"
    ):
        export_saved_model(dense, tmp_path, name="dense")


def test_export_command_exports_a_run_directory(exported, tmp_path, capsys):
    model = exported["node"][0]
    run_dir = tmp_path / "runs" / "node"
    run_dir.mkdir(parents=True)
    model.save(run_dir / "model.keras")
    (run_dir / "config.json").write_text(json.dumps({"model": "graphmdn"}))
    base = tmp_path / "saved_models"
    arguments = [
        "export",
        str(run_dir),
        "--name",
        "cli",
        "--output-dir",
        str(base),
        "--num-samples",
        "4",
    ]

    assert main(arguments) == 0
    path = base / "cli" / "1"
    assert f"to {path}" in capsys.readouterr().out
    loaded = tf.saved_model.load(str(path))
    x = keypoints(np.random.default_rng(23), 7)
    assert_outputs_close(_call(loaded, "serving_default", keypoints=x), expected_outputs(model, x))
    assert _call(loaded, "sample", keypoints=x)["samples"].shape == (7, 4, 16, 3)

    assert main([*arguments, "--version", "1"]) == 2
    assert f"Refusing to overwrite the exported version {path}" in capsys.readouterr().err
    assert (
        main(
            ["export", str(tmp_path / "runs" / "empty"), "--name", "cli", "--output-dir", str(base)]
        )
        == 2
    )
    assert (
        f"Expected a finished training run with {tmp_path / 'runs' / 'empty' / 'model.keras'}"
        in capsys.readouterr().err
    )
    assert sorted(os.listdir(base / "cli")) == ["1"]


def test_export_run_raises_on_a_missing_model(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "model.keras"))):
        export_run(tmp_path, "graphmdn", base_dir=tmp_path / "saved_models")
    assert not (tmp_path / "saved_models").exists()


def test_jit_compile_export_marks_the_forward_pass_for_xla(tmp_path):
    model = small_model("pose")
    model(keypoints(np.random.default_rng(0), 2))  # built, so the saved run holds its weights
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    model.save(run_dir / "model.keras")
    assert (
        main(
            [
                "export",
                str(run_dir),
                "--name",
                "x",
                "--output-dir",
                str(tmp_path),
                "--jit-compile",
                "on",
            ]
        )
        == 0
    )
    assert xla_compiled_functions(tmp_path / "x" / "1")
    assert not xla_compiled_functions(export_saved_model(model, tmp_path, name="portable"))
    with pytest.raises(ValueError, match="Received: jit_compile='yes'"):
        export_saved_model(model, tmp_path, name="bad", jit_compile="yes")


def test_xla_padded_rows_is_the_next_power_of_two_up_to_the_block():
    rows = np.arange(0, export_module.XLA_BLOCK_ROWS + 1)
    padded = np.array([int(export_module.xla_padded_rows(tf.constant(r))) for r in rows])
    expected = np.maximum(1, 2 ** np.ceil(np.log2(np.maximum(rows, 1)))).astype(int)
    np.testing.assert_array_equal(padded, expected)
    assert set(padded) == {2**i for i in range(9)} and export_module.XLA_BLOCK_ROWS == 256
