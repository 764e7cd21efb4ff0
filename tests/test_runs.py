"""The run directory (graphmdn_tf.runs): what may be trained in a folder, what is removed, the lock."""

import errno
import importlib.util
import os
import subprocess
import sys

import pytest

from graphmdn_tf import runs
from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.runs import RUN_FILES, RunDirectory, RunNotWritableError, not_writable
from graphmdn_tf.training.fit import train
from tests.conftest import ROOT
from tests.training.conftest import tiny_config


def test_an_absent_or_empty_folder_is_fine_and_prepare_writes_the_config(tmp_path):
    (tmp_path / "empty").mkdir()
    for run_dir in (tmp_path / "new", tmp_path / "empty"):
        run = RunDirectory(run_dir)
        assert run.check(tiny_config()) is False and not run.is_finished()
        run.prepare(tiny_config())
        assert run.load_config() == tiny_config()
        assert [path.name for path in run.path.iterdir()] == ["config.json"]


def test_a_file_is_not_a_run_directory(tmp_path):
    (tmp_path / "run").write_text("x")
    with pytest.raises(FileExistsError, match="is a file, not a run directory"):
        RunDirectory(tmp_path / "run").check(tiny_config())


def test_an_unfinished_run_is_required_to_be_finished_before_it_is_read(tmp_path):
    run = RunDirectory(tmp_path)
    run.prepare(tiny_config())
    with pytest.raises(
        FileNotFoundError, match=rf"Expected a finished training run with {run.model_path}"
    ):
        run.load_model()
    assert "train --run-dir" in str(pytest.raises(FileNotFoundError, run.require_finished).value)


def test_overwrite_removes_exactly_the_run_files(tmp_path):
    run = RunDirectory(tmp_path)
    run.prepare(tiny_config())
    for name in RUN_FILES:
        if name not in ("logs", "backup", "config.json"):
            (tmp_path / name).write_text("ours")
    (tmp_path / "logs").mkdir()
    (tmp_path / "backup").mkdir()
    (tmp_path / "notes.txt").write_text("the user's")
    with pytest.raises(FileExistsError, match="holds a finished run"):
        run.prepare(tiny_config())
    run.prepare(tiny_config(epochs=3), overwrite=True)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["config.json", "notes.txt"]
    assert TrainingConfig.from_json(tmp_path / "config.json").epochs == 3


def test_unfinished_run_with_other_settings_is_refused_once_it_has_a_checkpoint(tmp_path):
    tiny_config().to_json(tmp_path / "config.json")
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "step-000000005.npz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"unfinished run with other settings \(epochs: 2 -> 3\)"):
        RunDirectory(tmp_path).prepare(tiny_config(epochs=3))
    RunDirectory(tmp_path).prepare(tiny_config())  # the same settings: resumed, the checkpoint kept
    assert (tmp_path / "backup" / "step-000000005.npz").exists()
    RunDirectory(tmp_path).prepare(tiny_config(epochs=3), overwrite=True)
    assert (
        not (tmp_path / "backup").exists()
        and TrainingConfig.from_json(tmp_path / "config.json").epochs == 3
    )


def test_run_stopped_before_its_first_checkpoint_is_kept_unless_overwritten(tmp_path):
    tiny_config(data_dir="/no/such/folder", dataset="cmu").to_json(tmp_path / "config.json")
    (tmp_path / "logs").mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds an unfinished run with other settings"):
        RunDirectory(tmp_path).prepare(tiny_config())
    assert (tmp_path / "logs").is_dir()  # a partial run is never removed without overwrite
    RunDirectory(tmp_path).prepare(tiny_config(), overwrite=True)
    assert TrainingConfig.from_json(tmp_path / "config.json") == tiny_config()
    assert (
        not (tmp_path / "logs").exists() and (tmp_path / "notes.txt").exists()
    )  # only train's own files go


def test_two_runs_cannot_share_a_directory(tmp_path):
    run_dir = tmp_path / "run"
    with RunDirectory(run_dir).lock():
        with pytest.raises(
            RuntimeError, match=rf"run directory {run_dir} is in use by process {os.getpid()}"
        ):
            train(tiny_config(), run_dir, verbose=0)
    assert not (run_dir / "config.json").exists()  # the refused run wrote nothing
    with RunDirectory(
        run_dir
    ).lock():  # released when the holder's block ended (or its process died)
        pass


def test_a_run_refused_before_it_wrote_anything_leaves_no_folder_and_no_lock(tmp_path):
    (tmp_path / "mine").mkdir()
    run_dir = tmp_path / "runs" / "new"
    with pytest.raises(FileNotFoundError), RunDirectory(run_dir).lock():
        assert (run_dir / ".lock").read_text() == f"{os.getpid()}\n"
        raise FileNotFoundError("the data are missing")
    assert not (tmp_path / "runs").exists()  # both folders the lock made are gone
    with RunDirectory(tmp_path / "mine").lock():
        pass
    assert (tmp_path / "mine").is_dir() and not any(
        (tmp_path / "mine").iterdir()
    )  # the user's folder stays


def test_a_run_that_wrote_something_keeps_its_lock_file(tmp_path):
    run_dir = tmp_path / "run"
    with RunDirectory(run_dir).lock():
        (run_dir / "config.json").write_text("{}")
    assert sorted(path.name for path in run_dir.iterdir()) == [".lock", "config.json"]


def test_the_lock_held_is_the_file_at_the_path_when_another_process_took_it_away(
    tmp_path, monkeypatch
):
    """The race, reproduced with a test double for the other process's timing: it ends its block and takes
    the lock file away after this process opened the file and before it locked it."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / ".lock").write_text("4242\n")
    flock, locked = runs.fcntl.flock, []

    def flock_after_the_other_process_left(handle, operation):
        if not locked:
            (run_dir / ".lock").unlink()
        locked.append(handle.name)
        return flock(handle, operation)

    monkeypatch.setattr(runs.fcntl, "flock", flock_after_the_other_process_left)
    with RunDirectory(run_dir).lock():
        assert len(locked) == 2  # the orphaned file was let go, and the one now at the path locked
        assert (
            run_dir / ".lock"
        ).read_text() == f"{os.getpid()}\n"  # written through the handle held
        monkeypatch.setattr(runs.fcntl, "flock", flock)
        with pytest.raises(RuntimeError, match="is in use by process"):  # and it excludes others
            with RunDirectory(run_dir).lock():
                pass


@pytest.mark.parametrize(
    "code", [errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT, errno.EFBIG]
)
def test_a_full_or_read_only_disk_becomes_one_line_naming_the_file(tmp_path, code):
    error = not_writable(OSError(code, os.strerror(code), str(tmp_path / "history.csv")), tmp_path)
    assert isinstance(error, RunNotWritableError) and error.errno == code
    assert str(error) == (
        f"cannot write {tmp_path / 'history.csv'}: {os.strerror(code)}. Free some space (or make it "
        "writable) and run the same command again: it resumes from the last checkpoint"
    )
    unnamed = not_writable(OSError(code, os.strerror(code)), tmp_path)
    assert str(unnamed).startswith(f"cannot write {tmp_path}: ")


def test_other_os_errors_are_not_disk_errors(tmp_path):
    assert not_writable(FileNotFoundError(errno.ENOENT, "No such file", "x"), tmp_path) is None


@pytest.fixture
def runs_without_fcntl(monkeypatch):
    """A fresh copy of graphmdn_tf.runs imported while `import fcntl` fails (as on Windows)."""
    monkeypatch.setitem(sys.modules, "fcntl", None)
    spec = importlib.util.spec_from_file_location("runs_without_fcntl", runs.__file__)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_without_fcntl_a_second_process_is_refused_and_a_dead_holder_lets_go(
    tmp_path, runs_without_fcntl
):
    run_dir = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.lock_script", "hold", str(run_dir)],
        cwd=ROOT,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert holder.stdout.readline() == "locked\n"  # the package imported without fcntl
        assert (run_dir / ".lock").read_text() == f"{holder.pid}\n"
        assert runs_without_fcntl.fcntl is None
        with pytest.raises(
            RuntimeError, match=rf"run directory {run_dir} is in use by process {holder.pid}$"
        ):
            with runs_without_fcntl.RunDirectory(run_dir).lock():
                pass
        assert (run_dir / ".lock").read_text() == f"{holder.pid}\n"  # the refusal left it alone
    finally:
        holder.kill()
        holder.wait(timeout=60)
    (run_dir / "config.json").write_text("{}")
    with runs_without_fcntl.RunDirectory(
        run_dir
    ).lock():  # the holder died: its .lock is taken away
        assert (run_dir / ".lock").read_text() == f"{os.getpid()}\n"
        with pytest.raises(RuntimeError, match=rf"is in use by process {os.getpid()}$"):
            with runs_without_fcntl.RunDirectory(run_dir).lock():
                pass
    assert sorted(path.name for path in run_dir.iterdir()) == ["config.json"]


def test_without_fcntl_a_block_that_wrote_nothing_leaves_no_lock_and_no_folder(
    tmp_path, runs_without_fcntl
):
    run_dir = tmp_path / "runs" / "new"
    with runs_without_fcntl.RunDirectory(run_dir).lock():
        assert (run_dir / ".lock").read_text() == f"{os.getpid()}\n"
    assert not (tmp_path / "runs").exists()
