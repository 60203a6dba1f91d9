r"""Absolute-gradient features of a ROI (MaZda 4.6 "Gradient", 5 features).

The absolute gradient is the length of the central-difference gradient vector
(without the factor 1/2), taken at the ROI pixels whose four neighbours (left,
right, up, down) are also in the ROI and in the image; MaZda reports the first
four moments of its distribution and the fraction of non-zero gradients.
"""

from __future__ import annotations

import warnings

import numpy as np

from ceusradiomics.exceptions import DegenerateROIWarning
from ceusradiomics.texture import _kernels
from ceusradiomics.texture._common import crop_roi, dot

__all__ = ["absolute_gradient", "gradient_feature_names", "gradient_features"]

_NAMES: tuple[str, ...] = (
    "GrMean",
    "GrVariance",
    "GrSkewness",
    "GrKurtosis",
    "GrNonZeros",
)


def _squared_gradient_on_crop(
    image_c: np.ndarray, mask_c: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Squared gradient magnitude and support on the interior of a ROI crop.

    ``image_c``/``mask_c`` are the ROI's bounding box: its border pixels have a
    neighbour outside the box (outside the ROI or the image), so they are never
    in the support and only the interior ``[1:-1, 1:-1]`` is computed.
    """
    m = mask_c
    support = m[1:-1, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:] & m[:-2, 1:-1] & m[2:, 1:-1]
    if image_c.dtype.kind == "f":
        # Pixels outside the ROI may hold NaN/inf: blank them so that the
        # arithmetic below stays warning-free (they never reach the support).
        w = np.where(mask_c, image_c, 0.0).astype(np.float64, copy=False)
    elif image_c.dtype.itemsize == 1 or (
        image_c.size and int(image_c.max()) - int(image_c.min()) < 2**15
    ):
        # Exact and about 1.5x faster in int32: |difference| < 2**15, so the
        # sum of the two squares stays below 2**31.
        w = image_c.astype(np.int32)
    else:
        w = image_c.astype(np.float64)
    dx = w[1:-1, 2:] - w[1:-1, :-2]
    dy = w[2:, 1:-1] - w[:-2, 1:-1]
    dx *= dx
    dy *= dy
    dx += dy
    return dx, support


def absolute_gradient(
    image: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r"""Absolute gradient of the ROI and the pixels where it is defined.

    .. math::

        G(r, c) = \sqrt{\bigl(I(r, c+1) - I(r, c-1)\bigr)^2
                        + \bigl(I(r+1, c) - I(r-1, c)\bigr)^2}

    (central differences without the factor 1/2, as in MaZda), defined at the
    ROI pixels whose 4-neighbours ``(r, c-1), (r, c+1), (r-1, c), (r+1, c)``
    are all in the ROI: the ROI eroded by a 3x3 cross, where pixels outside the
    image count as outside the ROI.

    Parameters
    ----------
    image : ndarray of shape (n_rows, n_cols)
        Grey levels (integer or floating point), usually a working image of
        :func:`~ceusradiomics.texture._quantize.quantize`.
    mask : ndarray of shape (n_rows, n_cols)
        The ROI: nonzero (or True) inside. Pixels outside it are never read.

    Returns
    -------
    gradient : ndarray of float64, shape (n_rows, n_cols)
        :math:`G` on the support, 0 elsewhere.
    support : ndarray of bool, shape (n_rows, n_cols)
        The pixels where :math:`G` is defined (possibly none).

    Raises
    ------
    TypeError
        If ``image`` is not an integer or floating-point array.
    ValueError
        If ``image`` is not 2-D, ``mask`` has another shape or no ROI pixel, or
        a ROI value is not finite.

    See Also
    --------
    gradient_features : Statistics of :math:`G` over the support.

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.texture.gradient import absolute_gradient
    >>> image = np.array([[1, 2, 3, 4],
    ...                   [2, 4, 6, 8],
    ...                   [3, 6, 9, 12],
    ...                   [4, 8, 12, 16]], dtype=np.uint8)
    >>> grad, support = absolute_gradient(image, np.ones((4, 4), bool))
    >>> support.astype(int)
    array([[0, 0, 0, 0],
           [0, 1, 1, 0],
           [0, 1, 1, 0],
           [0, 0, 0, 0]])
    >>> np.round(grad, 3)
    array([[0.   , 0.   , 0.   , 0.   ],
           [0.   , 5.657, 7.211, 0.   ],
           [0.   , 7.211, 8.485, 0.   ],
           [0.   , 0.   , 0.   , 0.   ]])
    """
    image_c, mask_c, box = crop_roi(image, mask)
    gradient = np.zeros(np.shape(image), np.float64)
    support = np.zeros(np.shape(image), bool)
    g2, s = _squared_gradient_on_crop(image_c, mask_c)
    inner = (
        slice(box[0].start + 1, box[0].stop - 1),
        slice(box[1].start + 1, box[1].stop - 1),
    )
    support[inner] = s
    gradient[inner] = np.sqrt(np.where(s, g2, 0), dtype=np.float64)
    return gradient, support


def gradient_feature_names() -> list[str]:
    """Names of the gradient features, in the order of :func:`gradient_features`.

    Returns
    -------
    list of str
        ``GrMean, GrVariance, GrSkewness, GrKurtosis, GrNonZeros``.

    Examples
    --------
    >>> from ceusradiomics.texture.gradient import gradient_feature_names
    >>> gradient_feature_names()
    ['GrMean', 'GrVariance', 'GrSkewness', 'GrKurtosis', 'GrNonZeros']
    """
    return list(_NAMES)


def gradient_features(image: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    r"""Absolute-gradient features of the ROI (MaZda 4.6).

    Over the :math:`N_g` pixels of the support of :func:`absolute_gradient`
    (the ROI eroded by a 3x3 cross), with :math:`G` the absolute gradient:

    .. math::

        \mathrm{GrMean} = \bar G = \frac{1}{N_g} \sum G, \qquad
        \mathrm{GrVariance} = s^2 = \frac{1}{N_g} \sum (G - \bar G)^2,

        \mathrm{GrSkewness} = \frac{\frac{1}{N_g}\sum (G - \bar G)^3}{s^3},
        \qquad
        \mathrm{GrKurtosis} = \frac{\frac{1}{N_g}\sum (G - \bar G)^4}{s^4} - 3,

        \mathrm{GrNonZeros} = \frac{\#\{G > 0\}}{N_g}.

    Population moments, excess kurtosis, and ``GrNonZeros`` as a fraction in
    [0, 1] (not a percentage).

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
        Keyed by :func:`gradient_feature_names`, in that order.

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
        If no ROI pixel has its four neighbours in the ROI (every feature is
        NaN), or if :math:`G` is the same at every support pixel, e.g. a
        constant ROI (``GrSkewness`` and ``GrKurtosis`` are NaN).

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
    >>> from ceusradiomics.texture.gradient import gradient_features
    >>> image = np.array([[1, 2, 3, 4],
    ...                   [2, 4, 6, 8],
    ...                   [3, 6, 9, 12],
    ...                   [4, 8, 12, 16]], dtype=np.uint8)
    >>> f = gradient_features(image, np.ones((4, 4), bool))
    >>> {k: round(v, 4) for k, v in f.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'GrMean': 7.1411, 'GrVariance': 1.0049, 'GrSkewness': -0.2085,
     'GrKurtosis': -0.9903, 'GrNonZeros': 1.0}
    """
    image_c, mask_c, _ = crop_roi(image, mask)
    return _gradient(image_c, mask_c)


def _gradient(image_c: np.ndarray, mask_c: np.ndarray) -> dict[str, float]:
    """:func:`gradient_features` of a validated ROI crop."""
    features = dict.fromkeys(_NAMES, np.nan)
    kernel = _kernels.compiled("squared_gradient_loop")
    if (
        kernel is not None
        and image_c.dtype == np.intp  # the working images: one compiled version
        and image_c.size
        and int(image_c.max()) - int(image_c.min()) < 2**15
    ):
        # The support's squared gradients straight into a compact int32 array:
        # the numbers (and order) of the numpy lines below.
        g2 = np.empty(image_c.size, dtype=np.int32)
        g2 = g2[: kernel(image_c, mask_c, g2)]
    else:
        g2, s = _squared_gradient_on_crop(image_c, mask_c)
        g2 = g2[s]
    n = g2.size
    if n == 0:
        warnings.warn(
            "gradient: no ROI pixel has its 4 neighbours (left, right, up, down) "
            "inside the ROI and the image; every gradient feature is NaN",
            DegenerateROIWarning,
            stacklevel=2,
        )
        return features
    features["GrNonZeros"] = int(np.count_nonzero(g2)) / n
    g = np.sqrt(g2, dtype=np.float64)
    mean = float(g.sum()) / n
    d = g - mean
    d2 = d * d
    var = float(d2.sum()) / n
    # Exact test on G**2 (integers for integer images): rounding noise in the
    # variance must not give a finite skewness for a gradient that is the same
    # everywhere.
    if g2.min() == g2.max() or not var > 0.0:
        features["GrMean"] = float(g[0])
        features["GrVariance"] = 0.0
        warnings.warn(
            "gradient: the absolute gradient is the same at every support pixel "
            f"({float(g[0]):g}, e.g. a constant ROI); GrSkewness and GrKurtosis "
            "are NaN",
            DegenerateROIWarning,
            stacklevel=2,
        )
        return features
    features["GrMean"] = mean
    features["GrVariance"] = var
    features["GrSkewness"] = dot(d2, d) / n / var**1.5
    features["GrKurtosis"] = dot(d2, d2) / n / (var * var) - 3.0
    return features
