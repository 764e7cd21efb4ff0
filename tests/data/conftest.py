"""Fixtures for the data tests: the facts file, a tiny synthetic data set, a private cache."""

from pathlib import Path

import pytest

from graphmdn_tf.data.synthetic import write_synthetic_dataset
from tests.data.facts import load_facts


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
