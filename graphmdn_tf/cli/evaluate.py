"""`graphmdn-tf evaluate`: the paper's tables of finished runs (`graphmdn_tf.evaluation.evaluate_run`).

    graphmdn-tf evaluate RUN_DIR [RUN_DIR ...] [--num-samples N] [--convention paper|raw] [--output-dir DIR]
    graphmdn-tf evaluate RUN_DIR --data-dir D --dataset NAME --keypoints K --test-subjects S9,S11

Each run's tables go to RUN_DIR/results.{md,csv,json} and results_per_action.png; on other data than the
run's own (any data flag) to RUN_DIR/evaluations/<dataset>-<keypoints>-<subjects>/ instead, so the run's
own results stay; `--output-dir` puts them elsewhere (OUTPUT_DIR/<run name> with several runs). With
several runs, a comparison table goes to OUTPUT_DIR/comparison.{md,csv,json,png} (default: runs/).
"""

from __future__ import annotations

from pathlib import Path

from graphmdn_tf.cli.errors import set_handler
from graphmdn_tf.cli.options import add_cache_dir, add_output_dir, comma_names
from graphmdn_tf.conventions import CONVENTIONS
from graphmdn_tf.data.h36m import KEYPOINT_KINDS

# Where the comparison of several runs goes when no --output-dir is given.
COMPARISON_DIR = "runs"


def register(subparsers) -> None:
    """Add `evaluate` to the `graphmdn-tf` command line."""
    parser = subparsers.add_parser(
        "evaluate",
        help="paper tables (Protocol #1/#2 per action) for one or more finished runs",
        description="Writes results.md, results.csv, results.json and results_per_action.png in each run "
        "directory and prints the tables; with several runs, also a comparison table.",
    )
    parser.add_argument(
        "run_dirs", nargs="+", metavar="RUN_DIR", help="finished training run directories"
    )
    parser.add_argument(
        "--num-samples",
        type=int,
        default=200,
        help="N for the best-of-N sampled poses row (0: none; default: 200)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=4096, help="samples per forward pass (default: 4096)"
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    parser.add_argument(
        "--stride", type=int, default=None, help="test frame stride (default: the run's)"
    )
    add_output_dir(
        parser,
        "where the results go (OUTPUT_DIR/<run name> with several runs, and the comparison); "
        "default: each run directory for its own data, RUN_DIR/evaluations/<data> for other data, "
        f"and {COMPARISON_DIR}/ for the comparison",
        retired=("--results-dir",),
    )
    data = parser.add_argument_group("data (default: each run's own)")
    data.add_argument(
        "--dataset", default=None, help="the <NAME> in data_3d_<NAME>.npz (default: the run's)"
    )
    data.add_argument(
        "--data-dir",
        default=None,
        help="folder with data_3d_<NAME>.npz and data_2d_<NAME>_<KEYPOINTS>.npz (default: the run's)",
    )
    data.add_argument(
        "--keypoints",
        default=None,
        choices=KEYPOINT_KINDS,
        help="which 2D file (default: the run's)",
    )
    data.add_argument(
        "--test-subjects",
        default=None,
        type=comma_names,
        help="comma-separated (default: the run's, or the new data set's default split)",
    )
    data.add_argument(
        "--actions",
        default=None,
        type=comma_names,
        help="comma-separated action classes (default: all)",
    )
    parser.add_argument(
        "--convention",
        choices=tuple(CONVENTIONS),
        default="paper",
        help="how poses are scored: 'paper' (the authors' evaluation scripts, which made the "
        "paper's tables: each kernel's root joint at the origin, Protocol #2 Oracle chosen "
        "after alignment) or 'raw' (the outputs as they are); default: paper",
    )
    parser.add_argument(
        "--calibration",
        choices=("both", "on", "off"),
        default="both",
        help="for a run with calibration.json (graphmdn-tf calibrate): both (the calibrated model "
        "and, beside it, the uncalibrated one's uncertainty and best-of-N rows), on (calibrated "
        "only) or off (the model as trained); default: both",
    )
    add_cache_dir(parser)
    set_handler(parser, run_evaluate, results_dir="--output-dir")


def run_evaluate(args) -> int:
    from graphmdn_tf.evaluation import DATA_FIELDS, combine_results, evaluate_run
    from graphmdn_tf.runs import (
        LOGS_DIR,
        RESULTS_FILES,
        RESULTS_STEM,
        RESULTS_SUFFIXES,
        RunDirectory,
    )
    from graphmdn_tf.written import refuse_foreign

    results = []
    overrides = {name: getattr(args, name) for name in DATA_FIELDS}
    destinations = []
    for run_dir in args.run_dirs:  # every refusal before any evaluation work
        run = RunDirectory(run_dir)
        run.require_finished()
        destinations.append((run_dir, _destination(args, run, overrides)))
        if args.output_dir is not None:
            refuse_foreign(destinations[-1][1], RESULTS_FILES)
    comparison_dir = Path(args.output_dir or COMPARISON_DIR)
    if len(args.run_dirs) > 1:
        refuse_foreign(comparison_dir, [f"comparison{suffix}" for suffix in RESULTS_SUFFIXES])
    for run_dir, destination in destinations:
        result = evaluate_run(
            run_dir,
            num_samples=args.num_samples,
            batch_size=args.batch_size,
            seed=args.seed,
            stride=args.stride,
            convention=args.convention,
            results_dir=destination,
            calibration=args.calibration,
            **overrides,
        )
        print(f"\n## {run_dir}\n\n{result.to_markdown()}")
        print(
            f"Written in {destination}: {', '.join(result.file_names(RESULTS_STEM))}; "
            f"TensorBoard: {destination / LOGS_DIR / 'evaluation'}"
        )
        results.append(result)
    if len(results) > 1:
        combined = combine_results(results)
        paths = combined.write(comparison_dir, "comparison")
        print(
            f"\n## Comparison\n\n{combined.to_markdown()}\nWritten in {comparison_dir}: "
            + ", ".join(path.name for path in paths.values())
        )
    return 0


def _destination(args, run, overrides: dict) -> Path:
    from graphmdn_tf.evaluation import default_results_dir, evaluation_data

    if args.output_dir is not None:
        return Path(args.output_dir) / (run.path.name if len(args.run_dirs) > 1 else "")
    config = run.load_config()
    return default_results_dir(run, config, evaluation_data(config, **overrides))
