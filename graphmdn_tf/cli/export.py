"""`graphmdn-tf export` and `graphmdn-tf predict`: SavedModel export (`graphmdn_tf.export.export_run`) and
the TF Serving clients (`graphmdn_tf.serving`) on the command line.

    graphmdn-tf export RUN_DIR --name NAME [--version N] [--output-dir saved_models] [--num-samples S]
                       [--seed K] [--jit-compile auto|on|off]
    graphmdn-tf predict --server URL (--rest | --grpc) --input poses.npy --output result.npz
                        [--signature NAME] [--model NAME] [--version N | --label L] [--timeout SECONDS]

`--input` is a .npy array (the signature's single input, e.g. keypoints [batch, 16, 2]) or a .npz
whose array names are the signature's input keys (e.g. `keypoints_px`, `image_width`,
`image_height` for `from_pixels`). The result .npz holds one array per output key; an existing
`--output` file is never overwritten. Both commands exit 2 with a one-line message on a usage,
file or server error.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

import numpy as np

from graphmdn_tf.cli.errors import set_handler
from graphmdn_tf.cli.options import (
    DeprecatedAlias,
    add_jit_compile,
    add_output_dir,
    jit_compile_value,
)
from graphmdn_tf.serving import DEFAULT_NUM_SAMPLES, FORMATS, SAMPLE, SAVED_MODEL, SERVING_DEFAULT


def register(subparsers) -> None:
    """Add `export` and `predict` to the `graphmdn-tf` command line."""
    export = subparsers.add_parser(
        "export",
        help="export a trained run as a TF Serving SavedModel",
        description="Write RUN_DIR/model.keras as BASE_DIR/NAME/VERSION (TF Serving's layout) with the "
        "serving_default, from_pixels and sample signatures. An existing version is never overwritten.",
    )
    export.add_argument(
        "run_dir", type=Path, metavar="RUN_DIR", help="a training run directory holding model.keras"
    )
    export.add_argument(
        "--name", required=True, help="model name (TF Serving's MODEL_NAME; required)"
    )
    export.add_argument("--version", type=int, help="version number (default: the next free one)")
    add_output_dir(
        export,
        "the folder that receives NAME/VERSION",
        default="saved_models",
        type=Path,
        retired=("--base-dir",),
    )
    export.add_argument(
        "--num-samples",
        type=int,
        default=DEFAULT_NUM_SAMPLES,
        help=f"poses per example returned by the {SAMPLE!r} signature (default: {DEFAULT_NUM_SAMPLES})",
    )
    export.add_argument("--seed", type=int, default=0, help="stateless sampling seed (default: 0)")
    add_jit_compile(
        export,
        "compile the forward pass with XLA inside the SavedModel: on, or off (auto: off; TensorFlow "
        "Serving needs --xla_cpu_compilation_enabled=true for an XLA export)",
        default="off",
        bare="on",
    )
    export.add_argument(
        "--format",
        choices=FORMATS,
        default=SAVED_MODEL,
        help=f"{SAVED_MODEL}: TF Serving's SavedModel; onnx: NAME/VERSION/model.onnx (serving_default, "
        "for onnxruntime); litert: NAME/VERSION/model.tflite (serving_default and from_pixels, for "
        f"the LiteRT interpreter) (default: {SAVED_MODEL})",
    )
    set_handler(export, run_export, also=(ImportError,), base_dir="--output-dir")

    predict = subparsers.add_parser(
        "predict",
        help="query a model served by TensorFlow Serving",
        description="Send --input to a TF Serving server over REST or gRPC and save the outputs as .npz.",
    )
    predict.add_argument("--server", required=True, help="REST: http://HOST:8501; gRPC: HOST:8500")
    protocol = predict.add_mutually_exclusive_group(required=True)
    protocol.add_argument(
        "--rest",
        dest="protocol",
        action="store_const",
        const="rest",
        help="use the REST API (required: --rest or --grpc)",
    )
    protocol.add_argument(
        "--grpc",
        dest="protocol",
        action="store_const",
        const="grpc",
        help="use the gRPC API (required: --rest or --grpc)",
    )
    predict.add_argument(
        "--input", required=True, type=Path, help=".npy (single input) or .npz (keyed by input)"
    )
    output = predict.add_mutually_exclusive_group(required=True)
    output.add_argument("--output", type=Path, help="the result .npz (must not exist; required)")
    output.add_argument("--out", dest="output", type=Path, action=DeprecatedAlias, new="--output")
    predict.add_argument(
        "--signature",
        default=SERVING_DEFAULT,
        help=f"signature to call (default: {SERVING_DEFAULT})",
    )
    predict.add_argument(
        "--model", default="graphmdn", help="served model name (default: graphmdn)"
    )
    routing = predict.add_mutually_exclusive_group()
    routing.add_argument("--version", type=int, help="model version (default: the latest served)")
    routing.add_argument(
        "--label", help="version label from the server's models.config (default: none)"
    )
    predict.add_argument(
        "--timeout", type=float, default=30.0, help="seconds per request (default: 30)"
    )
    set_handler(predict, run_predict)


def run_export(args: argparse.Namespace) -> int:
    from graphmdn_tf.export import export_run

    jit_compile = jit_compile_value(args.jit_compile) is True
    path = export_run(
        args.run_dir,
        args.name,
        args.version,
        args.output_dir,
        num_samples=args.num_samples,
        seed=args.seed,
        jit_compile=jit_compile,
        format=args.format,
    )
    print(f"Exported {args.run_dir} to {path}" + (" (XLA-compiled)" if jit_compile else ""))
    return 0


def _read_inputs(path: Path):
    """The `--input` array (.npy) or arrays by input name (.npz), read without pickles.

    Raises:
        ValueError: not a .npy/.npz, an array of pickled objects, or a damaged file; the message names it.
        FileNotFoundError: no such file.
    """
    if path.suffix not in (".npy", ".npz"):
        raise ValueError(f"Expected --input to be a .npy or .npz file. Received: {path}")
    try:
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False)
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise
    except ValueError as error:
        if "allow_pickle" in str(error):  # numpy's refusal of an object array
            raise ValueError(
                f"--input {path}: holds pickled objects, which predict never loads (they can run code); expected "
                "float arrays, e.g. keypoints [batch, 16, 2] saved with np.save or np.savez"
            ) from None
        raise ValueError(f"--input {path}: not a readable .npy/.npz file ({error})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"--input {path}: not a readable .npy/.npz file ({type(error).__name__}: {error})"
        ) from None


def run_predict(args: argparse.Namespace) -> int:
    from graphmdn_tf.serving import GrpcClient, RestClient

    if args.output.exists():
        raise FileExistsError(f"Refusing to overwrite {args.output}; choose another --output")
    inputs = _read_inputs(args.input)
    if args.protocol == "rest":
        client = RestClient(args.server, model_name=args.model, timeout=args.timeout)
        outputs = client.predict(inputs, args.signature, version=args.version, label=args.label)
    else:
        with GrpcClient(args.server, model_name=args.model, timeout=args.timeout) as client:
            outputs = client.predict(inputs, args.signature, version=args.version, label=args.label)
    with open(args.output, "xb") as file:
        np.savez(file, **outputs)
    shapes = ", ".join(f"{key} {tuple(value.shape)}" for key, value in sorted(outputs.items()))
    print(f"Wrote {args.output}: {shapes}")
    return 0
