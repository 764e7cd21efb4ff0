"""Safe reading of pickled .npz files: what is admitted, what is refused, and that nothing runs."""

import os
import pickle
import subprocess
import zipfile

import numpy as np
import pytest

from graphmdn_tf.data.h36m import load_keypoints_2d, load_poses_3d
from graphmdn_tf.data.safe_npz import DataFileError, UnsafePickleError, load_npz_safely, restricted_loads
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
    crafted = write_npz(tmp_path / "data" / "data_3d_h36m.npz", positions_3d={"S1": {"Walking": TouchFile(marker)}})
    with pytest.raises(UnsafePickleError, match=r"data_3d_h36m.npz \[positions_3d.npy\]: refused to unpickle the "
                                                r"global '(posix|os)\.system'"):
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
    path = write_npz(tmp_path / "data_2d_h36m_gt.npz", positions_2d={"S1": payload}, metadata=METADATA_17)
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
    with pytest.raises(FileNotFoundError, match=r"data_2d_h36m_gt.npz: no such file \(expected a Human3.6M-format 2D"):
        load_keypoints_2d(tmp_path / "data_2d_h36m_gt.npz", cache_dir=tmp_path)


def test_not_an_npz_raises(tmp_path):
    path = tmp_path / "data_3d_h36m.npz"
    path.write_text("positions_3d = {}")
    with pytest.raises(DataFileError, match=r"data_3d_h36m.npz: not an .npz file \(expected a zip archive"):
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
    with pytest.raises(DataFileError, match=r"garbage.npz \[positions_3d.npy\]: not a valid .npy member"):
        load_npz_safely(path)


def test_truncated_pickle_raises(tmp_path):
    complete = write_npz(tmp_path / "complete.npz", positions_3d={"S1": {"Walking": np.zeros((5, 17, 3))}})
    with zipfile.ZipFile(complete) as archive:
        member = archive.read("positions_3d.npy")
    path = tmp_path / "truncated.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("positions_3d.npy", member[: len(member) // 2])
    with pytest.raises(DataFileError, match=r"truncated.npz \[positions_3d.npy\]: could not unpickle the object array"):
        load_npz_safely(path)
