"""The data tests' fixtures (the shared CMU folder) for `data check` on the command line."""

from tests.data.conftest import cmu_dir  # noqa: F401
