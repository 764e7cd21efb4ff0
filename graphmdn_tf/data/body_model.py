"""A kinematic model of the Human3.6M 32-joint skeleton and the motions of the synthetic data set.

The body is a tree of rigid bones (lengths per subject, near Human3.6M's means) posed by joint angles
in degrees, each clipped to an anatomical range (`JOINT_LIMITS`). Body axes: x to the subject's right,
y forward, z up; world axes are Human3.6M's (metres, Z up), reached by a rotation about the vertical
(`yaw`) and a translation that keeps the lowest foot joint on the floor.

A motion is a set of smooth angle tracks over time: a base posture, random keyframes blended with a
C1 smoothstep (so poses change continuously), slow sinusoidal sway, and for walking a gait cycle with
left/right legs and arms in antiphase along a circular path inside the capture volume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graphmdn_tf.skeletons import H36M_32

FPS = 50  # Human3.6M's frame rate

# Mean bone lengths in metres (Human3.6M-like: hips 27 cm apart, thigh and shank about 45 cm).
BONE_LENGTHS = {
    "hip_half": 0.133,
    "thigh": 0.443,
    "shank": 0.454,
    "foot": 0.15,
    "spine": 0.233,
    "thorax": 0.257,
    "neck": 0.118,
    "head": 0.115,
    "shoulder": 0.151,
    "upper_arm": 0.279,
    "forearm": 0.252,
    "hand": 0.09,
}

# Anatomical ranges in degrees (flexion positive forward at hip and shoulder, knee and elbow bend
# positive in their only direction; abduction positive away from the body).
JOINT_LIMITS = {
    "spine_flex": (-20, 85),
    "spine_side": (-30, 30),
    "spine_twist": (-40, 40),
    "neck_flex": (-40, 55),
    "neck_turn": (-70, 70),
    "hip_flex": (-25, 125),
    "hip_abd": (-15, 45),
    "hip_rot": (-35, 40),
    "knee": (0, 145),
    "ankle": (-30, 40),
    "shoulder_flex": (-50, 175),
    "shoulder_abd": (-20, 160),
    "shoulder_rot": (-80, 80),
    "elbow": (0, 145),
}
SIDED = (
    "hip_flex",
    "hip_abd",
    "hip_rot",
    "knee",
    "ankle",
    "shoulder_flex",
    "shoulder_abd",
    "shoulder_rot",
    "elbow",
)
DEGREES_OF_FREEDOM = ("spine_flex", "spine_side", "spine_twist", "neck_flex", "neck_turn") + tuple(
    f"{side}_{name}" for side in ("r", "l") for name in SIDED
)
_FOOT_JOINTS = (3, 4, 5, 8, 9, 10)
_ARM_REST = {"shoulder_flex": 0.0, "shoulder_abd": 8.0, "shoulder_rot": 0.0, "elbow": 12.0}


@dataclass(frozen=True)
class Body:
    """One subject's bone lengths (metres) as rest offsets of each joint from its parent, body axes."""

    offsets: np.ndarray  # [32, 3]

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Body:
        """A subject: overall scale 0.92-1.08 of the mean lengths, each bone pair +-3% more (symmetric)."""
        scale = rng.uniform(0.92, 1.08)
        length = {
            name: value * scale * (1.0 + rng.uniform(-0.03, 0.03))
            for name, value in BONE_LENGTHS.items()
        }
        offsets = np.zeros((32, 3))
        for side, hip, knee, ankle, toe, tip in ((1, 1, 2, 3, 4, 5), (-1, 6, 7, 8, 9, 10)):
            offsets[hip] = (side * length["hip_half"], 0, 0)
            offsets[knee] = (0, 0, -length["thigh"])
            offsets[ankle] = (0, 0, -length["shank"])
            offsets[toe] = np.array([0, 0.9, -0.42]) * length["foot"]
            offsets[tip] = (0, 0.35 * length["foot"], 0)
        offsets[12] = (0, 0, length["spine"])
        offsets[13] = offsets[16] = offsets[24] = (0, 0, length["thorax"])
        offsets[14] = np.array([0, 0.42, 0.91]) * length["neck"]
        offsets[15] = np.array([0, -0.25, 0.97]) * length["head"]
        for side, shoulder, elbow, wrist, hand, thumb, hand_end, tip in (
            (-1, 17, 18, 19, 20, 21, 22, 23),
            (1, 25, 26, 27, 28, 29, 30, 31),
        ):
            offsets[shoulder] = (side * length["shoulder"], 0, 0)
            offsets[elbow] = (0, 0, -length["upper_arm"])
            offsets[wrist] = (0, 0, -length["forearm"])
            offsets[hand] = (0, 0, -0.5 * length["hand"])
            offsets[thumb] = np.array([0, 0.3, -0.3]) * length["hand"]
            offsets[hand_end] = (0, 0, -length["hand"])
            offsets[tip] = (0, 0, -0.45 * length["hand"])
        return cls(offsets=offsets)


def _rotation(axis: int, degrees: np.ndarray) -> np.ndarray:
    """Rotation matrices [T, 3, 3] about body axis 0 (x), 1 (y) or 2 (z)."""
    radians = np.deg2rad(degrees)
    cos, sin = np.cos(radians), np.sin(radians)
    matrix = np.zeros(radians.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    matrix[..., axis, axis] = 1.0
    matrix[..., i, i] = matrix[..., j, j] = cos
    matrix[..., i, j], matrix[..., j, i] = -sin, sin
    return matrix


def _chain(*rotations: np.ndarray) -> np.ndarray:
    result = rotations[0]
    for rotation in rotations[1:]:
        result = result @ rotation
    return result


def clip_to_limits(tracks: dict) -> dict:
    """Every angle track clipped to its anatomical range (`JOINT_LIMITS`)."""
    clipped = dict(tracks)
    for name in DEGREES_OF_FREEDOM:
        low, high = JOINT_LIMITS[name[2:] if name[:2] in ("r_", "l_") else name]
        clipped[name] = np.clip(tracks[name], low, high)
    return clipped


def local_rotations(tracks: dict, yaw: np.ndarray) -> dict:
    """Joint index -> local rotation [T, 3, 3] from the angle tracks (degrees). Unlisted joints: identity."""
    rx, ry, rz = (lambda angle, axis=axis: _rotation(axis, angle) for axis in range(3))
    rotations = {0: rz(yaw)}
    for sign, prefix, hip, knee, ankle, shoulder, elbow in (
        (1, "r", 1, 2, 3, 25, 26),
        (-1, "l", 6, 7, 8, 17, 18),
    ):
        track = {name: tracks[f"{prefix}_{name}"] for name in SIDED}
        rotations[hip] = _chain(
            rx(track["hip_flex"]), ry(-sign * track["hip_abd"]), rz(sign * track["hip_rot"])
        )
        rotations[knee] = rx(-track["knee"])
        rotations[ankle] = rx(track["ankle"])
        rotations[shoulder] = _chain(
            rx(track["shoulder_flex"]),
            ry(-sign * track["shoulder_abd"]),
            rz(sign * track["shoulder_rot"]),
        )
        rotations[elbow] = rx(track["elbow"])
    for joint, share in ((11, 0.6), (12, 0.4)):
        rotations[joint] = _chain(
            rz(0.5 * tracks["spine_twist"]),
            ry(0.5 * tracks["spine_side"]),
            rx(-share * tracks["spine_flex"]),
        )
    rotations[13] = _chain(rz(tracks["neck_turn"]), rx(-tracks["neck_flex"]))
    return rotations


def forward_kinematics(
    body: Body, tracks: dict, yaw: np.ndarray, root_xy: np.ndarray, floor: float = 0.02
) -> np.ndarray:
    """World positions [T, 32, 3] (metres): angles clipped to their limits, lowest foot joint at `floor`."""
    tracks = clip_to_limits(tracks)
    rotations = local_rotations(tracks, yaw)
    frames = len(yaw)
    identity = np.broadcast_to(np.eye(3), (frames, 3, 3))
    global_rotations = [None] * 32
    positions = np.zeros((frames, 32, 3))
    for joint, parent in enumerate(H36M_32.parents):
        local = rotations.get(joint, identity)
        if parent < 0:
            global_rotations[joint] = local
            continue
        positions[:, joint] = positions[:, parent] + global_rotations[parent] @ body.offsets[joint]
        global_rotations[joint] = global_rotations[parent] @ local
    positions[:, :, :2] += root_xy[:, None, :]
    positions[:, :, 2] += floor - positions[:, _FOOT_JOINTS, 2].min(axis=1, keepdims=True)
    return positions


# ------------------------------------------------------------------------------------------ motions
class MotionBuilder:
    """Angle tracks over time `t` (seconds) for one sequence, built from smooth random pieces."""

    def __init__(self, rng: np.random.Generator, t: np.ndarray):
        self.rng, self.t = rng, t
        self.tracks = {name: np.zeros_like(t) for name in DEGREES_OF_FREEDOM}
        for side in ("r", "l"):
            self.tracks[f"{side}_knee"] += 4.0
            for name, value in _ARM_REST.items():
                self.tracks[f"{side}_{name}"] += value

    def keyframe_tracks(
        self,
        ranges: dict,
        hold=(0.8, 2.0),
        dwell: float = 0.0,
        rest: dict | None = None,
        rest_probability: float = 0.0,
    ) -> dict:
        """Tracks that move together: values uniform in each `(low, high)` at shared random key times
        `hold` seconds apart, joined by C1 smoothsteps.

        `dwell` is the fraction of each interval spent still at the previous key (held poses); with
        probability `rest_probability` a key is the `rest` posture for every track (arms hanging).
        """
        t, rng = self.t, self.rng
        count = int(np.ceil((t[-1] - t[0] + hold[1]) / hold[0])) + 2
        times = (
            t[0]
            - rng.uniform(0, hold[1])
            + np.concatenate([[0.0], np.cumsum(rng.uniform(*hold, count - 1))])
        )
        at_rest = rng.random(count) < rest_probability
        index = np.clip(np.searchsorted(times, t, side="right") - 1, 0, count - 2)
        fraction = (t - times[index]) / (times[index + 1] - times[index])
        fraction = np.clip((fraction - dwell) / (1.0 - dwell), 0.0, 1.0)
        blend = fraction**2 * (3.0 - 2.0 * fraction)
        tracks = {}
        for name, (low, high) in ranges.items():
            values = rng.uniform(low, high, count)
            if rest is not None:
                values[at_rest] = rest[name]
            tracks[name] = values[index] + (values[index + 1] - values[index]) * blend
        return tracks

    def keyframes(self, low: float, high: float, hold=(0.8, 2.0), dwell: float = 0.0) -> np.ndarray:
        """One keyframed track (see `keyframe_tracks`)."""
        return self.keyframe_tracks({"value": (low, high)}, hold, dwell)["value"]

    def sway(self, amplitude: float) -> np.ndarray:
        """A slow quasi-periodic wobble of about +-amplitude (three sinusoids, 0.1-0.6 Hz)."""
        frequencies, phases = self.rng.uniform(0.1, 0.6, 3), self.rng.uniform(0, 2 * np.pi, 3)
        return (
            amplitude
            / np.sqrt(3)
            * np.sin(2 * np.pi * frequencies * self.t[:, None] + phases).sum(axis=1)
        )

    def set(self, **tracks):
        self.tracks.update(
            {
                name: np.broadcast_to(value, self.t.shape).astype(float)
                for name, value in tracks.items()
            }
        )

    def add(self, **tracks):
        for name, value in tracks.items():
            self.tracks[name] = self.tracks[name] + value

    def both(self, name: str, value_fn):
        """Set `r_<name>` and `l_<name>` from independent draws of `value_fn()`."""
        self.set(**{f"{side}_{name}": value_fn() for side in ("r", "l")})

    def gait(self, speed: float, arm_swing: float):
        """A walking cycle: legs and arms in antiphase, cadence from speed (stride about 1.35 m)."""
        phase = 2 * np.pi * speed / 1.35 * self.t + self.rng.uniform(0, 2 * np.pi)
        for side, shift in (("r", 0.0), ("l", np.pi)):
            cycle = phase + shift
            self.add(
                **{
                    f"{side}_hip_flex": 8 + 22 * np.sin(cycle),
                    f"{side}_knee": 4 + 28 * (1 + np.sin(cycle + 1.0)),
                    f"{side}_ankle": 10 * np.sin(cycle - 0.5),
                    f"{side}_shoulder_flex": -arm_swing * np.sin(cycle),
                    f"{side}_elbow": 8 + 8 * (1 - np.sin(cycle)),
                }
            )
        self.add(
            spine_twist=6 * np.sin(phase), spine_side=2 * np.sin(phase), spine_flex=5 + self.sway(3)
        )

    def weight_shift(self):
        """Standing: small hip and knee movements, occasional weight shifts from leg to leg."""
        shift = self.keyframes(-1, 1, hold=(1.5, 4.0))
        for side, sign in (("r", 1), ("l", -1)):
            self.add(
                **{
                    f"{side}_hip_abd": 4 * sign * shift + self.sway(2),
                    f"{side}_knee": 6 * np.clip(-sign * shift, 0, None) + self.sway(3),
                    f"{side}_hip_flex": self.sway(4),
                }
            )

    def hand_to_face(self, side: str, period: float):
        """Bring a hand to the mouth now and then (eating, smoking)."""
        raised = 0.5 * (1 - np.cos(2 * np.pi * self.t / period + self.rng.uniform(0, 2 * np.pi)))
        raised = np.clip(1.6 * raised - 0.3, 0, 1)
        self.add(
            **{
                f"{side}_shoulder_flex": 45 * raised,
                f"{side}_shoulder_abd": 10 * raised,
                f"{side}_elbow": 125 * raised,
                f"{side}_shoulder_rot": 15 * raised,
            }
        )

    def sit(self):
        """Sitting on a chair: hips and knees near 90 degrees, trunk upright or leaning."""
        self.set(
            r_hip_flex=self.keyframes(75, 100),
            l_hip_flex=self.keyframes(75, 100),
            r_knee=self.keyframes(70, 115),
            l_knee=self.keyframes(70, 115),
            r_hip_abd=self.keyframes(0, 20),
            l_hip_abd=self.keyframes(0, 20),
            spine_flex=self.keyframes(-10, 35, hold=(2, 5)),
            r_shoulder_flex=self.keyframes(10, 45),
            l_shoulder_flex=self.keyframes(10, 45),
            r_elbow=self.keyframes(30, 90),
            l_elbow=self.keyframes(30, 90),
        )

    def head(self, turn: float = 35, nod: float = 15):
        self.add(
            neck_turn=self.keyframes(-turn, turn, hold=(1.0, 3.0)),
            neck_flex=self.keyframes(-nod / 2, nod),
        )

    def arms(
        self,
        flex=(-30, 110),
        abd=(-10, 80),
        rot=(-40, 60),
        elbow=(0, 120),
        hold=(0.8, 2.0),
        dwell=0.0,
        sides="rl",
        rest_probability=0.0,
    ):
        """Keyframed arm movements (gestures, reaching in all directions), each arm on its own timing;
        with `rest_probability` an arm returns to hanging at the side now and then."""
        ranges = {"shoulder_flex": flex, "shoulder_abd": abd, "shoulder_rot": rot, "elbow": elbow}
        for side in sides:
            tracks = self.keyframe_tracks(ranges, hold, dwell, _ARM_REST, rest_probability)
            self.set(**{f"{side}_{name}": track for name, track in tracks.items()})
