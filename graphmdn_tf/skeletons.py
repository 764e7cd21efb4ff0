"""Human3.6M skeletons: the 32-joint mocap set, VideoPose3D's 17 joints and SemGCN's 16 joints.

Constants follow `shared/reference/h36m_facts.txt` (sections 4-6): the same parents, left/right
joints and non-local joint groups as VideoPose3D, SemGCN and the GraphMDN reference code.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphmdn_tf.graphs import Graph


@dataclass(frozen=True)
class Skeleton:
    """A named joint set: parents (-1 for the root), left/right joints and optional joint groups."""

    name: str
    joint_names: tuple
    parents: tuple
    joints_left: tuple
    joints_right: tuple
    joint_groups: tuple | None = None

    @property
    def num_joints(self) -> int:
        return len(self.parents)

    def graph(self) -> Graph:
        """The skeleton as a `Graph` (edges child-parent, joint groups as node groups)."""
        return Graph.from_parents(
            self.parents, node_groups=self.joint_groups, node_names=self.joint_names
        )


# Section 4: the original 32-joint mocap order (unnamed joints are ''; they are removed later).
_NAMES32 = [""] * 32
for _index, _name in {
    0: "Hip",
    1: "RHip",
    2: "RKnee",
    3: "RFoot",
    6: "LHip",
    7: "LKnee",
    8: "LFoot",
    12: "Spine",
    13: "Thorax",
    14: "Neck/Nose",
    15: "Head",
    17: "LShoulder",
    18: "LElbow",
    19: "LWrist",
    25: "RShoulder",
    26: "RElbow",
    27: "RWrist",
}.items():
    _NAMES32[_index] = _name

H36M_32 = Skeleton(
    name="h36m32",
    joint_names=tuple(_NAMES32),
    parents=(
        -1,
        0,
        1,
        2,
        3,
        4,
        0,
        6,
        7,
        8,
        9,
        0,
        11,
        12,
        13,
        14,
        12,
        16,
        17,
        18,
        19,
        20,
        19,
        22,
        12,
        24,
        25,
        26,
        27,
        28,
        27,
        30,
    ),
    joints_left=(6, 7, 8, 9, 10, 16, 17, 18, 19, 20, 21, 22, 23),
    joints_right=(1, 2, 3, 4, 5, 24, 25, 26, 27, 28, 29, 30, 31),
)

# Section 5: VideoPose3D's 17 joints.
H36M_17_FROM_32 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
H36M_17 = Skeleton(
    name="h36m17",
    joint_names=(
        "Hip",
        "RHip",
        "RKnee",
        "RFoot",
        "LHip",
        "LKnee",
        "LFoot",
        "Spine",
        "Thorax",
        "Neck/Nose",
        "Head",
        "LShoulder",
        "LElbow",
        "LWrist",
        "RShoulder",
        "RElbow",
        "RWrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    joints_left=(4, 5, 6, 11, 12, 13),
    joints_right=(1, 2, 3, 14, 15, 16),
)

# Section 6: SemGCN / GraphMDN's 16 joints (the 17-joint set without Neck/Nose).
H36M_16_FROM_32 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 15, 17, 18, 19, 25, 26, 27)
H36M_16_FROM_17 = (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16)
H36M_16 = Skeleton(
    name="h36m16",
    joint_names=tuple(H36M_17.joint_names[joint] for joint in H36M_16_FROM_17),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 8, 10, 11, 8, 13, 14),
    joints_left=(4, 5, 6, 10, 11, 12),
    joints_right=(1, 2, 3, 13, 14, 15),
    joint_groups=((2, 3), (5, 6), (1, 4), (0, 7), (8, 9), (14, 15), (11, 12), (10, 13)),
)

# Section 8: the stacked-hourglass (MPII) detector's 16-joint order, and the permutation SemGCN applies
# to bring it into the 16-joint Human3.6M order above: `keypoints_h36m16 = keypoints_sh[:, SH_TO_GT_PERM]`.
SH_NAMES = (
    "RFoot",
    "RKnee",
    "RHip",
    "LHip",
    "LKnee",
    "LFoot",
    "Hip",
    "Spine",
    "Thorax",
    "Head",
    "RWrist",
    "RElbow",
    "RShoulder",
    "LShoulder",
    "LElbow",
    "LWrist",
)
SH_TO_GT_PERM = (6, 2, 1, 0, 3, 4, 5, 7, 8, 9, 13, 14, 15, 12, 11, 10)
# The left and right joints of the detector's order: Human3.6M joint j is detector joint SH_TO_GT_PERM[j].
SH_JOINTS_LEFT = tuple(sorted(SH_TO_GT_PERM[joint] for joint in H36M_16.joints_left))
SH_JOINTS_RIGHT = tuple(sorted(SH_TO_GT_PERM[joint] for joint in H36M_16.joints_right))


def h36m_graph() -> Graph:
    """The 16-joint Human3.6M graph with SemGCN's non-local joint groups (the default graph)."""
    return H36M_16.graph()
