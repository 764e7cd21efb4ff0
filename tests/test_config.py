import json
from dataclasses import fields

import pytest

from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.data.h36m import DEFAULT_SPLITS
from graphmdn_tf.models.presets import MODEL_PRESETS, TRAINING_PRESETS


@pytest.mark.parametrize("name", sorted(MODEL_PRESETS))
def test_from_preset_takes_model_and_schedule_fields(name):
    config = TrainingConfig.from_preset(name)
    for key, value in {**MODEL_PRESETS[name], **TRAINING_PRESETS[name]}.items():
        assert getattr(config, key) == value, key
    assert config.preset == name and config.clipnorm == 1.0


def test_paper_defaults():
    standard = TrainingConfig.from_preset("standard")
    assert (
        standard.epochs,
        standard.batch_size,
        standard.schedule,
        standard.peak_learning_rate,
    ) == (2, 256, "one_cycle", 6e-3)
    k200 = TrainingConfig.from_preset("k200")
    assert (
        k200.schedule,
        k200.epochs,
        k200.initial_learning_rate,
        k200.dropout,
        k200.num_kernels,
    ) == ("exponential", 30, 1e-3, 0.5, 200)


@pytest.mark.parametrize(
    "field", ["train_subjects", "test_subjects", "validation_subjects", "actions"]
)
@pytest.mark.parametrize("value", ["", "S1,,S5", "S1,", " , S5", ("S1", "")])
def test_a_name_list_with_an_empty_name_is_refused_naming_the_field(field, value):
    with pytest.raises(
        ValueError, match=rf"Expected {field} to be comma-separated names.*{field}=.*an empty name"
    ):
        TrainingConfig(**{field: value})


def test_name_lists_are_stripped_and_kept_in_order():
    config = TrainingConfig(train_subjects=" S5 , S1", actions=["Walking", "Eating"])
    assert config.train_subjects == ("S5", "S1") and config.actions == ("Walking", "Eating")


def test_overrides_and_default_subjects():
    config = TrainingConfig.from_preset(
        "wide", dataset="cmu", data_dir="/data", epochs=5, train_subjects="S1,S5"
    )
    assert config.hidden_dim == 512 and config.epochs == 5
    assert (
        config.train_subjects == ("S1", "S5") and config.test_subjects == DEFAULT_SPLITS["cmu"][1]
    )
    assert TrainingConfig().train_subjects == ("S1", "S5", "S6", "S7", "S8")
    assert TrainingConfig().test_subjects == ("S9", "S11")


def test_json_round_trip(tmp_path):
    config = TrainingConfig.from_preset(
        "k8", actions=["Walking", "Sitting"], jit_compile=True, seed=3
    )
    path = tmp_path / "config.json"
    text = config.to_json(path)
    assert json.loads(path.read_text())["model"] == "graphmdn"
    assert TrainingConfig.from_json(path) == config
    assert TrainingConfig.from_json(text) == config
    assert config.replace(seed=4).differences(config) == {"seed": (4, 3)}


def test_a_config_written_before_the_level_was_renamed_reads_its_old_key(tmp_path):
    config = TrainingConfig.from_preset("k8", mixture_level="node", seed=2)
    old = {("mixture" if k == "mixture_level" else k): v for k, v in config.to_dict().items()}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(old))
    assert TrainingConfig.from_json(path) == config
    assert json.loads(config.to_json())["mixture_level"] == "node"
    with pytest.raises(ValueError, match=r"Unknown TrainingConfig field\(s\) \['mixture'\]"):
        TrainingConfig.from_json(json.dumps({**old, "mixture_level": "node"}))
    with pytest.warns(DeprecationWarning, match=r"TrainingConfig\.from_preset\(mixture=\.\.\.\)"):
        assert TrainingConfig.from_preset("k8", mixture="node", seed=2) == config


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"model": "resnet"}, "Expected model to be one of"),
        ({"schedule": "cyclic"}, "Expected schedule to be one of"),
        ({"one_cycle_shape": "saw"}, "Expected one_cycle_shape"),
        ({"strategy": "tpu"}, "Expected strategy"),
        ({"jit_compile": 1}, "Expected jit_compile"),
        ({"epochs": 0}, "Expected epochs to be an integer >= 1"),
        ({"batch_size": 2.5}, "Expected batch_size to be an integer"),
        ({"validation_frames": -1}, "Expected validation_frames to be an integer >= 0"),
        ({"peak_learning_rate": 0.0}, "Expected peak_learning_rate > 0"),
        ({"div_factor": 0.5}, "Expected div_factor >= 1"),
        ({"dropout": 1.0}, "Expected dropout in"),
        ({"pi_entropy_weight": -0.1}, r"Expected pi_entropy_weight >= 0\. Received: "),
        ({"wta_warmup_steps": -1}, "Expected wta_warmup_steps to be an integer >= 0"),
        ({"sigma_per_joint": "yes"}, "Expected sigma_per_joint to be true or false"),
        (
            {"sigma_per_joint": True, "mixture_level": "node"},
            r"Expected sigma_per_joint only with mixture_level 'pose' .*Received: "
            r"sigma_per_joint=True, mixture_level='node'",
        ),
        ({"dataset": "cmu"}, "Expected data_dir"),
        (
            {"dataset": "mpi", "data_dir": "x"},
            r"non-empty train_subjects and test_subjects \(dataset=.mpi. has no default split; "
            r"the data sets with one are h36m, cmu, synthetic\)",
        ),
        (
            {"dataset": "h36n", "data_dir": "x"},
            r"has no default split; the data sets with one are h36m, cmu, synthetic; did you mean "
            r"'h36m'\?\)",
        ),
        ({"dataset": "a/b"}, "Expected dataset to be a name like"),
        ({"epochz": 3}, "Unknown TrainingConfig field"),
    ],
)
def test_bad_settings_are_rejected(overrides, match):
    with pytest.raises(ValueError, match=match):
        TrainingConfig.from_preset("standard", **overrides)


def test_errors_for_unknown_preset_and_files(tmp_path):
    with pytest.raises(ValueError, match="Unknown preset 'huge'"):
        TrainingConfig.from_preset("huge")
    with pytest.raises(FileNotFoundError, match="Expected a training config file"):
        TrainingConfig.from_json(tmp_path / "missing.json")
    with pytest.raises(ValueError, match=r"Unknown TrainingConfig field\(s\) \['colour'\]"):
        TrainingConfig.from_json('{"colour": "red"}')
    with pytest.raises(ValueError, match=r"\['hiden_dim'\]\. .*; did you mean 'hidden_dim'\?$"):
        TrainingConfig.from_json('{"hiden_dim": 64}')


FLOAT_FIELDS = (
    "dropout",
    "pi_entropy_weight",
    "validation_holdout",
    "peak_learning_rate",
    "div_factor",
    "final_div_factor",
    "initial_learning_rate",
    "decay_rate",
    "clipnorm",
)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
@pytest.mark.parametrize("name", FLOAT_FIELDS)
def test_non_finite_floats_are_rejected(name, value):
    with pytest.raises(
        ValueError, match=rf"Expected {name} to be a finite number. Received: {name}={value!r}"
    ):
        TrainingConfig.from_preset("standard", **{name: value})


def test_every_float_field_is_checked_for_finiteness():
    assert FLOAT_FIELDS == tuple(
        field.name for field in fields(TrainingConfig) if field.type == "float"
    )


def test_a_dataset_without_a_default_split_needs_subjects():
    with pytest.raises(
        ValueError,
        match=r"non-empty train_subjects and test_subjects \(dataset='studio' has no default",
    ):
        TrainingConfig.from_preset("standard", dataset="studio", data_dir="x")
    assert TrainingConfig.from_preset(
        "standard", dataset="studio", data_dir="x", train_subjects="S1", test_subjects="S7"
    ).validation_split == ("S7",)
    with pytest.raises(ValueError, match="Expected dataset to be a name like"):
        TrainingConfig.from_preset(
            "standard", dataset="../etc", data_dir="x", train_subjects="S1", test_subjects="S7"
        )


def test_the_model_options_reach_the_built_model():
    from graphmdn_tf.models.build import build_model

    config = TrainingConfig.from_preset(
        "standard", sigma_per_joint=True, pi_entropy_weight=0.5, wta_warmup_steps=20
    )
    model = build_model(config, build=False)
    assert (model.sigma_per_joint, model.pi_entropy_weight, model.wta_warmup_steps) == (
        True,
        0.5,
        20,
    )
    assert TrainingConfig.from_json(config.to_json()) == config
