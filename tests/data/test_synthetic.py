"""The synthetic data set: file formats, projection, seeding, human-like motion, depth ambiguity, size."""

import numpy as np
import pytest

from graphmdn_tf.data import synthetic
from graphmdn_tf.data.body_model import Body
from graphmdn_tf.data.cameras import H36M_SUBJECTS
from graphmdn_tf.data.pipeline import TEST_SUBJECTS, load_samples
from graphmdn_tf.data.synthetic import (
    ACTIONS,
    capture_centre,
    default_synthetic_dir,
    generate_sequence,
    write_synthetic_dataset,
)
from tests.data.geometry import project_pixels_by_hand, to_camera
from tests.data.npz_files import METADATA_16, METADATA_17, read_npz_trusted

FOOT_JOINTS_32 = [3, 4, 5, 8, 9, 10]


@pytest.fixture(scope="module")
def files(synthetic_dir):
    return {
        kind: read_npz_trusted(synthetic_dir / f"data_{kind}.npz")
        for kind in ("3d_synthetic", "2d_synthetic_gt", "2d_synthetic_sh_pt_mpii")
    }


@pytest.fixture(scope="module")
def motion():
    """In memory: 2 subjects x 15 actions x 2 sequences x 150 frames (3 s), world [T, 32, 3]."""
    sequences = {}
    for subject in ("S1", "S9"):
        index = H36M_SUBJECTS.index(subject)
        body = Body.sample(np.random.default_rng([7, index]))
        for action_index, action in enumerate(ACTIONS):
            for repetition in (1, 2):
                rng = np.random.default_rng([7, index, action_index, repetition])
                world = generate_sequence(rng, body, action, 150, capture_centre(subject))
                sequences[subject, action, repetition] = world
    return sequences


def angle(a, b, c):
    """The angle at b (degrees) of the triangle a-b-c, per frame."""
    u, v = a - b, c - b
    cosine = np.sum(u * v, axis=-1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
    return np.degrees(np.arccos(np.clip(cosine, -1, 1)))


def test_files_have_the_human36m_layout(files, facts):
    classes = facts.names(9, "define_actions)")
    assert sorted(classes) == sorted(ACTIONS) and len(classes) == 15
    positions_3d = files["3d_synthetic"]["positions_3d"]
    gt, detected = files["2d_synthetic_gt"], files["2d_synthetic_sh_pt_mpii"]
    assert gt["metadata"] == METADATA_17 and detected["metadata"] == METADATA_16
    assert (
        list(positions_3d)
        == list(gt["positions_2d"])
        == list(detected["positions_2d"])
        == ["S1", "S9"]
    )
    for subject, actions in positions_3d.items():
        assert sorted(actions) == sorted(
            f"{name} {repetition}" for name in classes for repetition in (1, 2)
        )
        for action, world in actions.items():
            assert world.dtype == np.float32 and world.shape == (8, 32, 3)
            views, noisy = (
                gt["positions_2d"][subject][action],
                detected["positions_2d"][subject][action],
            )
            assert isinstance(views, list) and len(views) == 4 and len(noisy) == 4
            assert all(view.dtype == np.float32 and view.shape == (8, 17, 2) for view in views)
            assert all(view.dtype == np.float32 and view.shape == (8, 16, 2) for view in noisy)


def test_ground_truth_2d_is_the_distorted_projection_through_the_real_cameras(files, facts):
    kept17 = facts.value(5, "kept32")
    intrinsics, extrinsics = facts.cameras(), facts.extrinsics()
    for subject in ("S1", "S9"):
        for action in ("Greeting 1", "Photo 2", "WalkDog 1"):
            world = files["3d_synthetic"]["positions_3d"][subject][action][:, kept17]
            for camera, views in enumerate(
                files["2d_synthetic_gt"]["positions_2d"][subject][action]
            ):
                quaternion, translation_mm = extrinsics[subject][camera]
                points = to_camera(world, quaternion, np.array(translation_mm) / 1000).reshape(
                    -1, 3
                )
                by_hand = np.array(
                    [project_pixels_by_hand(point, intrinsics[camera]) for point in points]
                )
                np.testing.assert_allclose(views.reshape(-1, 2), by_hand, atol=2e-3)


def test_everyone_stays_in_view_and_in_front_of_every_camera(files, facts):
    intrinsics = facts.cameras()
    for subject, actions in files["2d_synthetic_gt"]["positions_2d"].items():
        for action, views in actions.items():
            for camera, view in enumerate(views):
                assert view.min() > 0 and view[..., 0].max() < intrinsics[camera]["res_w"]
                assert view[..., 1].max() < intrinsics[camera]["res_h"], (subject, action, camera)


def test_seeded_and_independent_of_the_other_subjects(synthetic_dir, files, tmp_path):
    alone = write_synthetic_dataset(
        tmp_path / "s9", frames_per_sequence=8, subjects=("S9",), progress=False
    )
    again = read_npz_trusted(alone / "data_3d_synthetic.npz")["positions_3d"]
    for action, world in files["3d_synthetic"]["positions_3d"]["S9"].items():
        np.testing.assert_array_equal(again["S9"][action], world)
    other_seed = write_synthetic_dataset(
        tmp_path / "seed1", frames_per_sequence=8, subjects=("S9",), seed=1, progress=False
    )
    different = read_npz_trusted(other_seed / "data_3d_synthetic.npz")["positions_3d"]["S9"]
    assert not np.allclose(different["Walking 1"], again["S9"]["Walking 1"])


def test_bone_lengths_are_rigid_per_subject_and_near_real_ones(motion, cmu_dir, facts):
    parents17, kept17 = facts.value(5, "parents17"), facts.value(5, "kept32")
    real = read_npz_trusted(cmu_dir / "data_3d_cmu.npz")["positions_3d"]
    real = np.concatenate([world for actions in real.values() for world in actions.values()])
    names = facts.names(5, "names17")
    lengths = {}
    for subject in ("S1", "S9"):
        world = np.concatenate([w for (s, _, _), w in motion.items() if s == subject])[:, kept17]
        for child, parent in enumerate(parents17):
            if parent < 0:
                continue
            bone = np.linalg.norm(world[:, child] - world[:, parent], axis=-1)
            assert bone.std() < 1e-6, (subject, names[child])  # rigid over all frames and sequences
            lengths[subject, names[child]] = bone.mean()
            real_length = np.linalg.norm(real[:, child] - real[:, parent], axis=-1).mean()
            # Legs, spine and upper arms within 20% of real people (CMU); hips, shoulders and forearms
            # differ more (a real difference between CMU and Human3.6M skeletons), but within 60%.
            tolerance = (
                0.2
                if names[child]
                in ("RKnee", "RFoot", "LKnee", "LFoot", "Spine", "Thorax", "LElbow", "RElbow")
                else 0.6
            )
            assert abs(bone.mean() / real_length - 1) < tolerance, (
                subject,
                names[child],
                bone.mean(),
                real_length,
            )
    assert (
        abs(lengths["S1", "RKnee"] - lengths["S9", "RKnee"]) > 1e-3
    )  # every subject has its own body


def test_joint_angles_respect_anatomical_limits(motion):
    knee_flexions, elbow_flexions = [], []
    for world in motion.values():
        hip, knee, ankle = world[:, 1], world[:, 2], world[:, 3]
        flexion = 180 - angle(hip, knee, ankle)
        knee_flexions.append(flexion)
        # The knee bends backwards only: the shank turns about the pelvis' right axis the anatomical way.
        right = world[:, 1] - world[:, 6]
        right /= np.linalg.norm(right, axis=-1, keepdims=True)
        sense = -np.sum(np.cross(knee - hip, ankle - knee) * right, axis=-1)
        assert np.all(sense[flexion > 15] > 0)
        elbow_flexions.append(180 - angle(world[:, 25], world[:, 26], world[:, 27]))
        elbow_flexions.append(180 - angle(world[:, 17], world[:, 18], world[:, 19]))
    knee_flexions, elbow_flexions = np.concatenate(knee_flexions), np.concatenate(elbow_flexions)
    assert knee_flexions.min() > -1e-3 and knee_flexions.max() < 146
    assert elbow_flexions.min() > -1e-3 and elbow_flexions.max() < 146
    assert knee_flexions.max() > 100 and elbow_flexions.max() > 120  # the range is actually used


def test_poses_stand_on_the_floor_and_move_continuously(motion):
    rng = np.random.default_rng(0)
    for world in motion.values():
        np.testing.assert_allclose(world[:, FOOT_JOINTS_32, 2].min(axis=1), 0.02, atol=1e-9)
        assert np.all(world[:, 15, 2] > world[:, 0, 2]) and np.all(world[:, 15, 2] < 2.1)
        step = np.linalg.norm(np.diff(world, axis=0), axis=-1)  # metres per frame at 50 fps
        assert step.max() < 0.12
        shuffled = np.linalg.norm(world[rng.permutation(len(world))] - world, axis=-1)
        assert np.median(step) < 0.2 * max(np.median(shuffled), 0.02)


def test_turning_about_the_vertical_axis_covers_all_directions(motion):
    headings = []
    for (_, action, _), world in motion.items():
        right = world[:, 1, :2] - world[:, 6, :2]
        heading = np.degrees(np.arctan2(right[:, 1], right[:, 0]))
        headings.append(heading)
        if action == "Directions":
            assert np.ptp(np.unwrap(np.radians(heading))) > np.radians(20)
    counts = np.histogram(np.concatenate(headings), bins=8, range=(-180, 180))[0]
    assert np.all(counts > 0), counts


def test_motion_families_differ_as_they_should(motion):
    def of(action):
        return [world for (_, name, _), world in motion.items() if name == action]

    for world in of("Walking"):
        assert world[:, 0, 2].min() > 0.85
        assert (
            np.linalg.norm(np.diff(world[:, 0, :2], axis=0), axis=-1).sum() > 2.0
        )  # walked > 2 m in 3 s
    for world in of("Sitting") + of("Eating"):
        assert world[:, 0, 2].max() < 0.75
        assert np.ptp(world[:, 0, :2], axis=0).max() < 0.05  # stays put
    trunk = [
        np.degrees(
            np.arccos((w[:, 8, 2] - w[:, 0, 2]) / np.linalg.norm(w[:, 8] - w[:, 0], axis=-1))
        )
        for w in of("Purchases")
    ]
    assert max(t.max() for t in trunk) > 30  # bending
    crouch = [180 - angle(w[:, 1], w[:, 2], w[:, 3]) for w in of("Photo")]
    assert max(c.max() for c in crouch) > 60  # crouching
    hands_up = [np.maximum(w[:, 19, 2], w[:, 27, 2]) - w[:, 15, 2] for w in of("Greeting")]
    assert max(h.max() for h in hands_up) > -0.2  # waving near head height


def test_detections_are_noisy_correlated_and_sometimes_wrong(files, facts):
    pick = facts.value(6, "kept-from-17")
    errors, noise = [], []
    for subject, actions in files["2d_synthetic_gt"]["positions_2d"].items():
        for action, views in actions.items():
            for view, detected in zip(
                views, files["2d_synthetic_sh_pt_mpii"]["positions_2d"][subject][action]
            ):
                difference = detected - view[:, pick]
                errors.append(np.linalg.norm(difference, axis=-1).ravel())
                noise.append(difference)
    errors = np.concatenate(errors)
    assert 3 < np.median(errors) < 12 and np.percentile(errors, 99.9) > 25
    noise = np.stack(noise)  # [sequences, T, 16, 2]
    correlation = np.corrcoef(noise[:, 1:].ravel(), noise[:, :-1].ravel())[0, 1]
    assert correlation > 0.5  # temporally correlated, as a detector's errors are


def test_depth_is_ambiguous(tmp_path, capsys):
    """Clearly different 3D poses whose 2D projections nearly coincide, in what training sees.

    For every sample of S1 (30 sequences x 200 frames x 4 cameras), find its nearest 2D neighbour among
    the same camera's samples from other sequences or more than a second away (root-relative pixels,
    RMS over joints). Count pairs within 6 px (about a detector's noise) whose 3D poses differ by an
    MPJPE of at least 50 mm, and how much of that difference lies along the camera's depth axis.
    """
    data_dir = write_synthetic_dataset(
        tmp_path, frames_per_sequence=200, subjects=("S1",), progress=False
    )
    samples = load_samples("synthetic", data_dir, subjects=["S1"], cache_dir=tmp_path / "cache")
    near_pairs = ambiguous = 0
    depth_shares, largest_depth_gap = [], 0.0
    for camera in range(4):
        rows = samples.subset(samples.cameras == camera)
        frame = np.arange(len(rows)) % 200
        sequence = np.unique(rows.actions, return_inverse=True)[1]
        pixels = (
            ((rows.inputs_2d - rows.inputs_2d[:, :1]) * 500)
            .reshape(len(rows), -1)
            .astype(np.float64)
        )
        squared = np.sum(pixels**2, axis=1)
        for start in range(0, len(rows), 1500):
            block = slice(start, start + 1500)
            distance = squared[block, None] + squared[None] - 2 * pixels[block] @ pixels.T
            excluded = (sequence[block, None] == sequence[None]) & (
                np.abs(frame[block, None] - frame[None]) < 50
            )
            distance[excluded] = np.inf
            neighbour = distance.argmin(axis=1)
            rms = np.sqrt(np.maximum(distance[np.arange(len(neighbour)), neighbour], 0) / 16)
            difference = rows.targets_3d[block] - rows.targets_3d[neighbour]
            mpjpe = np.linalg.norm(difference, axis=-1).mean(axis=-1)
            near = rms < 6.0
            hits = near & (mpjpe >= 0.05)
            near_pairs += near.sum()
            ambiguous += hits.sum()
            depth_shares.extend(
                (np.sum(difference[..., 2] ** 2, axis=-1) / np.sum(difference**2, axis=(-1, -2)))[
                    hits
                ]
            )
            if hits.any():
                largest_depth_gap = max(largest_depth_gap, np.abs(difference[hits][..., 2]).max())
    with capsys.disabled():
        print(
            f"\n[depth ambiguity] {ambiguous} of {near_pairs} samples whose 2D nearest neighbour is within 6 px "
            f"differ by MPJPE >= 50 mm; median depth share {np.median(depth_shares):.2f}; "
            f"largest depth gap {largest_depth_gap * 1000:.0f} mm"
        )
    assert ambiguous >= 60
    assert np.median(depth_shares) > 0.75  # the difference is along the line of sight
    assert largest_depth_gap > 0.2


def test_default_set_is_quick_cached_and_loadable(tmp_path, monkeypatch):
    # Quick by its size (7 subjects x 30 sequences x 24 frames, about a second to generate), asserted below
    # rather than timed: a wall-clock bound would fail on a busy machine.
    data_dir = default_synthetic_dir(cache_dir=tmp_path, progress=False)
    assert data_dir.parent == tmp_path and data_dir.name.startswith("synthetic-")
    positions_3d = read_npz_trusted(data_dir / "data_3d_synthetic.npz")["positions_3d"]
    assert list(positions_3d) == list(H36M_SUBJECTS)
    assert (
        sum(len(world) for actions in positions_3d.values() for world in actions.values())
        == 7 * 30 * 24
    )

    def must_not_generate(*args, **kwargs):
        raise AssertionError("the cached default set was generated again")

    monkeypatch.setattr(synthetic, "write_synthetic_dataset", must_not_generate)
    assert default_synthetic_dir(cache_dir=tmp_path) == data_dir
    samples = load_samples("synthetic", subjects=TEST_SUBJECTS, cache_dir=tmp_path)
    assert len(samples) == 2 * 30 * 24 * 4 and set(samples.subjects) == {"S9", "S11"}


def test_progress_bar_for_large_sets(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(synthetic, "_PROGRESS_MIN_FRAMES", 0)
    write_synthetic_dataset(tmp_path, frames_per_sequence=2, subjects=("S1",))
    assert "synthetic data" in capsys.readouterr().err
    write_synthetic_dataset(tmp_path, frames_per_sequence=2, subjects=("S1",), progress=False)
    assert "synthetic data" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"frames_per_sequence": 0},
            "frames_per_sequence to be a positive integer. Received: frames_per_sequence=0",
        ),
        ({"frames_per_sequence": 2.5}, "frames_per_sequence to be a positive integer"),
        (
            {"subjects": ("S2",)},
            r"subjects from \('S1', 'S5', 'S6', 'S7', 'S8', 'S9', 'S11'\). Received: subjects=\('S2',\)",
        ),
        ({"subjects": "S1"}, "Expected subjects from"),
        ({"subjects": ()}, "Expected subjects from"),
    ],
)
def test_bad_arguments_raise(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        write_synthetic_dataset(tmp_path, progress=False, **kwargs)
