"""The 32/17/16-joint Human3.6M skeletons and the stacked-hourglass order, against the facts file."""

import pytest

from graphmdn_tf.skeletons import (
    H36M_16,
    H36M_16_FROM_17,
    H36M_16_FROM_32,
    H36M_17,
    H36M_17_FROM_32,
    H36M_32,
    SH_NAMES,
    SH_TO_GT_PERM,
    h36m_graph,
)
from tests.data.facts import load_facts


@pytest.fixture(scope="module")
def facts(shared_dir):
    return load_facts(shared_dir)


def remove_joints(parents, removed):
    """VideoPose3D's Skeleton.remove_joints, written again: kept joints re-parented to the nearest kept ancestor."""
    kept = [joint for joint in range(len(parents)) if joint not in removed]
    new_parents = []
    for joint in kept:
        parent = parents[joint]
        while parent in removed:
            parent = parents[parent]
        new_parents.append(-1 if parent < 0 else kept.index(parent))
    return kept, new_parents


def test_32_joint_skeleton_matches_facts(facts):
    assert list(H36M_32.parents) == facts.value(4, "parents32")
    assert list(H36M_32.joints_left) == facts.value(4, "joints_left32")
    assert list(H36M_32.joints_right) == facts.value(4, "joints_right32")
    named = {index: name for index, name in enumerate(H36M_32.joint_names) if name}
    assert named == {
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
    }


def test_17_joint_skeleton_matches_facts(facts):
    assert list(H36M_17_FROM_32) == facts.value(5, "kept32")
    assert list(H36M_17.parents) == facts.value(5, "parents17")
    assert list(H36M_17.joint_names) == facts.names(5, "names17")
    assert list(H36M_17.joints_left) == facts.value(5, "joints_left17")
    assert list(H36M_17.joints_right) == facts.value(5, "joints_right17")
    kept, parents = remove_joints(H36M_32.parents, set(facts.value(5, "removed")))
    assert kept == list(H36M_17_FROM_32)
    parents[11] = parents[14] = 8  # VideoPose3D rewires the shoulders to the thorax
    assert parents == list(H36M_17.parents)


def test_16_joint_skeleton_matches_facts(facts):
    assert list(H36M_16_FROM_32) == facts.value(6, "kept32")
    assert list(H36M_16_FROM_17) == facts.value(6, "kept-from-17")
    assert list(H36M_16.parents) == facts.value(6, "parents16")
    assert list(H36M_16.joint_names) == facts.names(6, "names16")
    assert list(H36M_16.joints_left) == facts.value(6, "joints_left16")
    assert list(H36M_16.joints_right) == facts.value(6, "joints_right16")
    assert [list(group) for group in H36M_16.joint_groups] == facts.value(6, "joints_group")
    kept, parents = remove_joints(H36M_32.parents, set(facts.value(6, "removed")))
    assert kept == list(H36M_16_FROM_32)
    parents[10] = parents[13] = 8  # shoulders rewired to the thorax
    assert parents == list(H36M_16.parents)
    # The 16-joint set is the 17-joint set without Neck/Nose.
    assert [H36M_17.joint_names[i] for i in H36M_16_FROM_17] == list(H36M_16.joint_names)
    assert [H36M_17_FROM_32[i] for i in H36M_16_FROM_17] == list(H36M_16_FROM_32)


@pytest.mark.parametrize("skeleton", [H36M_17, H36M_16], ids=["17", "16"])
def test_left_right_joints_are_named_and_mirrored(skeleton):
    names = skeleton.joint_names
    assert all(names[i].startswith("L") for i in skeleton.joints_left)
    assert all(names[i].startswith("R") for i in skeleton.joints_right)
    assert [names[i][1:] for i in skeleton.joints_left] == [
        names[i][1:] for i in skeleton.joints_right
    ]
    assert skeleton.num_joints == len(names) == len(skeleton.parents)


def test_stacked_hourglass_order_matches_facts(facts):
    assert list(SH_NAMES) == facts.value(8, "SH_NAMES")
    assert list(SH_TO_GT_PERM) == facts.value(8, "SH_TO_GT_PERM")
    # SemGCN's construction: for each 16-joint Human3.6M name, its index in the SH order.
    assert list(SH_TO_GT_PERM) == [SH_NAMES.index(name) for name in H36M_16.joint_names]


def test_skeleton_graph():
    graph = h36m_graph()
    assert graph == H36M_16.graph()
    assert graph.node_names == H36M_16.joint_names
    assert H36M_17.graph().num_nodes == 17 and H36M_17.graph().node_groups is None
    assert len(H36M_32.graph().edges) == 31
