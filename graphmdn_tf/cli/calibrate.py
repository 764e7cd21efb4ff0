"""`graphmdn-tf calibrate`: fit a GraphMDN run's per-joint sigma scale factors on its validation split
(`graphmdn_tf.evaluation.calibrate.calibrate_run`) and store them in RUN_DIR/calibration.json.

    graphmdn-tf calibrate RUN_DIR [--per-kernel] [--frames N] [--subjects S8] [--batch-size B]

From then on `evaluate`, `lift`, `export` and `RunDirectory.load_model` apply the scales; `evaluate`
also reports the uncalibrated model beside the calibrated one. A run trained without
`--validation-holdout` validated on its test subjects: it is refused unless `--subjects` names other
subjects to fit on. Calibrating again replaces calibration.json.
"""

from __future__ import annotations

from graphmdn_tf.cli.errors import set_handler
from graphmdn_tf.cli.options import add_cache_dir, comma_names


def register(subparsers) -> None:
    """Add `calibrate` to the `graphmdn-tf` command line."""
    parser = subparsers.add_parser(
        "calibrate",
        help="fit per-joint scale factors of a GraphMDN run's sigma on its validation split",
        description="Fits scale factors of sigma (per joint, or per kernel and joint) by maximum "
        "likelihood on the run's validation split (the --validation-holdout frames, never the test "
        "subjects) and writes RUN_DIR/calibration.json; evaluate, lift and export apply them.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a finished GraphMDN run directory")
    parser.add_argument(
        "--per-kernel",
        action="store_true",
        help="one scale per kernel and joint (M x N) instead of one per joint (N) (default: per joint)",
    )
    parser.add_argument(
        "--frames",
        type=int,
        default=None,
        help="fit on at most this many samples of the split, evenly spaced (default: all)",
    )
    parser.add_argument(
        "--subjects",
        type=comma_names,
        default=None,
        help="comma-separated subjects of the run's data to fit on instead of its validation split "
        "(never its test subjects; needed for a run trained without --validation-holdout) "
        "(default: the validation split)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=4096, help="samples per forward pass (default: 4096)"
    )
    add_cache_dir(parser)
    set_handler(parser, run_calibrate)


def run_calibrate(args) -> int:
    from graphmdn_tf.evaluation.calibrate import calibrate_run

    record = calibrate_run(
        args.run_dir,
        per_kernel=args.per_kernel,
        frames=args.frames,
        subjects=args.subjects,
        batch_size=args.batch_size,
    )
    where = record.fitted_on
    print(
        f"Fitted {'per-kernel and joint' if record.per_kernel else 'per-joint'} sigma scales on "
        f"{where['frames']} samples ({where['split']}: {','.join(where['subjects'])})."
    )
    print(f"{'':>12} {'before':>10} {'after':>10}")
    for key in ("nll", "ece", "coverage_90"):
        print(f"{key:>12} {record.before[key]:>10.4f} {record.after[key]:>10.4f}")
    worst = max(zip(record.after["ece_per_joint"], record.joint_names))
    print(f"worst joint ECE after: {worst[0]:.4f} ({worst[1]})")
    print(f"Written: {args.run_dir}/calibration.json")
    return 0
