r"""A planar robot arm: the inverse-kinematics problem of Bishop (1994) on a graph, generated, no download.

A chain arm of L links with lengths l_1..l_L hangs from a base b in R^2. Its joint angles theta_1..theta_L
are relative (theta_k is the angle of link k to link k-1; theta_1 to the x axis), and forward
kinematics gives the position of every joint, node 0 the base and node L the end effector:

    phi_k = theta_1 + ... + theta_k                                   (absolute angle of link k)
    p_0   = b,    p_k = p_{k-1} + l_k (cos phi_k, sin phi_k),   k = 1..L

The angles are drawn independently and uniformly within their limits, theta_k ~ U[low_k, high_k].

The inverse problem: observe some nodes (by default the base and the end effector), predict every
node. For two links it has exactly two answers (`two_link_elbows`): with d = |p_2 - b|,
u = (p_2 - b) / d and n = (-u_y, u_x) the left normal of u,

    a = (l_1^2 - l_2^2 + d^2) / (2 d),    h = sqrt(l_1^2 - a^2),
    elbow up   = b + a u + h n     (theta_2 < 0: the elbow left of the line from base to end effector)
    elbow down = b + a u - h n     (theta_2 > 0)

With theta_1 over the whole circle and limits on theta_2 symmetric about 0, both are equally likely
for every end effector, so the mean of p(elbow | end effector) is b + a u, which is neither: a
regression on the squared error lands there, a point at distance h from both answers whose links
have lengths |a| and |d - a| instead of l_1 and l_2.

Input encoding, per node, `[x, y, observed]` (`input_dim` 3): an observed node carries its position
and 1; a masked node carries `[0, 0, 0]`. Targets are every node's position, `[x, y]` (`target_dim` 2).
GraphMDN's means are `tanh`-bounded, so keep base spread plus reach (sum of the link lengths) below 1
(the defaults reach 0.9).

Several arms (`num_arms` > 1) share the base: a star-shaped tree, arm a's joints being the nodes
1 + a L .. (a + 1) L, each arm with its own angles; the observed nodes are then the base and every end
effector by default.

Reference: C. M. Bishop, "Mixture Density Networks", Aston University report NCRG/94/004, 1994 (the
two-link robot arm, Section 6).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from graphmdn_tf.graphs import Graph

#: Link lengths of the default arm: a reach of 0.9 and no configuration with the end effector on the base.
DEFAULT_LINK_LENGTHS = (0.55, 0.35)
#: Features per input node: x, y, observed (1) or masked (0).
INPUT_DIM = 3
#: Features per target node: x, y.
TARGET_DIM = 2


@dataclass(frozen=True)
class RobotArmSamples:
    """Generated arms: model inputs and targets, with the angles and the arm that made them.

    Attributes:
        inputs: [samples, nodes, 3] float32, `[x, y, observed]` (masked nodes `[0, 0, 0]`).
        targets: [samples, nodes, 2] float32, every joint's position.
        angles: [samples, arms, links] float64, the relative joint angles theta (radians).
        link_lengths: the L link lengths (the same for every arm).
        observed_nodes: the node indices whose positions are in `inputs`.
        graph: the arm's `Graph` (a chain, or a star of chains for several arms).
    """

    inputs: np.ndarray
    targets: np.ndarray
    angles: np.ndarray
    link_lengths: tuple
    observed_nodes: tuple
    graph: Graph

    def __len__(self) -> int:
        return len(self.inputs)


def _check_link_lengths(link_lengths) -> tuple:
    lengths = tuple(float(length) for length in link_lengths)
    if not lengths or not all(np.isfinite(length) and length > 0 for length in lengths):
        raise ValueError(
            f"Expected one or more positive, finite link lengths. Received: link_lengths={link_lengths!r}"
        )
    return lengths


def _check_angle_limits(angle_limits, num_links: int) -> np.ndarray:
    if angle_limits is None:
        return np.tile([-np.pi, np.pi], (num_links, 1))
    limits = np.asarray(angle_limits, dtype=np.float64)
    if (
        limits.shape != (num_links, 2)
        or not np.all(np.isfinite(limits))
        or np.any(limits[:, 0] >= limits[:, 1])
    ):
        raise ValueError(
            f"Expected angle_limits as {num_links} finite (low, high) pairs with low < high, one per link. "
            f"Received: angle_limits={angle_limits!r}"
        )
    return limits


def arm_graph(num_links: int, num_arms: int = 1) -> Graph:
    """The arm as a `Graph`: node 0 the base, then each arm's joints out to its end effector (a chain;
    a star of chains sharing the base for `num_arms` > 1). No node groups (every node its own group)."""
    if int(num_links) < 1 or int(num_arms) < 1:
        raise ValueError(
            f"Expected num_links >= 1 and num_arms >= 1. Received: {num_links=}, {num_arms=}"
        )
    parents, names = [-1], ["base"]
    for arm in range(num_arms):
        for joint in range(1, num_links + 1):
            parents.append(0 if joint == 1 else len(parents) - 1)
            label = "end_effector" if joint == num_links else f"joint_{joint}"
            names.append(label if num_arms == 1 else f"arm_{arm}_{label}")
    return Graph.from_parents(parents, node_names=names)


def forward_kinematics(angles, link_lengths, base=None) -> np.ndarray:
    """Joint positions p_0..p_L [..., L + 1, 2] of chain arms with relative angles `angles` [..., L].

    `base` [..., 2] (default the origin) is p_0; see the module docstring for the formula.
    """
    lengths = np.asarray(_check_link_lengths(link_lengths))
    angles = np.asarray(angles, dtype=np.float64)
    if angles.shape[-1:] != lengths.shape:
        raise ValueError(
            f"Expected angles [..., {len(lengths)}] (one per link). Received: angles.shape={angles.shape}"
        )
    absolute = np.cumsum(angles, axis=-1)  # phi_k
    steps = lengths * np.stack([np.cos(absolute), np.sin(absolute)], axis=-1).swapaxes(
        -1, -2
    )  # [..., 2, L]
    offsets = np.concatenate(
        [np.zeros(steps.shape[:-1] + (1,)), np.cumsum(steps, axis=-1)], axis=-1
    )
    base = (
        np.zeros(angles.shape[:-1] + (2,)) if base is None else np.asarray(base, dtype=np.float64)
    )
    return base[..., None, :] + offsets.swapaxes(-1, -2)  # [..., L + 1, 2]


def two_link_elbows(base, end_effector, link_lengths) -> tuple[np.ndarray, np.ndarray]:
    """The two analytic inverse-kinematics answers of a two-link arm: (elbow up, elbow down), each [..., 2].

    Closed form in the module docstring. Raises ValueError where the end effector is out of reach
    (d > l_1 + l_2 or d < |l_1 - l_2|, within 1e-9).
    """
    lengths = _check_link_lengths(link_lengths)
    if len(lengths) != 2:
        raise ValueError(f"Expected two link lengths. Received: link_lengths={link_lengths!r}")
    first, second = lengths
    base = np.asarray(base, dtype=np.float64)
    reach = np.asarray(end_effector, dtype=np.float64) - base
    distance = np.linalg.norm(reach, axis=-1, keepdims=True)  # d
    if np.any(distance > first + second + 1e-9) or np.any(distance < abs(first - second) - 1e-9):
        raise ValueError(
            f"Expected end effectors within reach, |l1 - l2| <= d <= l1 + l2 = [{abs(first - second)}, "
            f"{first + second}]. Received: d in [{distance.min()}, {distance.max()}]"
        )
    direction = reach / np.maximum(distance, 1e-12)  # u
    normal = np.stack(
        [-direction[..., 1], direction[..., 0]], axis=-1
    )  # n, u rotated by +90 degrees
    along = (first**2 - second**2 + distance**2) / (2 * np.maximum(distance, 1e-12))  # a
    height = np.sqrt(np.maximum(first**2 - along**2, 0.0))  # h
    foot = base + along * direction
    return foot + height * normal, foot - height * normal


def _observed_nodes(observed_nodes, graph: Graph, num_links: int, num_arms: int) -> tuple:
    if observed_nodes is None:
        return (0, *(arm * num_links + num_links for arm in range(num_arms)))
    nodes = tuple(
        int(node) % graph.num_nodes if -graph.num_nodes <= int(node) < graph.num_nodes else None
        for node in observed_nodes
    )
    if not nodes or None in nodes or len(set(nodes)) != len(nodes):
        raise ValueError(
            f"Expected distinct node indices in [-{graph.num_nodes}, {graph.num_nodes}) for observed_nodes. "
            f"Received: observed_nodes={observed_nodes!r}"
        )
    return tuple(sorted(nodes))


def make_robot_arm(
    num_samples: int,
    link_lengths: Sequence[float] = DEFAULT_LINK_LENGTHS,
    angle_limits=None,
    observed_nodes=None,
    num_arms: int = 1,
    base_spread: float = 0.0,
    seed: int = 0,
) -> RobotArmSamples:
    """`num_samples` random arms, seeded: the inverse-kinematics data set of the module docstring.

    Args:
        num_samples: number of arms drawn (>= 1).
        link_lengths: l_1..l_L (L >= 1), positive.
        angle_limits: L pairs (low, high) in radians for theta_1..theta_L; default (-pi, pi) for each.
        observed_nodes: the nodes whose positions are given (negative indices count from the end);
            default the base and every end effector.
        num_arms: arms sharing the base (a star-shaped tree for more than one).
        base_spread: the base is drawn uniformly in [-base_spread, base_spread]^2 (0: the origin).
        seed: the NumPy generator's seed; the same arguments and seed give the same arrays.

    Returns:
        `RobotArmSamples` (inputs [F, nodes, 3], targets [F, nodes, 2], ...).
    """
    if not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
        raise ValueError(
            f"Expected num_samples to be a positive integer. Received: num_samples={num_samples!r}"
        )
    lengths = _check_link_lengths(link_lengths)
    limits = _check_angle_limits(angle_limits, len(lengths))
    if not (np.isfinite(base_spread) and base_spread >= 0):
        raise ValueError(f"Expected base_spread >= 0. Received: base_spread={base_spread!r}")
    graph = arm_graph(len(lengths), num_arms)
    observed = _observed_nodes(observed_nodes, graph, len(lengths), num_arms)
    rng = np.random.default_rng(seed)
    angles = rng.uniform(limits[:, 0], limits[:, 1], size=(num_samples, num_arms, len(lengths)))
    base = rng.uniform(-base_spread, base_spread, size=(num_samples, 2))
    joints = forward_kinematics(
        angles, lengths, np.repeat(base[:, None], num_arms, axis=1)
    )  # [F, arms, L + 1, 2]
    targets = np.concatenate([base[:, None], joints[:, :, 1:].reshape(num_samples, -1, 2)], axis=1)
    mask = np.zeros((graph.num_nodes, 1))
    mask[list(observed)] = 1.0
    inputs = np.concatenate(
        [
            np.where(mask > 0, targets, 0.0),
            np.broadcast_to(mask, (num_samples, graph.num_nodes, 1)),
        ],
        axis=-1,
    )
    return RobotArmSamples(
        inputs.astype(np.float32), targets.astype(np.float32), angles, lengths, observed, graph
    )


def elbow_distances(elbows, base, end_effector, link_lengths) -> np.ndarray:
    """Distances of predicted elbows to the two analytic answers: [batch, ..., 2] (to elbow up, to elbow down).

    Args:
        elbows: predicted elbow positions [batch, ..., 2] (for example one per mixture kernel, [B, M, 2]).
        base, end_effector: the observed positions [batch, 2] the answers are computed from.
        link_lengths: the two link lengths.
    """
    elbows = np.asarray(elbows, dtype=np.float64)
    up, down = two_link_elbows(base, end_effector, link_lengths)
    if elbows.ndim < 2 or elbows.shape[0] != up.shape[0] or elbows.shape[-1] != 2:
        raise ValueError(
            f"Expected elbows [{up.shape[0]}, ..., 2]. Received: elbows.shape={elbows.shape}"
        )
    answers = np.stack([up, down], axis=-2).reshape(
        (up.shape[0],) + (1,) * (elbows.ndim - 2) + (2, 2)
    )
    return np.linalg.norm(elbows[..., None, :] - answers, axis=-1)


def chain_link_lengths(positions) -> np.ndarray:
    """Lengths of the links of chain arms with joint positions [..., L + 1, 2]: [..., L]."""
    return np.linalg.norm(np.diff(np.asarray(positions, dtype=np.float64), axis=-2), axis=-1)
