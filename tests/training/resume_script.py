"""Child processes of the exact-resume tests (tests/training/test_exact_resume.py).

    python -m tests.training.resume_script kill POINT RUN_DIR    # trains, and kill -9s itself at POINT
    python -m tests.training.resume_script finish REFERENCE_DIR RUN_DIR...
        # resumes every RUN_DIR with the same command, trains REFERENCE_DIR and REFERENCE_DIR_xla
        # uninterrupted, and prints one JSON line
        # {run_dir: {"weights": sha256, "history": rows, "validation_steps": {tag: steps}, ...}}

Runs whose folder name contains 'xla' use CONFIG_XLA: XLA on (so op determinism off, as `train` does
with XLA) and 3 steps per execution, which does not divide the 14-step epoch.

The kill points are installed from outside the library: a user callback (which `train` runs before its
backup checkpoint), or a wrapper around the Keras call that writes a file, so that the process dies at
exactly that point of the run and nowhere else.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import sys
from pathlib import Path

import keras
import numpy as np

from graphmdn_tf.layers import HashDropout
from graphmdn_tf.training import checkpoints
from graphmdn_tf.training.fit import train
from tests.training.conftest import read_events, tiny_config

STEPS_PER_EPOCH = (
    1800 // 128
)  # the synthetic training subjects at stride 8 hold 1800 frames: 14 batches of 128
CONFIG = tiny_config(
    deterministic=True, stride=8, validation_frames=64, image_frames=1, save_every_steps=5
)

CONFIG_XLA = CONFIG.replace(deterministic=False, jit_compile=True, steps_per_execution=3)


def _config(run_dir) -> object:
    return CONFIG_XLA if "xla" in Path(run_dir).name else CONFIG


def _die():
    os.kill(os.getpid(), signal.SIGKILL)


class _KillAtStep(keras.callbacks.Callback):
    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.step:
            _die()


class _KillAtEpochEnd(keras.callbacks.Callback):
    """After the epoch's history row, TensorBoard and validation summaries, before its checkpoint."""

    def on_epoch_end(self, epoch, logs=None):
        _die()


def _kill_after_epoch_end_checkpoint():
    save = checkpoints.BackupCheckpoint.save

    def save_then_die(self, mid_epoch=False):
        save(self, mid_epoch)
        if self.position == STEPS_PER_EPOCH and not mid_epoch:
            _die()

    checkpoints.BackupCheckpoint.save = save_then_die


def _kill_while_writing(owner, method_name: str, call: int):
    """The `call`-th `owner.<method_name>(target, ...)` writes its (temporary) file, then the process dies
    before the file is renamed into place."""
    original = getattr(owner, method_name)
    calls = []

    def write_then_die(*args, **kwargs):
        calls.append(args)
        original(*args, **kwargs)
        if len(calls) == call:
            _die()

    setattr(owner, method_name, write_then_die)


def kill(point: str, run_dir: str) -> None:
    callbacks = []
    if point == "mid_epoch":
        callbacks = [_KillAtStep(STEPS_PER_EPOCH + 8)]  # the last checkpoint is at step 14 + 5
    elif point == "xla_mid_epoch":
        # Executions end at steps 3, 6, 9, 12, 14, 17, 20, 23: checkpoints at 6, 12, 14 and 20.
        callbacks = [_KillAtStep(STEPS_PER_EPOCH + 9)]
    elif point == "epoch_end_before_checkpoint":
        callbacks = [_KillAtEpochEnd()]
    elif point == "epoch_end_after_checkpoint":
        _kill_after_epoch_end_checkpoint()
    elif point == "checkpoint_write":
        _kill_while_writing(
            np, "savez", call=3
        )  # checkpoints at steps 5, 10, then the epoch end (14)
    elif point == "final_save":
        _kill_while_writing(keras.Model, "save", call=1)
    else:
        raise SystemExit(f"unknown kill point {point!r}")
    train(_config(run_dir), run_dir, verbose=0, callbacks=callbacks)
    raise SystemExit(f"the run finished without reaching the kill point {point!r}")


def describe(result) -> dict:
    model = result.model
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(weight.tobytes())
    for layer in model._flatten_layers():
        if isinstance(layer, HashDropout):
            digest.update(layer.seed_generator.state.numpy().tobytes())
    run_dir = Path(result.run_dir)
    with open(run_dir / "history.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    timed = [
        index for index, name in enumerate(rows[0]) if name.endswith("_seconds")
    ]  # wall times differ
    history = [[value for index, value in enumerate(row) if index not in timed] for row in rows]
    events = read_events(run_dir / "logs" / "validation")
    return {
        "weights": digest.hexdigest(),
        "resumed_from_step": result.resumed_from_step,
        "iterations": int(model.optimizer.iterations.numpy()),
        "history": history,
        "validation_steps": {
            tag: sorted({step for step, _ in values}) for tag, values in events.items()
        },
        "files": sorted(path.name for path in run_dir.iterdir()),
    }


def finish(reference_dir: str, run_dirs: list[str]) -> None:
    report = {
        run_dir: describe(train(_config(run_dir), run_dir, verbose=0)) for run_dir in run_dirs
    }
    report["reference"] = describe(train(CONFIG, reference_dir, verbose=0))
    report["reference_xla"] = describe(train(CONFIG_XLA, f"{reference_dir}_xla", verbose=0))
    print(json.dumps(report))


if __name__ == "__main__":
    if sys.argv[1] == "kill":
        kill(sys.argv[2], sys.argv[3])
    else:
        finish(sys.argv[2], sys.argv[3:])
