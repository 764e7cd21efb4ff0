"""`graphmdn-tf train`, `graphmdn-tf evaluate` and `graphmdn-tf quickstart`.

Every `TrainingConfig` field is a flag of `train` (`--peak-learning-rate 3e-3`, `--train-subjects S1,S5`,
`--deterministic`); flags not given keep the preset's value.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import sys
from dataclasses import fields
from pathlib import Path

from graphmdn_tf.data.pipeline import load_samples
from graphmdn_tf.evaluation import CONVENTIONS, combine_results, evaluate_run
from graphmdn_tf.models.presets import MODEL_PRESETS
from graphmdn_tf.training.config import FIELD_CHOICES, TrainingConfig
from graphmdn_tf.training.fit import train

# Flag values: the config's choices, with XLA's True/False spelt on/off.
_CHOICES = {**FIELD_CHOICES, "jit_compile": ("auto", "on", "off")}
_JIT_FLAGS = {"auto": "auto", "on": True, "off": False}
_HELP = {
    "model": "graphmdn or the semgcn baseline",
    "mixture": "pose-level (Eq. 6-9) or node-level (Eq. 1-5) mixture",
    "data_dir": "folder with data_3d_<dataset>.npz and data_2d_<dataset>_<keypoints>.npz (not needed for synthetic)",
    "train_subjects": "comma-separated, e.g. S1,S5,S6,S7,S8 (default: the data set's split)",
    "test_subjects": "comma-separated, e.g. S9,S11 (default: the data set's split)",
    "actions": "comma-separated action classes (default: all)",
    "stride": "keep every stride-th frame (train and test)",
    "validation_frames": "test frames used for per-epoch validation and TensorBoard (0: all)",
    "schedule": "one_cycle (super-convergence), exponential, or constant",
    "div_factor": "one-cycle start = peak / div_factor",
    "final_div_factor": "one-cycle end = start / final_div_factor",
    "initial_learning_rate": "exponential/constant schedule's learning rate",
    "deterministic": "TensorFlow op determinism (slower; XLA off)",
    "jit_compile": "XLA: auto (accelerators only), on, off",
    "mixed_precision": "float16 compute on GPUs (the mixture head stays float32)",
    "strategy": "mirrored: data parallel over all GPUs",
    "save_every_steps": "backup checkpoint period (also at every epoch end)",
}
_COMMA_LISTS = ("train_subjects", "test_subjects", "actions")


def _comma_list(text: str) -> tuple:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per `TrainingConfig` field, plus --preset; absent flags stay out of the namespace."""
    group = parser.add_argument_group("training config (defaults: the preset's values)")
    group.add_argument("--preset", choices=sorted(MODEL_PRESETS), default="standard",
                       help="the paper's preset (default: standard)")
    for field in fields(TrainingConfig):
        if field.name == "preset":
            continue
        flag = "--" + field.name.replace("_", "-")
        options = {"dest": field.name, "default": argparse.SUPPRESS, "help": _HELP.get(field.name)}
        if field.name in _CHOICES:
            options["choices"] = _CHOICES[field.name]
        elif field.name in _COMMA_LISTS:
            options["type"] = _comma_list
        elif isinstance(field.default, bool):
            options["action"] = argparse.BooleanOptionalAction
        elif isinstance(field.default, (int, float)):
            options["type"] = type(field.default)
        group.add_argument(flag, **options)


def config_from_args(args: argparse.Namespace) -> TrainingConfig:
    """The `TrainingConfig` of a parsed command line."""
    overrides = {field.name: getattr(args, field.name) for field in fields(TrainingConfig)
                 if field.name != "preset" and hasattr(args, field.name)}
    if "jit_compile" in overrides:
        overrides["jit_compile"] = _JIT_FLAGS[overrides["jit_compile"]]
    return TrainingConfig.from_preset(args.preset, **overrides)


def default_run_dir(config: TrainingConfig) -> Path:
    keypoints = "" if config.keypoints == "gt" else f"-{config.keypoints}"
    return Path("runs") / f"{config.model}-{config.preset}-{config.dataset}{keypoints}"


def _user_errors(handler):
    """Print the clear message of a user error (bad flag values, missing files, a finished run) and
    return exit code 2, instead of a traceback."""

    @functools.wraps(handler)
    def wrapped(args) -> int:
        try:
            return handler(args)
        except (FileExistsError, FileNotFoundError, ValueError) as error:
            print(f"graphmdn-tf {args.command}: error: {error}", file=sys.stderr)
            return 2

    return wrapped


@_user_errors
def run_train(args) -> int:
    config = config_from_args(args)
    run_dir = Path(args.run_dir) if args.run_dir else default_run_dir(config)
    result = train(config, run_dir, overwrite=args.overwrite, verbose=args.verbose)
    print(f"Finished: {result.model_path} ({result.total_steps} steps). "
          f"Evaluate with: graphmdn-tf evaluate {run_dir}\nTensorBoard: tensorboard --logdir {run_dir / 'logs'}")
    return 0


@_user_errors
def run_evaluate(args) -> int:
    results = []
    for run_dir in args.run_dirs:
        result = evaluate_run(run_dir, num_samples=args.num_samples, batch_size=args.batch_size, seed=args.seed,
                              stride=args.stride, convention=args.convention)
        print(f"\n## {run_dir}\n\n{result.to_markdown()}")
        print(f"Written: {Path(run_dir) / 'results.md'}, results.csv, results.json, results_per_action.png")
        results.append(result)
    if len(results) > 1:
        combined = combine_results(results)
        output = Path(args.output_dir)
        combined.write(output, "comparison")
        print(f"\n## Comparison\n\n{combined.to_markdown()}\nWritten: {output / 'comparison.md'} (.csv, .json, .png)")
    return 0


# The quickstart's recipe: the paper's standard architecture, batch and one-cycle peak, on the built-in
# synthetic set, with more epochs than the paper's two because the set is small.
QUICKSTART_OVERRIDES = {"dataset": "synthetic", "epochs": 8, "stride": 1, "validation_frames": 2048}
QUICKSTART_EXPORT_NAME = "graphmdn"


def quickstart_config(model: str, epochs: int | None = None, stride: int | None = None) -> TrainingConfig:
    """The quickstart's `TrainingConfig` for 'graphmdn' or 'semgcn'."""
    overrides = dict(QUICKSTART_OVERRIDES, model=model)
    overrides.update({k: v for k, v in (("epochs", epochs), ("stride", stride)) if v is not None})
    return TrainingConfig.from_preset("standard", **overrides)


def quickstart(output: str | Path = "runs", *, epochs: int | None = None, stride: int | None = None,
               export: bool = True, overwrite: bool = False, verbose: int = 1, export_dir: str | Path = "saved_models"):
    """Synthetic data -> train a pose-level GraphMDN and SemGCN the same way -> evaluate both -> print the
    comparison -> export the GraphMDN as a SavedModel. Finished quickstart runs with the same settings
    are reused unless `overwrite`. Returns the combined `EvaluationResult`."""
    output = Path(output)
    print("[1/5] Synthetic data set (generated on first use, then cached)", flush=True)
    first = quickstart_config("graphmdn", epochs, stride)
    load_samples("synthetic", subjects=first.train_subjects, stride=first.stride)
    run_dirs, trained = {}, False
    for step, model in ((2, "graphmdn"), (3, "semgcn")):
        config = quickstart_config(model, epochs, stride)
        run_dir = run_dirs[model] = output / f"quickstart-{model}"
        finished = (run_dir / "model.keras").is_file()
        if finished and not overwrite and TrainingConfig.from_json(run_dir / "config.json") == config:
            print(f"[{step}/5] {model}: reusing the finished run {run_dir} (--overwrite retrains)", flush=True)
            continue
        print(f"[{step}/5] Training {model} ({config.epochs} epochs)", flush=True)
        train(config, run_dir, overwrite=overwrite, verbose=verbose)
        trained = True
    print("[4/5] Evaluating both on the test subjects", flush=True)
    results = [evaluate_run(run_dirs[model], progress=verbose > 0) for model in ("graphmdn", "semgcn")]
    combined = combine_results(results)
    comparison_dir = output / "quickstart-comparison"
    combined.write(comparison_dir, "comparison")
    print(f"\n{combined.to_markdown()}\nWritten: {comparison_dir / 'comparison.md'} (.csv, .json, _per_action.png)")
    if export:
        export_root = Path(export_dir) / QUICKSTART_EXPORT_NAME
        if trained or not any(export_root.glob("[0-9]*")):
            from graphmdn_tf.export import export_run

            path = export_run(run_dirs["graphmdn"], QUICKSTART_EXPORT_NAME, base_dir=export_dir)
            print(f"[5/5] Exported the GraphMDN SavedModel: {path}")
        else:
            print(f"[5/5] Export: {export_root} already holds this model (new versions come with retraining)")
    else:
        print("[5/5] Export skipped")
    print(f"TensorBoard: tensorboard --logdir {output}")
    return combined


@_user_errors
def run_quickstart(args) -> int:
    quickstart(output=args.output, epochs=args.epochs, stride=args.stride, export=args.export,
               overwrite=args.overwrite, verbose=args.verbose)
    return 0


def register(subparsers) -> None:
    """Add `train`, `evaluate` and `quickstart` to the `graphmdn-tf` command line."""
    train = subparsers.add_parser(
        "train", help="train a GraphMDN or SemGCN (resumes an unfinished run directory)",
        description="Train with model.fit: Adam, gradient clipping, the paper's one-cycle schedule, backup "
                    "checkpoints (a killed run resumes when restarted with the same command) and TensorBoard logs.",
    )
    add_config_arguments(train)
    train.add_argument("--run-dir", help="run directory (default: runs/<model>-<preset>-<dataset>)")
    train.add_argument("--overwrite", action="store_true", help="start over in a run directory that holds a run")
    train.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras verbosity (default: 1)")
    train.set_defaults(handler=run_train)

    evaluate = subparsers.add_parser(
        "evaluate", help="paper tables (Protocol #1/#2 per action) for one or more finished runs",
        description="Writes results.md, results.csv, results.json and results_per_action.png in each run "
                    "directory and prints the tables; with several runs, also a comparison table.",
    )
    evaluate.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    evaluate.add_argument("--num-samples", type=int, default=200, help="N for the best-of-N sampled poses row (0: none)")
    evaluate.add_argument("--batch-size", type=int, default=4096)
    evaluate.add_argument("--seed", type=int, default=0, help="sampling seed")
    evaluate.add_argument("--stride", type=int, default=None, help="test frame stride (default: the run's)")
    evaluate.add_argument("--output-dir", default="runs", help="where the comparison of several runs goes")
    evaluate.add_argument("--convention", choices=tuple(CONVENTIONS), default="paper",
                          help="how poses are scored: 'paper' (the authors' evaluation scripts, which made the "
                               "paper's tables: each kernel's root joint at the origin, Protocol #2 Oracle chosen "
                               "after alignment) or 'raw' (the outputs as they are)")
    evaluate.set_defaults(handler=run_evaluate)

    quick = subparsers.add_parser(
        "quickstart", help="synthetic data -> train GraphMDN and SemGCN -> evaluate -> compare -> export",
        description="The whole pipeline in a few minutes on a CPU, on the built-in synthetic data set.",
    )
    quick.add_argument("--output", default="runs", help="parent of the quickstart-* run directories (default: runs)")
    quick.add_argument("--epochs", type=int, default=None, help="epochs for both models (default: the quickstart's)")
    quick.add_argument("--stride", type=int, default=None, help="frame stride (default: the quickstart's)")
    quick.add_argument("--export", action=argparse.BooleanOptionalAction,
                       default=importlib.util.find_spec("graphmdn_tf.export") is not None,
                       help="export the GraphMDN as a SavedModel into saved_models/")
    quick.add_argument("--overwrite", action="store_true", help="retrain instead of reusing finished quickstart runs")
    quick.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    quick.set_defaults(handler=run_quickstart)
