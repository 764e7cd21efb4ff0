"""The mapping onto the model's 16 joints: exact for Human3.6M layouts, COCO by the documented rules, fills reported."""

import numpy as np
import pytest

from graphmdn_tf.data.joint_mapping import HEAD_FROM_NOSE, to_h36m16
from graphmdn_tf.data.keypoint_formats import COCO_17, records_from_array
from graphmdn_tf.skeletons import H36M_16, H36M_16_FROM_17, H36M_17
from tests.data.keypoint_files import cmu_pixels, coco_from_h36m17

J16 = {name: index for index, name in enumerate(H36M_16.joint_names)}
J17 = {name: index for index, name in enumerate(H36M_17.joint_names)}
COCO = {name: index for index, name in enumerate(COCO_17)}


@pytest.fixture(scope="module")
def pixels_17(shared_dir):
    return cmu_pixels(shared_dir)


def _coco_records(pixels_17, scores=None):
    coco = coco_from_h36m17(pixels_17)
    scores = np.ones(coco.shape[:2]) if scores is None else scores
    return records_from_array(np.concatenate([coco, scores[..., None]], axis=-1), "coco17")


def test_human36m_layouts_are_exact(pixels_17):
    from_17 = to_h36m16(records_from_array(pixels_17, "h36m17"))
    from_16 = to_h36m16(records_from_array(pixels_17[:, list(H36M_16_FROM_17)]))
    expected = pixels_17[:, list(H36M_16_FROM_17)].astype(np.float32)
    np.testing.assert_array_equal(from_17.keypoints, expected)
    np.testing.assert_array_equal(from_16.keypoints, expected)
    assert from_17.refused == {} and all(fills == {} for fills in from_17.filled)


def test_coco_gives_back_shared_joints_and_synthesises_by_the_rule(pixels_17):
    mapped = to_h36m16(_coco_records(pixels_17))
    pixels = pixels_17.astype(np.float32).astype(np.float64)
    shared = [
        "RHip",
        "RKnee",
        "RFoot",
        "LHip",
        "LKnee",
        "LFoot",
        "LShoulder",
        "LElbow",
        "LWrist",
        "RShoulder",
        "RElbow",
        "RWrist",
    ]
    np.testing.assert_array_equal(
        mapped.keypoints[:, [J16[n] for n in shared]], pixels[:, [J17[n] for n in shared]]
    )
    mid_hips = (pixels[:, J17["LHip"]] + pixels[:, J17["RHip"]]) / 2
    thorax = (pixels[:, J17["LShoulder"]] + pixels[:, J17["RShoulder"]]) / 2
    np.testing.assert_allclose(mapped.keypoints[:, J16["Hip"]], mid_hips, rtol=1e-12)
    np.testing.assert_allclose(mapped.keypoints[:, J16["Thorax"]], thorax, rtol=1e-12)
    np.testing.assert_allclose(
        mapped.keypoints[:, J16["Spine"]], (mid_hips + thorax) / 2, rtol=1e-12
    )
    head = thorax + HEAD_FROM_NOSE * (pixels[:, J17["Neck/Nose"]] - thorax)
    np.testing.assert_allclose(mapped.keypoints[:, J16["Head"]], head, rtol=1e-12)
    # The rule's reason (docstring): on real poses it lands nearer Human3.6M's Head than the nose does.
    error = np.median(
        np.linalg.norm(mapped.keypoints[:, J16["Head"]] - pixels[:, J17["Head"]], axis=-1)
    )
    assert error < np.median(
        np.linalg.norm(pixels[:, J17["Neck/Nose"]] - pixels[:, J17["Head"]], axis=-1)
    )
    assert mapped.refused == {} and all(fills == {} for fills in mapped.filled)


def _reflect(point, start, end):
    direction = (end - start) / np.linalg.norm(end - start)
    offset = point - start
    return start + 2 * (offset @ direction) * direction - offset


def test_fills_follow_the_rules_and_are_reported(pixels_17):
    scores = np.ones((len(pixels_17), 17))
    scores[0, COCO["left_wrist"]] = 0.1  # mirror
    scores[1, COCO["left_hip"]] = 0.0  # no axis: the shoulders' step
    scores[2, [COCO["left_wrist"], COCO["right_wrist"]]] = 0.0  # no partner: the neighbour (elbow)
    scores[3, COCO["nose"]] = 0.0  # head from the eyes
    scores[4, :5] = 0.0  # no face point: refused
    scores[5, [COCO["left_knee"], COCO["left_ankle"], COCO["right_knee"], COCO["right_ankle"]]] = (
        0.0  # legless
    )
    mapped = to_h36m16(_coco_records(pixels_17, scores))
    points, coco = (
        mapped.keypoints,
        coco_from_h36m17(pixels_17.astype(np.float32).astype(np.float64)),
    )
    hips = (points[0, J16["LHip"]] + points[0, J16["RHip"]]) / 2
    shoulders = (points[0, J16["LShoulder"]] + points[0, J16["RShoulder"]]) / 2
    np.testing.assert_allclose(
        points[0, J16["LWrist"]], _reflect(points[0, J16["RWrist"]], hips, shoulders)
    )
    assert mapped.filled[0] == {"LWrist": "mirror of RWrist about the body axis"}
    step = coco[1, COCO["left_shoulder"]] - coco[1, COCO["right_shoulder"]]
    np.testing.assert_allclose(points[1, J16["LHip"]], coco[1, COCO["right_hip"]] + step)
    assert mapped.filled[1] == {"LHip": "RHip + the LShoulder-RShoulder step"}
    np.testing.assert_allclose(points[2, J16["LWrist"]], coco[2, COCO["left_elbow"]])
    assert mapped.filled[2] == {"LWrist": "mean of LElbow", "RWrist": "mean of RElbow"}
    eyes = (coco[3, COCO["left_eye"]] + coco[3, COCO["right_eye"]]) / 2
    thorax = points[3, J16["Thorax"]]
    np.testing.assert_allclose(points[3, J16["Head"]], thorax + 2 * (eyes - thorax))
    assert mapped.filled[3] == {"Head": "from the eyes (nose below min_score)"}
    assert mapped.refused == {
        4: "no rule could fill Head",
        5: "no rule could fill RKnee, RFoot, LKnee, LFoot",
    }
    assert (
        4 not in mapped.accepted
        and 6 in mapped.accepted
        and len(mapped.accepted) == len(pixels_17) - 2
    )
    assert all(fills == {} for fills in mapped.filled[6:])


def test_min_score_decides_what_is_missing(pixels_17):
    scores = np.full((len(pixels_17), 17), 0.5)
    assert to_h36m16(_coco_records(pixels_17, scores), min_score=0.5).refused == {}
    assert len(to_h36m16(_coco_records(pixels_17, scores), min_score=0.6).refused) == len(pixels_17)


def test_human36m_torso_joints_fall_back_to_the_midpoint_rule(pixels_17):
    with_scores = np.concatenate([pixels_17, np.ones((len(pixels_17), 17, 1))], axis=-1)
    with_scores[0, J17["Hip"], 2] = 0.0
    with_scores[1, J17["Head"], 2] = 0.0
    mapped = to_h36m16(records_from_array(with_scores, "h36m17"))
    mid_hips = (pixels_17[0, J17["LHip"]] + pixels_17[0, J17["RHip"]]).astype(np.float32) / 2
    np.testing.assert_allclose(mapped.keypoints[0, J16["Hip"]], mid_hips, rtol=1e-6)
    assert mapped.filled[0] == {"Hip": "midpoint rule of the COCO mapping"}
    assert mapped.refused == {1: "no rule could fill Head"}
