"""Grey-level run-length matrix and Galloway's features (MaZda 4.6).

A *run* is a maximal sequence of consecutive pixels along a direction that all
lie inside the ROI and share one grey level. MaZda counts the runs of the
working image (6 bits by default) in four directions and reports five of
Galloway's features for each, 20 values named ``<dir>_<feature>``:
``Horzl_RLNonUni`` ... ``135dr_Fraction``.

:func:`run_length_matrix` exposes the matrix of one direction;
:func:`run_length_features` is the fast path used by the extractor (it works on
the list of runs and never builds the matrices).
"""

from __future__ import annotations

import numpy as np

from ceusradiomics.texture import _kernels
from ceusradiomics.texture._common import roi_levels

__all__ = [
    "RUN_LENGTH_DIRECTIONS",
    "RUN_LENGTH_FEATURES",
    "run_length_feature_names",
    "run_length_features",
    "run_length_matrix",
]

#: MaZda's run directions and their ``(dr, dc)`` steps (row down, column right).
RUN_LENGTH_DIRECTIONS: dict[str, tuple[int, int]] = {
    "Horzl": (0, 1),
    "Vertl": (1, 0),
    "45dgr": (-1, 1),  # "/" on screen: up and to the right
    "135dr": (1, 1),  # "\" on screen: down and to the right
}

#: Galloway's features under their MaZda names, in MaZda's order.
RUN_LENGTH_FEATURES: tuple[str, ...] = (
    "RLNonUni",
    "GLevNonU",
    "LngREmph",
    "ShrtREmp",
    "Fraction",
)

# Run-length features never build a levels x length matrix, so 16-bit working
# images are fine.
_MAX_LEVELS = 2**16


def run_length_feature_names() -> list[str]:
    """Names of the run-length features, in the order of the computed dict.

    Direction-major: ``Horzl``, ``Vertl``, ``45dgr``, ``135dr``, each with
    ``RLNonUni``, ``GLevNonU``, ``LngREmph``, ``ShrtREmp``, ``Fraction``.

    Returns
    -------
    names : list of str
        The 20 names.

    Examples
    --------
    >>> from ceusradiomics.texture.runlength import run_length_feature_names
    >>> names = run_length_feature_names()
    >>> len(names), names[0], names[-1]
    (20, 'Horzl_RLNonUni', '135dr_Fraction')
    """
    return list(_NAMES)


_NAMES = tuple(f"{d}_{f}" for d in RUN_LENGTH_DIRECTIONS for f in RUN_LENGTH_FEATURES)


def _direction_name(direction: str | tuple[int, int]) -> str:
    """MaZda name of a direction given by name or by a ``(dr, dc)`` step."""
    if isinstance(direction, str):
        if direction in RUN_LENGTH_DIRECTIONS:
            return direction
    else:
        step = np.asarray(direction, dtype=object if direction is None else None)
        if step.shape == (2,) and step.dtype.kind in "iu":
            dr, dc = int(step[0]), int(step[1])
            for name, (sr, sc) in RUN_LENGTH_DIRECTIONS.items():
                # A step and its opposite walk the same lines: same runs.
                if (dr, dc) in ((sr, sc), (-sr, -sc)):
                    return name
    raise ValueError(
        f"direction must be one of {list(RUN_LENGTH_DIRECTIONS)} or one of their "
        f"(dr, dc) steps {list(RUN_LENGTH_DIRECTIONS.values())} (or the opposite "
        f"steps); got {direction!r}"
    )


def _lines(grid: np.ndarray, direction: str, sentinel: int) -> np.ndarray:
    """Lay every digital line of ``direction`` end to end in one 1-D array.

    ``grid`` holds the grey levels with ``sentinel`` outside the ROI. In the
    result each line appears in walking order (or reversed: the runs are the
    same) and is followed by at least one ``sentinel``, so runs never join
    across lines.
    """
    if direction == "Vertl":
        grid = grid.T
    elif direction == "45dgr":
        grid = grid[::-1]  # turns the "/" lines into "\" lines
    h, w = grid.shape
    # A sentinel column ends every row, and a sentinel row the whole grid.
    base = np.full((h + 1, w + 1), sentinel, dtype=grid.dtype)
    base[:h, :w] = grid
    flat = base.reshape(-1)
    if direction in ("Horzl", "Vertl"):
        return flat
    # "\" lines: the down-right neighbour of flat index p is p + w + 2, so the
    # columns of the flat array reshaped to rows of w + 2 walk every "\" line
    # in order; a line ends in the sentinel column (the walk then goes on with
    # the next line) or in the sentinel row, which also ends every column.
    step = w + 2
    padded = np.full(-(-flat.size // step) * step, sentinel, dtype=grid.dtype)
    padded[: flat.size] = flat
    return padded.reshape(-1, step).T.reshape(-1)


def _runs(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start, grey level and length of every constant segment of ``flat``.

    Segments of the sentinel (pixels outside the ROI, line separators) are
    included; the callers drop them.
    """
    n = flat.size
    change = np.empty(n, dtype=bool)
    change[0] = True
    np.not_equal(flat[1:], flat[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    lengths = np.empty_like(starts)
    np.subtract(starts[1:], starts[:-1], out=lengths[:-1])
    lengths[-1] = n - starts[-1]
    return starts, flat[starts], lengths


def _prepare(image, mask, levels):
    """Working grid with the sentinel ``levels`` outside the ROI."""
    work, mask_c, levels = roi_levels(image, mask, levels, _MAX_LEVELS)
    return _grid(work, mask_c, levels), int(np.count_nonzero(mask_c)), levels


def _grid(work: np.ndarray, mask_c: np.ndarray, levels: int) -> np.ndarray:
    # The sentinel is one past the last level: never a valid level, and it
    # keeps bincount over levels (which needs non-negative values) usable.
    return np.where(mask_c, work, levels)


def run_length_matrix(
    image: np.ndarray,
    mask: np.ndarray,
    direction: str | tuple[int, int],
    levels: int,
    *,
    max_run_length: int | None = None,
) -> np.ndarray:
    r"""Grey-level run-length matrix of a ROI along one direction.

    :math:`P(g, \ell)` is the number of runs of grey level :math:`g` and length
    :math:`\ell`: maximal sequences of :math:`\ell` consecutive pixels along
    the direction that all lie inside the ROI and all have level :math:`g`.
    A pixel outside the ROI or the image border ends a run, so every ROI pixel
    belongs to exactly one run and :math:`\sum_{g,\ell} \ell P(g,\ell) = N`,
    the number of ROI pixels.

    Parameters
    ----------
    image : ndarray of shape (n_rows, n_cols)
        Working image: integer grey levels ``0 .. levels - 1`` inside the ROI
        (integer dtype, or floats holding integers).
    mask : ndarray of shape (n_rows, n_cols)
        The ROI: nonzero (or True) inside. Pixels outside it are never read.
    direction : {"Horzl", "Vertl", "45dgr", "135dr"} or (int, int)
        MaZda's direction, or its ``(dr, dc)`` step: ``(0, 1)``, ``(1, 0)``,
        ``(-1, 1)`` ("/", up and to the right) and ``(1, 1)`` ("\\", down and
        to the right); the opposite steps walk the same lines and are accepted
        too.
    levels : int
        Number of grey levels ``L`` (at most 65536; the matrix has
        ``levels * max_run_length`` entries).
    max_run_length : int, optional
        Number of run-length columns. By default the longest run the ROI's
        bounding box allows along the direction: its width for ``Horzl``, its
        height for ``Vertl``, the smaller of the two for the diagonals.

    Returns
    -------
    P : ndarray of shape (levels, max_run_length), dtype int64
        ``P[g, l - 1]`` = number of runs of level ``g`` and length ``l``.

    Raises
    ------
    TypeError
        If ``image`` is not numeric or ``levels`` is not an integer.
    ValueError
        If ``image`` is not 2-D, ``mask`` has another shape or is empty, a ROI
        value is not an integer in ``0 .. levels - 1``, ``direction`` is not
        one of the four, or a run is longer than ``max_run_length``.

    See Also
    --------
    run_length_features : the features, computed without the matrix.

    References
    ----------
    .. [1] M. M. Galloway, "Texture analysis using gray level run lengths",
       Computer Graphics and Image Processing 4(2), 172-179, 1975.
       :doi:`10.1016/S0146-664X(75)80008-6`

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.texture.runlength import run_length_matrix
    >>> image = np.array([[0, 0, 1, 1],
    ...                   [0, 0, 1, 1],
    ...                   [0, 2, 2, 2],
    ...                   [2, 2, 3, 3]])
    >>> mask = np.ones((4, 4), bool)
    >>> run_length_matrix(image, mask, "Horzl", 4)
    array([[1, 2, 0, 0],
           [0, 2, 0, 0],
           [0, 1, 1, 0],
           [0, 1, 0, 0]])
    >>> run_length_matrix(image, mask, (-1, 1), 4, max_run_length=3)
    array([[1, 2, 0],
           [2, 1, 0],
           [1, 2, 0],
           [2, 0, 0]])
    """
    name = _direction_name(direction)
    grid, _, levels = _prepare(image, mask, levels)
    if max_run_length is None:
        # The longest run the bounding box allows along the direction.
        h, w = grid.shape
        max_run_length = {"Horzl": w, "Vertl": h}.get(name, min(h, w))
    elif (
        not isinstance(max_run_length, (int, np.integer))
        or isinstance(max_run_length, bool)
        or max_run_length < 1
    ):
        raise ValueError(
            f"max_run_length must be a positive integer or None; got {max_run_length!r}"
        )
    _, run_levels, lengths = _runs(_lines(grid, name, levels))
    keep = run_levels != levels
    run_levels, lengths = run_levels[keep], lengths[keep]
    if lengths.max() > max_run_length:
        raise ValueError(
            f"max_run_length={max_run_length} is shorter than the longest run "
            f"({int(lengths.max())} pixels) along {name}; raise it or pass None"
        )
    R = int(max_run_length)
    counts = np.bincount(run_levels * R + (lengths - 1), minlength=levels * R)
    return counts.reshape(levels, R)


def run_length_features(
    image: np.ndarray, mask: np.ndarray, *, levels: int
) -> dict[str, float]:
    r"""MaZda's 20 run-length features of a ROI (Galloway's un-normalised forms).

    For each direction of :data:`RUN_LENGTH_DIRECTIONS`, with :math:`P(g,\ell)`
    the run-length matrix of :func:`run_length_matrix`,
    :math:`C = \sum_{g,\ell} P(g,\ell)` the number of runs and :math:`N` the
    number of ROI pixels:

    .. math::

        \mathrm{RLNonUni} &= \frac{1}{C} \sum_\ell
            \Big(\sum_g P(g,\ell)\Big)^2 \\
        \mathrm{GLevNonU} &= \frac{1}{C} \sum_g
            \Big(\sum_\ell P(g,\ell)\Big)^2 \\
        \mathrm{LngREmph} &= \frac{1}{C} \sum_{g,\ell} \ell^2 P(g,\ell) \\
        \mathrm{ShrtREmp} &= \frac{1}{C} \sum_{g,\ell} \frac{P(g,\ell)}{\ell^2} \\
        \mathrm{Fraction} &= \frac{C}{N}

    Parameters
    ----------
    image : ndarray of shape (n_rows, n_cols)
        Working image: integer grey levels ``0 .. levels - 1`` inside the ROI.
    mask : ndarray of shape (n_rows, n_cols)
        The ROI: nonzero (or True) inside. Pixels outside it are never read.
    levels : int
        Number of grey levels of the working image (64 for MaZda's default 6
        bits; at most 65536). It only bounds the values: the features do not
        depend on the level values at all.

    Returns
    -------
    features : dict of str to float
        Keyed and ordered as :func:`run_length_feature_names`. Every value is
        finite: a non-empty ROI always has at least one run per direction.

    Raises
    ------
    TypeError
        If ``image`` is not numeric or ``levels`` is not an integer.
    ValueError
        If ``image`` is not 2-D, ``mask`` has another shape or is empty, or a
        ROI value is not an integer in ``0 .. levels - 1``.

    See Also
    --------
    run_length_matrix : the matrix of one direction.

    Notes
    -----
    These are Galloway's forms divided by the number of runs, as MaZda and
    IBSI define them (IBSI's SRE, LRE, GLNU, RLNU and RP). ``GLevNonU`` and
    ``RLNonUni`` grow with the ROI; they are not divided by :math:`C` a second
    time (that would be IBSI's *normalised* non-uniformities).

    References
    ----------
    .. [1] M. M. Galloway, "Texture analysis using gray level run lengths",
       Computer Graphics and Image Processing 4(2), 172-179, 1975.
       :doi:`10.1016/S0146-664X(75)80008-6`
    .. [2] P. M. Szczypiński, M. Strzelecki, A. Materka, A. Klepaczko, "MaZda -
       A software package for image texture analysis", Computer Methods and
       Programs in Biomedicine 94(1), 66-76, 2009.
       :doi:`10.1016/j.cmpb.2008.08.005`

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.texture.runlength import run_length_features
    >>> image = np.array([[0, 0, 1, 1],
    ...                   [0, 0, 1, 1],
    ...                   [0, 2, 2, 2],
    ...                   [2, 2, 3, 3]])
    >>> f = run_length_features(image, np.ones((4, 4), bool), levels=4)
    >>> f["Horzl_GLevNonU"], f["Horzl_RLNonUni"], f["Horzl_Fraction"]
    (2.25, 4.75, 0.5)
    >>> round(f["Horzl_LngREmph"], 4), round(f["Horzl_ShrtREmp"], 4)
    (4.25, 0.3264)
    """
    work, mask_c, levels = roi_levels(image, mask, levels, _MAX_LEVELS)
    return _run_length(work, mask_c, levels)


def _run_length(work: np.ndarray, mask_c: np.ndarray, levels: int) -> dict[str, float]:
    """:func:`run_length_features` of a validated crop of levels (0 outside)."""
    by_length, by_level = _run_histograms(work, mask_c, levels)
    ell = np.arange(by_length.shape[1], dtype=np.float64)
    ell[0] = 1.0  # no run has length 0; avoids 1/0 in the unused bin
    inverse = 1.0 / (ell * ell)
    # Every ROI pixel lies in exactly one run of a direction: N = sum l P(l).
    # The sums of whole numbers are exact in any order (so computed for the
    # four directions at once); only ShrtREmp's is not, and keeps one dot per
    # direction.
    n_pixels = int(by_length[0] @ np.arange(by_length.shape[1]))
    n_runs = by_level.sum(axis=1)
    squares_len = (by_length * by_length).sum(axis=1)
    squares_lev = (by_level * by_level).sum(axis=1)
    long_runs = by_length @ (ell * ell)
    values = []
    for k in range(len(by_length)):
        runs = int(n_runs[k])
        values += [
            float(squares_len[k]) / runs,
            float(squares_lev[k]) / runs,
            float(long_runs[k]) / runs,
            float(by_length[k] @ inverse) / runs,
            runs / n_pixels,
        ]
    return dict(zip(_NAMES, values, strict=True))


def _run_histograms(work, mask_c, levels) -> tuple[np.ndarray, np.ndarray]:
    """The number of runs by length (index = length) and by level, per direction.

    Returns ``by_length`` of shape ``(4, longest line + 1)`` and ``by_level``
    of shape ``(4, levels)``, a row per direction of
    :data:`RUN_LENGTH_DIRECTIONS`. With numba installed the counts come from
    one compiled sweep (:mod:`~ceusradiomics.texture._kernels`); otherwise
    from the vectorised run detection below. Both give the same integers in
    arrays of the same shapes, so the features are the same bit for bit.
    """
    kernel = _kernels.compiled("run_histograms_loop")
    if kernel is not None:
        # The loop knows the four directions of RUN_LENGTH_DIRECTIONS, in order.
        n = len(RUN_LENGTH_DIRECTIONS)
        by_length = np.zeros((n, max(work.shape) + 1), dtype=np.int64)
        by_level = np.zeros((n, levels), dtype=np.int64)
        kernel(work, mask_c, by_length, by_level)
        return by_length, by_level
    return _run_histograms_numpy(work, mask_c, levels)


def _run_histograms_numpy(
    work: np.ndarray, mask_c: np.ndarray, levels: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_run_histograms` with numpy only."""
    grid = _grid(work, mask_c, levels)
    # All four directions end to end, so that one pass finds every run.
    parts = [_lines(grid, name, levels) for name in RUN_LENGTH_DIRECTIONS]
    bounds = np.cumsum([0] + [part.size for part in parts])
    flat = np.concatenate(parts)
    starts, run_levels, lengths = _runs(flat)
    # Runs of the sentinel (outside pixels and separators) are few: count
    # them apart and subtract them, rather than filter the long run arrays.
    outside = np.flatnonzero(run_levels == levels)
    cut = np.searchsorted(starts, bounds)
    cut_out = np.searchsorted(outside, cut)
    # Index = length, up to the longest line: the size of the compiled path's
    # histograms, so that both paths give the features the same arrays.
    size = max(work.shape) + 1
    n = len(RUN_LENGTH_DIRECTIONS)
    by_length = np.empty((n, size), dtype=np.int64)
    by_level = np.empty((n, levels), dtype=np.int64)
    for k in range(n):
        lo, hi = cut[k], cut[k + 1]
        counts = np.bincount(lengths[lo:hi], minlength=size)
        counts -= np.bincount(
            lengths[outside[cut_out[k] : cut_out[k + 1]]], minlength=counts.size
        )
        by_length[k] = counts[:size]
        by_level[k] = np.bincount(run_levels[lo:hi], minlength=levels + 1)[:levels]
    return by_length, by_level
