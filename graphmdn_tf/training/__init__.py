"""Training: the one-cycle schedule, TensorBoard summaries and the `model.fit` driver.

    >>> from graphmdn_tf.training import TrainingConfig, train
    >>> result = train(TrainingConfig.from_preset("standard", epochs=2), "runs/standard")

`TrainingConfig` lives in `graphmdn_tf.config` (evaluation, export and the benchmarks read it too) and
is re-exported here.
"""

from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.training.fit import TrainResult, train
from graphmdn_tf.training.one_cycle import (
    OneCycle,
    StepLearningRate,
    exponential_learning_rate,
    one_cycle_learning_rate,
)

__all__ = [
    "TrainingConfig",
    "OneCycle",
    "StepLearningRate",
    "one_cycle_learning_rate",
    "exponential_learning_rate",
    "train",
    "TrainResult",
]
