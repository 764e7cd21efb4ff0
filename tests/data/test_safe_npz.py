"""Safe reading of pickled .npz files: what is admitted, what is refused, and that nothing runs."""

import io
import os
import pickle
import struct
import subprocess
import zipfile

import numpy as np
import pytest
from numpy.lib import format as npy_format

from graphmdn_tf.data.h36m import load_keypoints_2d, load_poses_3d
from graphmdn_tf.data.safe_npz import (
    DataFileError,
    UnsafePickleError,
    load_npz_safely,
    restricted_loads,
)
from tests.data.npz_files import METADATA_17, read_npz_trusted, write_npz


class TouchFile:
    """Unpickling this runs `os.system("touch <marker>")`: the classic malicious-pickle payload."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class CallsBuiltin:
    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def assert_same(actual, expected):
    """Deep equality of nested dicts / lists / arrays, with types."""
    assert type(actual) is type(expected)
    if isinstance(expected, dict):
        assert list(actual) == list(expected)
        for key in expected:
            assert_same(actual[key], expected[key])
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected)
        for item_actual, item_expected in zip(actual, expected):
            assert_same(item_actual, item_expected)
    elif isinstance(expected, np.ndarray):
        assert actual.dtype == expected.dtype and actual.shape == expected.shape
        np.testing.assert_array_equal(actual, expected)
    else:
        assert actual == expected


def test_reads_the_shared_cmu_files_like_np_load(cmu_dir):
    for name in ("data_3d_cmu.npz", "data_2d_cmu_gt.npz"):
        assert_same(load_npz_safely(cmu_dir / name), read_npz_trusted(cmu_dir / name))


def test_crafted_file_is_refused_and_its_payload_does_not_run(tmp_path, cache_dir):
    marker = tmp_path / "payload-ran"
    crafted = write_npz(
        tmp_path / "data" / "data_3d_h36m.npz", positions_3d={"S1": {"Walking": TouchFile(marker)}}
    )
    with pytest.raises(
        UnsafePickleError,
        match=r"data_3d_h36m.npz \[positions_3d.npy\]: refused to unpickle the "
        r"global '(posix|os)\.system'",
    ):
        load_npz_safely(crafted)
    with pytest.raises(UnsafePickleError, match="refused to unpickle"):
        load_poses_3d(crafted, cache_dir=cache_dir)
    assert not marker.exists()
    assert not (cache_dir / "converted").exists()  # nothing was cached from the refused file
    # Control: the payload is live. np.load with pickles runs it (a harmless `touch` here).
    with np.load(crafted, allow_pickle=True) as archive:
        archive["positions_3d"]
    assert marker.exists()


@pytest.mark.parametrize(
    "payload, refused",
    [
        (CallsBuiltin(eval, "1 + 1"), "builtins.eval"),
        (CallsBuiltin(exec, "x = 1"), "builtins.exec"),
        (CallsBuiltin(getattr, "text", "upper"), "builtins.getattr"),
        (CallsBuiltin(subprocess.Popen, ["true"]), "subprocess.Popen"),
        (CallsBuiltin(np.load, "x.npy"), "numpy.load"),
        (CallsBuiltin(open, "x"), "(io|_io).open"),
    ],
)
def test_other_globals_are_refused(tmp_path, payload, refused):
    path = write_npz(
        tmp_path / "data_2d_h36m_gt.npz", positions_2d={"S1": payload}, metadata=METADATA_17
    )
    with pytest.raises(UnsafePickleError, match=f"refused to unpickle the global '{refused}'"):
        load_npz_safely(path)
    with pytest.raises(UnsafePickleError, match=f"global '{refused}'"):
        restricted_loads(pickle.dumps(payload))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_arrays_scalars_and_containers_are_admitted(protocol):
    data = {
        "float32": np.arange(6, dtype=np.float32).reshape(2, 3),
        "fortran": np.asfortranarray(np.ones((2, 3))),
        "int64": np.array([1, -2], dtype=np.int64),
        "bool": np.array([True, False]),
        "strings": np.array(["Walking", "Sitting 1"]),
        "scalar": np.float32(2.5),
        "nested": [(1, "a"), {"b": None}, {3, 4}, frozenset({5}), b"bytes", 1.5, True],
    }
    assert_same(restricted_loads(pickle.dumps(data, protocol=protocol)), data)


def test_plain_numeric_members_are_read_without_pickle(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, values=np.arange(4.0), labels=np.array(["a", "b"]))
    contents = load_npz_safely(path)
    np.testing.assert_array_equal(contents["values"], np.arange(4.0))
    np.testing.assert_array_equal(contents["labels"], ["a", "b"])


def test_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.npz: no such file"):
        load_npz_safely(tmp_path / "nothing.npz")
    with pytest.raises(
        FileNotFoundError,
        match=r"data_2d_h36m_gt.npz: no such file \(expected a Human3.6M-format 2D",
    ):
        load_keypoints_2d(tmp_path / "data_2d_h36m_gt.npz", cache_dir=tmp_path)


def test_not_an_npz_raises(tmp_path):
    path = tmp_path / "data_3d_h36m.npz"
    path.write_text("positions_3d = {}")
    with pytest.raises(
        DataFileError, match=r"data_3d_h36m.npz: not an .npz file \(expected a zip archive"
    ):
        load_npz_safely(path)
    with pytest.raises(DataFileError, match="not an .npz file"):
        load_poses_3d(path, cache_dir=tmp_path / "cache")


def test_malformed_members_raise(tmp_path):
    path = tmp_path / "extra.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(DataFileError, match=r"extra.npz: unexpected member 'readme.txt'"):
        load_npz_safely(path)
    path = tmp_path / "garbage.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("positions_3d.npy", b"not an npy header at all")
    with pytest.raises(
        DataFileError, match=r"garbage.npz \[positions_3d.npy\]: not a valid .npy member"
    ):
        load_npz_safely(path)


def test_truncated_pickle_raises(tmp_path):
    complete = write_npz(
        tmp_path / "complete.npz", positions_3d={"S1": {"Walking": np.zeros((5, 17, 3))}}
    )
    with zipfile.ZipFile(complete) as archive:
        member = archive.read("positions_3d.npy")
    path = tmp_path / "truncated.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("positions_3d.npy", member[: len(member) // 2])
    with pytest.raises(
        DataFileError,
        match=r"truncated.npz \[positions_3d.npy\]: could not unpickle the object array",
    ):
        load_npz_safely(path)


# ------------------------------------------------------------------------ hostile and damaged archives
def npy_member(header: dict, data: bytes = b"") -> bytes:
    """An .npy member: a version 1.0 header with `header` ({"descr", "fortran_order", "shape"}), then `data`."""
    stream = io.BytesIO()
    npy_format.write_array_header_1_0(stream, header)
    return stream.getvalue() + data


def holder_pickle(opcodes: bytes) -> bytes:
    """The protocol-2 pickle of a 0-d object array whose single element the raw `opcodes` build."""
    holder = np.empty((), dtype=object)
    holder[()] = "PLACEHOLDER"
    payload = pickle.dumps(holder, protocol=2)
    marker = b"X" + struct.pack("<I", len("PLACEHOLDER")) + b"PLACEHOLDER"
    assert payload.count(marker) == 1
    return payload.replace(marker, opcodes)


def write_members(path, members: dict, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def patch_central_directory(path, member: str, **fields):
    """Overwrite fields of `member`'s central directory record (flag_bits, compress_type, file_size)."""
    offsets = {"flag_bits": (8, "<H"), "compress_type": (10, "<H"), "file_size": (24, "<I")}
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    start = data.find(b"PK\x01\x02", 0)
    while data[start + 46 : start + 46 + len(member)] != member.encode():
        start = data.find(b"PK\x01\x02", start + 1)
    for name, value in fields.items():
        offset, layout = offsets[name]
        struct.pack_into(layout, data, start + offset, value)
        if name != "file_size":  # zipfile also compares the local header's flags and method
            struct.pack_into(layout, data, info.header_offset + offset - 2, value)
    path.write_bytes(bytes(data))
    return path


_FLOAT64 = {"descr": "<f8", "fortran_order": False}
_OBJECT = {"descr": "|O", "fortran_order": False}


def _valid_member() -> bytes:
    return npy_member({**_FLOAT64, "shape": (2, 3)}, np.arange(6.0).tobytes())


@pytest.mark.parametrize(
    "members, match",
    [
        (
            {"huge.npy": npy_member({**_FLOAT64, "shape": (10**6, 10**6)}, b"\0" * 64)},
            r"\[huge.npy\]: the header declares shape \(1000000, 1000000\) of float64 \(8000000000000 bytes\), "
            r"but the member holds 64 bytes of data",
        ),
        (
            {
                "values.npy": _valid_member(),
                "unused.npy": npy_member({**_FLOAT64, "shape": (10**12,)}),
            },
            r"\[unused.npy\]: the header declares shape \(1000000000000,\) of float64",
        ),
        (
            {"short.npy": npy_member({**_FLOAT64, "shape": (100, 17, 3)}, b"\0" * 10)},
            r"\[short.npy\]: the header declares shape \(100, 17, 3\) of float64 \(40800 bytes\), but the member "
            r"holds 10 bytes",
        ),
        (
            {
                "objects.npy": npy_member(
                    {**_OBJECT, "shape": (10**12,)}, pickle.dumps(np.empty(3, object), 2)
                )
            },
            r"\[objects.npy\]: the header declares shape \(1000000000000,\) of object",
        ),
    ],
)
def test_headers_declaring_more_than_the_member_holds_are_refused(tmp_path, members, match):
    path = write_members(tmp_path / "data_3d_h36m.npz", members)
    with pytest.raises(DataFileError, match=match) as error:
        load_npz_safely(path)
    assert str(error.value).startswith(f"{path} [") and "\n" not in str(error.value)


def test_a_member_that_fails_its_crc_is_refused(tmp_path):
    path = write_members(tmp_path / "data.npz", {"values.npy": _valid_member()})
    data = bytearray(path.read_bytes())
    data[data.index(np.arange(6.0).tobytes()) + 9] ^= 0xFF  # one flipped byte in the array data
    path.write_bytes(bytes(data))
    with pytest.raises(
        DataFileError, match=r"data.npz \[values.npy\]: damaged zip member \(BadZipFile: Bad CRC-32"
    ):
        load_npz_safely(path)


@pytest.mark.parametrize(
    "fields, match",
    [
        ({"flag_bits": 0x1}, r"\[values.npy\]: the member is encrypted; expected a plain .npy"),
        (
            {"compress_type": 99},
            r"\[values.npy\]: unsupported compression method 99 \(expected 0 stored or "
            r"8 deflated, as numpy.savez writes\)",
        ),
        ({"compress_type": zipfile.ZIP_BZIP2}, r"unsupported compression method 12"),
    ],
)
def test_encrypted_and_unsupported_members_are_refused(tmp_path, fields, match):
    path = patch_central_directory(
        write_members(tmp_path / "data.npz", {"values.npy": _valid_member()}),
        "values.npy",
        **fields,
    )
    with pytest.raises(DataFileError, match=match):
        load_npz_safely(path)


def test_a_member_declaring_more_than_its_compressed_bytes_can_hold_is_refused(tmp_path):
    """A zip-bomb size: 4 GB claimed for a few hundred deflated bytes (deflate expands at most 1032:1)."""
    member = npy_member({**_FLOAT64, "shape": (2**29 - 32,)}, b"\0" * 4096)
    path = write_members(tmp_path / "data.npz", {"bomb.npy": member}, zipfile.ZIP_DEFLATED)
    patch_central_directory(path, "bomb.npy", file_size=2**32 - 1)
    with pytest.raises(
        DataFileError,
        match=r"\[bomb.npy\]: the member claims 4294967295 bytes from \d+ "
        r"compressed bytes, more than deflate can expand to",
    ):
        load_npz_safely(path)


def test_a_pickle_calling_numpy_ndarray_to_allocate_is_refused(tmp_path):
    shape = b"J" + struct.pack("<i", 10**9) + b"J" + struct.pack("<i", 10**4)
    opcodes = b"cnumpy\nndarray\n((" + shape + b"ttR"  # numpy.ndarray((10**9, 10**4)): 80 TB
    path = write_members(
        tmp_path / "data.npz",
        {"positions_3d.npy": npy_member({**_OBJECT, "shape": ()}, holder_pickle(opcodes))},
    )
    with pytest.raises(
        UnsafePickleError, match=r"\[positions_3d.npy\]: refused to call numpy.ndarray"
    ):
        load_npz_safely(path)


def _nested_lists(depth: int) -> bytes:
    return b"]" * depth + b"a" * (
        depth - 1
    )  # EMPTY_LIST x depth, then APPEND each into the one before


def _doubling_lists(levels: int) -> bytes:
    """[[x, x], [x, x]]... 2**levels leaves in 8 bytes a level, by memo references (BINPUT, BINGET)."""
    opcodes = b"]q\xc8"  # the empty list, memo 200
    for level in range(levels):
        memo = bytes([200 + level])
        opcodes += (
            b"0(h" + memo + b"h" + memo + b"lq" + bytes([201 + level])
        )  # POP; [m, m] -> memo m + 1
    return opcodes


@pytest.mark.parametrize(
    "opcodes, match",
    [
        (
            _nested_lists(5000),
            r"\[metadata.npy\]: the pickled object is nested more than 32 levels deep",
        ),
        (
            _doubling_lists(22),
            r"\[metadata.npy\]: the pickled object unfolds into more than \d+ items",
        ),
    ],
)
def test_deep_or_exponentially_large_objects_are_refused_quickly(tmp_path, opcodes, match):
    path = write_members(
        tmp_path / "data_2d_h36m_gt.npz",
        {"metadata.npy": npy_member({**_OBJECT, "shape": ()}, holder_pickle(opcodes))},
    )
    with pytest.raises(DataFileError, match=match):
        load_npz_safely(path)
