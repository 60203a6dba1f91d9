"""Haar wavelet energies of a ROI, as MaZda 4.6 names them (``WavEn*_s-k``).

The decimated dyadic Haar pyramid is aligned to the origin of the original
image: the coefficient ``(m, n)`` of scale ``s`` summarises the ``2^s x 2^s``
block that covers rows ``[m 2^s, (m + 1) 2^s)`` and columns
``[n 2^s, (n + 1) 2^s)``. A coefficient counts for a ROI only when its whole
block lies inside the ROI, and the energy of a sub-band is the mean of its
squared valid coefficients.

Every coefficient is a signed sum of the four quadrant sums of its block, so
the pyramid is built by successive 2 x 2 block sums (strided slices, no Python
loop over pixels) on the ROI's bounding box only; a 512 x 512 image with a
small ROI costs what the ROI costs. PyWavelets computes the same coefficients
(``pywt.wavedec2(..., 'haar', mode='periodization')``) but only on a whole
array whose size is a multiple of ``2^S``; it has no notion of a ROI, of
block validity or of a grid that stays put when the caller passes a crop, and
it is an optional dependency, hence this small hand-written transform.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import numpy as np

from ceusradiomics.texture import _kernels
from ceusradiomics.texture._common import (
    MAX_SCALE,  # noqa: F401 (documented here with the scales)
    as_int,
    check_image,
    check_origin,
    check_scales,
    crop_roi,
)

__all__ = ["haar_decomposition", "wavelet_feature_names", "wavelet_features"]

#: Sub-band names in output order; first letter = filter along x (columns).
BANDS: tuple[str, ...] = ("LL", "LH", "HL", "HH")


def _align(values: np.ndarray, row0: int, col0: int) -> tuple[np.ndarray, int, int]:
    """Trim ``values`` to the complete blocks of the next coarser level.

    ``values[0, 0]`` is block ``(row0, col0)`` of the current level. Rows and
    columns that belong to no complete coarser block are dropped (a block cut
    by the array edge can never be valid), so that ``out[0::2]``/``out[1::2]``
    and ``[:, 0::2]``/``[:, 1::2]`` are the quadrants; the coarser block index
    of ``out``'s first 2 x 2 block is returned with it.
    """
    tr, tc = row0 & 1, col0 & 1
    h = (values.shape[0] - tr) // 2
    w = (values.shape[1] - tc) // 2
    out = values[tr : tr + 2 * h, tc : tc + 2 * w]
    return out, (row0 + tr) >> 1, (col0 + tc) >> 1


def wavelet_feature_names(scales: Iterable[int] = range(1, 9)) -> list[str]:
    """Names of the Haar wavelet energies, in output order.

    Parameters
    ----------
    scales : iterable of int, default=range(1, 9)
        Scales ``k`` (block size ``2^k``), strictly increasing, between 1
        and 16.

    Returns
    -------
    names : list of str
        ``WavEn{band}_s-{k}`` with the scale as the outer and the band
        (``LL, LH, HL, HH``) as the inner loop: 4 names per scale.

    Raises
    ------
    TypeError
        If ``scales`` is not an iterable of integers.
    ValueError
        If ``scales`` is empty, out of range or not strictly increasing.

    See Also
    --------
    wavelet_features : Computes the energies under these names.

    Examples
    --------
    >>> from ceusradiomics.texture.wavelet import wavelet_feature_names
    >>> wavelet_feature_names(scales=(5, 6))
    ['WavEnLL_s-5', 'WavEnLH_s-5', 'WavEnHL_s-5', 'WavEnHH_s-5', \
'WavEnLL_s-6', 'WavEnLH_s-6', 'WavEnHL_s-6', 'WavEnHH_s-6']
    """
    return list(_names(check_scales(scales)))


@functools.lru_cache(maxsize=64)
def _names(scales: tuple[int, ...]) -> tuple[str, ...]:
    """Feature names of validated ``scales``, cached: called once per ROI."""
    return tuple(f"WavEn{band}_s-{k}" for k in scales for band in BANDS)


def haar_decomposition(
    image: np.ndarray, scale: int, *, origin: tuple[int, int] = (0, 0)
) -> dict[str, np.ndarray]:
    """Orthonormal 2-D Haar coefficients of one scale on the image-aligned grid.

    The coefficient ``[i, j]`` of every returned band belongs to the block of
    size ``B = 2^s`` that covers rows ``[(m0 + i) B, (m0 + i + 1) B)`` and
    columns ``[(n0 + j) B, (n0 + j + 1) B)`` of the *original* image, where
    ``(m0, n0) = (ceil(row0 / B), ceil(col0 / B))`` is the first block that
    starts inside ``image`` and ``(row0, col0) = origin``. Only complete
    blocks are returned (no padding, no periodic extension).

    Parameters
    ----------
    image : (M, N) array_like of real numbers
        Grey levels; ``image[0, 0]`` sits at ``origin`` in the original image.
    scale : int
        Scale ``s`` between 1 and 16 (block size ``2^s``).
    origin : tuple of int, default=(0, 0)
        Position ``(row0, col0)`` of ``image[0, 0]`` in the original image,
        so that a crop keeps the original block grid.

    Returns
    -------
    bands : dict of str to ndarray of float64
        ``"LL"``, ``"LH"``, ``"HL"``, ``"HH"``, each of shape
        ``(floor((row0 + M) / B) - m0, floor((col0 + N) / B) - n0)``
        (empty when no complete block fits).

    Raises
    ------
    TypeError
        If ``image`` is not real-valued or ``scale``/``origin`` not integers.
    ValueError
        If ``image`` is not 2-D or not finite, ``scale`` is outside 1..16 or
        ``origin`` is negative or not a pair.

    See Also
    --------
    wavelet_features : Energies of these coefficients over a ROI.
    pywt.wavedec2 : The same coefficients on a whole, periodised array.

    Notes
    -----
    With the quadrant means :math:`a` (top-left), :math:`b` (top-right),
    :math:`c` (bottom-left) and :math:`d` (bottom-right) of a block,

    .. math::

        LL &= 2^{s-2}(a + b + c + d), \\quad
        HL = 2^{s-2}\\bigl((a + c) - (b + d)\\bigr), \\\\
        LH &= 2^{s-2}\\bigl((a + b) - (c + d)\\bigr), \\quad
        HH = 2^{s-2}\\bigl((a + d) - (b + c)\\bigr).

    Band letters are "xy": the first letter is the filter along x (columns),
    the second along y (rows). So ``HL`` is high-pass along x (it responds to
    intensity that varies from column to column, e.g. vertical stripes) and
    equals PyWavelets' ``cV``; ``LH`` equals ``cH`` and ``HH`` equals ``cD``.
    Values and signs match ``pywt.wavedec2(image, 'haar', level=S,
    mode='periodization')`` exactly for ``origin=(0, 0)`` and an image whose
    sides are multiples of ``2^S``. The sign convention is PyWavelets'; the
    energies of :func:`wavelet_features` do not depend on it.

    References
    ----------
    .. [1] S. G. Mallat, "A theory for multiresolution signal decomposition:
           the wavelet representation", IEEE Trans. Pattern Anal. Mach.
           Intell. 11(7), 674-693, 1989. :doi:`10.1109/34.192463`
    .. [2] G. R. Lee, R. Gommers, F. Wasilewski, K. Wohlfahrt, A. O'Leary,
           "PyWavelets: A Python package for wavelet analysis", J. Open
           Source Softw. 4(36), 1237, 2019. :doi:`10.21105/joss.01237`

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.texture.wavelet import haar_decomposition
    >>> image = np.array([[1, 2], [3, 5]])
    >>> {band: float(c[0, 0]) for band, c in haar_decomposition(image, 1).items()}
    {'LL': 5.5, 'LH': -2.5, 'HL': -1.5, 'HH': 0.5}
    """
    image = check_image(image)
    (scale,) = check_scales((as_int(scale, "scale must be an integer"),))
    row0, col0 = check_origin(origin)
    values = image.astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError("image must contain only finite values; found NaN or inf")
    for _ in range(scale):
        values, row0, col0 = _align(values, row0, col0)
        top, bottom = values[0::2], values[1::2]
        plus = top + bottom  # columns alternate a + c, b + d
        values = plus[:, 0::2] + plus[:, 1::2]
    minus = top - bottom  # columns alternate a - c, b - d
    # A coefficient is the signed combination of its quadrant sums / 2^s.
    norm = 2.0**-scale
    return {
        "LL": values * norm,
        "LH": (minus[:, 0::2] + minus[:, 1::2]) * norm,
        "HL": (plus[:, 0::2] - plus[:, 1::2]) * norm,
        "HH": (minus[:, 0::2] - minus[:, 1::2]) * norm,
    }


def wavelet_features(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    scales: Iterable[int] = range(1, 9),
    origin: tuple[int, int] = (0, 0),
) -> dict[str, float]:
    """Haar wavelet energies of a ROI (MaZda ``WavEn{band}_s-{k}``).

    For every scale ``k`` the orthonormal Haar coefficients of
    :func:`haar_decomposition` are taken on the decimated grid of
    ``2^k x 2^k`` blocks aligned to the original image origin; a coefficient
    is valid when its whole block lies inside the ROI, and the energy of a
    band is the mean of its squared valid coefficients.

    Parameters
    ----------
    image : (M, N) array_like of real numbers
        Working grey levels (the caller normalises/quantises). Pixels outside
        the ROI are never read for the result and may hold any value.
    mask : (M, N) array_like of bool
        ROI, nonzero = inside. Must contain at least one pixel.
    scales : iterable of int, default=range(1, 9)
        Scales ``k`` (block size ``2^k``), strictly increasing, 1 to 16.
    origin : tuple of int, default=(0, 0)
        Position ``(row0, col0)`` of ``image[0, 0]`` in the original image.
        Pass the crop offset when ``image``/``mask`` are a crop, so the
        block grid (and every energy) stays that of the full image.

    Returns
    -------
    features : dict of str to float
        Keys :func:`wavelet_feature_names` ``(scales)`` in that order. The
        four energies of scale ``k`` are NaN when no aligned ``2^k`` block
        fits inside the ROI.

    Raises
    ------
    TypeError
        If ``image`` is not real-valued, or ``scales``/``origin`` do not hold
        integers.
    ValueError
        If ``image`` is not 2-D, shapes differ, the mask is empty, a ROI
        pixel is not finite, or ``scales``/``origin`` are out of range.

    See Also
    --------
    haar_decomposition : The coefficients themselves.
    wavelet_feature_names : The keys, without computing anything.

    Notes
    -----
    With :math:`V_k` the set of valid block positions at scale :math:`k`
    and :math:`w^{XY}_k(m, n)` the coefficient of band :math:`XY`
    (formulas in :func:`haar_decomposition`),

    .. math::

        \\mathrm{WavEn}XY\\_s\\text{-}k = \\frac{1}{|V_k|}
        \\sum_{(m, n) \\in V_k} w^{XY}_k(m, n)^2 .

    A constant ROI of value :math:`g` gives :math:`LL = (2^k g)^2` and zero
    details. A scale needs at least one aligned :math:`2^k` block inside the
    ROI, i.e. a ROI between :math:`2^k` and :math:`2^{k+1} - 1` pixels across
    depending on where it sits on the grid. Where none fits the scale is
    reported as NaN *without* a warning: large scales are routinely not
    computable for small lesions, it is expected rather than degenerate, and
    a warning per ROI and scale would drown real ones.

    Band letters are "xy" (``HL`` = high-pass along x = PyWavelets ``cV``);
    the grid is the decimated pyramid aligned to the image origin, not to the
    ROI, so moving a ROI by a number of pixels that is not a multiple of
    ``2^k`` changes the scale-``k`` energies in general.

    References
    ----------
    .. [1] P. M. Szczypinski, M. Strzelecki, A. Materka, A. Klepaczko,
           "MaZda - A software package for image texture analysis", Comput.
           Methods Programs Biomed. 94(1), 66-76, 2009.
           :doi:`10.1016/j.cmpb.2008.08.005`
    .. [2] S. G. Mallat, "A theory for multiresolution signal decomposition:
           the wavelet representation", IEEE Trans. Pattern Anal. Mach.
           Intell. 11(7), 674-693, 1989. :doi:`10.1109/34.192463`

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.texture.wavelet import wavelet_features
    >>> image = np.tile([0, 0, 4, 4], (8, 2))  # vertical stripes, period 4
    >>> mask = np.ones(image.shape, dtype=bool)
    >>> feats = wavelet_features(image, mask, scales=(1, 2, 4))
    >>> {k: round(float(v), 3) for k, v in feats.items() if k.endswith("s-2")}
    {'WavEnLL_s-2': 64.0, 'WavEnLH_s-2': 0.0, 'WavEnHL_s-2': 64.0, 'WavEnHH_s-2': 0.0}
    >>> bool(np.isnan(feats["WavEnHL_s-4"]))  # no 16 x 16 block in an 8 x 8 ROI
    True
    """
    scales = check_scales(scales)
    row0, col0 = check_origin(origin)
    image_c, mask_c, box = crop_roi(image, mask)
    return _wavelet(image_c, mask_c, scales, (row0 + box[0].start, col0 + box[1].start))


def _wavelet(
    image_c: np.ndarray,
    mask_c: np.ndarray,
    scales: tuple[int, ...],
    origin: tuple[int, int],
) -> dict[str, float]:
    """:func:`wavelet_features` of a validated ROI crop whose top-left pixel
    sits at `origin` of the image (the Haar grid's reference)."""
    # Blocks cut by the ROI bounding box are never valid, so the bounding box
    # is all that is needed; _align trims it to each level's grid.
    roi = mask_c
    values = image_c.astype(np.float64)
    if image_c.dtype.kind == "f":
        finite = np.isfinite(values)
        if not finite.all():
            # Outside values may be anything (the ROI's were checked); zero
            # them so no inf - inf (and its RuntimeWarning) ever occurs in
            # invalid blocks.
            values = np.where(finite, values, 0.0)

    kernel = _kernels.compiled("haar_energy_loop")
    if kernel is not None and (
        image_c.dtype.kind in "biu" or bool(np.all(values == np.rint(values)))
    ):
        # Whole grey levels: one compiled pass over the levels gives the same
        # integer sums of squares as the numpy code below (exact in any order).
        found, counts, sums = _haar_sums_compiled(kernel, values, roi, scales, origin)
    else:
        found, counts, sums = _haar_sums(values, roi, scales, origin)
    names = _names(scales)
    result = dict.fromkeys(names, math.nan)
    if found:
        levels = np.array(found)
        energies = sums / (np.array(counts) * 4.0**levels)
        for level, column in zip(found, energies.T.tolist(), strict=True):
            first = 4 * scales.index(level)
            result.update(zip(names[first : first + 4], column, strict=True))
    return result


def _haar_sums_compiled(kernel, values, roi, scales, origin):
    """:func:`_haar_sums` by the compiled loop (whole grey levels only)."""
    top = scales[-1]
    wanted = np.zeros(top + 1, dtype=np.bool_)
    wanted[list(scales)] = True
    block_counts = np.zeros(top + 1, dtype=np.int64)
    squares = np.zeros((top + 1, 4))
    kernel(values, roi, origin[0], origin[1], wanted, block_counts, squares)
    found = [k for k in scales if block_counts[k] > 0]
    return found, [int(block_counts[k]) for k in found], squares[found].T


def _haar_sums(values, roi, scales, origin):
    """The levels with a valid block, their block counts, and the sums over
    those blocks of the squared LL, LH, HL, HH quadrant sums (4 x levels)."""
    row0, col0 = origin
    wanted = set(scales)
    # Quadrant sums (a, b, c, d) of the valid blocks of every wanted level,
    # concatenated so that the energies take a handful of numpy calls in all.
    quads: list[np.ndarray] = []
    found: list[int] = []
    counts: list[int] = []
    valid = roi
    for level in range(1, scales[-1] + 1):
        # values and valid always share their grid position.
        values, _, _ = _align(values, row0, col0)
        valid, row0, col0 = _align(valid, row0, col0)
        # Row pairs, then column pairs, of strided views with contiguous rows:
        # several times faster than reshape(h, 2, w, 2) reductions.
        valid = valid[0::2] & valid[1::2]
        valid = valid[:, 0::2] & valid[:, 1::2]
        count = int(np.count_nonzero(valid))
        if count == 0:
            # Validity only shrinks with the scale: every coarser block holds
            # one of these, so nothing further can be valid either.
            break
        top, bottom = values[0::2], values[1::2]
        if level in wanted:
            quads.append(
                np.stack(
                    [
                        top[:, 0::2][valid],
                        top[:, 1::2][valid],
                        bottom[:, 0::2][valid],
                        bottom[:, 1::2][valid],
                    ]
                )
            )
            found.append(level)
            counts.append(count)
        plus = top + bottom
        values = plus[:, 0::2] + plus[:, 1::2]
    if not found:
        return found, counts, None
    a, b, c, d = np.concatenate(quads, axis=1)
    ac, bd, amc, bmd = a + c, b + d, a - c, b - d
    # LL, LH, HL, HH as signed quadrant sums (= coefficient * 2^k).
    coefs = np.stack([ac + bd, amc + bmd, ac - bd, amc - bmd])
    starts = np.cumsum([0, *counts[:-1]])
    return found, counts, np.add.reduceat(coefs * coefs, starts, axis=1)
