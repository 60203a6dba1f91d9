"""TextureExtractor: the records frame -> MaZda texture features per phase."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn_compat.base import _fit_context

from ceusradiomics._cache import roi_key
from ceusradiomics.extractors._base import (
    ROI,
    Layout,
    RecordsTransformer,
    Slot,
    Unit,
    check_records,
    image_slots,
)
from ceusradiomics.io import check_phases, mask_readers
from ceusradiomics.texture._common import NORMALIZATIONS
from ceusradiomics.texture._registry import (
    DISTANCES,
    FAMILIES,
    WAVELET_SCALES,
    TexturePlan,
    resolve_plan,
)

__all__ = ["TextureExtractor"]


class TextureExtractor(RecordsTransformer):
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
    family_params : dict, optional
        Settings of further texture families registered with
        :func:`~ceusradiomics.texture.register_family`, by the parameter's
        registered name (see ``docs/extending.md``).
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
    layout_ : Layout
        The columns read and written (internal).
    feature_names_out_ : ndarray of str
        Output column names.
    n_features_out_ : int
        Number of output columns.

    See Also
    --------
    ceusradiomics.texture.texture_features : The same features for one array pair.
    ceusradiomics.texture.FAMILIES : The registry of families and their settings.

    Notes
    -----
    Every convention that MaZda's documentation leaves open is fixed and listed,
    with its reason, in ``docs/features.md``. ROIs too small or too uniform for a
    family give NaN for those features and a
    :class:`~ceusradiomics.exceptions.DegenerateROIWarning` naming the lesion.
    A cell that cannot be used (an unreadable file, an empty mask, a shape
    mismatch, NaN pixels, a float image under ``normalization="none"``, ...)
    raises a :class:`~ceusradiomics.exceptions.ROIError` naming the lesion
    and the column.

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
        "mask_label": [None, Real, tuple],
        "fill_outline": ["boolean"],
        "phases": [None, str, list, tuple],
        "families": [None, StrOptions(set(FAMILIES)), list, tuple],
        "normalization": [StrOptions(set(NORMALIZATIONS))],
        "bits": [None, Interval(Integral, 1, 16, closed="both"), dict],
        "distances": DISTANCES.constraint,
        "wavelet_scales": WAVELET_SCALES.constraint,
        "family_params": [None, dict],
        "readers": [StrOptions({"primary", "all"})],
        "cache": ["boolean"],
        # joblib: 1, 2, ... workers, or -1, -2, ... (all cores, all but one, ...)
        "n_jobs": [
            None,
            Interval(Integral, 1, None, closed="left"),
            Interval(Integral, None, -1, closed="right"),
        ],
        "verbose": ["verbose"],
    }
    _cache_name: ClassVar[str] = "texture"
    _progress: ClassVar[tuple[str, str]] = ("texture", "ROI")

    def __init__(
        self,
        phases: Sequence[str] | None = None,
        *,
        families: Sequence[str] | None = None,
        normalization: str = "none",
        bits: int | Mapping[str, int] | None = None,
        distances: Sequence[int] = DISTANCES.default,
        wavelet_scales: int | Sequence[int] = WAVELET_SCALES.default,
        family_params: Mapping[str, Any] | None = None,
        mask_label: Any = None,
        fill_outline: bool = False,
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
        self.family_params = family_params
        self.mask_label = mask_label
        self.fill_outline = fill_outline
        self.readers = readers
        self.cache = cache
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ------------------------------------------------------------- hooks

    def _settings(self) -> TexturePlan:
        return resolve_plan(
            self.families,
            normalization=self.normalization,
            bits=self.bits,
            distances=self.distances,
            wavelet_scales=self.wavelet_scales,
            family_params=self.family_params,
        )

    def _layout(self, X: pd.DataFrame) -> Layout:
        phases = check_phases(
            X, (self.phases,) if isinstance(self.phases, str) else self.phases
        )
        readers = {
            phase: mask_readers(X, phase) if self.readers == "all" else ()
            for phase in phases
        }
        base = self._settings().feature_names()
        # Output order: every phase's primary ROI, then every further reader.
        order = [(p, f"{p}_mask", "") for p in phases] + [
            (p, f"{p}_mask_{r}", f"@{r}") for p in phases for r in readers[p]
        ]
        names = tuple(f"{p}_{n}{suffix}" for p, _, suffix in order for n in base)
        starts = {column: k * len(base) for k, (_, column, _) in enumerate(order)}
        return Layout(image_slots(X, phases, readers), names, starts)

    def _units(
        self, rois: list[ROI], slot: Slot, settings: TexturePlan, layout: Layout
    ) -> Iterator[Unit]:
        n_base = len(layout.names) // len(layout.starts)
        for roi in rois:
            start = layout.starts[roi.mask_column]
            # Only the ROI's bounding box travels to a worker and into the
            # cache key; its origin keeps the Haar grid in place.
            image = np.ascontiguousarray(roi.image[roi.box])
            mask = np.ascontiguousarray(roi.mask[roi.box])
            origin = (roi.box[0].start, roi.box[1].start)
            key = (
                roi_key(image, mask, settings=(settings, origin))
                if self.cache
                else None
            )
            yield Unit(
                slice(start, start + n_base),
                key,
                (image, mask, origin),
                roi.lesion,
                roi.mask_column,
                roi.image_column,
            )

    @staticmethod
    def _compute(payload: Any, settings: TexturePlan) -> np.ndarray:
        image, mask, origin = payload
        features = settings.compute(image, mask, origin)
        return np.fromiter(features.values(), float, count=len(features))

    # --------------------------------------------------------------- API

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
        X = check_records(X)
        layout = self._layout(X)
        self._set_layout(layout)
        self.phases_ = tuple(s.phase for s in layout.slots)
        self.readers_ = {
            s.phase: tuple(m[len(f"{s.phase}_mask_") :] for m in s.masks[1:])
            for s in layout.slots
        }
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags
