"""Process-wide runtime settings, each in a fresh process: `strategy='mirrored'` on the CPU split into two
logical devices (the split must happen before TensorFlow initialises its devices), and seeded op
determinism (which cannot be switched off again)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from graphmdn_tf.training.fit import train
    from tests.training.conftest import tiny_config

    config = tiny_config(
        deterministic=True, dropout=0.0, epochs=2, stride=8, batch_size=64, image_frames=0,
        validation_frames=64, log_every_steps=1,
    )
    report = {}
    for strategy in ("mirrored", "default"):
        result = train(config.replace(strategy=strategy), f"{sys.argv[1]}/{strategy}", verbose=0)
        history = open(result.run_dir / "history.csv").read().splitlines()
        report[strategy] = {
            "replicas": result.model.distribute_strategy.num_replicas_in_sync,
            "steps": int(result.model.optimizer.iterations.numpy()),
            "total_steps": result.total_steps,
            "history": [dict(zip(history[0].split(","), map(float, row.split(","))))
                        for row in history[1:]],
        }
    print(json.dumps(report))
    """
)


def test_mirrored_strategy_on_two_logical_cpus_trains_the_first_epoch_as_one_replica(tmp_path):
    # The same global batches (deterministic, no dropout) split over two replicas: the first epoch gives
    # the losses and errors of one replica, so the loss and the gradients scale with the replicas and
    # batch normalisation uses the global batch's statistics (a per-replica loss left unscaled doubles
    # the loss and the gradients; per-replica batch statistics move the loss by 3%). The training loss
    # and error of the first epoch are compared; the validation NLL and the second epoch differ by more
    # than float noise and are not asserted here.
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT)),
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    mirrored, single = report["mirrored"], report["default"]
    assert mirrored["replicas"] == 2 and single["replicas"] == 1
    assert mirrored["steps"] == single["steps"] == mirrored["total_steps"] == 2 * (1800 // 64)
    mirrored_row, single_row = mirrored["history"][0], single["history"][0]
    assert mirrored_row["loss"] == pytest.approx(single_row["loss"], rel=1e-3)
    assert mirrored_row["mpjpe_mean"] == pytest.approx(single_row["mpjpe_mean"], rel=1e-2)


DETERMINISM_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np

    from graphmdn_tf.training.fit import train
    from tests.training.conftest import tiny_config

    config = tiny_config(deterministic=True, epochs=1, stride=16, validation_frames=64, image_frames=0)
    runs = {name: train(config.replace(seed=seed), f"{sys.argv[1]}/{name}", verbose=0).model.get_weights()
            for name, seed in (("a", 0), ("b", 0), ("c", 1))}
    same = lambda x, y: all(np.array_equal(u, v) for u, v in zip(runs[x], runs[y]))
    print(json.dumps({"same_seed_identical": same("a", "b"), "other_seed_identical": same("a", "c")}))
    """
)


def test_seeded_deterministic_runs_are_identical(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-c", DETERMINISM_SCRIPT, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT)),
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report == {"same_seed_identical": True, "other_seed_identical": False}
