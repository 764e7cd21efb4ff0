"""A small, learnable inverse problem shared by the model tests."""

from __future__ import annotations

import numpy as np


def two_valued_problem(rng, n=512, nodes=16, input_dim=2, target_dim=3):
    """Inputs [n, nodes, input_dim] and targets [n, nodes, target_dim]: y = +-f(x), with a sign invisible in x.

    The first target_dim - 1 coordinates are tanh(sum of x) * 0.3; the last is +-0.4 at random, so a
    single prediction must average it away while a two-kernel mixture can learn both branches.
    """
    x = rng.uniform(-1, 1, size=(n, nodes, input_dim)).astype("float32")
    sign = rng.choice([-1.0, 1.0], size=(n, 1, 1))
    base = np.tanh(x.sum(axis=-1, keepdims=True)) * 0.3
    y = np.concatenate(
        [base * np.ones((1, 1, target_dim - 1)), sign * 0.4 * np.ones_like(base)], axis=-1
    )
    return x, y.astype("float32")
