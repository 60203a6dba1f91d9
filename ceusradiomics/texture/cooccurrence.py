"""Grey-level co-occurrence matrix (GLCM) and Haralick's features (MaZda 4.6).

MaZda computes the co-occurrence matrix of the working image (``levels``
grey levels, 6 bits by default) for four directions at distances
``d = 1..5`` and reports Haralick's first eleven features of each matrix,
220 values in all, named ``S(dx,dy)Feature``: ``S(1,0)AngScMom`` ...
``S(5,-5)DifEntrp``.

The public functions mirror scikit-image's ``graycomatrix``/``graycoprops``
split: :func:`co_occurrence_matrix` exposes the matrices,
:func:`haralick_features` computes the features of any stack of matrices and
:func:`co_occurrence_features` is the fast path used by the extractor.
"""

from __future__ import annotations

import functools
import numbers
import threading
import warnings
from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ceusradiomics.exceptions import DegenerateROIWarning
from ceusradiomics.texture import _kernels
from ceusradiomics.texture._common import check_distances, roi_levels

__all__ = [
    "HARALICK_FEATURES",
    "co_occurrence_feature_names",
    "co_occurrence_features",
    "co_occurrence_matrix",
    "glcm_offsets",
    "haralick_features",
]

#: Haralick's features f1-f11 under their MaZda names, in MaZda's order.
HARALICK_FEATURES: tuple[str, ...] = (
    "AngScMom",
    "Contrast",
    "Correlat",
    "SumOfSqs",
    "InvDfMom",
    "SumAverg",
    "SumVarnc",
    "SumEntrp",
    "Entropy",
    "DifVarnc",
    "DifEntrp",
)

# MaZda's four directions as (label template, row step, column step) for a unit
# distance; MaZda's x is the column and y the row (y down), so S(dx,dy) pairs
# pixel (r, c) with (r + dy, c + dx).
_DIRECTIONS: tuple[tuple[str, int, int], ...] = (
    ("S({d},0)", 0, 1),
    ("S(0,{d})", 1, 0),
    ("S({d},{d})", 1, 1),
    ("S({d},-{d})", -1, 1),
)

# The matrices grow as levels**2 per offset: at 8 bits the 20 padded count
# matrices take about 20 MB; beyond that memory, not the ROI, sets the cost.
_MAX_LEVELS = 256


def _check_offsets(offsets: Sequence) -> list[tuple[int, int]]:
    """Validate offsets: ``(dr, dc)`` pairs or :func:`glcm_offsets` triples."""
    try:
        items = list(offsets)
    except TypeError:
        raise TypeError(
            f"offsets must be a sequence of (dr, dc) integer pairs; got {offsets!r}"
        ) from None
    out = []
    for item in items:
        try:  # a tuple, a list or a row of an (n, 2) array
            step = () if isinstance(item, (str, bytes)) else tuple(item)
        except TypeError:
            step = ()
        if len(step) == 3 and isinstance(step[0], str):
            step = step[1:]  # a (label, dr, dc) triple from glcm_offsets
        if len(step) != 2 or any(
            not isinstance(s, numbers.Integral) or isinstance(s, bool) for s in step
        ):
            raise ValueError(
                f"offsets must be a non-empty sequence of (dr, dc) integer pairs; "
                f"got the entry {item!r}"
            )
        out.append((int(step[0]), int(step[1])))
    if not out:
        raise ValueError(
            "offsets must be a non-empty sequence of (dr, dc) pairs; got []"
        )
    return out


# --------------------------------------------------------------------------
# names and offsets
# --------------------------------------------------------------------------


def glcm_offsets(
    distances: Sequence[int] = (1, 2, 3, 4, 5),
) -> list[tuple[str, int, int]]:
    """MaZda's co-occurrence offsets: labels and ``(dr, dc)`` steps in MaZda order.

    For every distance ``d`` (outer loop, in the given order) the four
    directions ``S(d,0)``, ``S(0,d)``, ``S(d,d)``, ``S(d,-d)`` (inner loop).
    MaZda's ``S(dx,dy)`` pairs pixel ``(r, c)`` with ``(r + dy, c + dx)``
    (``x`` = column, ``y`` = row, row 0 at the top), so the steps are:

    =========== ========== ================
    label       (dr, dc)   on screen
    =========== ========== ================
    ``S(d,0)``  (0, +d)    horizontal
    ``S(0,d)``  (+d, 0)    vertical
    ``S(d,d)``  (+d, +d)   diagonal ``"\\"``
    ``S(d,-d)`` (-d, +d)   diagonal ``"/"``
    =========== ========== ================

    Parameters
    ----------
    distances : sequence of int, default=(1, 2, 3, 4, 5)
        Unique positive pixel distances.

    Returns
    -------
    offsets : list of (str, int, int)
        ``(label, dr, dc)`` for each offset.

    Raises
    ------
    TypeError
        If ``distances`` is not a sequence.
    ValueError
        If ``distances`` is empty or holds non-positive or repeated values.

    Examples
    --------
    >>> from ceusradiomics.texture.cooccurrence import glcm_offsets
    >>> offsets = glcm_offsets((1, 2))
    >>> offsets[:2]
    [('S(1,0)', 0, 1), ('S(0,1)', 1, 0)]
    >>> offsets[2:4]
    [('S(1,1)', 1, 1), ('S(1,-1)', -1, 1)]
    >>> offsets[7], len(glcm_offsets())
    (('S(2,-2)', -2, 2), 20)
    """
    return [
        (label.format(d=d), d * dr, d * dc)
        for d in check_distances(distances)
        for label, dr, dc in _DIRECTIONS
    ]


def co_occurrence_feature_names(
    distances: Sequence[int] = (1, 2, 3, 4, 5),
) -> list[str]:
    """Names of the co-occurrence features, in the order of the computed dict.

    Offset-major: all eleven features of ``S(1,0)``, then of ``S(0,1)``, and so
    on in the order of :func:`glcm_offsets`; within an offset the order of
    :data:`HARALICK_FEATURES`.

    Parameters
    ----------
    distances : sequence of int, default=(1, 2, 3, 4, 5)
        Unique positive pixel distances.

    Returns
    -------
    names : list of str
        ``11 * 4 * len(distances)`` names (220 by default).

    Examples
    --------
    >>> from ceusradiomics.texture.cooccurrence import co_occurrence_feature_names
    >>> names = co_occurrence_feature_names()
    >>> len(names), names[0], names[12], names[-1]
    (220, 'S(1,0)AngScMom', 'S(0,1)Contrast', 'S(5,-5)DifEntrp')
    """
    return list(_layout(check_distances(distances))[2])


@functools.lru_cache(maxsize=16)
@functools.cache
def _layout(distances: tuple[int, ...]) -> tuple[tuple, tuple, tuple]:
    """Offset labels, ``(dr, dc)`` steps and feature names for ``distances``."""
    offsets = glcm_offsets(distances)
    labels = tuple(label for label, _, _ in offsets)
    names = tuple(label + f for label in labels for f in HARALICK_FEATURES)
    return labels, tuple((dr, dc) for _, dr, dc in offsets), names


# --------------------------------------------------------------------------
# the matrices
# --------------------------------------------------------------------------


def _padded_counts(
    work: np.ndarray, mask: np.ndarray, steps: Sequence[tuple[int, int]], levels: int
) -> np.ndarray:
    """Non-symmetric pair counts of every offset in a padded layout.

    Returns ``Z`` of shape ``(n_offsets, (levels + 1) * 2 * levels)``, int64:
    row ``k`` viewed as ``(levels + 1, 2 * levels)`` holds the count matrix
    ``C[i, j]`` (pixel of level ``i``, partner of level ``j``) at
    ``[:levels, levels - 1 : 2 * levels - 1]`` and zeros elsewhere. The zero
    padding lets :func:`_haralick` read the sum and difference distributions as
    strided views without copying.
    """
    L = levels
    width = 2 * L
    size = (L + 1) * width
    if _kernels.compiled("glcm_counts_loop") is not None:
        counts, _ = _compiled_counts(work, mask, steps, L, width, L - 1, size, np.int64)
        return counts
    return _padded_counts_numpy(work, mask, steps, levels)


def _compiled_counts(work, mask, steps, levels, width, offset, size, dtype):
    """Pair counts by the compiled loop, ``C[i, j]`` at ``i * width + offset + j``.

    Returns ``(n_offsets, size)`` of ``dtype``: the padded layout of
    :func:`_padded_counts` (``width = 2L, offset = L - 1``) or plain
    ``(L, L)`` matrices (``width = L, offset = 0``, a quarter of the memory);
    and the levels present in the ROI, ascending.
    """
    h, w = work.shape
    pad = max(abs(dc) for _, dc in steps)
    stride = w + pad
    # Rows of `stride` with -1 outside the ROI, and a margin of -1 before and
    # after, so that every partner index is in bounds.
    shifts = np.array([dr * stride + dc for dr, dc in steps], dtype=np.int64)
    margin = int(np.abs(shifts).max())
    flat = np.empty(h * stride + 2 * margin, dtype=np.int32)
    roi = np.empty(h * w, dtype=np.int64)
    roi = roi[
        : _kernels.compiled("glcm_layout_loop")(work, mask, stride, margin, flat, roi)
    ]
    counts = np.zeros((len(steps), size), dtype=dtype)
    seen = np.zeros(levels, dtype=bool)
    _kernels.compiled("glcm_counts_loop")(
        flat, roi, shifts, width, offset, counts, seen
    )
    return counts, np.flatnonzero(seen)


def _padded_counts_numpy(
    work: np.ndarray, mask: np.ndarray, steps: Sequence[tuple[int, int]], levels: int
) -> np.ndarray:
    """:func:`_padded_counts` with numpy only (a ``np.bincount`` per offset)."""
    L = levels
    width = 2 * L
    size = (L + 1) * width
    h, w = work.shape
    pad = max(abs(dc) for _, dc in steps)
    # Outside pixels get a code >= size, so every pair that touches one falls
    # beyond the first `size` bins and is dropped: both pixels must be in the
    # ROI. The `pad` outside columns on the right stop a step from wrapping
    # around to the next or previous row of the flattened image.
    first = np.full((h, w + pad), size, dtype=np.intp)
    second = np.full((h, w + pad), size, dtype=np.intp)
    first[:, :w] = np.where(mask, work * width + (L - 1), size)
    second[:, :w] = np.where(mask, work, size)
    first = first.reshape(-1)
    second = second.reshape(-1)
    n_flat = first.size
    stride = w + pad
    counts = np.empty((len(steps), size), dtype=np.int64)
    for k, (dr, dc) in enumerate(steps):
        shift = dr * stride + dc
        if abs(shift) >= n_flat:
            counts[k] = 0
            continue
        if shift >= 0:
            codes = first[: n_flat - shift] + second[shift:]
        else:
            codes = first[-shift:] + second[: n_flat + shift]
        counts[k] = np.bincount(codes, minlength=size)[:size]
    return counts


def _compact(counts: np.ndarray, levels: int) -> np.ndarray:
    """View of the ``(n, levels, levels)`` count matrices inside the padding."""
    L = levels
    return counts.reshape(-1, L + 1, 2 * L)[:, :L, L - 1 : 2 * L - 1]


def co_occurrence_matrix(
    image: np.ndarray,
    mask: np.ndarray,
    offsets: Sequence[tuple[int, int]],
    levels: int,
    *,
    symmetric: bool = True,
    normed: bool = True,
) -> np.ndarray:
    r"""Grey-level co-occurrence matrices of a ROI for a list of offsets.

    For the offset :math:`(\Delta r, \Delta c)`, :math:`C(i, j)` counts the
    pixel pairs :math:`(r, c)`, :math:`(r + \Delta r, c + \Delta c)` with grey
    levels :math:`i` and :math:`j` whose two pixels both lie inside the image
    and inside the ROI. The symmetric matrix is :math:`C + C^\top` (each pair
    counted in both orders, Haralick's definition), and the normalised one is
    divided by its sum.

    Parameters
    ----------
    image : ndarray of shape (n_rows, n_cols)
        Working image: integer grey levels ``0 .. levels - 1`` inside the ROI
        (integer dtype, or floats holding integers), e.g. from
        :func:`~ceusradiomics.texture._quantize.quantize`.
    mask : ndarray of shape (n_rows, n_cols)
        The ROI: nonzero (or True) inside. Pixels outside it are never read.
    offsets : sequence of (int, int)
        ``(dr, dc)`` steps: pixel ``(r, c)`` is paired with
        ``(r + dr, c + dc)``. The ``(label, dr, dc)`` triples of
        :func:`glcm_offsets` are accepted as well.
    levels : int
        Number of grey levels ``L`` (at most 256).
    symmetric : bool, default=True
        Count each pair in both orders (:math:`C + C^\top`).
    normed : bool, default=True
        Divide each matrix by its sum. A matrix without any pair stays all
        zeros (not NaN).

    Returns
    -------
    P : ndarray of shape (levels, levels, n_offsets)
        ``P[i, j, k]``: the matrix of offset ``k``, with the same layout as
        scikit-image's ``graycomatrix`` for one distance. int64 counts when
        ``normed=False``, float64 otherwise.

    Raises
    ------
    TypeError
        If ``image`` is not numeric or ``levels`` is not an integer.
    ValueError
        If ``image`` is not 2-D, ``mask`` has another shape or is empty, a ROI
        value is not an integer in ``0 .. levels - 1``, or ``offsets`` is
        malformed.

    See Also
    --------
    glcm_offsets : MaZda's offsets.
    haralick_features : the features of these matrices.
    skimage.feature.graycomatrix : the same counts for a full image (no ROI).

    References
    ----------
    .. [1] R. M. Haralick, K. Shanmugam, I. Dinstein, "Textural features for
       image classification", IEEE Transactions on Systems, Man, and
       Cybernetics SMC-3(6), 610-621, 1973. :doi:`10.1109/TSMC.1973.4309314`

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.texture.cooccurrence import co_occurrence_matrix
    >>> image = np.array([[0, 0, 1, 1],
    ...                   [0, 0, 1, 1],
    ...                   [0, 2, 2, 2],
    ...                   [2, 2, 3, 3]])
    >>> mask = np.ones((4, 4), bool)
    >>> P = co_occurrence_matrix(image, mask, [(0, 1)], 4, normed=False)
    >>> P[:, :, 0]
    array([[4, 2, 1, 0],
           [2, 4, 0, 0],
           [1, 0, 6, 1],
           [0, 0, 1, 2]])
    >>> P = co_occurrence_matrix(image, mask, [(0, 1)], 4, symmetric=False)
    >>> float(P.sum()), round(float(P[0, 0, 0]), 4)  # 2 of 12 pairs
    (1.0, 0.1667)
    """
    steps = _check_offsets(offsets)
    work, mask_c, levels = roi_levels(image, mask, levels, _MAX_LEVELS)
    counts = _padded_counts(work, mask_c, steps, levels)
    C = _compact(counts, levels)
    P = C + C.transpose(0, 2, 1) if symmetric else C.copy()
    if normed:
        totals = P.sum(axis=(1, 2), dtype=np.float64)[:, None, None]
        P = np.divide(P, totals, out=np.zeros(P.shape), where=totals > 0)
    return np.ascontiguousarray(np.moveaxis(P, 0, -1))


# --------------------------------------------------------------------------
# the features
# --------------------------------------------------------------------------


# Logarithms of whole numbers (counts), shared by both code paths: computed by
# numpy in fixed blocks (so that a value never depends on how far the table has
# grown) and kept, so that a ROI takes no logarithm at all: numba's and numpy's
# log10 may differ in the last bit, and numpy's vectorised one, called for
# every ROI, slowed the rest of the extraction measurably. Counts above the
# cap (ROIs of half a million pixels and more) take numpy's log10 directly.
_LOG10_BLOCK = 4096
_LOG10_CAP = 1 << 20  # 8 MB
_log10_cache = np.zeros(0)
_log10_lock = threading.Lock()


def _log10_table(top: int) -> np.ndarray | None:
    """``log10(v)`` for ``v = 0 .. >= top`` (0 for ``v = 0``), or None above the cap."""
    global _log10_cache
    table = _log10_cache
    if table.size > top:
        return table
    if top >= _LOG10_CAP:
        return None
    with _log10_lock:
        table = _log10_cache
        if table.size <= top:
            size = max(2 * table.size, -(-(top + 1) // _LOG10_BLOCK) * _LOG10_BLOCK)
            grown = np.empty(size)
            grown[: table.size] = table
            with np.errstate(divide="ignore"):
                for start in range(table.size, size, _LOG10_BLOCK):
                    block = np.arange(start, start + _LOG10_BLOCK, dtype=np.float64)
                    grown[start : start + _LOG10_BLOCK] = np.log10(block)
            grown[0] = 0.0
            grown.flags.writeable = False
            _log10_cache = table = grown
    return table


def _log10_counts(values: np.ndarray, table: np.ndarray | None) -> np.ndarray:
    """``log10`` of non-negative counts (or numbers), 0 where they are 0."""
    if table is not None:
        return table.take(values)
    logs = np.zeros(values.shape)
    np.log10(values, out=logs, where=values > 0)
    return logs


def _tally_cells(top: int, levels: int) -> bool:
    """Whether the cell entropy of matrices with counts ``<= top`` uses a tally.

    One rule for both code paths (so both take the same branch): a tally of
    ``top + 1`` values when that is fewer than the cells, else one term per
    cell (a large uniform ROI has few cells with huge counts).
    """
    return top < levels * levels


def _tally_numpy(S: np.ndarray, top: int) -> np.ndarray:
    """``cells[k, v]``: the number of cells of ``S[k]`` holding ``2 <= v <= top``."""
    n = S.shape[0]
    codes = S.reshape(n, -1) + (np.arange(n) * (top + 1))[:, None]
    cells = np.bincount(codes.ravel(), minlength=n * (top + 1)).reshape(n, top + 1)
    cells[:, :2] = 0  # v log v = 0: not counted, as the compiled loop
    return cells


def _xlogx_per_cell(S: np.ndarray) -> np.ndarray:
    """``sum(v * log10(v))`` over the cells of each matrix, with ``0 log 0 = 0``."""
    if S.dtype.kind in "iu":
        table = _log10_table(int(S.max(initial=0)))
        return (S * _log10_counts(S, table)).sum(axis=(-2, -1))
    return (S * _log10_counts(S, None)).sum(axis=(-2, -1))


@functools.lru_cache(maxsize=8)
def _level_vectors(levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Constant weights of the distributions stacked by :func:`_haralick_stage`.

    ``values`` (5, 2L - 1): the value of each column of the sum distribution
    (``i + j``, 1-based), the ``|i - j|`` distribution, the two marginals
    (1-based grey levels, as Haralick and MaZda) and the signed difference
    ``j - i``, zero beyond their length. ``dif_weights`` (2, L): ``k**2`` and
    ``1 / (1 + k**2)`` of ``|i - j| = k``, for Contrast and InvDfMom.
    """
    L = levels
    k = np.arange(float(L))
    values = np.zeros((5, 2 * L - 1))
    values[0] = np.arange(2.0, 2.0 * L + 1.0)
    values[1, :L] = k
    values[2, :L] = values[3, :L] = k + 1.0
    values[4] = np.arange(-(L - 1.0), L)
    dif_weights = np.stack([k * k, 1.0 / (1.0 + k * k)])
    for v in (values, dif_weights):
        v.flags.writeable = False
    return values, dif_weights


def _haralick(counts: np.ndarray, levels: int, symmetrize: bool) -> np.ndarray:
    """The 11 features of every matrix of a padded count stack.

    ``counts`` is ``(n, (L + 1) * 2L)`` as built by :func:`_padded_counts` (any
    non-negative numbers, not necessarily normalised). With ``symmetrize`` the
    features are those of ``C + C.T``. Returns ``(n, 11)`` in the order of
    :data:`HARALICK_FEATURES`; rows of matrices without any pair are NaN, and
    ``Correlat`` is NaN where a marginal has zero variance. No warning here.
    """
    L = levels
    counts = np.ascontiguousarray(counts)
    n, size = counts.shape
    item = counts.itemsize
    C = _compact(counts, L)
    # Sum and difference distributions as strided views on the padded rows:
    # row i shifted by i (resp. -i) lines up the anti-diagonals i + j = k
    # (resp. the diagonals j - i = k) in columns; the padding supplies zeros.
    # Reductions run in the input dtype (exact for integer counts, and much
    # faster than casting on the fly); only the small results become floats.
    by_sum = as_strided(
        counts[:, L - 1 :],
        shape=(n, L, 2 * L - 1),
        strides=(size * item, (2 * L - 1) * item, item),
        writeable=False,
    ).sum(axis=1)
    by_dif = as_strided(
        counts,
        shape=(n, L, 2 * L - 1),
        strides=(size * item, (2 * L + 1) * item, item),
        writeable=False,
    ).sum(axis=1)  # column L - 1 + (j - i)
    # The distributions, stacked as _haralick_stage takes them: sum, |i - j|,
    # the row marginal (and, not symmetric, the column one and j - i).
    dists = np.zeros((n, 3 if symmetrize else 5, 2 * L - 1), dtype=counts.dtype)
    dists[:, 0] = by_sum
    dists[:, 1, 0] = by_dif[:, L - 1]
    np.add(by_dif[:, L:], by_dif[:, L - 2 :: -1], out=dists[:, 1, 1:L])
    if symmetrize:
        S = C + C.transpose(0, 2, 1)
        dists[:, :2] *= 2
        dists[:, 2, :L] = S.sum(axis=2)
    else:
        S = C
        dists[:, 2, :L] = C.sum(axis=2)
        dists[:, 3, :L] = C.sum(axis=1)
        dists[:, 4] = by_dif
    squares = np.einsum("nij,nij->n", S, S)  # exact in int64 for counts
    # The cells' v log v: the rule and the code of _co_occurrence's compiled
    # path, whose cell values are bounded by 2 max(C) too.
    top = 2 * int(counts.max(initial=0))
    if counts.dtype.kind in "iu" and _tally_cells(top, L):
        return _haralick_stage(dists, squares, _tally_numpy(S, top), None, L)
    return _haralick_stage(dists, squares, None, _xlogx_per_cell(S), L)


def _haralick_stage(
    dists: np.ndarray,
    squares: np.ndarray,
    cells: np.ndarray | None,
    xlogx: np.ndarray | None,
    levels: int,
) -> np.ndarray:
    """The floating-point part of :func:`_haralick`: the features from sums.

    ``dists`` (n, 3 or 5, 2L - 1), not normalised: the sum distribution
    (``i + j``), the ``|i - j|`` distribution and the row marginal, zero
    beyond their length; for matrices that are not symmetric also the column
    marginal and the signed difference distribution (column ``L - 1 + j - i``).
    ``squares`` (n,): ``sum S**2``. The cells' ``sum S log10 S`` comes from
    the tally ``cells[k, v]`` (the number of cells holding ``v``) or, without
    a tally, is ``xlogx`` (n,). For a symmetric matrix the signed difference
    ``j - i`` has mean 0, so its variance is the contrast and ``Correlat = 1 -
    Contrast / (2 var_x)``.

    Both code paths come here with the same integers (numpy's from
    :func:`_haralick`, numba's from ``glcm_symmetric_histograms_loop``). The
    logarithms are looked up in the same table (:func:`_log10_table`); then
    the compiled ``haralick_stage_loop`` or :func:`_haralick_stage_numpy` does
    the same operations in the same order, so the features are bit-identical.
    """
    n = dists.shape[0]
    total = dists[:, 0].sum(axis=1)
    integer = dists.dtype.kind in "iu"
    table = _log10_table(int(total.max(initial=0))) if integer else None
    with np.errstate(divide="ignore"):  # no pair: NaN features anyway
        log_total = _log10_counts(total, table)
    logc = _log10_counts(dists[:, :2], table)
    total = total.astype(np.float64)
    if cells is None:
        cells = np.zeros((n, 0), dtype=np.int64)
        vlogv = np.zeros(0)
    else:
        v = np.arange(cells.shape[1])
        vlogv = v * _log10_counts(v, _log10_table(v.size - 1))
        xlogx = np.zeros(n)
    values, dif_weights = _level_vectors(levels)
    values = values[: dists.shape[1]]
    args = (dists, total, log_total, squares, cells, vlogv, xlogx, logc)
    kernel = _kernels.compiled("haralick_stage_loop")
    if kernel is None:
        return _haralick_stage_numpy(*args, values, dif_weights)
    out = np.empty((n, len(HARALICK_FEATURES)))
    kernel(*args, values, dif_weights, out)
    return out


def _ordered_sum(terms: np.ndarray) -> np.ndarray:
    """Sums over the last axis from the first term to the last, one at a time.

    ``cumsum`` is defined term by term (``s[i] = s[i - 1] + x[i]``), unlike
    ``sum`` (pairwise, with SIMD lanes): the order of the compiled loops.
    """
    return np.cumsum(terms, axis=-1)[..., -1]


def _haralick_stage_numpy(
    dists, total, log_total, squares, cells, vlogv, xlogx, logc, values, dif_weights
) -> np.ndarray:
    """The numpy twin of ``_kernels.haralick_stage_loop`` (see there)."""
    L = dif_weights.shape[1]
    empty = total == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        p = dists / total[:, None, None]
        # SumAverg, the mean |i - j|, mu_x (and mu_y, the mean of j - i).
        means = _ordered_sum(p * values)
        # SumEntrp and DifEntrp: -sum p log10 p, log10 p = log10 c - log10 N.
        entropies = -_ordered_sum(p[:, :2] * (logc - log_total[:, None, None]))
        if cells.shape[1]:
            xlogx = _ordered_sum(cells * vlogv)
        entropy = log_total - xlogx / total
        # Haralick's printed f7 centres on f8 (SumEntrp), as MaZda's manual.
        centres = means.copy()
        centres[:, 0] = entropies[:, 0]
        # SumVarnc, DifVarnc, var_x (and var_y, var(j - i)): centred sums only.
        spreads = _ordered_sum(p * np.square(values - centres[:, :, None]))
        contrast, idm = _ordered_sum(p[:, 1:2, :L] * dif_weights).T
        var_x = spreads[:, 2]
        if p.shape[1] == 3:
            correlat = np.where(var_x > 0, 1.0 - contrast / (2.0 * var_x), np.nan)
        else:
            # Correlation from var(Y - X) = var_x + var_y - 2 cov: no
            # cancellation of large means (1-based or not).
            var_y, var_s = spreads[:, 3], spreads[:, 4]
            scale = np.sqrt(var_x * var_y)
            correlat = np.where(
                scale > 0, (var_x + var_y - var_s) / (2.0 * scale), np.nan
            )
        asm = squares / (total * total)  # one rounding of exact integer sums

    out = np.stack(
        [
            asm,
            contrast,
            correlat,
            var_x,
            idm,
            means[:, 0],
            spreads[:, 0],
            entropies[:, 0],
            entropy,
            spreads[:, 1],
            entropies[:, 1],
        ],
        axis=1,
    )
    out[empty] = np.nan
    return out


def haralick_features(P: np.ndarray) -> dict[str, np.ndarray]:
    r"""Haralick's features f1-f11 (MaZda names) of co-occurrence matrices.

    Each matrix is normalised to sum 1 first, :math:`p(i, j) = P(i, j) /
    \sum P`, so counts work as well. With 1-based grey levels
    :math:`i, j = 1 .. L`, the marginals :math:`p_x(i) = \sum_j p(i, j)`,
    :math:`p_y(j) = \sum_i p(i, j)`, their means :math:`\mu_x, \mu_y` and
    standard deviations :math:`\sigma_x, \sigma_y`, and the sum and
    difference distributions
    :math:`p_{x+y}(k) = \sum_{i+j=k} p(i, j)`, :math:`k = 2 .. 2L`, and
    :math:`p_{x-y}(k) = \sum_{|i-j|=k} p(i, j)`, :math:`k = 0 .. L-1`:

    .. math::

        \mathrm{AngScMom} &= \sum_{i,j} p(i,j)^2 \\
        \mathrm{Contrast} &= \sum_k k^2\, p_{x-y}(k) \\
        \mathrm{Correlat} &= \frac{\sum_{i,j} (i - \mu_x)(j - \mu_y)\, p(i,j)}
                                  {\sigma_x \sigma_y} \\
        \mathrm{SumOfSqs} &= \sum_i (i - \mu_x)^2\, p_x(i) \\
        \mathrm{InvDfMom} &= \sum_{i,j} \frac{p(i,j)}{1 + (i-j)^2} \\
        \mathrm{SumAverg} &= \sum_k k\, p_{x+y}(k) \\
        \mathrm{SumVarnc} &= \sum_k (k - \mathrm{SumEntrp})^2\, p_{x+y}(k) \\
        \mathrm{SumEntrp} &= -\sum_k p_{x+y}(k) \log_{10} p_{x+y}(k) \\
        \mathrm{Entropy}  &= -\sum_{i,j} p(i,j) \log_{10} p(i,j) \\
        \mathrm{DifVarnc} &= \sum_k (k - \mu_d)^2\, p_{x-y}(k), \quad
                             \mu_d = \sum_k k\, p_{x-y}(k) \\
        \mathrm{DifEntrp} &= -\sum_k p_{x-y}(k) \log_{10} p_{x-y}(k)

    with :math:`0 \log 0 = 0`.

    Parameters
    ----------
    P : array_like of shape (levels, levels, n) or (levels, levels)
        Non-negative co-occurrence matrices (counts or probabilities), e.g.
        from :func:`co_occurrence_matrix`. They need not be symmetric.

    Returns
    -------
    features : dict of str to ndarray
        Keyed by :data:`HARALICK_FEATURES` in that order; each value has shape
        ``(n,)`` (a NumPy float for a single 2-D matrix).

    Raises
    ------
    ValueError
        If ``P`` is not a stack of square matrices, or holds negative or
        non-finite values.

    Warns
    -----
    DegenerateROIWarning
        For a matrix without any count (all its features are NaN) and for a
        matrix whose marginals have zero variance (``Correlat`` is NaN).

    See Also
    --------
    co_occurrence_features : the features of a ROI, by MaZda name.
    skimage.feature.graycoprops : ``ASM``, ``contrast``, ``correlation``,
        ``homogeneity`` equal ``AngScMom``, ``Contrast``, ``Correlat``,
        ``InvDfMom``.

    Notes
    -----
    Three choices follow Haralick's paper as MaZda's manual reproduces it and
    differ from other libraries: the logarithm is base 10 (mahotas and
    pyradiomics use base 2, scikit-image the natural log), ``SumVarnc`` is
    centred on ``SumEntrp`` (Haralick's printed formula; pyradiomics'
    ``ClusterTendency`` centres on ``SumAverg``), and the levels are 1-based,
    which matters for ``SumAverg`` and ``SumVarnc`` only. ``DifVarnc`` is the
    variance of the difference distribution (mahotas' default is the variance
    of the values :math:`p_{x-y}(k)` themselves).

    ``Correlat`` is evaluated as
    :math:`(\sigma_x^2 + \sigma_y^2 - \operatorname{var}(j - i)) /
    (2 \sigma_x \sigma_y)`, an identity that needs only centred sums and so
    keeps full precision; it is NaN (not 1 as in scikit-image) when
    :math:`\sigma_x \sigma_y = 0`.

    References
    ----------
    .. [1] R. M. Haralick, K. Shanmugam, I. Dinstein, "Textural features for
       image classification", IEEE Transactions on Systems, Man, and
       Cybernetics SMC-3(6), 610-621, 1973. :doi:`10.1109/TSMC.1973.4309314`
    .. [2] P. M. Szczypiński, M. Strzelecki, A. Materka, A. Klepaczko, "MaZda -
       A software package for image texture analysis", Computer Methods and
       Programs in Biomedicine 94(1), 66-76, 2009.
       :doi:`10.1016/j.cmpb.2008.08.005`

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.texture.cooccurrence import haralick_features
    >>> P = np.array([[2, 1],
    ...               [1, 0]])  # symmetric counts of levels 0 and 1
    >>> f = haralick_features(P)
    >>> float(f["AngScMom"]), float(f["Contrast"]), float(f["SumAverg"])
    (0.375, 0.5, 2.5)
    >>> round(float(f["Correlat"]), 6), round(float(f["Entropy"]), 6)
    (-0.333333, 0.451545)
    """
    arr = np.asarray(P)
    single = arr.ndim == 2
    if single:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise ValueError(
            "P must be a stack of square matrices of shape (levels, levels, n) or "
            f"(levels, levels); got shape {np.shape(P)}"
        )
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"P must hold real numbers; got dtype {arr.dtype}")
    if arr.size and (not np.isfinite(arr).all() or arr.min() < 0):
        raise ValueError("P must hold finite non-negative values")
    L, _, n = arr.shape
    counts = np.zeros((n, L + 1, 2 * L))
    counts[:, :L, L - 1 : 2 * L - 1] = np.moveaxis(arr, -1, 0)
    values = _haralick(counts.reshape(n, -1), L, symmetrize=False)
    _warn_degenerate(values, [f"P[:, :, {k}]" for k in range(n)], stacklevel=3)
    if single:
        return {name: values[0, i] for i, name in enumerate(HARALICK_FEATURES)}
    return {name: values[:, i].copy() for i, name in enumerate(HARALICK_FEATURES)}


def _warn_degenerate(values: np.ndarray, labels: list[str], stacklevel: int) -> None:
    """One warning for matrices without pairs, one for a NaN ``Correlat``."""
    empty = np.isnan(values[:, 0])
    flat = np.isnan(values[:, 2]) & ~empty
    if empty.any():
        which = ", ".join(lab for lab, e in zip(labels, empty, strict=True) if e)
        warnings.warn(
            f"no pixel pair inside the ROI for {which}: the ROI is too small or "
            "too thin for the distance, so their 11 co-occurrence features are NaN",
            DegenerateROIWarning,
            stacklevel=stacklevel,
        )
    if flat.any():
        which = ", ".join(lab for lab, f in zip(labels, flat, strict=True) if f)
        warnings.warn(
            f"the grey level is constant over the pixel pairs of {which}: "
            "Correlat is NaN (zero variance)",
            DegenerateROIWarning,
            stacklevel=stacklevel,
        )


def co_occurrence_features(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    levels: int,
    distances: Sequence[int] = (1, 2, 3, 4, 5),
) -> dict[str, float]:
    """MaZda's 220 co-occurrence features of a ROI.

    Builds the symmetric, normalised co-occurrence matrix of each offset of
    :func:`glcm_offsets` (pairs with both pixels in the ROI) and computes the
    eleven features of :func:`haralick_features` for each, all matrices at once.

    Parameters
    ----------
    image : ndarray of shape (n_rows, n_cols)
        Working image: integer grey levels ``0 .. levels - 1`` inside the ROI.
    mask : ndarray of shape (n_rows, n_cols)
        The ROI: nonzero (or True) inside. Pixels outside it are never read.
    levels : int
        Number of grey levels ``L`` of the working image (64 for MaZda's
        default 6 bits; at most 256). It only bounds the values: the
        features depend on the grey levels present, so a larger ``levels``
        changes no feature.
    distances : sequence of int, default=(1, 2, 3, 4, 5)
        Unique positive pixel distances.

    Returns
    -------
    features : dict of str to float
        ``S(1,0)AngScMom`` ... keyed and ordered as
        :func:`co_occurrence_feature_names` gives them for ``distances``.

    Raises
    ------
    TypeError
        If ``image`` is not numeric or ``levels`` is not an integer.
    ValueError
        If ``image`` is not 2-D, ``mask`` has another shape or is empty, a ROI
        value is not an integer in ``0 .. levels - 1``, or ``distances`` is
        invalid.

    Warns
    -----
    DegenerateROIWarning
        If an offset has no pixel pair inside the ROI (its 11 features are NaN),
        or the grey level is constant over an offset's pairs (its ``Correlat`` is
        NaN; for a constant ROI the other features are ``AngScMom`` = 1,
        ``InvDfMom`` = 1, ``SumAverg`` = 2(g + 1), ``SumVarnc`` = 4(g + 1)^2
        and 0 for the rest).

    See Also
    --------
    co_occurrence_matrix : the matrices themselves.
    haralick_features : the formulas.

    References
    ----------
    .. [1] R. M. Haralick, K. Shanmugam, I. Dinstein, "Textural features for
       image classification", IEEE Transactions on Systems, Man, and
       Cybernetics SMC-3(6), 610-621, 1973. :doi:`10.1109/TSMC.1973.4309314`
    .. [2] P. M. Szczypiński, M. Strzelecki, A. Materka, A. Klepaczko, "MaZda -
       A software package for image texture analysis", Computer Methods and
       Programs in Biomedicine 94(1), 66-76, 2009.
       :doi:`10.1016/j.cmpb.2008.08.005`

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.texture.cooccurrence import co_occurrence_features
    >>> rng = np.random.default_rng(0)
    >>> image = rng.integers(0, 64, size=(32, 32))
    >>> mask = np.zeros((32, 32), bool)
    >>> mask[4:28, 6:30] = True
    >>> f = co_occurrence_features(image, mask, levels=64)
    >>> len(f)
    220
    >>> round(f["S(1,0)Contrast"], 1), round(f["S(1,0)SumAverg"], 2)
    (678.4, 67.58)
    """
    distances = check_distances(distances)
    work, mask_c, levels = roi_levels(image, mask, levels, _MAX_LEVELS)
    return _co_occurrence(work, mask_c, levels, distances, stacklevel=4)


def _co_occurrence(
    work: np.ndarray,
    mask_c: np.ndarray,
    levels: int,
    distances: tuple[int, ...],
    stacklevel: int = 3,
) -> dict[str, float]:
    """:func:`co_occurrence_features` of a validated crop of levels (0 outside)."""
    labels, steps, names = _layout(distances)
    kernel = _kernels.compiled("glcm_symmetric_histograms_loop")
    if kernel is None:
        counts = _padded_counts(work, mask_c, steps, levels)
        values = _haralick(counts, levels, symmetrize=True)
    else:
        # Plain int32 matrices: a quarter of the padded layout's memory. The
        # loop gives the integer sums of _haralick, and _haralick_stage turns
        # them into the features as on the numpy path (bit-identical).
        L = levels
        counts, present = _compiled_counts(
            work, mask_c, steps, L, L, 0, L * L, np.int32
        )
        n = counts.shape[0]
        top = 2 * int(counts.max(initial=0))
        tally = _tally_cells(top, L)
        dists = np.zeros((n, 3, 2 * L - 1), dtype=np.int64)
        squares = np.zeros(n, dtype=np.int64)
        cells = np.zeros((n, top + 1 if tally else 0), dtype=np.int64)
        kernel(counts, L, L, 0, present, dists, squares, cells)
        if tally:
            values = _haralick_stage(dists, squares, cells, None, L)
        else:
            C = counts.reshape(n, L, L)
            xlogx = _xlogx_per_cell((C + C.transpose(0, 2, 1)).astype(np.int64))
            values = _haralick_stage(dists, squares, None, xlogx, L)
    _warn_degenerate(values, labels, stacklevel=stacklevel)
    return dict(zip(names, values.ravel().tolist(), strict=True))
