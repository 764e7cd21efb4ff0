"""Does Keras' `model.fit` train under `tf.distribute.MultiWorkerMirroredStrategy` here?

Starts two worker processes on localhost (TF_CONFIG cluster of two), each fitting a plain Keras model and
then a GraphMDN for a few steps, and prints what each worker reported:

    python tools/multi_worker_check.py

graphmdn-tf ships no multi-worker flag while this fails (the README's "Several machines" has the
error and the upstream issue); `--strategy mirrored` (one host, all its GPUs) is the supported path.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

WORKER = r"""
import json, os, sys
import numpy as np
import keras
import tensorflow as tf
strategy = tf.distribute.MultiWorkerMirroredStrategy()
x = np.random.default_rng(0).normal(size=(256, 16, 2)).astype("float32")
y = np.random.default_rng(1).normal(size=(256, 16, 3)).astype("float32")
data = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).repeat()
for kind in ("keras.Sequential", "GraphMDN"):
    try:
        with strategy.scope():
            if kind == "GraphMDN":
                from graphmdn_tf.models import GraphMDN
                model = GraphMDN(hidden_dim=16, num_blocks=1, num_kernels=3)
                model.compile(optimizer="adam")
            else:
                model = keras.Sequential([keras.Input((16, 2)), keras.layers.Flatten(), keras.layers.Dense(48),
                                          keras.layers.Reshape((16, 3))])
                model.compile(optimizer="adam", loss="mse")
        history = model.fit(data, epochs=1, steps_per_epoch=2, verbose=0)
        print(json.dumps({"model": kind, "ok": True, "loss": history.history["loss"][-1]}), flush=True)
    except Exception as error:  # the point is to report it
        print(json.dumps({"model": kind, "ok": False, "error": f"{type(error).__name__}: {str(error)[:120]}"}),
              flush=True)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def main() -> int:
    cluster = {"worker": [f"localhost:{_free_port()}", f"localhost:{_free_port()}"]}
    workers = []
    for index in range(2):
        environment = dict(
            os.environ,
            TF_CPP_MIN_LOG_LEVEL="3",
            TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        )
        workers.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER],
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        )
    for index, worker in enumerate(workers):
        output, _ = worker.communicate(timeout=600)
        for line in output.splitlines():
            if line.startswith("{"):
                print(f"worker {index}: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
