"""Process-wide runtime settings, each in a fresh process: `strategy='mirrored'` on the CPU split into two
logical devices (the split must happen before TensorFlow initialises its devices), and seeded op
determinism (which cannot be switched off again)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from graphmdn_tf.training.fit import train
    from graphmdn_tf.training.optimizer import GlobalBatchAdam
    from tests.training.conftest import tiny_config

    config = tiny_config(
        deterministic=True, dropout=0.0, epochs=2, stride=8, batch_size=64, image_frames=0,
        validation_frames=64, log_every_steps=1,
    )
    report, weights = {}, {}
    for strategy in ("mirrored", "default"):
        result = train(config.replace(strategy=strategy), f"{sys.argv[1]}/{strategy}", verbose=0)
        history = open(result.run_dir / "history.csv").read().splitlines()
        weights[strategy] = result.model.weights
        if strategy == "mirrored":
            mirrored_strategy = result.model.distribute_strategy
        report[strategy] = {
            "replicas": result.model.distribute_strategy.num_replicas_in_sync,
            "steps": int(result.model.optimizer.iterations.numpy()),
            "total_steps": result.total_steps,
            "history": [dict(zip(history[0].split(","), map(float, row.split(","))))
                        for row in history[1:]],
        }
    report["weight_differences"] = {
        single.path: float(
            np.abs(mirrored.numpy() - single.numpy()).max() / max(1.0, np.abs(single.numpy()).max())
        )
        for mirrored, single in zip(weights["mirrored"], weights["default"], strict=True)
    }

    # One GlobalBatchAdam step on the two replicas (the training's strategy: a second
    # MirroredStrategy in one process reuses its collectives' keys) with different gradients.
    strategy = mirrored_strategy
    with strategy.scope():
        variable = tf.Variable([1.0, -2.0, 0.5])
        optimizer = GlobalBatchAdam(learning_rate=0.1, global_clipnorm=1.0)
        optimizer.build([variable])
    replica_gradients = [[3.0, 0.0, -1.0], [1.0, 2.0, -1.0]]

    def step():
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        optimizer.apply_gradients([(tf.gather(tf.constant(replica_gradients), replica), variable)])

    strategy.run(tf.function(step))
    report["adam_step"] = {"gradients": replica_gradients, "variable": variable.numpy().tolist()}
    print(json.dumps(report))
    """
)

#: Parameters whose gradient is zero in exact arithmetic: the biases added right before a
#: BatchNormalization (which subtracts them again with the batch mean), and the moving means that
#: absorb them. Adam turns their float-rounding gradients (~1e-8, their sign set by the order in which
#: one device or two replicas sum) into steps up to the learning rate, so they wander apart by ~1e-2
#: between any two summation orders; the loss does not depend on them in training.
BEFORE_BATCH_NORM = ("conv/bias", "output_bias", "moving_mean")


def adam_step(variable, gradient, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """The first Adam step from zero moments, in NumPy (Keras' form: epsilon outside the root)."""
    first, second = (1 - beta_1) * gradient, (1 - beta_2) * gradient**2
    rate = learning_rate * np.sqrt(1 - beta_2) / (1 - beta_1)
    return variable - rate * first / (np.sqrt(second) + epsilon)


def test_mirrored_strategy_on_two_logical_cpus_trains_as_one_replica(tmp_path):
    # The same global batches (deterministic, no dropout, the default clipnorm 1) split over two
    # replicas give one replica's training: the loss and the gradients scale with the replicas, batch
    # normalisation uses the global batch's statistics, each epoch starts the seeded stream at its
    # first order (Keras' symbolic build draws no batch), and clipping sees the sum of the replicas'
    # gradients (GlobalBatchAdam). A loss left unscaled doubles it; per-replica batch statistics move
    # it by 3%; the second order of the stream by 2.5%, as does clipping each replica's share.
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
    assert len(mirrored["history"]) == len(single["history"]) == 2
    # Training losses and errors of every epoch: float32 sums in another order, 56 steps on.
    for mirrored_row, single_row in zip(mirrored["history"], single["history"]):
        for key in ("loss", "mpjpe_mean", "mpjpe_highest", "mpjpe_oracle"):
            assert mirrored_row[key] == pytest.approx(single_row[key], rel=1e-4), key
    # Final weights: the same within 1e-3, relative to the larger of 1 and the weight's largest
    # element (float32 rounding in another summation order, compounded over 56 Adam steps, moves
    # them by up to about 2e-4).
    differences = report["weight_differences"]
    compared = {
        path: difference
        for path, difference in differences.items()
        if not path.endswith(BEFORE_BATCH_NORM)
    }
    assert len(compared) > len(differences) / 2
    assert max(compared.values()) < 1e-3, max(compared.items(), key=lambda item: item[1])
    # GlobalBatchAdam: one step is Adam's on the clipped sum of the replicas' gradients.
    gradients = np.sum(report["adam_step"]["gradients"], axis=0)
    clipped = gradients / max(1.0, np.linalg.norm(gradients))
    expected = adam_step(np.array([1.0, -2.0, 0.5]), clipped, learning_rate=0.1)
    np.testing.assert_allclose(report["adam_step"]["variable"], expected, rtol=1e-6, atol=1e-7)


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
