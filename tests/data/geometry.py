"""Independent NumPy versions of the camera formulas (facts file section 3), for checking the package."""

import numpy as np


def rotation_matrix(q):
    """The rotation matrix of a unit quaternion [w, x, y, z] (textbook formula, independent of qrot)."""
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def to_camera(points_world, quaternion, translation_m):
    """X_cam = R^T (X - t) for points [..., 3] (row vectors: (X - t) @ R)."""
    return (np.asarray(points_world, dtype=np.float64) - translation_m) @ rotation_matrix(
        quaternion
    )


def project_pixels_by_hand(point_camera, intrinsics):
    """The facts' distortion model written out in pixels for one camera-space point [3]."""
    x, y = np.clip(point_camera[:2] / point_camera[2], -1, 1)
    k1, k2, k3 = intrinsics["radial_distortion"]
    p1, p2 = intrinsics["tangential_distortion"]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    tangential = p1 * x + p2 * y
    distorted = np.array([x * (radial + tangential) + p1 * r2, y * (radial + tangential) + p2 * r2])
    return np.asarray(intrinsics["focal_length"]) * distorted + np.asarray(intrinsics["center"])


def normalise_by_hand(pixels, width, height):
    return np.asarray(pixels, dtype=np.float64) / width * 2 - np.array([1, height / width])
