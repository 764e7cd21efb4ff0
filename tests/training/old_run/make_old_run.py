"""Makes the fixture `tests/training/old_run/`: a tiny run left unfinished by the code of commit 90854da,
whose optimizer held the learning rate as a variable that a callback set from the host each step.

    git worktree add /tmp/old 90854da && cd /tmp/old && /work/mkvenv.sh
    /tmp/old/.venv/bin/python tests/training/old_run/make_old_run.py kill   OUT/run        # dies at step 19
    /tmp/old/.venv/bin/python tests/training/old_run/make_old_run.py finish OUT/run OUT/finished_weights.npz

(run from a checkout of this repository, so that the script is found; the library imported is the one
of the interpreter's venv). `kill` trains CONFIG and kill -9s itself after step 19 (the last checkpoint
is step-000000019, mid-epoch 2 of 14 steps); `finish` resumes a copy of it with the same old code and
writes the final weights, which the new code must reproduce.
"""

import os
import signal
import sys

import keras
import numpy as np

from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.training.fit import train

CONFIG = TrainingConfig.from_preset(
    "standard",
    hidden_dim=16,
    num_blocks=1,
    num_kernels=3,
    dataset="synthetic",
    stride=8,
    batch_size=128,
    epochs=2,
    validation_frames=64,
    image_frames=1,
    save_every_steps=5,
    log_every_steps=1,
    jit_compile=False,
    deterministic=True,
    steps_per_execution=1,
)
KILL_AT_STEP = 19


class _KillAtStep(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == KILL_AT_STEP + 1:
            os.kill(os.getpid(), signal.SIGKILL)  # step 19's checkpoint is written; 20 is not


if __name__ == "__main__":
    if sys.argv[1] == "kill":
        train(CONFIG, sys.argv[2], verbose=0, callbacks=[_KillAtStep()])
    else:
        result = train(CONFIG, sys.argv[2], verbose=0)
        np.savez(sys.argv[3], *result.model.get_weights())
