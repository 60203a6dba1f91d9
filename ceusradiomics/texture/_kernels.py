"""Compiled loops for the texture families' counts and sums (optional).

The numpy versions in :mod:`~ceusradiomics.texture.cooccurrence`,
:mod:`~ceusradiomics.texture.runlength`, :mod:`~ceusradiomics.texture.gradient`,
:mod:`~ceusradiomics.texture.autoregressive` and
:mod:`~ceusradiomics.texture.wavelet` are exact and fully vectorised,
but numpy has no single pass for these counts: the co-occurrence matrices need
a temporary array and a ``np.bincount`` per offset, the runs a change mask,
their starts and three histograms. Together they are about half the time of a
ROI. No library we depend on computes them for a ROI (scikit-image's and
mahotas' compiled GLCM loops are slower here: they count the whole image and
every level pair), so when `numba <https://numba.pydata.org>`_ is installed
(the ``fast`` extra) the same counts come from the small loops below,
compiled on first use and cached on disk.

Both paths give bit-identical features (tested, and pinned by the feature
table's hash): the loops only produce integers (counts, histograms, sums of
whole numbers below 2**53, which are exact in any order), and every
floating-point step after them is the same numpy code on both paths.
:func:`texture_backend` says which path runs.

Every index in these loops is non-negative and is cast to unsigned where it
is computed: numba then reads the array directly instead of first testing
for a negative (wrap-around) index, which made the hot loops 1.3-1.6x
faster.

Set the environment variable ``CEUSRADIOMICS_DISABLE_NUMBA=1`` to use the
numpy code even when numba is installed.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

import numpy as np


@functools.cache
def _numba():
    """The numba module, or None when it is missing or disabled."""
    if os.environ.get("CEUSRADIOMICS_DISABLE_NUMBA", "").strip() not in ("", "0"):
        return None
    try:
        import numba
    except ImportError:
        return None
    return numba


def glcm_layout_loop(
    work: np.ndarray,
    mask: np.ndarray,
    stride: int,
    margin: int,
    flat: np.ndarray,
    roi: np.ndarray,
) -> int:
    """Write the padded flat image of ``glcm_counts_loop``; return the ROI's size.

    ``flat`` (every element written) gets ``margin`` cells of -1, then the
    rows of ``work`` in rows of ``stride`` cells (the level inside the ROI,
    -1 outside and in the padding), then ``margin`` cells of -1. The flat
    indices of the ROI pixels go to the start of ``roi``, in ascending order.
    """
    h, w = work.shape
    n = 0
    for p in range(margin):
        flat[p] = -1
        flat[flat.size - 1 - p] = -1
    for r in range(h):
        start = margin + r * stride
        work_r = work[r]
        mask_r = mask[r]
        for c in range(w):
            uc = np.uint64(c)  # unsigned indices: no wraparound test
            at = np.uint64(start + c)
            if mask_r[uc]:
                flat[at] = work_r[uc]
                roi[np.uint64(n)] = start + c
                n += 1
            else:
                flat[at] = -1
        for c in range(w, stride):
            flat[np.uint64(start + c)] = -1
    return n


def glcm_counts_loop(
    flat: np.ndarray,
    roi: np.ndarray,
    shifts: np.ndarray,
    width: int,
    offset: int,
    counts: np.ndarray,
    seen: np.ndarray,
) -> None:
    """Add the pair counts of every shift into ``counts`` (in place).

    ``flat`` is the padded working image flattened (grey level inside the ROI,
    -1 outside; the padding keeps every ``p + shift`` in bounds and stops a
    shift from wrapping to the next row) and ``roi`` the flat indices of the
    ROI pixels. The pair ``(p, p + shifts[k])`` of two ROI pixels with levels
    ``a, b`` adds one to ``counts[k, a * width + offset + b]`` (the padded
    layout of ``cooccurrence._padded_counts``, or plain ``(L, L)`` matrices
    with ``width = L, offset = 0``). ``seen[a]`` is set for every level ``a``
    of the ROI: the other rows and columns of the matrices are zero.
    """
    base = np.empty(roi.size, dtype=np.int64)
    for i in range(roi.size):
        a = flat[np.uint64(roi[i])]
        base[i] = a * width + offset
        seen[np.uint64(a)] = True
    for k in range(shifts.size):
        shift = shifts[k]
        row = counts[k]
        for i in range(roi.size):
            # The indices are never negative: as unsigned, numba indexes
            # without its wraparound test (a third of this loop's time).
            b = flat[np.uint64(roi[i] + shift)]
            if b >= 0:
                row[np.uint64(base[i] + b)] += 1


def glcm_symmetric_histograms_loop(
    counts: np.ndarray,
    levels: int,
    width: int,
    offset: int,
    present: np.ndarray,
    dists: np.ndarray,
    squares: np.ndarray,
    cells: np.ndarray,
) -> None:
    """The integer sums of ``S = C + C.T`` behind the Haralick features (in place).

    Row ``k`` of ``counts`` holds ``C[i, j]`` at ``i * width + offset + j``
    (``width = levels, offset = 0`` for plain ``(levels, levels)`` matrices;
    the padded layout of ``cooccurrence._padded_counts`` also works). In one
    pass over the upper triangle of ``S`` it adds, for matrix ``k``: the sum
    distribution ``dists[k, 0, i + j]``, the absolute difference distribution
    ``dists[k, 1, |i - j|]``, the row sums ``dists[k, 2, i]``, ``squares[k] =
    sum S**2`` and, when ``cells`` has columns, the number of cells holding
    each value ``v >= 2``, ``cells[k, v]`` (both mirror cells of an
    off-diagonal pair; ``v log v`` is 0 for the values 0 and 1).

    Only the rows and columns from the smallest to the largest level in
    ``present`` (ascending, not empty) are read: the others must be zero
    (levels absent from the ROI, as ``glcm_counts_loop``'s ``seen`` finds
    them). Only integers, the same as the numpy path's
    (``cooccurrence._haralick``); ``haralick_stage_loop`` then computes the
    features from them. The inner loop runs over contiguous slices (row ``i``
    of ``C`` right of the diagonal and the matching runs of the three
    distributions), which numba indexes without sign checks: about twice as
    fast as indexing the arrays themselves.
    """
    tally = cells.shape[1] > 0
    lo = present[0]
    hi = present[present.size - 1] + 1
    for k in range(counts.shape[0]):
        c = counts[k]
        by_sum = dists[k, 0]
        by_abs = dists[k, 1]
        rows = dists[k, 2]
        cells_k = cells[k]
        sq = 0
        for i in range(lo, hi):
            start = i * width + offset
            # The diagonal cell of C + C.T is 2 C[i, i]; each cell above it
            # stands for itself and its mirror image.
            v = 2 * np.int64(c[start + i])
            sq += v * v
            by_sum[2 * i] += v
            by_abs[0] += v
            row_i = v
            if tally and v > 1:
                cells_k[v] += 1
            # Cells (i, j) for j = i + 1 .. hi - 1, as slices from t = 0.
            right = c[start + i + 1 : start + hi]
            to_sum = by_sum[2 * i + 1 : i + hi]
            to_abs = by_abs[1 : hi - i]
            to_rows = rows[i + 1 : hi]
            for t in range(hi - i - 1):
                j = i + 1 + t
                ut = np.uint64(t)  # unsigned: no wraparound test
                v = np.int64(right[ut]) + c[np.uint64(j * width + offset + i)]
                sq += 2 * v * v
                to_sum[ut] += 2 * v
                to_abs[ut] += 2 * v
                row_i += v
                to_rows[ut] += v
                if tally and v > 1:
                    cells_k[np.uint64(v)] += 2
            rows[i] += row_i
        squares[k] += sq


def haralick_stage_loop(
    dists: np.ndarray,
    total: np.ndarray,
    log_total: np.ndarray,
    squares: np.ndarray,
    cells: np.ndarray,
    vlogv: np.ndarray,
    xlogx: np.ndarray,
    logc: np.ndarray,
    values: np.ndarray,
    dif_weights: np.ndarray,
    out: np.ndarray,
) -> None:
    """The 11 Haralick features from the distributions of ``cooccurrence``.

    The compiled twin of ``cooccurrence._haralick_stage_numpy``: the same
    operations on the same numbers in the same order, term by term (each sum
    runs from its first term to its last, as numpy's ``cumsum``), so the two
    give the same bits. The logarithms come in from numpy's table on both
    paths (``log_total``, ``logc`` of the counts and ``vlogv = v log10 v`` of
    the cell tally): numba's and numpy's ``log10`` may differ in the last bit.
    """
    n, r, W = dists.shape
    L = dif_weights.shape[1]
    tally = cells.shape[1]
    p = np.empty((r, W))
    means = np.empty(r)
    spreads = np.empty(r)
    for k in range(n):
        tf = total[k]
        if tf == 0:
            out[k, :] = np.nan
            continue
        for q in range(r):
            for w in range(W):
                p[q, w] = dists[k, q, w] / tf
        for q in range(r):
            acc = p[q, 0] * values[q, 0]
            for w in range(1, W):
                acc += p[q, w] * values[q, w]
            means[q] = acc
        lt = log_total[k]
        ent_sum = p[0, 0] * (logc[k, 0, 0] - lt)
        ent_dif = p[1, 0] * (logc[k, 1, 0] - lt)
        for w in range(1, W):
            ent_sum += p[0, w] * (logc[k, 0, w] - lt)
            ent_dif += p[1, w] * (logc[k, 1, w] - lt)
        ent_sum = -ent_sum
        ent_dif = -ent_dif
        if tally:
            xl = cells[k, 0] * vlogv[0]
            for v in range(1, tally):
                xl += cells[k, v] * vlogv[v]
        else:
            xl = xlogx[k]
        for q in range(r):
            centre = ent_sum if q == 0 else means[q]
            d = values[q, 0] - centre
            acc = p[q, 0] * (d * d)
            for w in range(1, W):
                d = values[q, w] - centre
                acc += p[q, w] * (d * d)
            spreads[q] = acc
        contrast = p[1, 0] * dif_weights[0, 0]
        idm = p[1, 0] * dif_weights[1, 0]
        for w in range(1, L):
            contrast += p[1, w] * dif_weights[0, w]
            idm += p[1, w] * dif_weights[1, w]
        var_x = spreads[2]
        if r == 3:
            correlat = 1.0 - contrast / (2.0 * var_x) if var_x > 0 else np.nan
        else:
            scale = np.sqrt(var_x * spreads[3])
            correlat = (
                (var_x + spreads[3] - spreads[4]) / (2.0 * scale)
                if scale > 0
                else np.nan
            )
        out[k, 0] = squares[k] / (tf * tf)
        out[k, 1] = contrast
        out[k, 2] = correlat
        out[k, 3] = var_x
        out[k, 4] = idm
        out[k, 5] = means[0]
        out[k, 6] = spreads[0]
        out[k, 7] = ent_sum
        out[k, 8] = lt - xl / tf
        out[k, 9] = spreads[1]
        out[k, 10] = ent_dif


def run_histograms_loop(
    work: np.ndarray,
    mask: np.ndarray,
    by_length: np.ndarray,
    by_level: np.ndarray,
) -> None:
    """Count the runs of MaZda's four directions by length and level (in place).

    ``work`` holds the grey levels (read only where ``mask`` is set). One
    row-major sweep serves the four directions of
    ``runlength.RUN_LENGTH_DIRECTIONS``, in that order (``k`` = 0 horizontal,
    1 vertical, 2 45 degrees, 3 135 degrees): each line of a direction (a
    row, a column, an anti-diagonal ``r + c``, a diagonal ``c - r``) keeps its
    current level and run length, and a run is counted when the next pixel of
    its line differs (another level, or outside the ROI) or the line ends. The
    45-degree lines are swept downwards, i.e. backwards; a run is the same set
    of pixels either way. A run of level ``g`` and length ``l`` adds one to
    ``by_length[k, l]`` and to ``by_level[k, g]``.
    """
    h, w = work.shape
    n_lines = h + w - 1
    # Level (-1: no run) and length of the current run of every line: rows
    # 0, 1, 2 for the columns, anti-diagonals and diagonals (directions 1-3).
    line_level = np.full((3, n_lines), -1, dtype=np.int64)
    line_len = np.zeros((3, n_lines), dtype=np.int64)
    # Every index below is taken as unsigned (none is ever negative), so that
    # numba skips its wraparound test.
    one = np.uint64(1)
    for r in range(h):
        work_r = work[r]
        mask_r = mask[r]
        row_level = -1
        row_len = 0
        for c in range(w):
            uc = np.uint64(c)
            g = work_r[uc] if mask_r[uc] else -1
            if g == row_level:
                row_len += 1
            else:
                if row_level >= 0:
                    by_length[0, np.uint64(row_len)] += 1
                    by_level[0, np.uint64(row_level)] += 1
                row_level = g
                row_len = 1
            for k in range(3):
                uk = np.uint64(k)
                if k == 0:
                    line = uc
                elif k == 1:
                    line = np.uint64(r + c)
                else:
                    line = np.uint64(c - r + h - 1)
                current = line_level[uk, line]
                if g == current:
                    line_len[uk, line] += 1
                else:
                    if current >= 0:
                        by_length[uk + one, np.uint64(line_len[uk, line])] += 1
                        by_level[uk + one, np.uint64(current)] += 1
                    line_level[uk, line] = g
                    line_len[uk, line] = 1
        if row_level >= 0:
            by_length[0, row_len] += 1
            by_level[0, row_level] += 1
    # The runs still open when their line ends.
    for k in range(3):
        for line in range(n_lines):
            if line_level[k, line] >= 0:
                by_length[k + 1, line_len[k, line]] += 1
                by_level[k + 1, line_level[k, line]] += 1


def ar_gram_loop(
    flat: np.ndarray,
    mask: np.ndarray,
    n_rows: int,
    n_cols: int,
    offsets: np.ndarray,
    gram: np.ndarray,
    sums: np.ndarray,
) -> int:
    """Add the AR model's 5 x 5 Gram matrix and column sums; return the equations.

    ``flat`` and ``mask`` are the ``n_rows x n_cols`` crop and its ROI,
    flattened. A pixel ``p`` gives an equation when ``mask[p + offsets[a]]``
    holds for the 5 offsets (the pixel itself and its 4 causal neighbours,
    left, upper-left, upper and upper-right, as ``autoregressive_features``),
    which confines it to rows ``1..`` and columns ``1..n_cols - 2``. Over
    those pixels ``gram[a, b] += sum_p flat[p + offsets[a]] * flat[p +
    offsets[b]]`` (both triangles) and ``sums[a] += sum_p flat[p +
    offsets[a]]``; the number of them is returned. Written out in scalars so
    that the 20 sums stay in registers; the flat indices, never negative, are
    taken as unsigned (numba then skips its wraparound test).
    ``autoregressive`` calls it on whole numbers small enough for every
    partial sum to be exact, so the order of the sums (and the numpy code's,
    which sums otherwise) does not change a bit.
    """
    o0, o1, o2, o3, o4 = offsets[0], offsets[1], offsets[2], offsets[3], offsets[4]
    g00 = g01 = g02 = g03 = g04 = 0.0
    g11 = g12 = g13 = g14 = 0.0
    g22 = g23 = g24 = 0.0
    g33 = g34 = 0.0
    g44 = 0.0
    s0 = s1 = s2 = s3 = s4 = 0.0
    n = 0
    for r in range(1, n_rows):
        for c in range(1, n_cols - 1):
            p = r * n_cols + c
            q0 = np.uint64(p + o0)
            q1 = np.uint64(p + o1)
            q2 = np.uint64(p + o2)
            q3 = np.uint64(p + o3)
            q4 = np.uint64(p + o4)
            # One branch (bitwise, not short-circuit): inside a ROI it is
            # almost always taken, so it is well predicted.
            if not (mask[q0] & mask[q1] & mask[q2] & mask[q3] & mask[q4]):
                continue
            n += 1
            z0 = flat[q0]
            z1 = flat[q1]
            z2 = flat[q2]
            z3 = flat[q3]
            z4 = flat[q4]
            g00 += z0 * z0
            g01 += z0 * z1
            g02 += z0 * z2
            g03 += z0 * z3
            g04 += z0 * z4
            g11 += z1 * z1
            g12 += z1 * z2
            g13 += z1 * z3
            g14 += z1 * z4
            g22 += z2 * z2
            g23 += z2 * z3
            g24 += z2 * z4
            g33 += z3 * z3
            g34 += z3 * z4
            g44 += z4 * z4
            s0 += z0
            s1 += z1
            s2 += z2
            s3 += z3
            s4 += z4
    gram[0, 0] += g00
    gram[0, 1] += g01
    gram[0, 2] += g02
    gram[0, 3] += g03
    gram[0, 4] += g04
    gram[1, 1] += g11
    gram[1, 2] += g12
    gram[1, 3] += g13
    gram[1, 4] += g14
    gram[2, 2] += g22
    gram[2, 3] += g23
    gram[2, 4] += g24
    gram[3, 3] += g33
    gram[3, 4] += g34
    gram[4, 4] += g44
    sums[0] += s0
    sums[1] += s1
    sums[2] += s2
    sums[3] += s3
    sums[4] += s4
    for a in range(5):
        for b in range(a):
            gram[a, b] = gram[b, a]
    return n


def squared_gradient_loop(image: np.ndarray, mask: np.ndarray, out: np.ndarray) -> int:
    """The squared absolute gradient on its support, in row-major order.

    For every ROI pixel whose 4-neighbours are in the ROI (never on the
    crop's border), ``(I[r, c+1] - I[r, c-1])**2 + (I[r+1, c] - I[r-1,
    c])**2`` goes to the next element of ``out`` (int32: the caller passes
    whole numbers whose differences stay below ``2**15``, so the sum is
    exact, the numbers of ``gradient._squared_gradient_on_crop``). Returns
    how many were written.
    """
    h, w = image.shape
    n = 0
    for r in range(1, h - 1):
        # Row views and unsigned column indices (never negative): numba then
        # skips its wraparound test.
        above, row, below = image[r - 1], image[r], image[r + 1]
        m_above, m_row, m_below = mask[r - 1], mask[r], mask[r + 1]
        for c in range(1, w - 1):
            uc = np.uint64(c)
            left = np.uint64(c - 1)
            right = np.uint64(c + 1)
            if m_row[uc] & m_row[left] & m_row[right] & m_above[uc] & m_below[uc]:
                dx = row[right] - row[left]
                dy = below[uc] - above[uc]
                out[np.uint64(n)] = dx * dx + dy * dy
                n += 1
    return n


def haar_energy_loop(
    values: np.ndarray,
    valid: np.ndarray,
    row0: int,
    col0: int,
    wanted: np.ndarray,
    counts: np.ndarray,
    sums: np.ndarray,
) -> None:
    """The Haar sub-band energies' sums of squares, every level in one call.

    The compiled twin of the level loop of ``wavelet._wavelet``: level ``k``
    (1-based) pairs rows and columns of level ``k - 1`` on the grid anchored
    at the image origin (``row0, col0`` is the crop's first block), a block
    being valid when its four quadrants are. For each wanted level it counts
    the valid blocks into ``counts[k]`` and adds the squared signed quadrant
    sums (LL, LH, HL, HH) into ``sums[k]``; it stops at the first level
    without a valid block, as the numpy loop does. Called on whole grey
    levels only: every sum is then a whole number below 2**53, exact in any
    order, so the two paths give the same bits.
    """
    cur = values
    ok = valid
    for level in range(1, wanted.size):
        tr = row0 & 1
        tc = col0 & 1
        h = (cur.shape[0] - tr) // 2
        w = (cur.shape[1] - tc) // 2
        nxt = np.empty((h, w))
        nok = np.empty((h, w), dtype=np.bool_)
        n = 0
        s0 = s1 = s2 = s3 = 0.0
        one = np.uint64(1)
        for i in range(h):
            # Unsigned indices (never negative): no wraparound test in numba.
            r = np.uint64(tr + 2 * i)
            r1 = r + one
            for j in range(w):
                c = np.uint64(tc + 2 * j)
                c1 = c + one
                a = cur[r, c]
                b = cur[r, c1]
                d = cur[r1, c1]
                cc = cur[r1, c]
                v = ok[r, c] & ok[r, c1] & ok[r1, c] & ok[r1, c1]
                nok[i, j] = v
                nxt[i, j] = (a + cc) + (b + d)
                if v:
                    n += 1
                    if wanted[level]:
                        ac = a + cc
                        bd = b + d
                        amc = a - cc
                        bmd = b - d
                        t = ac + bd
                        s0 += t * t
                        t = amc + bmd
                        s1 += t * t
                        t = ac - bd
                        s2 += t * t
                        t = amc - bmd
                        s3 += t * t
        if n == 0:
            return
        counts[level] = n
        sums[level, 0] = s0
        sums[level, 1] = s1
        sums[level, 2] = s2
        sums[level, 3] = s3
        cur = nxt
        ok = nok
        row0 = (row0 + tr) >> 1
        col0 = (col0 + tc) >> 1


def texture_backend() -> str:
    """Which code path computes the texture loops: ``"numba"`` or ``"numpy"``.

    ``"numba"`` when numba can be imported and ``CEUSRADIOMICS_DISABLE_NUMBA``
    is unset (or ``0``); it imports numba to find out. The features are the
    same bit for bit on both paths; only the speed differs.

    Examples
    --------
    >>> from ceusradiomics.texture._kernels import texture_backend
    >>> texture_backend() in ("numba", "numpy")
    True
    """
    return "numpy" if _numba() is None else "numba"


@functools.cache
def compiled(name: str) -> Callable | None:
    """The numba-compiled version of the loop ``name``, or None without numba.

    ``nogil`` lets threads (the stack's ``n_jobs``) run the loops in parallel.
    """
    numba = _numba()
    if numba is None:
        return None
    return numba.njit(cache=True, nogil=True)(globals()[name])
