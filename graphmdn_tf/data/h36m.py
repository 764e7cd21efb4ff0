"""Human3.6M-format files: validated, safe loading, a pickle-free cache, and per-camera samples.

Files (VideoPose3D / SemGCN preprocessing; `<name>` is `h36m`, `cmu` or `synthetic`):

- `data_3d_<name>.npz`: `positions_3d` = {subject: {action: float [T, 32 or 17, 3]}}, world metres.
- `data_2d_<name>_<keypoints>.npz`, `<keypoints>` one of `KEYPOINT_KINDS`: `positions_2d` =
  {subject: {action: [4 arrays float [T, J, 2]]}} in pixels, one array per camera, and `metadata` =
  {layout_name, num_joints, keypoints_symmetry}. The joint order is told apart by the joint count and
  `keypoints_symmetry` (see `KEYPOINT_LAYOUTS`): VideoPose3D's 17 joints (its ground truth and its
  CPN detections, `cpn_ft_h36m_dbb`), the 16-joint Human3.6M order (SemGCN ground truth and SemGCN's
  permuted stacked-hourglass detections), the raw MPII order of VideoPose3D's stacked-hourglass file,
  which is permuted with `SH_TO_GT_PERM`, or COCO-17 (VideoPose3D's Mask R-CNN detections,
  `detectron_pt_coco`), mapped onto the 16 joints by `joint_mapping.coco17_to_h36m16`. VideoPose3D's
  detection files also hold the unlabeled subjects S2, S3 and S4 (no cameras, no 3D poses): they are
  left out with a `UserWarning` that names them.

Reading goes through `safe_npz.load_npz_safely` (no code runs from a file), validates everything once,
and writes a pickle-free copy (plain float32 arrays plus a JSON index, `np.savez`) under the cache
directory, keyed by a SHA-256 hash of the source's content (so a file edited in place is converted again
even if its size and modification time were kept); later runs read that copy with `allow_pickle=False`,
and a damaged or truncated copy is converted again with a warning.

Frame-count policy: when a camera's 2D sequence and the 3D sequence differ in length, both are trimmed
to the shorter with a `UserWarning` that names the file, subject, action and camera (what VideoPose3D
does for the detections, which can be a few frames longer than the mocap).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from graphmdn_tf.atomic import write_atomically
from graphmdn_tf.data.cameras import (
    H36M_SUBJECTS,
    NUM_CAMERAS,
    h36m_cameras,
    normalize_screen_coordinates,
    world_to_camera,
)
from graphmdn_tf.data.joint_mapping import coco17_to_h36m16
from graphmdn_tf.data.keypoint_formats import COCO_17
from graphmdn_tf.data.safe_npz import DataFileError, load_npz_safely
from graphmdn_tf.skeletons import (
    H36M_16,
    H36M_16_FROM_17,
    H36M_16_FROM_32,
    H36M_17,
    SH_JOINTS_LEFT,
    SH_JOINTS_RIGHT,
    SH_TO_GT_PERM,
)

# The data sets with a default split: name -> (train subjects, test subjects). The paper's split for
# Human3.6M and the built-in synthetic set; the shared CMU set has S1, S5, S6 and S7 only, so S7 is held out.
DEFAULT_SPLITS = {
    "h36m": (("S1", "S5", "S6", "S7", "S8"), ("S9", "S11")),
    "cmu": (("S1", "S5", "S6"), ("S7",)),
    "synthetic": (("S1", "S5", "S6", "S7", "S8"), ("S9", "S11")),
}
DATASETS = tuple(
    DEFAULT_SPLITS
)  # the built-in names; any other <name> works with explicit subjects
_DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def check_dataset_name(dataset: str) -> str:
    """A data set's `<name>` in `data_3d_<name>.npz`: a built-in one or any plain file-name part."""
    if not isinstance(dataset, str) or not _DATASET_NAME.fullmatch(dataset):
        raise ValueError(
            "Expected dataset to be a name like 'h36m' or 'my_capture' (letters, digits, '_', '.', '-'; "
            f"built in: {DATASETS}). Received: dataset={dataset!r}"
        )
    return dataset


#: The 2D files by name (`data_2d_<dataset>_<kind>.npz`): ground truth, and VideoPose3D's stacked-hourglass
#: (MPII), CPN (fine-tuned on Human3.6M, Detectron boxes) and Mask R-CNN (COCO) detections.
KEYPOINT_KINDS = ("gt", "sh_pt_mpii", "cpn_ft_h36m_dbb", "detectron_pt_coco")
#: Subjects VideoPose3D's detection files hold without 3D poses or camera calibrations; not read.
UNLABELED_SUBJECTS = ("S2", "S3", "S4")
# The 15 Human3.6M action classes, in the order of the paper's tables.
H36M_ACTIONS = (
    "Directions",
    "Discussion",
    "Eating",
    "Greeting",
    "Phoning",
    "Photo",
    "Posing",
    "Purchases",
    "Sitting",
    "SittingDown",
    "Smoking",
    "Waiting",
    "WalkDog",
    "Walking",
    "WalkTogether",
)
CACHE_VERSION = (
    3  # 2: content-keyed, complex/timedelta refused, finite as float32; 3: empty_subjects
)

# keypoints_symmetry ([left joints], [right joints]) of each 2D joint order (facts sections 5, 6, 8).
KEYPOINT_LAYOUTS = {
    "h36m17": (H36M_17.num_joints, (H36M_17.joints_left, H36M_17.joints_right)),
    "h36m16": (H36M_16.num_joints, (H36M_16.joints_left, H36M_16.joints_right)),
    "mpii16": (len(SH_TO_GT_PERM), (SH_JOINTS_LEFT, SH_JOINTS_RIGHT)),
    "coco17": (
        len(COCO_17),
        tuple(
            tuple(i for i, name in enumerate(COCO_17) if name.startswith(side))
            for side in ("left_", "right_")
        ),
    ),
}
_JOINTS_3D = {32: H36M_16_FROM_32, 17: H36M_16_FROM_17}
PROGRESS_MIN_FRAMES = 100_000  # smaller jobs run without progress bars


CACHE_ENV = "GRAPHMDN_TF_CACHE"


def default_cache_dir() -> Path:
    """`$GRAPHMDN_TF_CACHE`, else `$XDG_CACHE_HOME/graphmdn_tf`, else `~/.cache/graphmdn_tf`."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "graphmdn_tf"


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """`cache_dir`, else `default_cache_dir()`: the folder the data cache lives in (created when first used).

    Raises:
        NotADirectoryError: the path exists and is not a folder (named, with where it came from).
    """
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    if root.exists() and not root.is_dir():
        if cache_dir:
            origin = "the cache_dir argument"
        elif os.environ.get(CACHE_ENV):
            origin = f"--cache-dir or ${CACHE_ENV}"
        else:
            origin = "the default"
        raise NotADirectoryError(
            f"The data cache {root} (given by {origin}) is not a folder. Expected a folder, "
            f"or a path where one can be made (choose one with --cache-dir or ${CACHE_ENV})"
        )
    return root


def data_file_paths(data_dir: str | Path, dataset: str, keypoints: str = "gt") -> tuple[Path, Path]:
    """`(data_dir/data_3d_<dataset>.npz, data_dir/data_2d_<dataset>_<keypoints>.npz)`."""
    check_dataset_name(dataset)
    if keypoints not in KEYPOINT_KINDS:
        raise ValueError(
            f"Expected keypoints to be one of {KEYPOINT_KINDS}. Received: keypoints={keypoints!r}"
        )
    data_dir = Path(data_dir)
    return data_dir / f"data_3d_{dataset}.npz", data_dir / f"data_2d_{dataset}_{keypoints}.npz"


@dataclass(frozen=True)
class Poses3D:
    """The contents of a `data_3d_<name>.npz`: world positions in metres, float32 [T, J, 3] (J = 32 or 17)."""

    path: Path
    num_joints: int
    positions: dict
    empty_subjects: tuple = ()  # subjects the file lists with no sequence (absent from `positions`)

    def joints_16(self, subject: str, action: str) -> np.ndarray:
        """The 16-joint SemGCN subset [T, 16, 3] of one sequence (world metres)."""
        return self.positions[subject][action][:, _JOINTS_3D[self.num_joints]]


@dataclass(frozen=True)
class Keypoints2D:
    """The contents of a `data_2d_<name>_<keypoints>.npz`: pixels, per camera float32 [T, J, 2]."""

    path: Path
    layout: str
    metadata: dict
    positions: dict
    empty_subjects: tuple = ()  # subjects the file lists with no sequence (absent from `positions`)

    def joints_16(self, subject: str, action: str, camera: int) -> np.ndarray:
        """One camera's sequence in the 16-joint Human3.6M order [T, 16, 2] (pixels)."""
        keypoints = self.positions[subject][action][camera]
        if self.layout == "h36m17":
            return keypoints[:, H36M_16_FROM_17]
        if self.layout == "mpii16":
            return keypoints[:, SH_TO_GT_PERM]
        if self.layout == "coco17":
            return coco17_to_h36m16(keypoints)
        return keypoints


# ---------------------------------------------------------------------------------------- validation
def _require_key(path: Path, contents: dict, key: str):
    if key not in contents:
        raise DataFileError(f"{path}: missing key {key!r} (keys present: {sorted(contents)}).")
    return contents[key]


def _require_dict(path: Path, value, what: str) -> dict:
    if not isinstance(value, dict):
        raise DataFileError(
            f"{path}: expected {what} to be a dict. Received: {type(value).__name__}"
        )
    return value


def _check_subject(path: Path, subject) -> None:
    if subject not in H36M_SUBJECTS:
        raise DataFileError(
            f"{path}: unknown subject {subject!r}; only subjects with Human3.6M camera calibrations can be "
            f"used ({', '.join(H36M_SUBJECTS)})."
        )


def _check_array(path: Path, array, where: str, last_dim: int, num_joints: set[int]) -> np.ndarray:
    """`array` as float32 [frames, joints, last_dim] after checking its type, shape and values.

    Only integer and float arrays are admitted (complex, timedelta, bool, ... are refused by dtype kind), and
    finiteness is checked after the cast to float32, so values beyond float32's range (1e39, a longdouble
    1e4000) are refused as the Inf they become rather than reaching training.
    """
    if not isinstance(array, np.ndarray):
        raise DataFileError(
            f"{path}: {where}: expected a numeric array. Received: {type(array).__name__}"
        )
    if array.dtype.kind not in "iuf":
        raise DataFileError(
            f"{path}: {where}: expected a real numeric array (integers or floats). Received: {array.dtype}"
        )
    if array.ndim != 3 or array.shape[2] != last_dim or array.shape[0] < 1:
        raise DataFileError(
            f"{path}: {where}: expected shape [frames, joints, {last_dim}]. Received: {array.shape}"
        )
    if array.shape[1] not in num_joints:
        raise DataFileError(
            f"{path}: {where}: expected {' or '.join(map(str, sorted(num_joints)))} joints. "
            f"Received: shape {array.shape}"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise DataFileError(
            f"{path}: {where}: non-finite value at [frame, joint, axis] = {bad.tolist()} (as float32: NaN, Inf, "
            "or beyond float32's range of about 3.4e38)."
        )
    return array


def _frame_count(value) -> int:
    """Frames of a 3D array or of the first camera of a 2D list (0 for anything malformed)."""
    if isinstance(value, (list, tuple)) and value:
        value = value[0]
    return len(value) if isinstance(value, np.ndarray) and value.ndim else 0


def _iter_sequences(path: Path, positions, what: str, progress: bool):
    """Yield (subject, action, value) over {subject: {action: value}}, checking subjects and types."""
    positions = _require_dict(path, positions, what)
    items = []
    for subject, actions in positions.items():
        _check_subject(path, subject)
        actions = _require_dict(path, actions, f"{what}[{subject!r}]")
        for action, value in actions.items():
            if not isinstance(action, str) or not action:
                raise DataFileError(
                    f"{path}: {what}[{subject!r}]: expected action names (str). Received: {action!r}"
                )
            items.append((subject, action, value))
    if not items:
        raise DataFileError(f"{path}: {what} holds no sequences.")
    frames = sum(_frame_count(value) for _, _, value in items)
    disable = not progress or frames < PROGRESS_MIN_FRAMES
    yield from tqdm(items, desc=f"checking {path.name}", disable=disable, leave=False)


def _empty_subjects(positions: dict) -> list[str]:
    """The subjects of a checked {subject: {action: value}} that hold no sequence."""
    return [subject for subject, actions in positions.items() if not actions]


def _convert_3d(path: Path, contents: dict, progress: bool) -> tuple[dict, dict]:
    positions = _require_key(path, contents, "positions_3d")
    arrays, entries, joint_counts = {}, [], set()
    for subject, action, value in _iter_sequences(path, positions, "positions_3d", progress):
        array = _check_array(
            path, value, f"positions_3d[{subject!r}][{action!r}]", 3, set(_JOINTS_3D)
        )
        joint_counts.add(array.shape[1])
        name = f"a{len(entries)}"
        arrays[name] = array
        entries.append({"subject": subject, "action": action, "array": name})
    if len(joint_counts) > 1:
        raise DataFileError(
            f"{path}: expected one joint count for every sequence. Received: {sorted(joint_counts)}"
        )
    index = {"kind": "3d", "num_joints": joint_counts.pop(), "entries": entries}
    return {**index, "empty_subjects": _empty_subjects(positions)}, arrays


def _plain(path: Path, value, where: str = "metadata"):
    """Metadata -> JSON-safe values (arrays and NumPy scalars to lists and numbers).

    Anything else (bytes, complex numbers, sets, ...) is a `DataFileError` naming the file and the place.
    `safe_npz` has already bounded the nesting and size, so the recursion stays shallow.
    """
    if isinstance(value, dict):
        return {str(key): _plain(path, item, f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(path, item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise DataFileError(
        f"{path}: expected {where} to hold numbers, strings, lists and dicts. Received: {type(value).__name__}"
    )


def _detect_layout(path: Path, metadata: dict, num_joints: int) -> str:
    declared = metadata.get("num_joints", num_joints)
    if declared != num_joints:
        raise DataFileError(
            f"{path}: metadata num_joints={declared} but the arrays have {num_joints} joints."
        )
    received = metadata.get("keypoints_symmetry")
    for layout, (count, expected) in KEYPOINT_LAYOUTS.items():
        if count == num_joints and received == [
            list(side) for side in expected
        ]:  # _plain made lists
            return layout
    raise DataFileError(
        f"{path}: cannot tell the joint order from num_joints={num_joints} and "
        f"keypoints_symmetry={received}. Expected one of: "
        + "; ".join(
            f"{name}: {count} joints, {[list(side) for side in symmetry]}"
            for name, (count, symmetry) in KEYPOINT_LAYOUTS.items()
        )
    )


def _convert_2d(path: Path, contents: dict, progress: bool) -> tuple[dict, dict]:
    positions = _require_dict(path, _require_key(path, contents, "positions_2d"), "positions_2d")
    unlabeled = [subject for subject in positions if subject in UNLABELED_SUBJECTS]
    positions = {s: actions for s, actions in positions.items() if s not in UNLABELED_SUBJECTS}
    metadata = _plain(
        path, _require_dict(path, _require_key(path, contents, "metadata"), "metadata")
    )
    arrays, entries, joint_counts = {}, [], set()
    for subject, action, value in _iter_sequences(path, positions, "positions_2d", progress):
        where = f"positions_2d[{subject!r}][{action!r}]"
        if not isinstance(value, (list, tuple)) or len(value) != NUM_CAMERAS:
            count = len(value) if isinstance(value, (list, tuple)) else type(value).__name__
            raise DataFileError(
                f"{path}: {where}: expected a list of {NUM_CAMERAS} camera arrays. Received: {count}"
            )
        for camera, keypoints in enumerate(value):
            array = _check_array(path, keypoints, f"{where}[camera {camera}]", 2, {16, 17})
            joint_counts.add(array.shape[1])
            name = f"a{len(entries)}"
            arrays[name] = array
            entries.append({"subject": subject, "action": action, "camera": camera, "array": name})
    if len(joint_counts) > 1:
        raise DataFileError(
            f"{path}: expected one joint count for every sequence. Received: {sorted(joint_counts)}"
        )
    layout = _detect_layout(path, metadata, joint_counts.pop())
    index = {"kind": "2d", "layout": layout, "metadata": metadata, "entries": entries}
    return {
        **index,
        "empty_subjects": _empty_subjects(positions),
        "unlabeled_subjects": unlabeled,
    }, arrays


# --------------------------------------------------------------------------------------------- cache
def _content_digest(path: Path) -> str:
    """SHA-256 of the file's bytes (read in 1 MiB blocks: a second per GB, cheap next to converting it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cache_file(path: Path, cache_dir: str | Path | None) -> Path:
    """The cache entry of `path`, named by a hash of its content and `CACHE_VERSION` (not its size and mtime,
    which an edit in place can keep)."""
    key = f"{_content_digest(path)}-{CACHE_VERSION}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return cache_root(cache_dir) / "converted" / f"{path.stem}-{digest}.npz"


def _write_cache(cache_file: Path, index: dict, arrays: dict) -> None:
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    index_bytes = np.frombuffer(json.dumps(index).encode(), dtype=np.uint8)
    write_atomically(cache_file, lambda stream: np.savez(stream, index=index_bytes, **arrays))


def _read_cache(cache_file: Path) -> tuple[dict, dict]:
    with np.load(cache_file, allow_pickle=False) as archive:
        index = json.loads(archive["index"].tobytes().decode())
        arrays = {entry["array"]: archive[entry["array"]] for entry in index["entries"]}
    return index, arrays


def _found(path: Path) -> str:
    """The files of the missing file's kind in its folder: "; found data_3d_cmu.npz (dataset='cmu')"."""
    prefix = path.name[: len("data_3d_")]  # data_3d_ or data_2d_
    found = sorted(file.name for file in path.parent.glob(f"{prefix}*.npz"))
    if not found:
        return ""
    if prefix != "data_3d_":
        return f"; found {', '.join(found)}"
    names = ", ".join(f"dataset={name[len(prefix) : -len('.npz')]!r}" for name in found)
    return f"; found {', '.join(found)} ({names})"


def _load_converted(path, kind: str, cache_dir, progress: bool) -> tuple[Path, dict, dict]:
    path = Path(path)
    if path.parent.is_file():
        raise NotADirectoryError(
            f"{path.parent} is a file; expected data_dir to be the folder that holds {path.name}"
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such file (expected a Human3.6M-format {kind.upper()} .npz){_found(path)}."
        )
    cache_file = _cache_file(path, cache_dir)
    if cache_file.is_file():
        try:
            index, arrays = _read_cache(cache_file)
            if index.get("kind") == kind:
                return path, index, arrays
        except (
            OSError,
            ValueError,
            KeyError,
            TypeError,
            EOFError,
            zipfile.BadZipFile,
            zlib.error,
        ) as error:
            # truncated, damaged or foreign: the entry is ours to rebuild (written atomically below)
            warnings.warn(
                f"{cache_file}: unreadable cache ({type(error).__name__}: {error}); converting {path} "
                "again.",
                stacklevel=3,
            )
    contents = load_npz_safely(path, progress=progress)
    convert = _convert_3d if kind == "3d" else _convert_2d
    index, arrays = convert(path, contents, progress)
    index["source"] = str(path.resolve())
    _write_cache(cache_file, index, arrays)
    return path, index, arrays


def load_poses_3d(
    path: str | Path, *, cache_dir: str | Path | None = None, progress: bool = False
) -> Poses3D:
    """Read and validate a `data_3d_<name>.npz` (through the pickle-free cache).

    Raises:
        FileNotFoundError: no such file.
        DataFileError: not an npz, unsafe pickle, missing `positions_3d`, a subject without cameras,
            a sequence that is not [T, 32 or 17, 3], mixed joint counts, or non-finite values.
    """
    path, index, arrays = _load_converted(path, "3d", cache_dir, progress)
    positions = {}
    for entry in index["entries"]:
        positions.setdefault(entry["subject"], {})[entry["action"]] = arrays[entry["array"]]
    return Poses3D(
        path=path,
        num_joints=index["num_joints"],
        positions=positions,
        empty_subjects=tuple(index["empty_subjects"]),
    )


def load_keypoints_2d(
    path: str | Path, *, cache_dir: str | Path | None = None, progress: bool = False
) -> Keypoints2D:
    """Read and validate a `data_2d_<name>_<keypoints>.npz` (through the pickle-free cache).

    Raises:
        FileNotFoundError: no such file.
        DataFileError: not an npz, unsafe pickle, missing `positions_2d` or `metadata`, a subject
            without cameras, a camera count other than 4, a sequence that is not [T, 16 or 17, 2],
            an unrecognised joint order, or non-finite values.
    """
    path, index, arrays = _load_converted(path, "2d", cache_dir, progress)
    if index.get("unlabeled_subjects"):
        warnings.warn(
            f"{path}: left out the subjects {', '.join(index['unlabeled_subjects'])}: Human3.6M has "
            "no 3D poses or camera calibrations for them (VideoPose3D's unlabeled subjects)",
            stacklevel=2,
        )
    positions = {}
    for entry in index["entries"]:
        cameras = positions.setdefault(entry["subject"], {}).setdefault(entry["action"], [])
        cameras.append(arrays[entry["array"]])
    return Keypoints2D(
        path=path,
        layout=index["layout"],
        metadata=index["metadata"],
        positions=positions,
        empty_subjects=tuple(index["empty_subjects"]),
    )


# ------------------------------------------------------------------------------------------ samples
def action_class(action: str) -> str:
    """`'Sitting 1' -> 'Sitting'`: the class of a sequence key (so 'Sitting' never means 'SittingDown')."""
    return action.split(" ")[0]


def select_sequences(
    poses_3d: Poses3D,
    keypoints_2d: Keypoints2D,
    subjects: Sequence[str],
    actions: Sequence[str] | None = None,
) -> list[tuple[str, str]]:
    """The (subject, action) pairs to load, in file order.

    `actions` holds class names (`'Sitting'` selects 'Sitting', 'Sitting 1', 'Sitting 2' but never
    'SittingDown') or exact sequence keys (any name with a space, e.g. `'Sitting 1'`); `None` selects all.
    Sequences present in only one of the two files are skipped with a warning naming them.

    Raises:
        ValueError: a subject missing from either file, or a requested action that matches nothing.
    """
    if isinstance(subjects, str) or not len(subjects):
        raise ValueError(
            f"Expected subjects to be a non-empty sequence of names. Received: subjects={subjects!r}"
        )
    if isinstance(actions, str):
        raise ValueError(
            f"Expected actions to be a sequence of names or None. Received: actions={actions!r}"
        )
    selected, matched = [], set()
    for subject in subjects:
        for source in (poses_3d, keypoints_2d):
            if subject not in source.positions:
                raise ValueError(
                    f"{source.path}: unknown subject {subject!r}; the file has {', '.join(source.positions)}."
                )
        actions_3d, actions_2d = poses_3d.positions[subject], keypoints_2d.positions[subject]
        for action in actions_3d:
            wanted = actions is None or action in actions or action_class(action) in actions
            if not wanted:
                continue
            matched.update({action, action_class(action)})
            if action not in actions_2d:
                warnings.warn(
                    f"{keypoints_2d.path}: no 2D for {subject} {action!r} (in {poses_3d.path.name}); "
                    "skipped.",
                    stacklevel=2,
                )
                continue
            selected.append((subject, action))
        for action in actions_2d:
            wanted = actions is None or action in actions or action_class(action) in actions
            if wanted and action not in actions_3d:
                warnings.warn(
                    f"{poses_3d.path}: no 3D for {subject} {action!r} (in {keypoints_2d.path.name}); "
                    "skipped.",
                    stacklevel=2,
                )
    missing = [action for action in (actions or ()) if action not in matched]
    if missing:
        available = sorted(
            {action_class(a) for subject in subjects for a in poses_3d.positions[subject]}
        )
        raise ValueError(
            f"{poses_3d.path}: unknown action(s) {missing} for subjects {list(subjects)}; "
            f"action classes there: {', '.join(available)}."
        )
    return selected


def camera_samples(
    poses_3d: Poses3D, keypoints_2d: Keypoints2D, subject: str, action: str, stride: int = 1
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """One sequence as SemGCN training pairs, per camera.

    Returns a list of `(camera, inputs_2d, targets_3d)`: `inputs_2d` float32 [T, 16, 2] normalised screen
    coordinates, `targets_3d` float32 [T, 16, 3] camera-space metres relative to the hip (joint 0 is
    exactly zero), every `stride`-th frame. A 2D/3D length mismatch is trimmed with a warning.
    """
    world = poses_3d.joints_16(subject, action).astype(np.float64)  # [T, 16, 3]
    result = []
    for camera_index, camera in enumerate(h36m_cameras(subject)):
        keypoints = keypoints_2d.joints_16(subject, action, camera_index)
        frames = min(len(world), len(keypoints))
        if len(world) != len(keypoints):
            warnings.warn(
                f"{keypoints_2d.path}: {subject} {action!r} camera {camera_index} has {len(keypoints)} frames of 2D "
                f"but {poses_3d.path.name} has {len(world)} of 3D; trimming both to {frames}.",
                stacklevel=2,
            )
        positions = world_to_camera(
            world[:frames:stride], camera["orientation"], camera["translation"]
        )
        targets = positions - positions[:, :1]
        pixels = keypoints[:frames:stride].astype(np.float64)
        inputs = normalize_screen_coordinates(pixels, camera["res_w"], camera["res_h"])
        result.append((camera_index, inputs.astype(np.float32), targets.astype(np.float32)))
    return result
