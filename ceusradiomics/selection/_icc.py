"""Intraclass correlation (inter-reader reliability) and the ICC filter."""

from __future__ import annotations

import dataclasses
import warnings
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

from ceusradiomics.exceptions import EmptySelectionWarning

__all__ = ["ICC_KINDS", "ICCFilter", "ICCResult", "intraclass_correlation"]

#: Canonical Shrout & Fleiss (1979) name of every accepted ``kind`` spelling.
#: The McGraw & Wong (1996) names as pingouin >= 0.7 prints them (``ICC(A,1)``
#: = absolute agreement, ``ICC(C,1)`` = consistency), pingouin's older names
#: (``ICC2``) and descriptive names map onto the six Shrout & Fleiss forms,
#: whose formulas they share.
ICC_KINDS: dict[str, str] = {
    # Shrout & Fleiss (1979).
    "ICC(1,1)": "ICC(1,1)",
    "ICC(2,1)": "ICC(2,1)",
    "ICC(3,1)": "ICC(3,1)",
    "ICC(1,k)": "ICC(1,k)",
    "ICC(2,k)": "ICC(2,k)",
    "ICC(3,k)": "ICC(3,k)",
    # McGraw & Wong (1996), as in pingouin >= 0.7 and Liljequist et al. (2019).
    "ICC(A,1)": "ICC(2,1)",
    "ICC(C,1)": "ICC(3,1)",
    "ICC(A,k)": "ICC(2,k)",
    "ICC(C,k)": "ICC(3,k)",
    # pingouin < 0.7 and R psych.
    "ICC1": "ICC(1,1)",
    "ICC2": "ICC(2,1)",
    "ICC3": "ICC(3,1)",
    "ICC1k": "ICC(1,k)",
    "ICC2k": "ICC(2,k)",
    "ICC3k": "ICC(3,k)",
    # Descriptive (Koo & Li 2016 wording).
    "one-way random, single": "ICC(1,1)",
    "one-way random, average": "ICC(1,k)",
    "two-way random, absolute agreement, single": "ICC(2,1)",
    "two-way random, absolute agreement, average": "ICC(2,k)",
    "two-way mixed, consistency, single": "ICC(3,1)",
    "two-way mixed, consistency, average": "ICC(3,k)",
}


@dataclasses.dataclass(frozen=True, eq=False)
class ICCResult:
    """Intraclass correlation with its F test and confidence interval.

    Every field is an ndarray of shape ``(n_features,)``, or a float when the
    ratings were 2-D.

    Attributes
    ----------
    kind : str
        Canonical Shrout & Fleiss name of the form computed, e.g. ``"ICC(2,1)"``.
    icc : ndarray or float
        The intraclass correlation coefficient.
    ci_lower, ci_upper : ndarray or float
        Bounds of the F-test confidence interval.
    f_statistic : ndarray or float
        F statistic of the test of ICC = 0 (between-subject mean square over
        the within-subject, or residual, mean square).
    df1, df2 : ndarray or float
        Numerator and denominator degrees of freedom of the F test.
    pvalue : ndarray or float
        One-sided p-value of the F test.
    """

    kind: str
    icc: np.ndarray | float
    ci_lower: np.ndarray | float
    ci_upper: np.ndarray | float
    f_statistic: np.ndarray | float
    df1: np.ndarray | float
    df2: np.ndarray | float
    pvalue: np.ndarray | float


def _canonical_kind(kind: str) -> str:
    if not isinstance(kind, str) or kind not in ICC_KINDS:
        raise ValueError(
            f"kind must be one of {sorted(set(ICC_KINDS.values()))} or an alias "
            f"listed in ceusradiomics.selection.ICC_KINDS; got {kind!r}."
        )
    return ICC_KINDS[kind]


def _icc_core(x: np.ndarray, valid: np.ndarray, kind: str, confidence: float):
    """ICC of ``x`` (n, k, p) over the rows where ``valid`` (n, p) is True.

    Rows that are not valid are ignored per feature, so each feature has its
    own, balanced, set of subjects. Returns the fields of ICCResult as arrays.
    """
    n_raters = x.shape[1]
    k = float(n_raters)
    w = valid.astype(np.float64)  # (n, p)
    n = w.sum(axis=0)  # subjects per feature
    x = np.where(valid[:, None, :], x, 0.0)

    with np.errstate(divide="ignore", invalid="ignore"):
        # Centre on the grand mean first so that the sums of squares are not
        # differences of large numbers.
        grand = x.sum(axis=(0, 1)) / (n * k)
        d = (x - grand) * w[:, None, :]
        row = d.mean(axis=1)  # (n, p): subject means
        col = d.sum(axis=0) / n  # (k, p): rater means
        ss_rows = k * np.sum(row**2, axis=0)
        ss_cols = n * np.sum(col**2, axis=0)
        ss_within = np.sum((d - row[:, None, :]) ** 2 * w[:, None, :], axis=(0, 1))
        resid = (d - row[:, None, :] - col[None, :, :]) * w[:, None, :]
        ss_error = np.sum(resid**2, axis=(0, 1))

        df_rows = n - 1.0
        df_within = n * (k - 1.0)
        df_error = (n - 1.0) * (k - 1.0)
        msb = ss_rows / df_rows
        msw = ss_within / df_within
        msj = ss_cols / (k - 1.0)
        mse = ss_error / df_error

        alpha = 1.0 - confidence
        if kind in ("ICC(1,1)", "ICC(1,k)"):
            f_obs = msb / msw
            df2 = df_within
        else:
            f_obs = msb / mse
            df2 = df_error
        # Perfect agreement gives F = inf: the single-rater bounds below are
        # then inf/inf, whose limit is 1.
        f_lower = f_obs / stats.f.ppf(1.0 - alpha / 2.0, df_rows, df2)
        f_upper = f_obs * stats.f.ppf(1.0 - alpha / 2.0, df2, df_rows)
        pvalue = stats.f.sf(f_obs, df_rows, df2)

        if kind == "ICC(1,1)":
            icc = (msb - msw) / (msb + (k - 1.0) * msw)
        elif kind == "ICC(1,k)":
            icc = (msb - msw) / msb
        elif kind == "ICC(3,1)":
            icc = (msb - mse) / (msb + (k - 1.0) * mse)
        elif kind == "ICC(3,k)":
            icc = (msb - mse) / msb
        elif kind == "ICC(2,1)":
            icc = (msb - mse) / (msb + (k - 1.0) * mse + k * (msj - mse) / n)
        else:
            icc = (msb - mse) / (msb + (msj - mse) / n)

        if kind in ("ICC(1,1)", "ICC(3,1)"):
            lower = np.where(
                np.isposinf(f_lower), 1.0, (f_lower - 1.0) / (f_lower + k - 1.0)
            )
            upper = np.where(
                np.isposinf(f_upper), 1.0, (f_upper - 1.0) / (f_upper + k - 1.0)
            )
        elif kind in ("ICC(1,k)", "ICC(3,k)"):
            lower = 1.0 - 1.0 / f_lower
            upper = 1.0 - 1.0 / f_upper
        else:
            # McGraw & Wong (1996) case 2A: Satterthwaite degrees of freedom.
            # Written with msj and mse rather than F_j = msj / mse so that a
            # zero residual (raters offset by a constant) stays finite.
            icc2 = (msb - mse) / (msb + (k - 1.0) * mse + k * (msj - mse) / n)
            a = n * (1.0 + (k - 1.0) * icc2) - k * icc2
            v = (df_error * (k * icc2 * msj + a * mse) ** 2) / (
                df_rows * k**2 * icc2**2 * msj**2 + a**2 * mse**2
            )
            f2u = stats.f.ppf(1.0 - alpha / 2.0, df_rows, v)
            f2l = stats.f.ppf(1.0 - alpha / 2.0, v, df_rows)
            c = k * msj + (k * n - k - n) * mse
            lower = n * (msb - f2u * mse) / (f2u * c + n * msb)
            upper = n * (f2l * msb - mse) / (c + n * f2l * msb)
            # Raters identical on every subject: agreement is perfect.
            perfect = (msj == 0.0) & (mse == 0.0) & (msb > 0.0)
            lower = np.where(perfect, 1.0, lower)
            upper = np.where(perfect, 1.0, upper)
            if kind == "ICC(2,k)":
                lower = lower * k / (1.0 + lower * (k - 1.0))
                upper = upper * k / (1.0 + upper * (k - 1.0))

    # A feature with one value for every rating has no variance to share out:
    # the ICC is 0/0. Detected exactly, since rounding could otherwise leave
    # tiny mean squares whose ratio is noise.
    hi = np.max(np.where(valid[:, None, :], x, -np.inf), axis=(0, 1))
    lo = np.min(np.where(valid[:, None, :], x, np.inf), axis=(0, 1))
    undefined = (hi == lo) | (n < 2)
    out = [icc, lower, upper, f_obs, pvalue]
    out = [np.where(undefined, np.nan, np.asarray(a, dtype=np.float64)) for a in out]
    icc, lower, upper, f_obs, pvalue = out
    df1 = np.broadcast_to(df_rows, icc.shape).astype(np.float64)
    df2 = np.broadcast_to(df2, icc.shape).astype(np.float64)
    return icc, lower, upper, f_obs, df1, df2, pvalue


def intraclass_correlation(
    ratings, kind: str = "ICC(2,1)", *, confidence: float = 0.95
) -> ICCResult:
    r"""Intraclass correlation coefficient of repeated ratings.

    Computes one of the six Shrout & Fleiss (1979) forms from the two-way
    ANOVA mean squares, vectorised over features, with the F-test
    confidence interval of McGraw & Wong (1996). The formulas are those of
    pingouin's ``intraclass_corr`` and R's ``psych::ICC``.

    Parameters
    ----------
    ratings : array-like of shape (n_subjects, n_raters) or \
            (n_subjects, n_raters, n_features)
        ``ratings[i, j, f]`` is rater ``j``'s value of feature ``f`` for
        subject ``i``. Complete data only: NaN is an error (drop the subjects
        a rater missed first, as :class:`ICCFilter` does).
    kind : str, default="ICC(2,1)"
        ``"ICC(1,1)"`` one-way random, ``"ICC(2,1)"`` two-way random absolute
        agreement, ``"ICC(3,1)"`` two-way mixed consistency, and their
        average-measure forms ``"ICC(1,k)"``, ``"ICC(2,k)"``, ``"ICC(3,k)"``.
        McGraw & Wong names are accepted: ``"ICC(A,1)"`` = ICC(2,1),
        ``"ICC(C,1)"`` = ICC(3,1), ``"ICC(A,k)"``, ``"ICC(C,k)"``; so are
        ``"ICC1"`` ... ``"ICC3k"`` and the descriptive names in
        :data:`ICC_KINDS`.
    confidence : float, default=0.95
        Confidence level of the interval, in (0, 1).

    Returns
    -------
    result : ICCResult
        ``icc``, ``ci_lower``, ``ci_upper``, ``f_statistic``, ``df1``,
        ``df2`` and ``pvalue``, each of shape ``(n_features,)`` (floats for
        2-D ``ratings``), and the canonical ``kind``.

    See Also
    --------
    ICCFilter : Keeps the features whose inter-reader ICC exceeds a threshold.

    Notes
    -----
    With :math:`n` subjects and :math:`k` raters, the mean squares between
    subjects (:math:`MS_R`), between raters (:math:`MS_C`), within subjects
    (:math:`MS_W`) and residual (:math:`MS_E`) give

    .. math::

        ICC(1,1) &= \frac{MS_R - MS_W}{MS_R + (k-1) MS_W}, \qquad
        ICC(1,k) = \frac{MS_R - MS_W}{MS_R}, \\
        ICC(2,1) &= \frac{MS_R - MS_E}
                   {MS_R + (k-1) MS_E + k (MS_C - MS_E) / n}, \qquad
        ICC(2,k) = \frac{MS_R - MS_E}{MS_R + (MS_C - MS_E) / n}, \\
        ICC(3,1) &= \frac{MS_R - MS_E}{MS_R + (k-1) MS_E}, \qquad
        ICC(3,k) = \frac{MS_R - MS_E}{MS_R}.

    The F statistic is :math:`MS_R / MS_W` on :math:`(n-1, n(k-1))` degrees of
    freedom for the one-way forms and :math:`MS_R / MS_E` on
    :math:`(n-1, (n-1)(k-1))` for the others; the interval of ICC(1,·) and
    ICC(3,·) inverts that F test, the interval of ICC(2,·) uses
    Satterthwaite's approximate degrees of freedom (McGraw & Wong 1996,
    Table 7).

    A feature whose ratings are all equal has no variance: its ICC is 0/0 and
    every field is NaN (without a numpy warning). Perfect agreement on a
    feature that varies gives ICC = 1 with the interval [1, 1].

    References
    ----------
    .. [1] P. E. Shrout and J. L. Fleiss, "Intraclass correlations: uses in
           assessing rater reliability", Psychological Bulletin 86(2),
           420-428, 1979. :doi:`10.1037/0033-2909.86.2.420`
    .. [2] K. O. McGraw and S. P. Wong, "Forming inferences about some
           intraclass correlation coefficients", Psychological Methods 1(1),
           30-46, 1996. :doi:`10.1037/1082-989X.1.1.30`
    .. [3] T. K. Koo and M. Y. Li, "A guideline of selecting and reporting
           intraclass correlation coefficients for reliability research",
           J. Chiropractic Medicine 15(2), 155-163, 2016.
           :doi:`10.1016/j.jcm.2016.02.012`

    Examples
    --------
    The Shrout & Fleiss (1979) example: 6 targets rated by 4 judges.

    >>> import numpy as np
    >>> from ceusradiomics.selection import intraclass_correlation
    >>> ratings = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8],
    ...                     [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
    >>> res = intraclass_correlation(ratings, kind="ICC(2,1)")
    >>> round(res.icc, 2), round(res.ci_lower, 2), round(res.ci_upper, 2)
    (0.29, 0.02, 0.76)
    >>> round(intraclass_correlation(ratings, kind="ICC(C,k)").icc, 2)
    0.91
    """
    kind = _canonical_kind(kind)
    if not isinstance(confidence, Real) or not 0.0 < confidence < 1.0:
        raise ValueError(
            f"confidence must be a float in the open interval (0, 1); "
            f"got {confidence!r}."
        )
    x = np.asarray(ratings, dtype=np.float64)
    if x.ndim not in (2, 3):
        raise ValueError(
            "ratings must have shape (n_subjects, n_raters) or "
            f"(n_subjects, n_raters, n_features); got shape {x.shape}."
        )
    squeeze = x.ndim == 2
    if squeeze:
        x = x[:, :, None]
    if x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError(
            "ratings needs at least 2 subjects and 2 raters; got "
            f"{x.shape[0]} subject(s) and {x.shape[1]} rater(s) "
            f"(shape {x.shape})."
        )
    if np.isnan(x).any():
        raise ValueError(
            "ratings must not contain NaN; drop the subjects that a rater "
            "missed before computing the ICC (ICCFilter does so per feature)."
        )
    if not np.isfinite(x).all():
        raise ValueError("ratings must be finite; got inf.")
    valid = np.ones((x.shape[0], x.shape[2]), dtype=bool)
    fields = _icc_core(x, valid, kind, float(confidence))
    if squeeze:
        fields = [float(a[0]) for a in fields]
    return ICCResult(kind, *fields)


def _split_reader_name(name: str) -> tuple[str, str | None]:
    base, sep, reader = name.rpartition("@")
    return (base, reader) if sep else (name, None)


class ICCFilter(SelectorMixin, BaseEstimator):
    """Keep the features whose inter-reader ICC exceeds a threshold.

    The input is a feature table in which each feature has a primary column
    ``name`` and one column ``name@reader`` per further reader, as
    :class:`~ceusradiomics.TextureExtractor` emits with ``readers="all"``
    (any table with that naming works; primary names must not contain
    ``@``). Per feature, the ICC is computed on the rows (lesions) where the
    primary and every reader value are present; reader values are NaN on the
    lesions a second reader did not outline. The output holds only the
    primary columns of the features that pass: the reader columns have done
    their job.

    Parameters
    ----------
    threshold : float, default=0.75
        A feature is kept when its ICC (or the lower bound of its confidence
        interval) is strictly greater than ``threshold``.
    kind : str, default="ICC(2,1)"
        ICC form, as in :func:`intraclass_correlation` (two-way random,
        absolute agreement, single rater by default).
    use_lower_bound : bool, default=False
        Threshold the lower bound of the 95% confidence interval instead of
        the point estimate (the stricter rule of Koo & Li 2016).

    Attributes
    ----------
    icc_ : ndarray of shape (n_primary_features,)
        ICC of each primary feature, NaN where it is undefined (constant
        feature).
    icc_ci_ : ndarray of shape (n_primary_features, 2)
        Lower and upper bound of its 95% confidence interval.
    n_repeated_ : ndarray of shape (n_primary_features,)
        Number of rows on which each feature's ICC was computed.
    primary_features_ : ndarray of str of shape (n_primary_features,)
        The primary column names, in input order; ``icc_`` follows it.
    readers_ : ndarray of str
        The reader labels found after ``@``, sorted.
    n_features_in_ : int
        Number of input columns, reader columns included.
    feature_names_in_ : ndarray of str of shape (n_features_in_,)
        Names of the input columns.

    See Also
    --------
    intraclass_correlation : The statistic, on a ratings array.

    Notes
    -----
    :meth:`get_support` is a mask over all input columns: reader columns are
    always False, primary columns are True when their feature passes.
    NaN in the primary columns is allowed: the ICC uses complete rows only,
    and :meth:`transform` passes NaN through for the imputer or scaler that
    follows. Features with an undefined (NaN) ICC are dropped. If no feature
    passes, the one with the largest statistic is kept with an
    :class:`~ceusradiomics.exceptions.EmptySelectionWarning`.

    A plain array has no column names, so it cannot say which columns are
    readers: ``fit`` needs a DataFrame.

    References
    ----------
    .. [1] P. E. Shrout and J. L. Fleiss, "Intraclass correlations: uses in
           assessing rater reliability", Psychological Bulletin 86(2),
           420-428, 1979. :doi:`10.1037/0033-2909.86.2.420`
    .. [2] T. K. Koo and M. Y. Li, "A guideline of selecting and reporting
           intraclass correlation coefficients for reliability research",
           J. Chiropractic Medicine 15(2), 155-163, 2016.
           :doi:`10.1016/j.jcm.2016.02.012`

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from ceusradiomics.selection import ICCFilter
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(2, 8))
    >>> X = pd.DataFrame({"a": a, "b": b,
    ...                   "a@r2": a + 0.05 * rng.normal(size=8),
    ...                   "b@r2": rng.normal(size=8)})
    >>> X.loc[5:, ["a@r2", "b@r2"]] = np.nan  # second reader on 5 lesions
    >>> icc = ICCFilter(threshold=0.75).fit(X)
    >>> icc.get_feature_names_out()
    array(['a'], dtype=object)
    >>> icc.n_repeated_
    array([5, 5])
    >>> icc.transform(X).shape
    (8, 1)
    """

    _parameter_constraints: ClassVar[dict] = {
        "threshold": [Interval(Real, None, None, closed="neither")],
        "kind": [StrOptions(set(ICC_KINDS))],
        "use_lower_bound": ["boolean"],
    }

    def __init__(
        self,
        threshold: float = 0.75,
        kind: str = "ICC(2,1)",
        use_lower_bound: bool = False,
    ):
        self.threshold = threshold
        self.kind = kind
        self.use_lower_bound = use_lower_bound

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute the ICC of every feature from its reader columns.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_features)
            Feature table with primary columns ``name`` and reader columns
            ``name@reader``; NaN allowed.
        y : None
            Ignored.

        Returns
        -------
        self : ICCFilter
            The fitted filter.
        """
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        if not hasattr(self, "feature_names_in_"):
            raise ValueError(
                "ICCFilter needs a DataFrame with named columns, primary "
                "columns 'name' and reader columns 'name@reader' "
                "(TextureExtractor(readers='all') produces them); got an "
                "array without column names."
            )
        names = [str(c) for c in self.feature_names_in_]
        primary_idx = {}
        reader_cols: dict[str, dict[str, int]] = {}
        for j, name in enumerate(names):
            base, reader = _split_reader_name(name)
            if reader is None:
                primary_idx[base] = j
            else:
                reader_cols.setdefault(base, {})[reader] = j
        if not reader_cols:
            raise ValueError(
                "ICCFilter found no reader columns: X must hold, for each "
                "feature 'name', one column 'name@reader' per further reader "
                "(TextureExtractor(readers='all') produces them); got columns "
                f"{names[:5]}{' ...' if len(names) > 5 else ''}."
            )
        orphans = sorted(set(reader_cols) - set(primary_idx))
        if orphans:
            raise ValueError(
                "every reader column 'name@reader' needs its primary column "
                f"'name'; missing primary column(s) {orphans[:5]}"
                f"{' ...' if len(orphans) > 5 else ''}."
            )
        no_reader = [p for p in primary_idx if p not in reader_cols]
        if no_reader:
            raise ValueError(
                "every primary column needs at least one reader column "
                "'name@reader' to compute its ICC; none for "
                f"{no_reader[:5]}{' ...' if len(no_reader) > 5 else ''}. "
                "Drop these columns before ICCFilter (e.g. with a "
                "ColumnTransformer) or give them reader columns."
            )

        primary = list(primary_idx)
        n_primary = len(primary)
        icc = np.full(n_primary, np.nan)
        ci = np.full((n_primary, 2), np.nan)
        n_rep = np.zeros(n_primary, dtype=np.intp)
        # Features sharing a reader set are stacked into one (n, k, p) array.
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, p in enumerate(primary):
            groups.setdefault(tuple(sorted(reader_cols[p])), []).append(i)
        kind = _canonical_kind(self.kind)
        for readers, members in groups.items():
            cols = [
                [primary_idx[primary[i]]]
                + [reader_cols[primary[i]][r] for r in readers]
                for i in members
            ]
            ratings = X[:, np.asarray(cols).T]  # (n, k, p)
            valid = ~np.isnan(ratings).any(axis=1)
            n_rep[members] = valid.sum(axis=0)
            enough = n_rep[members] >= 3
            if not enough.any():
                continue
            # Features measured twice on fewer than 3 lesions (e.g. a wavelet
            # scale that few ROIs can hold) get no ICC, so they are not kept.
            res = _icc_core(ratings[:, :, enough], valid[:, enough], kind, 0.95)
            computed = np.asarray(members)[enough]
            icc[computed] = res[0]
            ci[computed, 0] = res[1]
            ci[computed, 1] = res[2]
        if not (n_rep >= 3).any():
            raise ValueError(
                "ICC needs at least 3 lesions with every reader's measurement "
                "(non-NaN in the primary and all 'name@reader' columns); the "
                f"most any feature has is {int(n_rep.max(initial=0))}. "
                "TextureExtractor(readers='all') produces the reader columns "
                "from the '{phase}_mask_{reader}' masks: outline more lesions "
                "a second time."
            )

        self.icc_ = icc
        self.icc_ci_ = ci
        self.n_repeated_ = n_rep
        self.primary_features_ = np.asarray(primary, dtype=object)
        self.readers_ = np.asarray(
            sorted({r for d in reader_cols.values() for r in d}), dtype=object
        )
        self._primary_columns = np.asarray(
            [primary_idx[p] for p in primary], dtype=np.intp
        )
        stat = ci[:, 0] if self.use_lower_bound else icc
        keep = np.nan_to_num(stat, nan=-np.inf) > self.threshold
        if not keep.any():
            best = int(np.argmax(np.nan_to_num(stat, nan=-np.inf)))
            keep[best] = True
            warnings.warn(
                f"no feature has an ICC{' lower bound' if self.use_lower_bound else ''}"
                f" above threshold={self.threshold}; keeping the single best, "
                f"{primary[best]!r} ({stat[best]:.3f}).",
                EmptySelectionWarning,
                stacklevel=3,  # past the _fit_context wrapper, to the caller
            )
        self._keep = keep
        return self

    def _get_support_mask(self):
        check_is_fitted(self)
        mask = np.zeros(self.n_features_in_, dtype=bool)
        mask[self._primary_columns[self._keep]] = True
        return mask

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
