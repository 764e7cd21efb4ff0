"""`graphmdn_tf.written`: in a folder that is not ours, only the files our code wrote there are replaced."""

import json

import pytest

from graphmdn_tf.written import (
    MANIFEST,
    NotOurFileError,
    claim,
    forget,
    record,
    refuse_foreign,
    replaceable,
    written_names,
)


def test_a_foreign_file_is_refused_and_nothing_is_recorded(tmp_path):
    (tmp_path / "results.md").write_text("the user's own notes")
    with pytest.raises(
        NotOurFileError, match=r"Refusing to overwrite .*results\.md: not written by graphmdn-tf"
    ) as error:
        claim(tmp_path, ["results.md", "results.csv"])
    assert isinstance(error.value, FileExistsError) and MANIFEST in str(error.value)
    assert (
        not (tmp_path / MANIFEST).exists()
        and (tmp_path / "results.md").read_text() == "the user's own notes"
    )


def test_claimed_names_are_ours_from_then_on(tmp_path):
    claim(
        tmp_path / "new", ["a.md", "b.png"]
    )  # the folder is created, the names recorded before writing
    assert written_names(tmp_path / "new") == {"a.md", "b.png"}
    (tmp_path / "new" / "a.md").write_text("ours")
    claim(tmp_path / "new", ["a.md", "c.json"])  # an existing file of ours may be written again
    assert json.loads((tmp_path / "new" / MANIFEST).read_text()) == {
        "written": ["a.md", "b.png", "c.json"]
    }
    (tmp_path / "new" / "d.md").write_text("theirs")
    with pytest.raises(NotOurFileError, match="d.md"):
        refuse_foreign(tmp_path / "new", ["a.md", "d.md"])


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"written": "a.md"}'])
def test_an_unreadable_manifest_claims_nothing(tmp_path, text):
    (tmp_path / MANIFEST).write_text(text)
    (tmp_path / "a.md").write_text("theirs")
    assert written_names(tmp_path) == set()
    with pytest.raises(NotOurFileError):
        claim(tmp_path, ["a.md"])


def test_replaceable_lists_only_recorded_files(tmp_path):
    for name in ("events.out.tfevents.1", "events.out.tfevents.2"):
        (tmp_path / name).write_text("")
    record(tmp_path, ["events.out.tfevents.2"])
    assert replaceable(tmp_path, sorted(tmp_path.glob("events.out.tfevents.*"))) == [
        tmp_path / "events.out.tfevents.2"
    ]


def test_a_forgotten_name_is_no_longer_ours(tmp_path):
    record(tmp_path, ["a.md", "events.out.tfevents.1"])
    forget(tmp_path, ["events.out.tfevents.1", "never.recorded"])
    assert json.loads((tmp_path / MANIFEST).read_text()) == {"written": ["a.md"]}
    (tmp_path / "events.out.tfevents.1").write_text("the user's file, under the old name")
    with pytest.raises(NotOurFileError, match="events.out.tfevents.1"):
        refuse_foreign(tmp_path, ["events.out.tfevents.1"])
    forget(tmp_path / "no_manifest", ["a.md"])  # nothing to strike: no manifest is made
    assert not (tmp_path / "no_manifest").exists()
