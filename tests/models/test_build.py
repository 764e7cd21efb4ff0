"""`build_model(config)`: the one path from a config to a model keeps every model field."""

import pytest

from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.models import GraphMDN, SemGCN, build_model


def test_every_model_field_of_the_config_reaches_the_model():
    config = TrainingConfig.from_preset(
        "standard", hidden_dim=24, num_blocks=2, num_kernels=3, mixture_level="node", dropout=0.25
    )
    model = build_model(config)
    assert isinstance(model, GraphMDN) and model.built
    assert (
        model.hidden_dim,
        model.num_blocks,
        model.num_kernels,
        model.mixture_level,
        model.dropout,
    ) == (24, 2, 3, "node", 0.25)
    assert model.backbone.residual_blocks[0].block1.dropout == 0.25
    semgcn = build_model(config.replace(model="semgcn"), build=False)
    assert isinstance(semgcn, SemGCN) and not semgcn.built
    assert (semgcn.hidden_dim, semgcn.num_blocks, semgcn.dropout) == (24, 2, 0.25)


def test_the_preset_is_the_default():
    model = build_model(TrainingConfig.from_preset("wide"))
    assert (model.hidden_dim, model.num_blocks, model.num_kernels) == (512, 3, 5)


def test_an_unknown_model_kind_is_refused():
    class Config:
        model = "linear"

    with pytest.raises(
        ValueError,
        match=r"Expected model to be one of \('graphmdn', 'semgcn'\)\. Received: model='linear'",
    ):
        build_model(Config())


def test_each_model_class_knows_its_kind_and_its_outputs_agree():
    import numpy as np

    config = TrainingConfig.from_preset("standard", hidden_dim=8, num_blocks=1, num_kernels=2)
    for kind, expected in (("graphmdn", True), ("semgcn", False)):
        model = build_model(config.replace(model=kind))
        outputs = model(np.zeros((2, 16, 2), np.float32), training=False)
        assert type(model).is_mixture is expected and isinstance(outputs, dict) is expected
