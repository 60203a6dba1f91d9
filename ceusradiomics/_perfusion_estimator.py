"""PerfusionExtractor: cine loops of the records frame -> VueBox TIC parameters.

The math lives in :mod:`ceusradiomics.perfusion`; this module only finds the
cine columns, loads the loops lazily, parallelises over lesions and names the
output columns.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn_compat.base import _fit_context

from ceusradiomics.exceptions import DegenerateROIWarning
from ceusradiomics.io import (
    _check_times,
    _prefix,
    is_missing,
    read_cine,
    read_mask,
    validate_roi,
)
from ceusradiomics.perfusion import (
    PERFUSION_PARAMETERS,
    _DegenerateCurveError,
    fit_bolus,
    perfusion_parameters,
    time_intensity_curve,
    washout_onset,
)

__all__ = ["PerfusionExtractor"]

_CINE = "cine"
_MASK = "mask"
_REFERENCE = "reference_mask"
_WASHOUT = "WashoutOnset"

_RECORDS_HELP = (
    "the records DataFrame: one row per lesion, with a 'cine' column or "
    "'{phase}_cine' columns (e.g. 'CEUS_cine') holding a path to a cine file "
    "or a (frames, times) tuple, and the matching 'mask' / '{phase}_mask' "
    "columns"
)


def _column(phase: str, kind: str) -> str:
    return f"{phase}_{kind}" if phase else kind


def _cine_phases(columns: Iterable[Any]) -> tuple[str, ...]:
    """Phases with a cine column, in column order ('' for a bare 'cine')."""
    suffix = "_" + _CINE
    phases = []
    for c in columns:
        if c == _CINE:
            phases.append("")
        elif isinstance(c, str) and c.endswith(suffix) and len(c) > len(suffix):
            phases.append(c[: -len(suffix)])
    return tuple(phases)


def _load_cine(
    cell: Any, frame_rate: float | None, lesion: Any, column: str
) -> tuple[np.ndarray, np.ndarray]:
    prefix = _prefix(lesion, column)
    if is_missing(cell):
        raise ValueError(f"{prefix}no cine: the cell is empty")
    try:
        if isinstance(cell, (str, os.PathLike)):
            return read_cine(cell, frame_rate=frame_rate)
        if isinstance(cell, tuple) and len(cell) == 2:
            frames, times = np.asarray(cell[0]), cell[1]
            if frames.ndim == 3 and frames.dtype.kind in "uif":
                return frames, _check_times(times, frames.shape[0], "the cine")
            return read_cine(frames, times=times)
        if isinstance(cell, np.ndarray):
            if frame_rate is None:
                raise ValueError(
                    "a cine array without its times needs the extractor's "
                    "frame_rate=, or store a (frames, times) tuple in the cell"
                )
            return read_cine(cell, frame_rate=frame_rate)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{prefix}{exc}") from exc
    except ValueError as exc:
        raise ValueError(f"{prefix}{exc}") from exc
    except TypeError as exc:
        raise TypeError(f"{prefix}{exc}") from exc
    raise TypeError(
        f"{prefix}a cine cell must be a path, a (frames, times) tuple or, with "
        f"frame_rate=, an array of frames; got {type(cell).__name__}"
    )


def _load_mask(cell: Any, frames: np.ndarray, lesion, cine_column, mask_column):
    prefix = _prefix(lesion, mask_column)
    if is_missing(cell):
        raise ValueError(f"{prefix}no mask: the cell is empty")
    try:
        mask = read_mask(cell)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{prefix}{exc}") from exc
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{prefix}{exc}") from exc
    _, mask = validate_roi(
        frames[0],
        mask,
        lesion=lesion,
        image_column=cine_column,
        mask_column=mask_column,
    )
    return mask


def _fit_roi(frames, times, mask, settings, lesion, column, messages):
    """Fit of one ROI's curve, or None (with a message) for a degenerate one."""
    curve = time_intensity_curve(
        frames,
        mask,
        statistic=settings["statistic"],
        linearize=settings["linearize"],
        dynamic_range_db=settings["dynamic_range_db"],
        max_value=settings["max_value"],
        motion_threshold=settings["motion_threshold"],
    )
    try:
        return fit_bolus(times, curve, model=settings["model"])
    except _DegenerateCurveError as exc:
        messages.append(f"{_prefix(lesion, column)}{exc}; its features are NaN")
        return None
    except ValueError as exc:
        raise ValueError(f"{_prefix(lesion, column)}{exc}") from exc


def _phase_features(
    cells: tuple[Any, Any, Any],
    columns: tuple[str, str, str | None],
    settings: dict[str, Any],
    lesion: Any,
) -> tuple[np.ndarray, list[str]]:
    """The TIC parameters of one lesion and phase, with the warnings raised.

    Runs in a joblib worker, so warnings are returned as strings and
    re-emitted by the main process.
    """
    cine_cell, mask_cell, reference_cell = cells
    cine_column, mask_column, reference_column = columns
    messages: list[str] = []
    frames, times = _load_cine(cine_cell, settings["frame_rate"], lesion, cine_column)
    mask = _load_mask(mask_cell, frames, lesion, cine_column, mask_column)
    fit = _fit_roi(frames, times, mask, settings, lesion, mask_column, messages)
    values = [np.nan] * len(PERFUSION_PARAMETERS)
    if fit is not None:
        values = list(perfusion_parameters(fit).values())
    if reference_column is not None:
        onset = np.nan
        if not is_missing(reference_cell):
            reference = _load_mask(
                reference_cell, frames, lesion, cine_column, reference_column
            )
            reference_fit = _fit_roi(
                frames, times, reference, settings, lesion, reference_column, messages
            )
            if fit is not None and reference_fit is not None:
                onset = washout_onset(fit, reference_fit)
        values.append(onset)
    return np.asarray(values, dtype=float), messages


class PerfusionExtractor(TransformerMixin, BaseEstimator):
    """VueBox perfusion parameters of every cine loop and ROI of each lesion.

    For each lesion (row of the records frame) and cine phase, the
    time-intensity curve of the ROI is extracted
    (:func:`~ceusradiomics.perfusion.time_intensity_curve`), a bolus model is
    fitted (:func:`~ceusradiomics.perfusion.fit_bolus`) and its parameters
    are reported (:func:`~ceusradiomics.perfusion.perfusion_parameters`):
    ``PE``, ``TTP``, ``RT``, ``mTTI``, ``WiAUC``, ``WiR``, ``WiPI``, ``WoR``,
    ``WoAUC``, ``WiWoAUC``, ``FT``, ``QOF``. Where the frame has a liver
    reference ROI, the CEUS LI-RADS wash-out onset
    (:func:`~ceusradiomics.perfusion.washout_onset`) is added as
    ``WashoutOnset``.

    Columns read (see ``docs/perfusion.md``):

    ``{phase}_cine`` (or ``cine``)
        A path to a cine file read by :func:`~ceusradiomics.io.read_cine`
        (multi-frame DICOM with its frame timing, multi-page TIFF with
        `frame_rate`), or a ``(frames, times)`` tuple: frames of shape
        ``(n, rows, columns)`` and their times in seconds after the injection,
        as :func:`~ceusradiomics.io.read_cine` returns them. A bare array of
        frames is accepted when `frame_rate` is set.
    ``{phase}_mask`` (or ``mask``)
        The lesion ROI, drawn once for the loop (2-D array or path).
    ``{phase}_reference_mask`` (or ``reference_mask``), optional
        A liver parenchyma ROI at the lesion's depth; empty cells give a NaN
        ``WashoutOnset``.

    Output columns are ``{phase}_TIC_{param}`` (``CEUS_TIC_PE``), or
    ``TIC_{param}`` for a bare ``cine`` column.

    Parameters
    ----------
    phases : sequence of str, optional
        Cine phases to use; by default every ``{phase}_cine`` (and ``cine``)
        column of ``X`` in column order.
    model : {"lognormal", "gamma", "ldrw"}, default="lognormal"
        Bolus model (VueBox uses the lognormal).
    statistic : {"mean", "median"}, default="mean"
        ROI statistic per frame.
    linearize : {None, "log"}, default=None
        Undo the log compression of the video before averaging (see
        :func:`~ceusradiomics.perfusion.time_intensity_curve` for why this is
        off by default).
    dynamic_range_db : float, default=60.0
        Display dynamic range of the scanner preset, for ``linearize="log"``.
    max_value : float, default=255.0
        Grey level at the top of the display range, for ``linearize="log"``.
    motion_threshold : float, optional
        Drop frames whose correlation with the loop's median frame around the
        ROI falls below this value (see
        :func:`~ceusradiomics.perfusion.frame_correlation`).
    frame_rate : float, optional
        Frames per second of cine files or arrays that store no timing.
    n_jobs : int, default=None
        Parallel workers over lesions (joblib; ``-1`` = all cores).
    verbose : bool, default=False
        Show a progress bar over the loops.

    Attributes
    ----------
    phases_ : tuple of str
        The cine phases extracted (``""`` for a bare ``cine`` column).
    references_ : dict of str to bool
        Whether each phase has a reference ROI column (hence ``WashoutOnset``).
    feature_names_out_ : ndarray of str
        Output column names.
    n_features_out_ : int
        Number of output columns.

    See Also
    --------
    ceusradiomics.perfusion.select_phase_frames : AP and PP frames of a loop,
        for the static :class:`~ceusradiomics.TextureExtractor`.

    Notes
    -----
    A flat curve (a non-enhancing lesion) or one whose peak was not recorded
    gives NaN parameters and a
    :class:`~ceusradiomics.exceptions.DegenerateROIWarning` naming the lesion;
    a curve with too few usable frames, a missing cell or a mask of the wrong
    shape raises a ValueError naming the lesion and the column. The
    transformer is stateless: ``fit`` only validates the parameters and
    records the phases and output names.

    References
    ----------
    .. [1] M.-X. Tang et al., "Quantitative contrast-enhanced ultrasound
       imaging: a review of sources of variability," Interface Focus, vol. 1,
       no. 4, pp. 520-539, 2011. :doi:`10.1098/rsfs.2011.0026`

    Examples
    --------
    >>> from ceusradiomics import PerfusionExtractor
    >>> from ceusradiomics.datasets import make_ceus_cohort
    >>> X, y, clinical, truth = make_ceus_cohort(
    ...     4, image_size=64, cine=True, cine_duration=120.0, random_state=0)
    >>> tic = PerfusionExtractor(linearize="log").fit_transform(X)
    >>> tic.shape
    (4, 13)
    >>> tic.columns[:3].tolist()
    ['CEUS_TIC_PE', 'CEUS_TIC_TTP', 'CEUS_TIC_RT']
    """

    _parameter_constraints: ClassVar[dict] = {
        "phases": [None, str, list, tuple],
        "model": [StrOptions({"lognormal", "gamma", "ldrw"})],
        "statistic": [StrOptions({"mean", "median"})],
        "linearize": [None, StrOptions({"log"})],
        "dynamic_range_db": [Interval(Real, 0, None, closed="neither")],
        "max_value": [Interval(Real, 0, None, closed="neither")],
        "motion_threshold": [None, Interval(Real, -1, 1, closed="both")],
        "frame_rate": [None, Interval(Real, 0, None, closed="neither")],
        "n_jobs": [None, Integral],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        phases: Sequence[str] | None = None,
        *,
        model: str = "lognormal",
        statistic: str = "mean",
        linearize: str | None = None,
        dynamic_range_db: float = 60.0,
        max_value: float = 255.0,
        motion_threshold: float | None = None,
        frame_rate: float | None = None,
        n_jobs: int | None = None,
        verbose: bool = False,
    ):
        self.phases = phases
        self.model = model
        self.statistic = statistic
        self.linearize = linearize
        self.dynamic_range_db = dynamic_range_db
        self.max_value = max_value
        self.motion_threshold = motion_threshold
        self.frame_rate = frame_rate
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _settings(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "statistic": self.statistic,
            "linearize": self.linearize,
            "dynamic_range_db": float(self.dynamic_range_db),
            "max_value": float(self.max_value),
            "motion_threshold": (
                None if self.motion_threshold is None else float(self.motion_threshold)
            ),
            "frame_rate": None if self.frame_rate is None else float(self.frame_rate),
        }

    def _layout(self, X: Any) -> tuple[tuple[str, ...], dict[str, bool]]:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"X must be {_RECORDS_HELP}; got {type(X).__name__}")
        if len(X) == 0:
            raise ValueError("X has no lesion (0 rows)")
        available = _cine_phases(X.columns)
        if not available:
            raise ValueError(
                f"X has no 'cine' or '{{phase}}_cine' column; it must be "
                f"{_RECORDS_HELP}. Got the columns {list(X.columns)[:10]}"
            )
        if self.phases is None:
            phases = available
        else:
            phases = (self.phases,) if isinstance(self.phases, str) else self.phases
            phases = tuple(phases)
            if not phases:
                raise ValueError(
                    f"phases is empty; X has the cine phases {list(available)}"
                )
            bad = [p for p in phases if not isinstance(p, str)]
            if bad:
                raise TypeError(f"phases must be strings; got {bad!r}")
            unknown = [p for p in phases if p not in available]
            if unknown:
                raise ValueError(
                    f"unknown cine phase(s) {unknown} in phases; X has the cine "
                    f"phases {list(available)}"
                )
            if len(set(phases)) != len(phases):
                raise ValueError(f"phases holds duplicates: {list(phases)}")
        no_mask = [_column(p, _MASK) for p in phases if _column(p, _MASK) not in X]
        if no_mask:
            raise ValueError(
                f"X has no ROI column {no_mask} for its cine column(s); add the "
                "lesion masks"
            )
        references = {p: _column(p, _REFERENCE) in X.columns for p in phases}
        return phases, references

    @staticmethod
    def _names(phases: Iterable[str], references: dict[str, bool]) -> np.ndarray:
        names = []
        for phase in phases:
            params = PERFUSION_PARAMETERS + ((_WASHOUT,) if references[phase] else ())
            names += [_column(phase, f"TIC_{p}") for p in params]
        return np.asarray(names, dtype=object)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: pd.DataFrame, y: Any = None) -> PerfusionExtractor:
        """Validate the parameters and record the phases and output names.

        Parameters
        ----------
        X : DataFrame
            The records frame with cine columns.
        y : None
            Ignored.

        Returns
        -------
        self : PerfusionExtractor
        """
        self.phases_, self.references_ = self._layout(X)
        self.feature_names_out_ = self._names(self.phases_, self.references_)
        self.n_features_out_ = len(self.feature_names_out_)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Extract the TIC parameters of every lesion.

        Parameters
        ----------
        X : DataFrame
            The records frame; only the cine and ROI columns of the fitted
            phases are read, one loop at a time.

        Returns
        -------
        features : DataFrame of shape (n_lesions, n_features_out_)
            Indexed like ``X``.
        """
        if hasattr(self, "phases_"):
            if not isinstance(X, pd.DataFrame):
                raise TypeError(f"X must be {_RECORDS_HELP}; got {type(X).__name__}")
            phases, references = self.phases_, self.references_
            columns = [_column(p, k) for p in phases for k in (_CINE, _MASK)]
            columns += [_column(p, _REFERENCE) for p in phases if references[p]]
            missing = [c for c in columns if c not in X.columns]
            if missing:
                raise ValueError(
                    f"X lacks the columns {missing} that the extractor was fitted with"
                )
        else:  # stateless: transform without fit is allowed
            self._validate_params()
            phases, references = self._layout(X)
        names = self._names(phases, references)
        settings = self._settings()
        slots = []  # (first output column, number of columns) per phase
        start = 0
        for phase in phases:
            width = len(PERFUSION_PARAMETERS) + int(references[phase])
            slots.append((start, width))
            start += width
        values = np.full((len(X), len(names)), np.nan)
        pending = []

        def jobs():
            for i, (lesion, row) in enumerate(
                zip(X.index, X.to_dict("records"), strict=True)
            ):
                for k, phase in enumerate(phases):
                    reference_column = (
                        _column(phase, _REFERENCE) if references[phase] else None
                    )
                    cells = (
                        row[_column(phase, _CINE)],
                        row[_column(phase, _MASK)],
                        row[reference_column] if reference_column else None,
                    )
                    pending.append((i, k))
                    yield delayed(_phase_features)(
                        cells,
                        (
                            _column(phase, _CINE),
                            _column(phase, _MASK),
                            reference_column,
                        ),
                        settings,
                        lesion,
                    )

        results = Parallel(n_jobs=self.n_jobs, return_as="generator")(jobs())
        if self.verbose:
            from tqdm.auto import tqdm

            results = tqdm(results, desc="perfusion", unit="loop")
        for n, (phase_values, messages) in enumerate(results):
            i, k = pending[n]
            first, width = slots[k]
            values[i, first : first + width] = phase_values
            for message in messages:
                warnings.warn(message, DegenerateROIWarning, stacklevel=2)
        return pd.DataFrame(values, index=X.index.copy(), columns=list(names))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output column names: ``[{phase}_]TIC_{param}``.

        Parameters
        ----------
        input_features : ignored
            Present for API consistency (the input is the records frame).

        Returns
        -------
        feature_names_out : ndarray of str
        """
        if not hasattr(self, "feature_names_out_"):
            raise NotFittedError(
                "This PerfusionExtractor has no output names yet: call 'fit' (or "
                "'fit_transform') on the records frame first."
            )
        return self.feature_names_out_.copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.requires_fit = False
        return tags
