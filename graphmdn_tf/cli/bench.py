"""`graphmdn-tf bench throughput` and `graphmdn-tf bench accuracy`: the benchmarks of `graphmdn_tf.bench`.

- `bench throughput` -> `graphmdn_tf.bench.throughput.run_benchmark` (BenchSettings)
- `bench accuracy` -> `graphmdn_tf.bench.accuracy.run_accuracy_benchmark` (AccuracySettings)

`bench` without a subcommand (the retired spelling, with the subcommand as a trailing positional) still
runs, with a warning (`with_subcommand`).
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

from graphmdn_tf.cli.errors import set_handler
from graphmdn_tf.cli.options import (
    DeprecatedAlias,
    add_cache_dir,
    add_jit_compile,
    add_output_dir,
    comma_names,
    jit_compile_value,
    warn_deprecated,
)
from graphmdn_tf.config import MODELS
from graphmdn_tf.conventions import CONVENTIONS
from graphmdn_tf.models.presets import MODEL_PRESETS

SUBCOMMANDS = ("throughput", "accuracy")


def with_subcommand(argv: list[str] | None) -> list[str]:
    """The command line with `bench`'s subcommand in its place: `bench --quick` -> `bench throughput
    --quick`, `bench --quick accuracy` -> `bench accuracy --quick` (each with a deprecation warning)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] != ["bench"] or argv[1:2] and argv[1] in SUBCOMMANDS:
        return argv
    rest = argv[1:]
    named = [word for word in rest if word in SUBCOMMANDS]
    if not named and {"-h", "--help"} & set(rest):
        return argv  # `bench --help` lists the subcommands
    subcommand = named[0] if named else "throughput"
    if named:
        rest.remove(subcommand)
        warn_deprecated(f"'bench ... {subcommand}'", f"'bench {subcommand} ...'")
    else:
        warn_deprecated("'bench' without a subcommand", "'bench throughput'")
    return ["bench", subcommand, *rest]


def register(subparsers) -> None:
    """Add `bench throughput` and `bench accuracy` to the `graphmdn-tf` command line."""
    bench = subparsers.add_parser(
        "bench",
        help="measure throughput against the matmul peak, or accuracy over seeds",
        description="throughput: training/inference samples/s against the matmul peak, and the epochs "
        "of one `train` run; accuracy: Protocol #1/#2 of GraphMDN and SemGCN over several seeds.",
    )
    commands = bench.add_subparsers(dest="bench_command", metavar="SUBCOMMAND")
    commands.required = True
    _register_throughput(commands)
    _register_accuracy(commands)


def _common(parser, default_output_dir: str, epochs_help: str) -> None:
    add_output_dir(parser, "folder of the report", default=default_output_dir, retired=("--out",))
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a tiny run that only proves the benchmark works (default: off)",
    )
    parser.add_argument(
        "--dataset",
        default=None,
        help="the <NAME> in data_3d_<NAME>.npz (default: cmu with --data-dir, else the built-in "
        "synthetic set)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder with data_3d_<NAME>.npz and data_2d_<NAME>_<KEYPOINTS>.npz (default: none)",
    )
    parser.add_argument("--epochs", type=int, default=None, help=epochs_help)
    add_cache_dir(parser)


def _register_throughput(commands) -> None:
    parser = commands.add_parser(
        "throughput",
        help="training/inference samples/s against the matmul peak",
        description="Training and inference samples/s against the matmul peak, and the epochs of "
        "one `train` run at the default settings -> OUTPUT_DIR/bench.{json,md}.",
    )
    _common(
        parser,
        "bench",
        "epochs of the timed `train` run (default: 2; 0 skips it)",
    )
    parser.add_argument(
        "--presets",
        nargs="+",
        choices=tuple(MODEL_PRESETS),
        default=None,
        help="presets to measure (default: standard wide; --quick: standard)",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed repeats per figure (default: 5)"
    )
    add_jit_compile(parser, "XLA in the timed training and inference", default="on")
    parser.add_argument(
        "--no-xla", dest="jit_compile", action=DeprecatedAlias, new="--jit-compile off", value="off"
    )
    parser.add_argument(
        "--steps-per-execution",
        type=int,
        default=None,
        help="training steps per compiled call (default: the benchmark's, 20)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also trace training with TF's profiler (OUTPUT_DIR/profile) and report where the time "
        "goes (default: off)",
    )
    set_handler(parser, run_throughput)


def _register_accuracy(commands) -> None:
    parser = commands.add_parser(
        "accuracy",
        help="Protocol #1/#2 of GraphMDN and SemGCN over several seeds",
        description="Train GraphMDN and SemGCN with the default settings for a fixed budget over "
        "several seeds and report Protocol #1/#2 with their spread -> "
        "OUTPUT_DIR/accuracy.{json,md,png}.",
    )
    _common(parser, "bench", "epochs per run (default: 4; --quick: 1)")
    parser.add_argument(
        "--preset",
        choices=tuple(MODEL_PRESETS),
        default="standard",
        help="model preset of both models (default: standard)",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        choices=MODELS,
        default=list(MODELS),
        help=f"models to train (default: {' '.join(MODELS)})",
    )
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=None, help="seeds (default: 0 1 2; --quick: 0)"
    )
    parser.add_argument("--stride", type=int, default=None, help="frame stride (default: 1)")
    for split in ("train", "test"):
        parser.add_argument(
            f"--{split}-subjects",
            default=None,
            type=comma_names,
            help=f"comma-separated {split} subjects (default: the data set's split)",
        )
    parser.add_argument(
        "--convention",
        choices=tuple(CONVENTIONS),
        default="paper",
        help="how poses are scored (see `evaluate --help`; default: paper)",
    )
    set_handler(parser, run_accuracy)


def run_throughput(args) -> int:
    """`graphmdn-tf bench throughput`: run, print the Markdown report, say where it went."""
    from graphmdn_tf.bench import throughput
    from graphmdn_tf.bench.report import format_markdown

    settings = throughput.QUICK if args.quick else throughput.BenchSettings()
    overrides = {"jit_compile": jit_compile_value(args.jit_compile)}
    if args.presets:
        overrides["presets"] = tuple(args.presets)
    if args.repeats:
        overrides["repeats"] = args.repeats
    if args.steps_per_execution:
        overrides["steps_per_execution"] = args.steps_per_execution
    if args.data_dir or args.dataset:
        overrides["epoch_dataset"] = args.dataset or "cmu"
        overrides["epoch_data_dir"] = args.data_dir
    if args.epochs is not None:
        overrides["epoch_epochs"] = args.epochs
    settings = throughput.BenchSettings(**{**asdict(settings), **overrides})
    report = throughput.run_benchmark(args.output_dir, settings, profile=args.profile)
    print(format_markdown(report))
    output = Path(args.output_dir)
    print(f"Written: {output / 'bench.json'}, {output / 'bench.md'}")
    return 0


def run_accuracy(args) -> int:
    """`graphmdn-tf bench accuracy`: flags -> `AccuracySettings` -> report printed and written."""
    from graphmdn_tf.bench import accuracy

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
    report = accuracy.run_accuracy_benchmark(args.output_dir, settings, verbose=0)
    print(accuracy.format_markdown(report))
    print(f"Written: {Path(args.output_dir) / 'accuracy.json'}, accuracy.md, accuracy.png")
    return 0
