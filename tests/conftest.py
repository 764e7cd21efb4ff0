"""Shared test setup: quiet TensorFlow, the path to ../shared, and seeded randomness."""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the project root. Missing is an error, never a skip: CI always has it."""
    if not SHARED.is_dir():
        raise FileNotFoundError(
            f"Expected the shared material at {SHARED} (../shared from the project root)"
        )
    return SHARED


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _seed_keras():
    """Every test starts from the same Keras/TF/NumPy/Python seeds: weight initialisation, dropout and
    shuffling are reproducible, so no test depends on a lucky draw."""
    import keras

    keras.utils.set_random_seed(1234)
