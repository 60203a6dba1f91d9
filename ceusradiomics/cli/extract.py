"""``python -m ceusradiomics extract``: a cohort manifest in, one feature table out.

The command runs :class:`~ceusradiomics.TextureExtractor` (and, with
``--deep``, :class:`~ceusradiomics.ResNetFeaturizer`) over the lesions of a
manifest (the :func:`~ceusradiomics.io.load_cohort` format), a chunk of
lesions at a time:

- each finished chunk is saved at once in a *partial store* next to the output
  (``<out>.partial/``), so an interrupted run (Ctrl-C, a crash, a killed job)
  loses at most the chunk it was working on, and running the same command
  again skips every lesion already done;
- a lesion that cannot be read (missing file, empty mask, shape mismatch, ...)
  does not stop the batch: it goes to ``<out stem>.errors.csv``, filled from
  the :class:`~ceusradiomics.exceptions.ROIError` that says which lesion,
  column and file, and is retried on the next run;
- the table is written once, at the end, to a temporary name and renamed
  atomically, with a sidecar ``<out>.json`` that records the settings, the
  versions and the manifest's hash;
- faults neither mix nor lose results: what the values depend on beyond the
  flags (a weights file's SHA-256, the texture code path, the version) must
  match for a resume; a weights file is loaded at set-up; a failed write
  ends with one line and exit status 3, keeping the finished chunks; worker
  processes end with the command, however it ends, and the next run removes
  the temporary files a killed one left.

The settings (flags and parameter-file keys) are derived from the estimators'
parameters in :mod:`ceusradiomics.cli._settings`. The user guide is
``docs/batch.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import hashlib
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from numbers import Integral
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from joblib import parallel_config

from ceusradiomics._version import __version__, package_versions
from ceusradiomics.cli._settings import (
    DEFAULT_SETTINGS,
    SettingsError,
    add_flags,
    flag_settings,
    is_named_weights,
    make_estimator,
    read_params,
    resolve_settings,
    values_settings,
)
from ceusradiomics.exceptions import CeusRadiomicsWarning, ROIError
from ceusradiomics.io import is_missing, load_cohort

__all__ = [
    "DEFAULT_SETTINGS",
    "SettingsError",
    "add_parser",
    "read_params",
    "resolve_settings",
    "run",
    "run_extract",
]

_FORMATS = {".parquet": "parquet", ".csv": "csv"}
_DEFAULT_LABEL = "ER"
# Bumped when the partial store's layout changes, so an old store is refused.
_STORE_FORMAT = 2
# The exit statuses of the command (docs/batch.md).
EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_WRITE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
# How often a worker process checks that the command's process is alive.
_WATCH_INTERVAL_S = 0.5
# Recorded in the sidecar: the runtime dependencies that compute the table.
_DEPENDENCIES = (
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "joblib",
    "Pillow",
    "pydicom",
)
# The columns of the errors file after the id column.
_ERROR_COLUMNS = ["column", "path", "error", "message"]


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


def _fsync_folder(folder: Path) -> None:
    # Makes a rename durable; folders cannot be opened on Windows.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class _WriteError(Exception):
    """A file or folder of the run could not be written: disk full, file-size
    limit, no permission, ... The command says so in one line and exits with
    :data:`EXIT_WRITE`; what was saved before stays.

    ``saved`` is set once lesions may have been saved: (the partial store,
    lesions saved, lesions in the manifest).
    """

    def __init__(self, path: Path, error: OSError):
        super().__init__(path, error)
        self.path = path
        self.error = error
        self.saved: tuple[Path, int, int] | None = None

    def _hint(self) -> str:
        code = self.error.errno
        if code == errno.EFBIG:
            return "lift the file-size limit (ulimit -f)"
        if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return "free some disk space"
        if code in (errno.EACCES, errno.EPERM, errno.EROFS):
            return "make the folder writable"
        return "fix that"

    def __str__(self) -> str:
        head = f"cannot write {self.path}: {self.error.strerror or self.error}"
        if self.saved is None:
            return f"{head}; nothing was computed: {self._hint()} and run it again"
        store, done, total = self.saved
        return (
            f"{head}; the finished lesions are saved in {store} ({done}/{total}): "
            f"{self._hint()} and run the same command again to resume"
        )


@contextlib.contextmanager
def _writing(path: Path):
    """Raise an OSError of writing `path` as a :class:`_WriteError`."""
    try:
        yield
    except OSError as exc:
        raise _WriteError(path, exc) from exc


@contextlib.contextmanager
def _file_size_limit_is_an_error():
    """Make a write past ``ulimit -f`` an OSError (EFBIG) instead of a
    SIGXFSZ that kills the process (with a core dump) mid-write."""
    if not hasattr(signal, "SIGXFSZ") or (
        threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGXFSZ, previous)


def _tmp_name(path: Path) -> Path:
    """The temporary name that an atomic write of `path` uses."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


_TMP_PATTERN = re.compile(r"\.(?P<name>.+)\.(?P<pid>[0-9]+)\.tmp")


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this run has written nothing yet
    if os.name == "nt" or pid <= 0:
        return True  # not checked: the file is left alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def _remove_stale_tmp(folder: Path, names: Iterable[str] | None = None) -> None:
    """Remove temporary files that a killed run left in `folder`.

    With `names`, only those of these files (the outputs of this ``--out``)
    and only those of a process that is gone; without, every one (the
    partial store, which this run holds the lock of).
    """
    wanted = None if names is None else set(names)
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            match = _TMP_PATTERN.fullmatch(entry.name)
            if match is None or not entry.is_file(follow_symlinks=False):
                continue
            if wanted is not None and (
                match["name"] not in wanted or _process_alive(int(match["pid"]))
            ):
                continue
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Write through `write` to a temporary file, then rename it onto `path`.

    Readers of `path` see the old file or the new one, never a partial one.
    A failed write (an OSError) removes the temporary file and raises a
    :class:`_WriteError` naming `path`.
    """
    tmp = _tmp_name(path)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise _WriteError(path, exc) from exc
        raise
    _fsync_folder(path.parent)


def _write_json(path: Path, data: Any) -> None:
    def write(tmp: Path) -> None:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    _write_atomically(path, write)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class _Outputs:
    """The paths of one run, for display (as given) and for writing."""

    def __init__(self, out: str | os.PathLike[str]):
        self.shown = Path(out)
        self.format = _FORMATS.get(self.shown.suffix.lower())
        if self.format is None:
            raise SettingsError(
                f"--out must end in .parquet or .csv (the table's format); got "
                f"{str(out)!r}"
            )
        if self.format == "parquet" and not any(
            importlib.util.find_spec(m) for m in ("pyarrow", "fastparquet")
        ):
            # Checked before any lesion is computed, not after hours of work.
            raise SettingsError(
                f"writing {self.shown.name} needs pyarrow (pip install pyarrow); "
                f"or write CSV: --out {self.shown.with_suffix('.csv')}"
            )
        self.table = self.shown.absolute()
        self.sidecar = self.table.with_name(self.table.name + ".json")
        self.partial = self.table.with_name(self.table.name + ".partial")
        self.errors_shown = self.shown.with_name(self.shown.stem + ".errors.csv")
        self.errors = self.errors_shown.absolute()
        # The files written beside the table (by name, in its folder).
        self.names = (self.table.name, self.sidecar.name, self.errors.name)

    def write_table(self, table: pd.DataFrame) -> None:
        def write(tmp: Path) -> None:
            if self.format == "parquet":
                table.to_parquet(tmp)
            else:
                table.to_csv(tmp)

        _write_atomically(self.table, write)


class _PartialStore:
    """Finished lesions of an unfinished run: ``<out>.partial/``.

    ``settings.json`` holds what the values depend on (the settings, the
    columns, the package version, the texture code path and the weights
    file's hash); every chunk is one ``chunk-NNNNN.npz`` (lesion ids, their
    fingerprints and the float64 values), written to a temporary name and
    renamed, so a killed run leaves whole chunks only. A lock (where the
    platform has ``fcntl``) keeps two runs from writing the same store; the
    operating system releases it if the process dies.
    """

    def __init__(self, folder: Path, header: dict[str, Any]):
        self.folder = folder
        self.header = header
        self.settings_file = folder / "settings.json"
        self._lock: Any = None
        self._next = 0

    def open(self) -> dict[str, tuple[str, np.ndarray]]:
        """Create or reopen the store; return lesion -> (fingerprint, values).

        A store without a chunk (a run that failed before it saved a lesion)
        is taken over by this run, whatever its settings were; one with
        chunks is reused only under the same settings, and never when its
        ``settings.json`` is lost.
        """
        with _writing(self.folder):
            self.folder.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        _remove_stale_tmp(self.folder)  # a write killed half-way; we hold the lock
        chunks = sorted(self.folder.glob("chunk-*.npz"))
        if not chunks:
            _write_json(self.settings_file, self.header)
            return {}
        self._check_header(self._stored_header(chunks))
        done: dict[str, tuple[str, np.ndarray]] = {}
        n_columns = len(self.header["columns"])
        for path in chunks:
            self._next = max(self._next, _chunk_number(path) + 1)
            try:
                with np.load(path, allow_pickle=False) as data:
                    ids, prints = data["ids"], data["fingerprints"]
                    values = data["values"]
                if values.shape != (len(ids), n_columns) or len(prints) != len(ids):
                    raise ValueError(f"values of shape {values.shape}")
            except Exception as exc:  # damaged on disk: recompute its lesions
                print(
                    f"warning: ignoring the unreadable {path} ({exc}); its lesions "
                    "are computed again",
                    file=sys.stderr,
                )
                continue
            for lesion, fingerprint, row in zip(ids, prints, values, strict=True):
                done[str(lesion)] = (str(fingerprint), row)
        return done

    def _stored_header(self, chunks: list[Path]) -> dict[str, Any]:
        """The stored ``settings.json``; a lost one refuses the chunks."""
        try:
            stored = json.loads(self.settings_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            problem = "is missing"
        except (OSError, UnicodeDecodeError) as exc:
            problem = f"cannot be read ({exc})"
        except json.JSONDecodeError as exc:
            problem = f"is not valid JSON ({exc.msg} at line {exc.lineno})"
        else:
            keys = ("format", "ceusradiomics", "settings", "columns")
            if isinstance(stored, dict) and all(k in stored for k in keys):
                return stored
            problem = "does not hold a run's settings"
        n_lesions = 0
        for path in chunks:
            with contextlib.suppress(Exception), np.load(path) as data:
                n_lesions += len(data["ids"])
        raise SettingsError(
            f"{self.settings_file} {problem}, but {self.folder} holds "
            f"{n_lesions} finished lesions: the settings they were computed with "
            f"are unknown, so they are not reused; delete {self.folder} to start "
            "over"
        )

    def _acquire_lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory lock
            return
        with _writing(self.folder / "lock"):
            self._lock = open(self.folder / "lock", "w")  # noqa: SIM115 (held open)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            self._lock = None
            raise SettingsError(
                f"another extract is writing {self.folder} (its lock is held); "
                "wait for it to finish, or give this run another --out"
            ) from None

    def _check_header(self, stored: dict[str, Any]) -> None:
        hint = f"to finish that run, or delete {self.folder} to start over"
        if stored.get("format") != _STORE_FORMAT or stored.get(
            "ceusradiomics"
        ) != self.header.get("ceusradiomics"):
            raise SettingsError(
                f"{self.folder} was written by ceusradiomics "
                f"{stored.get('ceusradiomics')} (store format {stored.get('format')}),"
                f" this is {__version__} (store format {_STORE_FORMAT}); delete it "
                "to start over"
            )
        old, new = stored.get("settings", {}), self.header["settings"]
        changed = [
            f"{k}: {old.get(k)!r} there, {new.get(k)!r} now"
            for k in sorted(set(old) | set(new))
            if old.get(k) != new.get(k)
        ]
        if changed:
            raise SettingsError(
                f"{self.folder} holds an unfinished run with other settings ("
                + "; ".join(changed)
                + f"); run the command again with the same settings {hint}"
            )
        old_hash, new_hash = stored.get("weights_sha256"), self.header["weights_sha256"]
        if old_hash != new_hash:
            raise SettingsError(
                f"{self.folder} holds an unfinished run computed with another "
                f"network: the weights file {new.get('weights')} has changed since "
                f"(SHA-256 {str(old_hash)[:12]}... there, {str(new_hash)[:12]}... "
                f"now); put that file back {hint}"
            )
        old_path, new_path = (
            stored.get("texture_backend"),
            self.header["texture_backend"],
        )
        if old_path != new_path:
            how = (
                "with numba installed and CEUSRADIOMICS_DISABLE_NUMBA unset"
                if old_path == "numba"
                else "with CEUSRADIOMICS_DISABLE_NUMBA=1"
            )
            raise SettingsError(
                f"{self.folder} holds an unfinished run computed on the "
                f"{old_path} code path of the texture loops, and this run uses the "
                f"{new_path} one; run the command again {how} {hint}"
            )
        if stored.get("columns") != self.header["columns"]:
            raise SettingsError(
                f"{self.folder} holds an unfinished run with other feature columns "
                f"(other phases or readers in the manifest); run the command again "
                f"with the same manifest columns {hint}"
            )

    def append(self, ids: list[str], prints: list[str], values: np.ndarray) -> None:
        """Save one chunk durably."""
        path = self.folder / f"chunk-{self._next:05d}.npz"

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:  # a handle: np.savez adds no suffix
                np.savez(
                    fh,
                    ids=np.asarray(ids, dtype=str),
                    fingerprints=np.asarray(prints, dtype=str),
                    values=np.ascontiguousarray(values, dtype=np.float64),
                )

        _write_atomically(path, write)
        self._next += 1

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def remove(self) -> None:
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _chunk_number(path: Path) -> int:
    try:
        return int(path.stem.split("-")[1])
    except (IndexError, ValueError):
        return -1


# --------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------


def _texture_backend() -> str:
    """The code path of the texture loops: ``"numba"`` or ``"numpy"``."""
    from ceusradiomics.texture import _kernels

    backend = getattr(_kernels, "texture_backend", None)
    if backend is not None:
        return backend()
    return "numpy" if _kernels._numba() is None else "numba"


def _watch_parent(parent: int) -> None:
    """Run in each worker process: exit as soon as `parent` is gone.

    A worker whose parent was killed (``kill -9``, the out-of-memory killer)
    is adopted by another process; its parent id changes, and the watching
    thread ends it, even in the middle of a task.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_WATCH_INTERVAL_S)
        os._exit(1)

    if os.getppid() != parent:  # started by another process: nothing to watch
        return
    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _load_network(featurizer: Any) -> None:
    """Build the featurizer's network now, so that a weights file that cannot
    be loaded is one set-up error, not one error per lesion."""
    from ceusradiomics.deep._weights import resolve_weights
    from ceusradiomics.extractors._resnet import _import_backbone

    backbone = _import_backbone()
    kind, source = resolve_weights(featurizer.weights)
    try:
        featurizer._extractor(
            backbone, kind, source, featurizer._weights_id(kind, source)
        )
    except ValueError as exc:  # the weights module's message names the file
        raise SettingsError(str(exc)) from None
    except Exception as exc:
        raise SettingsError(
            f"cannot build the network (weights {featurizer.weights!r}): "
            f"{type(exc).__name__}: {exc}"
        ) from None


class _Problem(NamedTuple):
    """One row of the errors file."""

    lesion: str
    column: str  # "" when the error is not about one cell
    path: str  # the cell's file; "" when unknown or not a file
    error: str  # the exception's type
    message: str

    @classmethod
    def of(cls, lesion: str, exc: BaseException) -> _Problem:
        """The row of an error: a ROIError says where, any other its message."""
        if isinstance(exc, ROIError):
            return cls(
                lesion, exc.column or "", exc.path or "", type(exc).__name__, exc.reason
            )
        text = str(exc)
        if isinstance(exc, KeyError):  # str() of a KeyError is the quoted key
            text = f"missing key {text}"
        return cls(lesion, "", "", type(exc).__name__, text)

    def __str__(self) -> str:
        where = f"lesion {self.lesion!r}"
        if self.column:
            where += f", column {self.column!r}"
        return f"{where}: {self.error}: {self.message}"


class _Extraction:
    """The fitted extractors and the records frame of one run."""

    def __init__(
        self, X: pd.DataFrame, settings: Mapping[str, Any], *, deep_verbose: bool
    ):
        self.X = X
        # fit checks the phases against the manifest and records the readers.
        self.texture = make_estimator(settings, "texture").fit(X)
        self.phases = self.texture.phases_
        self.readers = self.texture.readers_
        self.texture_backend = _texture_backend()
        columns = list(self.texture.get_feature_names_out())
        self.deep = None
        self.weights_sha256: str | None = None
        if settings["deep"]:
            # fit checks torch, the layer and the weights (fetching named ones)
            # up front, so a setup problem is one message, not one per lesion.
            self.deep = make_estimator(
                settings, "deep", phases=self.phases, verbose=deep_verbose
            ).fit(X)
            weights = settings["weights"]
            if weights is not None and not is_named_weights(weights):
                # What the values depend on: the file's content, not its name.
                self.weights_sha256 = _sha256(Path(weights))
            _load_network(self.deep)
            self.deep.verbose = False  # the batch has its own progress bar
            columns += list(self.deep.get_feature_names_out())
        self.columns = columns
        self.path_columns = [
            c
            for p in self.phases
            for c in (
                f"{p}_image",
                f"{p}_mask",
                *(f"{p}_mask_{r}" for r in self.readers[p]),
            )
        ]

    def fingerprint(self, lesion: str) -> str:
        """A hash of the lesion's cells and of its files' sizes and times.

        A stored lesion is reused only while its fingerprint is unchanged, so
        a corrected manifest row or a re-exported image is computed again.
        """
        record = self.X.loc[lesion]
        items = []
        for column in self.path_columns:
            cell = record[column]
            if is_missing(cell):
                items.append([column, None])
                continue
            try:
                stat = os.stat(cell)
                items.append([column, str(cell), stat.st_size, stat.st_mtime_ns])
            except (OSError, TypeError, ValueError):
                items.append([column, str(cell)])
        return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:32]

    def compute(self, lesions: list[str]) -> tuple[np.ndarray, list[ROIError]]:
        """The feature rows of some lesions (texture, then deep) and the errors.

        Each extractor reads and validates a lesion's cells once; a lesion
        with a bad cell gets a NaN row and its ROIErrors (every bad cell).
        """
        frame = self.X.loc[lesions]
        # Worker processes (n_jobs) end when this process does, however it
        # ends (kill -9 included), instead of idling on for minutes.
        with parallel_config(
            backend="loky", initializer=_watch_parent, initargs=(os.getpid(),)
        ):
            table, errors = self.texture._transform_records(frame, on_error="collect")
        blocks = [table.to_numpy(dtype=np.float64)]
        if self.deep is not None:
            table, more = self.deep._transform_records(frame, on_error="collect")
            blocks.append(table.to_numpy(dtype=np.float64))
            errors = [*errors, *more]
        return np.hstack(blocks), errors

    def extract(
        self, lesions: list[str], *, stop_at_error: bool
    ) -> tuple[list[str], np.ndarray, list[_Problem], list[str]]:
        """Extract a chunk: (lesions done, their rows, problems, warnings).

        Lesions with a problem are left out of the rows (and so of the
        store: the next run tries them again). With `stop_at_error`, the
        chunk ends before its first failed lesion, which alone is reported.
        """
        rows: dict[str, np.ndarray] = {}
        found: dict[str, list[_Problem]] = {lesion: [] for lesion in lesions}

        def add(lesion: str, exc: BaseException) -> None:
            problem = _Problem.of(lesion, exc)
            if problem not in found[lesion]:  # one bad image, several masks
                found[lesion].append(problem)

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CeusRadiomicsWarning)
            try:
                values, errors = self.compute(lesions)
                rows = dict(zip(lesions, values, strict=True))
                for error in errors:
                    add(str(error.lesion), error)
            except Exception:
                # Not a bad cell (those are collected): isolate the lesion
                # (ROIs already computed come from the in-process cache).
                for lesion in lesions:
                    try:
                        values, errors = self.compute([lesion])
                        rows[lesion] = values[0]
                        for error in errors:
                            add(lesion, error)
                    except Exception as exc:
                        add(lesion, exc)
                    if stop_at_error and found[lesion]:
                        break
        messages = []
        for w in caught:
            if issubclass(w.category, CeusRadiomicsWarning):
                messages.append(str(w.message))
            else:  # not ours: show it as Python would have
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)

        done: list[str] = []
        problems: list[_Problem] = []
        for lesion in lesions:
            if found[lesion]:
                problems += found[lesion]
                if stop_at_error:
                    break
            elif lesion in rows:
                done.append(lesion)
        values = (
            np.vstack([rows[lesion] for lesion in done])
            if done
            else np.empty((0, len(self.columns)))
        )
        return done, values, problems, messages


# --------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------


def _versions(deep: bool, table_format: str) -> dict[str, str | None]:
    names = list(_DEPENDENCIES)
    if deep:
        names += ["torch", "torchvision"]
    if table_format == "parquet":
        names += ["pyarrow"]
    return package_versions(names)


def _batches(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _load_manifest(
    manifest: Path, id_column: str, label_column: str | None
) -> tuple[pd.DataFrame, pd.Series | None, str | None]:
    X = load_cohort(manifest, id_column=id_column)
    label = _DEFAULT_LABEL if label_column is None else label_column
    if label not in X.columns:
        if label_column is not None:
            raise SettingsError(
                f"--label-column: the manifest has no column {label_column!r}; its "
                f"columns are {[id_column, *X.columns]}"
            )
        return X, None, None
    return X, X[label], label


def run_extract(
    manifest: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    params: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    id_column: str = "lesion_id",
    label_column: str | None = None,
    chunk_size: int = 16,
    quiet: bool = False,
    fail_fast: bool = False,
) -> int:
    """Extract the features of every lesion of a manifest into one table.

    The implementation of ``python -m ceusradiomics extract``. The manifest's
    lesions are extracted `chunk_size` at a time with
    :class:`~ceusradiomics.TextureExtractor` (and
    :class:`~ceusradiomics.ResNetFeaturizer` when the ``deep`` setting is
    true); each chunk is saved in ``<out>.partial/`` as soon as it is done. At
    the end the table (one row per extracted lesion in manifest order, the
    label column first when the manifest has one, then the texture and deep
    columns) is written to `out` atomically, with the sidecar ``<out>.json``.

    Parameters
    ----------
    manifest : str or os.PathLike
        The cohort CSV (:func:`ceusradiomics.io.load_cohort`); relative paths
        in it are relative to its folder.
    out : str or os.PathLike
        The table: ``.parquet`` (needs pyarrow) or ``.csv``. Its folder is
        created if needed.
    params : str or os.PathLike, optional
        A JSON or YAML parameter file (:func:`resolve_settings`).
    overrides : mapping, optional
        Settings given as flags; they replace the file's values.
    id_column : str, default="lesion_id"
        The manifest's column of lesion ids (the table's index).
    label_column : str, optional
        The outcome column copied into the table. By default ``"ER"`` when
        the manifest has it; a name given here must exist.
    chunk_size : int, default=16
        Lesions per saved chunk: a killed run loses at most one chunk.
    quiet : bool, default=False
        No progress bar and no per-ROI warnings on stderr.
    fail_fast : bool, default=False
        Stop at the first lesion that fails instead of recording it and going
        on.

    Returns
    -------
    int
        The exit status: 0 when every lesion was extracted, 1 when some
        failed (they are listed in ``<out stem>.errors.csv``; the table holds
        the others) or `fail_fast` stopped the run, 2 for an invalid setting,
        manifest, weights file or output, 3 when a file could not be written
        (disk full, file-size limit, no permission: the finished chunks are
        kept), 130 when interrupted (Ctrl-C).

    See Also
    --------
    ceusradiomics.TextureExtractor, ceusradiomics.ResNetFeaturizer :
        The same features in a notebook.

    Notes
    -----
    A lesion found in the partial store is reused when the settings that
    change the values are the same, and so are the weights file's SHA-256,
    the texture code path (numba or numpy) and the library version
    (otherwise the run is refused; a store without a finished chunk is
    taken over instead), and its
    fingerprint, a hash of its manifest cells and of its files' sizes and
    modification times, is unchanged; failed lesions are never stored, so
    they are tried again. The store is deleted once every lesion is done.

    Examples
    --------
    >>> import os, tempfile
    >>> import pandas as pd
    >>> from PIL import Image
    >>> from ceusradiomics.cli.extract import run_extract
    >>> from ceusradiomics.datasets import make_ceus_cohort
    >>> X, y, _ = make_ceus_cohort(n_lesions=4, image_size=64, random_state=0)
    >>> folder = tempfile.mkdtemp()
    >>> rows = []
    >>> for lesion in X.index:
    ...     Image.fromarray(X.loc[lesion, "US_image"]).save(f"{folder}/{lesion}.png")
    ...     mask = X.loc[lesion, "US_mask"].astype("uint8") * 255
    ...     Image.fromarray(mask).save(f"{folder}/{lesion}_roi.png")
    ...     rows.append([lesion, f"{lesion}.png", f"{lesion}_roi.png", y[lesion]])
    >>> pd.DataFrame(rows, columns=["lesion_id", "US_image", "US_mask", "ER"]).to_csv(
    ...     f"{folder}/cohort.csv", index=False)
    >>> settings = {"families": ["hist", "glcm"], "distances": [1]}
    >>> run_extract(f"{folder}/cohort.csv", f"{folder}/features.csv",
    ...             overrides=settings, quiet=True)  # doctest: +ELLIPSIS
    extracted 4/4 lesions into ...features.csv
    0
    >>> pd.read_csv(f"{folder}/features.csv", index_col=0).shape
    (4, 54)
    """
    started = time.monotonic()
    with _file_size_limit_is_an_error():
        return _run_extract(
            manifest,
            out,
            params=params,
            overrides=overrides,
            id_column=id_column,
            label_column=label_column,
            chunk_size=chunk_size,
            quiet=quiet,
            fail_fast=fail_fast,
            started=started,
        )


def _run_extract(
    manifest: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    params: str | os.PathLike[str] | None,
    overrides: Mapping[str, Any] | None,
    id_column: str,
    label_column: str | None,
    chunk_size: int,
    quiet: bool,
    fail_fast: bool,
    started: float,
) -> int:
    store = None
    try:
        settings = resolve_settings(params, overrides)
        if not _is_int(chunk_size) or chunk_size < 1:
            raise SettingsError(
                f"--chunk-size must be an integer >= 1; got {chunk_size!r}"
            )
        outputs = _Outputs(out)
        manifest_path = Path(manifest).absolute()
        X, labels, label = _load_manifest(manifest_path, id_column, label_column)
        # The one-off network set-up may show its own (download) progress.
        run = _Extraction(X, settings, deep_verbose=not quiet)
        if label is not None and label in run.columns:
            raise SettingsError(
                f"the label column {label!r} has the name of a feature column; "
                "rename it in the manifest"
            )
        settings["phases"] = list(run.phases)  # what 'every phase' meant
        with _writing(outputs.table.parent):
            outputs.table.parent.mkdir(parents=True, exist_ok=True)
        store = _PartialStore(
            outputs.partial,
            {
                "format": _STORE_FORMAT,
                "ceusradiomics": __version__,
                "texture_backend": run.texture_backend,
                "weights_sha256": run.weights_sha256,
                "settings": values_settings(settings),
                "columns": run.columns,
            },
        )
        stored = store.open()
        # A run killed while writing the table, the sidecar or the errors
        # file left a temporary file beside them (the lock is ours now).
        _remove_stale_tmp(outputs.table.parent, outputs.names)
    except _WriteError as exc:
        if store is not None:
            store.close()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_WRITE
    except (SettingsError, ValueError, TypeError, OSError, ImportError) as exc:
        if store is not None:
            store.close()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID

    lesions = [str(lesion) for lesion in run.X.index]
    done: dict[str, np.ndarray] = {}
    try:
        prints = {lesion: run.fingerprint(lesion) for lesion in lesions}
        done.update(
            (lesion, stored[lesion][1])
            for lesion in lesions
            if lesion in stored and stored[lesion][0] == prints[lesion]
        )
        return _run(
            run,
            store,
            lesions,
            prints,
            done,
            outputs=outputs,
            settings=settings,
            manifest_path=manifest_path,
            id_column=id_column,
            labels=labels,
            label=label,
            chunk_size=chunk_size,
            quiet=quiet,
            fail_fast=fail_fast,
            started=started,
        )
    except _WriteError as exc:
        exc.saved = (store.folder, len(done), len(lesions))
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_WRITE
    except KeyboardInterrupt:
        print(
            f"interrupted: finished lesions are saved in {store.folder}; run the "
            "same command again to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    finally:
        store.close()


def _run(
    run: _Extraction,
    store: _PartialStore,
    lesions: list[str],
    prints: dict[str, str],
    done: dict[str, np.ndarray],
    *,
    outputs: _Outputs,
    settings: dict[str, Any],
    manifest_path: Path,
    id_column: str,
    labels: pd.Series | None,
    label: str | None,
    chunk_size: int,
    quiet: bool,
    fail_fast: bool,
    started: float,
) -> int:
    """Extract the lesions not `done` (those are reused: their fingerprints
    match), saving each chunk to `store` (and into `done`); then write the
    table, the sidecar and the errors file. Return the exit status."""
    from tqdm import tqdm

    n_resumed = len(done)
    todo = [lesion for lesion in lesions if lesion not in done]
    problems: list[_Problem] = []
    n_warnings = 0
    with tqdm(
        total=len(lesions),
        initial=n_resumed,
        desc="extract",
        unit="lesion",
        disable=quiet,
        file=sys.stderr,
        dynamic_ncols=True,
    ) as bar:
        for chunk in _batches(todo, chunk_size):
            ok, values, found, messages = run.extract(chunk, stop_at_error=fail_fast)
            if ok:
                store.append(ok, [prints[lesion] for lesion in ok], values)
                done.update(zip(ok, values, strict=True))
            problems += found
            n_warnings += len(messages)
            if not quiet:
                for message in messages:
                    bar.write(f"warning: {message}", file=sys.stderr)
            bar.update(len(chunk))
            if found and fail_fast:
                _write_errors(outputs.errors, problems, id_column)
                print(
                    f"error: {found[0]} (stopped by --fail-fast; {len(done)}/"
                    f"{len(lesions)} lesions are saved in {outputs.partial}, and "
                    "the same command resumes from there)",
                    file=sys.stderr,
                )
                return EXIT_FAILED

    ok_lesions = [lesion for lesion in lesions if lesion in done]
    n_columns = len(run.columns)
    values = (
        np.vstack([done[lesion] for lesion in ok_lesions])
        if ok_lesions
        else np.empty((0, n_columns))
    )
    table = pd.DataFrame(
        values, index=pd.Index(ok_lesions, name=id_column), columns=run.columns
    )
    if labels is not None:
        table.insert(0, label, labels.set_axis(lesions).loc[ok_lesions].to_numpy())
    outputs.write_table(table)
    sidecar = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "elapsed_s": round(time.monotonic() - started, 3),
        "table": str(outputs.table),
        "format": outputs.format,
        "manifest": {
            "path": str(manifest_path),
            "sha256": _sha256(manifest_path),
            "id_column": id_column,
            "label_column": label,
        },
        "lesions": {
            "manifest": len(lesions),
            "extracted": len(ok_lesions),
            "resumed": n_resumed,
            "errors": len({p.lesion for p in problems}),
            "warnings": n_warnings,
        },
        "n_features": n_columns,
        "errors_file": str(outputs.errors) if problems else None,
        "settings": settings,
        "versions": _versions(settings["deep"], outputs.format),
        "texture_backend": run.texture_backend,
        "platform": platform.platform(),
    }
    if run.weights_sha256 is not None:
        sidecar["weights_sha256"] = run.weights_sha256
    _write_json(outputs.sidecar, sidecar)

    if problems:
        # The store stays: the next run computes only the failed lesions.
        _write_errors(outputs.errors, problems, id_column)
        n_failed = sidecar["lesions"]["errors"]
        print(
            f"extracted {len(ok_lesions)}/{len(lesions)} lesions; {n_failed} "
            f"error{'s' if n_failed != 1 else ''} in {outputs.errors_shown}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    with _writing(outputs.errors), contextlib.suppress(FileNotFoundError):
        outputs.errors.unlink()  # from an earlier run, now fixed
    store.remove()
    resumed = f" ({n_resumed} from an earlier run)" if n_resumed else ""
    n_done = f"{len(ok_lesions)}/{len(lesions)}"
    print(f"extracted {n_done} lesions{resumed} into {outputs.shown}")
    return EXIT_OK


def _write_errors(path: Path, problems: list[_Problem], id_column: str) -> None:
    frame = pd.DataFrame(list(problems), columns=[id_column, *_ERROR_COLUMNS])
    _write_atomically(path, lambda tmp: frame.to_csv(tmp, index=False))


def _record_errors(path: Path, problems: list[_Problem], id_column: str) -> None:
    """The errors file of a one-shot command (train, predict): written when
    lesions failed, removed when none did (one left by an earlier run)."""
    if problems:
        _write_errors(path, problems, id_column)
    elif path.exists():
        path.unlink()


def _failure_status(problems: list[_Problem], path: Path) -> int:
    """EXIT_FAILED with a line on stderr when lesions failed, else EXIT_OK."""
    if not problems:
        return EXIT_OK
    print(
        f"{len({p.lesion for p in problems})} lesions failed: see {path}",
        file=sys.stderr,
    )
    return EXIT_FAILED


# --------------------------------------------------------------------------
# The subcommand
# --------------------------------------------------------------------------


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``extract`` to the subcommands; its flags come from the settings."""
    extract = commands.add_parser(
        "extract",
        help="extract the features of a cohort manifest into one table",
        description=(
            "Run TextureExtractor (and ResNetFeaturizer with --deep) over every "
            "lesion of a manifest and write one row per lesion to --out (.parquet "
            "or .csv), with a sidecar <out>.json of the settings and versions. "
            "Finished lesions are saved in <out>.partial/ as the run goes, so "
            "running the same command again after an interruption resumes it; "
            "lesions that fail are listed in <out stem>.errors.csv and retried "
            "on the next run. Settings come from the flags or from --params "
            "(a JSON or YAML file with the same names, e.g. wavelet_scales); a "
            "flag given explicitly replaces the file's value. Exit status: 0 "
            "done, 1 some lesions failed, 2 invalid settings or input, 3 a file "
            "could not be written (disk full, file-size limit, permission), 130 "
            "interrupted."
        ),
    )
    files = extract.add_argument_group("input and output")
    files.add_argument(
        "--manifest",
        metavar="CSV",
        required=True,
        help="the cohort CSV (load_cohort format)",
    )
    files.add_argument(
        "--out",
        metavar="TABLE",
        required=True,
        help="the feature table: .parquet or .csv",
    )
    files.add_argument(
        "--params",
        metavar="FILE",
        default=None,
        help="a parameter file (.json, .yaml or .yml)",
    )
    files.add_argument(
        "--id-column",
        metavar="NAME",
        default="lesion_id",
        help="the manifest's lesion id column (default: lesion_id)",
    )
    files.add_argument(
        "--label-column",
        metavar="NAME",
        default=None,
        help="outcome column copied into the table (default: ER, when present)",
    )

    groups = {
        "texture": extract.add_argument_group("texture (TextureExtractor)"),
        "deep": extract.add_argument_group("deep features (ResNetFeaturizer)"),
    }
    file_only = add_flags(groups)
    if file_only:
        extract.epilog = (
            "Settings of the parameter file only (no command-line spelling): "
            + ", ".join(file_only)
            + "."
        )

    options = extract.add_argument_group("run")
    options.add_argument(
        "--chunk-size",
        metavar="N",
        type=int,
        default=16,
        help="lesions saved together; a killed run loses at most one chunk "
        "(default: 16)",
    )
    options.add_argument(
        "--fail-fast",
        action="store_true",
        help="stop at the first lesion that fails instead of listing it",
    )
    options.add_argument(
        "--quiet", action="store_true", help="no progress bar and no warnings"
    )
    extract.set_defaults(handler=run)
    return extract


def run(args: argparse.Namespace) -> int:
    """Run ``extract`` with the parsed command line; return the exit status."""
    return run_extract(
        args.manifest,
        args.out,
        params=args.params,
        overrides=flag_settings(vars(args)),
        id_column=args.id_column,
        label_column=args.label_column,
        chunk_size=args.chunk_size,
        quiet=args.quiet,
        fail_fast=args.fail_fast,
    )
