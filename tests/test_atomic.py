"""Atomic writes (graphmdn_tf.atomic): the old version or the new one, never half; failures name the file."""

import os

import pytest

from graphmdn_tf.atomic import (
    atomic_directory,
    atomic_file,
    write_atomically,
    write_text_atomically,
)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "model.keras"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(path) as temporary:
        assert (
            temporary.name.endswith(".model.keras") and temporary.parent == tmp_path
        )  # Keras checks suffixes
        temporary.write_text("half")
        raise RuntimeError("killed")
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == [
        "model.keras"
    ]
    write_text_atomically(path, "new")
    assert path.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == [
        "model.keras"
    ]


def test_an_os_error_from_a_stream_writer_names_the_target(tmp_path):
    def refuse(stream):
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError) as raised:
        write_atomically(tmp_path / "step-000000005.npz", refuse)
    assert raised.value.filename == str(tmp_path / "step-000000005.npz") and not list(
        tmp_path.iterdir()
    )


def test_unique_temporaries_do_not_collide(tmp_path):
    with (
        atomic_file(tmp_path / "a.npz", unique=True) as first,
        atomic_file(tmp_path / "a.npz", unique=True) as second,
    ):
        assert first != second and str(os.getpid()) in first.name
        first.write_text("1")
        second.write_text("2")
    assert (tmp_path / "a.npz").read_text() in ("1", "2") and [
        p.name for p in tmp_path.iterdir()
    ] == ["a.npz"]


def test_a_directory_appears_whole_or_not_at_all(tmp_path):
    target = tmp_path / "3"
    with pytest.raises(RuntimeError), atomic_directory(target) as staging:
        staging.mkdir()
        (staging / "saved_model.pb").write_text("half")
        raise RuntimeError("failed")
    assert not list(tmp_path.iterdir())
    with atomic_directory(target) as staging:
        assert (
            not staging.exists() and not staging.name.isdigit()
        )  # TF Serving ignores non-integer names
        staging.mkdir()
        (staging / "saved_model.pb").write_text("whole")
    assert (target / "saved_model.pb").read_text() == "whole" and [
        p.name for p in tmp_path.iterdir()
    ] == ["3"]
    with (
        pytest.raises(FileExistsError, match="Refusing to replace"),
        atomic_directory(target) as staging,
    ):
        staging.mkdir()
    assert (target / "saved_model.pb").read_text() == "whole" and [
        p.name for p in tmp_path.iterdir()
    ] == ["3"]
