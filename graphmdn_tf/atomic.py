"""Writing files and folders atomically: readers see the old version or the new one, never half of one.

Everything the package writes that another process (or a later run after a kill -9) may read goes
through here: the converted-data cache and the synthetic set (data/), checkpoints, config.json,
training.json and model.keras (training/), exported SavedModel versions (export).

    >>> with atomic_file(run_dir / "model.keras") as temporary:
    ...     model.save(temporary)                      # the name keeps the suffix Keras checks
    >>> write_atomically(path, lambda stream: np.savez(stream, **arrays))
    >>> with atomic_directory(model_dir / "3") as staging:
    ...     archive.write_out(str(staging))            # renamed to model_dir/3 when the block succeeds
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path


def _sibling(path: Path, unique: bool) -> Path:
    # Hidden, and ending in the target's own name so that suffix checks (Keras' `.keras`, `.weights.h5`)
    # pass. Without `unique` the name is fixed: a write killed half-way leaves one file that the next
    # write replaces (callers that hold a lock); with it, concurrent writers never collide.
    tag = f".partial-{os.getpid()}-{uuid.uuid4().hex[:8]}" if unique else ".partial"
    return path.with_name(f"{tag}.{path.name}")


@contextlib.contextmanager
def atomic_file(path: str | Path, *, unique: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; when the block succeeds, rename it over `path`.

    If the block raises, the temporary file is removed and `path` is untouched.
    """
    path = Path(path)
    temporary = _sibling(path, unique)
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as error:
        if (
            error.filename is None
        ):  # e.g. from a library writing a stream: name the file being written
            error.filename = str(path)
        raise
    finally:
        if temporary.exists():
            temporary.unlink()


def write_atomically(path: str | Path, write: Callable, *, unique: bool = True) -> None:
    """Call `write(stream)` on a binary stream of a temporary file beside `path`, then rename it over `path`."""
    with atomic_file(path, unique=unique) as temporary, open(temporary, "wb") as stream:
        write(stream)


def write_text_atomically(path: str | Path, text: str, *, unique: bool = False) -> None:
    """`Path(path).write_text(text)`, atomically."""
    with atomic_file(path, unique=unique) as temporary:
        temporary.write_text(text)


@contextlib.contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield a staging path beside `target` (not yet created: the writer creates it); when the block
    succeeds, rename it to `target`. Whatever happens, no staging folder is left behind.

    Raises:
        FileExistsError: `target` exists when the block ends (it is never replaced).
    """
    target = Path(target)
    staging = target.with_name(f".{target.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        yield staging
        if os.path.lexists(target):
            raise FileExistsError(
                f"Refusing to replace {target}: it appeared while it was being written"
            )
        os.rename(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
