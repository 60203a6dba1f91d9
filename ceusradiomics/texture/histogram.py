r"""Grey-level histogram features of a ROI (MaZda 4.6 "Histogram", 9 features).

First-order statistics of the grey levels inside the ROI, under MaZda's names:
the mean, the population variance, skewness and excess kurtosis, and the 1, 10,
50, 90 and 99 % points of the cumulative histogram.
"""

from __future__ import annotations

import warnings

import numpy as np

from ceusradiomics.exceptions import DegenerateROIWarning
from ceusradiomics.texture._common import crop_roi, dot

__all__ = ["histogram_feature_names", "histogram_features"]

#: Percentages of the ``Perc.xx%`` features, as integers (exact count rule).
_PERCENTS: tuple[int, ...] = (1, 10, 50, 90, 99)

_NAMES: tuple[str, ...] = (
    "Mean",
    "Variance",
    "Skewness",
    "Kurtosis",
    *(f"Perc.{p:02d}%" for p in _PERCENTS),
)

# Integer ROIs whose value range is at most this wide are summarised by their
# histogram (np.bincount) rather than by sorting; wider ones are sorted.
_MAX_BINCOUNT_RANGE = 1 << 16


def histogram_feature_names() -> list[str]:
    """Names of the histogram features, in the order of :func:`histogram_features`.

    Returns
    -------
    list of str
        ``Mean, Variance, Skewness, Kurtosis, Perc.01%, Perc.10%, Perc.50%,
        Perc.90%, Perc.99%``.

    Examples
    --------
    >>> from ceusradiomics.texture.histogram import histogram_feature_names
    >>> histogram_feature_names()[:4]
    ['Mean', 'Variance', 'Skewness', 'Kurtosis']
    """
    return list(_NAMES)


def histogram_features(image: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    r"""Histogram features of the ROI (MaZda 4.6).

    With :math:`h(g)` the number of ROI pixels of grey level :math:`g`,
    :math:`N` the number of ROI pixels, :math:`p(g) = h(g)/N` and
    :math:`F(g) = \sum_{t \le g} p(t)`:

    .. math::

        \mathrm{Mean} = \mu = \sum_g g\,p(g), \qquad
        \mathrm{Variance} = \sigma^2 = \sum_g (g - \mu)^2 p(g),

        \mathrm{Skewness} = \frac{\sum_g (g - \mu)^3 p(g)}{\sigma^3}, \qquad
        \mathrm{Kurtosis} = \frac{\sum_g (g - \mu)^4 p(g)}{\sigma^4} - 3,

        \mathrm{Perc.xx\%} = \min\{\, g : F(g) \ge xx/100 \,\},
        \quad xx \in \{01, 10, 50, 90, 99\}.

    The moments are population moments (no bias correction), the kurtosis is
    the excess kurtosis, and a percentile is always a grey level present in the
    ROI (no interpolation). Grey levels are the image values themselves, so the
    working image of levels ``0 .. L - 1`` is 0-based; raw values work too.

    Parameters
    ----------
    image : ndarray of shape (n_rows, n_cols)
        Grey levels (integer or floating point), usually the working image of
        :func:`~ceusradiomics.texture._quantize.quantize`.
    mask : ndarray of shape (n_rows, n_cols)
        The ROI: nonzero (or True) inside. Pixels outside it are never read.

    Returns
    -------
    features : dict of str to float
        Keyed by :func:`histogram_feature_names`, in that order.

    Raises
    ------
    TypeError
        If ``image`` is not an integer or floating-point array.
    ValueError
        If ``image`` is not 2-D, ``mask`` has another shape or no ROI pixel, or
        a ROI value is not finite.

    Warns
    -----
    DegenerateROIWarning
        For a constant ROI: ``Skewness`` and ``Kurtosis`` are NaN (0/0); the
        other features keep their values (``Variance`` = 0).

    See Also
    --------
    scipy.stats.skew, scipy.stats.kurtosis : the same moments with
        ``bias=True`` (and ``fisher=True``).

    Notes
    -----
    ``Perc.xx%`` is found with exact integer arithmetic: it is the
    :math:`k`-th smallest ROI value with :math:`k = \lceil xx \cdot N / 100
    \rceil` (numpy's ``method="inverted_cdf"``).

    References
    ----------
    .. [1] P. M. Szczypiński, M. Strzelecki, A. Materka, A. Klepaczko, "MaZda -
       A software package for image texture analysis", Computer Methods and
       Programs in Biomedicine 94(1), 66-76, 2009.
       :doi:`10.1016/j.cmpb.2008.08.005`
    .. [2] A. Materka, M. Strzelecki, "Texture analysis methods - a review",
       COST B11 report, Technical University of Lodz, 1998.

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.texture.histogram import histogram_features
    >>> image = np.array([[0, 1, 1, 2],
    ...                   [1, 2, 2, 3],
    ...                   [2, 3, 3, 7],
    ...                   [9, 9, 9, 9]], dtype=np.uint8)
    >>> mask = np.ones((4, 4), bool)
    >>> mask[3] = False  # the 9s are outside the ROI
    >>> f = histogram_features(image, mask)
    >>> f["Mean"], round(f["Variance"], 4), f["Perc.10%"], f["Perc.99%"]
    (2.25, 2.8542, 1.0, 7.0)
    >>> round(f["Skewness"], 4), round(f["Kurtosis"], 4)
    (1.5748, 2.5545)
    """
    image_c, mask_c, _ = crop_roi(image, mask)
    return _histogram(image_c, mask_c)


def _histogram(image_c: np.ndarray, mask_c: np.ndarray) -> dict[str, float]:
    """:func:`histogram_features` of a validated ROI crop."""
    values = image_c[mask_c]
    n = values.size
    # k-th smallest value (1-based) is Perc.xx%: F(g) >= xx/100 <=> count*100 >=
    # xx*N, so k = ceil(xx * N / 100) in integers, free of float rounding.
    ranks = [-(-p * n // 100) - 1 for p in _PERCENTS]

    vmin, vmax = values.min(), values.max()
    if (
        values.dtype.kind in "iu"
        and int(vmax) - int(vmin) < _MAX_BINCOUNT_RANGE
        and int(vmax) <= np.iinfo(np.intp).max  # (uint64 beyond intp: sort)
    ):
        # Working images have few levels: summarise the ROI by its histogram,
        # over levels 0.. when they are small non-negative integers (bincount's
        # own domain, no copy), else over vmin.. (computed in intp: int8/int16
        # differences could overflow in their own dtype, uint64 is not intp).
        if vmin >= 0 and vmax < _MAX_BINCOUNT_RANGE and values.dtype != np.uint64:
            offset = 0
            counts = np.bincount(values)
        else:
            offset = int(vmin)
            counts = np.bincount(
                np.subtract(values, offset, dtype=np.intp, casting="unsafe")
            )
        levels = np.arange(counts.size, dtype=np.float64)
        weights = counts.astype(np.float64)
        mean_offset = float(levels @ weights) / n
        d = levels - mean_offset
        d2 = d * d
        var = float(d2 @ weights) / n
        weights *= d2
        m3 = float(weights @ d) / n
        m4 = float(weights @ d2) / n
        mean = mean_offset + offset
        # first level whose cumulative count reaches rank + 1
        idx = np.searchsorted(np.cumsum(counts), [k + 1 for k in ranks])
        percentiles = [float(i + offset) for i in idx.tolist()]
    else:
        x = values.astype(np.float64)
        mean = float(x.sum() / n)
        d = x - mean
        d2 = d * d
        var = dot(d, d) / n
        m3 = dot(d2, d) / n
        m4 = dot(d2, d2) / n
        percentiles = np.partition(x, ranks)[ranks]

    features = dict.fromkeys(_NAMES, np.nan)
    features["Mean"] = mean
    features["Variance"] = var
    if vmin == vmax or not var > 0.0:
        # Exact test: a rounding-noise variance must not yield a huge skewness.
        # (var == 0 with vmin < vmax: huge integers that collapse in float64.)
        features["Mean"] = float(vmin) if vmin == vmax else mean
        features["Variance"] = 0.0
        warnings.warn(
            "histogram: the ROI is constant (every pixel equals "
            f"{features['Mean']:g}); Skewness and Kurtosis are NaN",
            DegenerateROIWarning,
            stacklevel=2,
        )
    else:
        features["Skewness"] = m3 / var**1.5
        features["Kurtosis"] = m4 / (var * var) - 3.0
    for p, value in zip(_PERCENTS, percentiles, strict=True):
        features[f"Perc.{p:02d}%"] = float(value)
    return features
