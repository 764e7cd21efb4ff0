"""A run left unfinished by the code before the schedule moved into the training step still resumes.

The fixture (tests/training/old_run/README.md) is a run killed at step 19 whose checkpoint holds the
optimizer's learning-rate variable; resumed by today's code it must finish all 28 steps with the weights
the old code ends with (both deterministic, steps_per_execution 1, XLA off, the same data order).
"""

import shutil
from pathlib import Path

import numpy as np

from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.runs import RunDirectory
from graphmdn_tf.training.fit import train

FIXTURE = Path(__file__).parent / "old_run"


def test_a_run_of_the_previous_code_resumes_to_its_weights(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(FIXTURE / "run", run_dir)
    config = TrainingConfig.from_json(run_dir / "config.json")
    result = train(config, run_dir, verbose=0)
    assert result.resumed_from_step == 19 and result.total_steps == 28
    assert int(result.model.optimizer.iterations.numpy()) == 28
    with np.load(FIXTURE / "finished_weights.npz") as stored:
        expected = [stored[f"arr_{index}"] for index in range(len(stored.files))]
    weights = result.model.get_weights()
    assert len(weights) == len(expected)
    for actual, old in zip(weights, expected):
        np.testing.assert_allclose(actual, old, rtol=0, atol=1e-6)
    assert RunDirectory(run_dir).model_path.is_file()
