"""The trained preset shipped in the package (graphmdn_tf/pretrained/cmu_standard.keras, docs/pretrained.md)."""

import hashlib
import json
import warnings
import zipfile

import numpy as np
import pytest

from graphmdn_tf import GraphMDN, SemGCN
from graphmdn_tf.data.pipeline import load_samples
from graphmdn_tf.lifting import lift
from graphmdn_tf.models import PRETRAINED_PRESETS, load_model, pretrained_path
from tests.data.keypoint_files import cmu_pixels

# The file tools/make_pretrained.py wrote; a new model file must change these on purpose.
SHA256 = "c4dac1f15d874ebacfe64094f4460949ef14e289f8369681811f928e63ce99e2"
SIZE = 1937925


@pytest.fixture(scope="module")
def pretrained():
    return GraphMDN.from_preset("cmu_standard")


def test_the_shipped_file_is_the_one_the_docs_describe():
    path = pretrained_path("cmu_standard")
    assert path.name == PRETRAINED_PRESETS["cmu_standard"]["file"]
    assert path.stat().st_size == SIZE  # a few MB: no optimizer slots
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SHA256


def test_the_shipped_file_names_the_level_by_its_old_key_and_loads_without_a_warning():
    with zipfile.ZipFile(pretrained_path("cmu_standard")) as archive:
        saved = json.loads(archive.read("config.json"))["config"]
    assert saved["mixture"] == "pose" and "mixture_level" not in saved
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*mixture", category=DeprecationWarning)
        model = load_model(pretrained_path("cmu_standard"))
    assert model.mixture_level == model.head.mixture_level == "pose"


def test_from_preset_returns_the_trained_model_with_the_documented_architecture(pretrained):
    assert isinstance(pretrained, GraphMDN)
    assert (pretrained.hidden_dim, pretrained.num_blocks, pretrained.num_kernels) == (128, 4, 5)
    assert (pretrained.mixture_level, pretrained.non_local, pretrained.graph.num_nodes) == (
        "pose",
        True,
        16,
    )
    fresh = GraphMDN.from_preset("standard")
    fresh.build((None, 16, 2))
    assert len(fresh.get_weights()) == len(pretrained.get_weights())
    # Trained: BatchNorm statistics moved away from their initial 0 / 1.
    moving_mean = pretrained.backbone.input_block.norm.moving_mean.numpy()
    assert np.abs(moving_mean).max() > 1e-2


def test_it_lifts_held_out_motion_capture_to_its_documented_accuracy(pretrained, cmu_dir):
    samples = load_samples("cmu", cmu_dir, subjects=("S7",), stride=20, progress=False)
    outputs = pretrained.predict(samples.inputs_2d, verbose=0)
    logits = np.asarray(outputs["pi_logits"], np.float64)  # [B, M]
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    mu = np.asarray(outputs["mu"], np.float64)  # [B, M, 16, 3]
    mu = mu - mu[:, :, :1]  # each kernel's root at the origin, as the evaluation scores
    mean_pose = np.einsum("bm,bmnd->bnd", weights, mu)
    error_mm = 1000 * np.linalg.norm(mean_pose - samples.targets_3d, axis=-1).mean()
    zero_pose_mm = 1000 * np.linalg.norm(samples.targets_3d, axis=-1).mean()
    # docs/pretrained.md: Mean 76.7 mm over all of S7 (76.5 on these rows); the zero pose is 456 mm off.
    assert error_mm < 90 and error_mm < zero_pose_mm / 4, error_mm


def test_lift_reads_the_shipped_file_and_gives_finite_poses(shared_dir):
    pixels = cmu_pixels(shared_dir, frames=12)
    result = lift(
        pretrained_path(), pixels, image_size=(1000, 1002), format="h36m17", progress=False
    )
    assert result.mu.shape == (12, 5, 16, 3) and np.isfinite(result.mu).all()
    for pose in result.poses.values():
        assert pose.shape == (12, 16, 3) and np.isfinite(pose).all()


def test_overrides_keep_the_weights_when_their_shapes_fit(pretrained):
    tuned = GraphMDN.from_preset("cmu_standard", dropout=0.25)
    assert tuned.dropout == 0.25
    for ours, theirs in zip(tuned.get_weights(), pretrained.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    blank = GraphMDN.from_preset("cmu_standard", load_weights=False)
    assert (blank.hidden_dim, blank.num_kernels, blank.mixture_level) == (128, 5, "pose")
    assert not np.array_equal(blank.get_weights()[0], pretrained.get_weights()[0])


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: GraphMDN.from_preset("cmu_standard", hidden_dim=64),
            r"The overrides \['hidden_dim'\] change the shapes of the trained preset "
            r"'cmu_standard''s weights; pass load_weights=False",
        ),
        (
            lambda: SemGCN.from_preset("cmu_standard"),
            r"The trained preset 'cmu_standard' is a GraphMDN; load it with "
            r"GraphMDN.from_preset\('cmu_standard'\)",
        ),
        (
            lambda: GraphMDN.from_preset("cmu"),
            r"Unknown preset 'cmu'\. Expected one of \['k200', 'k8', 'standard', 'wide'\], or a "
            r"trained preset: \['cmu_standard'\]",
        ),
        (lambda: pretrained_path("h36m"), r"Unknown trained preset 'h36m'\. Expected one of"),
    ],
)
def test_bad_preset_requests_are_refused_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()
