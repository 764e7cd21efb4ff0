"""`graphmdn-tf bench [throughput|accuracy]`: the benchmarks of `graphmdn_tf.bench` on the command line.

- `bench` / `bench throughput` -> `graphmdn_tf.bench.throughput.run_benchmark` (BenchSettings)
- `bench accuracy` -> `graphmdn_tf.bench.accuracy.run_accuracy_benchmark` (AccuracySettings)
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from graphmdn_tf.bench import accuracy, throughput
from graphmdn_tf.bench.report import format_markdown
from graphmdn_tf.cli.errors import user_errors
from graphmdn_tf.cli.options import add_cache_dir, comma_names
from graphmdn_tf.scoring import CONVENTIONS


def register(subparsers):
    """Add `bench [throughput|accuracy]` to the `graphmdn-tf` command line."""
    parser = subparsers.add_parser(
        "bench",
        help="measure throughput against the matmul peak, or accuracy over seeds",
        description="throughput (default): training/inference samples/s against the matmul peak, and the epochs of "
        "one `train` run at the default settings (validation's share of an epoch) -> OUT/bench.{json,md}. "
        "accuracy: train GraphMDN and SemGCN with the default settings for a fixed budget over several "
        "seeds and report Protocol #1/#2 with their spread -> OUT/accuracy.{json,md,png}.",
    )
    parser.add_argument("kind", nargs="?", choices=tuple(KINDS), default="throughput")
    parser.add_argument("--out", default="bench", help="output directory (default: bench)")
    parser.add_argument(
        "--quick", action="store_true", help="a tiny run that only proves the benchmark works"
    )
    speed = parser.add_argument_group("throughput")
    speed.add_argument(
        "--presets", nargs="+", default=None, help="presets to measure (default: standard wide)"
    )
    speed.add_argument("--repeats", type=int, default=None)
    speed.add_argument("--no-xla", action="store_true", help="disable jit_compile")
    speed.add_argument("--steps-per-execution", type=int, default=None)
    speed.add_argument(
        "--profile",
        action="store_true",
        help="also trace training with TF's profiler (OUT/profile) and report where the time goes",
    )
    data = parser.add_argument_group("training runs (throughput's epoch figure, accuracy)")
    data.add_argument(
        "--dataset",
        default=None,
        help="data set name (default: cmu, the shared development set, with --data-dir or for accuracy; "
        "else the built-in synthetic set)",
    )
    data.add_argument(
        "--data-dir", default=None, help="folder with data_3d_<dataset>.npz and data_2d_...npz"
    )
    data.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="throughput: epochs of the timed `train` run (default: 2; 0 skips it); "
        "accuracy: epochs per run (default: 4; --quick: 1)",
    )
    quality = parser.add_argument_group("accuracy")
    quality.add_argument(
        "--preset", default="standard", help="model preset of both models (default: standard)"
    )
    quality.add_argument(
        "--models", nargs="+", choices=("graphmdn", "semgcn"), default=["graphmdn", "semgcn"]
    )
    quality.add_argument(
        "--seeds", type=int, nargs="+", default=None, help="seeds (default: 0 1 2; --quick: 0)"
    )
    quality.add_argument("--stride", type=int, default=None, help="frame stride (default: 1)")
    for split in ("train", "test"):
        quality.add_argument(
            f"--{split}-subjects",
            default=None,
            type=comma_names,
            help="comma-separated (default: the data set's split)",
        )
    quality.add_argument(
        "--convention", choices=tuple(CONVENTIONS), default="paper", help="scoring convention"
    )
    add_cache_dir(parser)
    parser.set_defaults(handler=run_bench)


@user_errors
def run_bench(args) -> int:
    return KINDS[args.kind](args)


def run_throughput(args) -> int:
    """`graphmdn-tf bench throughput` (the default): run, print the Markdown report, say where it went."""
    settings = throughput.QUICK if args.quick else throughput.BenchSettings()
    overrides = {}
    if args.presets:
        overrides["presets"] = tuple(args.presets)
    if args.repeats:
        overrides["repeats"] = args.repeats
    if args.no_xla:
        overrides["jit_compile"] = False
    if args.steps_per_execution:
        overrides["steps_per_execution"] = args.steps_per_execution
    if args.data_dir or args.dataset:
        overrides["epoch_dataset"] = args.dataset or "cmu"
        overrides["epoch_data_dir"] = args.data_dir
    if args.epochs is not None:
        overrides["epoch_epochs"] = args.epochs
    settings = throughput.BenchSettings(**{**asdict(settings), **overrides})
    report = throughput.run_benchmark(args.out, settings, profile=args.profile)
    print(format_markdown(report))
    print(f"Written: {Path(args.out) / 'bench.json'}, {Path(args.out) / 'bench.md'}")
    return 0


def run_accuracy(args) -> int:
    """`graphmdn-tf bench accuracy`: flags -> `AccuracySettings` -> report printed and written."""
    quick = {"epochs": 1, "seeds": (0,)} if args.quick else {}
    settings = accuracy.AccuracySettings(
        dataset=args.dataset or "cmu",
        data_dir=args.data_dir,
        preset=args.preset,
        models=tuple(args.models),
        epochs=args.epochs or quick.get("epochs", 4),
        seeds=tuple(args.seeds or quick.get("seeds", (0, 1, 2))),
        stride=args.stride or 1,
        train_subjects=args.train_subjects or (),
        test_subjects=args.test_subjects or (),
        convention=args.convention,
    )
    report = accuracy.run_accuracy_benchmark(args.out, settings, verbose=0)
    print(accuracy.format_markdown(report))
    print(f"Written: {Path(args.out) / 'accuracy.json'}, accuracy.md, accuracy.png")
    return 0


KINDS = {"throughput": run_throughput, "accuracy": run_accuracy}
