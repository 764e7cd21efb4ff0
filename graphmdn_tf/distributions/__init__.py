"""The GraphMDN predictive distribution (TensorFlow Probability)."""

from graphmdn_tf.distributions.mixture import PARAMETER_NAMES, mixture_distribution, mixture_level

__all__ = ["PARAMETER_NAMES", "mixture_distribution", "mixture_level"]
