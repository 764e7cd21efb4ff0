"""`TrainingConfig`: every setting of a training run, made from a paper preset plus overrides.

The config is the one source of settings for the CLI, the notebooks and the tests: `train` reads it,
writes it to `RUN_DIR/config.json`, and `evaluate_run` / the exporter read it back from there.

Example:
    >>> config = TrainingConfig.from_preset("standard", dataset="cmu", data_dir="data/cmu")
    >>> config.epochs, config.batch_size, config.peak_learning_rate       # the paper's Section 4.4
    (2, 256, 0.006)
    >>> TrainingConfig.from_json(config.to_json()) == config
    True
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from dataclasses import dataclass, fields
from pathlib import Path

from graphmdn_tf.atomic import write_text_atomically
from graphmdn_tf.data.h36m import DEFAULT_SPLITS, KEYPOINT_KINDS, check_dataset_name
from graphmdn_tf.layers.levels import (
    LEVEL_KEY,
    MIXTURE_LEVELS,
    OLD_LEVEL_KEY,
    level_keyword,
    saved_level,
)
from graphmdn_tf.models.presets import MODEL_PRESETS, MODELS, TRAINING_PRESETS

SCHEDULES = ("one_cycle", "exponential", "constant")
ONE_CYCLE_SHAPES = ("triangular", "cosine")
STRATEGIES = ("default", "mirrored")
JIT_CHOICES = ("auto", True, False)

# The allowed values of every field with a fixed set of choices.
FIELD_CHOICES = {
    "model": MODELS,
    "preset": tuple(MODEL_PRESETS),
    "mixture_level": MIXTURE_LEVELS,
    "keypoints": KEYPOINT_KINDS,
    "schedule": SCHEDULES,
    "one_cycle_shape": ONE_CYCLE_SHAPES,
    "strategy": STRATEGIES,
    "jit_compile": JIT_CHOICES,
}


def name_list(value, name: str) -> tuple:
    """Names as a tuple of str, from a comma-separated string ('S9, S11' -> ('S9', 'S11')) or a sequence.

    An empty name (an empty string, a doubled or trailing comma) is refused, never dropped.

    Raises:
        ValueError: naming `name`, the value received and the form expected.
    """
    items = (
        tuple(item.strip() for item in value.split(","))
        if isinstance(value, str)
        else tuple(map(str, value))
    )
    if not all(items):
        raise ValueError(
            f"Expected {name} to be comma-separated names, e.g. 'S9,S11'. Received: {name}={value!r} "
            f"(an empty name; leave {name} out for the default)"
        )
    return items


def closest(name: str, known) -> str:
    """'; did you mean NAME?' for the known name closest to `name`, or '' when none is close."""
    matches = difflib.get_close_matches(str(name), [str(item) for item in known], n=1)
    return f"; did you mean {matches[0]!r}?" if matches else ""


def _field(default, help: str):
    """A `TrainingConfig` field with its one description: `train --help`, `fields_markdown` and the
    docs all read `metadata["help"]`."""
    return dataclasses.field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class TrainingConfig:
    """Settings of one training run (model, data, schedule, runtime), JSON-serialisable.

    Each field's meaning is its `metadata["help"]` (`fields(TrainingConfig)`; as a table:
    `fields_markdown()`). `from_preset(name, **overrides)` fills the model fields from
    `MODEL_PRESETS[name]` and the schedule from `TRAINING_PRESETS[name]`; an empty `train_subjects` or
    `test_subjects` is the data set's default split (`graphmdn_tf.data.h36m.DEFAULT_SPLITS`).
    """

    model: str = _field("graphmdn", "the model: graphmdn, or the semgcn baseline")
    preset: str = _field("standard", "the paper's preset the model and schedule fields come from")
    mixture_level: str = _field(
        "pose", "where the mixture sits: pose (one over whole poses, Eq. 6-9) or node (Eq. 1-5)"
    )
    hidden_dim: int = _field(128, "features per graph node in the backbone")
    num_blocks: int = _field(4, "residual graph blocks in the backbone")
    num_kernels: int = _field(5, "mixture kernels M (GraphMDN only)")
    dropout: float = _field(0.1, "dropout rate in the residual blocks, in [0, 1)")
    sigma_per_joint: bool = _field(
        False,
        "pose level: one sigma per joint and kernel instead of the paper's one per kernel "
        "(GraphMDN only; refused with mixture_level node, where sigma is per joint already)",
    )
    pi_entropy_weight: float = _field(
        0.0,
        "weight of the entropy of the batch-averaged mixture weights, subtracted from the loss so "
        "the batch spreads over the kernels (0: the paper's NLL)",
    )
    wta_warmup_steps: int = _field(
        0,
        "winner-takes-all warm-up: the first steps train only each pose's best kernel (its own "
        "NLL), then the mixture NLL (0: none)",
    )
    dataset: str = _field(
        "synthetic",
        "the <NAME> in data_3d_<NAME>.npz: h36m, cmu, synthetic (built-in splits) or your own "
        "(then give train_subjects and test_subjects)",
    )
    data_dir: str | None = _field(
        None,
        "folder with data_3d_<NAME>.npz and data_2d_<NAME>_<KEYPOINTS>.npz (none: the built-in "
        "synthetic set)",
    )
    keypoints: str = _field(
        "gt",
        "the 2D inputs: gt (projected ground truth) or sh_pt_mpii (Stacked Hourglass detections)",
    )
    train_subjects: tuple = _field(
        (), "comma-separated training subjects, e.g. S1,S5,S6,S7,S8 (none: the data set's split)"
    )
    test_subjects: tuple = _field(
        (), "comma-separated test subjects, e.g. S9,S11 (none: the data set's split)"
    )
    validation_subjects: tuple = _field(
        (),
        "comma-separated subjects of the per-epoch validation curves (none: the test subjects, as "
        "the paper; a separate split when tuning hyper-parameters)",
    )
    validation_holdout: float = _field(
        0.0,
        "fraction of every training sequence, its last frames, held out of training as the "
        "validation split (for choosing settings and `calibrate`; 0: none, the validation subjects apply)",
    )
    actions: tuple | None = _field(None, "comma-separated action classes (none: all)")
    stride: int = _field(1, "keep every stride-th frame, in training and test")
    validation_frames: int = _field(
        10_000, "validation samples (frame x camera) scored per epoch and in TensorBoard (0: all)"
    )
    image_frames: int = _field(3, "poses drawn in TensorBoard per epoch")
    epochs: int = _field(2, "passes over the training set")
    batch_size: int = _field(256, "samples per training step")
    schedule: str = _field(
        "one_cycle",
        "learning-rate schedule: one_cycle (super-convergence), exponential or constant",
    )
    peak_learning_rate: float = _field(6e-3, "one-cycle: the highest learning rate")
    one_cycle_shape: str = _field("triangular", "one-cycle: triangular or cosine ramps")
    div_factor: float = _field(25.0, "one-cycle: start rate = peak_learning_rate / div_factor")
    final_div_factor: float = _field(1e4, "one-cycle: end rate = start rate / final_div_factor")
    initial_learning_rate: float = _field(
        1e-3,
        "exponential: initial_learning_rate * decay_rate ** floor(step / decay_steps); constant: "
        "the rate",
    )
    decay_rate: float = _field(0.96, "exponential: the factor per decay_steps steps")
    decay_steps: int = _field(100_000, "exponential: steps per decay_rate factor")
    clipnorm: float = _field(
        1.0, "cap on the global norm of all gradients together (Keras global_clipnorm)"
    )
    seed: int = _field(0, "seed of the weights, dropout and shuffling")
    deterministic: bool = _field(False, "TensorFlow op determinism (slower; XLA off)")
    jit_compile: str | bool = _field(
        "auto", "XLA: auto (on, except with deterministic), on (True) or off (False)"
    )
    mixed_precision: bool = _field(
        False, "float16 compute on GPUs (the mixture head stays float32)"
    )
    strategy: str = _field("default", "default, or mirrored: data parallel over all GPUs")
    steps_per_execution: int = _field(1, "training steps per compiled call")
    save_every_steps: int = _field(500, "backup checkpoint period in steps (also every epoch end)")
    log_every_steps: int = _field(10, "period of the per-step TensorBoard scalars")

    def __post_init__(self):
        for name in ("train_subjects", "test_subjects", "validation_subjects", "actions"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, name_list(value, name))
        if self.dataset in DEFAULT_SPLITS:
            train, test = DEFAULT_SPLITS[self.dataset]
            object.__setattr__(self, "train_subjects", self.train_subjects or train)
            object.__setattr__(self, "test_subjects", self.test_subjects or test)
        if self.data_dir is not None:
            object.__setattr__(self, "data_dir", str(self.data_dir))
        self._validate()

    def _validate(self):
        check_dataset_name(self.dataset)
        for name, allowed in FIELD_CHOICES.items():
            value = getattr(self, name)
            if not any(
                value is choice or (isinstance(choice, str) and value == choice)
                for choice in allowed
            ):
                raise ValueError(
                    f"Expected {name} to be one of {allowed}. Received: {name}={value!r}"
                )
        positive_ints = (
            "hidden_dim",
            "num_blocks",
            "num_kernels",
            "stride",
            "epochs",
            "batch_size",
            "decay_steps",
            "steps_per_execution",
            "save_every_steps",
            "log_every_steps",
        )
        for name in positive_ints + (
            "validation_frames",
            "image_frames",
            "seed",
            "wta_warmup_steps",
        ):
            value = getattr(self, name)
            minimum = 1 if name in positive_ints else 0
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(
                    f"Expected {name} to be an integer >= {minimum}. Received: {name}={value!r}"
                )
        for name in (
            field.name for field in fields(self) if field.type == "float"
        ):  # inf passes every bound
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
            ):
                raise ValueError(
                    f"Expected {name} to be a finite number. Received: {name}={value!r}"
                )
        for name in ("peak_learning_rate", "initial_learning_rate", "decay_rate", "clipnorm"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"Expected {name} > 0. Received: {name}={getattr(self, name)!r}")
        for name in ("div_factor", "final_div_factor"):
            if not float(getattr(self, name)) >= 1:
                raise ValueError(f"Expected {name} >= 1. Received: {name}={getattr(self, name)!r}")
        if not 0.0 <= float(self.validation_holdout) < 1.0:
            raise ValueError(
                "Expected validation_holdout in [0, 1). "
                f"Received: validation_holdout={self.validation_holdout!r}"
            )
        if self.validation_holdout and self.validation_subjects:
            raise ValueError(
                "Expected either validation_holdout or validation_subjects, not both. Received: "
                f"validation_holdout={self.validation_holdout!r}, "
                f"validation_subjects={self.validation_subjects}"
            )
        if not float(self.pi_entropy_weight) >= 0:
            raise ValueError(
                f"Expected pi_entropy_weight >= 0. Received: pi_entropy_weight={self.pi_entropy_weight!r}"
            )
        if not isinstance(self.sigma_per_joint, bool):
            raise ValueError(
                "Expected sigma_per_joint to be true or false. "
                f"Received: sigma_per_joint={self.sigma_per_joint!r}"
            )
        if self.sigma_per_joint and self.mixture_level != "pose":
            raise ValueError(
                "Expected sigma_per_joint only with mixture_level 'pose' (at node level every joint has "
                f"its own sigma already). Received: sigma_per_joint=True, mixture_level={self.mixture_level!r}"
            )
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"Expected dropout in [0, 1). Received: dropout={self.dropout!r}")
        if not self.train_subjects or not self.test_subjects:
            split = (
                ""
                if self.dataset in DEFAULT_SPLITS
                else f" (dataset={self.dataset!r} has no default split; the data sets with one are "
                f"{', '.join(DEFAULT_SPLITS)}{closest(self.dataset, DEFAULT_SPLITS)})"
            )
            raise ValueError(
                f"Expected non-empty train_subjects and test_subjects{split}. "
                f"Received: train_subjects={self.train_subjects}, test_subjects={self.test_subjects}"
            )
        if self.data_dir is None and self.dataset != "synthetic":
            raise ValueError(
                f"Expected data_dir, the folder with data_3d_{self.dataset}.npz, for dataset={self.dataset!r} "
                "(only the synthetic set is generated). Received: data_dir=None"
            )

    @property
    def validation_split(self) -> tuple:
        """The subjects of the per-epoch validation: `validation_subjects`, else the test subjects
        (with `validation_holdout`, the training subjects' held-out frames instead)."""
        if self.validation_holdout:
            return self.train_subjects
        return self.validation_subjects or self.test_subjects

    @classmethod
    def from_preset(cls, name: str, **overrides) -> TrainingConfig:
        """The paper's preset `name` ('standard', 'wide', 'k8', 'k200'), then `overrides` by field name.

        The model fields come from `MODEL_PRESETS[name]`, the schedule from `TRAINING_PRESETS[name]`.
        The deprecated override `mixture` is `mixture_level`, with a `DeprecationWarning`.
        """
        if OLD_LEVEL_KEY in overrides:
            level = overrides.get(LEVEL_KEY, cls.mixture_level)
            overrides[LEVEL_KEY] = level_keyword(level, overrides, "TrainingConfig.from_preset")
        if name not in MODEL_PRESETS:
            raise ValueError(f"Unknown preset {name!r}. Expected one of {sorted(MODEL_PRESETS)}")
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(
                f"Unknown TrainingConfig field(s) {unknown}. Expected names from {sorted(known)}"
            )
        values = {**MODEL_PRESETS[name], **TRAINING_PRESETS[name], "preset": name}
        return cls(**{**values, **overrides})

    def replace(self, **changes) -> TrainingConfig:
        """A copy with `changes` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """JSON-safe values (tuples become lists)."""
        return {
            field.name: list(value) if isinstance(value, tuple) else value
            for field in fields(self)
            for value in [getattr(self, field.name)]
        }

    def to_json(self, path: str | Path | None = None) -> str:
        """The config as JSON text; with `path`, also written there."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        if path is not None:
            write_text_atomically(path, text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> TrainingConfig:
        """Read a config from JSON text or a `.json` file (e.g. `RUN_DIR/config.json`).

        A config written before the level was called `mixture_level` says `mixture`; it is read as
        `mixture_level`.

        Raises:
            FileNotFoundError: no such file. ValueError: not JSON, not an object of known fields, or
            values of the wrong type; read from a file, the message begins with the file's path.
        """
        text = str(text_or_path)
        if text.lstrip().startswith("{"):
            return cls._from_values(json.loads(text))
        path = Path(text_or_path)
        if not path.is_file():
            raise FileNotFoundError(f"Expected a training config file. Not found: {path}")
        try:
            return cls._from_values(json.loads(path.read_text()))
        except (ValueError, TypeError) as error:  # not JSON, unknown fields, wrong types or values
            raise ValueError(f"{path}: not a valid graphmdn-tf training config ({error})") from None

    @classmethod
    def _from_values(cls, values) -> TrainingConfig:
        if not isinstance(values, dict):
            raise ValueError(
                f"Expected a training config: a JSON object of TrainingConfig fields. "
                f"Received: a JSON {type(values).__name__}"
            )
        values = saved_level(values)
        known = [field.name for field in fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            suggestions = "".join(closest(name, known) for name in unknown)
            raise ValueError(
                f"Unknown TrainingConfig field(s) {unknown}. Expected names from "
                f"{sorted(known)}{suggestions}"
            )
        return cls(**values)

    def differences(self, other: TrainingConfig) -> dict:
        """{field: (self's value, other's value)} for every field that differs."""
        return {
            field.name: (getattr(self, field.name), getattr(other, field.name))
            for field in fields(self)
            if getattr(self, field.name) != getattr(other, field.name)
        }


def field_flag(name: str) -> str:
    """The `train` flag of the field `name`: 'hidden_dim' -> '--hidden-dim'."""
    return "--" + name.replace("_", "-")


def default_text(field: dataclasses.Field) -> str:
    """A field's default as the command line spells it; a preset's field lists each preset's value."""
    by_preset = {
        name: {**MODEL_PRESETS[name], **TRAINING_PRESETS[name]}.get(field.name, field.default)
        for name in MODEL_PRESETS
    }
    if len(set(map(repr, by_preset.values()))) > 1:
        return "per --preset: " + ", ".join(
            f"{name} {_spelt(value)}" for name, value in by_preset.items()
        )
    return _spelt(field.default)


def _spelt(value) -> str:
    if value is True or value is False:
        return "on" if value else "off"
    if value is None or value == ():
        return "none"
    if isinstance(value, float):
        return format(value, "g")
    return str(value)


def fields_markdown() -> str:
    """The `TrainingConfig` fields as a Markdown table: field, `train` flag, default, description."""
    rows = [
        f"| `{field.name}` | `{field_flag(field.name)}` | {default_text(field)} | "
        f"{field.metadata['help']} |"
        for field in fields(TrainingConfig)
    ]
    return (
        "\n".join(["| Field | Flag | Default | Description |", "|---|---|---|---|", *rows]) + "\n"
    )
