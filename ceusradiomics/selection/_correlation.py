"""Redundancy pruning: drop one feature of every highly correlated pair."""

from __future__ import annotations

from numbers import Real
from typing import ClassVar

import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from sklearn_compat.base import _fit_context
from sklearn_compat.utils.validation import validate_data

__all__ = ["CorrelationPruner", "correlation_matrix"]


def correlation_matrix(X, method: str = "pearson") -> np.ndarray:
    r"""Pearson or Spearman correlation matrix of the columns of ``X``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Data, no NaN.
    method : {"pearson", "spearman"}, default="pearson"
        Pearson's product-moment correlation, or Spearman's rank correlation
        (Pearson's on the column ranks, ties given their average rank).

    Returns
    -------
    corr : ndarray of shape (n_features, n_features)
        Symmetric, with ones on the diagonal. A constant column has no
        defined correlation (0/0); it is reported as 0 with every other
        column.

    Notes
    -----
    .. math::

        r_{ij} = \frac{\sum_s (x_{si} - \bar x_i)(x_{sj} - \bar x_j)}
                      {\sqrt{\sum_s (x_{si} - \bar x_i)^2
                             \sum_s (x_{sj} - \bar x_j)^2}}

    computed as one matrix product of the standardised columns, so it
    equals :func:`numpy.corrcoef` (and :func:`scipy.stats.spearmanr` for
    ``"spearman"``) without the warning on constant columns.

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.selection import correlation_matrix
    >>> X = np.array([[1.0, 2.0, 5.0], [2.0, 4.0, 5.0], [3.0, 7.0, 5.0]])
    >>> np.round(correlation_matrix(X), 3)
    array([[1.   , 0.993, 0.   ],
           [0.993, 1.   , 0.   ],
           [0.   , 0.   , 1.   ]])
    >>> round(float(correlation_matrix(X, method="spearman")[0, 1]), 3)
    1.0
    """
    if method not in ("pearson", "spearman"):
        raise ValueError(f"method must be 'pearson' or 'spearman'; got {method!r}.")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {X.shape}.")
    if method == "spearman":
        X = stats.rankdata(X, axis=0)
    centred = X - X.mean(axis=0)
    norm = np.sqrt(np.einsum("ij,ij->j", centred, centred))
    # A column whose spread is zero, or rounding noise on a constant, has no
    # correlation: give it a zero vector instead of dividing by ~0.
    scale = np.abs(X).max(axis=0, initial=0.0)
    constant = norm <= 1e-12 * np.maximum(scale, 1e-300) * np.sqrt(X.shape[0])
    z = np.divide(centred, norm, out=np.zeros_like(centred), where=~constant)
    corr = z.T @ z
    np.clip(corr, -1.0, 1.0, out=corr)
    np.fill_diagonal(corr, 1.0)
    return corr


#: Pairs sorted and visited per batch in CorrelationPruner.fit.
_BATCH = 1 << 14


def _pairs_above(corr: np.ndarray, threshold: float):
    """Sums of |r| per column and the pairs ``i < j`` with ``|r| > threshold``.

    Reads ``corr`` in blocks of rows instead of building ``|corr|`` and a
    triangular mask of its size. Returns ``(total, rows, cols, strength)``:
    ``total[j]``, the sum over ``i != j`` of ``|r_ij|`` (accumulated row by
    row, as ``np.abs(corr).sum(axis=0)`` with a zero diagonal does), and the
    pairs in row-major order with their ``|r|`` rounded to 12 decimals, so
    that values equal but for floating-point noise (copies of one feature)
    tie.
    """
    n = corr.shape[0]
    step = max(1, (1 << 20) // max(n, 1))
    # Row 0 carries the running sum into the next block, so that the column
    # sums of each block add the rows one after the other, in order.
    buffer = np.zeros((min(step, n) + 1, n))
    total = buffer[0]
    rows, cols, strength = [], [], []
    for start in range(0, n, step):
        stop = min(start + step, n)
        block = buffer[1 : stop - start + 1]
        np.abs(corr[start:stop], out=block)
        block[np.arange(stop - start), np.arange(start, stop)] = 0.0
        # Upper triangle only: column > row, i.e. col - (row - start) > start.
        r, c = np.nonzero(np.triu(block > threshold, k=start + 1))
        rows.append(r + start)
        cols.append(c)
        strength.append(np.round(block[r, c], 12))
        total = np.sum(buffer[: stop - start + 1], axis=0)
        buffer[0] = total
    if not rows:
        empty = np.zeros(0, dtype=np.intp)
        return total, empty, empty.copy(), np.zeros(0)
    return total, np.concatenate(rows), np.concatenate(cols), np.concatenate(strength)


class CorrelationPruner(SelectorMixin, BaseEstimator):
    """Drop redundant features: one of every pair with ``|r| > threshold``.

    Among the pairs of remaining features whose absolute correlation exceeds
    ``threshold``, the pair with the largest ``|r|`` is taken first and the
    feature of that pair with the higher mean absolute correlation to all
    other remaining features is dropped; this repeats until no pair exceeds
    the threshold. The correlation matrix is computed once, in ``fit``, and
    not kept: a fitted pruner holds the pruning's outcome (which features
    stay, and each dropped one with its partner and their ``r``), so it
    pickles small whatever the number of features. Recompute the matrix
    with :func:`correlation_matrix` when you need it.

    Parameters
    ----------
    threshold : float, default=0.6
        Pairs with absolute correlation strictly greater than this are
        redundant; in [0, 1].
    method : {"pearson", "spearman"}, default="pearson"
        Correlation coefficient.

    Attributes
    ----------
    dropped_pairs_ : list of tuple (str, str, float)
        In the order of the pruning, ``(dropped, kept, r)``: the dropped
        feature, the partner it was redundant with, and their correlation
        (signed; its absolute value exceeds ``threshold``). Features are
        named as by ``get_feature_names_out`` (input column names, or
        ``x0``, ``x1``, ... for arrays). The kept features are
        ``get_feature_names_out()`` (``get_support()`` as a mask).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of str of shape (n_features_in_,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    correlation_matrix : The matrix computed in ``fit``, on demand:
        ``correlation_matrix(X, method=pruner.method)``.
    MannWhitneySelector : The step before in the study's chain.

    Notes
    -----
    The rule is that of caret's ``findCorrelation(exact=TRUE)`` with a
    fixed order: pairs are visited by decreasing ``|r|`` (equal ``|r|``, to
    12 decimals: lower column indices first), and a pair whose member was
    already dropped is skipped. The mean absolute correlation is taken over the features
    still present, so it changes as features are dropped. When the two
    means are equal (within a relative 1e-12), the later column is dropped,
    so a pair of identical features keeps the first. A constant feature has
    zero correlation with everything and is never dropped here.

    ``fit`` needs ``8 * n_features**2`` bytes for the matrix, freed when it
    returns; in the study's chain the pruner runs after the univariate test,
    on a few hundred features (the deep branch: a few thousand). The fitted
    pruner no longer holds it (an earlier ``correlation_`` attribute made a
    fitted study stack weigh about 150 MB).

    References
    ----------
    .. [1] M. Kuhn, "Building predictive models in R using the caret
           package", J. Stat. Softw. 28(5), 1-26, 2008.
           :doi:`10.18637/jss.v028.i05`

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.selection import CorrelationPruner, correlation_matrix
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(2, 50))
    >>> X = np.column_stack([a, a + 0.5 * b, b, 2 * b])
    >>> pruner = CorrelationPruner(threshold=0.6).fit(X)
    >>> pruner.get_support()
    array([ True, False,  True, False])
    >>> [(drop, keep, round(r, 3)) for drop, keep, r in pruner.dropped_pairs_]
    [('x3', 'x2', 1.0), ('x1', 'x0', 0.863)]
    >>> pruner.get_feature_names_out()
    array(['x0', 'x2'], dtype=object)
    >>> round(float(correlation_matrix(X, method=pruner.method)[0, 1]), 3)
    0.863

    ``x2`` and ``x3`` are the same feature: equal mean correlation, so the
    later one goes. Of ``x0`` and ``x1``, ``x1`` goes: it also correlates
    with ``x2``.
    """

    _parameter_constraints: ClassVar[dict] = {
        "threshold": [Interval(Real, 0, 1, closed="both")],
        "method": [StrOptions({"pearson", "spearman"})],
    }

    def __init__(self, threshold: float = 0.6, method: str = "pearson"):
        self.threshold = threshold
        self.method = method

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Decide which features to drop, from their correlation matrix.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Feature table, no NaN.
        y : None
            Ignored.

        Returns
        -------
        self : CorrelationPruner
            The fitted pruner.
        """
        X = validate_data(self, X, dtype=np.float64)
        corr = correlation_matrix(X, method=self.method)
        names = getattr(self, "feature_names_in_", [f"x{i}" for i in range(X.shape[1])])
        total, rows, cols, strength = _pairs_above(corr, self.threshold)

        # Visiting the pairs above the threshold in decreasing |r| once is the
        # same as repeatedly taking the strongest remaining pair: dropping a
        # feature only removes pairs, it never changes another pair's r.
        # ``total`` is each feature's sum of |r| to the remaining features; the
        # mean has the same denominator for both members of a pair, so sums
        # compare alike.
        keep = np.ones(corr.shape[0], dtype=bool)
        dropped_pairs = []
        while rows.size:
            # The strongest pairs first, a batch at a time: sorting only the
            # batch, then forgetting the pairs that lost a member, costs far
            # less than sorting the millions of pairs of a wide, redundant
            # table (most of which lose a member early). The batch takes every
            # pair at least as strong as its weakest, so ties are never split.
            if rows.size > _BATCH:
                cut = np.partition(strength, rows.size - _BATCH)[rows.size - _BATCH]
                batch = strength >= cut
                head = np.flatnonzero(batch)
            else:
                batch = None
                head = np.arange(rows.size)
            # Stable: equal |r| stay in row-major order, lower indices first.
            head = head[np.argsort(-strength[head], kind="stable")]
            for i, j in zip(rows[head].tolist(), cols[head].tolist(), strict=True):
                if not (keep[i] and keep[j]):
                    continue
                tol = 1e-12 * max(total[i], total[j])
                drop, stay = (i, j) if total[i] - total[j] > tol else (j, i)
                keep[drop] = False
                # corr is exactly symmetric: row ``drop`` is its column.
                lost = np.abs(corr[drop])
                lost[drop] = 0.0
                total -= lost
                dropped_pairs.append(
                    (str(names[drop]), str(names[stay]), float(corr[drop, stay]))
                )
            if batch is None:
                break
            left = ~batch & keep[rows] & keep[cols]
            rows, cols, strength = rows[left], cols[left], strength[left]
        # Only the outcome is kept: the n x n matrix would make the fitted
        # pruner (and a stack holding it) weigh 8 n^2 bytes.
        self.dropped_pairs_ = dropped_pairs
        self._keep = keep
        return self

    def _get_support_mask(self):
        check_is_fitted(self)
        return self._keep
