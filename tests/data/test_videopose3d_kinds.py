"""VideoPose3D's 2D detection files by name: `cpn_ft_h36m_dbb` (Human3.6M-17 order) and `detectron_pt_coco`
(COCO-17 order), each built here in VideoPose3D's layout from the shared CMU 2D poses."""

import warnings

import numpy as np
import pytest

from graphmdn_tf.data import load_samples
from graphmdn_tf.data.h36m import KEYPOINT_KINDS, data_file_paths, load_keypoints_2d
from graphmdn_tf.data.joint_mapping import coco17_to_h36m16
from graphmdn_tf.data.keypoint_formats import COCO_17
from graphmdn_tf.data.safe_npz import DataFileError
from graphmdn_tf.skeletons import H36M_16
from tests.data.keypoint_files import coco_from_h36m17
from tests.data.npz_files import METADATA_17, read_npz_trusted, write_npz

# VideoPose3D's data/data_utils.py: the metadata its detection files carry.
METADATA_COCO = {
    "layout_name": "coco",
    "num_joints": 17,
    "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]],
}


def _coco(name):
    return COCO_17.index(name)


def _expected_h36m16(coco: np.ndarray) -> np.ndarray:
    """The 16 joints from named COCO joints, written out joint by joint."""
    joint = {name: coco[:, _coco(name)] for name in COCO_17}
    hip = (joint["left_hip"] + joint["right_hip"]) / 2
    thorax = (joint["left_shoulder"] + joint["right_shoulder"]) / 2
    by_name = {
        "Hip": hip,
        "RHip": joint["right_hip"],
        "RKnee": joint["right_knee"],
        "RFoot": joint["right_ankle"],
        "LHip": joint["left_hip"],
        "LKnee": joint["left_knee"],
        "LFoot": joint["left_ankle"],
        "Spine": (hip + thorax) / 2,
        "Thorax": thorax,
        "Head": thorax + 2.0 * (joint["nose"] - thorax),
        "LShoulder": joint["left_shoulder"],
        "LElbow": joint["left_elbow"],
        "LWrist": joint["left_wrist"],
        "RShoulder": joint["right_shoulder"],
        "RElbow": joint["right_elbow"],
        "RWrist": joint["right_wrist"],
    }
    assert tuple(by_name) == H36M_16.joint_names
    return np.stack(list(by_name.values()), axis=1)


def test_the_kinds_name_videopose3d_files():
    assert {"cpn_ft_h36m_dbb", "detectron_pt_coco"} <= set(KEYPOINT_KINDS)
    for kind in ("cpn_ft_h36m_dbb", "detectron_pt_coco"):
        assert data_file_paths("data", "h36m", kind)[1].name == f"data_2d_h36m_{kind}.npz"


def test_coco17_maps_onto_the_16_joints_joint_by_joint():
    coco = np.random.default_rng(0).uniform(0, 1000, size=(5, 17, 2)).astype(np.float32)
    mapped = coco17_to_h36m16(coco)
    expected = _expected_h36m16(coco.astype(np.float64))
    assert mapped.shape == (5, 16, 2) and mapped.dtype == np.float32
    for index, name in enumerate(H36M_16.joint_names):
        np.testing.assert_allclose(mapped[:, index], expected[:, index], atol=1e-3, err_msg=name)
    with pytest.raises(ValueError, match=r"Expected COCO-17 keypoints \[frames, 17, 2\]"):
        coco17_to_h36m16(coco[:, :16])


@pytest.fixture
def cmu_2d(cmu_dir):
    """S6 of the shared CMU set: 3D poses and 2D (Human3.6M-17 order, 4 cameras)."""
    positions_3d = read_npz_trusted(cmu_dir / "data_3d_cmu.npz")["positions_3d"]
    positions_2d = read_npz_trusted(cmu_dir / "data_2d_cmu_gt.npz")["positions_2d"]
    return {"S6": positions_3d["S6"]}, {"S6": positions_2d["S6"]}


def _unlabeled(positions_2d):
    """VideoPose3D's detection files also hold S2 (no 3D, no cameras)."""
    return {**positions_2d, "S2": positions_2d["S6"]}


def test_cpn_file_loads_in_human36m_17_order(cmu_dir, cmu_2d, tmp_path, cache_dir):
    positions_3d, positions_2d = cmu_2d
    write_npz(tmp_path / "data_3d_h36m.npz", positions_3d=positions_3d)
    write_npz(
        tmp_path / "data_2d_h36m_cpn_ft_h36m_dbb.npz",
        positions_2d=_unlabeled(positions_2d),
        metadata=METADATA_17,
    )
    with pytest.warns(
        UserWarning, match=r"data_2d_h36m_cpn_ft_h36m_dbb.npz: left out the subjects S2"
    ):
        samples = load_samples(
            "h36m", tmp_path, keypoints="cpn_ft_h36m_dbb", subjects=["S6"], cache_dir=cache_dir
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = load_samples("cmu", cmu_dir, subjects=["S6"], cache_dir=cache_dir)
    np.testing.assert_array_equal(samples.inputs_2d, reference.inputs_2d)
    np.testing.assert_array_equal(samples.targets_3d, reference.targets_3d)


def test_detectron_coco_file_loads_mapped_onto_the_16_joints(cmu_2d, tmp_path, cache_dir):
    positions_3d, positions_2d = cmu_2d
    coco = {
        subject: {
            action: [coco_from_h36m17(view).astype(np.float32) for view in views]
            for action, views in actions.items()
        }
        for subject, actions in positions_2d.items()
    }
    write_npz(tmp_path / "data_3d_h36m.npz", positions_3d=positions_3d)
    path = write_npz(
        tmp_path / "data_2d_h36m_detectron_pt_coco.npz",
        positions_2d=_unlabeled(coco),
        metadata=METADATA_COCO,
    )
    with pytest.warns(UserWarning, match="left out the subjects S2"):
        loaded = load_keypoints_2d(path, cache_dir=cache_dir)
    assert loaded.layout == "coco17" and sorted(loaded.positions) == ["S6"]
    action = sorted(coco["S6"])[0]
    for camera in range(4):
        np.testing.assert_allclose(
            loaded.joints_16("S6", action, camera),
            _expected_h36m16(coco["S6"][action][camera].astype(np.float64)),
            atol=1e-3,
        )
    with pytest.warns(UserWarning, match="left out the subjects S2"):
        samples = load_samples(
            "h36m", tmp_path, keypoints="detectron_pt_coco", subjects=["S6"], cache_dir=cache_dir
        )
    assert samples.inputs_2d.shape[1:] == (16, 2) and np.isfinite(samples.inputs_2d).all()


@pytest.mark.parametrize("kind", ["cpn_ft_h36m_dbb", "detectron_pt_coco"])
@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda positions, metadata: (
                {"S6": {"Walking 1": [np.zeros((5, 18, 2))] * 4}},
                metadata,
            ),
            r"positions_2d\['S6'\]\['Walking 1'\]\[camera 0\]: expected 16 or 17 joints\. "
            r"Received: shape \(5, 18, 2\)",
        ),
        (
            lambda positions, metadata: (positions, None),
            r"missing key 'metadata' \(keys present: \['positions_2d'\]\)",
        ),
        (
            lambda positions, metadata: (
                positions,
                {key: value for key, value in metadata.items() if key != "keypoints_symmetry"},
            ),
            r"cannot tell the joint order from num_joints=17 and keypoints_symmetry=None",
        ),
    ],
    ids=["18 joints", "no metadata", "no symmetry"],
)
def test_a_malformed_file_is_one_line_naming_file_and_key(
    cmu_2d, tmp_path, cache_dir, kind, change, message
):
    positions_2d = cmu_2d[1]
    metadata = METADATA_17 if kind == "cpn_ft_h36m_dbb" else METADATA_COCO
    positions, metadata = change(positions_2d, metadata)
    contents = {"positions_2d": positions}
    if metadata is not None:
        contents["metadata"] = metadata
    path = write_npz(tmp_path / f"data_2d_h36m_{kind}.npz", **contents)
    with pytest.raises(DataFileError, match=message) as error:
        load_keypoints_2d(path, cache_dir=cache_dir)
    assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)
