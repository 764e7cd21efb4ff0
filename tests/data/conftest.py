"""Fixtures for the data tests: the shared CMU folder, a tiny synthetic data set, a private cache."""

from pathlib import Path

import pytest

from graphmdn_tf.data.synthetic import write_synthetic_dataset
from tests.data.facts import load_facts


@pytest.fixture(scope="session")
def cmu_dir(shared_dir) -> Path:
    path = shared_dir / "data" / "cmu"
    if not (path / "data_3d_cmu.npz").is_file():
        raise FileNotFoundError(f"Expected the shared CMU set at {path}")
    return path


@pytest.fixture(scope="session")
def facts(shared_dir):
    return load_facts(shared_dir)


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory) -> Path:
    """A tiny synthetic set: S1 and S9, 8 frames per sequence (30 sequences each)."""
    return write_synthetic_dataset(
        tmp_path_factory.mktemp("synthetic"),
        frames_per_sequence=8,
        subjects=("S1", "S9"),
        progress=False,
    )


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "cache"
