"""scikit-learn transformers from the records frame to a feature table.

The records frame (one row per lesion, ``{phase}_image`` / ``{phase}_mask``
columns, see :mod:`ceusradiomics.io`) goes in; a :class:`pandas.DataFrame`
indexed by lesion id comes out. The math lives in :mod:`ceusradiomics.texture`;
this module only loads, validates, parallelises and names.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn_compat.base import _fit_context

from ceusradiomics._cache import feature_cache, roi_key
from ceusradiomics.deep import ResNetFeaturizer
from ceusradiomics.exceptions import DegenerateROIWarning
from ceusradiomics.io import check_phases, is_missing, load_roi, mask_readers
from ceusradiomics.texture._features import (
    resolve_bits,
    resolve_distances,
    resolve_families,
    resolve_wavelet_scales,
    texture_feature_names,
    texture_features,
)
from ceusradiomics.texture._quantize import _roi_bbox

__all__ = ["ResNetFeaturizer", "TextureExtractor"]


def _records_frame(X: Any) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            "X must be the records DataFrame: one row per lesion, indexed by lesion "
            "id, with '{phase}_image' and '{phase}_mask' columns (see "
            f"ceusradiomics.io.load_cohort); got {type(X).__name__}"
        )
    if len(X) == 0:
        raise ValueError("X has no lesion (0 rows)")
    return X


def _roi_texture(
    image: np.ndarray,
    mask: np.ndarray,
    origin: tuple[int, int],
    settings: dict[str, Any],
) -> tuple[np.ndarray, list[str]]:
    """Features of one ROI, with the warnings it raised as strings.

    Runs in a joblib worker, so warnings are recorded and handed back to the
    main process, which re-emits them with the lesion's name.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DegenerateROIWarning)
        features = texture_features(image, mask, origin=origin, **settings)
    messages = [
        str(w.message) for w in caught if issubclass(w.category, DegenerateROIWarning)
    ]
    return np.fromiter(features.values(), float, count=len(features)), messages


def _roi_texture_batch(
    rois: list[tuple[np.ndarray, np.ndarray, tuple[int, int]]],
    settings: dict[str, Any],
) -> list[tuple[np.ndarray, list[str]]]:
    """:func:`_roi_texture` of several ROIs: one joblib task for a few ROIs.

    A task costs the main process about as much to dispatch as a ROI costs a
    worker to compute, so ROIs travel in small batches.
    """
    return [_roi_texture(image, mask, origin, settings) for image, mask, origin in rois]


# Most ROIs per joblib task (see _roi_texture_batch): 32 bring the dispatch
# cost per ROI well under the compute; fewer for small cohorts, so that every
# worker gets several tasks.
_ROI_BATCH = 32


def _crop_to_roi(
    image: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Copies of the ROI's bounding box of image and mask, and its top-left corner."""
    rows, cols = _roi_bbox(mask)
    return (
        np.ascontiguousarray(image[rows, cols]),
        np.ascontiguousarray(mask[rows, cols]),
        (rows.start, cols.start),
    )


class TextureExtractor(TransformerMixin, BaseEstimator):
    """MaZda 4.6 texture features of every phase image and ROI of each lesion.

    For each lesion (row of the records frame) and phase, the image's grey
    levels inside the reader's ROI are normalised and quantised, and the six
    MaZda families are computed: histogram (9), absolute gradient (5),
    run-length matrix (4 directions x 5), co-occurrence matrix
    (``S(d,0)``, ``S(0,d)``, ``S(d,d)``, ``S(d,-d)`` x 11 per distance),
    autoregressive model (5) and Haar wavelet energies (4 per scale). Columns are
    named ``{phase}_{MaZdaName}`` (``US_S(1,0)Correlat``, ``AP_135dr_GLevNonU``,
    ``PP_WavEnHL_s-5``), plus ``{phase}_{MaZdaName}@{reader}`` for every further
    reader's mask (``{phase}_mask_{reader}`` columns) when ``readers="all"``,
    which :class:`~ceusradiomics.selection.ICCFilter` reads.

    The transformer is stateless: ``fit`` only validates the parameters and
    records the phases, readers and output names.

    Parameters
    ----------
    phases : sequence of str, optional
        Phases to extract (``("US", "AP", "PP")``); by default every
        ``{phase}_image`` column of ``X`` in column order.
    families : sequence of str, optional
        Subset of ``("hist", "grad", "rlm", "glcm", "ar", "wav")``; all by default.
    normalization : {"none", "3sigma", "1-99", "minmax"}, default="none"
        Grey-level range from the ROI pixels mapped onto ``2**bits`` levels:
        the image's native range (MaZda's default; integer images only),
        mean +/- 3 SD, the 1st-99th percentiles or min-max.
    bits : int or dict, optional
        Bits of the working image per family; an int applies to every family.
        Default: 6 for ``"rlm"`` and ``"glcm"``, 8 otherwise.
    distances : sequence of int, default=(1, 2, 3, 4, 5)
        Co-occurrence distances.
    wavelet_scales : int or sequence of int, default=6
        Haar scales (``k`` means ``1..k``). A scale the ROI cannot hold (no
        ``2**k`` block aligned to the image grid inside it) gives NaN.
    readers : {"primary", "all"}, default="primary"
        ``"all"`` also extracts each ``{phase}_mask_{reader}`` column, as
        ``{name}@{reader}`` columns (NaN for lesions without that reader).
    cache : bool, default=True
        Keep each ROI's features in a bounded in-process cache keyed on the
        image, the mask and the settings (see
        :func:`~ceusradiomics.clear_feature_cache`), so that cross-validation,
        grid search and stacking, which clone the extractor, compute a lesion
        once.
    n_jobs : int, default=None
        Parallel workers over lesions (joblib; ``-1`` = all cores). The result
        does not depend on it.
    verbose : bool, default=False
        Show a progress bar over lesions.

    Attributes
    ----------
    phases_ : tuple of str
        The phases extracted.
    readers_ : dict of str to tuple of str
        The further readers extracted per phase (empty with ``readers="primary"``).
    feature_names_out_ : ndarray of str
        Output column names.
    n_features_out_ : int
        Number of output columns.

    See Also
    --------
    ceusradiomics.texture.texture_features : The same features for one array pair.

    Notes
    -----
    Every convention that MaZda's documentation leaves open is fixed and listed,
    with its reason, in ``docs/features.md``. ROIs too small or too uniform for a
    family give NaN for those features and a
    :class:`~ceusradiomics.exceptions.DegenerateROIWarning` naming the lesion.

    References
    ----------
    .. [1] P. M. Szczypinski, M. Strzelecki, A. Materka, A. Klepaczko, "MaZda -
       A software package for image texture analysis", Computer Methods and
       Programs in Biomedicine 94(1), 66-76, 2009. :doi:`10.1016/j.cmpb.2008.08.005`

    Examples
    --------
    >>> from ceusradiomics import TextureExtractor
    >>> from ceusradiomics.datasets import make_ceus_cohort
    >>> X, y, _ = make_ceus_cohort(n_lesions=6, image_size=96, random_state=0)
    >>> extractor = TextureExtractor(phases=("US",), families=("hist", "glcm"))
    >>> features = extractor.fit_transform(X)
    >>> features.shape
    (6, 229)
    >>> features.columns[:2].tolist()
    ['US_Mean', 'US_Variance']
    """

    _parameter_constraints: ClassVar[dict] = {
        "phases": [None, str, list, tuple],
        "families": [None, str, list, tuple],
        "normalization": [StrOptions({"none", "3sigma", "1-99", "minmax"})],
        "bits": [None, Interval(Integral, 1, 16, closed="both"), dict],
        "distances": ["array-like"],
        "wavelet_scales": [Interval(Integral, 1, 16, closed="both"), "array-like"],
        "readers": [StrOptions({"primary", "all"})],
        "cache": ["boolean"],
        "n_jobs": [None, Integral],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        phases: Sequence[str] | None = None,
        *,
        families: Sequence[str] | None = None,
        normalization: str = "none",
        bits: int | Mapping[str, int] | None = None,
        distances: Sequence[int] = (1, 2, 3, 4, 5),
        wavelet_scales: int | Sequence[int] = 6,
        readers: str = "primary",
        cache: bool = True,
        n_jobs: int | None = None,
        verbose: bool = False,
    ):
        self.phases = phases
        self.families = families
        self.normalization = normalization
        self.bits = bits
        self.distances = distances
        self.wavelet_scales = wavelet_scales
        self.readers = readers
        self.cache = cache
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _settings(self) -> dict[str, Any]:
        return {
            "families": resolve_families(self.families),
            "normalization": self.normalization,
            "bits": resolve_bits(self.bits),
            "distances": resolve_distances(self.distances),
            "wavelet_scales": resolve_wavelet_scales(self.wavelet_scales),
        }

    def _layout(
        self, X: pd.DataFrame
    ) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
        phases = check_phases(
            X, (self.phases,) if isinstance(self.phases, str) else self.phases
        )
        readers = {
            phase: mask_readers(X, phase) if self.readers == "all" else ()
            for phase in phases
        }
        return phases, readers

    @staticmethod
    def _names(
        phases: Iterable[str],
        readers: Mapping[str, Iterable[str]],
        base: list[str],
    ) -> np.ndarray:
        primary = [f"{p}_{n}" for p in phases for n in base]
        extra = [f"{p}_{n}@{r}" for p in phases for r in readers[p] for n in base]
        return np.asarray(primary + extra, dtype=object)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: pd.DataFrame, y: Any = None) -> TextureExtractor:
        """Validate the parameters and record phases, readers and output names.

        Parameters
        ----------
        X : DataFrame
            The records frame.
        y : None
            Ignored.

        Returns
        -------
        self : TextureExtractor
        """
        X = _records_frame(X)
        settings = self._settings()
        self.phases_, self.readers_ = self._layout(X)
        base = texture_feature_names(
            settings["families"],
            distances=settings["distances"],
            wavelet_scales=settings["wavelet_scales"],
        )
        self.feature_names_out_ = self._names(self.phases_, self.readers_, base)
        self.n_features_out_ = len(self.feature_names_out_)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Extract the texture features of every lesion.

        Parameters
        ----------
        X : DataFrame
            The records frame; only the image and mask columns of the fitted
            phases are read, lazily, one lesion at a time.

        Returns
        -------
        features : DataFrame of shape (n_lesions, n_features_out_)
            Indexed like ``X``.
        """
        X = _records_frame(X)
        if hasattr(self, "phases_"):
            phases, readers = self.phases_, self.readers_
            names = self.feature_names_out_
        else:  # stateless: transform without fit is allowed
            self._validate_params()
            phases, readers = self._layout(X)
            names = None
        settings = self._settings()
        base = texture_feature_names(
            settings["families"],
            distances=settings["distances"],
            wavelet_scales=settings["wavelet_scales"],
        )
        if names is None:
            names = self._names(phases, readers, base)
        columns = [f"{p}_image" for p in phases] + [f"{p}_mask" for p in phases]
        columns += [f"{p}_mask_{r}" for p in phases for r in readers[p]]
        missing = [c for c in columns if c not in X.columns]
        if missing:
            raise ValueError(
                f"X lacks the columns {missing} that the extractor was fitted with"
            )

        # Output order: every phase's primary ROI, then every further reader.
        order = [(p, f"{p}_mask", None) for p in phases] + [
            (p, f"{p}_mask_{r}", r) for p in phases for r in readers[p]
        ]
        n_base = len(base)
        cache = feature_cache("texture") if self.cache else None
        values = np.full((len(X), len(order) * n_base), np.nan)
        pending = []  # (row, slot, key, lesion, column) of the ROIs to compute

        def jobs():
            # ROIs are loaded lazily, one lesion at a time, in this process: a
            # cached ROI is filled in here and only the misses go to a worker,
            # a few at a time.
            batch = []
            n_workers = effective_n_jobs(self.n_jobs)
            batch_size = max(1, min(_ROI_BATCH, len(X) * len(order) // (4 * n_workers)))
            for i, (lesion, row) in enumerate(
                zip(X.index.tolist(), X.itertuples(index=False), strict=True)
            ):
                record = dict(zip(X.columns, row, strict=True))
                for slot, (phase, column, reader) in enumerate(order):
                    if reader is not None and is_missing(record[column]):
                        continue  # this lesion has no such reader: NaN
                    image, mask = load_roi(
                        record[f"{phase}_image"],
                        record[column],
                        lesion=lesion,
                        image_column=f"{phase}_image",
                        mask_column=column,
                    )
                    # Only the ROI's bounding box travels to a worker and into
                    # the cache key; its origin keeps the Haar grid in place.
                    image, mask, origin = _crop_to_roi(image, mask)
                    key = (
                        roi_key(image, mask, settings=(settings, origin))
                        if cache is not None
                        else None
                    )
                    hit = cache.get(key) if cache is not None else None
                    if hit is not None:
                        values[i, slot * n_base : (slot + 1) * n_base] = hit
                        continue
                    pending.append((i, slot, key, lesion, column))
                    batch.append((image, mask, origin))
                    if len(batch) == batch_size:
                        yield delayed(_roi_texture_batch)(batch, settings)
                        batch = []
            if batch:
                yield delayed(_roi_texture_batch)(batch, settings)

        results = Parallel(n_jobs=self.n_jobs, return_as="generator")(jobs())
        progress = None
        k = 0
        for chunk in results:
            if self.verbose and progress is None:
                # Opened with the first computed batch: a transform served
                # from the cache (the stack's folds) shows no empty bar.
                from tqdm.auto import tqdm

                progress = tqdm(desc="texture", unit="ROI")
            for roi_values, messages in chunk:
                i, slot, key, lesion, column = pending[k]
                k += 1
                values[i, slot * n_base : (slot + 1) * n_base] = roi_values
                if cache is not None:
                    cache.put(key, roi_values)
                for message in messages:
                    warnings.warn(
                        f"lesion {lesion!r}, column {column!r}: {message}",
                        DegenerateROIWarning,
                        stacklevel=2,
                    )
            if progress is not None:
                progress.update(len(chunk))
        if progress is not None:
            progress.close()
        return pd.DataFrame(values, index=X.index.copy(), columns=list(names))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output column names: ``{phase}_{MaZdaName}[@{reader}]``.

        Parameters
        ----------
        input_features : ignored
            Present for API consistency (the input is the records frame).

        Returns
        -------
        feature_names_out : ndarray of str
        """
        if not hasattr(self, "feature_names_out_"):
            # check_is_fitted would pass: the tags say no fit is required.
            raise NotFittedError(
                "This TextureExtractor has no output names yet: call 'fit' (or "
                "'fit_transform') on the records frame first."
            )
        return self.feature_names_out_.copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.requires_fit = False
        return tags
