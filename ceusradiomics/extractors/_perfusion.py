"""PerfusionExtractor: cine loops of the records frame -> VueBox TIC parameters.

The maths lives in :mod:`ceusradiomics.perfusion`; this module is the
estimator on the shared records-transformer base: it finds the cine columns,
reads each loop (through :func:`ceusradiomics.io.read_cine`) and validates its
ROIs once, and hands the validated arrays to the curve fits.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn_compat.base import _fit_context

from ceusradiomics.exceptions import DegenerateROIWarning
from ceusradiomics.extractors._base import (
    ROI,
    Layout,
    RecordsTransformer,
    Slot,
    Unit,
    check_records,
)
from ceusradiomics.io import _check_times, read_cine
from ceusradiomics.perfusion import (
    BOLUS_MODELS,
    PERFUSION_PARAMETERS,
    fit_bolus,
    perfusion_parameters,
    time_intensity_curve,
    washout_onset,
)
from ceusradiomics.perfusion._fit import _DegenerateCurveError

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


def _read_loop(cell: Any, frame_rate: float | None) -> tuple[np.ndarray, np.ndarray]:
    """The frames and times of a cine cell (a path, a tuple or an array)."""
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
    raise TypeError(
        "a cine cell must be a path, a (frames, times) tuple or, with "
        f"frame_rate=, an array of frames; got {type(cell).__name__}"
    )


def _fit_roi(frames, times, mask, settings, what):
    """Fit of one ROI's curve, or None (with a warning) for a degenerate one."""
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
        warnings.warn(
            f"{what}{exc}; its features are NaN", DegenerateROIWarning, stacklevel=2
        )
        return None


class PerfusionExtractor(RecordsTransformer):
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
    mask_label : int, float or tuple of 3 ints, optional
        The label of the ROI in mask files that hold several regions (a
        label image: 1 = tumour, 2 = ...); an RGB triple for a colour mask.
        By default every nonzero pixel is inside, with a
        :class:`~ceusradiomics.exceptions.MaskLabelWarning` when a mask holds
        several labels.
    fill_outline : bool, default=False
        A mask drawn as an outline (a closed contour, as many drawing tools
        export it) is filled when True; by default it raises a
        :class:`~ceusradiomics.exceptions.ROIError`, since its pixels are a
        line, not the lesion.
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
    layout_ : Layout
        The columns read and written (internal).
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
    shape raises a :class:`~ceusradiomics.exceptions.ROIError` naming the
    lesion and the column. The
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
        "mask_label": [None, Real, tuple],
        "fill_outline": ["boolean"],
        "phases": [None, str, list, tuple],
        "model": [StrOptions(set(BOLUS_MODELS))],
        "statistic": [StrOptions({"mean", "median"})],
        "linearize": [None, StrOptions({"log"})],
        "dynamic_range_db": [Interval(Real, 0, None, closed="neither")],
        "max_value": [Interval(Real, 0, None, closed="neither")],
        "motion_threshold": [None, Interval(Real, -1, 1, closed="both")],
        "frame_rate": [None, Interval(Real, 0, None, closed="neither")],
        # joblib: 1, 2, ... workers, or -1, -2, ... (all cores, all but one, ...)
        "n_jobs": [
            None,
            Interval(Integral, 1, None, closed="left"),
            Interval(Integral, None, -1, closed="right"),
        ],
        "verbose": ["verbose"],
    }
    _progress: ClassVar[tuple[str, str]] = ("perfusion", "loop")
    _image_kind: ClassVar[str] = "cine"
    _records_help: ClassVar[str] = _RECORDS_HELP

    def __init__(
        self,
        phases: Sequence[str] | None = None,
        *,
        mask_label: Any = None,
        fill_outline: bool = False,
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
        self.mask_label = mask_label
        self.fill_outline = fill_outline
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

    def _read_image(self, cell: Any) -> tuple[np.ndarray, np.ndarray]:
        frame_rate = None if self.frame_rate is None else float(self.frame_rate)
        return _read_loop(cell, frame_rate)

    def _image_of(self, image: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        # The ROI is drawn once for the loop: checked against its first frame.
        return image[0][0]

    def _layout(self, X: pd.DataFrame) -> Layout:
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
        slots, names, starts = [], [], {}
        for phase in phases:
            masks = (_column(phase, _MASK),)
            params = PERFUSION_PARAMETERS
            if _column(phase, _REFERENCE) in X.columns:
                masks += (_column(phase, _REFERENCE),)
                params += (_WASHOUT,)
            slots.append(Slot(_column(phase, _CINE), masks, phase=phase))
            starts[phase] = len(names)
            names += [_column(phase, f"TIC_{p}") for p in params]
        return Layout(tuple(slots), tuple(names), starts)

    def _units(
        self, rois: list[ROI], slot: Slot, settings: dict, layout: Layout
    ) -> Iterator[Unit]:
        # One unit per loop: the lesion ROI and, where the frame has a
        # reference column, the reference ROI (None on an empty cell).
        lesion_roi = rois[0]
        reference = rois[1].mask if len(rois) > 1 else None
        width = len(PERFUSION_PARAMETERS) + (len(slot.masks) > 1)
        frames, times = lesion_roi.image
        start = layout.starts[slot.phase]
        yield Unit(
            slice(start, start + width),
            None,
            (frames, times, lesion_roi.mask, reference, len(slot.masks) > 1),
            lesion_roi.lesion,
            lesion_roi.mask_column,
        )

    @staticmethod
    def _compute(payload: Any, settings: dict) -> np.ndarray:
        frames, times, mask, reference, has_reference = payload
        fit = _fit_roi(frames, times, mask, settings, "")
        values = [np.nan] * len(PERFUSION_PARAMETERS)
        if fit is not None:
            values = list(perfusion_parameters(fit).values())
        if has_reference:
            onset = np.nan
            if reference is not None:
                reference_fit = _fit_roi(
                    frames, times, reference, settings, "the reference ROI: "
                )
                if fit is not None and reference_fit is not None:
                    onset = washout_onset(fit, reference_fit)
            values.append(onset)
        return np.asarray(values, dtype=float)

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
        X = check_records(X, _RECORDS_HELP)
        layout = self._layout(X)
        self._set_layout(layout)
        self.phases_ = tuple(s.phase for s in layout.slots)
        self.references_ = {s.phase: len(s.masks) > 1 for s in layout.slots}
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags
