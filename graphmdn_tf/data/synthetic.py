"""The built-in synthetic data set: human-like motion written in the Human3.6M file formats.

`write_synthetic_dataset` writes, for the seven Human3.6M subject names (so the real camera
calibrations apply), the three files the loaders read:

- `data_3d_synthetic.npz`: `positions_3d[subject][action]` float32 [T, 32, 3], world metres, Z up.
- `data_2d_synthetic_gt.npz`: `positions_2d[subject][action]` = 4 x float32 [T, 17, 2] pixels, the
  17 VideoPose3D joints projected through each real camera with its lens distortion.
- `data_2d_synthetic_sh_pt_mpii.npz`: the same seen by an imperfect detector, float32 [T, 16, 2]
  pixels in SemGCN's (permuted) 16-joint order: temporally correlated per-joint noise (larger at
  wrists, elbows, knees and feet), per-frame jitter, rare outliers and rare left/right leg swaps.

Every subject has its own bone lengths (`body_model.Body.sample`); each of the 15 Human3.6M action
classes has two sequences ('Walking 1', 'Walking 2', ...) of a motion family that fits it: walking
(Walking, WalkDog, WalkTogether), sitting (Sitting, Eating), sitting down to the floor and standing
up (SittingDown), reaching and pointing while turning (Directions), gesturing (Discussion, Phoning,
Smoking, Greeting), bending (Purchases), crouching (Photo), held poses (Posing, Waiting). Sequences
start at a random time of their motion, turn about the vertical axis, and stay inside the capture
volume. The generator is seeded: the same arguments give the same files.

Depth is genuinely ambiguous in this data: poses that differ in depth (a limb towards or away from
the camera, a body turned by +-a about the line of sight) project to nearly the same 2D.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from graphmdn_tf.atomic import atomic_directory, write_atomically
from graphmdn_tf.checks import check_positive_int
from graphmdn_tf.data.body_model import FPS, Body, MotionBuilder, forward_kinematics
from graphmdn_tf.data.cameras import H36M_SUBJECTS, h36m_cameras, project_to_pixels
from graphmdn_tf.data.h36m import H36M_ACTIONS, KEYPOINT_LAYOUTS, cache_root
from graphmdn_tf.skeletons import H36M_16_FROM_17, H36M_17_FROM_32

GENERATOR_VERSION = 2  # bump whenever the generated data changes: the default set is cached by it
DEFAULT_FRAMES_PER_SEQUENCE = 24
SEQUENCES_PER_ACTION = 2
FILE_NAMES = (
    "data_3d_synthetic.npz",
    "data_2d_synthetic_gt.npz",
    "data_2d_synthetic_sh_pt_mpii.npz",
)
_PROGRESS_MIN_FRAMES = 20_000


# ------------------------------------------------------------------------- motions per action class
def _walk(m: MotionBuilder, speed, arm_swing):
    speed = m.rng.uniform(*speed)
    m.gait(speed, m.rng.uniform(*arm_swing))
    m.head(20, 10)
    return speed, 0.0


def _walking(m):
    return _walk(m, (1.0, 1.5), (15, 30))


def _walk_dog(m):
    result = _walk(m, (0.8, 1.2), (5, 12))
    m.set(r_shoulder_flex=m.keyframes(25, 55), r_elbow=m.keyframes(20, 60))
    m.add(spine_flex=8, neck_flex=15)
    return result


def _walk_together(m):
    result = _walk(m, (0.7, 1.0), (8, 16))
    side = m.rng.choice([-1, 1])
    m.add(neck_turn=side * m.rng.uniform(25, 50), spine_twist=side * 8)
    return result


def _directions(m):
    m.weight_shift()
    m.arms(
        flex=(20, 110),
        abd=(0, 70),
        rot=(-20, 40),
        elbow=(0, 40),
        sides=m.rng.choice(["r", "l"]),
        rest_probability=0.4,
    )
    m.head(40)
    return 0.0, 120.0


def _discussion(m):
    m.weight_shift()
    m.arms(
        flex=(-10, 60),
        abd=(-10, 45),
        rot=(-30, 50),
        elbow=(40, 120),
        hold=(0.6, 1.5),
        rest_probability=0.3,
    )
    m.add(spine_twist=m.keyframes(-15, 15))
    m.head(40)
    return 0.0, 40.0


def _eating(m):
    m.sit()
    m.hand_to_face("r", m.rng.uniform(3, 6))
    m.head(20, 25)
    return 0.0, 10.0


def _greeting(m):
    m.weight_shift()
    side = m.rng.choice(["r", "l"])
    wave = np.sin(2 * np.pi * m.rng.uniform(1.5, 2.5) * m.t)
    m.set(
        **{
            f"{side}_shoulder_abd": m.keyframes(80, 140),
            f"{side}_shoulder_flex": m.keyframes(0, 40),
            f"{side}_shoulder_rot": -70 + 10 * wave,
            f"{side}_elbow": 70 + 30 * wave,
        }
    )
    m.add(spine_flex=m.keyframes(0, 35, hold=(1.5, 3.0), dwell=0.5))
    m.head(30)
    return 0.0, 60.0


def _phoning(m):
    m.weight_shift()
    phone, other = m.rng.permutation(["r", "l"])
    m.arms(flex=(-10, 50), abd=(0, 40), elbow=(20, 100), sides=other)
    m.set(
        **{
            f"{phone}_shoulder_flex": m.keyframes(25, 45),
            f"{phone}_shoulder_abd": m.keyframes(30, 50),
            f"{phone}_elbow": m.keyframes(128, 145),
            f"{phone}_shoulder_rot": m.keyframes(-10, 20),
        }
    )
    m.head(30, 15)
    return 0.0, 60.0


def _photo(m):
    crouch = m.keyframes(0, 1, hold=(1.5, 3.0), dwell=0.4)
    m.both("knee", lambda: 115 * crouch + m.sway(4))
    m.both("hip_flex", lambda: 95 * crouch + m.sway(4))
    m.both("shoulder_flex", lambda: m.keyframes(55, 85))
    m.both("elbow", lambda: m.keyframes(110, 140))
    m.both("shoulder_abd", lambda: m.keyframes(5, 30))
    m.add(spine_flex=m.keyframes(0, 30), l_hip_abd=12 * crouch, r_hip_abd=12 * crouch)
    return 0.0, 45.0


def _posing(m):
    m.arms(
        flex=(-40, 170), abd=(-10, 150), rot=(-60, 60), elbow=(0, 130), hold=(1.5, 3.0), dwell=0.5
    )
    m.both("hip_flex", lambda: m.keyframes(-15, 50, hold=(1.5, 3.0), dwell=0.5))
    m.both("knee", lambda: m.keyframes(0, 60, hold=(1.5, 3.0), dwell=0.5))
    m.both("hip_abd", lambda: m.keyframes(0, 35, hold=(1.5, 3.0), dwell=0.5))
    m.add(spine_side=m.keyframes(-20, 20, dwell=0.5), spine_twist=m.keyframes(-25, 25, dwell=0.5))
    m.head(40)
    return 0.0, 90.0


def _purchases(m):
    bend = m.keyframes(0, 1, hold=(1.5, 3.0), dwell=0.3)
    m.set(spine_flex=80 * bend + m.sway(4))
    m.both("knee", lambda: 50 * bend * m.rng.uniform(0.3, 1.0) + m.sway(3))
    m.set(r_hip_flex=0.5 * m.tracks["r_knee"] + 5, l_hip_flex=0.5 * m.tracks["l_knee"] + 5)
    m.arms(flex=(10, 100), abd=(-10, 40), rot=(-20, 40), elbow=(0, 70))
    m.head(30, 30)
    return 0.0, 90.0


def _sitting(m):
    m.sit()
    m.arms(flex=(0, 60), abd=(0, 30), elbow=(30, 110), hold=(2.0, 4.0))
    m.head(40, 20)
    return 0.0, 15.0


def _sitting_down(m):
    level = m.keyframes(0, 1, hold=(2.0, 4.0), dwell=0.4)
    m.both("hip_flex", lambda: 5 + 100 * level + m.sway(3))
    m.both("knee", lambda: 5 + 125 * level + m.sway(3))
    m.both("shoulder_flex", lambda: 20 + 40 * np.sin(np.pi * level) + m.sway(5))
    m.set(
        spine_flex=10 + 30 * np.sin(np.pi * level) + 10 * level,
        r_hip_abd=15 * level,
        l_hip_abd=15 * level,
    )
    return 0.0, 30.0


def _smoking(m):
    m.weight_shift()
    hand, other = m.rng.permutation(["r", "l"])
    m.hand_to_face(hand, m.rng.uniform(5, 8))
    m.arms(flex=(-20, 30), abd=(0, 40), elbow=(10, 100), hold=(2.0, 4.0), sides=other)
    m.head(30)
    return 0.0, 40.0


def _waiting(m):
    m.weight_shift()
    m.arms(
        flex=(-40, 60),
        abd=(0, 60),
        rot=(-60, 60),
        elbow=(0, 110),
        hold=(2.0, 5.0),
        dwell=0.5,
        rest_probability=0.5,
    )
    m.head(50)
    return 0.0, 90.0


ACTIONS = dict(
    zip(
        H36M_ACTIONS,
        (
            _directions,
            _discussion,
            _eating,
            _greeting,
            _phoning,
            _photo,
            _posing,
            _purchases,
            _sitting,
            _sitting_down,
            _smoking,
            _waiting,
            _walk_dog,
            _walking,
            _walk_together,
        ),
        strict=True,
    )
)
"""The 15 Human3.6M action classes and the motion program that generates each."""


# --------------------------------------------------------------------------------------- sequences
def capture_centre(subject: str) -> np.ndarray:
    """The middle of a subject's capture volume: the mean horizontal position of its 4 cameras (metres)."""
    return np.mean([camera["translation"][:2] for camera in h36m_cameras(subject)], axis=0)


def generate_sequence(
    rng: np.random.Generator, body: Body, action: str, frames: int, centre: np.ndarray
) -> np.ndarray:
    """World positions float64 [frames, 32, 3] of one sequence of an action class (see `ACTIONS`)."""
    t = rng.uniform(0, 60) + np.arange(frames) / FPS
    motion = MotionBuilder(rng, t)
    speed, turning = ACTIONS[action](motion)
    if speed > 0:  # walk a circle around the middle of the volume, facing along the path
        radius, direction = rng.uniform(0.8, 1.2), rng.choice([-1.0, 1.0])
        angle = rng.uniform(0, 2 * np.pi) + direction * speed * t / radius
        root_xy = centre + radius * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
        yaw = np.rad2deg(angle) + (0.0 if direction > 0 else 180.0)
    else:  # stand somewhere in the volume, turning now and then
        direction = rng.uniform(0, 2 * np.pi)
        offset = rng.uniform(0, 0.7) * np.array([np.cos(direction), np.sin(direction)])
        root_xy = np.broadcast_to(centre + offset, (frames, 2))
        yaw = (
            rng.uniform(-180, 180)
            + motion.keyframes(-turning, turning, hold=(2.0, 4.0))
            + motion.sway(3)
        )
    return forward_kinematics(body, motion.tracks, yaw, root_xy)


def _detections(rng: np.random.Generator, keypoints: np.ndarray) -> np.ndarray:
    """A detector's view of ground-truth pixels [T, 16, 2]: correlated noise, jitter, outliers, swaps."""
    frames = len(keypoints)
    sigma = np.full(16, 4.0)
    sigma[[2, 5, 11, 14]] = 6.0  # knees, elbows
    sigma[[3, 6, 12, 15]] = 8.0  # feet, wrists
    # Unit-variance noise with correlation 0.8 from frame to frame: white noise through an exponential
    # filter (an AR(1) process, truncated after 30 frames).
    taps = 0.8 ** np.arange(30)
    taps /= np.sqrt(np.sum(taps**2))
    white = rng.normal(size=(frames + len(taps) - 1, 16, 2))
    noise = sum(
        tap * white[len(taps) - 1 - lag : len(taps) - 1 - lag + frames]
        for lag, tap in enumerate(taps)
    )
    detections = keypoints + sigma[:, None] * noise + rng.normal(scale=1.0, size=keypoints.shape)
    outliers = rng.random((frames, 16)) < 0.01
    detections[outliers] += rng.normal(scale=35.0, size=(int(outliers.sum()), 2))
    swapped = rng.random(frames) < 0.005
    for right, left in ((2, 5), (3, 6)):
        right_points = detections[swapped, right]
        detections[swapped, right] = detections[swapped, left]
        detections[swapped, left] = right_points
    return detections


def _save_npz(path: Path, **objects) -> None:
    """np.savez of dicts as 0-d object arrays (the VideoPose3D layout; uncompressed: float data barely
    compresses, and compressing slows the write), written atomically."""
    arrays = {key: np.array(value, dtype=object) for key, value in objects.items()}
    write_atomically(path, lambda stream: np.savez(stream, **arrays))


def _metadata(layout: str) -> dict:
    count, (left, right) = KEYPOINT_LAYOUTS[layout]
    return {
        "layout_name": "h36m",
        "num_joints": count,
        "keypoints_symmetry": [list(left), list(right)],
    }


def write_synthetic_dataset(
    out_dir: str | Path,
    *,
    frames_per_sequence: int = DEFAULT_FRAMES_PER_SEQUENCE,
    subjects: Sequence[str] = H36M_SUBJECTS,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Write the synthetic data set (3D, ground-truth 2D and detected 2D) into `out_dir`.

    Args:
        out_dir: created if missing; the three files (`FILE_NAMES`) are replaced atomically.
        frames_per_sequence: frames of each of the 30 sequences per subject (50 fps). The default,
            24, makes a quickstart-size set of 5,040 frames (x 4 cameras) in about a second.
        subjects: Human3.6M subject names (their cameras are used). A subject's data does not depend
            on which other subjects are written.
        seed: the data depends only on this seed, `frames_per_sequence` and the subject names.
        progress: show a progress bar for large sets (20,000 frames or more).

    Returns:
        `out_dir` as a `Path`.
    """
    check_positive_int(frames_per_sequence, "frames_per_sequence")
    if (
        isinstance(subjects, str)
        or not subjects
        or any(subject not in H36M_SUBJECTS for subject in subjects)
    ):
        raise ValueError(f"Expected subjects from {H36M_SUBJECTS}. Received: subjects={subjects!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [
        (subject, action, repetition)
        for subject in subjects
        for action in ACTIONS
        for repetition in range(1, SEQUENCES_PER_ACTION + 1)
    ]
    total_frames = len(jobs) * frames_per_sequence
    positions_3d, keypoints_gt, keypoints_detected = {}, {}, {}
    bodies = {
        subject: Body.sample(np.random.default_rng([seed, H36M_SUBJECTS.index(subject)]))
        for subject in subjects
    }
    for subject, action, repetition in tqdm(
        jobs,
        desc="synthetic data",
        unit="seq",
        disable=not progress or total_frames < _PROGRESS_MIN_FRAMES,
    ):
        key = [seed, H36M_SUBJECTS.index(subject), list(ACTIONS).index(action), repetition]
        world = generate_sequence(
            np.random.default_rng(key),
            bodies[subject],
            action,
            frames_per_sequence,
            capture_centre(subject),
        )
        name = f"{action} {repetition}"
        positions_3d.setdefault(subject, {})[name] = world.astype(np.float32)
        pixels = [
            project_to_pixels(world[:, H36M_17_FROM_32], camera) for camera in h36m_cameras(subject)
        ]
        keypoints_gt.setdefault(subject, {})[name] = [view.astype(np.float32) for view in pixels]
        noise_rng = np.random.default_rng(key + [1])
        keypoints_detected.setdefault(subject, {})[name] = [
            _detections(noise_rng, view[:, H36M_16_FROM_17]).astype(np.float32) for view in pixels
        ]
    _save_npz(out_dir / FILE_NAMES[0], positions_3d=positions_3d)
    _save_npz(out_dir / FILE_NAMES[1], positions_2d=keypoints_gt, metadata=_metadata("h36m17"))
    _save_npz(
        out_dir / FILE_NAMES[2], positions_2d=keypoints_detected, metadata=_metadata("h36m16")
    )
    return out_dir


def default_synthetic_dir(cache_dir: str | Path | None = None, *, progress: bool = True) -> Path:
    """The default synthetic set (seed 0, default size, all subjects), generated once into the cache.

    Lives in `<cache_dir>/synthetic-<hash of the generator version and parameters>`; generated into a
    temporary folder and renamed, so concurrent runs never see a half-written set.
    """
    parameters = {
        "version": GENERATOR_VERSION,
        "frames_per_sequence": DEFAULT_FRAMES_PER_SEQUENCE,
        "seed": 0,
        "subjects": list(H36M_SUBJECTS),
    }
    digest = hashlib.sha1(json.dumps(parameters, sort_keys=True).encode()).hexdigest()[:12]
    root = cache_root(cache_dir)
    target = root / f"synthetic-{digest}"

    def complete(folder: Path) -> bool:
        return all((folder / name).is_file() for name in FILE_NAMES)

    if complete(target):
        return target
    root.mkdir(parents=True, exist_ok=True)
    if target.exists():  # incomplete: left behind by an older, non-atomic write
        shutil.rmtree(target, ignore_errors=True)
    try:
        with atomic_directory(target) as staging:
            write_synthetic_dataset(staging, progress=progress)
    except OSError:
        if not complete(target):  # else another process finished the same set first: use it
            raise
    return target
