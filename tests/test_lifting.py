"""`lift` and `graphmdn-tf lift` on a tiny trained run: exact Human3.6M paths, SavedModel source, files written."""

import json

import keras
import numpy as np
import pytest

from graphmdn_tf import hypotheses
from graphmdn_tf.cli import main
from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.data.cameras import normalize_screen_coordinates
from graphmdn_tf.data.keypoint_formats import COCO_17
from graphmdn_tf.lifting import SELECTIONS, lift, write_lift_results
from graphmdn_tf.skeletons import H36M_16, H36M_16_FROM_17
from graphmdn_tf.training import train
from tests.data.keypoint_files import cmu_pixels, coco_from_h36m17, coco_results, write_json

IMAGE_SIZE = (1000, 1002)  # camera 0 of the CMU pixels
COCO = {name: index for index, name in enumerate(COCO_17)}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    config = TrainingConfig.from_preset(
        "standard",
        hidden_dim=16,
        num_blocks=1,
        num_kernels=3,
        dataset="synthetic",
        stride=16,
        epochs=1,
        batch_size=128,
        validation_frames=64,
        image_frames=0,
        jit_compile=False,
    )
    path = tmp_path_factory.mktemp("lift") / "run"
    train(config, path, verbose=0)
    return path


@pytest.fixture(scope="module")
def pixels_17(shared_dir):
    return cmu_pixels(shared_dir, frames=24)


def test_human36m17_lifts_as_its_16_joint_subset(run_dir, pixels_17):
    from_17 = lift(run_dir, pixels_17, format="h36m17", image_size=IMAGE_SIZE, progress=False)
    subset = pixels_17[:, list(H36M_16_FROM_17)]
    from_16 = lift(run_dir, subset, image_size=IMAGE_SIZE, progress=False)
    np.testing.assert_array_equal(from_17.inputs, from_16.inputs)
    np.testing.assert_allclose(
        from_17.inputs,
        normalize_screen_coordinates(subset.astype(np.float32), *IMAGE_SIZE),
        rtol=1e-6,
        atol=1e-7,
    )
    for name in ("mu", "pi", "sigma"):
        np.testing.assert_array_equal(getattr(from_17, name), getattr(from_16, name))
    assert set(from_17.poses) == {"highest", "mean"} and from_17.poses["mean"].shape == (24, 16, 3)
    assert from_17.mu.shape == (24, 3, 16, 3) and from_17.pi.shape == (24, 3)
    np.testing.assert_allclose(from_17.pi.sum(1), 1.0, rtol=1e-5)
    assert from_17.joint_names == H36M_16.joint_names and from_17.refused == []


def test_a_saved_model_version_lifts_as_its_run(run_dir, pixels_17, tmp_path):
    from graphmdn_tf.export import export_run

    version = export_run(run_dir, "lift", base_dir=tmp_path)
    subset = pixels_17[:, list(H36M_16_FROM_17)]
    served = lift(version, subset, image_size=IMAGE_SIZE, progress=False)
    trained = lift(run_dir, subset, image_size=IMAGE_SIZE, progress=False)
    for name in ("mu", "pi", "sigma"):
        np.testing.assert_allclose(
            getattr(served, name), getattr(trained, name), rtol=1e-4, atol=1e-6
        )
    np.testing.assert_allclose(
        served.poses["highest"], trained.poses["highest"], rtol=1e-4, atol=1e-6
    )


def test_lift_errors(run_dir, pixels_17, tmp_path):
    subset = pixels_17[:, list(H36M_16_FROM_17)]
    with pytest.raises(ValueError, match=r"holds no image size; pass image_size=\(width, height\)"):
        lift(run_dir, subset, progress=False)
    with pytest.raises(ValueError, match="Expected a positive image size"):
        lift(run_dir, subset, image_size=(0, 10), progress=False)
    with pytest.raises(
        FileNotFoundError, match="Expected a training run directory or an exported SavedModel"
    ):
        lift(tmp_path / "nothing", subset, image_size=IMAGE_SIZE, progress=False)
    with pytest.raises(FileNotFoundError, match="Expected a finished training run"):
        lift(tmp_path, subset, image_size=IMAGE_SIZE, progress=False)
    unscored = np.concatenate([subset, np.zeros((*subset.shape[:2], 1))], axis=-1)
    with pytest.raises(
        ValueError, match=r"every record was refused \(no rule could fill Hip, .*lower min_score"
    ):
        lift(run_dir, unscored, image_size=IMAGE_SIZE, progress=False)


@pytest.mark.slow
def test_cli_lifts_a_coco_file(run_dir, pixels_17, tmp_path, capsys):
    scores = np.ones((24, 17))
    scores[0, COCO["left_wrist"]] = 0.05
    scores[1, :5] = 0.0  # no face: refused
    path = write_json(
        tmp_path / "detections.json", coco_results(coco_from_h36m17(pixels_17), scores)
    )
    out = tmp_path / "out"
    argv = [
        "lift",
        str(run_dir),
        str(path),
        "--output-dir",
        str(out),
        "--image-size",
        *map(str, IMAGE_SIZE),
        "--plot",
    ]
    assert main(argv) == 0
    assert "Lifted 23 records (1 with filled joints, 1 refused)" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [
        "detections.json",
        "detections.npz",
        "detections.png",
    ]
    with np.load(out / "detections.npz") as arrays:
        assert arrays["mu"].shape == (23, 3, 16, 3) and arrays["pi"].shape == (23, 3)
        assert arrays["highest_pose"].shape == arrays["mean_pose"].shape == (23, 16, 3)
        assert arrays["record_ids"][:2].tolist() == [[0, 0], [2, 0]]
        assert arrays["joint_names"].tolist() == list(H36M_16.joint_names)
    summary = json.loads((out / "detections.json").read_text())
    assert summary["refused"] == [{"record": [1, 0], "reason": "no rule could fill Head"}]
    assert summary["records"][0]["filled"] == {"LWrist": "mirror of RWrist about the body axis"}
    assert (
        np.shape(summary["records"][0]["kernels"]) == (3, 16, 3) and len(summary["records"]) == 23
    )
    assert summary["image_size"] == [1000.0, 1002.0] and summary["layout"] == "coco17"
    assert main(argv) == 2  # never overwrites
    assert "Refusing to overwrite" in capsys.readouterr().err


def test_cli_one_line_errors(run_dir, tmp_path, capsys):
    bad = write_json(tmp_path / "bad.json", {"frames": []})
    assert (
        main(
            [
                "lift",
                str(run_dir),
                str(bad),
                "--output-dir",
                str(tmp_path / "o"),
                "--image-size",
                "10",
                "10",
            ]
        )
        == 2
    )
    error = capsys.readouterr().err
    assert (
        error.count("\n") == 1
        and "graphmdn-tf lift: error:" in error
        and "none of the keypoint formats" in error
    )
    np.save(tmp_path / "k.npy", np.ones((2, 16, 2)))
    assert (
        main(["lift", str(run_dir), str(tmp_path / "k.npy"), "--output-dir", str(tmp_path / "o")])
        == 2
    )
    assert "--image-size W H" in capsys.readouterr().err


def test_write_refuses_existing_files(run_dir, pixels_17, tmp_path):
    result = lift(
        run_dir, pixels_17[:3, list(H36M_16_FROM_17)], image_size=IMAGE_SIZE, progress=False
    )
    (tmp_path / "x.npz").write_text("mine")
    with pytest.raises(FileExistsError, match="x.npz"):
        write_lift_results(result, tmp_path, "x")
    assert (tmp_path / "x.npz").read_text() == "mine" and not (tmp_path / "x.json").exists()


def test_a_semgcn_gives_its_single_pose(pixels_17, tmp_path):
    from graphmdn_tf.models import build_model

    config = TrainingConfig.from_preset("standard", model="semgcn", hidden_dim=16, num_blocks=1)
    build_model(config).save(tmp_path / "model.keras")
    result = lift(tmp_path, pixels_17[:5], format="h36m17", image_size=IMAGE_SIZE, progress=False)
    assert set(result.poses) == {"prediction"} and result.poses["prediction"].shape == (5, 16, 3)
    np.testing.assert_array_equal(result.mu[:, 0], result.poses["prediction"])
    assert result.pi.shape == (5, 1) and result.sigma is None
    paths = write_lift_results(result, tmp_path / "out", "semgcn", plot=True)
    with np.load(paths[1]) as arrays:
        assert "sigma" not in arrays and arrays["prediction_pose"].shape == (5, 16, 3)
    assert "sigma" not in json.loads(paths[0].read_text())["records"][0]


# ---- --selection over a sequence of per-frame files ----


def _frame_files(folder, pixels_17, order=None, name="frame_{}.json"):
    """One COCO results file per frame, named frame_<i>.json (frame_10 sorts before frame_2 by
    characters, after it by number); file i holds pixel frame order[i]. Written last file first."""
    folder.mkdir()
    coco = coco_from_h36m17(pixels_17)
    order = list(range(len(coco)) if order is None else order)
    for index, frame in reversed(list(enumerate(order))):
        write_json(folder / name.format(index), coco_results(coco[frame : frame + 1]))
    return folder


@pytest.fixture(scope="module")
def sequence(pixels_17, tmp_path_factory):
    return _frame_files(tmp_path_factory.mktemp("sequence") / "frames", pixels_17)


@pytest.fixture(scope="module")
def selected(run_dir, sequence):
    """selection -> `lift` of the per-frame sequence with it."""
    return {
        name: lift(run_dir, sequence, image_size=IMAGE_SIZE, progress=False, selection=name)
        for name in SELECTIONS
    }


def test_lift_offers_every_selection_that_needs_no_ground_truth():
    without_target = tuple(key for key in hypotheses.CONTEXT_KEYS if key != "target")
    assert SELECTIONS == hypotheses.selection_names(available=without_target)
    assert {"reprojection", "skeleton", "temporal"} <= set(SELECTIONS)
    assert not {"oracle", "oracle_joint", "best_of"} & set(SELECTIONS)


def test_a_folder_of_frames_is_one_sequence_in_natural_order(selected):
    result = selected["mean"]
    assert result.frame_files == tuple(f"frame_{index}.json" for index in range(24))
    assert result.record_ids.tolist() == [[frame, 0] for frame in range(24)]


@pytest.mark.parametrize("name", SELECTIONS)
def test_each_selection_gives_one_pose_per_frame(selected, name):
    result = selected[name]
    pose = result.poses[name]
    assert result.selection == name and pose.shape == (24, 16, 3) and np.isfinite(pose).all()
    if name in ("highest", "mean"):
        np.testing.assert_array_equal(pose, selected["temporal"].poses[name])
    if name in ("reprojection", "skeleton", "temporal", "temporal_causal"):  # a hard choice
        distance = np.abs(result.mu - pose[:, None]).max(axis=(2, 3))  # [frames, kernels]
        assert (distance.min(axis=1) == 0).all()


def test_reprojection_picks_the_kernel_nearest_the_2d_input(selected):
    """Independently: the weak-perspective least-squares residual of each kernel, in NumPy."""
    result = selected["reprojection"]
    xy = result.mu[..., :2].astype(np.float64)  # [frames, kernels, 16, 2]
    target = result.inputs[:, None].astype(np.float64)
    centred = xy - xy.mean(axis=2, keepdims=True)
    offset = target - target.mean(axis=2, keepdims=True)
    scale = np.maximum((centred * offset).sum((2, 3)) / (centred**2).sum((2, 3)), 1e-3)
    residual = np.sqrt(
        ((scale[..., None, None] * centred - offset) ** 2).sum(-1).mean(-1)
    )  # [frames, kernels]
    weights = result.pi
    residual[weights < 0.01 * weights.max(axis=1, keepdims=True)] = np.inf
    expected = result.mu[np.arange(24), residual.argmin(axis=1)]
    np.testing.assert_array_equal(result.poses["reprojection"], expected)


def test_temporal_follows_the_file_names_not_their_characters(run_dir, pixels_17, selected):
    """The array in frame order gives the same path as the folder read in natural order."""
    array = lift(
        run_dir,
        coco_from_h36m17(pixels_17),
        format="coco17",
        image_size=IMAGE_SIZE,
        progress=False,
        selection="temporal",
    )
    np.testing.assert_array_equal(array.poses["temporal"], selected["temporal"].poses["temporal"])


def test_renaming_the_files_in_the_same_order_changes_nothing(
    run_dir, pixels_17, selected, tmp_path
):
    padded = _frame_files(tmp_path / "padded", pixels_17, name="image{:05d}.json")
    result = lift(run_dir, padded, image_size=IMAGE_SIZE, progress=False, selection="temporal")
    assert result.frame_files == tuple(f"image{index:05d}.json" for index in range(24))
    for name in ("temporal", "highest"):
        np.testing.assert_array_equal(result.poses[name], selected["temporal"].poses[name])


def test_shuffling_the_frames_changes_the_temporal_choice(shared_dir, tmp_path):
    """A model whose kernels move by different amounts between frames, over 24 frames 12 apart: in
    frame order the motion cost keeps one kernel, shuffled another (the one that moves least when the
    frames jump). The model is an untrained GraphMDN, seeded, its weights doubled so that its kernels
    depend on the input; the motion prior is given (it has no training poses)."""
    from graphmdn_tf import GraphMDN
    from graphmdn_tf.selectors import MotionPrior

    keras.utils.set_random_seed(0)
    model = GraphMDN(hidden_dim=16, num_blocks=1, num_kernels=3, mixture_level="pose")
    model(np.zeros((1, 16, 2), np.float32))
    model.set_weights([weight * 2.0 for weight in model.get_weights()])
    model.save(tmp_path / "model.keras")
    pixels = cmu_pixels(shared_dir, frames=288)[::12]
    order = np.random.default_rng(0).permutation(24)
    chosen = {}
    for name, frames in (("ordered", range(24)), ("shuffled", order)):
        result = lift(
            tmp_path,
            _frame_files(tmp_path / name, pixels, frames),
            image_size=IMAGE_SIZE,
            progress=False,
            selection="temporal",
            priors={"motion_prior": MotionPrior(sigma_v=0.01)},
        )
        kernel = np.abs(result.mu - result.poses["temporal"][:, None]).max(axis=(2, 3)).argmin(1)
        chosen[name] = np.empty_like(kernel)
        chosen[name][np.asarray(frames)] = kernel  # by original frame
    assert chosen["ordered"].tolist() == [1] * 24
    assert chosen["shuffled"].tolist() == [2] * 24


def test_the_output_files_name_the_selection(selected, tmp_path):
    result = selected["skeleton"]
    json_path, npz_path = write_lift_results(result, tmp_path, "frames")
    summary = json.loads(json_path.read_text())
    assert summary["selection"] == "skeleton"
    assert summary["frame_files"] == list(result.frame_files)
    assert np.shape(summary["records"][3]["poses"]["skeleton"]) == (16, 3)
    with np.load(npz_path) as arrays:
        assert arrays["selection"].item() == "skeleton"
        np.testing.assert_array_equal(arrays["pose"], result.poses["skeleton"])
        np.testing.assert_array_equal(arrays["skeleton_pose"], result.poses["skeleton"])


def test_selections_lift_cannot_make_are_refused_by_name(run_dir, sequence, tmp_path):
    with pytest.raises(
        ValueError,
        match=r"Expected selection to be one of highest, mean, .*temporal_causal\. Received: 'best'",
    ):
        lift(run_dir, sequence, image_size=IMAGE_SIZE, selection="best")
    with pytest.raises(
        ValueError, match=r"Selection 'oracle' \(Oracle\) needs the ground-truth pose"
    ):
        lift(run_dir, sequence, image_size=IMAGE_SIZE, selection="oracle")
    from graphmdn_tf.export import export_run

    onnx = export_run(run_dir, "lift", base_dir=tmp_path, format="onnx")
    with pytest.raises(
        ValueError,
        match=r"Selection 'skeleton' needs skeleton_prior .* lift from the training run directory",
    ):
        lift(onnx, sequence, image_size=IMAGE_SIZE, selection="skeleton", progress=False)
    from_onnx = lift(onnx, sequence, image_size=IMAGE_SIZE, selection="mean", progress=False)
    np.testing.assert_allclose(
        from_onnx.mu, lift(run_dir, sequence, image_size=IMAGE_SIZE, progress=False).mu, atol=1e-4
    )


def test_cli_lift_selection(run_dir, sequence, tmp_path, capsys):
    argv = ["lift", str(run_dir), str(sequence), "--image-size", *map(str, IMAGE_SIZE)]
    assert main([*argv, "--output-dir", str(tmp_path / "a"), "--selection", "oracle_joint"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "needs the ground-truth pose" in error
    assert main([*argv, "--output-dir", str(tmp_path / "b"), "--selection", "temporal_causal"]) == 0
    with np.load(tmp_path / "b" / "frames.npz") as arrays:
        assert arrays["selection"].item() == "temporal_causal" and arrays["pose"].shape == (
            24,
            16,
            3,
        )
