"""Detector joints -> the model's 16 Human3.6M joints, with low-confidence joints filled and reported.

`to_h36m16(records, min_score=...)` takes the `KeypointRecords` of `graphmdn_tf.data.keypoint_formats` and
returns a `MappedKeypoints`: pixels [records, 16, 2] in `graphmdn_tf.skeletons.H36M_16` order, which joints
were filled and by which rule, and which records were refused. The rules are in its docstring.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from graphmdn_tf.data.keypoint_formats import COCO_17, COCO_FOR_H36M16, KeypointRecords
from graphmdn_tf.skeletons import H36M_16, H36M_16_FROM_17

#: Default confidence below which a joint counts as missing.
DEFAULT_MIN_SCORE = 0.3
#: How far along Thorax -> nose the Head lies: Head = Thorax + HEAD_FROM_NOSE * (nose - Thorax).
HEAD_FROM_NOSE = 2.0

_INDEX = {name: index for index, name in enumerate(H36M_16.joint_names)}
_COCO = {name: index for index, name in enumerate(COCO_17)}
_HIP, _SPINE, _THORAX, _HEAD = (_INDEX[name] for name in ("Hip", "Spine", "Thorax", "Head"))
_LIMBS = H36M_16.joints_left + H36M_16.joints_right
_MIRROR = {
    **dict(zip(H36M_16.joints_left, H36M_16.joints_right)),
    **dict(zip(H36M_16.joints_right, H36M_16.joints_left)),
}
_HIPS = (_INDEX["LHip"], _INDEX["RHip"])
_SHOULDERS = (_INDEX["LShoulder"], _INDEX["RShoulder"])
# A hip (shoulder) -> the other pair, whose left-to-right step it copies (see `to_h36m16`, rule 2).
_OTHER_PAIR = {**{joint: _SHOULDERS for joint in _HIPS}, **{joint: _HIPS for joint in _SHOULDERS}}
# A knee's (elbow's) neighbours along the limb: its hip and foot (shoulder and wrist); a foot's (wrist's): its knee (elbow).
_NEIGHBOURS = {
    joint: tuple(
        other
        for other in _LIMBS
        if H36M_16.parents[other] == joint or H36M_16.parents[joint] == other
    )
    for joint in _LIMBS
}


@dataclass
class MappedKeypoints:
    """Keypoints on the 16 joints of `H36M_16`.

    Attributes:
        keypoints: [records, 16, 2] float64 pixels (refused records hold whatever could be built).
        filled: per record, {joint name: the rule that filled it} for each joint missing from the file.
        refused: {record index: why} for records with a joint no rule could fill; they are not lifted.
    """

    keypoints: np.ndarray
    filled: list = field(default_factory=list)
    refused: dict = field(default_factory=dict)

    @property
    def accepted(self) -> np.ndarray:
        """Indices of the records not refused."""
        return np.array(
            [index for index in range(len(self.keypoints)) if index not in self.refused], np.int64
        )


def _reflect(points, axis_start, axis_end):
    """Points [R, 2] reflected about the lines through axis_start -> axis_end [R, 2]."""
    direction = axis_end - axis_start
    direction = direction / np.linalg.norm(direction, axis=-1, keepdims=True)
    offset = points - axis_start
    along = np.sum(offset * direction, axis=-1, keepdims=True)
    return axis_start + 2.0 * along * direction - offset


def _fill_limb(points, valid, filled, joint: int, rule: str) -> None:
    """Apply one fill rule to the records missing limb `joint` where the rule's inputs are valid."""
    name, partner = H36M_16.joint_names[joint], _MIRROR[joint]
    if rule == "mirror":
        hips, shoulders = points[:, list(_HIPS)].mean(1), points[:, list(_SHOULDERS)].mean(1)
        usable = valid[:, list(_HIPS + _SHOULDERS)].all(1) & (
            np.linalg.norm(shoulders - hips, axis=-1) > 0
        )
        rows = ~valid[:, joint] & valid[:, partner] & usable
        values = _reflect(points[rows, partner], hips[rows], shoulders[rows])
        how = f"mirror of {H36M_16.joint_names[partner]} about the body axis"
    elif rule == "pair" and joint in _OTHER_PAIR:
        left, right = _OTHER_PAIR[joint]
        rows = ~valid[:, joint] & valid[:, partner] & valid[:, left] & valid[:, right]
        step = points[rows, left] - points[rows, right]
        values = points[rows, partner] + (step if joint in H36M_16.joints_left else -step)
        how = f"{H36M_16.joint_names[partner]} + the {H36M_16.joint_names[left]}-{H36M_16.joint_names[right]} step"
    elif rule == "neighbours":
        neighbours = list(_NEIGHBOURS[joint])
        rows = ~valid[:, joint] & valid[:, neighbours].all(1) & (joint not in _OTHER_PAIR)
        values = points[rows][:, neighbours].mean(1)
        how = "mean of " + "/".join(H36M_16.joint_names[n] for n in neighbours)
    else:
        return
    points[rows, joint], valid[rows, joint] = values, True
    for row in np.flatnonzero(rows):
        filled[row][name] = how


def _face_point(records: KeypointRecords, min_score: float, filled: list):
    """COCO: the nose, else the mean of the confident eyes, else of the ears: points [R, 2], valid [R]."""
    points, valid = np.zeros((len(records), 2)), np.zeros(len(records), bool)
    for group, label in (
        (("nose",), None),
        (("left_eye", "right_eye"), "eyes"),
        (("left_ear", "right_ear"), "ears"),
    ):
        indices = [_COCO[name] for name in group]
        weights = (records.scores[:, indices] >= min_score).astype(np.float64)
        rows = ~valid & (weights.sum(1) > 0)
        coordinates = records.keypoints[rows][:, indices].astype(np.float64)
        points[rows] = (
            np.einsum("rn,rnd->rd", weights[rows], coordinates) / weights[rows].sum(1)[:, None]
        )
        valid[rows] = True
        for row in np.flatnonzero(rows) if label else ():
            filled[row]["Head"] = f"from the {label} (nose below min_score)"
    return points, valid


def to_h36m16(records: KeypointRecords, *, min_score: float = DEFAULT_MIN_SCORE) -> MappedKeypoints:
    """Map keypoint records onto the 16 joints of `H36M_16` (h36m_facts.txt section 6), filling missing joints.

    Joints (a joint counts as missing when its score is below `min_score`):
        - `h36m16`: as given. `h36m17`: the 16-joint subset (`H36M_16_FROM_17`, dropping Neck/Nose), exactly.
        - `coco17`: the limbs from their namesakes (Human3.6M's Foot is COCO's ankle); Hip (the pelvis) =
          the mid-hips; Thorax = the mid-shoulders; Spine = the midpoint of Hip and Thorax. Head: COCO has
          no head top, so Head = Thorax + HEAD_FROM_NOSE * (nose - Thorax), HEAD_FROM_NOSE = 2: the nose
          reflected through the Thorax. The facts file (sections 4-5) puts the 17-joint set's 'Neck/Nose'
          (joint 9) on the chain Thorax -> Neck/Nose -> Head; in the shared CMU poses (Human3.6M-17, all 4
          cameras, 2D) it lies midway: Head - Thorax = k (Nose - Thorax) fits k = 2.0005 with a median
          1.7 px residual (torso ~96 px). With Thorax taken as the mid-shoulders (~14 px below Human3.6M's
          Thorax there) the rule's median Head error is 15 px, against 21 px for Head := nose. (A factor
          fitted to the mid-shoulders, 3.5, gives 9 px, but CMU's Neck/Nose is built as that midpoint,
          not a detector's nose, so it is not tuned to.) Without a confident nose the face point is the mean of
          the confident eyes, else of the ears (reported as a fill).
    Fill rules for a missing limb joint (hips, knees, feet, shoulders, elbows, wrists), tried in order and
    reported per record as {joint: rule}:
        1. the mirror image of its left/right partner about the body axis, the line from the mid-hips to
           the mid-shoulders (needs both hips and both shoulders);
        2. a hip (shoulder) with its partner and both shoulders (hips): the partner plus the other pair's
           left-right step (the hip and shoulder lines taken as parallel and equally wide);
        3. a knee (elbow) with its hip and foot (shoulder and wrist): their midpoint; a foot (wrist) with its
           knee (elbow): that point, a folded limb. Never from a joint this rule filled.
    Rule 1 runs again after rule 2 (a filled hip completes the axis). For the
    Human3.6M layouts a missing Hip, Thorax or Spine is built as for COCO; a record still missing a joint
    (e.g. no face point, or a whole side) is refused with the reason, never silently lifted.
    """
    count = len(records)
    points, valid = np.zeros((count, 16, 2)), np.zeros((count, 16), bool)
    filled = [{} for _ in range(count)]
    confident = records.scores >= min_score
    if records.layout == "coco17":
        for name, coco in COCO_FOR_H36M16.items():
            points[:, _INDEX[name]], valid[:, _INDEX[name]] = (
                records.keypoints[:, coco],
                confident[:, coco],
            )
    else:
        subset = list(H36M_16_FROM_17) if records.layout == "h36m17" else list(range(16))
        points, valid = records.keypoints[:, subset].astype(np.float64), confident[:, subset].copy()
    direct = valid.copy()
    for rule in ("mirror", "pair", "mirror", "neighbours"):
        for joint in _LIMBS:
            _fill_limb(points, valid, filled, joint, rule)
    for joint, (first, second) in ((_HIP, _HIPS), (_THORAX, _SHOULDERS), (_SPINE, (_HIP, _THORAX))):
        rows = ~valid[:, joint] & valid[:, first] & valid[:, second]
        points[rows, joint], valid[rows, joint] = (
            (points[rows, first] + points[rows, second]) / 2,
            True,
        )
    if records.layout == "coco17":
        face, has_face = _face_point(records, min_score, filled)
        rows = has_face & valid[:, _THORAX]
        points[rows, _HEAD] = points[rows, _THORAX] + HEAD_FROM_NOSE * (
            face[rows] - points[rows, _THORAX]
        )
        valid[rows, _HEAD] = True
    else:
        for joint in (_HIP, _THORAX, _SPINE):
            for row in np.flatnonzero(~direct[:, joint] & valid[:, joint]):
                filled[row][H36M_16.joint_names[joint]] = "midpoint rule of the COCO mapping"
    refused = {
        int(row): "no rule could fill " + ", ".join(np.array(H36M_16.joint_names)[~valid[row]])
        for row in np.flatnonzero(~valid.all(1))
    }
    return MappedKeypoints(points, filled, refused)


def coco17_to_h36m16(keypoints) -> np.ndarray:
    """COCO-17 pixels [frames, 17, 2] with every joint present -> [frames, 16, 2] float32 in `H36M_16` order.

    The rules of `to_h36m16` with every joint confident, so nothing is filled: the limbs from their
    namesakes, Hip the mid-hips, Thorax the mid-shoulders, Spine their midpoint, Head =
    Thorax + HEAD_FROM_NOSE * (nose - Thorax). For files that hold coordinates only, such as
    VideoPose3D's `data_2d_h36m_detectron_pt_coco.npz`.
    """
    keypoints = np.asarray(keypoints, np.float32)
    if keypoints.ndim != 3 or keypoints.shape[1:] != (len(COCO_17), 2):
        raise ValueError(
            f"Expected COCO-17 keypoints [frames, 17, 2]. Received: shape {keypoints.shape}"
        )
    frames = len(keypoints)
    records = KeypointRecords(
        keypoints,
        np.ones((frames, len(COCO_17)), np.float32),
        "coco17",
        np.zeros((frames, 2), np.int64),
    )
    return to_h36m16(records, min_score=0.0).keypoints.astype(np.float32)
