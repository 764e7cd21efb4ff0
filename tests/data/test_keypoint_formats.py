"""Keypoint files: every format parsed from small hand-made files, detected by content, and their errors."""

import numpy as np
import pytest

from graphmdn_tf.data.keypoint_formats import (
    KeypointFileError,
    natural_key,
    read_keypoints,
    records_from_array,
)
from tests.data.keypoint_files import coco_results, mmpose_frames, openpose_frame, write_json


@pytest.fixture
def coco(rng):
    return rng.uniform(10, 900, (3, 17, 2)), rng.uniform(0, 1, (3, 17))


def _check(records, coco_points, coco_scores, layout="coco17"):
    assert records.layout == layout
    assert records.keypoints.dtype == np.float32 and records.keypoints.shape == coco_points.shape
    np.testing.assert_allclose(records.keypoints, coco_points, rtol=1e-6)
    np.testing.assert_allclose(records.scores, coco_scores, rtol=1e-6)


def test_coco_results(tmp_path, coco):
    points, scores = coco
    path = write_json(tmp_path / "det.json", coco_results(points, scores, image_ids=[7, 7, 9]))
    for format in (None, "coco"):
        records = read_keypoints(path, format)
        _check(records, points, scores)
        assert records.record_ids.tolist() == [[7, 0], [7, 1], [9, 0]]
        assert records.image_size is None


@pytest.mark.parametrize("joints", [25, 18])
def test_openpose_file_and_folder(tmp_path, coco, joints):
    points, scores = coco
    people = [np.concatenate([p, s[:, None]], axis=1) for p, s in zip(points, scores)]
    one = write_json(tmp_path / "frame.json", openpose_frame(people[:2], joints))
    records = read_keypoints(one)
    _check(records, points[:2], scores[:2])
    assert records.record_ids.tolist() == [[0, 0], [0, 1]]
    folder = tmp_path / "frames"
    folder.mkdir()
    for frame, person in enumerate(people):
        write_json(folder / f"video_{frame:012d}_keypoints.json", openpose_frame([person], joints))
    write_json(folder / "video_000000000009_keypoints.json", {"people": []})  # a frame with nobody
    records = read_keypoints(folder, "openpose")
    _check(records, points, scores)
    assert records.record_ids.tolist() == [[0, 0], [1, 0], [2, 0]]


def test_mmpose_frames_and_single_image(tmp_path, coco):
    points, scores = coco
    records = read_keypoints(write_json(tmp_path / "video.json", mmpose_frames(points, scores)))
    _check(records, points, scores)
    assert records.record_ids[:, 0].tolist() == [0, 1, 2]
    instances = mmpose_frames(points, scores)[0]["instances"] * 2
    records = read_keypoints(write_json(tmp_path / "image.json", instances))
    assert records.record_ids.tolist() == [[0, 0], [0, 1]]
    wholebody = [
        {
            "keypoints": np.vstack([points[0], np.zeros((116, 2))]).tolist(),
            "keypoint_scores": np.concatenate([scores[0], np.zeros(116)]).tolist(),
        }
    ]
    _check(
        read_keypoints(write_json(tmp_path / "wb.json", wholebody), "mmpose"),
        points[:1],
        scores[:1],
    )


def test_numpy_layouts(tmp_path, rng):
    poses16 = rng.uniform(0, 500, (4, 16, 2))
    np.save(tmp_path / "a.npy", poses16)
    records = read_keypoints(tmp_path / "a.npy")
    assert records.layout == "h36m16" and np.all(records.scores == 1)
    np.testing.assert_allclose(records.keypoints, poses16, rtol=1e-6)
    with_scores = rng.uniform(0, 1, (4, 17, 3))
    np.savez(tmp_path / "b.npz", poses=with_scores, image_size=np.array([640, 480]))
    for layout in ("coco17", "h36m17"):
        records = read_keypoints(tmp_path / "b.npz", layout)
        assert records.layout == layout and records.image_size == (640.0, 480.0)
        np.testing.assert_allclose(records.scores, with_scores[..., 2], rtol=1e-6)
    np.savez(tmp_path / "c.npz", first=poses16, second=poses16)
    assert read_keypoints(tmp_path / "c.npz", key="second").keypoints.shape == (4, 16, 2)


@pytest.mark.parametrize(
    "content, match",
    [
        ("", "an empty file"),
        ("[]", "empty JSON document"),
        ("{}", "empty JSON document"),
        ("not json", "not a JSON file"),
        ('{"frames": []}', "none of the keypoint formats"),
        ('[{"id": 1, "points": []}]', "none of the keypoint formats"),
        ("[1, 2, 3]", "none of the keypoint formats"),
        ('{"people": []}', "holds no detections"),
        (
            '[{"image_id": 1, "keypoints": [1, 2, 1]}]',
            r"record 0 \(image 1\): expected \[x, y, score\] x 17 joints",
        ),
        ('[{"image_id": 1, "keypoints": "abc"}]', "could not convert|expected"),
        (
            '{"people": [{"pose_keypoints_2d": [0, 0, 1, 1, 1, 1]}]}',
            "person 0 .*BODY_25 or COCO-18",
        ),
        (
            '[{"instances": [{"keypoints": [[1, 2]], "keypoint_scores": [1]}]}]',
            "frame 0 instance 0: expected keypoints",
        ),
        ('[{"instances": [{"bbox": []}]}]', "not a mmpose keypoint file"),
    ],
)
def test_bad_json_files(tmp_path, content, match):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises((KeypointFileError, ValueError), match=match):
        read_keypoints(path)


def test_nan_coordinates_name_the_record(tmp_path, coco):
    points, scores = coco
    points[1, 4] = np.nan
    path = write_json(
        tmp_path / "nan.json", coco_results(points, scores, image_ids=[3, 4, 5])
    )  # json writes NaN
    assert "NaN" in path.read_text()
    with pytest.raises(
        KeypointFileError, match=r"nan.json: record 1 \(frame 4, person 0\) has NaN"
    ):
        read_keypoints(path)


@pytest.mark.parametrize(
    "shape, format, match",
    [
        ((3, 15, 2), None, r"expected keypoints \[frames, 16 or 17 joints, 2 or 3\].*\(3, 15, 2\)"),
        ((3, 16, 4), None, "Received: shape"),
        ((0, 16, 2), None, "Received: shape"),
        ((16, 2), None, "Received: shape"),
        ((3, 17, 2), None, "format='coco17' or format='h36m17'"),
        ((3, 17, 2), "h36m16", "the h36m16 layout has 16 joints. Received: 17"),
        ((3, 16, 2), "coco17", "the coco17 layout has 17 joints. Received: 16"),
        ((3, 16, 2), "coco", "a NumPy file is read with format"),
    ],
)
def test_bad_arrays(tmp_path, shape, format, match):
    np.save(tmp_path / "bad.npy", np.ones(shape))
    with pytest.raises(KeypointFileError, match=match):
        read_keypoints(tmp_path / "bad.npy", format)


def test_other_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No keypoint file"):
        read_keypoints(tmp_path / "missing.json")
    write_json(tmp_path / "a.json", [])
    with pytest.raises(KeypointFileError, match="Expected format to be one of"):
        read_keypoints(tmp_path / "a.json", "yolo")
    with pytest.raises(KeypointFileError, match="is for .npy/.npz files"):
        read_keypoints(tmp_path / "a.json", "h36m16")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(KeypointFileError, match="not a readable NumPy file"):
        read_keypoints(tmp_path / "objects.npy")
    np.savez(tmp_path / "two.npz", a=np.ones((2, 16, 2)), b=np.ones((2, 16, 2)))
    with pytest.raises(
        KeypointFileError, match=r"holds arrays \['a', 'b'\]; name the keypoints with key="
    ):
        read_keypoints(tmp_path / "two.npz")
    bad = np.ones((2, 16, 2))
    bad[0, 0, 0] = np.inf
    with pytest.raises(KeypointFileError, match="record 0 .* infinite"):
        records_from_array(bad)


def test_natural_key_compares_digit_runs_as_numbers():
    names = ["f10.json", "f2.json", "g1.json", "f1.json", "F3.json", "f02b.json"]
    assert sorted(names, key=natural_key) == [
        "F3.json",
        "f1.json",
        "f2.json",
        "f02b.json",
        "f10.json",
        "g1.json",
    ]


@pytest.mark.parametrize("kind", ["coco", "mmpose", "openpose"])
def test_a_folder_of_frame_files_is_one_sequence_in_natural_order(tmp_path, coco, kind):
    points, scores = coco
    folder = tmp_path / "frames"
    folder.mkdir()
    for frame in range(3):
        one = (points[frame : frame + 1], scores[frame : frame + 1])
        if kind == "coco":
            data = coco_results(*one, image_ids=[100 - frame])  # the file's own ids are not frames
        elif kind == "mmpose":
            data = mmpose_frames(*one)
        else:
            data = openpose_frame([np.concatenate([one[0][0], one[1][0][:, None]], axis=1)])
        write_json(folder / f"frame_{10**frame}.json", data)  # frame_1, frame_10, frame_100
    write_json(folder / "frame_1000.json", {"people": []} if kind == "openpose" else [])
    records = read_keypoints(folder)
    _check(records, points, scores)
    assert records.record_ids.tolist() == [[0, 0], [1, 0], [2, 0]]
    assert records.frame_files == tuple(f"frame_{10**frame}.json" for frame in range(4))


def test_a_frame_file_with_several_frames_is_refused(tmp_path, coco):
    points, scores = coco
    folder = tmp_path / "frames"
    folder.mkdir()
    write_json(folder / "a.json", coco_results(points[:1], scores[:1]))
    write_json(folder / "b.json", coco_results(points[1:], scores[1:], image_ids=[4, 5]))
    with pytest.raises(KeypointFileError, match=r"b.json: holds frames \[4, 5\]; in a folder each"):
        read_keypoints(folder)
