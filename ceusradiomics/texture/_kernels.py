"""Compiled loops for the co-occurrence counts and the run lengths (optional).

The numpy versions in :mod:`~ceusradiomics.texture.cooccurrence` and
:mod:`~ceusradiomics.texture.runlength` are exact and fully vectorised, but
numpy has no single pass for either count: the co-occurrence matrices need a
temporary array and a ``np.bincount`` per offset, the runs a change mask, their
starts and three histograms. Together they are about half the time of a ROI.
No library we depend on computes them for a ROI (scikit-image's and mahotas'
compiled GLCM loops are slower here: they count the whole image and every
level pair), so when `numba <https://numba.pydata.org>`_ is installed (the
``fast`` extra) the same counts come from the two small loops below, compiled
on first use and cached on disk. They give exactly the same integers as the
numpy code (tested), so every feature is the same with or without numba.

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


def glcm_counts_loop(
    flat: np.ndarray,
    roi: np.ndarray,
    base: np.ndarray,
    shifts: np.ndarray,
    counts: np.ndarray,
) -> None:
    """Add the pair counts of every shift into ``counts`` (in place).

    ``flat`` is the padded working image flattened (grey level inside the ROI,
    -1 outside; the padding keeps every ``p + shift`` in bounds and stops a
    shift from wrapping to the next row); ``roi`` the flat indices of the ROI
    pixels and ``base`` their ``level * width + offset``. The pair
    ``(p, p + shifts[k])`` of two ROI pixels with levels ``a, b`` adds one to
    ``counts[k, a * width + offset + b]``, the padded layout of
    ``cooccurrence._padded_counts``.
    """
    for k in range(shifts.size):
        shift = shifts[k]
        row = counts[k]
        for i in range(roi.size):
            b = flat[roi[i] + shift]
            if b >= 0:
                row[base[i] + b] += 1


def glcm_symmetric_features_loop(
    counts: np.ndarray, levels: int, width: int, offset: int, out: np.ndarray
) -> None:
    """The 11 Haralick features of ``C + C.T`` for every row of count matrices.

    Row ``k`` of ``counts`` holds ``C[i, j]`` at ``i * width + offset + j``
    (``width = levels, offset = 0`` for plain ``(levels, levels)`` matrices;
    the padded layout of ``cooccurrence._padded_counts`` also works).
    Same definitions as ``cooccurrence._haralick(counts, levels, True)``, in
    one pass over the upper triangle with integer accumulators. For a
    symmetric matrix the signed difference distribution has mean 0, so its
    variance is the contrast and ``Correlat = 1 - Contrast / (2 var_x)``.
    ``v log10 v`` of the integer cells comes from a table (few distinct
    values, far fewer than cells). Rows without any pair get NaN.
    """
    L = levels
    n = counts.shape[0]
    # v = C[i, j] + C[j, i] <= 2 max(C): a linear pass bounds the table.
    top = 0
    for k in range(n):
        for q in range(counts.shape[1]):
            if counts[k, q] > top:
                top = counts[k, q]
    top *= 2
    # A table when it needs fewer logarithms than the cells (a large uniform
    # ROI has huge counts in few cells); else one log per nonzero cell.
    use_table = top <= n * L * (L + 1) // 2
    table = np.zeros(top + 1 if use_table else 1)
    if use_table:
        for v in range(2, top + 1):
            table[v] = v * np.log10(v)
    by_sum = np.zeros(2 * L - 1, dtype=np.int64)
    by_abs = np.zeros(L, dtype=np.int64)
    rows = np.zeros(L, dtype=np.int64)
    for k in range(n):
        by_sum[:] = 0
        by_abs[:] = 0
        rows[:] = 0
        squares = 0
        xlogx = 0.0
        for i in range(L):
            # The diagonal cell of C + C.T is 2 C[i, i]; each cell above it
            # stands for itself and its mirror image.
            v = 2 * counts[k, i * width + offset + i]
            squares += v * v
            xlogx += table[v] if use_table else (v * np.log10(v) if v > 0 else 0.0)
            by_sum[2 * i] += v
            by_abs[0] += v
            row_i = v
            for j in range(i + 1, L):
                v = (
                    counts[k, i * width + offset + j]
                    + counts[k, j * width + offset + i]
                )
                if use_table:
                    xlogx += 2.0 * table[v]
                elif v > 0:
                    xlogx += 2.0 * v * np.log10(v)
                squares += 2 * v * v
                by_sum[i + j] += 2 * v
                by_abs[j - i] += 2 * v
                row_i += v
                rows[j] += v
            rows[i] += row_i
        total = 0
        for i in range(L):
            total += rows[i]
        if total == 0:
            out[k, :] = np.nan
            continue
        norm = 1.0 / total
        mu_x = 0.0
        for i in range(L):
            mu_x += (i + 1.0) * rows[i] * norm
        var_x = 0.0
        for i in range(L):
            d = i + 1.0 - mu_x
            var_x += d * d * rows[i] * norm
        mu_d = 0.0
        contrast = 0.0
        idm = 0.0
        dif_ent = 0.0
        for d in range(L):
            p = by_abs[d] * norm
            mu_d += d * p
            contrast += d * d * p
            idm += p / (1.0 + d * d)
            if p > 0.0:
                dif_ent -= p * np.log10(p)
        dif_var = 0.0
        for d in range(L):
            e = d - mu_d
            dif_var += e * e * by_abs[d] * norm
        sum_avg = 0.0
        sum_ent = 0.0
        for s in range(2 * L - 1):
            p = by_sum[s] * norm
            sum_avg += (s + 2.0) * p
            if p > 0.0:
                sum_ent -= p * np.log10(p)
        sum_var = 0.0
        for s in range(2 * L - 1):
            e = s + 2.0 - sum_ent
            sum_var += e * e * by_sum[s] * norm
        out[k, 0] = squares * norm * norm
        out[k, 1] = contrast
        out[k, 2] = 1.0 - contrast / (2.0 * var_x) if var_x > 0.0 else np.nan
        out[k, 3] = var_x
        out[k, 4] = idm
        out[k, 5] = sum_avg
        out[k, 6] = sum_var
        out[k, 7] = sum_ent
        out[k, 8] = np.log10(total) - xlogx * norm
        out[k, 9] = dif_var
        out[k, 10] = dif_ent


def run_histograms_loop(
    grid: np.ndarray,
    steps: np.ndarray,
    by_length: np.ndarray,
    by_level: np.ndarray,
) -> None:
    """Count the runs of every direction by length and by grey level (in place).

    ``grid`` holds the grey levels inside the ROI and -1 outside. A run along
    the step ``(dr, dc)`` starts at a ROI pixel whose predecessor (one step
    back) is outside the grid, outside the ROI or of another level; it goes on
    while the next pixel has the same level. For direction ``k`` a run of
    level ``g`` and length ``l`` adds one to ``by_length[k, l]`` and to
    ``by_level[k, g]``.
    """
    h, w = grid.shape
    for k in range(steps.shape[0]):
        dr = steps[k, 0]
        dc = steps[k, 1]
        for r in range(h):
            for c in range(w):
                g = grid[r, c]
                if g < 0:
                    continue
                pr = r - dr
                pc = c - dc
                if 0 <= pr < h and 0 <= pc < w and grid[pr, pc] == g:
                    continue  # inside a run that started earlier
                length = 1
                rr = r + dr
                cc = c + dc
                while 0 <= rr < h and 0 <= cc < w and grid[rr, cc] == g:
                    length += 1
                    rr += dr
                    cc += dc
                by_length[k, length] += 1
                by_level[k, g] += 1


def ar_gram_loop(
    flat: np.ndarray, usable: np.ndarray, offsets: np.ndarray, gram: np.ndarray
) -> None:
    """Add the upper triangle of the AR model's 5 x 5 Gram matrix into ``gram``.

    ``gram[a, b] += sum_p flat[p + offsets[a]] * flat[p + offsets[b]]`` over
    the flat indices ``p`` in ``usable``, for ``a <= b``: the pixel itself and
    its 4 causal neighbours, as ``autoregressive_features``. Written out in
    scalars so that the 15 sums stay in registers.
    """
    o0, o1, o2, o3, o4 = offsets[0], offsets[1], offsets[2], offsets[3], offsets[4]
    g00 = g01 = g02 = g03 = g04 = 0.0
    g11 = g12 = g13 = g14 = 0.0
    g22 = g23 = g24 = 0.0
    g33 = g34 = 0.0
    g44 = 0.0
    for i in range(usable.size):
        p = usable[i]
        z0 = flat[p + o0]
        z1 = flat[p + o1]
        z2 = flat[p + o2]
        z3 = flat[p + o3]
        z4 = flat[p + o4]
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


@functools.cache
def compiled(name: str) -> Callable | None:
    """The numba-compiled version of the loop ``name``, or None without numba.

    ``nogil`` lets threads (the stack's ``n_jobs``) run the loops in parallel.
    """
    numba = _numba()
    if numba is None:
        return None
    return numba.njit(cache=True, nogil=True)(globals()[name])
