"""Export a trained model as a TensorFlow Serving SavedModel: `saved_models/<NAME>/<VERSION>/`.

Signatures (method `tensorflow/serving/predict`; every tensor float32 with a leading batch
dimension of -1, so TF Serving's row ("instances") and columnar ("inputs") formats both work).
The signature names and the input and output keys are public API. N is the model's node count
(16 for the Human3.6M skeleton) and M its number of kernels.

GraphMDN:
    `serving_default`
        in:  `keypoints` [batch, N, 2], normalised screen coordinates (the training inputs).
        out: `pi` mixture weights (softmax of the logits): [batch, M] pose level, [batch, M, N]
             node level; `mu` kernel means [batch, M, N, 3]; `sigma` (shape of `pi`; [batch, M, N]
             for a calibrated model, whose sigma includes its per-joint scale factors, and for a
             pose-level model with one sigma per joint, `sigma_per_joint`);
             `highest_pose` and `mean_pose` [batch, N, 3]: `<name>_pose` for every selection of
             `graphmdn_tf.hypotheses.SELECTIONS` that needs no ground truth (Highest, Mean).
    `from_pixels`
        in:  `keypoints_px` [batch, N, 2] pixel coordinates, `image_width` and `image_height` [batch]
             (one per example, so the row format works with detector output from mixed cameras).
        out: as `serving_default`, after normalising in the graph with VideoPose3D's
             `normalize_screen_coordinates`: x_px / w * 2 - [1, h / w].
    `sample`
        in:  `keypoints` [batch, N, 2].
        out: `samples` [batch, S, N, 3]: S poses drawn from the mixture, S fixed at export
             (`num_samples`). Sampling is stateless with the seed pair `(seed, 0)` fixed at
             export: a request gives the same samples every time (those of
             `graphmdn_tf.hypotheses.sample_poses(outputs, S, seed=(seed, 0))` on the same batch).
SemGCN (deterministic, no mixture): `serving_default` and `from_pixels` as above with the single
output `pose` [batch, N, 3]; there is no `sample` signature.

Inputs are validated inside the graph, so TF Serving (which runs no Python) rejects bad requests
with INVALID_ARGUMENT instead of returning garbage: a shape other than the one above ("Expected
keypoints of shape [batch, 16, 2]. Received shape: ..."), NaN or Inf in any input ("Expected
keypoints to be finite"), image sizes whose batch differs from the keypoints', or finite values
outside the accepted ranges, which the message names:
    - normalised keypoints (`keypoints`, and `keypoints_px` once normalised) within
      [-MAX_ABS_KEYPOINT, MAX_ABS_KEYPOINT] = [-100, 100] (the image spans [-1, 1] in x);
    - `image_width` and `image_height` within [MIN_IMAGE_SIZE, MAX_IMAGE_SIZE] = [1, 65536] pixels.
The outputs are checked too: a request whose answer would hold NaN or Inf (a model that overflows
even inside those ranges) fails with INVALID_ARGUMENT ("The model computed a non-finite mu ...")
rather than being answered. A `sample` request of 0 rows returns samples [0, S, N, 3].
The SavedModel holds plain TF ops only: it loads with `tf.saved_model.load` in a process
that imports neither `graphmdn_tf` nor `tensorflow_probability`.

`jit_compile=True` (`graphmdn-tf export --jit-compile on`) compiles the model's forward pass with XLA
inside the SavedModel, which is faster on CPUs (measured in docs/benchmarks.md). XLA compiles once
per input shape, so the
batch is padded to a bounded set of shapes: up to `XLA_BLOCK_ROWS` rows, the next power of two
(1, 2, 4, ... 256); above it, blocks of `XLA_BLOCK_ROWS` rows run one after another. That is at most
9 compilations (each the first time a size is seen), and the outputs equal
the portable export's. The catch: TensorFlow Serving runs XLA-compiled SavedModels only when started
with `--xla_cpu_compilation_enabled=true` (an experimental flag, off by default; without it such a
model fails its first request), so the default export stays portable.

Versions are never overwritten: exporting onto an existing `<NAME>/<VERSION>` raises
FileExistsError; without a version the next free one (highest + 1, or 1) is taken. The SavedModel is
written to a hidden sibling directory and renamed into place, so a failed export leaves no partial
version for TF Serving to pick up.

Other formats (`format=`, `graphmdn-tf export --format`): the same folded graph, written as one
file in the version folder, for runtimes without TensorFlow:
    - "onnx": `<NAME>/<VERSION>/model.onnx` (tf2onnx, default opset), run with `onnxruntime`. One ONNX
      graph holds one function: `serving_default`'s (input `keypoints`, the same output names).
    - "litert": `<NAME>/<VERSION>/model.tflite` (TF's converter, LiteRT builtin ops only), run with
      the LiteRT interpreter (`ai-edge-litert`): signatures `serving_default` and `from_pixels`.
      There is no `sample`: its stateless random ops (StatelessMultinomial, StatelessRandomNormalV2,
      StatelessRandomGetKeyCounter, StatelessRandomUniformFullIntV2) and an 8-D Transpose are not
      LiteRT builtins; converted with TF Select they need the Flex delegate, which `ai-edge-litert`'s
      interpreter does not link (the signature then fails to prepare).
Neither runtime runs the graph's Assert ops (they are dropped on conversion): a NaN input is answered
with NaN and out-of-range values are lifted; onnxruntime fails an empty batch (a Reshape of 0 rows
with a -1 size: ONNX cannot infer it). `ExportedFile` runs either file with the SavedModel's input and
output checks done in Python (one-line `ValueError`s) and answers an empty batch.

Example:
    >>> path = export_saved_model(model, "saved_models", name="graphmdn")  # saved_models/graphmdn/1
    >>> export_run("runs/standard", "graphmdn")                           # saved_models/graphmdn/2
    >>> export_run("runs/standard", "graphmdn", format="onnx")            # saved_models/graphmdn/3/model.onnx
    >>> ExportedFile("saved_models/graphmdn/3")(keypoints)                 # {'pi', 'mu', 'sigma', ...}
"""

from __future__ import annotations

import importlib
import os
import re
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from graphmdn_tf import hypotheses
from graphmdn_tf.atomic import atomic_directory
from graphmdn_tf.batching import map_blocks
from graphmdn_tf.distributions.mixture import PARAMETER_NAMES
from graphmdn_tf.folded import FoldedForward
from graphmdn_tf.models.base import GraphPoseModel
from graphmdn_tf.runs import RunDirectory
from graphmdn_tf.serving import (
    DEFAULT_NUM_SAMPLES,
    FORMAT_FILES,
    FORMAT_PACKAGES,
    FORMATS,
    FROM_PIXELS,
    LITERT,
    ONNX,
    SAMPLE,
    SAVED_MODEL,
    SERVING_DEFAULT,
)

#: Rows per XLA block in a `jit_compile=True` export; smaller batches are padded to the next power of two.
XLA_BLOCK_ROWS = 256
#: The accepted range of normalised keypoint coordinates, [-MAX_ABS_KEYPOINT, MAX_ABS_KEYPOINT]: the image
#: spans [-1, 1] in x, so this admits detections up to 50 image widths outside it.
MAX_ABS_KEYPOINT = 100.0
#: The accepted range of `from_pixels` image sizes, in pixels.
MIN_IMAGE_SIZE = 1.0
MAX_IMAGE_SIZE = 65536.0

_NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def _validated(tensor, key: str, trailing_shape: tuple[int, ...]):
    """`tensor` after in-graph checks that it is [batch, *trailing_shape] and finite (INVALID_ARGUMENT otherwise).

    The runtime shape is padded with -1 before comparing, so a wrong rank fails too: `tf.rank` would be
    folded to the signature's static rank by the graph optimiser and never see the fed tensor.
    """
    rank = 1 + len(trailing_shape)
    shape = tf.shape(tensor)
    padded = tf.concat([shape, tf.fill([rank + 1], -1)], axis=0)[: rank + 1]
    shape_ok = tf.reduce_all(tf.equal(padded[1:], [*trailing_shape, -1]))
    expected = "[" + ", ".join(["batch", *map(str, trailing_shape)]) + "]"
    shape_check = tf.debugging.Assert(
        shape_ok,
        [f"Expected {key} of shape {expected}. Received shape:", shape],
        summarize=rank + 2,
    )
    with tf.control_dependencies([shape_check]):
        return tf.debugging.assert_all_finite(
            tensor, f"Expected {key} to be finite (no NaN or Inf)"
        )


def _within(tensor, key: str, low: float, high: float, *, phrase: str = "within", note: str = ""):
    """`tensor` after an in-graph check that every value lies in [low, high] (INVALID_ARGUMENT otherwise).

    The message names `key`, the accepted range and the smallest and largest values received; run it on a
    tensor already checked to be finite (a NaN fails both comparisons, so it would be reported here).
    """
    in_range = tf.reduce_all((tensor >= low) & (tensor <= high))
    check = tf.debugging.Assert(
        in_range,
        [
            f"Expected {key} {phrase} [{low:g}, {high:g}]{note}. Received values from",
            tf.reduce_min(tensor),
            "to",
            tf.reduce_max(tensor),
        ],
    )
    with tf.control_dependencies([check]):
        return tf.identity(tensor)


def _finite_outputs(outputs: dict) -> dict:
    """`outputs` after an in-graph check that none holds NaN or Inf: such a request fails, it is never answered."""
    return {
        key: tf.debugging.assert_all_finite(
            value,
            f"The model computed a non-finite {key} (NaN or Inf) for this request; refusing to answer",
        )
        for key, value in outputs.items()
    }


def normalize_pixels(keypoints_px, image_width, image_height):
    """Pixels [batch, N, 2] with per-example image sizes [batch] -> normalised screen coordinates.

    x_px / w * 2 - [1, h / w] (VideoPose3D's `normalize_screen_coordinates`, per example).
    """
    offset = tf.stack([tf.ones_like(image_width), image_height / image_width], axis=-1)  # [B, 2]
    return keypoints_px / image_width[:, None, None] * 2.0 - offset[:, None, :]


class _ServingFunctions:
    """The traced bodies of the signatures, over one built model."""

    def __init__(
        self,
        model: GraphPoseModel,
        is_mixture: bool,
        num_samples: int,
        seed: int,
        jit_compile: bool = False,
    ):
        self.model = model
        self.is_mixture = is_mixture
        self.num_samples = num_samples
        self.seed = seed
        self.num_nodes = model.graph.num_nodes
        self.input_dim = model.input_dim
        if not model.built:  # an untrained, unbuilt model exports too (its initial weights)
            model.build((None, model.graph.num_nodes, model.input_dim))
        self.forward = FoldedForward(
            model
        )  # BatchNorm folded, node-major: the model's outputs, less work
        self._compiled_forward = (
            tf.function(self._forward, jit_compile=True) if jit_compile else None
        )

    def keypoint_spec(self, key: str) -> tf.TensorSpec:
        return tf.TensorSpec([None, self.num_nodes, self.input_dim], tf.float32, name=key)

    def _forward(self, keypoints):
        return self.forward(keypoints)

    def _predict(self, keypoints):
        """The model's outputs; with `jit_compile`, XLA-compiled on padded shapes (see the module docstring)."""
        if self._compiled_forward is None:
            return self._forward(keypoints)
        rows = tf.shape(keypoints)[0]

        def one_block():
            size = xla_padded_rows(rows)
            outputs = self._compiled_forward(tf.pad(keypoints, [[0, size - rows], [0, 0], [0, 0]]))
            return tf.nest.map_structure(lambda t: t[:rows], outputs)

        def blocks():
            count = (rows + XLA_BLOCK_ROWS - 1) // XLA_BLOCK_ROWS
            return map_blocks(self._compiled_forward, keypoints, count, XLA_BLOCK_ROWS)

        return tf.cond(rows <= XLA_BLOCK_ROWS, one_block, blocks)

    def _outputs(self, keypoints) -> dict:
        prediction = self._predict(keypoints)
        if not self.is_mixture:
            return _finite_outputs({"pose": prediction})
        poses = hypotheses.select(prediction, names=hypotheses.selection_names(with_target=False))
        return _finite_outputs(
            {
                "pi": hypotheses.mixture_weights(prediction),
                "mu": prediction["mu"],
                "sigma": prediction["sigma"],
                **{f"{name}_pose": pose for name, pose in poses.items()},
            }
        )

    def _checked_keypoints(self, keypoints):
        keypoints = _validated(keypoints, "keypoints", (self.num_nodes, self.input_dim))
        return _within(keypoints, "keypoints", -MAX_ABS_KEYPOINT, MAX_ABS_KEYPOINT)

    def from_keypoints(self, keypoints):
        return self._outputs(self._checked_keypoints(keypoints))

    def from_pixels(self, keypoints_px, image_width, image_height):
        keypoints_px = _validated(keypoints_px, "keypoints_px", (self.num_nodes, 2))
        image_width = _validated(image_width, "image_width", ())
        image_height = _validated(image_height, "image_height", ())
        batch = tf.shape(keypoints_px)[0]
        checks = [
            tf.debugging.assert_equal(
                tf.shape(image_width)[0],
                batch,
                message="Expected one image_width per example of keypoints_px",
            ),
            tf.debugging.assert_equal(
                tf.shape(image_height)[0],
                batch,
                message="Expected one image_height per example of keypoints_px",
            ),
        ]
        with tf.control_dependencies(checks):
            image_width = _within(
                image_width, "image_width", MIN_IMAGE_SIZE, MAX_IMAGE_SIZE, note=" pixels"
            )
            image_height = _within(
                image_height, "image_height", MIN_IMAGE_SIZE, MAX_IMAGE_SIZE, note=" pixels"
            )
            keypoints = normalize_pixels(keypoints_px, image_width, image_height)
        keypoints = _within(
            keypoints,
            "keypoints_px",
            -MAX_ABS_KEYPOINT,
            MAX_ABS_KEYPOINT,
            phrase="to normalise into",
            note=" (x / image_width * 2 - [1, image_height / image_width])",
        )
        return self._outputs(keypoints)

    def sample(self, keypoints):
        keypoints = self._checked_keypoints(keypoints)
        empty = tf.zeros([0, self.num_samples, self.num_nodes, self.model.target_dim], tf.float32)
        # The mixture cannot draw from an empty batch (an integer division by zero inside), so 0 rows skip it.
        samples = tf.cond(tf.shape(keypoints)[0] > 0, lambda: self._draw(keypoints), lambda: empty)
        return _finite_outputs({"samples": samples})

    def _draw(self, keypoints):
        """`num_samples` poses per row of a non-empty batch: [batch, S, N, D], from finite mixture parameters."""
        prediction = self._predict(keypoints)
        prediction = {
            **prediction,
            **_finite_outputs({key: prediction[key] for key in PARAMETER_NAMES}),
        }
        samples = hypotheses.sample_poses(
            prediction, self.num_samples, seed=(self.seed, 0)
        )  # [S, B, N, D]
        return tf.transpose(samples, (1, 0, 2, 3))  # [B, S, N, D]

    def archive(self, sample: bool = True) -> keras.export.ExportArchive:
        """The SavedModel's endpoints; `sample=False` leaves out the `sample` signature."""
        archive = keras.export.ExportArchive()
        archive.track(self.forward)  # the folded weights (the model's own variables are not needed)
        keypoints = self.keypoint_spec("keypoints")
        archive.add_endpoint(
            SERVING_DEFAULT, tf.function(self.from_keypoints), input_signature=[keypoints]
        )
        if self.input_dim == 2:
            per_example = [
                tf.TensorSpec([None], tf.float32, name=key)
                for key in ("image_width", "image_height")
            ]
            archive.add_endpoint(
                FROM_PIXELS,
                tf.function(self.from_pixels),
                input_signature=[self.keypoint_spec("keypoints_px"), *per_example],
            )
        if self.is_mixture and sample:
            archive.add_endpoint(SAMPLE, tf.function(self.sample), input_signature=[keypoints])
        return archive


def _write_onnx(functions: _ServingFunctions, path: Path) -> None:
    """`serving_default` as an ONNX graph (tf2onnx drops the Assert ops; `ExportedFile` checks instead)."""
    tf2onnx = _import_for(ONNX, "tf2onnx")
    spec = [functions.keypoint_spec("keypoints")]
    function = tf.function(functions.from_keypoints, input_signature=spec)
    tf2onnx.convert.from_function(function, spec, output_path=str(path))


def _write_litert(functions: _ServingFunctions, path: Path) -> None:
    """`serving_default` and `from_pixels` as a LiteRT flatbuffer of builtin ops, via a SavedModel."""
    signatures = [SERVING_DEFAULT] + ([FROM_PIXELS] if functions.input_dim == 2 else [])
    with tempfile.TemporaryDirectory(dir=path.parent) as saved_model:
        functions.archive(sample=False).write_out(saved_model, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model, signature_keys=signatures)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        path.write_bytes(converter.convert())


def _import_for(format: str, module: str):
    """Import `module`, or an ImportError that names the packages `format` needs."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"The {format} format needs {FORMAT_PACKAGES[format]}: pip install "
            f"'graphmdn-tf[{format}]' (or pip install {FORMAT_PACKAGES[format]})"
        ) from None


def xla_padded_rows(rows):
    """The rows a batch of `rows` is padded to for one XLA block: the next power of two, at least 1.

    Only called for `rows <= XLA_BLOCK_ROWS`; the result is one of 1, 2, 4, ..., XLA_BLOCK_ROWS.
    """
    sizes = tf.constant(
        [2**i for i in range(XLA_BLOCK_ROWS.bit_length()) if 2**i <= XLA_BLOCK_ROWS], tf.int32
    )
    index = tf.searchsorted(
        sizes, tf.reshape(tf.maximum(tf.cast(rows, tf.int32), 1), [1]), side="left"
    )[0]
    return tf.gather(sizes, tf.minimum(index, tf.size(sizes) - 1))


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name):
        raise ValueError(
            "Expected a model name of letters, digits, '_', '.' and '-' that does not start with '.' or '-' "
            f"(it becomes a directory and a URL path segment). Received: name={name!r}"
        )
    return name


def next_version(model_dir) -> int:
    """The next free version under `model_dir`: the highest integer subdirectory + 1, or 1 if there is none.

    Only directories are versions; a file (or anything else) named like a version is left alone and its
    name skipped, so a stray `model_dir/1` file neither blocks the export nor is overwritten.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return 1
    versions = [
        int(path.name) for path in model_dir.iterdir() if path.is_dir() and path.name.isdigit()
    ]
    version = max(versions, default=0) + 1
    while os.path.lexists(
        model_dir / str(version)
    ):  # a file or a link of that name: not ours, not a version
        version += 1
    return version


def _is_mixture_model(model) -> bool:
    """Build `model` if needed; its kind from the class (`GraphPoseModel.is_mixture`)."""
    if not isinstance(model, GraphPoseModel):
        raise TypeError(
            f"Expected a graphmdn_tf GraphMDN or SemGCN model. Received: {type(model).__name__}"
        )
    if not model.built:
        model.build((None, model.graph.num_nodes, model.input_dim))
    return bool(model.is_mixture)


def export_saved_model(
    model,
    base_dir="saved_models",
    *,
    name: str,
    version: int | None = None,
    num_samples: int = DEFAULT_NUM_SAMPLES,
    seed: int = 0,
    jit_compile: bool = False,
    format: str = SAVED_MODEL,
) -> Path:
    """Write `model` as `base_dir/name/version/` (saved_model.pb + variables/) with the serving signatures.

    With `format` "onnx" or "litert" the version folder holds one file instead (`FORMAT_FILES`; see the
    module docstring for the signatures each holds).

    Args:
        model: a `GraphMDN` (mixture signatures) or `SemGCN` (deterministic `pose` signatures).
        base_dir: TF Serving's model base directory.
        name: the model name (a directory; TF Serving's MODEL_NAME).
        version: a positive integer; None takes the next free version.
        num_samples: S, the poses returned by the `sample` signature.
        seed: the `sample` signature's stateless seed is `(seed, 0)`.
        jit_compile: compile the model's forward pass with XLA inside the SavedModel (faster; TF
            Serving then needs `--xla_cpu_compilation_enabled=true`, see the module docstring).
        format: one of `FORMATS`.

    Returns:
        The path of the written version directory.

    Raises:
        FileExistsError: `base_dir/name/version` exists (versions are never overwritten).
    """
    name = _check_name(name)
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, (int, np.integer)) or version < 1
    ):
        raise ValueError(
            f"Expected version to be a positive integer or None. Received: version={version!r}"
        )
    if (
        isinstance(num_samples, bool)
        or not isinstance(num_samples, (int, np.integer))
        or num_samples < 1
    ):
        raise ValueError(
            f"Expected num_samples to be a positive integer. Received: num_samples={num_samples!r}"
        )
    if not isinstance(jit_compile, bool):
        raise ValueError(
            f"Expected jit_compile to be True or False. Received: jit_compile={jit_compile!r}"
        )
    if format not in FORMATS:
        raise ValueError(f"Expected format to be one of {FORMATS}. Received: format={format!r}")
    if jit_compile and format != SAVED_MODEL:
        raise ValueError(
            f"jit_compile applies to the {SAVED_MODEL} format only. Received: format={format!r}"
        )
    if format != SAVED_MODEL:
        _import_for(format, "tf2onnx" if format == ONNX else "ai_edge_litert")
    functions = _ServingFunctions(
        model, _is_mixture_model(model), int(num_samples), int(seed), jit_compile
    )

    model_dir = Path(base_dir) / name
    version = next_version(model_dir) if version is None else int(version)
    target = model_dir / str(version)
    if os.path.lexists(target):
        raise FileExistsError(
            f"Refusing to overwrite the exported version {target}; choose another --version"
        )
    model_dir.mkdir(parents=True, exist_ok=True)
    # The staging folder's name is not an integer, so TF Serving never loads a half-written version.
    with atomic_directory(target) as staging:
        if format == SAVED_MODEL:
            functions.archive().write_out(str(staging), verbose=False)
        else:
            staging.mkdir()
            writer = _write_onnx if format == ONNX else _write_litert
            writer(functions, staging / FORMAT_FILES[format])
    return target


def export_run(
    run_dir,
    name: str,
    version: int | None = None,
    base_dir="saved_models",
    num_samples: int = DEFAULT_NUM_SAMPLES,
    seed: int = 0,
    jit_compile: bool = False,
    format: str = SAVED_MODEL,
) -> Path:
    """Export the trained model of a training run directory (its `model.keras`); see `export_saved_model`."""
    model = RunDirectory(run_dir).load_model()
    return export_saved_model(
        model,
        base_dir,
        name=name,
        version=version,
        num_samples=num_samples,
        seed=seed,
        jit_compile=jit_compile,
        format=format,
    )


class ExportedFile:
    """The `serving_default` of an exported ONNX or LiteRT file, run in onnxruntime or the LiteRT interpreter.

    The checks the SavedModel makes in its graph (which those runtimes drop) are made here, each a
    one-line `ValueError` with the SavedModel's wording: keypoints a float32 array of shape
    [batch, N, input_dim], finite, within [-MAX_ABS_KEYPOINT, MAX_ABS_KEYPOINT]; every output finite.
    An empty batch is answered with empty outputs.

    Args:
        path: a `model.onnx` or `model.tflite` file, or a version folder holding one.

    Call arguments:
        keypoints: float32 [batch, N, input_dim], normalised screen coordinates.

    Returns:
        {output key: NumPy array}, the keys of `serving_default`.
    """

    def __init__(self, path):
        path = Path(path)
        if path.is_dir():
            found = [path / name for name in FORMAT_FILES.values() if (path / name).is_file()]
            if len(found) != 1:
                raise FileNotFoundError(
                    f"Expected {path} to hold one of {sorted(FORMAT_FILES.values())}. "
                    f"Received: {sorted(p.name for p in path.iterdir())}"
                )
            path = found[0]
        formats = {name: format for format, name in FORMAT_FILES.items()}
        if path.name not in formats or not path.is_file():
            raise FileNotFoundError(
                f"Expected an exported {' or '.join(FORMAT_FILES.values())} file. Received: {path}"
            )
        self.path, self.format = path, formats[path.name]
        if self.format == ONNX:
            onnxruntime = _import_for(ONNX, "onnxruntime")
            session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            shape = session.get_inputs()[0].shape
            self._run = lambda keypoints: dict(
                zip(
                    [output.name for output in session.get_outputs()],
                    session.run(None, {"keypoints": keypoints}),
                    strict=True,
                )
            )
        else:
            interpreter = _import_for(LITERT, "ai_edge_litert.interpreter").Interpreter(
                model_path=str(path)
            )
            runner = interpreter.get_signature_runner(SERVING_DEFAULT)
            shape = runner.get_input_details()["keypoints"]["shape_signature"].tolist()
            self._run = lambda keypoints: runner(keypoints=keypoints)
        self.num_nodes, self.input_dim = int(shape[1]), int(shape[2])

    def __call__(self, keypoints) -> dict:
        expected = f"[batch, {self.num_nodes}, {self.input_dim}]"
        if not isinstance(keypoints, np.ndarray) or keypoints.dtype != np.float32:
            received = getattr(keypoints, "dtype", type(keypoints).__name__)
            raise ValueError(
                f"Expected keypoints as a float32 NumPy array {expected}. Received: {received} "
                "(convert with np.asarray(keypoints, np.float32))"
            )
        if keypoints.ndim != 3 or keypoints.shape[1:] != (self.num_nodes, self.input_dim):
            raise ValueError(
                f"Expected keypoints of shape {expected}. Received shape: {list(keypoints.shape)}"
            )
        if not np.isfinite(keypoints).all():
            raise ValueError("Expected keypoints to be finite (no NaN or Inf)")
        if keypoints.size and np.abs(keypoints).max() > MAX_ABS_KEYPOINT:
            raise ValueError(
                f"Expected keypoints within [{-MAX_ABS_KEYPOINT:g}, {MAX_ABS_KEYPOINT:g}]. "
                f"Received values from {keypoints.min():g} to {keypoints.max():g}"
            )
        rows = len(keypoints)
        if not rows:  # onnxruntime cannot reshape 0 rows: run one row of zeros, keep none
            keypoints = np.zeros((1, self.num_nodes, self.input_dim), np.float32)
        outputs = {key: np.asarray(value)[:rows] for key, value in self._run(keypoints).items()}
        for key, value in outputs.items():
            if not np.isfinite(value).all():
                raise ValueError(
                    f"The model computed a non-finite {key} (NaN or Inf) for this request; "
                    "refusing to answer"
                )
        return outputs
