"""Read `.npz` files that hold pickled objects without running code from them.

The standard Human3.6M files (`data_3d_h36m.npz`, `data_2d_h36m_gt.npz`, ...) store nested dicts as
0-d object arrays, i.e. as pickles inside the zip. `np.load(path, allow_pickle=True)` would unpickle
them with the full `pickle` machinery, which calls any importable function a crafted file names
(`os.system`, `subprocess.Popen`, ...). Here each `.npy` member is parsed with `numpy.lib.format` and
its pickle payload goes through `RestrictedUnpickler`, which resolves only the globals needed to
rebuild NumPy arrays, dtypes and scalars; everything else (lists, dicts, tuples, strings, numbers)
is built by pickle opcodes that import nothing. A file naming any other global is refused with
`UnsafePickleError` before that global is even imported.

The work is bounded by the file's own size before anything is read: a member must be stored or
deflated (not encrypted), claim no more bytes than its compressed data can expand to, and hold the
bytes its .npy header declares; an unpickled object may not unfold into more items than its member
has bytes (memo references can make 2**n lists from n) nor nest deeper than `MAX_NESTING`. A damaged
member (CRC error, truncated data) is a `DataFileError` naming the file and member, never a traceback.
"""

from __future__ import annotations

import codecs
import io
import math
import pickle
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format
from tqdm.auto import tqdm

_PROGRESS_MIN_BYTES = 64 << 20  # members smaller than this load without a progress bar
#: The deepest nesting of containers a pickled member may hold (Human3.6M files need 4: dict, dict, list, array).
MAX_NESTING = 32


class DataFileError(ValueError):
    """A data file is missing pieces, malformed or inconsistent; the message names the file."""


class UnsafePickleError(DataFileError):
    """A pickle inside a data file names a global outside the allow-list."""


# NumPy 1.x files name numpy.core.multiarray, NumPy 2.x files numpy._core.multiarray; both resolve to
# the installed reconstruction helpers, taken from what the installed NumPy itself pickles with.
# Protocol 5 pickles name numpy.(_)core.numeric._frombuffer; protocol 2 pickles encode bytes with
# _codecs.encode(text, "latin1"). None of these can do more than build data. `numpy.ndarray` itself
# resolves to a stand-in that reconstruction accepts and that refuses to be called.
_RECONSTRUCT = np.zeros(1).__reduce__()[0]
_FROMBUFFER = np.zeros(1).__reduce_ex__(5)[0]
_SCALAR = np.float32(0).__reduce__()[0]


class _ArrayType:
    """Stands for `numpy.ndarray` in a pickle: reconstruction may name the type, but calling it is refused.

    `numpy.ndarray(shape)` would allocate whatever shape a file names (terabytes from a few bytes); NumPy's
    own pickles only pass the type to `_reconstruct`, which builds an empty array that BUILD then fills
    from the pickle's own bytes.
    """

    def __init__(self, source: str):
        self.source = source

    def __call__(self, *args, **kwargs):
        raise UnsafePickleError(
            f"{self.source}: refused to call numpy.ndarray (it would allocate an array of any size the file "
            "names); NumPy pickles never call it."
        )


def _reconstruct(subtype, shape, dtype):
    """NumPy's `_reconstruct` for the plain ndarray type and the empty shape its pickles use."""
    if not isinstance(subtype, _ArrayType) or tuple(shape) != (0,):
        source = getattr(subtype, "source", "<pickle>")
        raise UnsafePickleError(
            f"{source}: refused an array reconstruction of {type(subtype).__name__} with shape {shape!r}; "
            "NumPy pickles reconstruct numpy.ndarray with shape (0,)."
        )
    return _RECONSTRUCT(np.ndarray, shape, dtype)


_ALLOWED_GLOBALS = {
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}
for _package in ("numpy.core", "numpy._core"):
    _ALLOWED_GLOBALS[(f"{_package}.multiarray", "_reconstruct")] = _reconstruct
    _ALLOWED_GLOBALS[(f"{_package}.multiarray", "scalar")] = _SCALAR
    _ALLOWED_GLOBALS[(f"{_package}.numeric", "_frombuffer")] = _FROMBUFFER
_ALLOWED_GLOBALS.update(
    {
        # Containers a protocol-2 pickle builds by calling their type.
        ("builtins", "list"): list,
        ("builtins", "dict"): dict,
        ("builtins", "tuple"): tuple,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
    }
)


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
        module = (
            "builtins" if module == "__builtin__" else module
        )  # protocol 2 writes Python 2 names
        if (module, name) == ("numpy", "ndarray"):
            return _ArrayType(self.source)
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


def _check_zip_member(info: zipfile.ZipInfo, source: str) -> None:
    """Refuse, before reading, a member that is encrypted, compressed other than as np.savez does, or
    that claims more bytes than its compressed data can expand to (deflate's ratio is at most 1032:1)."""
    if info.flag_bits & 0x1:
        raise DataFileError(
            f"{source}: the member is encrypted; expected a plain .npy array (as numpy.savez writes)."
        )
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise DataFileError(
            f"{source}: unsupported compression method {info.compress_type} (expected {zipfile.ZIP_STORED} stored "
            f"or {zipfile.ZIP_DEFLATED} deflated, as numpy.savez writes)."
        )
    most = (
        info.compress_size
        if info.compress_type == zipfile.ZIP_STORED
        else info.compress_size * 1032 + 1024
    )
    if info.file_size > most:
        raise DataFileError(
            f"{source}: the member claims {info.file_size} bytes from {info.compress_size} compressed bytes, more "
            "than deflate can expand to; the archive is damaged or crafted."
        )


def _check_declared_size(shape, dtype: np.dtype, data_bytes: int, source: str) -> None:
    """Refuse a header that declares more than the member's `data_bytes` can hold (before allocating anything).

    A plain array needs its full `count * itemsize` bytes; a pickled object array at least one byte per element.
    """
    count = math.prod(shape)
    needed = count if dtype.hasobject else count * dtype.itemsize
    if needed > data_bytes:
        kind = "object" if dtype.hasobject else str(dtype)
        raise DataFileError(
            f"{source}: the header declares shape {tuple(shape)} of {kind} ({needed} bytes), but the member holds "
            f"{data_bytes} bytes of data."
        )


def _check_structure(value, budget: int, source: str) -> None:
    """Refuse an unpickled object nested over MAX_NESTING levels, or that unfolds into more than `budget` items.

    Each item of a pickle costs at least one byte, so an object whose tree (shared references counted each
    time they occur, as every later walk over it counts them) has more items than its member has bytes was
    built from memo references to blow up (2**n lists from n doublings, or a list that holds itself).
    """
    pending, items = [(value, 0)], 0
    while pending:
        item, depth = pending.pop()
        items += 1
        if items > budget:
            raise DataFileError(
                f"{source}: the pickled object unfolds into more than {budget} items, more than its {budget} bytes "
                "hold without repeated references; refused (a crafted or damaged file)."
            )
        if depth > MAX_NESTING:
            raise DataFileError(
                f"{source}: the pickled object is nested more than {MAX_NESTING} levels deep."
            )
        if isinstance(item, dict):
            children = [child for pair in item.items() for child in pair]
        elif isinstance(item, (list, tuple, set, frozenset)):
            children = item
        elif isinstance(item, np.ndarray) and item.dtype.hasobject:
            children = item.flat
        else:
            continue
        pending.extend((child, depth + 1) for child in children)


def _read_member(archive: zipfile.ZipFile, member: str, source: str, progress: bool) -> Any:
    info = archive.getinfo(member)
    _check_zip_member(info, source)
    try:
        return _parse_member(archive, info, source, progress)
    except DataFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as error:
        raise DataFileError(
            f"{source}: damaged zip member ({type(error).__name__}: {error})."
        ) from error


def _parse_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str, progress: bool
) -> Any:
    size = info.file_size
    with (
        archive.open(info) as compressed,
        tqdm(
            total=size,
            unit="B",
            unit_scale=True,
            desc=f"reading {info.filename}",
            leave=False,
            disable=not progress or size < _PROGRESS_MIN_BYTES,
        ) as bar,
    ):
        stream = _ProgressReader(compressed, bar)
        try:
            version = npy_format.read_magic(stream)
            if version == (1, 0):
                shape, _, dtype = npy_format.read_array_header_1_0(stream)
            else:
                shape, _, dtype = npy_format.read_array_header_2_0(stream)
        except ValueError as error:
            raise DataFileError(f"{source}: not a valid .npy member ({error}).") from error
        data_bytes = size - compressed.tell()
        _check_declared_size(shape, dtype, data_bytes, source)
        if not dtype.hasobject:
            with archive.open(info) as plain:
                array = npy_format.read_array(plain, allow_pickle=False)
                plain.read()  # to the end, so that zipfile checks the CRC
            return array
        try:
            array = RestrictedUnpickler(stream, source=source).load()
        except UnsafePickleError:
            raise
        except Exception as error:  # a truncated or corrupt pickle, whatever pickle raises for it
            raise DataFileError(
                f"{source}: could not unpickle the object array ({type(error).__name__}: {error})."
            ) from error
        stream.read()  # to the end, so that zipfile checks the CRC
    if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
        raise DataFileError(
            f"{source}: expected a pickled object array of shape {tuple(shape)}. "
            f"Received: {type(array).__name__} {getattr(array, 'shape', '')}"
        )
    _check_structure(array, max(data_bytes, 1), source)
    return array.item() if array.shape == () else array


def load_npz_safely(path: str | Path, *, progress: bool = False) -> dict[str, Any]:
    """Load every member of an `.npz` archive without executing code from it.

    Plain numeric members come back as arrays (read with `allow_pickle=False`); object members are
    unpickled with `RestrictedUnpickler`, and a 0-d object array is unwrapped to the object it
    holds (the nested dict of the Human3.6M files), as `np.load(...)[key].item()` would give.
    `progress` shows a byte-count bar while reading members of 64 MB or more.

    Raises:
        FileNotFoundError: the file does not exist.
        DataFileError: the file is not a zip archive of `.npy` members, or is damaged, or a member is
            encrypted, compressed other than stored/deflated, declares more data than it holds, or
            unpickles into an object nested too deep or larger than its bytes allow.
        UnsafePickleError: a pickle names a global outside the allow-list (nothing from it ran).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file.")
    if not zipfile.is_zipfile(path):
        raise DataFileError(f"{path}: not an .npz file (expected a zip archive of .npy arrays).")
    contents = {}
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise DataFileError(
            f"{path}: damaged zip archive ({type(error).__name__}: {error})."
        ) from error
    with archive:
        compressed = sum(info.compress_size for info in archive.infolist())
        if (
            compressed > path.stat().st_size
        ):  # overlapping members: one stretch of data read many times
            raise DataFileError(
                f"{path}: the members claim {compressed} compressed bytes, more than the file's "
                f"{path.stat().st_size}; the archive is damaged or crafted."
            )
        for member in archive.namelist():
            if not member.endswith(".npy"):
                raise DataFileError(
                    f"{path}: unexpected member {member!r} (an .npz holds only .npy arrays)."
                )
            contents[member[: -len(".npy")]] = _read_member(
                archive, member, f"{path} [{member}]", progress
            )
    return contents
