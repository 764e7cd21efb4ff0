"""Process-wide runtime settings, each in a fresh process: `strategy='mirrored'` on the CPU split into two
logical devices (the split must happen before TensorFlow initialises its devices), and seeded op
determinism (which cannot be switched off again)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from graphmdn_tf.training.fit import train
    from tests.training.conftest import tiny_config

    result = train(tiny_config(strategy="mirrored", epochs=1, batch_size=64), sys.argv[1], verbose=0)
    history = open(result.run_dir / "history.csv").read().splitlines()
    print(json.dumps({
        "replicas": result.model.distribute_strategy.num_replicas_in_sync,
        "steps": int(result.model.optimizer.iterations.numpy()),
        "total_steps": result.total_steps,
        "history": dict(zip(history[0].split(","), map(float, history[1].split(",")))),
    }))
    """
)


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "run")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT)),
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert report["steps"] == report["total_steps"] == 3600 // 64
    for key in ("loss", "val_loss", "val_mpjpe_mean"):
        assert abs(report["history"][key]) < 1e6, key  # finite


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
