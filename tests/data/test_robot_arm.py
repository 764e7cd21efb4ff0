"""The robot-arm generator against an independent NumPy forward kinematics, its seeding, shapes, errors."""

import math

import numpy as np
import pytest

from graphmdn_tf.data.robot_arm import (
    INPUT_DIM,
    TARGET_DIM,
    arm_graph,
    chain_link_lengths,
    elbow_distances,
    forward_kinematics,
    make_robot_arm,
    two_link_elbows,
)


def reference_chain(base, angles, lengths):
    """Joint positions of one chain arm, one joint at a time with plain floats."""
    points, heading = [tuple(base)], 0.0
    for angle, length in zip(angles, lengths):
        heading += angle
        x, y = points[-1]
        points.append((x + length * math.cos(heading), y + length * math.sin(heading)))
    return np.array(points)


@pytest.mark.parametrize("lengths", [(0.55, 0.35), (0.4, 0.3, 0.2), (0.9,)])
def test_targets_are_forward_kinematics_of_the_angles(lengths):
    samples = make_robot_arm(50, link_lengths=lengths, base_spread=0.05, seed=3)
    for row in range(50):
        expected = reference_chain(samples.targets[row, 0], samples.angles[row, 0], lengths)
        np.testing.assert_allclose(samples.targets[row], expected, atol=1e-6)
        links = np.linalg.norm(np.diff(samples.targets[row], axis=0), axis=-1)
        np.testing.assert_allclose(links, lengths, atol=1e-6)


def test_several_arms_form_a_star_tree_sharing_the_base():
    samples = make_robot_arm(20, link_lengths=(0.3, 0.2), num_arms=3, seed=0)
    assert samples.graph.num_nodes == 7 and len(samples.graph.edges) == 6
    assert samples.observed_nodes == (0, 2, 4, 6)
    for arm in range(3):
        nodes = [0, 1 + 2 * arm, 2 + 2 * arm]
        assert {(nodes[1], 0), (nodes[2], nodes[1])} <= set(samples.graph.edges)
        for row in range(20):
            expected = reference_chain(
                samples.targets[row, 0], samples.angles[row, arm], (0.3, 0.2)
            )
            np.testing.assert_allclose(samples.targets[row, nodes], expected, atol=1e-6)


def test_input_encoding_positions_and_mask_on_observed_nodes_zeros_elsewhere():
    samples = make_robot_arm(30, link_lengths=(0.4, 0.3, 0.2), observed_nodes=(0, -1), seed=1)
    assert samples.inputs.shape == (30, 4, INPUT_DIM) and samples.targets.shape == (
        30,
        4,
        TARGET_DIM,
    )
    assert samples.inputs.dtype == np.float32 and samples.targets.dtype == np.float32
    np.testing.assert_array_equal(samples.inputs[:, [0, 3], :2], samples.targets[:, [0, 3]])
    np.testing.assert_array_equal(samples.inputs[:, [0, 3], 2], 1.0)
    np.testing.assert_array_equal(samples.inputs[:, [1, 2]], 0.0)
    assert samples.graph.node_names == ("base", "joint_1", "joint_2", "end_effector")


def test_seeded_and_angles_within_limits():
    limits = [(-1.0, 2.0), (0.2, 2.9)]
    first = make_robot_arm(200, angle_limits=limits, seed=7)
    again = make_robot_arm(200, angle_limits=limits, seed=7)
    other = make_robot_arm(200, angle_limits=limits, seed=8)
    np.testing.assert_array_equal(first.inputs, again.inputs)
    np.testing.assert_array_equal(first.targets, again.targets)
    assert not np.allclose(first.targets, other.targets)
    for link, (low, high) in enumerate(limits):
        assert low <= first.angles[..., link].min() and first.angles[..., link].max() <= high
    default = make_robot_arm(2000, seed=0)
    assert default.angles.min() >= -np.pi and default.angles.max() <= np.pi
    assert (default.targets[:, 0] == 0).all(), "base_spread 0 puts the base on the origin"


def test_two_link_elbows_are_the_true_elbow_and_its_mirror():
    samples = make_robot_arm(500, base_spread=0.1, seed=2)
    up, down = two_link_elbows(samples.targets[:, 0], samples.targets[:, 2], samples.link_lengths)
    bend = samples.angles[:, 0, 1]
    truth = samples.targets[:, 1]
    np.testing.assert_allclose(np.where((bend < 0)[:, None], up, down), truth, atol=1e-5)
    for elbow in (up, down):  # both are answers: links of the right lengths
        np.testing.assert_allclose(
            np.linalg.norm(elbow - samples.targets[:, 0], axis=-1), 0.55, atol=1e-5
        )
        np.testing.assert_allclose(
            np.linalg.norm(samples.targets[:, 2] - elbow, axis=-1), 0.35, atol=1e-5
        )
    # The other answer, from the angles: theta_2 -> -theta_2 and theta_1 turned by twice the angle at the base.
    for row in range(20):
        theta_1, theta_2 = samples.angles[row, 0]
        turn = 2 * math.atan2(0.35 * math.sin(theta_2), 0.55 + 0.35 * math.cos(theta_2))
        other = reference_chain(samples.targets[row, 0], (theta_1 + turn, -theta_2), (0.55, 0.35))
        np.testing.assert_allclose(other[2], samples.targets[row, 2], atol=1e-5)
        np.testing.assert_allclose(other[1], (down if bend[row] < 0 else up)[row], atol=1e-5)


def test_forward_kinematics_broadcasts_and_checks_angles():
    angles = np.zeros((4, 5, 3))
    joints = forward_kinematics(angles, (0.1, 0.2, 0.3))
    assert joints.shape == (4, 5, 4, 2)
    np.testing.assert_allclose(joints[0, 0, :, 0], [0.0, 0.1, 0.3, 0.6])
    with pytest.raises(ValueError, match=r"Expected angles \[\.\.\., 3\]"):
        forward_kinematics(np.zeros((4, 2)), (0.1, 0.2, 0.3))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"num_samples": 0}, "num_samples to be a positive integer"),
        ({"num_samples": 2.5}, "num_samples to be a positive integer"),
        ({"link_lengths": ()}, "positive, finite link lengths"),
        ({"link_lengths": (0.5, -0.1)}, "positive, finite link lengths"),
        ({"link_lengths": (0.5, float("nan"))}, "positive, finite link lengths"),
        ({"angle_limits": [(0, 1)]}, "angle_limits as 2 finite"),
        ({"angle_limits": [(0, 1), (1, 0)]}, "low < high"),
        ({"observed_nodes": (0, 3)}, "distinct node indices in \\[-3, 3\\)"),
        ({"observed_nodes": (0, 0)}, "distinct node indices"),
        ({"observed_nodes": ()}, "distinct node indices"),
        ({"num_arms": 0}, "num_arms >= 1"),
        ({"base_spread": -0.1}, "base_spread >= 0"),
    ],
)
def test_bad_arguments_are_refused(arguments, message):
    arguments = {"num_samples": 10, **arguments}
    with pytest.raises(ValueError, match=message):
        make_robot_arm(**arguments)


def test_two_link_elbows_refuses_unreachable_targets_and_other_arms():
    with pytest.raises(ValueError, match="within reach"):
        two_link_elbows([0, 0], [0.95, 0.0], (0.55, 0.35))
    with pytest.raises(ValueError, match="within reach"):
        two_link_elbows([0, 0], [0.1, 0.0], (0.55, 0.35))
    with pytest.raises(ValueError, match="two link lengths"):
        two_link_elbows([0, 0], [0.5, 0.0], (0.3, 0.2, 0.1))


def test_arm_graph_is_a_chain():
    graph = arm_graph(3)
    assert graph.num_nodes == 4 and graph.edges == ((1, 0), (2, 1), (3, 2))
    with pytest.raises(ValueError, match="num_links >= 1"):
        arm_graph(0)


def test_elbow_distances_and_link_lengths():
    samples = make_robot_arm(40, seed=4)
    base, end_effector = samples.targets[:, 0], samples.targets[:, 2]
    up, down = two_link_elbows(base, end_effector, samples.link_lengths)
    distances = elbow_distances(samples.targets[:, 1], base, end_effector, samples.link_lengths)
    assert distances.shape == (40, 2)
    np.testing.assert_allclose(distances.min(axis=-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(
        distances.max(axis=-1), np.linalg.norm(up - down, axis=-1), atol=1e-5
    )
    per_kernel = elbow_distances(
        np.stack([up, down, (up + down) / 2], axis=1), base, end_effector, (0.55, 0.35)
    )
    assert per_kernel.shape == (40, 3, 2)
    np.testing.assert_allclose(per_kernel[:, 0, 0], 0.0, atol=1e-9)
    np.testing.assert_allclose(per_kernel[:, 1, 1], 0.0, atol=1e-9)
    np.testing.assert_allclose(per_kernel[:, 2, 0], per_kernel[:, 2, 1], atol=1e-9)
    np.testing.assert_allclose(
        chain_link_lengths(samples.targets), np.tile([0.55, 0.35], (40, 1)), atol=1e-6
    )
    with pytest.raises(ValueError, match=r"Expected elbows \[40, \.\.\., 2\]"):
        elbow_distances(np.zeros((39, 2)), base, end_effector, (0.55, 0.35))
