"""Shared test setup: quiet TensorFlow, the reference material in tests/fixtures/, seeded randomness."""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The reference material the tests read (tests/fixtures/, see its README): the project's shared
    folder trimmed to what the tests use, in the same layout (reference/..., data/cmu/...)."""
    if not (FIXTURES / "reference" / "h36m_facts.txt").is_file():
        raise FileNotFoundError(f"Expected the test fixtures at {FIXTURES}")
    return FIXTURES


@pytest.fixture(scope="session")
def cmu_dir(shared_dir) -> Path:
    """The CMU motion-capture files in Human3.6M format, every sequence cut to its first 300 frames."""
    path = shared_dir / "data" / "cmu"
    if not (path / "data_3d_cmu.npz").is_file():
        raise FileNotFoundError(f"Expected the CMU test files at {path}")
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _seed_keras():
    """Every test starts from the same Keras/TF/NumPy/Python seeds: weight initialisation, dropout and
    shuffling are reproducible, so no test depends on a lucky draw."""
    import keras

    keras.utils.set_random_seed(1234)
