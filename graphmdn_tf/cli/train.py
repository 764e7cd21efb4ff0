"""`graphmdn-tf train`: flags -> `TrainingConfig` -> `graphmdn_tf.training.fit.train`.

Every `TrainingConfig` field is a flag of `train` (`--peak-learning-rate 3e-3`, `--train-subjects S1,S5`,
`--deterministic`), its help the field's own description (`metadata["help"]`). Flags not given keep the
value of `--config FILE` (a run's config.json or a JSON object of fields), else the preset's.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

from graphmdn_tf.cli.errors import in_flag_words, set_handler
from graphmdn_tf.cli.options import (
    JIT_COMPILE,
    add_renamed,
    add_training_options,
    comma_names,
    jit_compile_value,
)
from graphmdn_tf.config import (
    FIELD_CHOICES,
    TrainingConfig,
    closest,
    default_text,
    field_flag,
)
from graphmdn_tf.layers.levels import saved_level

# Flag values: the config's choices, with XLA's True/False spelt on/off.
_CHOICES = {**FIELD_CHOICES, "jit_compile": tuple(JIT_COMPILE)}
_COMMA_LISTS = ("train_subjects", "test_subjects", "validation_subjects", "actions")
# Fields whose flag had another spelling before, kept as a hidden deprecated alias: field -> old flag.
_RENAMED = {"mixture_level": "--mixture"}


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per `TrainingConfig` field, plus --config; absent flags stay out of the namespace."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="a run's config.json, or a JSON object of the fields below, as the starting point; "
        "flags override it (default: none, the preset's values)",
    )
    group = parser.add_argument_group("training config (a flag overrides --config and --preset)")
    for field in fields(TrainingConfig):
        options = {
            "dest": field.name,
            "default": argparse.SUPPRESS,
            "help": field_help(field).replace("%", "%%"),
        }
        if field.name in _CHOICES:
            options["choices"] = _CHOICES[field.name]
        elif field.name in _COMMA_LISTS:
            options["type"] = comma_names
        elif isinstance(field.default, bool):
            options["action"] = argparse.BooleanOptionalAction
        elif isinstance(field.default, (int, float)):
            options["type"] = type(field.default)
        if field.name in _RENAMED:
            add_renamed(group, field_flag(field.name), _RENAMED[field.name], **options)
        else:
            group.add_argument(field_flag(field.name), **options)


def field_help(field) -> str:
    """A field's description and default, in flags: 'start rate = --peak-learning-rate / ...'."""
    flags = {each.name: field_flag(each.name) for each in fields(TrainingConfig)}
    return in_flag_words(f"{field.metadata['help']} (default: {default_text(field)})", flags)


def config_from_args(args: argparse.Namespace) -> TrainingConfig:
    """The `TrainingConfig` of a parsed command line: --config (or --preset), then the flags given."""
    overrides = {
        field.name: getattr(args, field.name)
        for field in fields(TrainingConfig)
        if hasattr(args, field.name)
    }
    if "jit_compile" in overrides:
        overrides["jit_compile"] = jit_compile_value(overrides["jit_compile"])
    if args.config is None:
        return TrainingConfig.from_preset(overrides.pop("preset", "standard"), **overrides)
    if "preset" in overrides:
        raise ValueError("give --config or --preset, not both (the config file names its preset)")
    return TrainingConfig.from_json(
        json.dumps({**_config_file(args.config), **_jsonable(overrides)})
    )


def _config_file(path: Path) -> dict:
    """The fields of `--config FILE`, refused by name when the file is missing, not JSON, not an object
    or holds a key that is no field."""
    if not path.is_file():
        raise FileNotFoundError(
            f"--config {path}: no such file (expected a run's config.json or a JSON object of "
            "training fields)"
        )
    try:
        values = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"--config {path}: not JSON ({error})") from None
    if not isinstance(values, dict):
        raise ValueError(
            f"--config {path}: expected a JSON object of training fields. Received: a JSON "
            f"{type(values).__name__}"
        )
    known = [field.name for field in fields(TrainingConfig)]
    values = saved_level(values)
    for key in values:
        if key not in known:
            raise ValueError(
                f"--config {path}: unknown key {key!r}{closest(key, known)} (the keys are the "
                "training config's fields, as in a run's config.json)"
            )
    return values


def _jsonable(overrides: dict) -> dict:
    return {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in overrides.items()
    }


def default_run_dir(config: TrainingConfig) -> Path:
    keypoints = "" if config.keypoints == "gt" else f"-{config.keypoints}"
    return Path("runs") / f"{config.model}-{config.preset}-{config.dataset}{keypoints}"


def run_train(args) -> int:
    config = config_from_args(args)  # a bad flag is refused before TensorFlow loads
    from graphmdn_tf.training.fit import train

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
    parser.add_argument(
        "--run-dir",
        help="run directory (default: runs/<model>-<preset>-<dataset>[-<keypoints>])",
    )
    add_training_options(
        parser, "start over in a run directory that holds a run (default: resume or refuse)"
    )
    add_config_arguments(parser)
    set_handler(parser, run_train)
