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
    counts: np.ndarray, levels: int, width: int, out: np.ndarray
) -> None:
    """The 11 Haralick features of ``C + C.T`` for every padded count row.

    Same definitions as ``cooccurrence._haralick(counts, levels, True)``, in
    one pass over the upper triangle with integer accumulators. For a
    symmetric matrix the signed difference distribution has mean 0, so its
    variance is the contrast and ``Correlat = 1 - Contrast / (2 var_x)``.
    ``v log10 v`` of the integer cells comes from a table (few distinct
    values, far fewer than cells). Rows without any pair get NaN.
    """
    L = levels
    n = counts.shape[0]
    top = 0
    for k in range(n):
        for i in range(L):
            for j in range(i, L):
                v = counts[k, i * width + L - 1 + j] + counts[k, j * width + L - 1 + i]
                if v > top:
                    top = v
    # A table when it needs fewer logarithms than the cells (a large uniform
    # ROI has huge counts in few cells); else one log per cell.
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
            for j in range(i, L):
                v = counts[k, i * width + L - 1 + j] + counts[k, j * width + L - 1 + i]
                if v == 0:
                    continue
                if i == j:  # v is the diagonal cell 2 C[i, i] of C + C.T
                    squares += v * v
                    xlogx += table[v] if use_table else v * np.log10(v)
                    by_sum[2 * i] += v
                    by_abs[0] += v
                    rows[i] += v
                else:
                    squares += 2 * v * v
                    xlogx += 2.0 * (table[v] if use_table else v * np.log10(v))
                    by_sum[i + j] += 2 * v
                    by_abs[j - i] += 2 * v
                    rows[i] += v
                    rows[j] += v
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


@functools.cache
def compiled(name: str) -> Callable | None:
    """The numba-compiled version of the loop ``name``, or None without numba.

    ``nogil`` lets threads (the stack's ``n_jobs``) run the loops in parallel.
    """
    numba = _numba()
    if numba is None:
        return None
    return numba.njit(cache=True, nogil=True)(globals()[name])
