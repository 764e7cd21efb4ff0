"""The run directory: the one owner of its layout, its lock, and whether a run is finished.

`train` (graphmdn_tf.training.fit) writes a run directory, `evaluate_run` and `export_run` read it.
Every file name below is used through this module only.

RUN_DIR after a finished run:
    config.json           the `TrainingConfig` (written first; a restart checks it is unchanged)
    model.keras           the trained model (written last: its presence marks the run finished)
    history.csv           per-epoch loss and MPJPE, training and validation (appended across restarts)
    training.json         steps per epoch, total steps, the step a restart resumed from, wall time
    training_curves.png   loss, MPJPE per epoch and the learning rate per step
    logs/                 TensorBoard: train/, validation/, the HParams record, evaluation/ (`evaluate`)
    backup/               while unfinished only: the latest checkpoint (model, optimizer, seeds, position)
    .lock                 the lock of the process training in the folder (`RunDirectory.lock`)
    results.md/.csv/.json, results_per_action.png   written by `graphmdn-tf evaluate`, and for a
    results_calibration.png, results_diversity.png  GraphMDN its reliability diagram and kernel diversity
    evaluations/<data>/   `evaluate` on other data than the run's own (--data-dir, --dataset, ...)
    conversion.json       a run `graphmdn-tf convert` made from a published checkpoint: its source
                          file, SHA-256 and architecture (such a run has no history, training.json or logs)
    calibration.json      written by `graphmdn-tf calibrate`: per-joint scale factors of sigma
                          (`graphmdn_tf.calibration.CalibrationRecord`); `load_model` applies them

What a directory may be given to `train` (`RunDirectory.check`):
    - new or empty: fine;
    - files but no config.json of ours: refused, with or without `overwrite` (it is not a run);
    - a finished run: refused unless `overwrite`;
    - an unfinished run: resumed with the same settings, refused with other settings unless `overwrite`.
Only the files listed above (`RUN_FILES`) are ever removed, and only with `overwrite`.

Example:
    >>> run = RunDirectory("runs/graphmdn-standard-cmu")
    >>> run.is_finished(), run.model_path
    (True, PosixPath('runs/graphmdn-standard-cmu/model.keras'))
    >>> config, model = run.load_config(), run.load_model()
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from graphmdn_tf.calibration import CalibrationRecord, node_names
from graphmdn_tf.config import TrainingConfig
from graphmdn_tf.models.build import load_model

# The operating system's lock on an open file: flock on POSIX, a byte-range lock on Windows. Where
# neither exists, `RunDirectory.lock` claims the folder by creating .lock atomically instead.
try:
    import fcntl
except ImportError:
    fcntl = None
try:
    import msvcrt
except ImportError:
    msvcrt = None

CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
CONVERSION_FILE = "conversion.json"
CALIBRATION_FILE = "calibration.json"
HISTORY_FILE = "history.csv"
TRAINING_FILE = "training.json"
CURVES_FILE = "training_curves.png"
LOGS_DIR = "logs"
BACKUP_DIR = "backup"
LOCK_FILE = ".lock"
RESULTS_STEM = "results"
EVALUATIONS_DIR = (
    "evaluations"  # results on other data than the run's own: evaluations/<data>/results.*
)
# What `EvaluationResult.write(directory, stem)` writes: <stem><suffix> (the last two for mixture models only).
RESULTS_SUFFIXES = (".md", ".csv", ".json", "_per_action.png", "_calibration.png", "_diversity.png")
RESULTS_FILES = tuple(f"{RESULTS_STEM}{suffix}" for suffix in RESULTS_SUFFIXES)

#: Everything `train` and `evaluate` write in a run directory; an overwrite removes exactly these.
RUN_FILES = (
    CONFIG_FILE,
    MODEL_FILE,
    HISTORY_FILE,
    TRAINING_FILE,
    CURVES_FILE,
    LOGS_DIR,
    BACKUP_DIR,
    *RESULTS_FILES,
    EVALUATIONS_DIR,
    CONVERSION_FILE,
    CALIBRATION_FILE,
)


# The errors of a disk that is full, read-only, over quota or refusing a file's size.
NOT_WRITABLE = (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EFBIG)


class RunNotWritableError(OSError):
    """The run directory could not be written (full or read-only disk); the run resumes once it can be."""


class RunInUseError(RuntimeError):
    """Another process holds the run directory's lock (a `train` running there)."""


def not_writable(error: OSError, run_dir: str | Path) -> RunNotWritableError | None:
    """A one-line `RunNotWritableError` for an OSError of a full or read-only disk, else None."""
    if error.errno not in NOT_WRITABLE:
        return None
    reason = error.strerror or os.strerror(error.errno)
    where = error.filename or run_dir
    translated = RunNotWritableError(
        f"cannot write {where}: {reason}. Free some space (or make it writable) and run the same "
        "command again: it resumes from the last checkpoint"
    )
    translated.errno = (
        error.errno
    )  # (not the filename too: OSError would then print "[Errno N] None: ...")
    return translated


@dataclass(frozen=True)
class RunDirectory:
    """The paths of one run directory and the questions asked of it (see the module docstring)."""

    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    config_path = property(lambda self: self.path / CONFIG_FILE)
    model_path = property(lambda self: self.path / MODEL_FILE)
    history_path = property(lambda self: self.path / HISTORY_FILE)
    training_path = property(lambda self: self.path / TRAINING_FILE)
    curves_path = property(lambda self: self.path / CURVES_FILE)
    logs_dir = property(lambda self: self.path / LOGS_DIR)
    backup_dir = property(lambda self: self.path / BACKUP_DIR)
    lock_path = property(lambda self: self.path / LOCK_FILE)
    conversion_path = property(lambda self: self.path / CONVERSION_FILE)
    calibration_path = property(lambda self: self.path / CALIBRATION_FILE)

    def converted_from(self) -> str | None:
        """The checkpoint a run made by `graphmdn-tf convert` holds (conversion.json), else None."""
        if not self.conversion_path.is_file():
            return None
        try:
            return str(json.loads(self.conversion_path.read_text())["converted_from"])
        except (ValueError, KeyError, TypeError):
            raise ValueError(
                f"{self.conversion_path}: damaged (expected a JSON object with 'converted_from')"
            ) from None

    def evaluation_dir(self, tag: str) -> Path:
        """Where `evaluate` writes the results of this run on other data (`tag` names the data)."""
        return self.path / EVALUATIONS_DIR / tag

    def is_finished(self) -> bool:
        """True once `train` has written model.keras (its last step)."""
        return self.model_path.is_file()

    def load_config(self) -> TrainingConfig:
        """The run's `TrainingConfig` (FileNotFoundError / a ValueError naming config.json if damaged)."""
        return TrainingConfig.from_json(self.config_path)

    def finished_with(self, config: TrainingConfig) -> bool:
        """True for a finished run of exactly `config`."""
        return self.is_finished() and self.load_config() == config

    def require_finished(self) -> Path:
        """model.keras of a finished run, or a FileNotFoundError saying how to finish it."""
        if not self.is_finished():
            raise FileNotFoundError(
                f"Expected a finished training run with {self.model_path} (written when `train` completes). "
                f"Not found; train (or resume) the run first: graphmdn-tf train --run-dir {self.path} ..."
            )
        return self.model_path

    def is_calibrated(self) -> bool:
        """True when `graphmdn-tf calibrate` has written calibration.json."""
        return self.calibration_path.is_file()

    def load_calibration(self) -> CalibrationRecord | None:
        """The run's calibration.json (None when there is none; a ValueError naming it if damaged)."""
        if not self.is_calibrated():
            return None
        return CalibrationRecord.from_json(self.calibration_path)

    def load_model(self, calibrated: bool = True):
        """The trained model (`graphmdn_tf.models.load_model`: ours only, in Keras' safe mode).

        With `calibrated` (the default) and a calibration.json, a GraphMDN with its sigma scale
        factors (`GraphMDN(sigma_scale=...)`): every output, sample and export then includes them.
        `calibrated=False` gives the model as trained.

        Raises:
            FileNotFoundError: the run is not finished.
            ValueError: calibration.json is damaged or fits another model (level, kernels, joints).
        """
        model = load_model(self.require_finished())
        record = self.load_calibration() if calibrated else None
        if record is None:
            return model
        if not getattr(model, "is_mixture", False):
            raise ValueError(
                f"{self.calibration_path}: calibration applies to a GraphMDN; the run's model is a "
                f"{type(model).__name__}"
            )
        record.check_model(
            model.mixture,
            model.num_kernels,
            node_names(model.graph),
            self.calibration_path,
        )
        return model.with_sigma_scale(record.scale_array())

    def check(self, config: TrainingConfig, overwrite: bool = False) -> bool:
        """Whether `train` may use the folder for `config`; changes nothing. True: its run files must go first.

        Raises:
            FileExistsError: a file, a folder that is not a run, or a finished run without `overwrite`.
            ValueError: an unfinished run with other settings (without `overwrite`), or a damaged config.json.
        """
        if self.path.exists() and not self.path.is_dir():
            raise FileExistsError(
                f"{self.path} is a file, not a run directory. Choose another --run-dir."
            )
        entries = (
            sorted(p.name for p in self.path.iterdir() if p.name != LOCK_FILE)
            if self.path.is_dir()
            else []
        )
        if not entries:
            return False
        if not self.config_path.is_file():
            listed = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise FileExistsError(
                f"{self.path} holds files that are not a graphmdn-tf run (no {CONFIG_FILE}: {listed}). Nothing was "
                "changed; choose a new or empty run directory."
            )
        existing = self.load_config()
        if overwrite:
            return True
        if self.is_finished():
            raise FileExistsError(
                f"{self.path} holds a finished run ({MODEL_FILE}). Pass overwrite=True (--overwrite) to train it "
                "again from scratch, or choose another run directory."
            )
        differences = existing.differences(config)
        if differences:
            listed = ", ".join(
                f"{name}: {old!r} -> {new!r}" for name, (old, new) in differences.items()
            )
            raise ValueError(
                f"{self.path} holds an unfinished run with other settings ({listed}). Use the same settings to "
                "resume it, overwrite=True (--overwrite) to start over, or another run directory."
            )
        return False

    def prepare(self, config: TrainingConfig, overwrite: bool = False) -> None:
        """`check`, then (with `overwrite`) remove `RUN_FILES` (nothing else), create the folder and write
        config.json. `train` calls it once the data and the model are known good."""
        if self.check(config, overwrite):
            for name in RUN_FILES:
                target = self.path / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        self.path.mkdir(parents=True, exist_ok=True)
        config.to_json(self.config_path)

    @contextlib.contextmanager
    def lock(self):
        """Hold the folder's exclusive lock (.lock) for the block; it is released if the process dies.

        A block that leaves nothing but the lock (a run refused before it wrote anything: bad data, a bad
        cache folder) takes the lock file away again, and the folders it created for it. .lock holds the
        holder's process id, which a refused process names.

        Raises:
            RunInUseError: "run directory D is in use by process N; ..." when another process holds it.
        """
        created = [folder for folder in (self.path, *self.path.parents) if not folder.exists()]
        self.path.mkdir(parents=True, exist_ok=True)
        native = fcntl is not None or msvcrt is not None
        handle = self._locked_handle() if native else self._claimed_handle()
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n".encode())
            handle.flush()
            yield
        finally:
            try:
                if not native:
                    self.lock_path.unlink()  # the claim is the file itself
                if [entry.name for entry in self.path.iterdir()] in ([LOCK_FILE], []):
                    if native:
                        self.lock_path.unlink()  # still held: one who opened it meanwhile sees it gone
                    for folder in created:
                        folder.rmdir()
            except OSError:
                pass  # a folder someone wrote into meanwhile stays
            handle.close()  # closing the file releases the lock

    def _locked_handle(self):
        """The open .lock file, locked by the OS; retried when the file was taken away (see `lock`) while
        this process waited to lock it, so that the lock held is always the file's at that path."""
        while True:
            handle = open(self.lock_path, "a+b")  # noqa: SIM115 (held open for the lock's lifetime)
            if not _os_lock(handle):
                holder = _holder(handle)
                handle.close()
                raise RunInUseError(
                    f"run directory {self.path} is in use by process {holder}; wait for it to "
                    "finish, or use another run directory"
                ) from None
            try:
                if os.stat(self.lock_path).st_ino == os.fstat(handle.fileno()).st_ino:
                    return handle
            except FileNotFoundError:
                pass
            handle.close()
            self.path.mkdir(parents=True, exist_ok=True)

    def _claimed_handle(self):
        """The open .lock file, created by this process (where the OS has no file lock): the file is
        written whole under another name and linked to .lock, which fails if .lock exists. A .lock whose
        process has died is taken away first."""
        while True:
            fd, staged = tempfile.mkstemp(dir=self.path, prefix=".lock-")
            try:
                os.write(fd, f"{os.getpid()}\n".encode())
                os.close(fd)
                os.link(staged, self.lock_path)
                return open(self.lock_path, "r+b")  # noqa: SIM115 (held open for the lock's lifetime)
            except FileExistsError:
                with open(self.lock_path, "rb") as held:
                    holder = _holder(held)
                if holder.isdigit() and _process_is_alive(int(holder)):
                    raise RuntimeError(
                        f"run directory {self.path} is in use by process {holder}"
                    ) from None
                with contextlib.suppress(FileNotFoundError):
                    self.lock_path.unlink()  # left by a process that died
            finally:
                os.unlink(staged)


def _os_lock(handle) -> bool:
    """Lock the open file exclusively without waiting; False when another process holds it."""
    if fcntl is not None:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    # Windows locks byte ranges, and a locked range cannot be read by others: the lock is on a byte
    # far past the process id the file holds, so that a refused process can still read it.
    handle.seek(1 << 30)
    try:
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    finally:
        handle.seek(0)
    return True


def _holder(handle) -> str:
    """The process id written in an open .lock file, or "unknown"."""
    handle.seek(0)
    return handle.read().decode(errors="replace").strip() or "unknown"


def _process_is_alive(pid: int) -> bool:
    """Whether a process with this id runs (on a system without file locks, i.e. not Windows)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return True
