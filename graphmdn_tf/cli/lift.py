"""`graphmdn-tf lift`: a detector's keypoint file -> 3D hypotheses (`graphmdn_tf.lifting`).

    graphmdn-tf lift [SOURCE] KEYPOINTS --output-dir DIR [--format F] [--key K] [--image-size W H]
                     [--min-score S] [--selection NAME] [--plot]

SOURCE is a training run directory, a .keras model file, or an exported version folder (SavedModel,
model.onnx or model.tflite); left out, the demonstration model shipped in the package (named on
stderr). KEYPOINTS is a COCO results, OpenPose or MMPose JSON (or a folder of per-frame files, one
sequence in the natural order of their names), or a .npy/.npz array (see
`graphmdn_tf.data.keypoint_formats`). Writes DIR/<KEYPOINTS stem>.json and .npz (and .png with --plot);
existing files are never overwritten. A bad file or flag is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from graphmdn_tf.cli.errors import set_handler
from graphmdn_tf.cli.options import add_output_dir, flag_values
from graphmdn_tf.data.joint_mapping import DEFAULT_MIN_SCORE
from graphmdn_tf.data.keypoint_formats import FORMATS

# `graphmdn_tf.lifting.SELECTIONS`, spelt out so that `--help` imports no TensorFlow
# (tests/cli/test_parser.py checks that the two agree).
SELECTION_NAMES = (
    "highest",
    "mean",
    "reprojection",
    "reprojection_weighted",
    "skeleton",
    "temporal",
    "temporal_causal",
)


def register(subparsers) -> None:
    """Add `lift` to the `graphmdn-tf` command line."""
    parser = subparsers.add_parser(
        "lift",
        help="lift a detector's 2D keypoints to 3D pose hypotheses",
        description="Read KEYPOINTS, map them onto the model's 16 joints (filling and reporting low-confidence "
        "joints), normalise them with the image size and lift them with SOURCE.",
    )
    parser.add_argument(
        "source",
        type=Path,
        nargs="?",
        default=None,
        metavar="SOURCE",
        help="a run directory, a .keras file or a SavedModel version folder (default: the "
        "demonstration GraphMDN shipped in the package, trained on CMU motion capture)",
    )
    parser.add_argument(
        "keypoints", type=Path, metavar="KEYPOINTS", help="a keypoint file (JSON, .npy, .npz)"
    )
    add_output_dir(
        parser,
        "folder for <KEYPOINTS stem>.json, .npz and .png",
        required=True,
        type=Path,
        retired=("--out",),
    )
    parser.add_argument(
        "--format", choices=FORMATS, help="the file's format (default: detected from its content)"
    )
    parser.add_argument(
        "--key", help="the keypoint array of an .npz holding several (default: its only array)"
    )
    parser.add_argument(
        "--image-size",
        type=float,
        nargs=2,
        metavar=("W", "H"),
        help="frame size in pixels (default: the file's; needed unless the file holds it)",
    )
    parser.add_argument(
        "--min-score",
        type=float,
        default=DEFAULT_MIN_SCORE,
        help=f"joints scored below this are filled (default: {DEFAULT_MIN_SCORE})",
    )
    parser.add_argument(
        "--selection",
        metavar="NAME",
        help="also choose one pose per record with this rule, written as 'pose' and named in the "
        f"output: {', '.join(SELECTION_NAMES)}. skeleton and temporal* use priors learned from SOURCE's "
        "training poses (a run directory); temporal* follow each person index through the frames "
        "in frame order, and a folder of per-frame JSON files is one sequence in the natural order "
        "of the file names (frame_2 before frame_10) (default: none; highest and mean are always "
        "written)",
    )
    parser.add_argument(
        "--plot",
        action="store_true",
        help="also write a contact sheet of the first frames (.png; default: off)",
    )
    set_handler(parser, run_lift)


def run_lift(args: argparse.Namespace) -> int:
    from graphmdn_tf.lifting import lift, write_lift_results

    source = args.source
    if source is None:
        from graphmdn_tf.models.presets import (
            DEFAULT_PRETRAINED,
            PRETRAINED_PRESETS,
            pretrained_path,
        )

        source = pretrained_path(DEFAULT_PRETRAINED)
        notice = PRETRAINED_PRESETS[DEFAULT_PRETRAINED]["description"]
        print(f"graphmdn-tf lift: no model named; using {source}: {notice}", file=sys.stderr)
    result = lift(
        source,
        args.keypoints,
        **flag_values(args, "image_size", "format", "min_score", "key", "selection"),
    )
    paths = write_lift_results(result, args.output_dir, args.keypoints.stem, plot=args.plot)
    filled = sum(bool(fills) for fills in result.filled)
    print(
        f"Lifted {len(result.record_ids)} records ({filled} with filled joints, {len(result.refused)} refused): "
        + ", ".join(map(str, paths))
    )
    return 0
