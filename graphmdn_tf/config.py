"""`TrainingConfig`: every setting of a training run, made from a paper preset plus overrides.

The config is the one source of settings for the CLI, the notebooks and the tests: `train` reads it,
writes it to `RUN_DIR/config.json`, and `evaluate_run` / the exporter read it back from there.

Example:
    >>> config = TrainingConfig.from_preset("standard", dataset="cmu", data_dir="../shared/data/cmu")
    >>> config.epochs, config.batch_size, config.peak_learning_rate       # the paper's Section 4.4
    (2, 256, 0.006)
    >>> TrainingConfig.from_json(config.to_json()) == config
    True
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, fields
from pathlib import Path

from graphmdn_tf.atomic import write_text_atomically
from graphmdn_tf.data.h36m import DEFAULT_SPLITS, KEYPOINT_KINDS, check_dataset_name
from graphmdn_tf.layers.mixture_head import MIXTURE_LEVELS
from graphmdn_tf.models.presets import MODEL_PRESETS, TRAINING_PRESETS

MODELS = ("graphmdn", "semgcn")
SCHEDULES = ("one_cycle", "exponential", "constant")
ONE_CYCLE_SHAPES = ("triangular", "cosine")
STRATEGIES = ("default", "mirrored")
JIT_CHOICES = ("auto", True, False)

# Train / test subjects of each data set (`graphmdn_tf.data.h36m.DEFAULT_SPLITS`).
DEFAULT_SUBJECTS = DEFAULT_SPLITS

# The allowed values of every field with a fixed set of choices.
FIELD_CHOICES = {
    "model": MODELS,
    "preset": tuple(MODEL_PRESETS),
    "mixture": MIXTURE_LEVELS,
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


@dataclass(frozen=True)
class TrainingConfig:
    """Settings of one training run (model, data, schedule, runtime), JSON-serialisable.

    Model (`MODEL_PRESETS`): `model` ('graphmdn' or 'semgcn'), `preset`, `mixture` ('pose' or 'node'),
    `hidden_dim`, `num_blocks`, `num_kernels` (GraphMDN only), `dropout`.

    Data (`graphmdn_tf.data.pipeline.load_samples`): `dataset` ('h36m', 'cmu', 'synthetic'), `data_dir`
    (None: the built-in synthetic set), `keypoints` ('gt' or 'sh_pt_mpii'), `train_subjects`,
    `test_subjects` (empty: the data set's default split, `DEFAULT_SUBJECTS`; a data set of another
    `<name>` needs both), `validation_subjects` (the per-epoch validation curves; empty: the test
    subjects, as the paper does), `actions` (None: all),
    `stride` (every stride-th frame, train and test), `validation_frames` (the per-epoch validation
    subset of the validation subjects, 0 for all), `image_frames` (poses drawn per epoch in TensorBoard).

    Schedule (`TRAINING_PRESETS`): `epochs`, `batch_size`, `schedule` ('one_cycle', 'exponential' or
    'constant'); one-cycle: `peak_learning_rate`, `one_cycle_shape` ('triangular' or 'cosine'),
    `div_factor` (start = peak / div_factor), `final_div_factor` (end = start / final_div_factor);
    exponential: `initial_learning_rate * decay_rate ** floor(step / decay_steps)`; constant:
    `initial_learning_rate`. Adam; `clipnorm` caps the global norm of all gradients together (the
    reference's `torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1)`, Keras `global_clipnorm`).

    Runtime: `seed`, `deterministic` (op determinism; slower, and XLA off), `jit_compile` ('auto': XLA
    on, except with `deterministic`; or True / False), `mixed_precision` (float16 compute on GPUs; the mixture head
    stays float32), `strategy` ('default' or 'mirrored' for several GPUs), `steps_per_execution`,
    `save_every_steps` (backup checkpoint period; every epoch end too), `log_every_steps` (per-step
    TensorBoard scalars).
    """

    model: str = "graphmdn"
    preset: str = "standard"
    mixture: str = "pose"
    hidden_dim: int = 128
    num_blocks: int = 4
    num_kernels: int = 5
    dropout: float = 0.1
    dataset: str = "synthetic"
    data_dir: str | None = None
    keypoints: str = "gt"
    train_subjects: tuple = ()
    test_subjects: tuple = ()
    validation_subjects: tuple = ()
    actions: tuple | None = None
    stride: int = 1
    validation_frames: int = 10_000
    image_frames: int = 3
    epochs: int = 2
    batch_size: int = 256
    schedule: str = "one_cycle"
    peak_learning_rate: float = 6e-3
    one_cycle_shape: str = "triangular"
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    initial_learning_rate: float = 1e-3
    decay_rate: float = 0.96
    decay_steps: int = 100_000
    clipnorm: float = 1.0
    seed: int = 0
    deterministic: bool = False
    jit_compile: str | bool = "auto"
    mixed_precision: bool = False
    strategy: str = "default"
    steps_per_execution: int = 1
    save_every_steps: int = 500
    log_every_steps: int = 10

    def __post_init__(self):
        for name in ("train_subjects", "test_subjects", "validation_subjects", "actions"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, name_list(value, name))
        if self.dataset in DEFAULT_SUBJECTS:
            train, test = DEFAULT_SUBJECTS[self.dataset]
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
        for name in positive_ints + ("validation_frames", "image_frames", "seed"):
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
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"Expected dropout in [0, 1). Received: dropout={self.dropout!r}")
        if not self.train_subjects or not self.test_subjects:
            split = (
                ""
                if self.dataset in DEFAULT_SUBJECTS
                else f" (dataset {self.dataset!r} has no default split)"
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
        """The subjects of the per-epoch validation: `validation_subjects`, else the test subjects."""
        return self.validation_subjects or self.test_subjects

    @classmethod
    def from_preset(cls, name: str, **overrides) -> TrainingConfig:
        """The paper's preset `name` ('standard', 'wide', 'k8', 'k200'), then `overrides` by field name.

        The model fields come from `MODEL_PRESETS[name]`, the schedule from `TRAINING_PRESETS[name]`.
        """
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
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"Unknown TrainingConfig field(s) {unknown} in the JSON. Expected names from {sorted(known)}"
            )
        return cls(**values)

    def differences(self, other: TrainingConfig) -> dict:
        """{field: (self's value, other's value)} for every field that differs."""
        return {
            field.name: (getattr(self, field.name), getattr(other, field.name))
            for field in fields(self)
            if getattr(self, field.name) != getattr(other, field.name)
        }
