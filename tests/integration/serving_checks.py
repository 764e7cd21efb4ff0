"""Shared by the export and serving tests: small models, inputs, and the expected signature outputs in NumPy."""

from pathlib import Path

import numpy as np

from graphmdn_tf import GraphMDN, SemGCN

NUM_NODES = 16
NUM_KERNELS = 3
TOLERANCE = 1e-5


def small_model(kind: str):
    """A small untrained model: "pose" or "node" GraphMDN, or "semgcn"."""
    if kind == "semgcn":
        return SemGCN(hidden_dim=16, num_blocks=1)
    return GraphMDN(hidden_dim=16, num_blocks=1, num_kernels=NUM_KERNELS, mixture_level=kind)


def keypoints(rng: np.random.Generator, batch: int) -> np.ndarray:
    """Normalised 2D keypoints [batch, 16, 2]."""
    return rng.uniform(-1.0, 1.0, size=(batch, NUM_NODES, 2)).astype(np.float32)


def pixel_inputs(rng: np.random.Generator, batch: int) -> dict:
    """`from_pixels` inputs: pixel keypoints inside images of mixed sizes, one size per example."""
    width = rng.choice([640.0, 1000.0, 1920.0], size=batch)
    height = rng.choice([480.0, 1002.0, 1080.0], size=batch)
    pixels = (
        rng.uniform(0.0, 1.0, size=(batch, NUM_NODES, 2))
        * np.stack([width, height], axis=-1)[:, None, :]
    )
    return {
        "keypoints_px": pixels.astype(np.float32),
        "image_width": width.astype(np.float32),
        "image_height": height.astype(np.float32),
    }


def normalise_on_client(inputs: dict) -> np.ndarray:
    """VideoPose3D's normalize_screen_coordinates, X / w * 2 - [1, h / w], one example at a time."""
    examples = [
        points / width * 2.0 - np.array([1.0, height / width])
        for points, width, height in zip(
            inputs["keypoints_px"], inputs["image_width"], inputs["image_height"]
        )
    ]
    return np.stack(examples).astype(np.float32)


def expected_outputs(model, inputs: np.ndarray) -> dict:
    """The signature outputs for `inputs`, from the Keras model's parameters and NumPy (not graphmdn_tf.hypotheses)."""
    prediction = model(inputs, training=False)
    if not isinstance(prediction, dict):
        return {"pose": np.asarray(prediction)}
    mu = np.asarray(prediction["mu"])  # [B, K, N, 3]
    logits = np.asarray(prediction["pi_logits"], dtype=np.float64)
    pi = np.exp(logits - logits.max(axis=1, keepdims=True))
    pi /= pi.sum(axis=1, keepdims=True)
    best = logits.argmax(axis=1)
    if pi.ndim == 2:  # pose level: [B, K]
        mean_pose = np.einsum("bk,bknd->bnd", pi, mu)
        highest_pose = mu[np.arange(len(mu)), best]
    else:  # node level: [B, K, N]
        mean_pose = np.einsum("bkn,bknd->bnd", pi, mu)
        highest_pose = np.take_along_axis(mu, best[:, None, :, None], axis=1)[:, 0]
    return {
        "pi": pi,
        "mu": mu,
        "sigma": np.asarray(prediction["sigma"]),
        "mean_pose": mean_pose,
        "highest_pose": highest_pose,
    }


def assert_outputs_close(actual: dict, expected: dict, atol: float = TOLERANCE) -> None:
    """Same keys, shapes and float32 values within `atol`."""
    assert sorted(actual) == sorted(expected)
    for key, value in expected.items():
        got = np.asarray(actual[key])
        assert got.dtype == np.float32, (key, got.dtype)
        assert got.shape == value.shape, (key, got.shape, value.shape)
        np.testing.assert_allclose(got, value, rtol=0, atol=atol, err_msg=key)


def xla_compiled_functions(path: Path) -> list:
    """Names of the SavedModel's functions marked for XLA compilation (`_XlaMustCompile`)."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((path / "saved_model.pb").read_bytes())
    library = saved.meta_graphs[0].graph_def.library.function
    return [f.signature.name for f in library if f.attr["_XlaMustCompile"].b]
