"""Small hand-made detector files (COCO results, OpenPose, MMPose) and COCO joints built from Human3.6M poses."""

from __future__ import annotations

import json

import numpy as np

from graphmdn_tf.data.keypoint_formats import COCO_17, COCO_FOR_H36M16, OPENPOSE_TO_COCO
from graphmdn_tf.data.safe_npz import load_npz_safely
from graphmdn_tf.skeletons import H36M_17

_H17 = {name: index for index, name in enumerate(H36M_17.joint_names)}
# COCO-17 joint -> the Human3.6M-17 joint at the same place: the package's limbs, and the nose at
# Neck/Nose (face points: see `coco_from_h36m17`).
_H36M17_FOR_COCO = {COCO_17[coco]: name for name, coco in COCO_FOR_H36M16.items()}
_H36M17_FOR_COCO["nose"] = "Neck/Nose"
# Eyes and ears, which Human3.6M lacks: fixed pixel offsets from the nose.
FACE_OFFSETS = {
    "left_eye": (6.0, -5.0),
    "right_eye": (-6.0, -5.0),
    "left_ear": (12.0, -2.0),
    "right_ear": (-12.0, -2.0),
}


def cmu_pixels(shared_dir, frames: int = 40) -> np.ndarray:
    """Human3.6M-17 pixels [frames, 17, 2] of the CMU test set: S7 'Balance 1', camera 0 (1000 x 1002)."""
    positions = load_npz_safely(shared_dir / "data" / "cmu" / "data_2d_cmu_gt.npz")["positions_2d"]
    return np.asarray(positions["S7"]["Balance 1"][0][:frames], np.float64)


def coco_from_h36m17(pixels_17: np.ndarray) -> np.ndarray:
    """COCO-17 pixels [frames, 17, 2] from Human3.6M-17 pixels: shared joints copied, eyes/ears offset from the nose."""
    coco = np.zeros((len(pixels_17), 17, 2))
    for index, name in enumerate(COCO_17):
        if name in _H36M17_FOR_COCO:
            coco[:, index] = pixels_17[:, _H17[_H36M17_FOR_COCO[name]]]
        else:
            coco[:, index] = pixels_17[:, _H17["Neck/Nose"]] + FACE_OFFSETS[name]
    return coco


def coco_results(coco: np.ndarray, scores: np.ndarray | None = None, image_ids=None) -> list:
    """A COCO keypoint results list: one entry per frame."""
    scores = np.ones(coco.shape[:2]) if scores is None else scores
    image_ids = range(len(coco)) if image_ids is None else image_ids
    return [
        {
            "image_id": int(image_id),
            "category_id": 1,
            "score": 0.9,
            "keypoints": np.concatenate([points, score[:, None]], axis=1).reshape(-1).tolist(),
        }
        for image_id, points, score in zip(image_ids, coco, scores)
    ]


def openpose_frame(coco_people: list, joints: int = 25) -> dict:
    """One OpenPose frame (BODY_25 or COCO-18) holding the given people's COCO-17 [17, 3] joints."""
    people = []
    for person in coco_people:
        values = np.zeros((joints, 3))
        values[list(OPENPOSE_TO_COCO[joints])] = person
        people.append({"person_id": [-1], "pose_keypoints_2d": values.reshape(-1).tolist()})
    return {"version": 1.3, "people": people}


def mmpose_frames(coco: np.ndarray, scores: np.ndarray) -> list:
    return [
        {
            "frame_id": frame,
            "instances": [
                {
                    "keypoints": points.tolist(),
                    "keypoint_scores": score.tolist(),
                    "bbox": [[0, 0, 10, 10]],
                    "bbox_score": 0.9,
                }
            ],
        }
        for frame, (points, score) in enumerate(zip(coco, scores))
    ]


def write_json(path, data):
    path.write_text(json.dumps(data))
    return path
