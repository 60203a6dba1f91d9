"""Grey-level normalisation and quantisation of a ROI (MaZda's working image).

MaZda computes every texture family on a *working image*: the grey levels of the
ROI mapped onto ``L = 2**bits`` integer levels after an optional normalisation of
their range. :func:`roi_intensity_range` gives the range ``[a, b]`` that a
normalisation maps onto the levels, :func:`quantize` applies it.

Both validate their input through :func:`~ceusradiomics.texture._common.crop_roi`;
:func:`_quantize_crop` is the same map on an already validated ROI crop, for
:func:`~ceusradiomics.texture.texture_features` and the extractors.
"""

from __future__ import annotations

import numpy as np

from ceusradiomics.texture._common import (
    NORMALIZATIONS,
    check_bits,
    check_normalization,
    crop_roi,
    dot,
)

__all__ = ["NORMALIZATIONS", "quantize", "roi_intensity_range"]


# --------------------------------------------------------------------------
# the normalisation range
# --------------------------------------------------------------------------


def _native_bits(dtype: np.dtype, values: np.ndarray) -> int:
    """Native bit depth B of an integer image for ``normalization="none"``."""
    if dtype.kind == "f":
        raise ValueError(
            'normalization="none" needs integer grey levels (it maps the native '
            f"range [0, 2**B) of the dtype); got a {dtype} image. Use "
            'normalization="minmax", "3sigma" or "1-99" for floating-point images.'
        )
    vmin, vmax = int(values.min()), int(values.max())
    if vmin < 0:
        raise ValueError(
            'normalization="none" needs non-negative grey levels; the ROI holds '
            f"{vmin}. Use normalization='minmax', '3sigma' or '1-99' instead."
        )
    if dtype.itemsize == 1:
        return 8
    if dtype.itemsize == 2:
        return 16
    # Wider integer dtypes carry no bit depth of their own: take the smallest of
    # MaZda's native depths (8 or 16 bits) that holds the ROI values.
    if vmax < 2**8:
        return 8
    if vmax < 2**16:
        return 16
    raise ValueError(
        'normalization="none" supports 8- and 16-bit grey levels; the ROI of this '
        f"{dtype} image reaches {vmax} >= 2**16. Use normalization='minmax', "
        "'3sigma' or '1-99' instead."
    )


def _range_1_99(values: np.ndarray) -> tuple[float, float]:
    """Kociołek's 1 %-99 % rule on the cumulative histogram of the ROI values.

    With ``N`` values and ``m = N // 100``: ``a`` is the largest level whose
    cumulative count is ``< m`` and ``b`` the largest level whose cumulative
    count is ``<= N - m``. For integer images the levels are the integers from
    the ROI minimum to its maximum (so ``a = s[m-1] - 1``, ``b = s[N-m] - 1``
    for the sorted values ``s`` when ``m >= 1``); for floating-point images
    they are the distinct ROI values. When no level qualifies, the lowest level
    (the ROI minimum) is used, as Kociołek's code falls back to its first bin.
    """
    n = values.size
    m = n // 100
    if m == 0:
        # No pixel to discard (N < 100): the rule spans the whole histogram.
        return float(values.min()), float(values.max())
    if values.dtype.kind in "iu":
        vmin, vmax = int(values.min()), int(values.max())
        if vmax - vmin < 2**16:
            # k-th smallest value from the cumulative histogram (faster than a
            # partition of an image with many ties)
            counts = np.bincount(
                np.subtract(values, vmin, dtype=np.intp, casting="unsafe")
            )
            cumulative = np.cumsum(counts)
            s_lo, s_hi = vmin + np.searchsorted(cumulative, [m, n - m + 1])
        else:
            part = np.partition(values, [m - 1, n - m])
            s_lo, s_hi = int(part[m - 1]), int(part[n - m])
        return float(max(s_lo - 1, vmin)), float(max(s_hi - 1, vmin))
    s = np.sort(values)
    # largest distinct value strictly below s[k], or the minimum if none
    first = np.searchsorted(s, s[[m - 1, n - m]], side="left")
    a, b = (float(s[j - 1]) if j > 0 else float(s[0]) for j in first)
    return a, b


def roi_intensity_range(
    image: np.ndarray, mask: np.ndarray, normalization: str = "none"
) -> tuple[float, float]:
    """Grey-level range ``[a, b]`` that a normalisation maps onto the levels.

    Computed from the ROI pixels only (MaZda's normalisation options):

    - ``"none"`` (MaZda's default): the native range ``[0, 2**B]`` of the
      image's bit depth ``B``: 8 for ``uint8``/``int8``, 16 for
      ``uint16``/``int16``; other integer dtypes get 8 if the ROI maximum is
      below 256, else 16. Floating-point or negative grey levels are an error.
    - ``"3sigma"``: ``[mu - 3 sigma, mu + 3 sigma]``, ``mu`` and ``sigma`` the
      ROI mean and sample standard deviation (``ddof=1``; ``sigma = 0`` for a
      single pixel).
    - ``"1-99"``: the 1 % and 99 % points of the ROI's cumulative histogram by
      Kociołek's count rule: with ``N`` ROI pixels and ``m = floor(N / 100)``,
      ``a`` is the largest level whose cumulative count is below ``m`` and ``b``
      the largest level whose cumulative count is at most ``N - m``. Levels are
      the integers between the ROI minimum and maximum for integer images and
      the distinct ROI values for floating-point ones; when no level qualifies
      the ROI minimum is used, and ``N < 100`` (``m = 0``) gives the ROI range.
    - ``"minmax"``: the ROI minimum and maximum.

    Parameters
    ----------
    image : ndarray of shape (n_rows, n_cols)
        Grey levels, integer or floating point.
    mask : ndarray of shape (n_rows, n_cols)
        The ROI: nonzero (or True) inside. Must hold at least one pixel.
    normalization : {"none", "3sigma", "1-99", "minmax"}, default="none"
        The normalisation.

    Returns
    -------
    a, b : float
        The range; ``b <= a`` means the ROI is constant for this normalisation.

    Raises
    ------
    ValueError
        For an unknown ``normalization``, an empty mask, mismatched shapes,
        non-finite ROI values, or ``"none"`` on floating-point, negative or
        wider-than-16-bit grey levels.

    See Also
    --------
    quantize : Map the ROI onto ``2**bits`` levels using this range.

    References
    ----------
    .. [1] P. M. Szczypiński, M. Strzelecki, A. Materka, A. Klepaczko, "MaZda -
       A software package for image texture analysis", Computer Methods and
       Programs in Biomedicine 94(1), 66-76, 2009.
       :doi:`10.1016/j.cmpb.2008.08.005`
    .. [2] M. Kociołek, ``NormalizationLib.cpp`` (``NormParams1to99perc``), in
       github.com/marcinkociolek/ProjectsLib.

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.texture._quantize import roi_intensity_range
    >>> image = np.array([[10, 20, 30, 40],
    ...                   [50, 60, 70, 80],
    ...                   [90, 100, 110, 120],
    ...                   [130, 140, 150, 255]], dtype=np.uint8)
    >>> mask = np.ones((4, 4), bool)
    >>> mask[3, 3] = False
    >>> roi_intensity_range(image, mask)
    (0.0, 256.0)
    >>> roi_intensity_range(image, mask, "minmax")
    (10.0, 150.0)
    >>> a, b = roi_intensity_range(image, mask, "3sigma")
    >>> round(a, 2), round(b, 2)
    (-54.16, 214.16)
    """
    normalization = check_normalization(normalization)
    image_c, mask_c, _ = crop_roi(image, mask)
    return _range_from_values(image_c[mask_c], image_c.dtype, normalization)


def _range_from_values(
    values: np.ndarray, dtype: np.dtype, normalization: str
) -> tuple[float, float]:
    if normalization == "none":
        return 0.0, float(2 ** _native_bits(dtype, values))
    if normalization == "minmax":
        return float(values.min()), float(values.max())
    if normalization == "1-99":
        return _range_1_99(values)
    # "3sigma"
    x = values.astype(np.float64)
    mu = float(x.mean())
    d = x - mu
    # Sample SD (ddof=1) as in Kociołek's NormParamsMeanP3Std; a single pixel
    # has no spread, so sigma = 0 (a constant ROI) rather than 0/0.
    sigma = float(np.sqrt(dot(d, d) / (x.size - 1))) if x.size > 1 else 0.0
    return mu - 3.0 * sigma, mu + 3.0 * sigma


# --------------------------------------------------------------------------
# quantisation
# --------------------------------------------------------------------------


def quantize(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    normalization: str = "none",
    bits: int = 8,
) -> np.ndarray:
    """Map the ROI's grey levels onto ``L = 2**bits`` integer levels (MaZda).

    The range ``[a, b]`` comes from :func:`roi_intensity_range`; values are
    clipped to it and quantised by flooring:

    .. math::

        q = \\min\\left(L - 1,\\ \\max\\left(0,\\
            \\left\\lfloor \\frac{(v - a)\\, L}{b - a} \\right\\rfloor\\right)\\right)

    With ``normalization="none"`` and integer input (``a = 0``, ``b = 2**B``)
    this is exactly ``v >> (B - bits)``: MaZda's reduction of the number of bits
    by dropping the low-order ones. A constant ROI (``b <= a``) gives level 0
    everywhere; the families that need spread warn about it themselves.

    Parameters
    ----------
    image : ndarray of shape (n_rows, n_cols)
        Grey levels, integer or floating point (floating point needs a
        normalisation other than ``"none"``).
    mask : ndarray of shape (n_rows, n_cols)
        The ROI: nonzero (or True) inside. Must hold at least one pixel.
    normalization : {"none", "3sigma", "1-99", "minmax"}, default="none"
        How ``[a, b]`` is chosen; see :func:`roi_intensity_range`.
    bits : int, default=8
        Number of bits of the working image, 1 to 16.

    Returns
    -------
    levels : ndarray of intp, shape (n_rows, n_cols)
        Levels ``0 .. 2**bits - 1`` inside the ROI, 0 outside.

    Raises
    ------
    ValueError
        For ``bits`` outside 1..16, an unknown ``normalization`` or invalid
        ``(image, mask)``; see :func:`roi_intensity_range`.

    See Also
    --------
    roi_intensity_range : The range ``[a, b]``.

    References
    ----------
    .. [1] P. M. Szczypiński, M. Strzelecki, A. Materka, A. Klepaczko, "MaZda -
       A software package for image texture analysis", Computer Methods and
       Programs in Biomedicine 94(1), 66-76, 2009.
       :doi:`10.1016/j.cmpb.2008.08.005`

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.texture._quantize import quantize
    >>> image = np.array([[0, 31, 32, 63],
    ...                   [64, 127, 128, 191],
    ...                   [192, 224, 254, 255],
    ...                   [7, 8, 9, 250]], dtype=np.uint8)
    >>> mask = np.ones((4, 4), bool)
    >>> mask[3] = False
    >>> quantize(image, mask, bits=3)  # v >> 5
    array([[0, 0, 1, 1],
           [2, 3, 4, 5],
           [6, 7, 7, 7],
           [0, 0, 0, 0]])
    >>> quantize(image, mask, normalization="minmax", bits=2)
    array([[0, 0, 0, 0],
           [1, 1, 2, 2],
           [3, 3, 3, 3],
           [0, 0, 0, 0]])
    """
    normalization = check_normalization(normalization)
    bits = check_bits(bits)
    image_c, mask_c, box = crop_roi(image, mask)
    levels = _quantize_crop(image_c, mask_c, normalization, bits)
    if levels.shape == np.shape(image):  # the ROI spans the image
        return levels
    out = np.zeros(np.shape(image), np.intp)
    out[box] = levels
    return out


def _quantize_crop(
    image_c: np.ndarray, mask_c: np.ndarray, normalization: str, bits: int
) -> np.ndarray:
    """:func:`quantize` of a validated ROI crop; the levels of the crop."""
    return _quantize_crops(image_c, mask_c, normalization, (bits,))[bits]


def _quantize_crops(
    image_c: np.ndarray,
    mask_c: np.ndarray,
    normalization: str,
    depths: tuple[int, ...],
) -> dict[int, np.ndarray]:
    """:func:`_quantize_crop` at several bit depths, keyed by depth.

    The ROI's values, native depth or grey-level range are found once for all
    depths (the texture families use two: 6 and 8 bits by default).
    """
    values = image_c[mask_c]
    if normalization == "none":
        native = _native_bits(image_c.dtype, values)
        # Exact integer arithmetic: floor(v * 2**bits / 2**B) is a bit shift.
        w = image_c.astype(np.intp)
        w[~mask_c] = 0
        # At the native depth the levels are the values (no copy); the
        # families only read their working images.
        return {
            bits: w
            if bits == native
            else (w >> (native - bits) if native > bits else w << (bits - native))
            for bits in depths
        }
    a, b = _range_from_values(values, image_c.dtype, normalization)
    if not b > a:
        return {bits: np.zeros(mask_c.shape, np.intp) for bits in depths}
    # Work on the whole crop; pixels outside the ROI (possibly NaN) are set to
    # a first, so they come out as level 0 without warnings.
    v = np.where(mask_c, image_c, a).astype(np.float64, copy=False)
    np.clip(v, a, b, out=v)
    v -= a
    out = {}
    for bits in depths:
        n_levels = 2**bits
        # (v - a) * L is exact (L is a power of two), so the single rounding is
        # the division's and v == a + k (b - a) / L lands exactly on k.
        scaled = v * n_levels
        scaled /= b - a
        levels = np.floor(scaled, out=scaled).astype(np.intp)
        np.clip(levels, 0, n_levels - 1, out=levels)
        out[bits] = levels
    return out
