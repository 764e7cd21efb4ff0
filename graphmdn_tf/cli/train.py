"""`graphmdn-tf train`: flags -> `TrainingConfig` -> `graphmdn_tf.training.fit.train`.

Every `TrainingConfig` field is a flag of `train` (`--peak-learning-rate 3e-3`, `--train-subjects S1,S5`,
`--deterministic`); flags not given keep the preset's value.
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from graphmdn_tf.cli.errors import user_errors
from graphmdn_tf.cli.options import add_cache_dir, comma_names
from graphmdn_tf.config import FIELD_CHOICES, TrainingConfig
from graphmdn_tf.models.presets import MODEL_PRESETS
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
    "validation_subjects": "comma-separated subjects of the per-epoch validation curves (default: the test "
    "subjects, as the paper; a separate split when tuning hyper-parameters)",
    "dataset": "the <NAME> in data_3d_<NAME>.npz: h36m, cmu, synthetic (built-in splits) or your own (give "
    "--train-subjects and --test-subjects)",
    "actions": "comma-separated action classes (default: all)",
    "stride": "keep every stride-th frame (train and test)",
    "validation_frames": "validation samples (frame x camera) used per epoch and in TensorBoard (0: all)",
    "schedule": "one_cycle (super-convergence), exponential, or constant",
    "div_factor": "one-cycle start = peak / div_factor",
    "final_div_factor": "one-cycle end = start / final_div_factor",
    "initial_learning_rate": "exponential/constant schedule's learning rate",
    "deterministic": "TensorFlow op determinism (slower; XLA off)",
    "jit_compile": "XLA: auto (on unless --deterministic), on, off",
    "mixed_precision": "float16 compute on GPUs (the mixture head stays float32)",
    "strategy": "mirrored: data parallel over all GPUs",
    "save_every_steps": "backup checkpoint period (also at every epoch end)",
}
_COMMA_LISTS = ("train_subjects", "test_subjects", "validation_subjects", "actions")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per `TrainingConfig` field, plus --preset; absent flags stay out of the namespace."""
    group = parser.add_argument_group("training config (defaults: the preset's values)")
    group.add_argument(
        "--preset",
        choices=sorted(MODEL_PRESETS),
        default="standard",
        help="the paper's preset (default: standard)",
    )
    for field in fields(TrainingConfig):
        if field.name == "preset":
            continue
        flag = "--" + field.name.replace("_", "-")
        options = {"dest": field.name, "default": argparse.SUPPRESS, "help": _HELP.get(field.name)}
        if field.name in _CHOICES:
            options["choices"] = _CHOICES[field.name]
        elif field.name in _COMMA_LISTS:
            options["type"] = comma_names
        elif isinstance(field.default, bool):
            options["action"] = argparse.BooleanOptionalAction
        elif isinstance(field.default, (int, float)):
            options["type"] = type(field.default)
        group.add_argument(flag, **options)


def config_from_args(args: argparse.Namespace) -> TrainingConfig:
    """The `TrainingConfig` of a parsed command line."""
    overrides = {
        field.name: getattr(args, field.name)
        for field in fields(TrainingConfig)
        if field.name != "preset" and hasattr(args, field.name)
    }
    if "jit_compile" in overrides:
        overrides["jit_compile"] = _JIT_FLAGS[overrides["jit_compile"]]
    return TrainingConfig.from_preset(args.preset, **overrides)


def default_run_dir(config: TrainingConfig) -> Path:
    keypoints = "" if config.keypoints == "gt" else f"-{config.keypoints}"
    return Path("runs") / f"{config.model}-{config.preset}-{config.dataset}{keypoints}"


@user_errors
def run_train(args) -> int:
    config = config_from_args(args)
    run_dir = Path(args.run_dir) if args.run_dir else default_run_dir(config)
    result = train(config, run_dir, overwrite=args.overwrite, verbose=args.verbose)
    print(
        f"Finished: {result.model_path} ({result.total_steps} steps). "
        f"Evaluate with: graphmdn-tf evaluate {run_dir}\nTensorBoard: tensorboard --logdir {run_dir / 'logs'}"
    )
    return 0


def register(subparsers) -> None:
    """Add `train` to the `graphmdn-tf` command line."""
    parser = subparsers.add_parser(
        "train",
        help="train a GraphMDN or SemGCN (resumes an unfinished run directory)",
        description="Train with model.fit: Adam, gradient clipping, the paper's one-cycle schedule, backup "
        "checkpoints (a killed run resumes when restarted with the same command) and TensorBoard logs.",
    )
    add_config_arguments(parser)
    parser.add_argument(
        "--run-dir", help="run directory (default: runs/<model>-<preset>-<dataset>)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="start over in a run directory that holds a run"
    )
    parser.add_argument(
        "--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras verbosity (default: 1)"
    )
    add_cache_dir(parser)
    parser.set_defaults(handler=run_train)
