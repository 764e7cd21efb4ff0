"""A 2D detector's keypoint files, read into one shape and mapped onto the model's 16 joints.

Formats (`read_keypoints(path, format=None)`: detected by content, or named with `format`):

| format     | file                                                                  | joints                  |
|------------|-----------------------------------------------------------------------|-------------------------|
| `coco`     | COCO keypoint results JSON: [{image_id, category_id, keypoints: [x, y, v] * 17, score}] | COCO-17 |
| `openpose` | OpenPose JSON ({"people": [{"pose_keypoints_2d": [x, y, c] * J}]}) | BODY_25 or COCO-18 (-> COCO-17) |
| `mmpose`   | MMPose predictions JSON: [{frame_id, instances: [{keypoints: [[x, y]] * J, keypoint_scores}]}], or one frame's instance list | COCO-17 (133 WholeBody / 26 Halpe: their first 17) |
| `coco17`, `h36m17`, `h36m16` | NumPy .npy / .npz [frames, joints, 2 or 3] (a third channel is the score) | COCO-17, Human3.6M-17 (VideoPose3D order), Human3.6M-16 (SemGCN order) |

A folder of JSON files (any of the three formats, one frame per file, as OpenPose writes them) is one
sequence: its frames are the files in the natural order of their names (`natural_key`: `frame_2.json`
before `frame_10.json`), the frame id of a record is its file's position in that order, and
`KeypointRecords.frame_files` names the files.

A NumPy array of 16 joints is read as `h36m16`; one of 17 joints is either COCO-17 or Human3.6M-17, which
no content test tells apart reliably, so it needs `format="coco17"` or `format="h36m17"`. An .npz holds one
array (or `key` names it), plus optionally `image_size` = [width, height].

`graphmdn_tf.data.joint_mapping.to_h36m16` maps any of these layouts onto the model's 16 joints.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from graphmdn_tf.data.safe_npz import DataFileError

COCO_17 = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
# OpenPose's layouts, as indices into COCO-17 order: COCO-17 joint i is OpenPose joint OPENPOSE_TO_COCO[...][i].
OPENPOSE_TO_COCO = {
    25: (0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11),  # BODY_25
    18: (0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10),  # COCO-18
}
# MMPose layouts whose first 17 joints are COCO-17's: COCO itself, COCO-WholeBody (133), Halpe (26).
MMPOSE_JOINT_COUNTS = (17, 26, 133)
LAYOUT_JOINTS = {"coco17": 17, "h36m17": 17, "h36m16": 16}
JSON_FORMATS = ("coco", "openpose", "mmpose")
FORMATS = JSON_FORMATS + tuple(LAYOUT_JOINTS)

# H36M_16 joint -> its COCO-17 joint, for the joints both skeletons have (Human3.6M's Foot is the ankle).
COCO_FOR_H36M16 = {
    "RHip": 12,
    "RKnee": 14,
    "RFoot": 16,
    "LHip": 11,
    "LKnee": 13,
    "LFoot": 15,
    "LShoulder": 5,
    "LElbow": 7,
    "LWrist": 9,
    "RShoulder": 6,
    "RElbow": 8,
    "RWrist": 10,
}


class KeypointFileError(DataFileError):
    """A keypoint file that cannot be read as the format it claims (the message names file, record, layout)."""


@dataclass
class KeypointRecords:
    """The detections of a keypoint file: one record per person per frame (image).

    Attributes:
        keypoints: [records, J, 2] float32 pixels.
        scores: [records, J] float32 confidences (1 where the file has none).
        layout: the joint layout, one of `LAYOUT_JOINTS` ('coco17', 'h36m17', 'h36m16').
        record_ids: [records, 2] int64: (frame or image id, person index within it).
        image_size: (width, height) in pixels when the file holds it, else None.
        source: the file read.
        frame_files: for a folder of per-frame files, the file of each frame id (natural order).
    """

    keypoints: np.ndarray
    scores: np.ndarray
    layout: str
    record_ids: np.ndarray
    image_size: tuple | None = None
    source: str = "<array>"
    frame_files: tuple | None = None

    def __len__(self) -> int:
        return len(self.keypoints)


def _records(rows, layout: str, source: str, image_size=None) -> KeypointRecords:
    """rows: (frame, person, [J, 3] x/y/score) -> checked `KeypointRecords`."""
    if not rows:
        raise KeypointFileError(
            f"{source}: holds no detections (an empty file or no people in any frame)"
        )
    arrays = np.stack([np.asarray(values, np.float64) for _, _, values in rows])
    ids = np.array([(frame, person) for frame, person, _ in rows], np.int64)
    return checked(
        KeypointRecords(
            arrays[..., :2].astype(np.float32),
            arrays[..., 2].astype(np.float32),
            layout,
            ids,
            image_size,
            source,
        )
    )


def checked(records: KeypointRecords) -> KeypointRecords:
    """`records` after checking shapes against its layout and that every coordinate is finite."""
    joints, source = LAYOUT_JOINTS[records.layout], records.source
    if records.keypoints.ndim != 3 or records.keypoints.shape[1:] != (joints, 2):
        raise KeypointFileError(
            f"{source}: expected keypoints [records, {joints}, 2] for the {records.layout} "
            f"layout. Received: shape {records.keypoints.shape}"
        )
    bad = ~np.isfinite(records.keypoints).all(axis=(1, 2))
    if bad.any():
        first = int(np.argmax(bad))
        frame, person = records.record_ids[first]
        raise KeypointFileError(
            f"{source}: record {first} (frame {frame}, person {person}) has NaN or infinite "
            f"coordinates ({int(bad.sum())} record(s) in all); expected finite pixels, with a "
            "low score for a missing joint"
        )
    return records


def _triples(flat, joints_allowed, source: str, where: str) -> np.ndarray:
    values = np.asarray(flat, np.float64).reshape(-1) if flat is not None else np.zeros(0)
    if values.size % 3 or values.size // 3 not in joints_allowed:
        raise KeypointFileError(
            f"{source}: {where}: expected [x, y, score] x {' or '.join(map(str, joints_allowed))}"
            f" joints. Received: {values.size} numbers"
        )
    return values.reshape(-1, 3)


def _read_coco(data, source: str) -> KeypointRecords:
    rows, people = [], {}
    for index, entry in enumerate(data):
        image_id = int(entry["image_id"])
        person = people.setdefault(image_id, 0)
        people[image_id] += 1
        rows.append(
            (
                image_id,
                person,
                _triples(entry["keypoints"], (17,), source, f"record {index} (image {image_id})"),
            )
        )
    return _records(rows, "coco17", source)


def _read_openpose(frames, source: str) -> KeypointRecords:
    rows = []
    for frame, (name, data) in enumerate(frames):
        for person, entry in enumerate(data["people"]):
            values = _triples(
                entry.get("pose_keypoints_2d"),
                tuple(OPENPOSE_TO_COCO),
                source,
                f"{name} person {person} (OpenPose BODY_25 or COCO-18)",
            )
            rows.append((frame, person, values[list(OPENPOSE_TO_COCO[len(values)])]))
    return _records(rows, "coco17", source)


def _read_mmpose(data, source: str) -> KeypointRecords:
    frames = data if data and "instances" in data[0] else [{"frame_id": 0, "instances": data}]
    rows = []
    for index, frame in enumerate(frames):
        frame_id = int(frame.get("frame_id", index))
        for person, instance in enumerate(frame["instances"]):
            points = np.asarray(instance["keypoints"], np.float64)
            scores = np.asarray(instance.get("keypoint_scores", np.ones(len(points))), np.float64)
            if (
                points.ndim != 2
                or points.shape[1] != 2
                or len(points) not in MMPOSE_JOINT_COUNTS
                or scores.shape != (len(points),)
            ):
                raise KeypointFileError(
                    f"{source}: frame {frame_id} instance {person}: expected keypoints [[x, y]] x 17 (COCO; or "
                    f"26 Halpe / 133 WholeBody) and one score each. Received: keypoints {points.shape}, "
                    f"scores {scores.shape}"
                )
            rows.append((frame_id, person, np.concatenate([points, scores[:, None]], axis=1)[:17]))
    return _records(rows, "coco17", source)


def _json_format(data) -> str | None:
    """Which JSON format `data` is, from its content (None: none of them)."""
    if isinstance(data, dict):
        return "openpose" if "people" in data else None
    if not isinstance(data, list) or not data or not all(isinstance(entry, dict) for entry in data):
        return None
    if all("image_id" in entry and "keypoints" in entry for entry in data):
        return "coco"
    if all("instances" in entry for entry in data) or all(
        "keypoint_scores" in entry for entry in data
    ):
        return "mmpose"
    return None


def _load_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise KeypointFileError(f"{path}: not a JSON file ({error})") from None


def natural_key(name: str) -> tuple:
    """Sort key of a file name with its digit runs compared as numbers: 'f2' < 'f10' < 'g1'."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)
    )


def _read_json(path: Path, format: str | None) -> KeypointRecords:
    if path.is_dir():
        files = sorted(path.glob("*.json"), key=lambda file: natural_key(file.name))
        if not files:
            raise KeypointFileError(
                f"{path}: a folder without .json files (expected per-frame COCO, OpenPose or MMPose files)"
            )
        documents = [(file.name, _load_json(file)) for file in files]
    else:
        documents = [(path.name, _load_json(path))]
    if len(documents) == 1 and documents[0][1] in ([], {}):
        raise KeypointFileError(f"{path}: an empty JSON document, no detections")
    detected = {_json_format(data) for _, data in documents if data not in ([], {})}
    chosen = format or (detected.pop() if len(detected) == 1 else None)
    if chosen is None or chosen not in JSON_FORMATS:
        raise KeypointFileError(
            f"{path}: a JSON file of none of the keypoint formats: expected COCO results (a list of "
            "{image_id, keypoints}), OpenPose ({people: [{pose_keypoints_2d}]}) or MMPose (a list of "
            "{instances: [{keypoints, keypoint_scores}]}); name one with format="
        )
    try:
        if chosen == "openpose":
            records = _read_openpose(documents, str(path))
        elif path.is_dir():
            records = _read_frame_files(documents, chosen, path)
        else:
            reader = _read_coco if chosen == "coco" else _read_mmpose
            return reader(documents[0][1], str(path))
    except (KeyError, TypeError, AttributeError, IndexError) as error:
        raise KeypointFileError(
            f"{path}: not a {chosen} keypoint file ({type(error).__name__}: {error})"
        ) from None
    if path.is_dir():
        records.frame_files = tuple(name for name, _ in documents)
    return records


def _read_frame_files(documents, format: str, folder: Path) -> KeypointRecords:
    """A folder of COCO or MMPose files, one frame each: records numbered by file (see the docstring)."""
    reader = _read_coco if format == "coco" else _read_mmpose
    rows = []
    for frame, (name, data) in enumerate(documents):
        if data in ([], {}):
            continue  # a frame without people
        records = reader(data, str(folder / name))
        frames = sorted(set(records.record_ids[:, 0].tolist()))
        if len(frames) > 1:
            raise KeypointFileError(
                f"{folder / name}: holds frames {frames}; in a folder each file is one frame"
            )
        points = np.concatenate([records.keypoints, records.scores[..., None]], axis=-1)
        rows.extend(
            (frame, int(person), values)
            for person, values in zip(records.record_ids[:, 1], points, strict=True)
        )
    return _records(rows, "coco17", str(folder))


def _read_numpy(path: Path, format: str | None, key: str | None) -> KeypointRecords:
    image_size = None
    try:
        if path.suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as archive:
                names = [name for name in archive.files if name != "image_size"]
                if key is None and len(names) != 1:
                    raise KeypointFileError(
                        f"{path}: holds arrays {names}; name the keypoints with key="
                    )
                array = archive[key or names[0]]
                if "image_size" in archive.files:
                    image_size = tuple(
                        float(value) for value in archive["image_size"].reshape(-1)[:2]
                    )
    except (ValueError, OSError, KeyError) as error:
        if isinstance(error, KeypointFileError):
            raise
        raise KeypointFileError(
            f"{path}: not a readable NumPy file of float keypoints ({error})"
        ) from None
    return records_from_array(array, format, str(path), image_size)


def records_from_array(
    array, layout: str | None = None, source: str = "<array>", image_size=None
) -> KeypointRecords:
    """`KeypointRecords` of an array [frames, joints, 2 or 3] (x, y[, score]) in pixels, one person per frame.

    `layout`: 'coco17', 'h36m17' or 'h36m16'; None reads 16 joints as 'h36m16' and refuses 17 (ambiguous).
    """
    array = np.asarray(array, np.float64)
    if (
        array.ndim != 3
        or array.shape[-1] not in (2, 3)
        or array.shape[1] not in (16, 17)
        or not len(array)
    ):
        raise KeypointFileError(
            f"{source}: expected keypoints [frames, 16 or 17 joints, 2 or 3] (x, y[, score]). "
            f"Received: shape {array.shape}"
        )
    layout = layout or ("h36m16" if array.shape[1] == 16 else None)
    if layout is None:
        raise KeypointFileError(
            f"{source}: 17 joints are COCO-17 or Human3.6M-17 (VideoPose3D order); say which "
            "with format='coco17' or format='h36m17'"
        )
    if LAYOUT_JOINTS.get(layout) != array.shape[1]:
        raise KeypointFileError(
            f"{source}: the {layout} layout has {LAYOUT_JOINTS.get(layout)} joints. Received: "
            f"{array.shape[1]} joints"
        )
    scores = array[..., 2] if array.shape[-1] == 3 else np.ones(array.shape[:2])
    ids = np.stack([np.arange(len(array)), np.zeros(len(array), np.int64)], axis=1)
    return checked(
        KeypointRecords(
            array[..., :2].astype(np.float32),
            scores.astype(np.float32),
            layout,
            ids,
            image_size,
            source,
        )
    )


def read_keypoints(path, format: str | None = None, *, key: str | None = None) -> KeypointRecords:
    """Read a keypoint file (a format of the module docstring, detected from the content unless named).

    Raises:
        FileNotFoundError: no such file.
        KeypointFileError (a ValueError): an unknown format name, an empty file, a JSON of no known format,
            a wrong joint count for the format, NaN coordinates; the message names file, record and layout.
    """
    path = Path(path)
    if format is not None and format not in FORMATS:
        raise KeypointFileError(
            f"Expected format to be one of {FORMATS}. Received: format={format!r}"
        )
    if not path.exists():
        raise FileNotFoundError(f"No keypoint file {path}")
    if path.is_file() and path.stat().st_size == 0:
        raise KeypointFileError(f"{path}: an empty file")
    if path.suffix in (".npy", ".npz"):
        if format in JSON_FORMATS:
            raise KeypointFileError(
                f"{path}: a NumPy file is read with format 'coco17', 'h36m17' or 'h36m16'"
            )
        return _read_numpy(path, format, key)
    if format in LAYOUT_JOINTS:
        raise KeypointFileError(
            f"{path}: format {format!r} is for .npy/.npz files; a JSON file takes {JSON_FORMATS}"
        )
    return _read_json(path, format)
