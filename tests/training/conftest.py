"""Tiny training configs for the training tests: a small backbone on a strided synthetic set."""

import pytest

from graphmdn_tf.config import TrainingConfig

TINY = {
    "hidden_dim": 16,
    "num_blocks": 1,
    "num_kernels": 3,
    "dataset": "synthetic",
    "stride": 4,
    "batch_size": 128,
    "epochs": 2,
    "validation_frames": 256,
    "image_frames": 2,
    "save_every_steps": 5,
    "log_every_steps": 1,
    "jit_compile": False,
}


def tiny_config(**overrides) -> TrainingConfig:
    """A config that trains in seconds: 28 steps per epoch of a 16-wide, one-block model."""
    return TrainingConfig.from_preset("standard", **{**TINY, **overrides})


@pytest.fixture
def tiny():
    return tiny_config


def read_events(directory) -> dict:
    """{tag: [(step, value)]} from every TensorBoard event file in `directory` (not recursive);
    images come back as their encoded PNG bytes."""
    from pathlib import Path

    import tensorflow as tf

    events: dict = {}
    for path in sorted(Path(directory).glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                array = tf.make_ndarray(value.tensor) if value.HasField("tensor") else None
                if value.metadata.plugin_data.plugin_name == "images":
                    array = array[2]
                elif array is not None and array.ndim == 0 and array.dtype.kind == "f":
                    array = float(array)
                events.setdefault(value.tag, []).append((event.step, array))
    return events
