"""Batch extraction: a cohort manifest in, one feature table out, resumable.

``python -m ceusradiomics extract`` runs :class:`~ceusradiomics.TextureExtractor`
(and, with ``--deep``, :class:`~ceusradiomics.ResNetFeaturizer`) over the
lesions of a manifest (the :func:`~ceusradiomics.io.load_cohort` format), a
chunk of lesions at a time:

- each finished chunk is saved at once in a *partial store* next to the output
  (``<out>.partial/``), so an interrupted run (Ctrl-C, a crash, a killed job)
  loses at most the chunk it was working on, and running the same command
  again skips every lesion already done;
- a lesion that cannot be read (missing file, empty mask, shape mismatch, ...)
  does not stop the batch: it goes to ``<out stem>.errors.csv`` and is retried
  on the next run;
- the table is written once, at the end, to a temporary name and renamed
  atomically, with a sidecar ``<out>.json`` that records the settings, the
  versions and the manifest's hash.

The user guide is ``docs/batch.md``.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib.util
import json
import os
import platform
import re
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from numbers import Integral, Real
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ceusradiomics._version import __version__
from ceusradiomics.exceptions import CeusRadiomicsWarning
from ceusradiomics.io import check_phases, is_missing, load_cohort, load_roi
from ceusradiomics.texture._features import (
    resolve_bits,
    resolve_distances,
    resolve_families,
    resolve_wavelet_scales,
)

__all__ = [
    "DEFAULT_SETTINGS",
    "SettingsError",
    "read_params",
    "resolve_settings",
    "run_extract",
]

#: Every setting of the command, with its default: the keys a parameter file
#: may hold and the flags of ``python -m ceusradiomics extract`` (``_`` -> ``-``).
#: They are the parameters of TextureExtractor and ResNetFeaturizer, plus
#: ``deep`` (run the ResNet-50 too).
DEFAULT_SETTINGS: dict[str, Any] = {
    # TextureExtractor
    "phases": None,
    "families": None,
    "normalization": "none",
    "bits": None,
    "distances": [1, 2, 3, 4, 5],
    "wavelet_scales": 6,
    "readers": "primary",
    "n_jobs": None,
    # ResNetFeaturizer
    "deep": False,
    "weights": "IMAGENET1K_V2",
    "layer": "avgpool",
    "image_size": 224,
    "crop_margin": 0.1,
    "mask_context": "keep",
    "random_state": 0,
    "device": "auto",
    "batch_size": 16,
}
_TEXTURE_KEYS = (
    "phases",
    "families",
    "normalization",
    "bits",
    "distances",
    "wavelet_scales",
    "readers",
)
_DEEP_KEYS = (
    "weights",
    "layer",
    "image_size",
    "crop_margin",
    "mask_context",
    "random_state",
)
# Options of the command that are not settings: a parameter file naming one
# gets a hint to pass the flag instead.
_RUN_OPTIONS = (
    "manifest",
    "out",
    "params",
    "id_column",
    "label_column",
    "chunk_size",
    "quiet",
    "fail_fast",
)
_NAMED_WEIGHTS = ("IMAGENET1K_V1", "IMAGENET1K_V2", "DEFAULT")
_FORMATS = {".parquet": "parquet", ".csv": "csv"}
_DEFAULT_LABEL = "ER"
# Bumped when the partial store's layout changes, so an old store is refused.
_STORE_FORMAT = 1
# The prefix that ceusradiomics.io puts on per-lesion errors.
_PREFIX = re.compile(
    r"^lesion (?:'[^']*'|\"[^\"]*\"|\S+), column (['\"])(?P<column>.*?)\1: "
    r"(?P<message>.*)$",
    re.S,
)
_DEPENDENCIES = (
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "scikit-image",
    "mahotas",
    "joblib",
    "Pillow",
    "pydicom",
)


class SettingsError(ValueError):
    """A setting, a parameter file or an option of the command is invalid.

    The message names the source (the file or the flag), the setting, what is
    expected and what was given; the command prints it and exits with 2.
    """


# --------------------------------------------------------------------------
# Settings: defaults <- parameter file <- flags
# --------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_int_list(value: Any) -> bool:
    # Checked before numpy sees the list, which would turn [1, 2.5] into floats.
    return isinstance(value, (list, tuple)) and all(_is_int(v) for v in value)


def _expect(source: str, key: str, expected: str, value: Any) -> SettingsError:
    return SettingsError(f"{source}: {key} must be {expected}; got {value!r}")


def _str_list(source: str, key: str, value: Any, *, allow_none: bool) -> Any:
    if value is None and allow_none:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(
        isinstance(v, str) and v for v in items
    ):
        none = "null, " if allow_none else ""
        raise _expect(source, key, f"{none}a name or a list of names", value)
    if not items:
        raise _expect(source, key, "a non-empty list", value)
    if len(set(items)) != len(items):
        raise _expect(source, key, "a list without duplicates", value)
    return list(items)


def _choice(source: str, key: str, value: Any, options: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in options:
        raise _expect(source, key, f"one of {list(options)}", value)
    return value


def _int(source: str, key: str, value: Any, low: int) -> int:
    if not _is_int(value) or value < low:
        raise _expect(source, key, f"an integer >= {low}", value)
    return int(value)


def _resolved(source: str, resolve: Callable[[Any], Any], value: Any) -> Any:
    # The texture module's own validators, so that the batch accepts exactly
    # what TextureExtractor accepts; their messages name the parameter.
    try:
        return resolve(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{source}: {exc}") from None


def _check_weights(source: str, value: Any, base_dir: Path | None) -> str | None:
    if value is None or (isinstance(value, str) and value.lower() == "none"):
        return None
    if not isinstance(value, str) or not value:
        raise _expect(
            source,
            "weights",
            f"one of {list(_NAMED_WEIGHTS)}, a state-dict file or none",
            value,
        )
    if value.removeprefix("ResNet50_Weights.") in _NAMED_WEIGHTS:
        return value
    # A file: made absolute (a parameter file's paths are relative to the file,
    # as a manifest's are) so the sidecar says which file was used.
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    if not path.is_file():
        raise SettingsError(
            f"{source}: weights must be one of {list(_NAMED_WEIGHTS)}, none or a "
            f"ResNet-50 state-dict file; got {value!r}, which is not a known name "
            f"and no such file exists ({path})"
        )
    return str(path.resolve())


def _validate(key: str, value: Any, source: str, base_dir: Path | None) -> Any:
    """Check one setting and return it normalised (JSON-ready, explicit)."""
    if key == "phases":
        return _str_list(source, key, value, allow_none=True)
    if key == "families":
        if value is not None:
            _str_list(source, key, value, allow_none=False)
        return list(_resolved(source, resolve_families, value))
    if key == "normalization":
        return _choice(source, key, value, ("none", "3sigma", "1-99", "minmax"))
    if key == "bits":
        return _resolved(source, resolve_bits, value)
    if key == "distances":
        value = [value] if _is_int(value) else value
        if not _is_int_list(value):
            raise _expect(source, key, "a list of positive integers", value)
        return list(_resolved(source, resolve_distances, value))
    if key == "wavelet_scales":
        if not (_is_int(value) or _is_int_list(value)):
            raise _expect(
                source, key, "an int k (scales 1..k) or a list of integers", value
            )
        return list(_resolved(source, resolve_wavelet_scales, value))
    if key == "readers":
        return _choice(source, key, value, ("primary", "all"))
    if key == "n_jobs":
        if value is not None and (not _is_int(value) or value == 0):
            raise _expect(source, key, "null or a non-zero integer", value)
        return value
    if key == "deep":
        if not isinstance(value, bool):
            raise _expect(source, key, "true or false", value)
        return value
    if key == "weights":
        return _check_weights(source, value, base_dir)
    if key in ("layer", "device"):
        if not isinstance(value, str) or not value:
            raise _expect(source, key, "a non-empty string", value)
        return value
    if key == "image_size":
        return _int(source, key, value, 32)
    if key == "batch_size":
        return _int(source, key, value, 1)
    if key == "random_state":
        return _int(source, key, value, 0)
    if key == "crop_margin":
        # An int is pixels, a float a fraction of the box: keep the type.
        if isinstance(value, bool) or not isinstance(value, Real) or value < 0:
            raise _expect(source, key, "a number >= 0", value)
        return int(value) if _is_int(value) else float(value)
    if key == "mask_context":
        return _choice(source, key, value, ("keep", "zero"))
    raise AssertionError(f"no validator for {key!r}")  # DEFAULT_SETTINGS guards


def _unknown_key_error(key: Any, source: str) -> SettingsError:
    valid = ", ".join(DEFAULT_SETTINGS)
    if key in _RUN_OPTIONS:
        flag = "--" + str(key).replace("_", "-")
        return SettingsError(
            f"{source}: {key!r} is an option of the command, not a setting: pass "
            f"{flag} on the command line. Valid settings are: {valid}"
        )
    hint = difflib.get_close_matches(str(key), DEFAULT_SETTINGS, n=1)
    did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
    return SettingsError(
        f"{source}: unknown setting {key!r}{did_you_mean}. Valid settings are: {valid}"
    )


def read_params(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a parameter file (JSON, or YAML with PyYAML) into a dict.

    Only the syntax and the top-level shape are checked here;
    :func:`resolve_settings` checks the keys and the values.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.json``, ``.yaml`` or ``.yml`` file holding one mapping of
        setting names to values (an empty YAML file is an empty mapping).

    Returns
    -------
    dict
        The mapping as read.

    Raises
    ------
    SettingsError
        If the file does not exist, its extension is another, it does not
        parse (the message gives the line), it holds something other than a
        mapping, or it is YAML and PyYAML is not installed.

    Examples
    --------
    >>> import json, os, tempfile
    >>> from ceusradiomics._batch import read_params
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "settings.json")
    >>> with open(path, "w") as fh:
    ...     json.dump({"families": ["hist", "glcm"], "distances": [1, 2]}, fh)
    >>> read_params(path)
    {'families': ['hist', 'glcm'], 'distances': [1, 2]}
    """
    path = Path(path)
    name = path.name
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise SettingsError(
            f"--params must be a .json, .yaml or .yml file; got {str(path)!r}"
        )
    if not path.is_file():
        raise SettingsError(f"--params: no such parameter file: '{path}'")
    text = path.read_text(encoding="utf-8")
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SettingsError(
                f"{name}: not valid JSON: {exc.msg} at line {exc.lineno}, "
                f"column {exc.colno}"
            ) from None
    else:
        try:
            import yaml
        except ImportError:
            raise SettingsError(
                f"{name}: reading YAML needs PyYAML (pip install PyYAML); or write "
                "the same settings as JSON (settings.json)"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SettingsError(f"{name}: not valid YAML: {exc}") from None
        if data is None:  # an empty or all-comment file
            data = {}
    if not isinstance(data, dict):
        raise SettingsError(
            f"{name}: a parameter file must hold a mapping of setting names to "
            f"values (e.g. 'distances: [1, 2]'); got a {type(data).__name__}"
        )
    return data


def resolve_settings(
    params: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The effective settings: defaults, then a parameter file, then flags.

    A flag given on the command line replaces the parameter file's value of
    the same setting as a whole (``--bits glcm=4`` replaces a file's ``bits``
    mapping; it is not merged into it). Every value is validated and
    normalised: families, bits, distances and wavelet scales are spelled out
    in full, weights files are made absolute (a parameter file's relative
    paths are relative to the file), so the result fully describes the run
    and can itself be used as a parameter file.

    Parameters
    ----------
    params : str or os.PathLike, optional
        A JSON or YAML parameter file (:func:`read_params`).
    overrides : mapping, optional
        Settings given as flags, by setting name.

    Returns
    -------
    dict
        Every key of :data:`DEFAULT_SETTINGS`, validated.

    Raises
    ------
    SettingsError
        For an unknown key (the message lists the valid ones and suggests a
        close match) or a value of the wrong type or range (the message names
        the source, the key, the expectation and the value).

    Examples
    --------
    >>> from ceusradiomics._batch import resolve_settings
    >>> settings = resolve_settings(overrides={"bits": 4, "wavelet_scales": 2})
    >>> settings["bits"]["glcm"], settings["wavelet_scales"]
    (4, [1, 2])
    >>> resolve_settings(overrides={"distance": [1]})
    Traceback (most recent call last):
    ...
    ceusradiomics._batch.SettingsError: flags: unknown setting 'distance' (did you mean 'distances'?). Valid settings are: phases, families, normalization, bits, distances, wavelet_scales, readers, n_jobs, deep, weights, layer, image_size, crop_margin, mask_context, random_state, device, batch_size
    """  # noqa: E501
    given: dict[str, tuple[Any, str, Path | None]] = {}
    if params is not None:
        path = Path(params)
        for key, value in read_params(path).items():
            if key not in DEFAULT_SETTINGS:
                raise _unknown_key_error(key, path.name)
            given[key] = (value, path.name, path.resolve().parent)
    for key, value in (overrides or {}).items():
        if key not in DEFAULT_SETTINGS:
            raise _unknown_key_error(key, "flags")
        given[key] = (value, "--" + key.replace("_", "-"), None)
    settings = {}
    for key, default in DEFAULT_SETTINGS.items():
        value, source, base_dir = given.get(key, (default, "default", None))
        settings[key] = _validate(key, value, source, base_dir)
    return settings


def _values_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that change the values: a resumed run must agree on them.

    n_jobs, device and batch_size only change the speed, and the network's
    settings matter only with ``deep``.
    """
    keys = [*_TEXTURE_KEYS, "deep"]
    if settings["deep"]:
        keys += _DEEP_KEYS
    return {k: settings[k] for k in keys}


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


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Write through `write` to a temporary file, then rename it onto `path`.

    Readers of `path` see the old file or the new one, never a partial one.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
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
    columns, the package version); every chunk is one ``chunk-NNNNN.npz``
    (lesion ids, their fingerprints and the float64 values), written to a
    temporary name and renamed, so a killed run leaves whole chunks only.
    A lock (where the platform has ``fcntl``) keeps two runs from writing
    the same store; the operating system releases it if the process dies.
    """

    def __init__(self, folder: Path, header: dict[str, Any]):
        self.folder = folder
        self.header = header
        self._lock: Any = None
        self._next = 0

    def open(self) -> dict[str, tuple[str, np.ndarray]]:
        """Create or reopen the store; return lesion -> (fingerprint, values)."""
        existed = self.folder.is_dir()
        self.folder.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        settings_file = self.folder / "settings.json"
        if existed and settings_file.is_file():
            self._check_header(json.loads(settings_file.read_text(encoding="utf-8")))
        else:
            _write_json(settings_file, self.header)
        for stale in self.folder.glob(".*.tmp"):  # a chunk killed mid-write
            stale.unlink()
        done: dict[str, tuple[str, np.ndarray]] = {}
        n_columns = len(self.header["columns"])
        for path in sorted(self.folder.glob("chunk-*.npz")):
            self._next = max(self._next, int(path.stem.split("-")[1]) + 1)
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

    def _acquire_lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory lock
            return
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
        hint = (
            f"run the command again with the same settings to finish that run, or "
            f"delete {self.folder} to start over"
        )
        if stored.get("format") != _STORE_FORMAT or stored.get(
            "ceusradiomics"
        ) != self.header.get("ceusradiomics"):
            raise SettingsError(
                f"{self.folder} was written by ceusradiomics "
                f"{stored.get('ceusradiomics')} (store format {stored.get('format')}),"
                f" this is {__version__}; delete it to start over"
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
                + f"); {hint}"
            )
        if stored.get("columns") != self.header["columns"]:
            raise SettingsError(
                f"{self.folder} holds an unfinished run with other feature columns "
                f"(other phases or readers in the manifest); {hint}"
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


# --------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------


def _split_message(exc: BaseException) -> tuple[str, str]:
    """(column, message) of an error, the column parsed from io's prefix."""
    text = str(exc)
    if isinstance(exc, KeyError):  # str() of a KeyError is the quoted key
        text = f"missing key {text}"
    match = _PREFIX.match(text)
    if match is None:
        return "", text
    return match["column"], match["message"]


class _Problem(NamedTuple):
    """One row of the errors file."""

    lesion: str
    column: str  # "" when the error is not about one cell
    error: str  # the exception's type
    message: str

    @classmethod
    def of(cls, lesion: str, exc: BaseException) -> _Problem:
        column, message = _split_message(exc)
        return cls(lesion, column, type(exc).__name__, message)

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
        from ceusradiomics.extractors import ResNetFeaturizer, TextureExtractor

        self.X = X
        phases = check_phases(X, settings["phases"])
        self.texture = TextureExtractor(
            phases=phases,
            families=settings["families"],
            normalization=settings["normalization"],
            bits=settings["bits"],
            distances=settings["distances"],
            wavelet_scales=settings["wavelet_scales"],
            readers=settings["readers"],
            n_jobs=settings["n_jobs"],
        ).fit(X)
        self.phases = self.texture.phases_
        self.readers = self.texture.readers_
        columns = list(self.texture.get_feature_names_out())
        self.deep = None
        if settings["deep"]:
            # fit checks torch, the layer and the weights (fetching named ones)
            # up front, so a setup problem is one message, not one per lesion.
            self.deep = ResNetFeaturizer(
                phases=phases,
                weights=settings["weights"],
                layer=settings["layer"],
                crop_margin=settings["crop_margin"],
                mask_context=settings["mask_context"],
                image_size=settings["image_size"],
                device=settings["device"],
                batch_size=settings["batch_size"],
                random_state=settings["random_state"],
                verbose=deep_verbose,
            ).fit(X)
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

    def check(self, lesion: str) -> list[_Problem]:
        """Read every ROI of a lesion as the extractors will; its problems."""
        record = self.X.loc[lesion]
        problems: list[_Problem] = []
        for phase in self.phases:
            image_column = f"{phase}_image"
            for column in (
                f"{phase}_mask",
                *(f"{phase}_mask_{r}" for r in self.readers[phase]),
            ):
                if column != f"{phase}_mask" and is_missing(record[column]):
                    continue  # no such reader for this lesion: NaN, not an error
                try:
                    load_roi(
                        record[image_column],
                        record[column],
                        lesion=lesion,
                        image_column=image_column,
                        mask_column=column,
                    )
                except Exception as exc:
                    problem = _Problem.of(lesion, exc)
                    if problem not in problems:  # one bad image, several masks
                        problems.append(problem)
        return problems

    def compute(self, lesions: list[str]) -> np.ndarray:
        """The feature rows of some lesions (texture, then deep)."""
        frame = self.X.loc[lesions]
        blocks = [self.texture.transform(frame).to_numpy(dtype=np.float64)]
        if self.deep is not None:
            blocks.append(self.deep.transform(frame).to_numpy(dtype=np.float64))
        return np.hstack(blocks)

    def extract(
        self, lesions: list[str], *, stop_at_error: bool
    ) -> tuple[list[str], np.ndarray, list[_Problem], list[str]]:
        """Extract a chunk: (lesions done, their rows, problems, warnings)."""
        problems: list[_Problem] = []
        valid = []
        for lesion in lesions:
            found = self.check(lesion)
            if found:
                problems += found
                if stop_at_error:
                    break
            else:
                valid.append(lesion)
        messages: list[str] = []
        if not valid:
            return [], np.empty((0, len(self.columns))), problems, messages
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CeusRadiomicsWarning)
            try:
                values = self.compute(valid)
                done = valid
            except Exception:
                # Something the reading check did not catch: isolate the lesion
                # (ROIs already computed come from the in-process cache).
                done, rows = [], []
                for lesion in valid:
                    try:
                        rows.append(self.compute([lesion]))
                        done.append(lesion)
                    except Exception as exc:
                        problems.append(_Problem.of(lesion, exc))
                        if stop_at_error:
                            break
                values = np.vstack(rows) if rows else np.empty((0, len(self.columns)))
        for w in caught:
            if issubclass(w.category, CeusRadiomicsWarning):
                messages.append(str(w.message))
            else:  # not ours: show it as Python would have
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
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
    found: dict[str, str | None] = {
        "python": platform.python_version(),
        "ceusradiomics": __version__,
    }
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


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
        manifest or output, 130 when interrupted (Ctrl-C).

    See Also
    --------
    ceusradiomics.TextureExtractor, ceusradiomics.ResNetFeaturizer :
        The same features in a notebook.

    Notes
    -----
    A lesion found in the partial store is reused when the settings that
    change the values are the same (otherwise the run is refused) and its
    fingerprint, a hash of its manifest cells and of its files' sizes and
    modification times, is unchanged; failed lesions are never stored, so
    they are tried again. The store is deleted once every lesion is done.

    Examples
    --------
    >>> import os, tempfile
    >>> import pandas as pd
    >>> from PIL import Image
    >>> from ceusradiomics._batch import run_extract
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
        if settings["phases"] is None:  # record what 'every phase' meant
            settings["phases"] = list(run.phases)
        outputs.table.parent.mkdir(parents=True, exist_ok=True)
        store = _PartialStore(
            outputs.partial,
            {
                "format": _STORE_FORMAT,
                "ceusradiomics": __version__,
                "settings": _values_settings(settings),
                "columns": run.columns,
            },
        )
        stored = store.open()
    except (SettingsError, ValueError, TypeError, OSError, ImportError) as exc:
        if store is not None:
            store.close()
        print(f"error: {exc}", file=sys.stderr)
        return 2

    try:
        return _run(
            run,
            store,
            stored,
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
    except KeyboardInterrupt:
        print(
            f"interrupted: finished lesions are saved in {store.folder}; run the "
            "same command again to resume",
            file=sys.stderr,
        )
        return 130
    finally:
        store.close()


def _run(
    run: _Extraction,
    store: _PartialStore,
    stored: dict[str, tuple[str, np.ndarray]],
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
    from tqdm import tqdm

    lesions = [str(lesion) for lesion in run.X.index]
    prints = {lesion: run.fingerprint(lesion) for lesion in lesions}
    done = {
        lesion: stored[lesion][1]
        for lesion in lesions
        if lesion in stored and stored[lesion][0] == prints[lesion]
    }
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
                return 1

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
        "platform": platform.platform(),
    }
    if settings["deep"] and settings["weights"] not in (None, *_NAMED_WEIGHTS):
        sidecar["weights_sha256"] = _sha256(Path(settings["weights"]))
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
        return 1
    with contextlib.suppress(FileNotFoundError):
        outputs.errors.unlink()  # from an earlier run, now fixed
    store.remove()
    resumed = f" ({n_resumed} from an earlier run)" if n_resumed else ""
    n_done = f"{len(ok_lesions)}/{len(lesions)}"
    print(f"extracted {n_done} lesions{resumed} into {outputs.shown}")
    return 0


def _write_errors(path: Path, problems: list[_Problem], id_column: str) -> None:
    frame = pd.DataFrame(
        list(problems), columns=[id_column, "column", "error", "message"]
    )
    _write_atomically(path, lambda tmp: frame.to_csv(tmp, index=False))
