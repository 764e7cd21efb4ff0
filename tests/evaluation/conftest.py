"""The evaluation tests' hand-made mixture: 40 frames of 3 kernels near the targets, two actions."""

import numpy as np
import pytest


@pytest.fixture
def hand_made(rng):
    frames, kernels = 40, 3
    targets = rng.normal(scale=0.2, size=(frames, 16, 3)).astype(np.float32)
    mu = (targets[:, None] + rng.normal(scale=0.05, size=(frames, kernels, 16, 3))).astype(
        np.float32
    )
    outputs = {
        "mu": mu,
        "sigma": rng.uniform(0.02, 0.1, (frames, kernels)).astype(np.float32),
        "pi_logits": rng.normal(size=(frames, kernels)).astype(np.float32),
    }
    inputs = np.zeros((frames, 16, 2), np.float32)
    inputs[:, 0, 0] = np.arange(frames)
    labels = np.array(
        ["Walking"] * 30 + ["Sitting"] * 10
    )  # unbalanced: the paper's average is unweighted
    return inputs, targets, outputs, labels
