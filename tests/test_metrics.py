import numpy as np
import pytest

from graphmdn_tf import metrics


def _rotation(axis, angle):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def test_mpjpe_against_hand_computation():
    target = np.zeros((2, 3, 3))
    predicted = target.copy()
    predicted[0, 0] = [3.0, 4.0, 0.0]  # 5 on one joint of frame 0
    predicted[1, :] = [0.0, 0.0, 1.0]  # 1 on every joint of frame 1
    np.testing.assert_allclose(metrics.mpjpe(predicted, target, per_frame=True), [5 / 3, 1.0])
    assert metrics.mpjpe(predicted, target) == pytest.approx((5 / 3 + 1) / 2)


def test_similarity_transformed_pose_has_zero_p_mpjpe(rng):
    target = rng.normal(size=(4, 16, 3))
    rotation = _rotation([0.3, 1.0, -0.2], 0.9)
    predicted = 1.7 * target @ rotation.T + np.array([0.5, -2.0, 3.0])
    assert metrics.mpjpe(predicted, target) > 1.0
    assert metrics.p_mpjpe(predicted, target) == pytest.approx(0.0, abs=1e-9)
    assert float(np.mean(metrics.p_mpjpe_tf(predicted, target).numpy())) == pytest.approx(
        0.0, abs=1e-4
    )


def test_reflection_is_not_aligned_away(rng):
    target = rng.normal(size=(3, 16, 3))
    mirrored = target * np.array([-1.0, 1.0, 1.0])
    error = metrics.p_mpjpe(mirrored, target)
    assert error > 0.1
    aligned = metrics.procrustes_align(mirrored, target)
    # The fitted linear part is a proper rotation times a positive scale (det > 0).
    centred = aligned - aligned.mean(axis=1, keepdims=True)
    source = mirrored - mirrored.mean(axis=1, keepdims=True)
    linear = np.linalg.lstsq(source[0], centred[0], rcond=None)[0]
    assert np.linalg.det(linear) > 0


def test_p_mpjpe_is_the_least_squares_optimum(rng):
    # No rotation/scale/translation found by brute force perturbation does better.
    target = rng.normal(size=(1, 16, 3))
    predicted = target + 0.2 * rng.normal(size=target.shape)
    best = metrics.p_mpjpe(predicted, target)
    aligned = metrics.procrustes_align(predicted, target)
    base = ((aligned - target) ** 2).sum()
    for _ in range(50):
        perturbed = aligned @ _rotation(rng.normal(size=3), 0.01).T * (
            1 + 0.01 * rng.normal()
        ) + 0.01 * rng.normal(size=3)
        assert ((perturbed - target) ** 2).sum() >= base - 1e-12
    assert best < metrics.mpjpe(predicted, target)


def test_tensorflow_versions_match_numpy(rng):
    target = rng.normal(size=(20, 16, 3)).astype("float32")
    predicted = (target + 0.1 * rng.normal(size=target.shape)).astype("float32")
    np.testing.assert_allclose(
        metrics.mpjpe_tf(predicted, target).numpy(),
        metrics.mpjpe(predicted, target, per_frame=True),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        metrics.p_mpjpe_tf(predicted, target).numpy(),
        metrics.p_mpjpe(predicted, target, per_frame=True),
        atol=1e-5,
    )


def test_per_action_average_is_unweighted_over_actions():
    errors = np.array([1.0, 1.0, 1.0, 4.0])
    actions = ["Walking", "Walking", "Walking", "Sitting"]
    table, average = metrics.per_action_errors(errors, actions)
    assert table == {"Sitting": 4.0, "Walking": 1.0}
    assert average == pytest.approx(2.5)  # not the frame mean 1.75


@pytest.mark.parametrize(
    "predicted, target, message",
    [
        (
            np.zeros((2, 16, 3)),
            np.zeros((2, 17, 3)),
            r"same shape \[frames, joints, dims\]\. Received: predicted.shape=\(2, 16, 3\), target.shape=\(2, 17, 3\)",
        ),
        (np.zeros((16, 3)), np.zeros((16, 3)), "same shape"),
    ],
)
def test_bad_shapes_raise(predicted, target, message):
    with pytest.raises(ValueError, match=message):
        metrics.mpjpe(predicted, target)
    with pytest.raises(ValueError, match=message):
        metrics.p_mpjpe(predicted, target)


def test_per_action_bad_inputs_raise():
    with pytest.raises(ValueError, match="one action label per frame error"):
        metrics.per_action_errors([1.0, 2.0], ["Walking"])
    with pytest.raises(ValueError, match="at least one frame error"):
        metrics.per_action_errors([], [])
