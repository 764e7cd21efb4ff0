"""`graphmdn-tf evaluate`: the paper's tables of finished runs (`graphmdn_tf.evaluation.evaluate_run`).

    graphmdn-tf evaluate RUN_DIR [RUN_DIR ...] [--num-samples N] [--convention paper|raw] [--output-dir DIR]

Each run's tables go to RUN_DIR/results.{md,csv,json} and results_per_action.png; with several runs, a
comparison table goes to OUTPUT_DIR/comparison.{md,csv,json,png}.
"""

from __future__ import annotations

from pathlib import Path

from graphmdn_tf.cli.errors import user_errors
from graphmdn_tf.evaluation import combine_results, evaluate_run
from graphmdn_tf.runs import RESULTS_FILES, RunDirectory
from graphmdn_tf.scoring import CONVENTIONS


def register(subparsers) -> None:
    """Add `evaluate` to the `graphmdn-tf` command line."""
    parser = subparsers.add_parser(
        "evaluate", help="paper tables (Protocol #1/#2 per action) for one or more finished runs",
        description="Writes results.md, results.csv, results.json and results_per_action.png in each run "
                    "directory and prints the tables; with several runs, also a comparison table.",
    )
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--num-samples", type=int, default=200, help="N for the best-of-N sampled poses row (0: none)")
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--stride", type=int, default=None, help="test frame stride (default: the run's)")
    parser.add_argument("--output-dir", default="runs", help="where the comparison of several runs goes")
    parser.add_argument("--convention", choices=tuple(CONVENTIONS), default="paper",
                        help="how poses are scored: 'paper' (the authors' evaluation scripts, which made the "
                             "paper's tables: each kernel's root joint at the origin, Protocol #2 Oracle chosen "
                             "after alignment) or 'raw' (the outputs as they are)")
    parser.set_defaults(handler=run_evaluate)


@user_errors
def run_evaluate(args) -> int:
    results = []
    for run_dir in args.run_dirs:
        result = evaluate_run(run_dir, num_samples=args.num_samples, batch_size=args.batch_size, seed=args.seed,
                              stride=args.stride, convention=args.convention)
        print(f"\n## {run_dir}\n\n{result.to_markdown()}")
        written = [RunDirectory(run_dir).path / RESULTS_FILES[0], *RESULTS_FILES[1:]]
        print("Written: " + ", ".join(map(str, written)))
        results.append(result)
    if len(results) > 1:
        combined = combine_results(results)
        output = Path(args.output_dir)
        combined.write(output, "comparison")
        print(f"\n## Comparison\n\n{combined.to_markdown()}\nWritten: {output / 'comparison.md'} (.csv, .json, .png)")
    return 0
