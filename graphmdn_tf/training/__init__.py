"""Training: the config, the one-cycle schedule, TensorBoard summaries and the `model.fit` driver.

    >>> from graphmdn_tf.training import TrainingConfig, train
    >>> result = train(TrainingConfig.from_preset("standard", epochs=2), "runs/standard")
"""

from graphmdn_tf.training.config import TrainingConfig
from graphmdn_tf.training.one_cycle import (
    OneCycle,
    StepLearningRate,
    exponential_learning_rate,
    one_cycle_learning_rate,
)

__all__ = [
    "TrainingConfig", "OneCycle", "StepLearningRate", "one_cycle_learning_rate", "exponential_learning_rate",
    "train", "TrainResult",
]


def __getattr__(name):
    # The driver imports the data pipeline and the evaluation module; load it on first use so that
    # `graphmdn_tf.evaluation` can import the config without a cycle.
    if name in ("train", "TrainResult"):
        from graphmdn_tf.training import fit

        return getattr(fit, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
