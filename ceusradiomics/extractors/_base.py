"""The records-transformer base: one validated path from a cell to the maths.

Every extractor of the package turns the records frame (one row per lesion,
see :mod:`ceusradiomics.io`) into a feature table the same way, here, once:

1. check the frame (a non-empty DataFrame with the columns it was fitted on);
2. for each lesion and *slot* (an image column and the mask columns drawn on
   it), read the cells lazily, validate every present mask against the image
   once (:func:`ceusradiomics._roi.validate_roi`), and compute the ROI's
   bounding box; any problem raises a located
   :class:`~ceusradiomics.exceptions.ROIError`;
3. turn the validated ROIs into *units* of work (the subclass's
   :meth:`RecordsTransformer._units`), look each up in the content-keyed
   cache, and hand the misses to the subclass's computation in batches:
   through joblib workers (``n_jobs``) or in this process (the network);
4. re-emit the warnings the computation recorded with the lesion and column,
   show a progress bar, and assemble the table with its names.

A subclass implements only what is its own: its settings, its layout (the
slots and the output names) and the computation on validated arrays.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError

from ceusradiomics import _roi
from ceusradiomics._cache import feature_cache
from ceusradiomics.exceptions import DegenerateROIWarning, MaskLabelWarning, ROIError
from ceusradiomics.extractors._frames import frame_spec, read_frame
from ceusradiomics.io import (
    _cell_path,
    _load_cell,
    _read_mask_labels,
    is_missing,
    read_image,
)

__all__ = ["ROI", "Layout", "RecordsTransformer", "Slot", "Unit", "check_records"]

_RECORDS_HELP = (
    "the records DataFrame: one row per lesion, indexed by lesion id, with "
    "'{phase}_image' and '{phase}_mask' columns (see ceusradiomics.io.load_cohort)"
)


def check_records(X: Any, what: str = _RECORDS_HELP) -> pd.DataFrame:
    """`X` if it is a non-empty DataFrame, else a TypeError / ValueError."""
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"X must be {what}; got {type(X).__name__}")
    if len(X) == 0:
        raise ValueError("X has no lesion (0 rows)")
    return X


@dataclass(frozen=True)
class Slot:
    """An image column and the mask columns drawn on it.

    ``masks[0]`` is required (an empty cell is an error); the others are
    optional (further readers, a reference ROI): an empty cell is skipped.
    """

    image: str
    masks: tuple[str, ...]
    phase: str = ""
    #: A ``{phase}_frame`` column picking the frame of a multi-frame image.
    frame: str | None = None


@dataclass(frozen=True)
class Layout:
    """What a fitted extractor reads and writes: its slots and output names."""

    slots: tuple[Slot, ...]
    names: tuple[str, ...]
    #: Where each unit's values start in ``names``, keyed as the subclass's
    #: units are (a mask column, a phase, ...).
    starts: dict = field(default_factory=dict, compare=False)

    @property
    def columns(self) -> list[str]:
        return [
            c
            for s in self.slots
            for c in (s.image, *s.masks, *((s.frame,) if s.frame else ()))
        ]

    @property
    def required(self) -> list[str]:
        """The columns a frame to transform must have: the further readers'
        masks are optional (new lesions usually have one reader)."""
        return [
            c
            for s in self.slots
            for c in (s.image, s.masks[0], *((s.frame,) if s.frame else ()))
        ]


@dataclass
class ROI:
    """One validated region: the image, its boolean mask and their box.

    `image` is whatever the slot's reader returned (a 2-D image, or the
    frames of a cine); `mask` is 2-D boolean; `box` the mask's bounding box.
    """

    lesion: Any
    image_column: str
    mask_column: str
    image: Any
    mask: np.ndarray
    box: tuple[slice, slice]


@dataclass
class Unit:
    """One piece of work: where its values go, its cache key, its payload.

    `column` (the ROI's mask column) is named in the warnings the computation
    raises; `error_column` (default: `column`) in the error raised when the
    maths refuses the values (e.g. grey levels a normalisation cannot map).
    """

    out: slice
    key: str | None
    payload: Any
    lesion: Any
    column: str
    error_column: str | None = None


def _record_warnings(compute: Callable, payloads: list, settings: Any) -> list:
    """``compute(payload, settings)`` per payload, with the warnings it raised.

    Runs in a joblib worker: warnings cannot cross processes, so they are
    returned as strings with the values, and a ValueError / TypeError of the
    maths on a validated ROI (e.g. grey levels that a setting cannot map) is
    returned too, for the main process to raise with the lesion's name.
    """
    out = []
    for payload in payloads:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DegenerateROIWarning)
            try:
                values, error = compute(payload, settings), None
            except (ValueError, TypeError) as exc:
                values, error = None, exc
        messages = [
            str(w.message)
            for w in caught
            if issubclass(w.category, DegenerateROIWarning)
        ]
        out.append((values, messages, error))
    return out


# Most ROIs per joblib task: 32 bring the dispatch cost per ROI well under the
# compute; fewer for small cohorts, so that every worker gets several tasks.
_MAX_BATCH = 32


class RecordsTransformer(TransformerMixin, BaseEstimator):
    """Base class of the transformers from the records frame to a feature table.

    Subclasses set :attr:`_cache_name` and implement :meth:`_layout` (slots
    and output names for a frame), :meth:`_units` (the work of one lesion's
    validated ROIs) and :meth:`_compute` (a unit's values, a pure function of
    its payload and the settings, run in a worker); they may override
    :meth:`_read_image` (how an image cell is read) and :meth:`_run_batches`
    (in-process batching, for the network). Not part of the public API.
    """

    #: Name of the process-wide feature cache (None: no caching).
    _cache_name: ClassVar[str | None] = None
    #: Progress-bar label and unit.
    _progress: ClassVar[tuple[str, str]] = ("features", "ROI")
    #: What the records frame must hold, for error messages.
    _records_help: ClassVar[str] = _RECORDS_HELP
    #: Minimum ROI extent passed to the validator.
    _min_extent: ClassVar[int] = 1
    #: What an image cell holds, for error messages ("no cine: ...").
    _image_kind: ClassVar[str] = "image"

    # ------------------------------------------------------------- hooks

    def _layout(self, X: pd.DataFrame) -> Layout:
        raise NotImplementedError

    def _settings(self) -> Any:
        """The resolved settings handed to :meth:`_compute` (picklable)."""
        raise NotImplementedError

    def _units(
        self, rois: list[ROI], slot: Slot, settings: Any, layout: Layout
    ) -> Iterator[Unit]:
        raise NotImplementedError

    @staticmethod
    def _compute(payload: Any, settings: Any) -> np.ndarray:
        raise NotImplementedError

    def _read_image(self, cell: Any) -> Any:
        return read_image(cell)

    def _image_of(self, image: Any) -> np.ndarray:
        """The 2-D image the masks are validated against (a cine's first frame)."""
        return image

    # ----------------------------------------------------------- reading

    def _read_slot(self, lesion: Any, record: dict, slot: Slot) -> list[ROI]:
        """The validated ROIs of one slot of one lesion (read and checked once).

        Every present mask is validated. If any cell fails, the first
        ROIError is raised, carrying the slot's other ROIErrors in its
        ``others`` attribute (a list), so that collecting callers report every
        bad cell of a lesion, not only the first.
        """
        spec = (
            frame_spec(record[slot.frame], lesion, slot.frame) if slot.frame else None
        )
        if spec is None:
            image = _load_cell(
                self._read_image,
                record[slot.image],
                lesion,
                slot.image,
                self._image_kind,
            )
        else:
            image = read_frame(
                record[slot.image],
                record[slot.masks[0]],
                spec,
                lesion=lesion,
                image_column=slot.image,
                mask_column=slot.masks[0],
                frame_column=slot.frame,
            )
        plane = self._image_of(image)
        rois, errors = [], []
        for k, column in enumerate(slot.masks):
            cell = record[column] if k == 0 else record.get(column)
            if k > 0 and is_missing(cell):
                continue  # no such reader (or reference) for this lesion
            try:
                mask, box = self._read_mask(
                    plane, cell, lesion, slot.image, column, record[slot.image]
                )
            except ROIError as exc:
                errors.append(exc)
                continue
            rois.append(ROI(lesion, slot.image, column, image, mask, box))
        if errors:
            first = errors[0]
            first.others = errors[1:]
            raise first
        return rois

    def _read_mask(
        self,
        plane: np.ndarray,
        cell: Any,
        lesion: Any,
        image_column: str,
        column: str,
        image_cell: Any = None,
    ) -> tuple[np.ndarray, tuple[slice, slice]]:
        """One mask cell read, validated against `plane`, with its box.

        `mask_label` picks one label of a label image (else every nonzero
        value is inside, with a :class:`MaskLabelWarning` when there are
        several); a mask that looks like an outline is filled with
        `fill_outline`, else refused.
        """
        label = getattr(self, "mask_label", None)
        mask, merged = _load_cell(
            lambda c: _read_mask_labels(c, label), cell, lesion, column, "mask"
        )
        try:
            plane, mask = _roi.validate_roi(
                plane,
                mask,
                lesion=lesion,
                image_column=image_column,
                mask_column=column,
                min_extent=self._min_extent,
            )
        except ROIError as exc:
            # The file behind the cell the problem is about, when it is one.
            paths = {column: _cell_path(cell), image_column: _cell_path(image_cell)}
            raise exc.located(path=paths.get(exc.column)) from exc
        if merged:
            shown = ", ".join(str(v) for v in merged)
            warnings.warn(
                f"lesion {lesion!r}, column {column!r}: the mask holds several "
                f"labels ({shown}{', ...' if len(merged) == 8 else ''}), merged "
                "into one ROI (nonzero = inside); pass mask_label= to use one",
                MaskLabelWarning,
                stacklevel=5,
            )
        box = _roi.roi_bbox(mask)
        outline = _roi.outline_of(mask, box)
        if outline is not None:
            if not getattr(self, "fill_outline", False):
                n, enclosed = outline
                raise ROIError(
                    f"the mask looks like an outline: its {n} pixels are almost "
                    f"all on its boundary and enclose {enclosed} pixels outside "
                    "it. Fill it (fill_outline=True, or "
                    "scipy.ndimage.binary_fill_holes) to use the region inside",
                    lesion=lesion,
                    column=column,
                )
            mask = _roi.fill_outline(mask, box)
        return mask, box

    # ------------------------------------------------------------ engine

    def _batch_size(self, n_units: int) -> int:
        n_workers = effective_n_jobs(getattr(self, "n_jobs", None))
        return max(1, min(_MAX_BATCH, n_units // (4 * n_workers)))

    def _run_batches(self, batches, settings):
        """Computed batches, in order: joblib workers over the batches."""
        return Parallel(n_jobs=getattr(self, "n_jobs", None), return_as="generator")(
            delayed(_record_warnings)(self._compute, batch, settings)
            for batch in batches
        )

    def _extract(
        self, X: pd.DataFrame, layout: Layout, *, on_error: str = "raise"
    ) -> tuple[np.ndarray, list[ROIError]]:
        """The feature values of every lesion, and the errors collected."""
        settings = self._settings()
        cache = (
            feature_cache(self._cache_name)
            if self._cache_name and getattr(self, "cache", True)
            else None
        )
        values = np.full((len(X), len(layout.names)), np.nan)
        errors: list[ROIError] = []
        failed: set[int] = set()
        pending: list[tuple[int, Unit]] = []
        batch_size = self._batch_size(len(X) * max(1, len(layout.slots)))
        columns = list(X.columns)

        def batches():
            # Cells are read lazily, one lesion at a time, in this process; a
            # cached unit is filled in here and only the misses are computed.
            batch: list[Any] = []
            for i, (lesion, row) in enumerate(
                zip(X.index.tolist(), X.itertuples(index=False), strict=True)
            ):
                record = dict(zip(columns, row, strict=True))
                units: list[Unit] = []
                lesion_errors: list[ROIError] = []
                for slot in layout.slots:
                    try:
                        rois = self._read_slot(lesion, record, slot)
                        units.extend(self._units(rois, slot, settings, layout))
                    except ROIError as exc:
                        if on_error == "raise":
                            raise
                        lesion_errors += [exc, *getattr(exc, "others", [])]
                if lesion_errors:
                    errors.extend(lesion_errors)
                    failed.add(i)
                    continue
                for unit in units:
                    hit = cache.get(unit.key) if cache is not None else None
                    if hit is not None:
                        values[i, unit.out] = hit
                        continue
                    pending.append((i, unit))
                    batch.append(unit.payload)
                    if len(batch) == batch_size:
                        yield batch
                        batch = []
            if batch:
                yield batch

        progress = None
        k = 0
        for chunk in self._run_batches(batches(), settings):
            if getattr(self, "verbose", False) and progress is None:
                # Opened with the first computed batch: a transform served
                # from the cache (the stack's folds) shows no empty bar.
                from tqdm.auto import tqdm

                desc, unit_name = self._progress
                progress = tqdm(desc=desc, unit=unit_name)
            for unit_values, messages, error in chunk:
                i, unit = pending[k]
                k += 1
                if error is not None:
                    located = ROIError(
                        str(error),
                        lesion=unit.lesion,
                        column=unit.error_column or unit.column,
                    )
                    if on_error == "raise":
                        raise located from error
                    errors.append(located)
                    failed.add(i)
                    continue
                values[i, unit.out] = unit_values
                if cache is not None and unit.key is not None:
                    cache.put(unit.key, unit_values)
                for message in messages:
                    warnings.warn(
                        f"lesion {unit.lesion!r}, column {unit.column!r}: {message}",
                        DegenerateROIWarning,
                        stacklevel=3,
                    )
            if progress is not None:
                progress.update(len(chunk))
        if progress is not None:
            progress.close()
        if failed:
            values[sorted(failed)] = np.nan
        return values, errors

    # --------------------------------------------------------------- API

    @staticmethod
    def _frame_column(slot: Slot, X: pd.DataFrame) -> str | None:
        frame = f"{slot.phase}_frame"
        return frame if frame in X.columns else None

    def _fitted_layout(self, X: pd.DataFrame) -> Layout:
        """The fitted layout, checked against `X`; or a fresh one (stateless)."""
        layout = getattr(self, "layout_", None)
        if layout is None:
            self._validate_params()
            return self._layout(X)
        # The frame columns belong to the frame being read, not to the fit: a
        # model fitted on still images reads new cines through their
        # `{phase}_frame` column (and one fitted on cines, new stills without).
        slots = tuple(
            replace(s, frame=self._frame_column(s, X))
            if s.image == f"{s.phase}_image"
            else s
            for s in layout.slots
        )
        if slots != layout.slots:
            layout = replace(layout, slots=slots)
        missing = [c for c in layout.required if c not in X.columns]
        if missing:
            raise ValueError(
                f"X lacks the columns {missing} that the "
                f"{type(self).__name__} was fitted with"
            )
        return layout

    def _set_layout(self, layout: Layout) -> None:
        self.layout_ = layout
        self.feature_names_out_ = np.asarray(layout.names, dtype=object)
        self.n_features_out_ = len(layout.names)

    def _table(self, X: pd.DataFrame, values: np.ndarray, layout: Layout):
        return pd.DataFrame(values, index=X.index.copy(), columns=list(layout.names))

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """The features of every lesion.

        Parameters
        ----------
        X : DataFrame
            The records frame; only the columns the extractor was fitted on
            are read, lazily, one lesion at a time.

        Returns
        -------
        features : DataFrame of shape (n_lesions, n_features_out_)
            Indexed like ``X``.

        Raises
        ------
        ROIError
            For the first lesion whose cell cannot be used, with its
            ``lesion`` and ``column``.
        """
        table, _ = self._transform_records(X, on_error="raise")
        return table

    def _transform_records(
        self, X: pd.DataFrame, *, on_error: str = "collect"
    ) -> tuple[pd.DataFrame, list[ROIError]]:
        """:meth:`transform` that can go on past bad lesions.

        With ``on_error="collect"`` a lesion with a bad cell gets a NaN row
        and its :class:`~ceusradiomics.exceptions.ROIError` s are returned
        (every bad cell of the lesion); ``"raise"`` raises the first.
        """
        if on_error not in ("raise", "collect"):
            raise ValueError(f"on_error must be 'raise' or 'collect'; got {on_error!r}")
        X = check_records(X, self._records_help)
        layout = self._fitted_layout(X)
        values, errors = self._extract(X, layout, on_error=on_error)
        return self._table(X, values, layout), errors

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output column names.

        Parameters
        ----------
        input_features : ignored
            Present for API consistency (the input is the records frame).

        Returns
        -------
        feature_names_out : ndarray of str
        """
        if not hasattr(self, "feature_names_out_"):
            # check_is_fitted would pass a stateless extractor: its tags say no
            # fit is required.
            raise NotFittedError(
                f"This {type(self).__name__} has no output names yet: call 'fit' "
                "(or 'fit_transform') on the records frame first."
            )
        return self.feature_names_out_.copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        # A pickle or model file written before a parameter existed: the
        # parameter's default, which is what that extractor computed then
        # (get_params, clone and the cache key all read every parameter).
        for name, parameter in inspect.signature(
            type(self).__init__
        ).parameters.items():
            if parameter.default is not parameter.empty and name not in self.__dict__:
                setattr(self, name, parameter.default)


def image_slots(
    X: pd.DataFrame, phases: Sequence[str], readers: dict[str, tuple[str, ...]]
) -> tuple[Slot, ...]:
    """One slot per phase: ``{phase}_image`` with its mask and readers' masks.

    A ``{phase}_frame`` column of `X`, when present, picks the frame of a
    multi-frame image (see :mod:`ceusradiomics.extractors._frames`).
    """
    return tuple(
        Slot(
            f"{p}_image",
            (f"{p}_mask", *(f"{p}_mask_{r}" for r in readers[p])),
            phase=p,
            frame=f"{p}_frame" if f"{p}_frame" in X.columns else None,
        )
        for p in phases
    )
