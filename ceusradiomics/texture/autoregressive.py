r"""Autoregressive-model features of a ROI (MaZda 4.6 "AR model", 5 features).

A causal 2-D autoregressive model predicts each standardised grey level from its
four "past" neighbours in raster order (left, upper-left, upper, upper-right);
MaZda reports the four model parameters and the standard deviation of the
prediction error.
"""

from __future__ import annotations

import warnings

import numpy as np

from ceusradiomics.exceptions import DegenerateROIWarning
from ceusradiomics.texture import _kernels
from ceusradiomics.texture._common import crop_roi, dot

__all__ = ["autoregressive_feature_names", "autoregressive_features"]

_NAMES: tuple[str, ...] = ("Teta1", "Teta2", "Teta3", "Teta4", "Sigma")

#: (dr, dc) of the neighbours weighted by Teta1..Teta4.
_NEIGHBOURS: tuple[tuple[int, int], ...] = ((0, -1), (-1, -1), (-1, 0), (-1, 1))

# Fewer usable pixels than this leave at most 4 equations for 4 unknowns: an
# exact fit with no residual to estimate Sigma from.
_MIN_EQUATIONS = 5

# Relative singular-value cut-off of the 4x4 normal matrix A = X^T X. Its
# condition number is cond(X)**2, so 1e-10 flags designs whose neighbour columns
# are collinear to within about 1e-5 (a linear ramp, a periodic pattern that
# makes two neighbours equal), where theta is not identified.
_RCOND = 1e-10


def autoregressive_feature_names() -> list[str]:
    """Names of the AR features, in the order of :func:`autoregressive_features`.

    Returns
    -------
    list of str
        ``Teta1, Teta2, Teta3, Teta4, Sigma``.

    Examples
    --------
    >>> from ceusradiomics.texture.autoregressive import autoregressive_feature_names
    >>> autoregressive_feature_names()
    ['Teta1', 'Teta2', 'Teta3', 'Teta4', 'Sigma']
    """
    return list(_NAMES)


def autoregressive_features(image: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    r"""Causal autoregressive-model features of the ROI (MaZda 4.6).

    The grey levels are standardised over the ROI,
    :math:`z = (I - \mu) / \sigma` with the ROI mean :math:`\mu` and population
    standard deviation :math:`\sigma` (``ddof=0``), and the model

    .. math::

        z(r, c) = \theta_1 z(r, c-1) + \theta_2 z(r-1, c-1)
                + \theta_3 z(r-1, c) + \theta_4 z(r-1, c+1) + e(r, c)

    is fitted by ordinary least squares without intercept over the :math:`n`
    ROI pixels whose four model neighbours are also in the ROI (and in the
    image). ``Teta1..Teta4`` are :math:`\theta_1..\theta_4` and
    :math:`\mathrm{Sigma} = \sqrt{\frac{1}{n}\sum e^2}`, the root mean square
    of the residuals over the same pixels.

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
        Keyed by :func:`autoregressive_feature_names`, in that order.

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
        Every feature is NaN for a constant ROI (:math:`z` undefined), fewer
        than 5 usable pixels, or collinear neighbours (singular normal
        equations).

    Notes
    -----
    The fit calls :func:`numpy.linalg.lstsq` on the 4x4 normal equations
    :math:`X^T X \theta = X^T y`, not on the :math:`n \times 4` design
    matrix: the SVD of the whole design costs about 0.5 ms for a ROI of
    10^4 pixels, twice the whole budget of this family, while the Gram matrix
    takes 15 dot products and the 4x4 solve is negligible. Squaring the
    condition number is harmless for standardised textures (the tests agree
    with an SVD solution to 1e-8), and ``lstsq``'s rank, with a relative
    singular-value cut-off of 1e-10 on :math:`X^T X`, flags the collinear
    designs. :math:`\sum e^2` is taken as :math:`y^T y - \theta^T X^T y`,
    exact at the least-squares solution; rounding makes ``Sigma`` accurate to
    about 1e-8 in absolute terms.

    References
    ----------
    .. [1] A. Materka, M. Strzelecki, "Texture analysis methods - a review",
       COST B11 report, Technical University of Lodz, 1998.
    .. [2] P. M. Szczypiński, M. Strzelecki, A. Materka, A. Klepaczko, "MaZda -
       A software package for image texture analysis", Computer Methods and
       Programs in Biomedicine 94(1), 66-76, 2009.
       :doi:`10.1016/j.cmpb.2008.08.005`

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.texture.autoregressive import autoregressive_features
    >>> rng = np.random.default_rng(0)
    >>> image = rng.integers(0, 256, size=(32, 32))
    >>> image[:, 1:] += image[:, :-1] // 2  # correlate each pixel with its left
    >>> f = autoregressive_features(image, np.ones((32, 32), bool))
    >>> bool(f["Teta1"] > 0.3), bool(0 < f["Sigma"] < 1)
    (True, True)
    """
    image_c, mask_c, _ = crop_roi(image, mask)
    return _autoregressive(image_c, mask_c)


def _usable(mask_c: np.ndarray) -> np.ndarray:
    """The pixels that give an equation: their 4 causal neighbours are in the ROI.

    On the crop they lie in rows 1.. and columns 1..-2 (the crop border has a
    neighbour outside the ROI anyway).
    """
    m = mask_c
    usable = np.zeros_like(m)
    usable[1:, 1:-1] = (
        m[1:, 1:-1] & m[1:, :-2] & m[:-1, :-2] & m[:-1, 1:-1] & m[:-1, 2:]
    )
    return usable


def _centred(image_c: np.ndarray, mask_c: np.ndarray, shift: float) -> np.ndarray:
    """The crop minus ``shift`` in float64 (pixels outside the ROI: 0)."""
    if image_c.dtype.kind == "f":
        # Pixels outside the ROI may hold NaN/inf, and a 0 weight times NaN is
        # NaN: replace them by the shift first (they are never read otherwise).
        return np.subtract(np.where(mask_c, image_c, shift), shift, dtype=np.float64)
    return np.subtract(image_c, shift, dtype=np.float64)


def _autoregressive(image_c: np.ndarray, mask_c: np.ndarray) -> dict[str, float]:
    """:func:`autoregressive_features` of a validated ROI crop."""
    values = image_c[mask_c]
    features = dict.fromkeys(_NAMES, np.nan)
    x = values.astype(np.float64)
    mu = float(x.sum()) / x.size
    x -= mu
    var = dot(x, x) / x.size
    low, high = float(values.min()), float(values.max())
    if low == high or not var > 0.0:
        warnings.warn(
            "autoregressive: the ROI is constant (every pixel equals "
            f"{float(values.flat[0]):g}), so the standardised image is undefined; "
            "every AR feature is NaN",
            DegenerateROIWarning,
            stacklevel=2,
        )
        return features

    m = mask_c
    n_rows, n_cols = m.shape
    offsets = (0, *(dr * n_cols + dc for dr, dc in _NEIGHBOURS))
    # Centre only: theta is invariant to the common scale 1/sd of z, so the
    # Gram matrix of the centred values is divided by var once at the end.
    # Whole grey levels (every quantised image) are centred on the nearest
    # whole number, c = round(mu): the sums of products below are then sums of
    # whole numbers, exact in any order as long as they stay below 2**53
    # (n * reach**2, n the number of equations), and the fraction mu - c is
    # taken out afterwards. So the compiled loop and the numpy code (which sum
    # in different orders) give the same bits.
    shift = float(round(mu))  # half to even, as np.rint
    reach = max(high - shift, shift - low)
    integral = values.dtype.kind in "biu" or bool(np.all(values == np.rint(values)))
    kernel = _kernels.compiled("ar_gram_loop") if integral else None
    gram = np.zeros((5, 5))
    sums = np.zeros(5)
    usable = None
    if kernel is not None:
        # One compiled pass finds the equations and adds their 20 sums; they
        # are kept when the sums were exact (almost always).
        n = kernel(
            _centred(image_c, m, shift).reshape(-1),
            m.reshape(-1),
            n_rows,
            n_cols,
            np.array(offsets, dtype=np.int64),
            gram,
            sums,
        )
        whole = n * reach * reach <= 2.0**53
    else:
        usable = _usable(m)
        n = int(np.count_nonzero(usable))
        whole = integral and n * reach * reach <= 2.0**53
    if n < _MIN_EQUATIONS:
        warnings.warn(
            f"autoregressive: only {n} ROI pixel(s) have their 4 causal neighbours "
            f"(left, upper-left, upper, upper-right) in the ROI; at least "
            f"{_MIN_EQUATIONS} are needed to fit 4 parameters and Sigma; every AR "
            "feature is NaN",
            DegenerateROIWarning,
            stacklevel=2,
        )
        return features

    if kernel is None or not whole:
        if not whole:
            shift = mu
            gram[:] = 0.0
            sums[:] = 0.0
        if usable is None:
            usable = _usable(m)
        # Gram matrix of the design [pixel, Teta1..Teta4 neighbours] over the
        # usable pixels p, G[i, j] = sum_p c[p + o_i] c[p + o_j], with flat
        # offsets o_i in the (contiguous) crop, and the column sums s_i =
        # sum_p c[p + o_i]: each term a dot product of two contiguous slices,
        # one weighted by the usable mask. This avoids gathering an (n, 5)
        # design matrix; 15 dot products beat a BLAS gemm of that shape.
        flat = _centred(image_c, m, shift).reshape(-1)
        lo, hi = n_cols + 1, flat.size - 1  # every usable p has lo <= p < hi
        weight = usable.reshape(-1)[lo:hi].astype(np.float64)  # float*float: faster
        weighted = np.empty_like(weight)
        for i, oi in enumerate(offsets):
            np.multiply(weight, flat[lo + oi : hi + oi], out=weighted)
            if whole:
                sums[i] = weighted.sum()
            for j in range(i, 5):
                oj = offsets[j]
                gram[i, j] = gram[j, i] = dot(weighted, flat[lo + oj : hi + oj])
    if whole and mu != shift:
        # sum (c_i - d)(c_j - d) = G_ij - d (s_i + s_j) + n d**2 for d = mu - c.
        d = mu - shift
        gram = gram - d * (sums[:, None] + sums[None, :]) + n * d * d
    theta, _, rank, _ = np.linalg.lstsq(gram[1:, 1:], gram[1:, 0], rcond=_RCOND)
    if rank < 4:
        warnings.warn(
            "autoregressive: the 4 neighbour columns are collinear (singular "
            f"normal equations, rank {rank} < 4), e.g. a linear ramp; every AR "
            "feature is NaN",
            DegenerateROIWarning,
            stacklevel=2,
        )
        return features
    # Residual sum of squares without forming e: y'y - theta'X'y at the OLS
    # solution (X'X theta = X'y); clipped at 0 against rounding.
    rss = max(float(gram[0, 0] - theta @ gram[1:, 0]), 0.0)
    for name, value in zip(_NAMES[:4], theta, strict=True):
        features[name] = float(value)
    features["Sigma"] = float(np.sqrt(rss / n / var))
    return features
