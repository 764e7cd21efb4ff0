"""Which files of a folder our code wrote, so that writing there again replaces only those.

A run directory is ours by its layout (`graphmdn_tf.runs`). Other folders a user names (`evaluate
--output-dir`, the quickstart's output) may hold files of their own
with the same names: there each folder keeps a manifest, `.graphmdn-tf-written.json`, of the names our
code wrote in it. `claim` refuses a name that exists and is not in the manifest, and records the rest
before they are written (a write killed half-way leaves a name that is ours anyway).

    >>> claim(results_dir, ["results.md", "results.csv"])      # FileExistsError if the user's own
    >>> replaceable(log_dir, log_dir.glob("events.out.tfevents.*"))  # only the event files we wrote
    >>> forget(log_dir, [old.name])                                   # once we deleted one of them
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from graphmdn_tf.atomic import write_text_atomically

MANIFEST = ".graphmdn-tf-written.json"


class NotOurFileError(FileExistsError):
    """A file we would write exists and was not written by graphmdn-tf: nothing was changed."""


def written_names(directory: str | Path) -> set[str]:
    """The names the manifest of `directory` lists (empty without one, or with an unreadable one)."""
    path = Path(directory) / MANIFEST
    try:
        names = json.loads(path.read_text()).get("written")
    except (OSError, ValueError, AttributeError):
        return set()
    return {name for name in names if isinstance(name, str)} if isinstance(names, list) else set()


def _write_manifest(directory: Path, names: set[str]) -> None:
    write_text_atomically(
        directory / MANIFEST, json.dumps({"written": sorted(names)}, indent=1) + "\n"
    )


def record(directory: str | Path, names: Iterable[str]) -> None:
    """Add `names` to the manifest of `directory` (created if needed)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _write_manifest(directory, written_names(directory) | {str(name) for name in names})


def forget(directory: str | Path, names: Iterable[str]) -> None:
    """Remove `names` (files of ours that were deleted) from the manifest of `directory`, if it has one.

    Without this a deleted name stays listed, and a file the user later puts there under that name would
    count as ours."""
    directory = Path(directory)
    ours = written_names(directory)
    remaining = ours - {str(name) for name in names}
    if remaining != ours:
        _write_manifest(directory, remaining)


def refuse_foreign(directory: str | Path, names: Iterable[str]) -> None:
    """Raise `NotOurFileError` if a name in `names` exists in `directory` and its manifest does not list it."""
    directory = Path(directory)
    ours = written_names(directory)
    foreign = [
        str(name) for name in names if str(name) not in ours and (directory / str(name)).exists()
    ]
    if foreign:
        listed = ", ".join(str(directory / name) for name in foreign)
        raise NotOurFileError(
            f"Refusing to overwrite {listed}: not written by graphmdn-tf (it is not listed in "
            f"{directory / MANIFEST}). Move it away, or choose another output folder."
        )


def claim(directory: str | Path, names: Iterable[str]) -> None:
    """Make sure every name in `names` may be written in `directory` (`refuse_foreign`), and record them as ours.

    Raises:
        NotOurFileError: one of them exists and is not in the manifest (then nothing is recorded).
    """
    names = [str(name) for name in names]
    refuse_foreign(directory, names)
    record(directory, names)


def replaceable(directory: str | Path, paths: Iterable[Path]) -> list[Path]:
    """Those of `paths` (files in `directory`) that the manifest of `directory` lists as ours."""
    ours = written_names(directory)
    return [Path(path) for path in paths if Path(path).name in ours]
