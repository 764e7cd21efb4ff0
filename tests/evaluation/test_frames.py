"""graphmdn_tf/evaluation/frames.py: per-frame scores against independent NumPy, conventions, sampling, sequences."""

import numpy as np
import pytest

from graphmdn_tf.evaluation import evaluate_model, sequence_chunks, sequence_index
from tests.evaluation.cases import LookupModel, errors_and_nll


def test_the_conventions_differ_where_they_should(hand_made):
    inputs, targets, outputs, _ = hand_made
    paper, paper_nll = errors_and_nll(
        LookupModel(outputs), inputs, targets, progress=False
    )  # the default
    raw, raw_nll = errors_and_nll(
        LookupModel(outputs), inputs, targets, convention="raw", progress=False
    )
    np.testing.assert_array_equal(paper_nll, raw_nll)  # the density is the model's own under both
    # The hand-made kernels' root joint is off the origin, so the two score differently (the exact
    # values are checked against NumPy above).
    assert not np.allclose(paper["mean"][1], raw["mean"][1])
    assert np.all(
        paper["oracle"][2] <= paper["highest"][2] + 1e-9
    )  # the aligned Oracle is never worse
    with pytest.raises(
        ValueError,
        match=r"Expected convention to be one of \('paper', 'raw'\)\. Received: convention='mine'",
    ):
        evaluate_model(LookupModel(outputs), inputs, targets, convention="mine", progress=False)


def test_best_of_samples_with_tiny_sigma_is_the_oracle(hand_made):
    inputs, targets, outputs, _ = hand_made
    sharp = dict(
        outputs,
        sigma=np.full_like(outputs["sigma"], 1e-6),
        pi_logits=np.zeros_like(outputs["pi_logits"]),
    )
    errors, _ = errors_and_nll(LookupModel(sharp), inputs, targets, num_samples=64, progress=False)
    np.testing.assert_allclose(errors["best_of_64"][1], errors["oracle"][1], atol=1e-2)  # mm
    broad = dict(outputs, sigma=np.full_like(outputs["sigma"], 0.05))
    errors, _ = errors_and_nll(LookupModel(broad), inputs, targets, num_samples=8, progress=False)
    assert np.all(errors["best_of_8"][1] > 0)
    again, _ = errors_and_nll(LookupModel(broad), inputs, targets, num_samples=8, progress=False)
    np.testing.assert_array_equal(
        again["best_of_8"][1], errors["best_of_8"][1]
    )  # seeded: reproducible
    other, _ = errors_and_nll(
        LookupModel(broad), inputs, targets, num_samples=8, seed=1, progress=False
    )
    assert not np.array_equal(other["best_of_8"][1], errors["best_of_8"][1])


def test_sequence_index_and_chunks():
    subjects = np.array(["S1"] * 5 + ["S5"] * 4)
    actions = np.array(["Walking 1"] * 3 + ["Eating"] * 2 + ["Eating"] * 4)
    cameras = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1])
    ids, frames = sequence_index(subjects, actions, cameras)
    np.testing.assert_array_equal(ids, [0, 0, 0, 1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(frames, [0, 1, 2, 0, 1, 0, 1, 0, 1])
    sequence_ids = np.repeat([0, 1, 2, 3], [3, 2, 6, 1])
    chunks = sequence_chunks(sequence_ids, batch_size=5)
    assert [(c.start, c.stop) for c in chunks] == [
        (0, 5),
        (5, 11),
        (11, 12),
    ]  # whole sequences; 6 > 5 alone
    assert [(c.start, c.stop) for c in sequence_chunks(sequence_ids, batch_size=100)] == [(0, 12)]
    for batch_size in (1, 2, 3, 7):  # every row once, in order, no sequence cut
        chunks = sequence_chunks(sequence_ids, batch_size)
        np.testing.assert_array_equal(
            np.concatenate([np.arange(c.start, c.stop) for c in chunks]), np.arange(12)
        )
        assert all(
            c.start == 0 or sequence_ids[c.start] != sequence_ids[c.start - 1] for c in chunks
        )
