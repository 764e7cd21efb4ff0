"""The GraphMDN predictive distribution (TensorFlow Probability) and its NumPy view."""

from graphmdn_tf.distributions.arrays import MixtureArrays, log_softmax, mixture_mean
from graphmdn_tf.distributions.mixture import (
    PARAMETER_NAMES,
    check_parameters,
    mixture_distribution,
    mixture_level,
)

__all__ = [
    "PARAMETER_NAMES",
    "MixtureArrays",
    "check_parameters",
    "log_softmax",
    "mixture_distribution",
    "mixture_level",
    "mixture_mean",
]
