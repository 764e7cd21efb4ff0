"""Cameras: calibration tables against the facts file, formulas against hand computations, round trips."""

import numpy as np
import pytest

from graphmdn_tf.data.cameras import (
    H36M_SUBJECTS,
    camera_to_world,
    h36m_cameras,
    image_coordinates,
    normalize_screen_coordinates,
    project_to_2d,
    project_to_pixels,
    qinverse,
    qrot,
    world_to_camera,
)
from graphmdn_tf.skeletons import H36M_16_FROM_17
from tests.data.geometry import project_pixels_by_hand, rotation_matrix
from tests.data.npz_files import read_npz_trusted


def test_calibration_matches_facts(facts):
    intrinsics, extrinsics = facts.cameras(), facts.extrinsics()
    assert tuple(extrinsics) == H36M_SUBJECTS
    for subject in H36M_SUBJECTS:
        cameras = h36m_cameras(subject)
        assert len(cameras) == 4
        for camera, expected, (quaternion, translation_mm) in zip(
            cameras, intrinsics, extrinsics[subject]
        ):
            for key in ("id", "res_w", "res_h"):
                assert camera[key] == expected[key]
            for key in ("center", "focal_length", "radial_distortion", "tangential_distortion"):
                np.testing.assert_array_equal(camera[key], expected[key])
            np.testing.assert_array_equal(camera["orientation"], quaternion)
            np.testing.assert_allclose(
                camera["translation"], np.array(translation_mm) / 1000, rtol=1e-15
            )


def test_intrinsic_vector_is_normalised_as_in_facts(facts):
    for camera, expected in zip(h36m_cameras("S9"), facts.cameras()):
        width, height = expected["res_w"], expected["res_h"]
        center_n = np.array(expected["center"]) / width * 2 - [1, height / width]
        focal_n = np.array(expected["focal_length"]) / width * 2
        by_hand = np.concatenate(
            [focal_n, center_n, expected["radial_distortion"], expected["tangential_distortion"]]
        )
        np.testing.assert_allclose(camera["intrinsic"], by_hand, rtol=1e-12)


def test_screen_coordinates_by_hand_and_round_trip(rng):
    points = np.array([[0.0, 0.0], [1000.0, 1002.0], [500.0, 501.0], [250.0, 100.0]])
    expected = np.array([[-1, -1.002], [1, 1.002], [0, 0], [-0.5, 0.2 - 1.002]])
    np.testing.assert_allclose(
        normalize_screen_coordinates(points, 1000, 1002), expected, atol=1e-12
    )
    np.testing.assert_allclose(image_coordinates(expected, 1000, 1002), points, atol=1e-9)
    pixels = rng.uniform(0, 1000, size=(5, 16, 2))
    np.testing.assert_allclose(
        image_coordinates(normalize_screen_coordinates(pixels, 1000, 1000), 1000, 1000), pixels
    )


def test_qrot_matches_rotation_matrix_and_inverse(rng):
    quaternions = rng.normal(size=(6, 4))
    quaternions /= np.linalg.norm(quaternions, axis=1, keepdims=True)
    vectors = rng.normal(size=(6, 3))
    rotated = qrot(quaternions, vectors)
    for q, v, r in zip(quaternions, vectors, rotated):
        np.testing.assert_allclose(r, rotation_matrix(q) @ v, atol=1e-12)
    np.testing.assert_allclose(qrot(qinverse(quaternions), rotated), vectors, atol=1e-12)
    np.testing.assert_allclose(qinverse(quaternions[0]), quaternions[0] * [1, -1, -1, -1])
    # One quaternion broadcasts over a batch of joints.
    batch = rng.normal(size=(4, 17, 3))
    np.testing.assert_allclose(
        qrot(quaternions[0], batch), batch @ rotation_matrix(quaternions[0]).T, atol=1e-12
    )


def test_world_camera_round_trip_and_geometry(rng):
    for camera in h36m_cameras("S1"):
        rotation, centre = camera["orientation"], camera["translation"]
        points = rng.normal(size=(10, 17, 3)) + [0, 0, 1]
        in_camera = world_to_camera(points, rotation, centre)
        # Independent: X_cam = R^T (X - t). The stored quaternions are unit to float32 precision only.
        np.testing.assert_allclose(
            in_camera, (points - centre) @ rotation_matrix(rotation), atol=1e-6
        )
        np.testing.assert_allclose(camera_to_world(in_camera, rotation, centre), points, atol=1e-6)
        np.testing.assert_allclose(
            world_to_camera(centre, rotation, centre), np.zeros(3), atol=1e-12
        )
        # The middle of the capture volume (near the world origin, 1 m up) is in front of every camera,
        # 4-7 m away, and camera "down" (+y) points down in the world (Z up).
        middle = world_to_camera(np.array([0.0, 0.3, 1.0]), rotation, centre)
        assert 4.0 < middle[2] < 7.0
        down = camera_to_world(np.array([0.0, 1.0, 0.0]), rotation, np.zeros(3))
        assert down[2] < -0.9


def test_projection_matches_hand_computation(rng):
    for camera in h36m_cameras("S11"):
        points_world = rng.uniform([-1, -1, 0], [1, 1.5, 1.8], size=(20, 3))
        points_camera = world_to_camera(points_world, camera["orientation"], camera["translation"])
        pixels = project_to_pixels(points_world, camera)
        by_hand = np.array([project_pixels_by_hand(point, camera) for point in points_camera])
        np.testing.assert_allclose(pixels, by_hand, atol=1e-9)
        normalised = project_to_2d(points_camera, camera["intrinsic"])
        np.testing.assert_allclose(
            image_coordinates(normalised, camera["res_w"], camera["res_h"]), by_hand, atol=1e-9
        )


def test_projection_clamps_points_outside_the_view():
    camera = h36m_cameras("S1")[0]
    far_left = project_to_2d(np.array([-5.0, 0.0, 1.0]), camera["intrinsic"])
    at_limit = project_to_2d(np.array([-1.0, 0.0, 1.0]), camera["intrinsic"])
    np.testing.assert_allclose(far_left, at_limit)


def test_cmu_2d_is_the_projection_of_cmu_3d(cmu_dir):
    """The CMU files: our cameras reproduce the 2D file from the 3D file to a tiny fraction of a pixel."""
    positions_3d = read_npz_trusted(cmu_dir / "data_3d_cmu.npz")["positions_3d"]
    positions_2d = read_npz_trusted(cmu_dir / "data_2d_cmu_gt.npz")["positions_2d"]
    worst = 0.0
    for subject, actions in positions_3d.items():
        for action, world in actions.items():
            for camera, keypoints in zip(h36m_cameras(subject), positions_2d[subject][action]):
                error = np.abs(project_to_pixels(world.astype(np.float64), camera) - keypoints)
                worst = max(worst, error.max())
    assert worst < 1e-3, worst
    # And the 16-joint subset is just a selection of the same projection.
    world = positions_3d["S6"]["Walking 1"][:, H36M_16_FROM_17]
    np.testing.assert_allclose(
        project_to_pixels(world.astype(np.float64), h36m_cameras("S6")[2]),
        positions_2d["S6"]["Walking 1"][2][:, H36M_16_FROM_17],
        atol=1e-3,
    )


@pytest.mark.parametrize("subject", ["S2", "S3", "S4", "s1", "Bob", ""])
def test_unknown_subject_raises(subject):
    with pytest.raises(
        ValueError,
        match=f"Unknown Human3.6M subject {subject!r}: cameras are calibrated for S1, S5",
    ):
        h36m_cameras(subject)


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: qrot(np.ones(3), np.ones(3)),
            r"q with a last axis of size 4. Received: q.shape=\(3,\)",
        ),
        (
            lambda: qrot(np.ones(4), np.ones((2, 2))),
            r"v with a last axis of size 3. Received: v.shape=\(2, 2\)",
        ),
        (lambda: qinverse(np.ones((2, 3))), "q with a last axis of size 4"),
        (
            lambda: normalize_screen_coordinates(np.ones((4, 3)), 1000, 1000),
            r"points with a last axis of size 2",
        ),
        (lambda: image_coordinates(np.ones(3), 1000, 1000), r"points with a last axis of size 2"),
        (
            lambda: world_to_camera(np.ones((5, 2)), np.ones(4), np.ones(3)),
            "points with a last axis of size 3",
        ),
        (
            lambda: camera_to_world(np.ones((5, 4)), np.ones(4), np.ones(3)),
            "points with a last axis of size 3",
        ),
        (
            lambda: project_to_2d(np.ones((5, 3)), np.ones(8)),
            r"intrinsic with a last axis of size 9",
        ),
    ],
)
def test_bad_shapes_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
