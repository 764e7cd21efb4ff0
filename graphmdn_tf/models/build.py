"""One path from a config to a model, `build_model(config)`, and one from a file, `load_model(path)`."""

from __future__ import annotations

import keras

from graphmdn_tf.models.base import GraphPoseModel
from graphmdn_tf.models.graphmdn import GraphMDN
from graphmdn_tf.models.presets import MODELS
from graphmdn_tf.models.semgcn import SemGCN

#: The model names a config may give (`TrainingConfig.model`) and the class each builds.
MODEL_CLASSES = dict(zip(MODELS, (GraphMDN, SemGCN), strict=True))
# The config fields each model is made from (everything else in a config is data, schedule or runtime).
MODEL_FIELDS = {
    "graphmdn": (
        "hidden_dim",
        "num_blocks",
        "num_kernels",
        "mixture_level",
        "dropout",
        "sigma_per_joint",
        "pi_entropy_weight",
        "wta_warmup_steps",
    ),
    "semgcn": ("hidden_dim", "num_blocks", "dropout"),
}


def build_model(config, *, build: bool = True) -> keras.Model:
    """The GraphMDN or SemGCN a `TrainingConfig` describes (its `model` and model fields).

    Any object with those attributes works (the function reads `config.model` and `MODEL_FIELDS`).
    With `build`, the model is built for its own graph and input size, [None, nodes, input_dim].

    Example:
        >>> model = build_model(TrainingConfig.from_preset("wide", num_kernels=8))
    """
    if config.model not in MODEL_CLASSES:
        raise ValueError(
            f"Expected model to be one of {tuple(MODEL_CLASSES)}. Received: model={config.model!r}"
        )
    model = MODEL_CLASSES[config.model](
        **{name: getattr(config, name) for name in MODEL_FIELDS[config.model]}
    )
    if build:
        model.build((None, model.graph.num_nodes, model.input_dim))
    return model


def load_model(path) -> GraphPoseModel:
    """The GraphMDN or SemGCN saved in a `.keras` file, loaded in Keras' safe mode (no pickled code).

    Raises:
        ValueError: naming the file, when it is not a graphmdn_tf model file: not a Keras archive, refused
            by safe mode, damaged, a graph beyond `graphs.MAX_NODES`, or a model of another kind.
    """
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # a damaged or hostile file can fail anywhere inside Keras' loader
        reason = " ".join(str(error).split())[:300]
        raise ValueError(
            f"{path}: not a graphmdn_tf model file ({type(error).__name__}: {reason})"
        ) from None
    if not isinstance(model, GraphPoseModel):
        raise ValueError(
            f"{path}: not a graphmdn_tf model file: it holds a {type(model).__name__}; expected a GraphMDN or SemGCN"
        )
    return model
