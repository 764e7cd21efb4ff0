"""`graphmdn-tf bench [throughput|accuracy]`: the benchmarks of `graphmdn_tf.bench` on the command line.

- `bench` / `bench throughput` -> `graphmdn_tf.bench.throughput.run_command`
- `bench accuracy` -> `graphmdn_tf.bench.accuracy.run_command`
"""

from __future__ import annotations

from graphmdn_tf.bench import accuracy, throughput
from graphmdn_tf.cli.errors import user_errors
from graphmdn_tf.scoring import CONVENTIONS

KINDS = {"throughput": throughput.run_command, "accuracy": accuracy.run_command}


def register(subparsers):
    """Add `bench [throughput|accuracy]` to the `graphmdn-tf` command line."""
    parser = subparsers.add_parser(
        "bench", help="measure throughput against the matmul peak, or accuracy over seeds",
        description="throughput (default): training/inference samples/s against the matmul peak -> OUT/bench.{json,md}. "
                    "accuracy: train GraphMDN and SemGCN with the default settings for a fixed budget over several "
                    "seeds and report Protocol #1/#2 with their spread -> OUT/accuracy.{json,md,png}.",
    )
    parser.add_argument("kind", nargs="?", choices=tuple(KINDS), default="throughput")
    parser.add_argument("--out", default="bench", help="output directory (default: bench)")
    parser.add_argument("--quick", action="store_true", help="a tiny run that only proves the benchmark works")
    speed = parser.add_argument_group("throughput")
    speed.add_argument("--presets", nargs="+", default=None, help="presets to measure (default: standard wide)")
    speed.add_argument("--repeats", type=int, default=None)
    speed.add_argument("--no-xla", action="store_true", help="disable jit_compile")
    speed.add_argument("--steps-per-execution", type=int, default=None)
    speed.add_argument("--profile", action="store_true",
                       help="also trace training with TF's profiler (OUT/profile) and report where the time goes")
    quality = parser.add_argument_group("accuracy")
    quality.add_argument("--dataset", default="cmu", help="data set name (default: cmu, the shared development set)")
    quality.add_argument("--data-dir", default=None, help="folder with data_3d_<dataset>.npz and data_2d_...npz")
    quality.add_argument("--preset", default="standard", help="model preset of both models (default: standard)")
    quality.add_argument("--models", nargs="+", choices=("graphmdn", "semgcn"), default=["graphmdn", "semgcn"])
    quality.add_argument("--epochs", type=int, default=None, help="epochs per run (default: 4; --quick: 1)")
    quality.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds (default: 0 1 2; --quick: 0)")
    quality.add_argument("--stride", type=int, default=None, help="frame stride (default: 1)")
    quality.add_argument("--train-subjects", default=None, help="comma-separated (default: the data set's split)")
    quality.add_argument("--test-subjects", default=None, help="comma-separated (default: the data set's split)")
    quality.add_argument("--convention", choices=tuple(CONVENTIONS), default="paper", help="scoring convention")
    parser.set_defaults(handler=run_bench)


@user_errors
def run_bench(args) -> int:
    return KINDS[args.kind](args)
