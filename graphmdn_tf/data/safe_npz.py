"""Read `.npz` files that hold pickled objects without running code from them.

The standard Human3.6M files (`data_3d_h36m.npz`, `data_2d_h36m_gt.npz`, ...) store nested dicts as
0-d object arrays, i.e. as pickles inside the zip. `np.load(path, allow_pickle=True)` would unpickle
them with the full `pickle` machinery, which calls any importable function a crafted file names
(`os.system`, `subprocess.Popen`, ...). Here each `.npy` member is parsed with `numpy.lib.format` and
its pickle payload goes through `RestrictedUnpickler`, which resolves only the globals needed to
rebuild NumPy arrays, dtypes and scalars; everything else (lists, dicts, tuples, strings, numbers)
is built by pickle opcodes that import nothing. A file naming any other global is refused with
`UnsafePickleError` before that global is even imported.
"""

from __future__ import annotations

import codecs
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format
from tqdm.auto import tqdm

_PROGRESS_MIN_BYTES = 64 << 20  # members smaller than this load without a progress bar


class DataFileError(ValueError):
    """A data file is missing pieces, malformed or inconsistent; the message names the file."""


class UnsafePickleError(DataFileError):
    """A pickle inside a data file names a global outside the allow-list."""


# NumPy 1.x files name numpy.core.multiarray, NumPy 2.x files numpy._core.multiarray; both resolve to
# the installed reconstruction helpers, taken from what the installed NumPy itself pickles with.
# Protocol 5 pickles name numpy.(_)core.numeric._frombuffer; protocol 2 pickles encode bytes with
# _codecs.encode(text, "latin1"). None of these can do more than build data.
_RECONSTRUCT = np.zeros(1).__reduce__()[0]
_FROMBUFFER = np.zeros(1).__reduce_ex__(5)[0]
_SCALAR = np.float32(0).__reduce__()[0]
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}
for _package in ("numpy.core", "numpy._core"):
    _ALLOWED_GLOBALS[(f"{_package}.multiarray", "_reconstruct")] = _RECONSTRUCT
    _ALLOWED_GLOBALS[(f"{_package}.multiarray", "scalar")] = _SCALAR
    _ALLOWED_GLOBALS[(f"{_package}.numeric", "_frombuffer")] = _FROMBUFFER
_ALLOWED_GLOBALS.update({
    # Containers a protocol-2 pickle builds by calling their type.
    ("builtins", "list"): list,
    ("builtins", "dict"): dict,
    ("builtins", "tuple"): tuple,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
})


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only NumPy array/dtype/scalar reconstruction and builtin containers.

    Args:
        file: a binary file object positioned at the pickle.
        source: what to call the data in error messages (file and member).
    """

    def __init__(self, file, *, source: str):
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str):
        module = "builtins" if module == "__builtin__" else module  # protocol 2 writes Python 2 names
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise UnsafePickleError(
                f"{self.source}: refused to unpickle the global '{module}.{name}'. Only NumPy arrays, "
                "dtypes, scalars and builtin containers are allowed in a data file; a file naming other "
                "globals may run arbitrary code, so it was not loaded."
            )
        return allowed

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self.source}: refused a pickle persistent id {pid!r}.")


def restricted_loads(payload: bytes, *, source: str = "<bytes>") -> Any:
    """Unpickle bytes with `RestrictedUnpickler` (used by tests and for in-memory payloads)."""
    return RestrictedUnpickler(io.BytesIO(payload), source=source).load()


class _ProgressReader:
    """A read-only file wrapper that advances a tqdm bar by the bytes read through it."""

    def __init__(self, stream, bar):
        self.stream, self.bar = stream, bar

    def read(self, size=-1):
        data = self.stream.read(size)
        self.bar.update(len(data))
        return data

    def readline(self, size=-1):
        data = self.stream.readline(size)
        self.bar.update(len(data))
        return data

    def readinto(self, buffer):
        count = self.stream.readinto(buffer)
        self.bar.update(count or 0)
        return count


def _read_member(archive: zipfile.ZipFile, member: str, source: str, progress: bool) -> Any:
    size = archive.getinfo(member).file_size
    with archive.open(member) as compressed, tqdm(
        total=size, unit="B", unit_scale=True, desc=f"reading {member}", leave=False,
        disable=not progress or size < _PROGRESS_MIN_BYTES,
    ) as bar:
        stream = _ProgressReader(compressed, bar)
        try:
            version = npy_format.read_magic(stream)
            if version == (1, 0):
                shape, _, dtype = npy_format.read_array_header_1_0(stream)
            else:
                shape, _, dtype = npy_format.read_array_header_2_0(stream)
        except ValueError as error:
            raise DataFileError(f"{source}: not a valid .npy member ({error}).") from error
        if not dtype.hasobject:
            with archive.open(member) as plain:
                return npy_format.read_array(plain, allow_pickle=False)
        try:
            array = RestrictedUnpickler(stream, source=source).load()
        except UnsafePickleError:
            raise
        except Exception as error:  # a truncated or corrupt pickle, whatever pickle raises for it
            raise DataFileError(
                f"{source}: could not unpickle the object array ({type(error).__name__}: {error})."
            ) from error
    if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
        raise DataFileError(
            f"{source}: expected a pickled object array of shape {tuple(shape)}. "
            f"Received: {type(array).__name__} {getattr(array, 'shape', '')}"
        )
    return array.item() if array.shape == () else array


def load_npz_safely(path: str | Path, *, progress: bool = False) -> dict[str, Any]:
    """Load every member of an `.npz` archive without executing code from it.

    Plain numeric members come back as arrays (read with `allow_pickle=False`); object members are
    unpickled with `RestrictedUnpickler`, and a 0-d object array is unwrapped to the object it
    holds (the nested dict of the Human3.6M files), as `np.load(...)[key].item()` would give.
    `progress` shows a byte-count bar while reading members of 64 MB or more.

    Raises:
        FileNotFoundError: the file does not exist.
        DataFileError: the file is not a zip archive of `.npy` members.
        UnsafePickleError: a pickle names a global outside the allow-list (nothing from it ran).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file.")
    if not zipfile.is_zipfile(path):
        raise DataFileError(f"{path}: not an .npz file (expected a zip archive of .npy arrays).")
    contents = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if not member.endswith(".npy"):
                raise DataFileError(f"{path}: unexpected member {member!r} (an .npz holds only .npy arrays).")
            contents[member[: -len(".npy")]] = _read_member(archive, member, f"{path} [{member}]", progress)
    return contents
