"""PoseSamples and the tf.data pipeline: shapes, order, seeded shuffling, epochs, indices, scale."""

import numpy as np
import pytest

from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.data.pipeline import (
    TEST_SUBJECTS,
    TRAIN_SUBJECTS,
    PoseSamples,
    config_samples,
    hold_out_ends,
    load_samples,
    make_dataset,
)

H36M_TRAIN_POSES = 1_559_752  # facts section 9: all 4 cameras, stride 1


def make_samples(count=10, seed=0):
    rng = np.random.default_rng(seed)
    targets = rng.normal(size=(count, 16, 3)).astype(np.float32)
    targets[:, 0] = 0.0
    return PoseSamples(
        inputs_2d=rng.normal(size=(count, 16, 2)).astype(np.float32),
        targets_3d=targets,
        subjects=np.array(["S1", "S5"] * (count // 2) + ["S1"] * (count % 2)),
        actions=np.array(["Sitting 1", "SittingDown 2", "Walking"] * count)[:count],
        cameras=np.arange(count, dtype=np.int32) % 4,
    )


def collect(dataset):
    batches = list(dataset.as_numpy_iterator())
    return [np.concatenate(parts) for parts in zip(*batches)], [len(batch[0]) for batch in batches]


def test_subject_constants():
    assert TRAIN_SUBJECTS == ("S1", "S5", "S6", "S7", "S8") and TEST_SUBJECTS == ("S9", "S11")


def test_pose_samples_labels_subset_and_concatenate():
    samples = make_samples(10)
    assert len(samples) == 10
    assert samples.action_classes.tolist()[:3] == ["Sitting", "SittingDown", "Walking"]
    by_mask = samples.subset(samples.cameras == 1)
    np.testing.assert_array_equal(by_mask.inputs_2d, samples.inputs_2d[[1, 5, 9]])
    assert by_mask.cameras.tolist() == [1, 1, 1]
    by_index = samples.subset([9, 0])
    assert by_index.subjects.tolist() == [samples.subjects[9], samples.subjects[0]]
    np.testing.assert_array_equal(by_index.targets_3d, samples.targets_3d[[9, 0]])
    joined = PoseSamples.concatenate([by_index, by_mask])
    assert (
        len(joined) == 5
        and joined.actions.tolist() == by_index.actions.tolist() + by_mask.actions.tolist()
    )


@pytest.mark.parametrize(
    "change, match",
    [
        (
            {"inputs_2d": np.zeros((10, 17, 2), np.float32)},
            r"inputs_2d \[samples, 16, 2\] .* inputs_2d.shape=\(10, 17, 2\)",
        ),
        ({"targets_3d": np.zeros((10, 16, 2), np.float32)}, r"targets_3d.shape=\(10, 16, 2\)"),
        (
            {"targets_3d": np.zeros((9, 16, 3), np.float32)},
            "Expected 10 rows in every field .* targets_3d has 9",
        ),
        ({"cameras": np.zeros(11, np.int32)}, "Expected 10 rows in every field .* cameras has 11"),
        ({"subjects": np.array(["S1"])}, "subjects has 1"),
    ],
)
def test_pose_samples_validation(change, match):
    fields = make_samples(10).__dict__ | change
    with pytest.raises(ValueError, match=match):
        PoseSamples(**fields)


def test_bad_subsets_and_concatenation_raise():
    samples = make_samples(10)
    with pytest.raises(ValueError, match=r"boolean mask of shape \(10,\). Received: shape \(3,\)"):
        samples.subset(np.array([True, False, True]))
    with pytest.raises(
        ValueError, match="boolean mask or integer indices. Received: dtype float64"
    ):
        samples.subset(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="at least one PoseSamples"):
        PoseSamples.concatenate([])


def test_hold_out_ends_takes_the_last_frames_of_every_sequence_and_camera():
    runs = [("S1", "Walking 1", 0, 10), ("S1", "Walking 1", 1, 10), ("S5", "Eating", 0, 4)]
    parts = []
    for subject, action, camera, count in runs:
        part = make_samples(count, seed=camera)
        parts.append(
            PoseSamples(
                inputs_2d=part.inputs_2d,
                targets_3d=part.targets_3d,
                subjects=np.full(count, subject),
                actions=np.full(count, action),
                cameras=np.full(count, camera, np.int32),
            )
        )
    samples = PoseSamples.concatenate(parts)
    kept, held = hold_out_ends(samples, 0.3)
    # round(0.3 * 10) = 3 of each 10-frame run, round(0.3 * 4) = 1 of the 4-frame run
    expected_held = [7, 8, 9, 17, 18, 19, 23]
    np.testing.assert_array_equal(held.inputs_2d, samples.inputs_2d[expected_held])
    np.testing.assert_array_equal(
        kept.inputs_2d, np.delete(samples.inputs_2d, expected_held, axis=0)
    )
    nothing_kept, none_held = hold_out_ends(samples, 0.0)
    assert len(none_held) == 0 and len(nothing_kept) == len(samples)
    with pytest.raises(ValueError, match=r"fraction in \[0, 1\)"):
        hold_out_ends(samples, 1.0)


def test_unshuffled_dataset_keeps_order_and_shapes():
    samples = make_samples(10)
    dataset = make_dataset(samples, batch_size=4, shuffle=False)
    assert dataset.element_spec[0].shape.as_list() == [None, 16, 2]
    assert dataset.element_spec[1].shape.as_list() == [None, 16, 3]
    assert all(spec.dtype.name == "float32" for spec in dataset.element_spec)
    (inputs, targets), sizes = collect(dataset)
    assert sizes == [4, 4, 2]
    np.testing.assert_array_equal(inputs, samples.inputs_2d)
    np.testing.assert_array_equal(targets, samples.targets_3d)
    _, sizes = collect(make_dataset(samples, batch_size=4, shuffle=False, drop_remainder=True))
    assert sizes == [4, 4]


def test_shuffling_is_a_seeded_permutation_reshuffled_every_epoch():
    samples = make_samples(64)
    first = make_dataset(samples, batch_size=8, shuffle=True, seed=3, with_indices=True)
    second = make_dataset(samples, batch_size=8, shuffle=True, seed=3, with_indices=True)
    other = make_dataset(samples, batch_size=8, shuffle=True, seed=4, with_indices=True)
    (inputs, targets, order), _ = collect(first)
    assert sorted(order.tolist()) == list(range(64))  # every row exactly once per epoch
    assert order.tolist() != list(range(64))
    np.testing.assert_array_equal(
        inputs, samples.inputs_2d[order]
    )  # inputs, targets and indices stay paired
    np.testing.assert_array_equal(targets, samples.targets_3d[order])
    assert collect(second)[0][2].tolist() == order.tolist()  # same seed, same order
    assert collect(other)[0][2].tolist() != order.tolist()
    epoch_two = collect(first)[0][2]  # iterating again reshuffles, reproducibly
    assert epoch_two.tolist() != order.tolist() and sorted(epoch_two.tolist()) == list(range(64))
    assert collect(second)[0][2].tolist() == epoch_two.tolist()


def test_repeat_runs_past_one_epoch():
    samples = make_samples(10)
    batches = list(
        make_dataset(samples, batch_size=4, shuffle=True, seed=0, repeat=True, drop_remainder=True)
        .take(7)
        .as_numpy_iterator()
    )
    assert len(batches) == 7 and all(inputs.shape == (4, 16, 2) for inputs, _ in batches)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, None])
def test_bad_batch_size_raises(batch_size):
    with pytest.raises(
        ValueError,
        match=f"batch_size to be a positive integer. Received: batch_size={batch_size!r}",
    ):
        make_dataset(make_samples(4), batch_size=batch_size, shuffle=False)


def test_empty_samples_raise():
    with pytest.raises(ValueError, match="at least one sample"):
        make_dataset(make_samples(10).subset(np.zeros(10, bool)), batch_size=4, shuffle=False)


def test_full_h36m_training_size_fits():
    """1.56 M poses: the arrays are held once (about 0.5 GB) and shuffled by index."""
    count = H36M_TRAIN_POSES
    samples = PoseSamples(
        inputs_2d=np.zeros((count, 16, 2), np.float32),
        targets_3d=np.zeros((count, 16, 3), np.float32),
        subjects=np.full(count, "S1"),
        actions=np.full(count, "Walking 1"),
        cameras=np.zeros(count, np.int32),
    )
    samples.inputs_2d[-1] = 7.0
    dataset = make_dataset(samples, batch_size=4096, shuffle=True, seed=0, with_indices=True)
    assert int(dataset.cardinality()) == -(-count // 4096)
    for inputs, targets, indices in dataset.take(3).as_numpy_iterator():
        assert inputs.shape == (4096, 16, 2) and targets.shape == (4096, 16, 3)
        assert np.all(inputs[indices == count - 1] == 7.0) and np.all(
            inputs[indices != count - 1] == 0.0
        )


def test_config_samples_are_load_samples_of_the_data_a_config_names():
    config = TrainingConfig.from_preset("standard", stride=16, actions="Walking")
    for stride in (None, 32):
        samples = config_samples(config, ("S1",), stride=stride, progress=False)
        expected = load_samples(
            "synthetic", subjects=("S1",), actions=("Walking",), stride=stride or 16, progress=False
        )
        assert len(samples) == len(expected) > 0
        np.testing.assert_array_equal(samples.inputs_2d, expected.inputs_2d)
        np.testing.assert_array_equal(samples.targets_3d, expected.targets_3d)
        assert set(samples.action_classes) == {"Walking"}
