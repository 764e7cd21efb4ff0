"""Data: Human3.6M-format files (safe loading, validation, cache), cameras, the synthetic set, tf.data.

>>> from graphmdn_tf.data import TRAIN_SUBJECTS, load_samples, make_dataset
>>> samples = load_samples("synthetic", subjects=TRAIN_SUBJECTS)
>>> dataset = make_dataset(samples, batch_size=64, shuffle=True, seed=0)
"""

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
from graphmdn_tf.data.h36m import (
    DATASETS,
    KEYPOINT_KINDS,
    Keypoints2D,
    Poses3D,
    action_class,
    data_file_paths,
    default_cache_dir,
    load_keypoints_2d,
    load_poses_3d,
)
from graphmdn_tf.data.safe_npz import DataFileError, UnsafePickleError, load_npz_safely
from graphmdn_tf.data.synthetic import ACTIONS, default_synthetic_dir, write_synthetic_dataset
from graphmdn_tf.lazy import lazy_exports

# The tf.data pipeline loads with TensorFlow on first use (`graphmdn_tf.lazy`); the rest is NumPy.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        name: "graphmdn_tf.data.pipeline"
        for name in (
            "TEST_SUBJECTS",
            "TRAIN_SUBJECTS",
            "PoseSamples",
            "load_samples",
            "make_dataset",
        )
    },
)

__all__ = [
    "ACTIONS",
    "DATASETS",
    "H36M_SUBJECTS",
    "KEYPOINT_KINDS",
    "TEST_SUBJECTS",
    "TRAIN_SUBJECTS",
    "DataFileError",
    "Keypoints2D",
    "PoseSamples",
    "Poses3D",
    "UnsafePickleError",
    "action_class",
    "camera_to_world",
    "data_file_paths",
    "default_cache_dir",
    "default_synthetic_dir",
    "h36m_cameras",
    "image_coordinates",
    "load_keypoints_2d",
    "load_npz_safely",
    "load_poses_3d",
    "load_samples",
    "make_dataset",
    "normalize_screen_coordinates",
    "project_to_2d",
    "project_to_pixels",
    "qinverse",
    "qrot",
    "world_to_camera",
    "write_synthetic_dataset",
]
