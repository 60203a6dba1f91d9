"""Evaluation of binary risk models the way a clinical journal reports them.

* discrimination: the ROC AUC with a DeLong or bootstrap confidence interval
  (:func:`roc_auc_ci`) and DeLong's test for two correlated AUCs
  (:func:`delong_test`);
* classification at a threshold: accuracy, sensitivity, specificity, PPV and
  NPV with Wilson score intervals (:func:`binary_report`), at a given
  threshold or at Youden's optimum found on training data
  (:func:`youden_threshold`);
* calibration: the calibration intercept and slope
  (:func:`calibration_intercept_slope`) next to scikit-learn's
  :func:`~sklearn.calibration.calibration_curve`, re-exported here;
* clinical usefulness: net benefit and the decision curve
  (:func:`net_benefit`, :func:`decision_curve`).

Only numpy, scipy, pandas and scikit-learn are used; the figures live in
:mod:`ceusradiomics.plotting`.

Labels follow scikit-learn: ``y_true`` holds two classes, the positive one
being ``1`` (for labels in {0, 1} or {-1, 1}) or ``pos_label``; scores and
probabilities are those of the positive class, higher meaning more likely
positive.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import special, stats
from sklearn.calibration import calibration_curve
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn_compat.utils._param_validation import validate_params

from ceusradiomics.exceptions import DegenerateStatisticWarning

__all__ = [
    "AUCResult",
    "BinaryReport",
    "CalibrationResult",
    "DeLongResult",
    "binary_report",
    "calibration_curve",
    "calibration_intercept_slope",
    "decision_curve",
    "delong_test",
    "net_benefit",
    "roc_auc_ci",
    "wilson_interval",
    "youden_threshold",
]

_POS_LABEL = [Real, str, "boolean", None]
_ALPHA = [Interval(Real, 0, 1, closed="neither")]

# Logits of probabilities of exactly 0 or 1 are infinite; such values are
# common (random forests) and are clipped to [eps, 1 - eps] for calibration.
_PROBA_EPS = 1e-8


# --------------------------------------------------------------------------
# input validation shared by the public functions
# --------------------------------------------------------------------------
def _binary_target(y_true, pos_label, *, needs_both: str | None) -> np.ndarray:
    """Validate ``y_true`` and return the boolean mask of the positive class.

    ``needs_both`` names what needs both classes ("AUC", ...) in the error
    raised when ``y_true`` holds one class only; None allows one class.
    """
    y = np.asarray(y_true)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(
            f"y_true must be 1-D (one label per case); got an array of shape {y.shape}."
        )
    if y.size == 0:
        raise ValueError("y_true is empty; at least one case is needed.")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError(
            f"y_true must not contain NaN or infinite values; got "
            f"{int((~np.isfinite(y)).sum())} of them. Drop the unlabelled cases."
        )
    classes = np.unique(y)
    shown = classes[:10].tolist()
    if classes.size > 2:
        raise ValueError(
            f"y_true must be binary; got {classes.size} classes {shown}"
            f"{' ...' if classes.size > 10 else ''}."
        )
    if pos_label is None:
        numeric = y.dtype.kind in "biuf"
        if not numeric or not (
            np.isin(classes, [0, 1]).all() or np.isin(classes, [-1, 1]).all()
        ):
            raise ValueError(
                f"y_true has labels {shown}, not {{0, 1}} or {{-1, 1}}; pass "
                f"pos_label to say which one is the positive class."
            )
        pos_label = 1
    elif classes.size == 2 and pos_label not in shown:
        raise ValueError(
            f"pos_label={pos_label!r} is not one of the labels of y_true {shown}."
        )
    if needs_both is not None and classes.size < 2:
        raise ValueError(
            f"y_true has only one class ({shown[0]!r}): {needs_both} needs both "
            f"classes."
        )
    return y == pos_label


def _check_scores(values, name: str, n_cases: int, *, probability: bool):
    """Return ``values`` as a finite float64 vector of length ``n_cases``."""
    try:
        s = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} must be numeric (one score per case); got "
            f"{type(values).__name__} that cannot be converted to float."
        ) from err
    if s.ndim == 2 and s.shape[1] == 1:
        s = s.ravel()
    if s.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D (one score per case); got an array of shape "
            f"{s.shape}. For predict_proba output pass the positive column, "
            f"e.g. proba[:, 1]."
        )
    if s.shape[0] != n_cases:
        raise ValueError(
            f"y_true and {name} must have the same length; got {n_cases} and "
            f"{s.shape[0]}."
        )
    bad = ~np.isfinite(s)
    if bad.any():
        raise ValueError(
            f"{name} must be finite; got {int(bad.sum())} NaN or infinite "
            f"value(s), the first at position {int(np.flatnonzero(bad)[0])}."
        )
    if probability and (s.min() < 0.0 or s.max() > 1.0):
        raise ValueError(
            f"{name} must hold probabilities in [0, 1]; got values from "
            f"{s.min():.6g} to {s.max():.6g}. Pass predict_proba output, not "
            f"decision_function scores."
        )
    return s


def _check_thresholds(thresholds) -> np.ndarray:
    """Return decision-curve thresholds as a 1-D float64 array in (0, 1)."""
    try:
        t = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"thresholds must be numbers in (0, 1); got "
            f"{type(thresholds).__name__} that cannot be converted to float."
        ) from err
    if t.ndim != 1 or t.size == 0:
        raise ValueError(
            f"thresholds must be a non-empty 1-D sequence; got shape {t.shape}."
        )
    if not (np.isfinite(t).all() and (t > 0).all() and (t < 1).all()):
        raise ValueError(
            f"thresholds must lie strictly between 0 and 1 (the weight "
            f"pt / (1 - pt) is infinite at 1); got values from {np.min(t):.6g} "
            f"to {np.max(t):.6g}."
        )
    return t


def _z_value(alpha: float) -> float:
    """Two-sided standard normal quantile for a ``1 - alpha`` interval."""
    return float(stats.norm.isf(alpha / 2.0))


# --------------------------------------------------------------------------
# discrimination: AUC, DeLong variance, bootstrap, DeLong test
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class AUCResult:
    """ROC AUC with its confidence interval, from :func:`roc_auc_ci`.

    Attributes
    ----------
    auc : float
        Area under the ROC curve (the Mann-Whitney probability
        :math:`P(X > Y) + P(X = Y) / 2`).
    ci_lower, ci_upper : float
        Bounds of the ``1 - alpha`` confidence interval, within [0, 1].
    std_error : float
        Standard error of the AUC: DeLong's, or the standard deviation of
        the bootstrap replicates.
    method : {"delong", "bootstrap"}
        How the interval was computed.
    alpha : float
        One minus the confidence level.
    """

    auc: float
    ci_lower: float
    ci_upper: float
    std_error: float
    method: str
    alpha: float

    def __str__(self) -> str:
        """Format as ``0.774 (95% CI 0.690-0.858)``, as in a results table."""
        level = f"{100 * (1 - self.alpha):g}%"
        return f"{self.auc:.3f} ({level} CI {self.ci_lower:.3f}-{self.ci_upper:.3f})"


@dataclass(frozen=True, eq=False)
class DeLongResult:
    r"""DeLong's test of two correlated AUCs, from :func:`delong_test`.

    Attributes
    ----------
    auc_a, auc_b : float
        The two AUCs.
    difference : float
        ``auc_a - auc_b``.
    std_error : float
        Standard error of the difference,
        :math:`\sqrt{S_{aa} + S_{bb} - 2 S_{ab}}`.
    z : float
        ``difference / std_error``.
    p_value : float
        Two-sided p-value, :math:`2 (1 - \Phi(|z|))`.
    covariance : ndarray of shape (2, 2)
        DeLong's covariance matrix :math:`S` of ``(auc_a, auc_b)``.
    """

    auc_a: float
    auc_b: float
    difference: float
    std_error: float
    z: float
    p_value: float
    covariance: np.ndarray


def _structural_components(pos: np.ndarray, neg: np.ndarray):
    """AUCs and DeLong's structural components by midranks (Sun & Xu 2014).

    ``pos`` is (k, m) and ``neg`` (k, n): the scores of k classifiers on the
    m positive and n negative cases. Returns ``auc`` (k,), ``v10`` (k, m) and
    ``v01`` (k, n), with ``v10[r, i]`` the fraction of negatives that
    positive i outranks under classifier r (ties count 1/2), and ``v01[r, j]``
    the fraction of positives that outrank negative j.
    """
    m, n = pos.shape[1], neg.shape[1]
    # The midrank of a case among all cases minus its midrank within its own
    # class counts the cases of the other class below it (ties count 1/2):
    # m + n ranks replace the m * n comparisons of the direct definition.
    t_pos = stats.rankdata(pos, axis=1)
    t_neg = stats.rankdata(neg, axis=1)
    t_all = stats.rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    v10 = (t_all[:, :m] - t_pos) / n
    v01 = 1.0 - (t_all[:, m:] - t_neg) / m
    auc = (t_all[:, :m].sum(axis=1) - m * (m + 1) / 2.0) / (m * n)
    return auc, v10, v01


def _delong_covariance(v10: np.ndarray, v01: np.ndarray) -> np.ndarray:
    """DeLong's covariance ``S10 / m + S01 / n`` of k AUCs, shape (k, k)."""
    m, n = v10.shape[1], v01.shape[1]
    s10 = np.atleast_2d(np.cov(v10, ddof=1))
    s01 = np.atleast_2d(np.cov(v01, ddof=1))
    return s10 / m + s01 / n


def _check_delong_sizes(positive: np.ndarray) -> None:
    m = int(positive.sum())
    n = positive.size - m
    if m < 2 or n < 2:
        raise ValueError(
            f"DeLong's variance needs at least 2 positive and 2 negative cases; "
            f"got {m} positive and {n} negative. Use method='bootstrap' or more "
            f"cases."
        )


def _resampled_aucs(
    pos: np.ndarray, neg: np.ndarray, pos_idx: np.ndarray, neg_idx: np.ndarray
) -> np.ndarray:
    """AUCs of resamples given by index arrays (b, m) into ``pos``, (b, n) into ``neg``.

    A resample only reweights the original cases, so nothing is re-ranked:
    with the negatives sorted once, each original positive's count of
    negatives below it (ties 1/2) in a resample is a difference of the
    cumulative resample counts, and the AUC is the count-weighted mean over
    the positives. O(b (m + n)) instead of sorting every resample.
    """
    b, m, n = pos_idx.shape[0], pos.size, neg.size
    order = np.argsort(neg, kind="stable")
    sorted_neg = neg[order]
    position = np.empty(n, dtype=np.intp)
    position[order] = np.arange(n)
    below = np.searchsorted(sorted_neg, pos, side="left")
    below_or_tied = np.searchsorted(sorted_neg, pos, side="right")

    rows = np.arange(b)[:, None]
    neg_counts = np.bincount(
        (position[neg_idx] + n * rows).ravel(), minlength=b * n
    ).reshape(b, n)
    cumulative = np.zeros((b, n + 1))
    np.cumsum(neg_counts, axis=1, out=cumulative[:, 1:])
    beaten = 0.5 * (cumulative[:, below] + cumulative[:, below_or_tied])
    pos_counts = np.bincount((pos_idx + m * rows).ravel(), minlength=b * m).reshape(
        b, m
    )
    return np.einsum("ij,ij->i", pos_counts, beaten) / (m * n)


def _bootstrap_aucs(
    pos: np.ndarray, neg: np.ndarray, n_bootstraps: int, random_state
) -> np.ndarray:
    """AUCs of stratified bootstrap resamples (positives and negatives apart)."""
    rng = check_random_state(random_state)
    m, n = pos.size, neg.size
    aucs = np.empty(n_bootstraps, dtype=np.float64)
    # Blocks of replicates at once, in chunks that bound memory.
    chunk = max(1, 2**20 // (m + n))
    for start in range(0, n_bootstraps, chunk):
        size = min(chunk, n_bootstraps - start)
        pos_idx = rng.randint(0, m, size=(size, m))
        neg_idx = rng.randint(0, n, size=(size, n))
        aucs[start : start + size] = _resampled_aucs(pos, neg, pos_idx, neg_idx)
    return aucs


@validate_params(
    {
        "y_true": ["array-like"],
        "y_score": ["array-like"],
        "method": [StrOptions({"delong", "bootstrap"})],
        "alpha": _ALPHA,
        "n_bootstraps": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
        "pos_label": _POS_LABEL,
    },
    prefer_skip_nested_validation=True,
)
def roc_auc_ci(
    y_true,
    y_score,
    *,
    method: str = "delong",
    alpha: float = 0.05,
    n_bootstraps: int = 2000,
    random_state=None,
    pos_label=None,
) -> AUCResult:
    r"""ROC AUC with a DeLong or stratified bootstrap confidence interval.

    The AUC is the Mann-Whitney probability that a positive case scores
    higher than a negative one, ties counting one half; it equals
    :func:`sklearn.metrics.roc_auc_score`. Its variance is DeLong's [1]_,
    computed by the fast midrank algorithm of Sun & Xu [2]_ (the algorithm of
    R's pROC), or estimated by a stratified percentile bootstrap.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels.
    y_score : array-like of shape (n_samples,)
        Scores of the positive class: probabilities or any monotone score
        such as ``decision_function`` output. No NaN.
    method : {"delong", "bootstrap"}, default="delong"
        ``"delong"``: Wald interval :math:`\hat A \pm z_{1-\alpha/2}\,
        \widehat{SE}` with DeLong's standard error, clipped to [0, 1].
        ``"bootstrap"``: percentile interval of the AUCs of
        ``n_bootstraps`` resamples drawn with replacement within each class,
        so that every resample has the observed class sizes.
    alpha : float, default=0.05
        One minus the confidence level (0.05 gives a 95% interval).
    n_bootstraps : int, default=2000
        Number of bootstrap resamples (``method="bootstrap"`` only).
    random_state : int, RandomState instance or None, default=None
        Seed of the bootstrap (``method="bootstrap"`` only). Pass an int for
        reproducible intervals.
    pos_label : int, float, bool or str, default=None
        Label of the positive class; None means 1 for labels in {0, 1} or
        {-1, 1}.

    Returns
    -------
    result : AUCResult
        ``auc``, ``ci_lower``, ``ci_upper``, ``std_error``, ``method`` and
        ``alpha``; ``str(result)`` gives ``"0.774 (95% CI 0.690-0.858)"``.

    Raises
    ------
    ValueError
        If ``y_true`` has one class only, if the lengths differ, if
        ``y_score`` has NaN, or, for DeLong, if a class has fewer than two
        cases.

    See Also
    --------
    delong_test : Compare two AUCs measured on the same cases.
    sklearn.metrics.roc_auc_score : The AUC alone.

    Notes
    -----
    With :math:`m` positives scoring :math:`X_i` and :math:`n` negatives
    scoring :math:`Y_j`, and :math:`\psi(x, y) = 1, 1/2, 0` for
    :math:`x >, =, < y`, DeLong's structural components are

    .. math::

        V_{10}(X_i) = \frac{1}{n} \sum_j \psi(X_i, Y_j), \qquad
        V_{01}(Y_j) = \frac{1}{m} \sum_i \psi(X_i, Y_j),

    the AUC is their mean and its variance is
    :math:`S_{10}/m + S_{01}/n`, with :math:`S_{10}, S_{01}` their sample
    variances (denominators :math:`m - 1` and :math:`n - 1`). Sun & Xu
    obtain the components from midranks, :math:`V_{10}(X_i) = (T_Z(X_i) -
    T_X(X_i)) / n`, with :math:`T_Z` the midrank among all cases and
    :math:`T_X` among the positives, in :math:`O((m + n) \log(m + n))`.

    The interval is kept on the AUC scale and clipped to [0, 1], as pROC
    does, so that it is comparable with published tables; it is
    symmetric around the AUC and degenerates to [1, 1] when the classes are
    perfectly separated (the standard error is then 0). The bootstrap
    interval does not have these artefacts but is random; seed it.

    References
    ----------
    .. [1] E. R. DeLong, D. M. DeLong and D. L. Clarke-Pearson, "Comparing
           the areas under two or more correlated receiver operating
           characteristic curves: a nonparametric approach", Biometrics
           44(3), 837-845, 1988. :doi:`10.2307/2531595`
    .. [2] X. Sun and W. Xu, "Fast implementation of DeLong's algorithm for
           comparing the areas under correlated receiver operating
           characteristic curves", IEEE Signal Processing Letters 21(11),
           1389-1393, 2014. :doi:`10.1109/LSP.2014.2337313`
    .. [3] B. Efron and R. J. Tibshirani, "An Introduction to the
           Bootstrap", Chapman & Hall, 1993.

    Examples
    --------
    >>> from ceusradiomics.metrics import roc_auc_ci
    >>> y = [0, 0, 0, 0, 1, 1, 1, 1]
    >>> score = [0.1, 0.3, 0.4, 0.6, 0.35, 0.7, 0.8, 0.9]
    >>> res = roc_auc_ci(y, score)
    >>> print(res)
    0.875 (95% CI 0.592-1.000)
    >>> round(res.std_error, 4)
    0.1443
    >>> boot = roc_auc_ci(y, score, method="bootstrap", random_state=0)
    >>> boot.auc == res.auc
    True
    """
    positive = _binary_target(y_true, pos_label, needs_both="AUC")
    score = _check_scores(y_score, "y_score", positive.size, probability=False)
    pos, neg = score[positive], score[~positive]
    z = _z_value(alpha)

    if method == "delong":
        _check_delong_sizes(positive)
        auc, v10, v01 = _structural_components(pos[None, :], neg[None, :])
        auc = float(auc[0])
        std_error = float(np.sqrt(_delong_covariance(v10, v01)[0, 0]))
        lower = max(0.0, auc - z * std_error)
        upper = min(1.0, auc + z * std_error)
    else:
        auc = float(_structural_components(pos[None, :], neg[None, :])[0][0])
        aucs = _bootstrap_aucs(pos, neg, n_bootstraps, random_state)
        lower, upper = (float(q) for q in np.quantile(aucs, [alpha / 2, 1 - alpha / 2]))
        std_error = float(aucs.std(ddof=1))
    return AUCResult(
        auc=auc,
        ci_lower=float(lower),
        ci_upper=float(upper),
        std_error=std_error,
        method=method,
        alpha=float(alpha),
    )


@validate_params(
    {
        "y_true": ["array-like"],
        "score_a": ["array-like"],
        "score_b": ["array-like"],
        "pos_label": _POS_LABEL,
    },
    prefer_skip_nested_validation=True,
)
def delong_test(y_true, score_a, score_b, *, pos_label=None) -> DeLongResult:
    r"""DeLong's test for the difference of two correlated ROC AUCs.

    Two models scored on the same cases give correlated AUCs; DeLong's
    nonparametric covariance [1]_, computed by midranks [2]_, gives the
    standard error of their difference and a two-sided z test of
    :math:`H_0: A_a = A_b`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels.
    score_a, score_b : array-like of shape (n_samples,)
        Scores of the positive class by the two models, on the same cases
        in the same order.
    pos_label : int, float, bool or str, default=None
        Label of the positive class; None means 1 for labels in {0, 1} or
        {-1, 1}.

    Returns
    -------
    result : DeLongResult
        ``auc_a``, ``auc_b``, ``difference``, ``std_error``, ``z``,
        ``p_value`` and the 2 x 2 ``covariance``.

    Raises
    ------
    ValueError
        If ``y_true`` has one class only or a class has fewer than two
        cases, if the lengths differ or if a score is NaN.

    See Also
    --------
    roc_auc_ci : One AUC with its confidence interval.

    Notes
    -----
    With the covariance :math:`S = S_{10}/m + S_{01}/n` of the structural
    components of both models (see :func:`roc_auc_ci`),

    .. math::

        z = \frac{\hat A_a - \hat A_b}
                 {\sqrt{S_{aa} + S_{bb} - 2 S_{ab}}}, \qquad
        p = 2\,(1 - \Phi(|z|)).

    The denominator is computed as the variance of the differences of the
    components, which is the same quantity without cancellation error.
    When it is zero (identical scores, or rankings that differ nowhere) and
    the AUCs are equal, ``z = 0`` and ``p = 1``; when it is zero and the
    AUCs differ (a handful of lesions), the test is undefined: ``z`` and
    ``p`` are NaN, with a
    :class:`~ceusradiomics.exceptions.DegenerateStatisticWarning`.

    References
    ----------
    .. [1] E. R. DeLong, D. M. DeLong and D. L. Clarke-Pearson, "Comparing
           the areas under two or more correlated receiver operating
           characteristic curves: a nonparametric approach", Biometrics
           44(3), 837-845, 1988. :doi:`10.2307/2531595`
    .. [2] X. Sun and W. Xu, "Fast implementation of DeLong's algorithm for
           comparing the areas under correlated receiver operating
           characteristic curves", IEEE Signal Processing Letters 21(11),
           1389-1393, 2014. :doi:`10.1109/LSP.2014.2337313`

    Examples
    --------
    >>> from ceusradiomics.metrics import delong_test
    >>> y = [0, 0, 0, 0, 1, 1, 1, 1]
    >>> a = [0.1, 0.3, 0.4, 0.6, 0.35, 0.7, 0.8, 0.9]
    >>> b = [0.2, 0.5, 0.1, 0.7, 0.6, 0.4, 0.9, 0.3]
    >>> res = delong_test(y, a, b)
    >>> round(res.auc_a, 4), round(res.auc_b, 4)
    (0.875, 0.6875)
    >>> round(res.z, 3), round(res.p_value, 3)
    (0.707, 0.48)
    """
    positive = _binary_target(y_true, pos_label, needs_both="DeLong's test")
    a = _check_scores(score_a, "score_a", positive.size, probability=False)
    b = _check_scores(score_b, "score_b", positive.size, probability=False)
    _check_delong_sizes(positive)
    scores = np.stack([a, b])
    auc, v10, v01 = _structural_components(scores[:, positive], scores[:, ~positive])
    covariance = _delong_covariance(v10, v01)
    m, n = v10.shape[1], v01.shape[1]
    variance = np.var(v10[0] - v10[1], ddof=1) / m + np.var(v01[0] - v01[1], ddof=1) / n
    difference = float(auc[0] - auc[1])
    std_error = float(np.sqrt(max(variance, 0.0)))
    if std_error > 0:
        z = difference / std_error
    elif difference == 0:
        z = 0.0  # the same ranking: nothing to test
    else:
        # AUCs that differ with no variance at all: too few lesions (or
        # ties) for the asymptotic test, not an infinitely strong result.
        warnings.warn(
            f"DeLong's test is undefined here: the AUCs differ ({auc[0]:.3f} vs "
            f"{auc[1]:.3f}) but the variance of their difference is 0 (with "
            f"{m} positive and {n} negative lesions); z and p are NaN",
            DegenerateStatisticWarning,
            stacklevel=3,
        )
        z = float("nan")
    p_value = float(2.0 * stats.norm.sf(abs(z)))
    return DeLongResult(
        auc_a=float(auc[0]),
        auc_b=float(auc[1]),
        difference=difference,
        std_error=std_error,
        z=float(z),
        p_value=min(p_value, 1.0),
        covariance=covariance,
    )


# --------------------------------------------------------------------------
# classification at a threshold
# --------------------------------------------------------------------------
@validate_params(
    {
        "successes": ["array-like", Integral],
        "total": ["array-like", Integral],
        "alpha": _ALPHA,
    },
    prefer_skip_nested_validation=True,
)
def wilson_interval(successes, total, *, alpha: float = 0.05):
    r"""Wilson score confidence interval of a binomial proportion.

    Vectorised over arrays of counts; where ``total`` is 0 the proportion is
    undefined and both bounds are NaN.

    Parameters
    ----------
    successes : int or array-like of int
        Number of successes :math:`k`, :math:`0 \le k \le n`.
    total : int or array-like of int
        Number of trials :math:`n \ge 0`, broadcastable with ``successes``.
    alpha : float, default=0.05
        One minus the confidence level.

    Returns
    -------
    lower, upper : ndarray of float64
        Bounds of the interval, in [0, 1], shaped like the broadcast inputs.

    Raises
    ------
    ValueError
        If a count is negative, not an integer, or ``successes > total``.

    Notes
    -----
    With :math:`\hat p = k / n` and :math:`z = z_{1-\alpha/2}`,

    .. math::

        \frac{\hat p + \frac{z^2}{2n}}{1 + \frac{z^2}{n}} \pm
        \frac{z}{1 + \frac{z^2}{n}}
        \sqrt{\frac{\hat p (1 - \hat p)}{n} + \frac{z^2}{4 n^2}}.

    It is the interval of
    ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``, written
    out here because scipy's is one proportion at a time and refuses
    :math:`n = 0`. Unlike the Wald interval it stays inside [0, 1] and keeps
    its coverage for small :math:`n` and proportions near 0 or 1 [2]_, which
    is the case of sensitivities near 1 in small cohorts.

    References
    ----------
    .. [1] E. B. Wilson, "Probable inference, the law of succession, and
           statistical inference", Journal of the American Statistical
           Association 22(158), 209-212, 1927. :doi:`10.2307/2276774`
    .. [2] L. D. Brown, T. T. Cai and A. DasGupta, "Interval estimation for
           a binomial proportion", Statistical Science 16(2), 101-133, 2001.
           :doi:`10.1214/ss/1009213286`

    Examples
    --------
    >>> from ceusradiomics.metrics import wilson_interval
    >>> lower, upper = wilson_interval(8, 10)
    >>> round(float(lower), 4), round(float(upper), 4)
    (0.4902, 0.9433)
    >>> wilson_interval([0, 5], [5, 5])[1].round(4)
    array([0.4345, 1.    ])
    """
    k = np.asarray(successes)
    n = np.asarray(total)
    for name, arr in (("successes", k), ("total", n)):
        if arr.dtype.kind not in "biuf" or (
            arr.dtype.kind == "f"
            and not (np.isfinite(arr).all() and (arr == np.round(arr)).all())
        ):
            raise ValueError(f"{name} must hold whole counts; got {arr.tolist()!r}.")
        if (arr < 0).any():
            raise ValueError(f"{name} must hold counts >= 0; got {arr.tolist()!r}.")
    k, n = np.broadcast_arrays(k.astype(np.float64), n.astype(np.float64))
    if (k > n).any():
        raise ValueError(
            f"successes must not exceed total; got successes {k.tolist()!r} and "
            f"total {n.tolist()!r}."
        )
    z2 = _z_value(alpha) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1.0 + z2 / n
        center = (p + z2 / (2.0 * n)) / denom
        half = np.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) * np.sqrt(z2) / denom
    empty = n == 0
    lower = np.where(empty, np.nan, np.clip(center - half, 0.0, 1.0))
    upper = np.where(empty, np.nan, np.clip(center + half, 0.0, 1.0))
    return lower, upper


_REPORT_METRICS = ("accuracy", "sensitivity", "specificity", "ppv", "npv")


@dataclass(frozen=True)
class BinaryReport:
    """Confusion counts at a threshold and the metrics derived from them.

    Returned by :func:`binary_report`. The metrics are properties (NaN when
    their denominator is 0); :meth:`to_frame` tabulates them with their
    Wilson intervals.

    Attributes
    ----------
    threshold : float
        A case is called positive when its probability is ``>= threshold``.
    tp, fp, tn, fn : int
        True positives, false positives, true negatives, false negatives.
    alpha : float
        One minus the confidence level of the intervals.
    """

    threshold: float
    tp: int
    fp: int
    tn: int
    fn: int
    alpha: float = 0.05

    def _fractions(self) -> dict[str, tuple[int, int]]:
        return {
            "accuracy": (self.tp + self.tn, self.tp + self.fp + self.tn + self.fn),
            "sensitivity": (self.tp, self.tp + self.fn),
            "specificity": (self.tn, self.tn + self.fp),
            "ppv": (self.tp, self.tp + self.fp),
            "npv": (self.tn, self.tn + self.fn),
        }

    def _ratio(self, name: str) -> float:
        k, n = self._fractions()[name]
        return k / n if n else float("nan")

    @property
    def n(self) -> int:
        """Number of cases."""
        return self.tp + self.fp + self.tn + self.fn

    @property
    def accuracy(self) -> float:
        """``(tp + tn) / n``."""
        return self._ratio("accuracy")

    @property
    def sensitivity(self) -> float:
        """``tp / (tp + fn)``, the true positive rate (recall)."""
        return self._ratio("sensitivity")

    @property
    def specificity(self) -> float:
        """``tn / (tn + fp)``, the true negative rate."""
        return self._ratio("specificity")

    @property
    def ppv(self) -> float:
        """``tp / (tp + fp)``, the positive predictive value (precision)."""
        return self._ratio("ppv")

    @property
    def npv(self) -> float:
        """``tn / (tn + fn)``, the negative predictive value."""
        return self._ratio("npv")

    def to_frame(self) -> pd.DataFrame:
        """Tabulate the five metrics with their Wilson intervals.

        Returns
        -------
        table : pandas.DataFrame
            Index ``accuracy, sensitivity, specificity, ppv, npv``; columns
            ``estimate, ci_lower, ci_upper, successes, total``.
        """
        fractions = self._fractions()
        k = np.array([fractions[m][0] for m in _REPORT_METRICS])
        n = np.array([fractions[m][1] for m in _REPORT_METRICS])
        lower, upper = wilson_interval(k, n, alpha=self.alpha)
        with np.errstate(divide="ignore", invalid="ignore"):
            estimate = np.where(n > 0, k / np.maximum(n, 1), np.nan)
        return pd.DataFrame(
            {
                "estimate": estimate,
                "ci_lower": lower,
                "ci_upper": upper,
                "successes": k,
                "total": n,
            },
            index=pd.Index(_REPORT_METRICS, name="metric"),
        )


@validate_params(
    {"y_true": ["array-like"], "y_score": ["array-like"], "pos_label": _POS_LABEL},
    prefer_skip_nested_validation=True,
)
def youden_threshold(y_true, y_score, *, pos_label=None) -> float:
    r"""Threshold that maximises Youden's index, sensitivity + specificity - 1.

    Choose it on the training data and pass it unchanged to
    :func:`binary_report` on the test data; choosing it on the test data
    overstates the test performance.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels.
    y_score : array-like of shape (n_samples,)
        Probabilities or scores of the positive class.
    pos_label : int, float, bool or str, default=None
        Label of the positive class; None means 1 for labels in {0, 1} or
        {-1, 1}.

    Returns
    -------
    threshold : float
        One of the observed scores: the lowest one called positive at the
        optimum, with the rule ``score >= threshold``.

    Raises
    ------
    ValueError
        If ``y_true`` has one class only, if the lengths differ or if a
        score is NaN.

    Notes
    -----
    :math:`J(t) = \mathrm{TPR}(t) - \mathrm{FPR}(t)` is evaluated at every
    distinct score (the points of :func:`sklearn.metrics.roc_curve`), in
    exact integer arithmetic. Ties of the maximum are resolved towards the
    highest threshold (the most specific operating point). The returned
    value is an observed score rather than a midpoint between two scores,
    so that on the training data
    ``binary_report(y, p, threshold=youden_threshold(y, p))`` reproduces the
    optimum exactly.

    References
    ----------
    .. [1] W. J. Youden, "Index for rating diagnostic tests", Cancer 3(1),
           32-35, 1950.
           :doi:`10.1002/1097-0142(1950)3:1<32::AID-CNCR2820030106>3.0.CO;2-3`

    Examples
    --------
    >>> from ceusradiomics.metrics import youden_threshold
    >>> y = [0, 0, 0, 1, 0, 1, 1, 1]
    >>> p = [0.1, 0.2, 0.3, 0.35, 0.4, 0.6, 0.7, 0.9]
    >>> youden_threshold(y, p)
    0.6
    """
    positive = _binary_target(y_true, pos_label, needs_both="Youden's index")
    score = _check_scores(y_score, "y_score", positive.size, probability=False)
    # The ROC points of roc_curve, but with J scaled by m * n to an integer,
    # tp * n - fp * m: float rates would break exact ties (2/3 - 0 is not
    # 1 - 1/3 in floating point) in an arbitrary direction.
    order = np.argsort(-score, kind="stable")
    sorted_score, sorted_positive = score[order], positive[order]
    last_of_value = np.r_[sorted_score[1:] != sorted_score[:-1], True]
    tp = np.cumsum(sorted_positive)[last_of_value]
    fp = (np.arange(1, score.size + 1) - np.cumsum(sorted_positive))[last_of_value]
    m = int(positive.sum())
    j_scaled = tp * (positive.size - m) - fp * m
    # argmax takes the first maximum: the highest threshold among ties.
    return float(sorted_score[last_of_value][int(np.argmax(j_scaled))])


@validate_params(
    {
        "y_true": ["array-like"],
        "y_proba": ["array-like"],
        "threshold": [Interval(Real, 0, 1, closed="both"), StrOptions({"youden"})],
        "alpha": _ALPHA,
        "pos_label": _POS_LABEL,
    },
    prefer_skip_nested_validation=True,
)
def binary_report(
    y_true,
    y_proba,
    *,
    threshold: float | str = 0.5,
    alpha: float = 0.05,
    pos_label=None,
) -> BinaryReport:
    r"""Accuracy, sensitivity, specificity, PPV and NPV with Wilson intervals.

    The cases with ``y_proba >= threshold`` are called positive; the counts
    of the confusion matrix give the five proportions of the study's
    Table 2, each with a Wilson score interval (:func:`wilson_interval`).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels.
    y_proba : array-like of shape (n_samples,)
        Probabilities of the positive class, in [0, 1].
    threshold : float in [0, 1] or "youden", default=0.5
        The cut-off. ``"youden"`` picks :func:`youden_threshold` on these
        very data, which is right for the training set only: pass the
        training threshold explicitly for the test set (see Examples).
    alpha : float, default=0.05
        One minus the confidence level of the intervals.
    pos_label : int, float, bool or str, default=None
        Label of the positive class; None means 1 for labels in {0, 1} or
        {-1, 1}.

    Returns
    -------
    report : BinaryReport
        The threshold used, the counts ``tp, fp, tn, fn``, the metrics as
        properties and :meth:`BinaryReport.to_frame` for the table with
        intervals.

    Raises
    ------
    ValueError
        If ``y_true`` has one class only, if the lengths differ, or if
        ``y_proba`` has NaN or values outside [0, 1].

    Warns
    -----
    sklearn.exceptions.UndefinedMetricWarning
        When no case is called positive (PPV undefined) or negative (NPV
        undefined); the metric and its interval are NaN.

    Notes
    -----
    .. math::

        \mathrm{Se} = \frac{TP}{TP + FN},\quad
        \mathrm{Sp} = \frac{TN}{TN + FP},\quad
        \mathrm{PPV} = \frac{TP}{TP + FP},\quad
        \mathrm{NPV} = \frac{TN}{TN + FN},\quad
        \mathrm{Acc} = \frac{TP + TN}{n}.

    The rule is ``>=``, as in :func:`sklearn.metrics.roc_curve`, so that a
    Youden threshold reproduces its ROC point. (An estimator's ``predict``
    calls a probability of exactly 0.5 negative.)

    References
    ----------
    .. [1] E. B. Wilson, "Probable inference, the law of succession, and
           statistical inference", Journal of the American Statistical
           Association 22(158), 209-212, 1927. :doi:`10.2307/2276774`
    .. [2] W. J. Youden, "Index for rating diagnostic tests", Cancer 3(1),
           32-35, 1950.
           :doi:`10.1002/1097-0142(1950)3:1<32::AID-CNCR2820030106>3.0.CO;2-3`

    Examples
    --------
    The threshold is chosen on the training set and applied unchanged to
    the test set:

    >>> from ceusradiomics.metrics import binary_report
    >>> y_train = [0, 0, 0, 1, 0, 1, 1, 1]
    >>> p_train = [0.1, 0.2, 0.3, 0.35, 0.4, 0.6, 0.7, 0.9]
    >>> train = binary_report(y_train, p_train, threshold="youden")
    >>> train.threshold, train.sensitivity, train.specificity
    (0.6, 0.75, 1.0)
    >>> y_test = [0, 0, 1, 1, 0, 1]
    >>> p_test = [0.2, 0.65, 0.5, 0.8, 0.1, 0.7]
    >>> test = binary_report(y_test, p_test, threshold=train.threshold)
    >>> test.tp, test.fp, test.tn, test.fn
    (2, 1, 2, 1)
    >>> test.to_frame().round(3).loc["sensitivity"].tolist()
    [0.667, 0.208, 0.939, 2.0, 3.0]
    """
    positive = _binary_target(
        y_true, pos_label, needs_both="sensitivity and specificity"
    )
    proba = _check_scores(y_proba, "y_proba", positive.size, probability=True)
    if isinstance(threshold, str):
        threshold = youden_threshold(positive, proba)
    called = proba >= threshold
    report = BinaryReport(
        threshold=float(threshold),
        tp=int(np.sum(called & positive)),
        fp=int(np.sum(called & ~positive)),
        tn=int(np.sum(~called & ~positive)),
        fn=int(np.sum(~called & positive)),
        alpha=float(alpha),
    )
    called_counts = {"positive": int(called.sum()), "negative": int((~called).sum())}
    for metric, side in (("PPV", "positive"), ("NPV", "negative")):
        if called_counts[side] == 0:
            warnings.warn(
                f"{metric} is undefined at threshold={report.threshold:g}: no case "
                f"is called {side}; it is reported as NaN.",
                UndefinedMetricWarning,
                stacklevel=2,
            )
    return report


# --------------------------------------------------------------------------
# calibration
# --------------------------------------------------------------------------
class CalibrationResult(NamedTuple):
    """Calibration intercept and slope, from :func:`calibration_intercept_slope`.

    Unpacks as ``intercept, slope``.

    Attributes
    ----------
    intercept : float
        Calibration-in-the-large: 0 when the mean predicted risk is right,
        negative when risks are overestimated.
    slope : float
        1 when risks are neither too extreme nor too modest; below 1 when
        predictions are too extreme (overfitting), above 1 when too modest.
    """

    intercept: float
    slope: float


def _logistic_fit(x: np.ndarray, y: np.ndarray, *, with_slope: bool) -> np.ndarray:
    """Unpenalised logistic regression of ``y`` on ``x`` by Newton's method.

    ``with_slope=True`` fits ``logit P(y) = a + b x`` and returns ``[a, b]``;
    ``with_slope=False`` fits ``logit P(y) = a + x`` (``x`` as offset) and
    returns ``[a]``. Written out because scikit-learn's LogisticRegression
    takes no offset, and both fits are tiny and well conditioned once the
    callers have excluded separation.
    """
    design = (
        np.column_stack([np.ones_like(x), x]) if with_slope else np.ones((x.size, 1))
    )
    offset = np.zeros_like(x) if with_slope else x
    beta = np.array([0.0, 1.0]) if with_slope else np.array([0.0])

    def loglik(b):
        eta = offset + design @ b
        return np.sum(y * special.log_expit(eta) + (1 - y) * special.log_expit(-eta))

    current = loglik(beta)
    for _ in range(100):
        mu = special.expit(offset + design @ beta)
        gradient = design.T @ (y - mu)
        hessian = (design * (mu * (1.0 - mu))[:, None]).T @ design
        step = np.linalg.solve(hessian, gradient)
        # Step halving keeps every iterate an ascent of the concave likelihood.
        for _ in range(50):
            candidate = beta + step
            value = loglik(candidate)
            if value >= current - 1e-12:
                break
            step = step / 2.0
        beta, current = candidate, value
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta


@validate_params(
    {"y_true": ["array-like"], "y_proba": ["array-like"], "pos_label": _POS_LABEL},
    prefer_skip_nested_validation=True,
)
def calibration_intercept_slope(
    y_true, y_proba, *, pos_label=None
) -> CalibrationResult:
    r"""Calibration intercept (calibration-in-the-large) and calibration slope.

    Logistic recalibration of the predicted risks :math:`p_i` [1]_ [2]_:

    * slope :math:`b` from :math:`\operatorname{logit} P(y_i = 1) = a + b\,
      \operatorname{logit}(p_i)`;
    * intercept :math:`a` from :math:`\operatorname{logit} P(y_i = 1) = a +
      \operatorname{logit}(p_i)`, i.e. with the slope fixed at 1
      (:math:`\operatorname{logit}(p_i)` as offset).

    Perfect calibration gives ``(0, 1)``. This is the definition of Van
    Calster et al. (2019) and Steyerberg's textbook; note that the
    intercept is *not* the :math:`a` of the slope model.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels.
    y_proba : array-like of shape (n_samples,)
        Predicted probabilities of the positive class, in [0, 1].
    pos_label : int, float, bool or str, default=None
        Label of the positive class; None means 1 for labels in {0, 1} or
        {-1, 1}.

    Returns
    -------
    result : CalibrationResult
        Named tuple ``(intercept, slope)``.

    Raises
    ------
    ValueError
        If ``y_true`` has one class only, if the lengths differ, or if
        ``y_proba`` has NaN or values outside [0, 1].

    Warns
    -----
    sklearn.exceptions.UndefinedMetricWarning
        When the slope has no finite estimate: all probabilities equal
        (slope NaN), or the logits separate the classes perfectly (slope
        ``+inf``, or ``-inf`` when reversed). The intercept is still finite.

    See Also
    --------
    calibration_curve : The binned reliability curve (scikit-learn's).
    sklearn.calibration.CalibrationDisplay : Its plot.

    Notes
    -----
    Both are unpenalised maximum-likelihood fits, by Newton's method
    (scikit-learn's logistic regression has no offset term). Probabilities
    of exactly 0 or 1, frequent with random forests, have infinite logits
    and are clipped to :math:`[10^{-8}, 1 - 10^{-8}]`; such confident
    predictions weigh heavily on the slope.

    References
    ----------
    .. [1] B. Van Calster, D. J. McLernon, M. van Smeden, L. Wynants and
           E. W. Steyerberg, "Calibration: the Achilles heel of predictive
           analytics", BMC Medicine 17, 230, 2019.
           :doi:`10.1186/s12916-019-1466-7`
    .. [2] E. W. Steyerberg, "Clinical Prediction Models", 2nd ed.,
           Springer, 2019, chapter 15. :doi:`10.1007/978-3-030-16399-0`
    .. [3] D. R. Cox, "Two further applications of a model for binary
           regression", Biometrika 45(3-4), 562-565, 1958.
           :doi:`10.1093/biomet/45.3-4.562`

    Examples
    --------
    >>> import numpy as np
    >>> from ceusradiomics.metrics import calibration_intercept_slope
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, size=4000)
    >>> y = rng.uniform(size=p.size) < p  # outcomes drawn from p itself
    >>> intercept, slope = calibration_intercept_slope(y, p)
    >>> round(intercept, 1), round(slope, 1)
    (0.1, 1.0)
    >>> overconfident = 1 / (1 + np.exp(-2 * np.log(p / (1 - p))))
    >>> round(calibration_intercept_slope(y, overconfident).slope, 1)
    0.5
    """
    positive = _binary_target(y_true, pos_label, needs_both="calibration")
    proba = _check_scores(y_proba, "y_proba", positive.size, probability=True)
    x = special.logit(np.clip(proba, _PROBA_EPS, 1.0 - _PROBA_EPS))
    y = positive.astype(np.float64)
    intercept = float(_logistic_fit(x, y, with_slope=False)[0])

    x_pos, x_neg = x[positive], x[~positive]
    problem = None
    if np.ptp(x) == 0:
        slope, problem = float("nan"), "all probabilities are equal"
    elif x_neg.max() <= x_pos.min():
        slope, problem = float("inf"), "the logits separate the classes perfectly"
    elif x_pos.max() <= x_neg.min():
        slope, problem = float("-inf"), "the logits separate the classes perfectly"
    else:
        slope = float(_logistic_fit(x, y, with_slope=True)[1])
    if problem is not None:
        warnings.warn(
            f"The calibration slope has no finite estimate: {problem}; it is "
            f"reported as {slope}.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
    return CalibrationResult(intercept=intercept, slope=slope)


# --------------------------------------------------------------------------
# clinical usefulness: net benefit and decision curves
# --------------------------------------------------------------------------
@validate_params(
    {
        "y_true": ["array-like"],
        "y_proba": ["array-like"],
        "thresholds": ["array-like", Real],
        "pos_label": _POS_LABEL,
    },
    prefer_skip_nested_validation=True,
)
def net_benefit(y_true, y_proba, thresholds, *, pos_label=None) -> np.ndarray:
    r"""Net benefit of treating the cases whose risk reaches each threshold.

    At a threshold probability :math:`p_t` the cases with
    :math:`\hat p \ge p_t` are treated, and a false positive is weighed
    against a true positive by the odds :math:`p_t / (1 - p_t)` [1]_:

    .. math::

        \mathrm{NB}(p_t) = \frac{TP(p_t)}{n} - \frac{FP(p_t)}{n}\,
        \frac{p_t}{1 - p_t}.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels. One class only is allowed (e.g. a subgroup).
    y_proba : array-like of shape (n_samples,)
        Predicted probabilities of the positive class, in [0, 1].
    thresholds : float or array-like of float
        Threshold probabilities, strictly between 0 and 1.
    pos_label : int, float, bool or str, default=None
        Label of the positive class; None means 1 for labels in {0, 1} or
        {-1, 1}.

    Returns
    -------
    net_benefit : ndarray of shape (n_thresholds,)
        Net benefit at each threshold, in units of true positives per case.

    Raises
    ------
    ValueError
        If the lengths differ, if ``y_proba`` has NaN or values outside
        [0, 1], or if a threshold is not in (0, 1).

    See Also
    --------
    decision_curve : Net benefit of the model, treat-all and treat-none.

    Notes
    -----
    Treating everybody gives :math:`\pi - (1 - \pi)\, p_t / (1 - p_t)` with
    :math:`\pi` the prevalence (``net_benefit(y, np.ones(n), t)``);
    treating nobody gives 0.

    References
    ----------
    .. [1] A. J. Vickers and E. B. Elkin, "Decision curve analysis: a novel
           method for evaluating prediction models", Medical Decision Making
           26(6), 565-574, 2006. :doi:`10.1177/0272989X06295361`

    Examples
    --------
    >>> from ceusradiomics.metrics import net_benefit
    >>> y = [0, 0, 0, 1, 0, 1, 1, 1]
    >>> p = [0.1, 0.2, 0.3, 0.35, 0.4, 0.6, 0.7, 0.9]
    >>> net_benefit(y, p, [0.25, 0.5]).round(4)
    array([0.4167, 0.375 ])
    """
    positive = _binary_target(y_true, pos_label, needs_both=None)
    proba = _check_scores(y_proba, "y_proba", positive.size, probability=True)
    t = _check_thresholds(thresholds)
    n = positive.size
    # Cases treated at t are those with proba >= t: count them per class by
    # binary search in the sorted probabilities, for all thresholds at once.
    pos_sorted = np.sort(proba[positive])
    neg_sorted = np.sort(proba[~positive])
    tp = pos_sorted.size - np.searchsorted(pos_sorted, t, side="left")
    fp = neg_sorted.size - np.searchsorted(neg_sorted, t, side="left")
    return tp / n - fp / n * (t / (1.0 - t))


@validate_params(
    {
        "y_true": ["array-like"],
        "y_proba": ["array-like"],
        "thresholds": ["array-like", None],
        "pos_label": _POS_LABEL,
    },
    prefer_skip_nested_validation=True,
)
def decision_curve(y_true, y_proba, thresholds=None, *, pos_label=None) -> pd.DataFrame:
    r"""Decision curve: net benefit of the model, of treating all and none.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels.
    y_proba : array-like of shape (n_samples,)
        Predicted probabilities of the positive class, in [0, 1].
    thresholds : array-like of float, default=None
        Threshold probabilities in (0, 1); None means 0.01, 0.02, ..., 0.99.
    pos_label : int, float, bool or str, default=None
        Label of the positive class; None means 1 for labels in {0, 1} or
        {-1, 1}.

    Returns
    -------
    curve : pandas.DataFrame
        One row per threshold; columns ``threshold``, ``model`` (net
        benefit of the model), ``treat_all`` and ``treat_none`` (0).

    Raises
    ------
    ValueError
        As :func:`net_benefit`.

    See Also
    --------
    net_benefit : The formula.
    ceusradiomics.plotting.DecisionCurveDisplay : The plot.

    Notes
    -----
    A model is clinically useful over the range of thresholds where its
    curve lies above both ``treat_all``,
    :math:`\pi - (1 - \pi)\, p_t / (1 - p_t)`, and ``treat_none``, 0 [1]_.

    References
    ----------
    .. [1] A. J. Vickers and E. B. Elkin, "Decision curve analysis: a novel
           method for evaluating prediction models", Medical Decision Making
           26(6), 565-574, 2006. :doi:`10.1177/0272989X06295361`

    Examples
    --------
    >>> from ceusradiomics.metrics import decision_curve
    >>> y = [0, 0, 0, 1, 0, 1, 1, 1]
    >>> p = [0.1, 0.2, 0.3, 0.35, 0.4, 0.6, 0.7, 0.9]
    >>> decision_curve(y, p, thresholds=[0.25, 0.5]).round(4)
       threshold   model  treat_all  treat_none
    0       0.25  0.4167     0.3333         0.0
    1       0.50  0.3750     0.0000         0.0
    """
    if thresholds is None:
        thresholds = np.arange(1, 100) / 100.0
    positive = _binary_target(y_true, pos_label, needs_both=None)
    t = _check_thresholds(thresholds)
    model = net_benefit(positive, y_proba, t)
    prevalence = positive.mean()
    return pd.DataFrame(
        {
            "threshold": t,
            "model": model,
            "treat_all": prevalence - (1.0 - prevalence) * t / (1.0 - t),
            "treat_none": np.zeros_like(t),
        }
    )
