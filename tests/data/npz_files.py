"""Write Human3.6M-format .npz files (pickled dicts in 0-d object arrays) for tests, as VideoPose3D does."""

from pathlib import Path

import numpy as np

METADATA_17 = {
    "layout_name": "h36m",
    "num_joints": 17,
    "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]],
}
METADATA_16 = {
    "layout_name": "h36m",
    "num_joints": 16,
    "keypoints_symmetry": [[4, 5, 6, 10, 11, 12], [1, 2, 3, 13, 14, 15]],
}
METADATA_MPII = {
    "layout_name": "h36m",
    "num_joints": 16,
    "keypoints_symmetry": [[3, 4, 5, 13, 14, 15], [0, 1, 2, 10, 11, 12]],
}


def write_npz(path: Path, **objects) -> Path:
    """np.savez_compressed with every value stored as a 0-d object array (a pickle inside the zip)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    holders = {}
    for key, value in objects.items():
        holder = np.empty((), dtype=object)
        holder[()] = value
        holders[key] = holder
    with open(path, "wb") as stream:
        np.savez_compressed(stream, **holders)
    return path


def read_npz_trusted(path: Path) -> dict:
    """np.load with pickles, for files the tests wrote themselves or the trusted CMU test files."""
    with np.load(path, allow_pickle=True) as archive:
        return {key: archive[key].item() for key in archive.files}
