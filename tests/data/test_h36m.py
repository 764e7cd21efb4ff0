"""Loaders: the CMU set and synthetic files, joint orders, filters, the cache, and every validation error."""

import os
import re

import numpy as np
import pytest

from graphmdn_tf.data import h36m
from graphmdn_tf.data.h36m import DataFileError, load_keypoints_2d, load_poses_3d
from graphmdn_tf.data.pipeline import load_samples
from tests.data.geometry import normalise_by_hand, to_camera
from tests.data.npz_files import (
    METADATA_16,
    METADATA_17,
    METADATA_MPII,
    read_npz_trusted,
    write_npz,
)

CMU_SUBJECTS = ["S1", "S5", "S6", "S7"]
CMU_FRAMES = 2579  # the test copy: the first 300 frames of each of 9 sequences (Walking 1 has 179)


# ---------------------------------------------------------------------------------------- CMU set
@pytest.fixture(scope="module")
def cmu_samples(cmu_dir, tmp_path_factory):
    return load_samples(
        "cmu", cmu_dir, subjects=CMU_SUBJECTS, cache_dir=tmp_path_factory.mktemp("cache")
    )


def test_cmu_samples_shapes_and_labels(cmu_samples):
    assert len(cmu_samples) == 4 * CMU_FRAMES
    assert (
        cmu_samples.inputs_2d.shape == (4 * CMU_FRAMES, 16, 2)
        and cmu_samples.inputs_2d.dtype == np.float32
    )
    assert (
        cmu_samples.targets_3d.shape == (4 * CMU_FRAMES, 16, 3)
        and cmu_samples.targets_3d.dtype == np.float32
    )
    assert np.all(cmu_samples.targets_3d[:, 0] == 0.0)
    assert sorted(set(cmu_samples.subjects)) == CMU_SUBJECTS
    assert sorted(set(cmu_samples.action_classes)) == ["Balance", "Exercise", "Walking"]
    assert np.bincount(cmu_samples.cameras).tolist() == [CMU_FRAMES] * 4
    walking = cmu_samples.actions == "Walking 1"
    assert walking.sum() == 4 * 179 and set(cmu_samples.subjects[walking]) == {"S6"}


def test_cmu_samples_match_an_independent_computation(cmu_samples, cmu_dir, facts):
    """Targets: 16 joints picked by name (facts), R^T (X - t), minus the hip. Inputs: normalised 2D."""
    positions_3d = read_npz_trusted(cmu_dir / "data_3d_cmu.npz")["positions_3d"]
    positions_2d = read_npz_trusted(cmu_dir / "data_2d_cmu_gt.npz")["positions_2d"]
    names17, names16 = facts.names(5, "names17"), facts.names(6, "names16")
    pick = [names17.index(name) for name in names16]
    intrinsics, extrinsics = facts.cameras(), facts.extrinsics()
    for subject, action, camera in [
        ("S6", "Walking 1", 2),
        ("S1", "Exercise 2", 0),
        ("S7", "Balance 3", 3),
    ]:
        rows = (
            (cmu_samples.subjects == subject)
            & (cmu_samples.actions == action)
            & (cmu_samples.cameras == camera)
        )
        quaternion, translation_mm = extrinsics[subject][camera]
        in_camera = to_camera(
            positions_3d[subject][action][:, pick], quaternion, np.array(translation_mm) / 1000
        )
        np.testing.assert_allclose(
            cmu_samples.targets_3d[rows], in_camera - in_camera[:, :1], atol=2e-6
        )
        width, height = intrinsics[camera]["res_w"], intrinsics[camera]["res_h"]
        expected_2d = normalise_by_hand(
            positions_2d[subject][action][camera][:, pick], width, height
        )
        np.testing.assert_allclose(cmu_samples.inputs_2d[rows], expected_2d, atol=1e-6)


def test_16_joint_targets_follow_the_facts_skeleton(cmu_samples, cmu_dir, facts):
    """Rigid camera transforms keep every 16-joint bone the length of the same bone in the 17-joint world data."""
    world = read_npz_trusted(cmu_dir / "data_3d_cmu.npz")["positions_3d"]["S5"]["Exercise 1"]
    parents16, parents17 = facts.value(6, "parents16"), facts.value(5, "parents17")
    kept_from_17 = facts.value(6, "kept-from-17")
    rows = (
        (cmu_samples.subjects == "S5")
        & (cmu_samples.actions == "Exercise 1")
        & (cmu_samples.cameras == 1)
    )
    targets = cmu_samples.targets_3d[rows]
    for child, parent in enumerate(parents16[1:], start=1):
        length_16 = np.linalg.norm(targets[:, child] - targets[:, parent], axis=-1)
        world_child, world_parent = kept_from_17[child], kept_from_17[parent]
        if parents17[world_child] != world_parent:  # Head: Thorax -> Neck/Nose -> Head in 17 joints
            assert (child, parent) == (9, 8)
        length_world = np.linalg.norm(world[:, world_child] - world[:, world_parent], axis=-1)
        np.testing.assert_allclose(length_16, length_world, atol=2e-6)


def test_stride_keeps_every_nth_frame(cmu_samples, cmu_dir, cache_dir):
    strided = load_samples("cmu", cmu_dir, subjects=["S6"], stride=4, cache_dir=cache_dir)
    assert len(strided) == 4 * 45  # ceil(179 / 4) per camera
    full = cmu_samples.subset((cmu_samples.subjects == "S6") & (cmu_samples.cameras == 3))
    np.testing.assert_array_equal(
        strided.subset(strided.cameras == 3).targets_3d, full.targets_3d[::4]
    )
    np.testing.assert_array_equal(
        strided.subset(strided.cameras == 3).inputs_2d, full.inputs_2d[::4]
    )


def test_action_filter_by_class_and_by_key(cmu_dir, synthetic_dir, cache_dir):
    exercise = load_samples(
        "cmu", cmu_dir, subjects=["S1", "S6"], actions=["Exercise"], cache_dir=cache_dir
    )
    assert set(exercise.actions) == {"Exercise 1", "Exercise 2", "Exercise 3"}
    one = load_samples("cmu", cmu_dir, subjects=["S1"], actions=["Exercise 2"], cache_dir=cache_dir)
    assert set(one.actions) == {"Exercise 2"} and len(one) == 4 * 300
    sitting = load_samples(
        "synthetic", synthetic_dir, subjects=["S1"], actions=["Sitting"], cache_dir=cache_dir
    )
    assert set(sitting.actions) == {"Sitting 1", "Sitting 2"}  # never SittingDown
    down = load_samples(
        "synthetic",
        synthetic_dir,
        subjects=["S1", "S9"],
        actions=["SittingDown", "Walking"],
        cache_dir=cache_dir,
    )
    assert set(down.actions) == {"SittingDown 1", "SittingDown 2", "Walking 1", "Walking 2"}
    assert set(down.subjects) == {"S1", "S9"}


# --------------------------------------------------------------------------------- joint-order layouts
def test_synthetic_files_load_with_both_keypoint_kinds(synthetic_dir, cache_dir):
    ground_truth = load_samples(
        "synthetic", synthetic_dir, subjects=["S1", "S9"], cache_dir=cache_dir
    )
    detected = load_samples(
        "synthetic",
        synthetic_dir,
        keypoints="sh_pt_mpii",
        subjects=["S1", "S9"],
        cache_dir=cache_dir,
    )
    assert len(ground_truth) == len(detected) == 2 * 30 * 8 * 4
    np.testing.assert_array_equal(ground_truth.targets_3d, detected.targets_3d)
    pixel_error = (
        np.linalg.norm(ground_truth.inputs_2d - detected.inputs_2d, axis=-1) * 500
    )  # res_w / 2
    assert 2.0 < np.median(pixel_error) < 15.0  # detections: near the ground truth, not equal to it


def test_16_joint_and_mpii_orders_give_the_same_inputs(cmu_dir, tmp_path, cache_dir, facts):
    """The same 2D written in SemGCN's 16-joint order and in raw MPII order loads to identical inputs."""
    positions_3d = read_npz_trusted(cmu_dir / "data_3d_cmu.npz")["positions_3d"]
    positions_2d = read_npz_trusted(cmu_dir / "data_2d_cmu_gt.npz")["positions_2d"]
    pick = facts.value(6, "kept-from-17")
    to_mpii = np.argsort(
        facts.value(8, "SH_TO_GT_PERM")
    )  # mpii[:, perm] == h36m16  <=>  mpii == h36m16[:, argsort]
    subset_3d = {"S6": positions_3d["S6"]}
    h36m16 = {
        "S6": {
            action: [view[:, pick] for view in views]
            for action, views in positions_2d["S6"].items()
        }
    }
    mpii = {
        "S6": {
            action: [view[:, to_mpii] for view in views] for action, views in h36m16["S6"].items()
        }
    }
    write_npz(tmp_path / "data_3d_h36m.npz", positions_3d=subset_3d)
    write_npz(tmp_path / "data_2d_h36m_gt.npz", positions_2d=h36m16, metadata=METADATA_16)
    write_npz(tmp_path / "data_2d_h36m_sh_pt_mpii.npz", positions_2d=mpii, metadata=METADATA_MPII)
    reference = load_samples("cmu", cmu_dir, subjects=["S6"], cache_dir=cache_dir)
    for keypoints, layout in (("gt", "h36m16"), ("sh_pt_mpii", "mpii16")):
        assert (
            load_keypoints_2d(
                tmp_path / f"data_2d_h36m_{keypoints}.npz", cache_dir=cache_dir
            ).layout
            == layout
        )
        samples = load_samples(
            "h36m", tmp_path, keypoints=keypoints, subjects=["S6"], cache_dir=cache_dir
        )
        np.testing.assert_array_equal(samples.inputs_2d, reference.inputs_2d)
        np.testing.assert_array_equal(samples.targets_3d, reference.targets_3d)


def test_32_and_17_joint_3d_give_the_same_targets(synthetic_dir, tmp_path, cache_dir, facts):
    positions_3d = read_npz_trusted(synthetic_dir / "data_3d_synthetic.npz")["positions_3d"]
    assert positions_3d["S1"]["Walking 1"].shape[1] == 32
    kept32 = facts.value(5, "kept32")
    reduced = {
        subject: {action: world[:, kept32] for action, world in actions.items()}
        for subject, actions in positions_3d.items()
    }
    write_npz(tmp_path / "data_3d_h36m.npz", positions_3d=reduced)
    (tmp_path / "data_2d_h36m_gt.npz").write_bytes(
        (synthetic_dir / "data_2d_synthetic_gt.npz").read_bytes()
    )
    from_17 = load_samples("h36m", tmp_path, subjects=["S9"], cache_dir=cache_dir)
    from_32 = load_samples("synthetic", synthetic_dir, subjects=["S9"], cache_dir=cache_dir)
    np.testing.assert_array_equal(from_17.targets_3d, from_32.targets_3d)
    np.testing.assert_array_equal(from_17.inputs_2d, from_32.inputs_2d)


# ------------------------------------------------------------------------------------------- cache
def test_cache_is_pickle_free_and_reused(cmu_dir, cache_dir, monkeypatch):
    first = load_poses_3d(cmu_dir / "data_3d_cmu.npz", cache_dir=cache_dir)
    cached = list((cache_dir / "converted").glob("data_3d_cmu-*.npz"))
    assert len(cached) == 1
    with np.load(cached[0], allow_pickle=False) as archive:
        assert all(archive[name].dtype != object for name in archive.files)

    def must_not_read(*args, **kwargs):
        raise AssertionError("the source was read again although the cache is valid")

    monkeypatch.setattr(h36m, "load_npz_safely", must_not_read)
    second = load_poses_3d(cmu_dir / "data_3d_cmu.npz", cache_dir=cache_dir)
    assert second.num_joints == first.num_joints == 17
    for subject, actions in first.positions.items():
        for action, world in actions.items():
            np.testing.assert_array_equal(second.positions[subject][action], world)


@pytest.mark.parametrize("given_by", ["argument", "environment"])
def test_a_file_as_the_cache_folder_is_refused_by_name(cmu_dir, tmp_path, monkeypatch, given_by):
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("the user's file")
    if given_by == "environment":
        monkeypatch.setenv(h36m.CACHE_ENV, str(not_a_folder))
    origin = (
        "the cache_dir argument" if given_by == "argument" else f"--cache-dir or ${h36m.CACHE_ENV}"
    )
    with pytest.raises(
        NotADirectoryError,
        match=re.escape(
            f"The data cache {not_a_folder} (given by {origin}) is not a folder. Expected a folder"
        ),
    ):
        load_poses_3d(
            cmu_dir / "data_3d_cmu.npz", cache_dir=not_a_folder if given_by == "argument" else None
        )
    assert not_a_folder.read_text() == "the user's file"


def test_changed_source_is_converted_again(tmp_path, cache_dir, monkeypatch):
    path = write_npz(
        tmp_path / "data_3d_h36m.npz", positions_3d={"S1": {"Walking 1": np.ones((4, 17, 3))}}
    )
    assert load_poses_3d(path, cache_dir=cache_dir).positions["S1"]["Walking 1"].shape == (4, 17, 3)
    write_npz(path, positions_3d={"S1": {"Walking 1": np.ones((6, 17, 3))}})
    os.utime(path, ns=(10**18, 10**18))
    assert load_poses_3d(path, cache_dir=cache_dir).positions["S1"]["Walking 1"].shape == (6, 17, 3)
    cache_file = h36m._cache_file(path, cache_dir)
    cache_file.write_bytes(b"corrupt")
    with pytest.warns(UserWarning, match="unreadable cache"):
        assert load_poses_3d(path, cache_dir=cache_dir).positions["S1"]["Walking 1"].shape == (
            6,
            17,
            3,
        )


def write_uncompressed(path, positions_3d):
    """A data_3d file stored without compression, so that equal shapes give equal file sizes."""
    holder = np.empty((), dtype=object)
    holder[()] = positions_3d
    np.savez(path, positions_3d=holder)
    return path


def test_a_file_edited_in_place_keeping_size_and_mtime_is_converted_again(tmp_path, cache_dir):
    path = write_uncompressed(
        tmp_path / "data_3d_h36m.npz", {"S1": {"Walking 1": np.ones((4, 17, 3))}}
    )
    assert load_poses_3d(path, cache_dir=cache_dir).positions["S1"]["Walking 1"].shape == (4, 17, 3)
    before = path.stat()
    edited = np.ones((4, 17, 3))
    edited[1, 2, 0] = np.nan
    write_uncompressed(path, {"S1": {"Walking 1": edited}})
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    with pytest.raises(
        DataFileError, match=r"non-finite value at \[frame, joint, axis\] = \[1, 2, 0\]"
    ):
        load_poses_3d(path, cache_dir=cache_dir)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_cache_entry_is_rebuilt(tmp_path, cache_dir, damage):
    path = write_npz(
        tmp_path / "data_3d_h36m.npz",
        positions_3d={"S1": {"Walking 1": np.arange(4 * 17 * 3.0).reshape(4, 17, 3)}},
    )
    expected = load_poses_3d(path, cache_dir=cache_dir).positions["S1"]["Walking 1"]
    (cache_file,) = (cache_dir / "converted").glob("data_3d_h36m-*.npz")
    data = bytearray(cache_file.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 3] ^= 0xFF
    cache_file.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match=f"{re.escape(str(cache_file))}: unreadable cache"):
        again = load_poses_3d(path, cache_dir=cache_dir).positions["S1"]["Walking 1"]
    np.testing.assert_array_equal(again, expected)
    with np.load(cache_file, allow_pickle=False) as archive:  # rebuilt in place
        np.testing.assert_array_equal(archive["a0"], expected)


# -------------------------------------------------------------------------------------- validation
def make_3d(joints=17, frames=10, subjects=("S1",), actions=("Walking 1",)):
    rng = np.random.default_rng(0)
    return {
        subject: {action: rng.normal(size=(frames, joints, 3)) + [0, 0, 1] for action in actions}
        for subject in subjects
    }


def make_2d(joints=17, frames=10, subjects=("S1",), actions=("Walking 1",), cameras=4):
    rng = np.random.default_rng(1)
    return {
        subject: {
            action: [rng.uniform(0, 1000, size=(frames, joints, 2)) for _ in range(cameras)]
            for action in actions
        }
        for subject in subjects
    }


def with_value(data, value, subject="S1", action="Walking 1"):
    data[subject][action] = value
    return data


@pytest.mark.parametrize(
    "contents, match",
    [
        ({"poses": make_3d()}, r"missing key 'positions_3d' \(keys present: \['poses'\]\)"),
        ({"positions_3d": [1, 2]}, "expected positions_3d to be a dict. Received: list"),
        (
            {"positions_3d": {"S1": [np.zeros((3, 17, 3))]}},
            r"expected positions_3d\['S1'\] to be a dict",
        ),
        ({"positions_3d": {}}, "positions_3d holds no sequences"),
        (
            {"positions_3d": {"S1": {3: np.zeros((3, 17, 3))}}},
            r"positions_3d\['S1'\]: expected action names \(str\)",
        ),
        (
            {"positions_3d": make_3d(subjects=("S3",))},
            "unknown subject 'S3'; only subjects with Human3.6M camera",
        ),
        (
            {"positions_3d": make_3d(joints=15)},
            r"\['S1'\]\['Walking 1'\]: expected 17 or 32 joints. Received: shape \(10, 15, 3\)",
        ),
        ({"positions_3d": make_3d(joints=16)}, "expected 17 or 32 joints"),
        (
            {"positions_3d": with_value(make_3d(), np.zeros((10, 17, 2)))},
            r"expected shape \[frames, joints, 3\]",
        ),
        (
            {"positions_3d": with_value(make_3d(), np.zeros((17, 3)))},
            r"expected shape \[frames, joints, 3\]",
        ),
        (
            {"positions_3d": with_value(make_3d(), np.zeros((0, 17, 3)))},
            r"expected shape \[frames, joints, 3\]",
        ),
        (
            {"positions_3d": with_value(make_3d(), "text")},
            "expected a numeric array. Received: str",
        ),
        (
            {"positions_3d": with_value(make_3d(), np.full((4, 17, 3), np.nan))},
            r"non-finite value at \[frame, joint, axis\] = \[0, 0, 0\]",
        ),
        (
            {"positions_3d": {**make_3d(), **make_3d(joints=32, subjects=("S5",))}},
            r"one joint count .* \[17, 32\]",
        ),
        (
            {"positions_3d": with_value(make_3d(), np.ones((4, 17, 3), np.complex64))},
            r"\['S1'\]\['Walking 1'\]: expected a real numeric array \(integers or floats\). Received: complex64",
        ),
        (
            {"positions_3d": with_value(make_3d(), np.ones((4, 17, 3), "m8[s]"))},
            r"expected a real numeric array \(integers or floats\). Received: timedelta64\[s\]",
        ),
        (
            {"positions_3d": with_value(make_3d(), np.full((4, 17, 3), True))},
            r"expected a real numeric array \(integers or floats\). Received: bool",
        ),
        (
            {
                "positions_3d": with_value(
                    make_3d(), np.pad(np.full((1, 1, 1), 1e39), ((3, 0), (2, 14), (1, 1)))
                )
            },
            r"non-finite value at \[frame, joint, axis\] = \[3, 2, 1\] \(as float32: NaN, Inf, or beyond float32's range",
        ),
        (
            {"positions_3d": with_value(make_3d(), np.full((4, 17, 3), np.longdouble("1e4000")))},
            r"non-finite value at \[frame, joint, axis\] = \[0, 0, 0\] \(as float32: NaN, Inf, or beyond float32's range",
        ),
    ],
)
def test_invalid_3d_files_raise(tmp_path, cache_dir, contents, match):
    path = write_npz(tmp_path / "data_3d_h36m.npz", **contents)
    with pytest.raises(DataFileError, match=match) as error:
        load_poses_3d(path, cache_dir=cache_dir)
    assert str(error.value).startswith(f"{path}: ")


@pytest.mark.parametrize(
    "contents, match",
    [
        ({"positions_2d": make_2d()}, r"missing key 'metadata'"),
        ({"metadata": METADATA_17}, r"missing key 'positions_2d'"),
        ({"positions_2d": make_2d(), "metadata": [17]}, "expected metadata to be a dict"),
        (
            {"positions_2d": make_2d(cameras=3), "metadata": METADATA_17},
            r"\['S1'\]\['Walking 1'\]: expected a list of 4 camera arrays. Received: 3",
        ),
        (
            {"positions_2d": make_2d(cameras=5), "metadata": METADATA_17},
            "expected a list of 4 camera arrays. Received: 5",
        ),
        (
            {
                "positions_2d": with_value(make_2d(), np.zeros((4, 10, 17, 2))),
                "metadata": METADATA_17,
            },
            "expected a list of 4 camera arrays. Received: ndarray",
        ),
        (
            {"positions_2d": make_2d(joints=15), "metadata": METADATA_17},
            r"\[camera 0\]: expected 16 or 17 joints",
        ),
        (
            {
                "positions_2d": with_value(make_2d(), [np.zeros((10, 17, 3))] * 4),
                "metadata": METADATA_17,
            },
            r"\[camera 0\]: expected shape \[frames, joints, 2\]",
        ),
        (
            {
                "positions_2d": with_value(
                    make_2d(), [np.zeros((10, 17, 2))] * 3 + [np.full((10, 17, 2), np.inf)]
                ),
                "metadata": METADATA_17,
            },
            r"\[camera 3\]: non-finite value",
        ),
        (
            {
                "positions_2d": with_value(
                    make_2d(), [np.zeros((10, 17, 2))] * 2 + [np.full((10, 17, 2), -1e39)] * 2
                ),
                "metadata": METADATA_17,
            },
            r"\[camera 2\]: non-finite value at \[frame, joint, axis\] = \[0, 0, 0\]",
        ),
        (
            {
                "positions_2d": with_value(make_2d(), [np.zeros((10, 17, 2), np.complex128)] * 4),
                "metadata": METADATA_17,
            },
            r"\[camera 0\]: expected a real numeric array \(integers or floats\). Received: complex128",
        ),
        (
            {"positions_2d": make_2d(subjects=("S12",)), "metadata": METADATA_17},
            "unknown subject 'S12'",
        ),
        (
            {"positions_2d": make_2d(), "metadata": METADATA_16},
            "metadata num_joints=16 but the arrays have 17 joints",
        ),
        (
            {
                "positions_2d": make_2d(joints=16),
                "metadata": {**METADATA_16, "keypoints_symmetry": [[0], [1]]},
            },
            r"cannot tell the joint order from num_joints=16 and keypoints_symmetry=\[\[0\], \[1\]\]",
        ),
        (
            {
                "positions_2d": make_2d(joints=16),
                "metadata": {**METADATA_16, "keypoints_symmetry": 7},
            },
            "cannot tell the joint order from num_joints=16 and keypoints_symmetry=7",
        ),
        (
            {"positions_2d": make_2d(joints=16), "metadata": {"num_joints": 16}},
            "cannot tell the joint order from num_joints=16 and keypoints_symmetry=None",
        ),
        (
            {
                "positions_2d": make_2d(joints=17),
                "metadata": {
                    **METADATA_17,
                    "keypoints_symmetry": METADATA_16["keypoints_symmetry"],
                },
            },
            "cannot tell the joint order from num_joints=17",
        ),
        (
            {"positions_2d": make_2d(), "metadata": {**METADATA_17, "layout_name": b"h36m"}},
            r"expected metadata\['layout_name'\] to hold numbers, strings, lists and dicts. Received: bytes",
        ),
        (
            {
                "positions_2d": make_2d(),
                "metadata": {**METADATA_17, "extra": [1, {"x": np.array([1j])}]},
            },
            r"expected metadata\['extra'\]\[1\]\['x'\]\[0\] to hold numbers, strings, lists and dicts. "
            r"Received: complex",
        ),
    ],
)
def test_invalid_2d_files_raise(tmp_path, cache_dir, contents, match):
    path = write_npz(tmp_path / "data_2d_h36m_gt.npz", **contents)
    with pytest.raises(DataFileError, match=match) as error:
        load_keypoints_2d(path, cache_dir=cache_dir)
    assert str(error.value).startswith(f"{path}: ")


def write_pair(directory, positions_3d, positions_2d, metadata=METADATA_17):
    write_npz(directory / "data_3d_h36m.npz", positions_3d=positions_3d)
    write_npz(directory / "data_2d_h36m_gt.npz", positions_2d=positions_2d, metadata=metadata)
    return directory


def test_frame_count_mismatch_is_trimmed_with_a_warning(tmp_path, cache_dir):
    positions_2d = make_2d(frames=10)
    positions_2d["S1"]["Walking 1"][2] = np.random.default_rng(2).uniform(0, 1000, size=(12, 17, 2))
    positions_2d["S1"]["Walking 1"][3] = positions_2d["S1"]["Walking 1"][3][:7]
    write_pair(tmp_path, make_3d(frames=10), positions_2d)
    with pytest.warns(UserWarning) as caught:
        samples = load_samples("h36m", tmp_path, subjects=["S1"], cache_dir=cache_dir)
    messages = [str(warning.message) for warning in caught]
    assert any(
        re.search(
            r"data_2d_h36m_gt.npz: S1 'Walking 1' camera 2 has 12 frames of 2D but data_3d_h36m.npz "
            r"has 10 of 3D; trimming both to 10",
            message,
        )
        for message in messages
    )
    assert any(
        "camera 3 has 7 frames of 2D" in message and "trimming both to 7" in message
        for message in messages
    )
    assert np.bincount(samples.cameras).tolist() == [10, 10, 10, 7]


def test_sequences_in_one_file_only_are_skipped_with_a_warning(tmp_path, cache_dir):
    write_pair(
        tmp_path,
        make_3d(actions=("Walking 1", "Eating 1")),
        make_2d(actions=("Walking 1", "Posing 1")),
    )
    with pytest.warns(UserWarning) as caught:
        samples = load_samples("h36m", tmp_path, subjects=["S1"], cache_dir=cache_dir)
    messages = " | ".join(str(warning.message) for warning in caught)
    assert "no 2D for S1 'Eating 1'" in messages and "no 3D for S1 'Posing 1'" in messages
    assert set(samples.actions) == {"Walking 1"}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"subjects": ["S9"]},
            r"data_3d_cmu.npz: unknown subject 'S9'; the file has S1, S5, S6, S7",
        ),
        (
            {"subjects": "S1"},
            "subjects to be a non-empty sequence of names. Received: subjects='S1'",
        ),
        ({"subjects": []}, "subjects to be a non-empty sequence"),
        ({"subjects": ["S1"], "actions": "Exercise"}, "actions to be a sequence of names or None"),
        (
            {"subjects": ["S1"], "actions": ["Running"]},
            r"unknown action\(s\) \['Running'\] for subjects \['S1'\]; action classes there: Exercise",
        ),
        (
            {"subjects": ["S1", "S6"], "actions": ["Walking", "Exercise 9"]},
            r"unknown action\(s\) \['Exercise 9'\]",
        ),
        ({"subjects": ["S1"], "stride": 0}, "stride to be a positive integer. Received: stride=0"),
        ({"subjects": ["S1"], "stride": 1.5}, "stride to be a positive integer"),
        ({"subjects": ["S1"], "stride": True}, "stride to be a positive integer"),
        (
            {"subjects": ["S1"], "keypoints": "cpn"},
            r"keypoints to be one of \('gt', 'sh_pt_mpii', 'cpn_ft_h36m_dbb', 'detectron_pt_coco'\)",
        ),
    ],
)
def test_bad_requests_raise(cmu_dir, cache_dir, kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_samples("cmu", cmu_dir, cache_dir=cache_dir, **kwargs)


def test_bad_dataset_names_raise(cmu_dir, tmp_path):
    # Any plain name is a data set (data_3d_<name>.npz); one that is not a file-name part is refused.
    with pytest.raises(FileNotFoundError, match=r"data_3d_human36m.npz: no such file"):
        load_samples("human36m", cmu_dir, subjects=["S1"])
    for name in ("../cmu", "a/b", "", "-x"):
        with pytest.raises(
            ValueError, match=rf"Expected dataset to be a name like .* Received: dataset={name!r}"
        ):
            load_samples(name, cmu_dir, subjects=["S1"])
    with pytest.raises(
        ValueError,
        match="Expected data_dir, the folder with data_3d_h36m.npz and data_2d_h36m_gt.npz",
    ):
        load_samples("h36m", subjects=["S1"])
    with pytest.raises(FileNotFoundError, match=r"data_3d_h36m.npz: no such file"):
        load_samples("h36m", tmp_path, subjects=["S1"], cache_dir=tmp_path)
