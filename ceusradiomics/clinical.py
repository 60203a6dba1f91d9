"""The clinical arm of the study: Table 1 and the screened logistic model.

The study compared its cohorts with Pearson's chi-square and Fisher's exact
tests (its Table 1), then submitted the clinical factors that were
significant in univariable logistic regression to a multivariable logistic
regression. :func:`table_one` builds the first, with the test named on every
row; :class:`ScreenedLogisticRegression` is the second as a scikit-learn
classifier, so that the clinical model is refitted inside each
cross-validation fold like the imaging models it is compared with.

The maths are small functions: :func:`freeman_halton_test` (the exact test
of an r x c table) and :func:`markdown_table` (a Markdown renderer that does
not need the ``tabulate`` package) are public.

Notes
-----
The ``tableone`` package (PyPI, version 0.9.6) was evaluated first and is
not used: its chi-square test applies Yates' continuity correction to 2x2
tables (the study's test is Pearson's, without it), it has no exact test for
tables larger than 2x2 (it only flags them), it sorts levels as strings
unless each variable's order is given (``">400"`` before ``"20-400"``), it
warns with plain :class:`UserWarning`, and it would add jinja2, openpyxl and
tabulate to the dependencies.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import special, stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted
from sklearn_compat.base import _fit_context
from sklearn_compat.utils.validation import validate_data

from ceusradiomics._state import FrameState
from ceusradiomics.exceptions import EmptySelectionWarning, SeparationWarning

__all__ = [
    "ExactTestResult",
    "ScreenedLogisticRegression",
    "freeman_halton_test",
    "markdown_table",
    "table_one",
]

#: Tables enumerated at most by :func:`freeman_halton_test` before it turns to
#: Monte-Carlo sampling (a few tenths of a second on a laptop).
MAX_TABLES = 1_000_000
#: Monte-Carlo draws of :func:`freeman_halton_test` beyond ``MAX_TABLES``.
N_DRAWS = 100_000
# Relative tolerance on "as probable as the observed table", R's fisher.test
# and scipy.stats.fisher_exact alike: ties are not lost to rounding.
_RELATIVE_TOLERANCE = 1e-7

# --------------------------------------------------------------------------
# Natural order of levels
# --------------------------------------------------------------------------

_LEADING_NUMBER = re.compile(
    r"^\s*(<=|>=|≤|≥|<|>)?\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
)
# "<20" sorts just below "20-400", ">=5" just above "5".
_COMPARATOR_RANK = {"<": -2, "<=": -1, "≤": -1, None: 0, ">=": 1, "≥": 1, ">": 2}
_CHUNKS = re.compile(r"(\d+)")


def _natural_key(level) -> tuple:
    """Sort key of a level: numbers by value, then strings, numbers inside."""
    if isinstance(level, bool | np.bool_ | Real | np.number):
        return (0, float(level), 0, "")
    text = str(level)
    match = _LEADING_NUMBER.match(text)
    if match:
        return (0, float(match.group(2)), _COMPARATOR_RANK[match.group(1)], text)
    chunks = tuple(
        (0, int(chunk), "") if chunk.isdigit() else (1, 0, chunk.casefold())
        for chunk in _CHUNKS.split(text)
        if chunk
    )
    return (1, 0.0, 0, chunks)


def _ordered_levels(values: pd.Series, *, observed_only: bool) -> list:
    """The levels of ``values`` in natural order, NaN left out.

    A pandas Categorical keeps the order of its categories (all of them, or
    only those present with `observed_only`); other values are sorted by
    :func:`_natural_key`: numbers by value, strings that start with an
    optional comparator and a number (``"<20"``, ``"20-400"``, ``">400"``)
    by that number, other strings in natural order (``"T2"`` before
    ``"T10"``).
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = list(values.cat.categories)
        if observed_only:
            present = set(values.dropna().unique())
            categories = [level for level in categories if level in present]
        return categories
    return sorted(pd.unique(values.dropna()), key=_natural_key)


# --------------------------------------------------------------------------
# The exact test of an r x c table
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ExactTestResult:
    """Result of :func:`freeman_halton_test`.

    Attributes
    ----------
    pvalue : float
        The two-sided p-value.
    method : {"enumeration", "monte-carlo"}
        Whether every table with the observed margins was enumerated, or the
        p-value was estimated from random tables.
    n_tables : int
        The number of tables enumerated, or of Monte-Carlo draws.
    """

    pvalue: float
    method: str
    n_tables: int


class _TooManyTables(Exception):
    """Internal: enumeration would exceed its budget."""


def _column_vectors(caps: np.ndarray, total: int, limit: int) -> np.ndarray:
    """Every integer vector ``0 <= x <= caps`` with ``x.sum() == total``.

    Built one entry at a time, each partial vector extended by every value
    that still lets the remaining entries reach ``total``, so no partial
    vector is wasted. Raises :class:`_TooManyTables` past `limit` vectors.
    """
    caps = np.asarray(caps, dtype=np.int64)
    rest = np.concatenate([np.cumsum(caps[::-1])[::-1][1:], [0]])
    parts = np.zeros((1, 0), dtype=np.int64)
    sums = np.zeros(1, dtype=np.int64)
    for cap, rest_cap in zip(caps, rest, strict=True):
        need = total - sums
        low = np.maximum(0, need - rest_cap)
        high = np.minimum(cap, need)
        counts = high - low + 1
        n_new = int(counts.sum())
        if n_new > limit:
            raise _TooManyTables
        owner = np.repeat(np.arange(parts.shape[0]), counts)
        offset = np.arange(n_new) - np.repeat(np.cumsum(counts) - counts, counts)
        values = low[owner] + offset
        parts = np.column_stack([parts[owner], values])
        sums = sums[owner] + values
    return parts


def _enumerate_log_terms(rows: np.ndarray, cols: np.ndarray, limit: int):
    """``sum(gammaln(x + 1))`` of every table with margins (rows, cols)."""
    found: list[np.ndarray] = []
    count = 0

    def walk(rows_left: np.ndarray, j: int, acc: float):
        nonlocal count
        vectors = _column_vectors(rows_left, int(cols[j]), limit - count)
        terms = acc + special.gammaln(vectors + 1.0).sum(axis=1)
        if j == len(cols) - 2:
            last = rows_left[None, :] - vectors
            terms = terms + special.gammaln(last + 1.0).sum(axis=1)
            count += len(terms)
            if count > limit:
                raise _TooManyTables
            found.append(terms)
            return
        for vector, term in zip(vectors, terms, strict=True):
            walk(rows_left - vector, j + 1, term)

    walk(np.asarray(rows, dtype=np.int64), 0, 0.0)
    return np.concatenate(found)


def freeman_halton_test(
    table, *, max_tables=MAX_TABLES, n_draws=N_DRAWS, random_state=0
) -> ExactTestResult:
    r"""Fisher's exact test of an r x c contingency table (Freeman-Halton).

    Under independence with both margins fixed, a table has the
    multivariate hypergeometric probability

    .. math::

        P(x) = \frac{\prod_i r_i! \, \prod_j c_j!}{n! \, \prod_{ij} x_{ij}!}

    and the two-sided p-value is the total probability of the tables that
    are no more probable than the observed one (within a relative 1e-7, as
    R's ``fisher.test`` and :func:`scipy.stats.fisher_exact`). The tables
    are enumerated when there are at most `max_tables` of them; beyond, the
    p-value is estimated from `n_draws` random tables with the same margins
    (:func:`scipy.stats.random_table`, Patefield's algorithm) as
    ``(1 + hits) / (1 + n_draws)``, like R's ``simulate.p.value=TRUE``.

    Parameters
    ----------
    table : array-like of int of shape (r, c)
        The contingency table, non-negative counts. Rows or columns that are
        all zero are dropped (they change no probability).
    max_tables : int, default=1_000_000
        Largest number of tables to enumerate.
    n_draws : int, default=100_000
        Monte-Carlo draws when the tables are too many to enumerate.
    random_state : int, default=0
        Seed of the Monte-Carlo draws, so that a table always gets the same
        p-value.

    Returns
    -------
    ExactTestResult
        The p-value, the method (``"enumeration"`` or ``"monte-carlo"``) and
        the number of tables enumerated or drawn.

    See Also
    --------
    scipy.stats.fisher_exact : The 2x2 test (the same p-value on 2x2 tables).
    table_one : Uses this test for tables larger than 2x2 with an expected
        count below 5.

    References
    ----------
    .. [1] G. H. Freeman and J. H. Halton, "Note on an exact treatment of
           contingency, goodness of fit and other problems of significance",
           Biometrika 38(1/2), 141-149, 1951. :doi:`10.2307/2332323`
    .. [2] W. M. Patefield, "Algorithm AS 159: an efficient method of
           generating random r x c tables with given row and column totals",
           Applied Statistics 30(1), 91-97, 1981. :doi:`10.2307/2346669`

    Examples
    --------
    >>> from ceusradiomics.clinical import freeman_halton_test
    >>> result = freeman_halton_test([[3, 0], [1, 4], [0, 4]])
    >>> round(result.pvalue, 6), result.method, result.n_tables
    (0.030303, 'enumeration', 14)
    """
    table = np.asarray(table)
    if table.ndim != 2:
        raise ValueError(
            f"table must be a 2-D array of counts; got shape {table.shape}."
        )
    if table.size and (
        not np.all(np.isfinite(table.astype(float)))
        or np.any(table < 0)
        or np.any(table != np.round(table))
    ):
        raise ValueError(
            f"table must hold non-negative integer counts; got {table.tolist()}."
        )
    table = table.astype(np.int64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape, default=0) < 2:
        return ExactTestResult(1.0, "enumeration", 1)
    if table.shape[0] < table.shape[1]:
        table = table.T  # fewer columns: fewer nested loops
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    n = int(table.sum())
    log_const = (
        special.gammaln(rows + 1.0).sum()
        + special.gammaln(cols + 1.0).sum()
        - special.gammaln(n + 1.0)
    )
    observed = special.gammaln(table + 1.0).sum()
    # log P = log_const - terms; "no more probable" is terms >= observed - tol
    threshold = observed - math.log1p(_RELATIVE_TOLERANCE)
    try:
        terms = _enumerate_log_terms(rows, cols, int(max_tables))
    except _TooManyTables:
        pass
    else:
        probabilities = np.exp(log_const - terms[terms >= threshold])
        pvalue = min(1.0, float(probabilities.sum()))
        return ExactTestResult(pvalue, "enumeration", int(terms.size))
    draws = stats.random_table(rows, cols, seed=np.random.default_rng(random_state))
    sample = draws.rvs(size=int(n_draws))
    terms = special.gammaln(sample + 1.0).sum(axis=(1, 2))
    hits = int(np.count_nonzero(terms >= threshold))
    return ExactTestResult((1 + hits) / (1 + int(n_draws)), "monte-carlo", int(n_draws))


# --------------------------------------------------------------------------
# Table 1
# --------------------------------------------------------------------------

CHI_SQUARE = "Pearson's chi-square"
FISHER = "Fisher's exact"
FREEMAN_HALTON = "Fisher's exact (Freeman-Halton)"
WELCH = "Welch's t-test"
MANN_WHITNEY = "Mann-Whitney U"
_P_COLUMN = "p-value"


def _as_names(value, name: str) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise TypeError(
            f"{name} must be a list of column names or None; got {value!r}."
        ) from None


def _is_numeric(values: pd.Series) -> bool:
    dtype = values.dtype
    return pd.api.types.is_numeric_dtype(dtype) and not (
        pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype)
    )


def _decimals(spread: float) -> int:
    """Decimals that show two significant digits of `spread`, at least one."""
    if not np.isfinite(spread) or spread <= 0:
        return 1
    return int(min(4, max(1, 1 - math.floor(math.log10(spread)))))


def _number(value: float, decimals: int) -> str:
    return "NA" if not np.isfinite(value) else f"{value:.{decimals}f}"


def _continuous_cell(values: np.ndarray, nonnormal: bool, decimals: int) -> str:
    if values.size == 0:
        return "NA"
    if nonnormal:
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        return (
            f"{_number(median, decimals)} "
            f"[{_number(q1, decimals)}, {_number(q3, decimals)}]"
        )
    sd = values.std(ddof=1) if values.size > 1 else np.nan
    return f"{_number(values.mean(), decimals)} ± {_number(sd, decimals)}"


def _continuous_test(a: np.ndarray, b: np.ndarray, nonnormal: bool):
    """p-value and test name of a continuous variable, two groups."""
    if nonnormal:
        if min(a.size, b.size) < 1:
            return np.nan, f"not tested (a group has no value; {MANN_WHITNEY})"
        return float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue), (
            MANN_WHITNEY
        )
    if min(a.size, b.size) < 2:
        return np.nan, f"not tested (a group has fewer than 2 values; {WELCH})"
    with warnings.catch_warnings():
        # constant data: scipy returns NaN and says so; the NaN is the answer
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_ind(a, b, equal_var=False).pvalue), WELCH


def _categorical_test(counts: np.ndarray, exact):
    """p-value and test name of a levels x groups table of counts."""
    counts = counts[counts.sum(axis=1) > 0]
    if counts.shape[0] < 2:
        return np.nan, "not tested (a single level)"
    if np.any(counts.sum(axis=0) == 0):
        return np.nan, "not tested (a group has no value)"
    expected = stats.contingency.expected_freq(counts)
    use_exact = exact is True or (exact == "auto" and expected.min() < 5)
    if not use_exact:
        return float(stats.chi2_contingency(counts, correction=False).pvalue), (
            CHI_SQUARE
        )
    if counts.shape == (2, 2):
        return float(stats.fisher_exact(counts).pvalue), FISHER
    result = freeman_halton_test(counts)
    if result.method == "monte-carlo":
        return result.pvalue, (
            f"{FREEMAN_HALTON}, Monte-Carlo ({result.n_tables} draws, seed 0)"
        )
    return result.pvalue, FREEMAN_HALTON


def table_one(
    data, group, *, categorical=None, continuous=None, nonnormal=None, exact="auto"
) -> pd.DataFrame:
    r"""The study's Table 1: each variable by group, with its test.

    One block of rows per column of `data` other than `group`, in column
    order (pass ``data[[...]]`` for a subset):

    * a **categorical** variable gets a header row (its missing count,
      p-value and test) and one row per level with ``n (%)`` in each group,
      the percentage of the group's non-missing values. Levels keep a
      natural order: a pandas Categorical's own order, otherwise numbers by
      value and strings by their leading number (``"<20"``, ``"20-400"``,
      ``">400"``) or in natural order (``"T2"`` before ``"T10"``);
    * a **continuous** variable gets one row, ``mean ± SD`` (SD with
      ``ddof=1``) or, for `nonnormal`, ``median [Q1, Q3]`` (linear
      interpolation, R's default type 7), with two significant digits of
      the overall SD (or IQR) and at least one decimal.

    The first row, ``n``, holds the group sizes.

    Categorical variables are compared with Pearson's chi-square test
    without continuity correction, or, when an expected count is below 5,
    with Fisher's exact test: :func:`scipy.stats.fisher_exact` on a 2x2
    table, the Freeman-Halton extension (:func:`freeman_halton_test`) on a
    larger one, enumerated up to 1,000,000 tables and beyond that estimated
    from 100,000 Monte-Carlo tables drawn with seed 0 (the ``Test`` column
    then says so). Continuous variables are compared with Welch's t-test
    (:func:`scipy.stats.ttest_ind`, ``equal_var=False``) or, for
    `nonnormal`, the two-sided Mann-Whitney U test
    (:func:`scipy.stats.mannwhitneyu` with its default method). Missing
    values are left out of each test and each percentage.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per patient; the variables and the `group` column.
    group : hashable
        The column of `data` that splits the rows into the two groups
        compared (``"ER"``, or training / testing). No missing value.
    categorical : list of str, optional
        Columns summarised as ``n (%)``. Columns named in none of
        `categorical`, `continuous` and `nonnormal` are classified by dtype:
        numbers are continuous, everything else (strings, categoricals,
        booleans) categorical.
    continuous : list of str, optional
        Numeric columns summarised as ``mean ± SD``.
    nonnormal : list of str, optional
        Numeric columns summarised as ``median [Q1, Q3]`` and tested with
        the Mann-Whitney U test (continuous whether listed there or not).
    exact : {"auto", True, False}, default="auto"
        Test of the categorical variables: ``"auto"`` uses Fisher's exact
        test when an expected count is below 5 and Pearson's chi-square
        otherwise; True always uses the exact test, False always the
        chi-square.

    Returns
    -------
    pandas.DataFrame
        Indexed by (``variable``, ``level``); the level is ``"n (%)"`` on a
        categorical variable's header row and ``"mean ± SD"`` or
        ``"median [Q1, Q3]"`` on a continuous one's. Columns ``Missing``
        (nullable int, on each variable's first row), ``Overall``, one
        column per group named ``"<group> = <level>"`` (strings), ``p-value``
        (float, on each variable's first row, NaN when not testable) and
        ``Test``. Write it with :meth:`pandas.DataFrame.to_csv` (the
        p-values at full precision) or :func:`markdown_table`.

    Raises
    ------
    ValueError
        If `group` or a listed column is not a column of `data`, a column is
        listed as both categorical and continuous, a continuous column is not
        numeric, `group` has missing values or not exactly two levels, or
        `exact` is not one of its options.

    See Also
    --------
    markdown_table : Renders the table as Markdown.
    freeman_halton_test : The exact test of tables larger than 2x2.

    Examples
    --------
    >>> import pandas as pd
    >>> from ceusradiomics.clinical import markdown_table, table_one
    >>> data = pd.DataFrame({
    ...     "ER": [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1],
    ...     "afp": [">400", "<20", "<20", "20-400", "<20", "<20",
    ...             ">400", ">400", "20-400", ">400", "<20", None],
    ...     "cm": [2.1, 3.0, 2.8, 4.2, 3.3, 2.5, 5.9, 4.4, 6.1, 3.9, 5.2, 4.8],
    ... })
    >>> table = table_one(data, "ER")
    >>> print(markdown_table(table))
    | variable | level | Missing | Overall | ER = 0 | ER = 1 | p-value | Test |
    |---|---|---|---|---|---|---|---|
    | n |  |  | 12 | 6 | 6 |  |  |
    | afp | n (%) | 1 |  |  |  | 0.437 | Fisher's exact (Freeman-Halton) |
    |  | <20 |  | 5 (45.5) | 4 (66.7) | 1 (20.0) |  |  |
    |  | 20-400 |  | 2 (18.2) | 1 (16.7) | 1 (20.0) |  |  |
    |  | >400 |  | 4 (36.4) | 1 (16.7) | 3 (60.0) |  |  |
    | cm | mean ± SD | 0 | 4.0 ± 1.3 | 3.0 ± 0.7 | 5.0 ± 0.9 | 0.001 | Welch's t-test |
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame; got {type(data).__name__}.")
    columns = list(data.columns)
    if group not in data.columns:
        raise ValueError(
            f"group {group!r} is not a column of data; its columns are {columns}."
        )
    listed = {
        "categorical": _as_names(categorical, "categorical"),
        "continuous": _as_names(continuous, "continuous"),
        "nonnormal": _as_names(nonnormal, "nonnormal"),
    }
    for name, names in listed.items():
        unknown = [c for c in names if c not in data.columns]
        if unknown:
            raise ValueError(
                f"{name} names column(s) {unknown} that data does not have; "
                f"its columns are {columns}."
            )
        if group in names:
            raise ValueError(
                f"{name} names the group column {group!r}; it splits the table "
                "and cannot be one of its variables."
            )
    both = [
        c
        for c in listed["categorical"]
        if c in listed["continuous"] or c in listed["nonnormal"]
    ]
    if both:
        raise ValueError(
            f"column(s) {both} are listed as both categorical and continuous "
            "(or nonnormal); list each column once."
        )
    if not (isinstance(exact, str) and exact == "auto") and not isinstance(exact, bool):
        raise ValueError(f"exact must be 'auto', True or False; got {exact!r}.")

    groups = data[group]
    if groups.isna().any():
        raise ValueError(
            f"group {group!r} has {int(groups.isna().sum())} missing value(s); "
            "drop or fill those rows first."
        )
    group_levels = _ordered_levels(groups, observed_only=True)
    if len(group_levels) != 2:
        raise ValueError(
            f"group {group!r} must have exactly two levels to compare; got "
            f"{len(group_levels)}: {group_levels}."
        )
    group_codes = pd.Categorical(groups, categories=group_levels).codes
    group_columns = [f"{group} = {level}" for level in group_levels]
    table_columns = ["Missing", "Overall", *group_columns, _P_COLUMN, "Test"]

    index: list[tuple] = [("n", "")]
    rows: list[list] = [
        [
            pd.NA,
            str(len(data)),
            *[str(np.sum(group_codes == g)) for g in (0, 1)],
            np.nan,
            "",
        ]
    ]
    nonnormal_names = set(listed["nonnormal"])
    continuous_names = set(listed["continuous"]) | nonnormal_names
    for variable in columns:
        if variable == group:
            continue
        values = data[variable]
        missing = int(values.isna().sum())
        if variable in listed["categorical"]:
            is_continuous = False
        elif variable in continuous_names:
            if not _is_numeric(values):
                raise ValueError(
                    f"continuous column {variable!r} is not numeric (dtype "
                    f"{values.dtype}); list it in categorical instead."
                )
            is_continuous = True
        else:
            is_continuous = _is_numeric(values)

        if is_continuous:
            x = values.to_numpy(dtype=np.float64, na_value=np.nan)
            present = ~np.isnan(x)
            parts = [x[present & (group_codes == g)] for g in (0, 1)]
            is_nonnormal = variable in nonnormal_names
            if is_nonnormal:
                q1, q3 = (
                    np.percentile(x[present], [25, 75])
                    if present.any()
                    else (np.nan, np.nan)
                )
                spread = q3 - q1
            else:
                spread = x[present].std(ddof=1) if present.sum() > 1 else np.nan
            decimals = _decimals(spread)
            cells = [
                _continuous_cell(v, is_nonnormal, decimals)
                for v in (x[present], *parts)
            ]
            pvalue, test = _continuous_test(*parts, is_nonnormal)
            label = "median [Q1, Q3]" if is_nonnormal else "mean ± SD"
            index.append((variable, label))
            rows.append([missing, *cells, pvalue, test])
            continue

        levels = _ordered_levels(values, observed_only=False)
        codes = pd.Categorical(values, categories=levels).codes
        present = codes >= 0
        counts = np.zeros((len(levels), 2), dtype=np.int64)
        np.add.at(counts, (codes[present], group_codes[present]), 1)
        pvalue, test = _categorical_test(counts, exact)
        index.append((variable, "n (%)"))
        rows.append([missing, "", "", "", pvalue, test])
        with_overall = np.column_stack([counts.sum(axis=1), counts])
        totals = with_overall.sum(axis=0)
        for level, level_counts in zip(levels, with_overall, strict=True):
            cells = [
                f"{k} ({100.0 * k / t:.1f})" if t else f"{k} (NA)"
                for k, t in zip(level_counts, totals, strict=True)
            ]
            index.append((variable, str(level)))
            rows.append([pd.NA, *cells, np.nan, ""])

    table = pd.DataFrame(
        rows,
        index=pd.MultiIndex.from_tuples(index, names=["variable", "level"]),
        columns=table_columns,
    )
    table["Missing"] = table["Missing"].astype("Int64")
    table[_P_COLUMN] = table[_P_COLUMN].astype(np.float64)
    return table


# --------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------


def _is_missing(value) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float | np.floating) and np.isnan(value)


def _markdown_cell(value, *, pvalue: bool, digits: int) -> str:
    if _is_missing(value):
        return ""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        if pvalue:
            return "<0.001" if value < 0.001 else f"{value:.3f}"
        return f"{value:.{digits}f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame, *, digits: int = 2) -> str:
    """Render a DataFrame as a GitHub-flavoured Markdown table.

    Needs no ``tabulate`` (which :meth:`pandas.DataFrame.to_markdown`
    requires). The index is written as the first column(s), unless it is an
    unnamed default range; in a MultiIndex, a first-level label repeated on
    consecutive rows is written once. Floats get `digits` decimals, except
    in the p-value columns (named ``"p-value"`` or ending in ``"p_value"``):
    3 decimals, ``"<0.001"`` below 0.001. Missing values are empty cells,
    and ``|`` in a cell is escaped.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table, e.g. from :func:`table_one` or the ``univariable_`` /
        ``multivariable_`` attributes of :class:`ScreenedLogisticRegression`.
    digits : int, default=2
        Decimals of the float cells outside the p-value columns.

    Returns
    -------
    str
        The Markdown table, one line per row, without a trailing newline.

    Examples
    --------
    >>> import pandas as pd
    >>> from ceusradiomics.clinical import markdown_table
    >>> frame = pd.DataFrame({"odds_ratio": [2.5, 0.8], "p_value": [0.0004, 0.31]},
    ...                      index=pd.Index(["size_cm", "age"], name="term"))
    >>> print(markdown_table(frame))
    | term | odds_ratio | p_value |
    |---|---|---|
    | size_cm | 2.50 | <0.001 |
    | age | 0.80 | 0.310 |
    """
    index = frame.index
    show_index = not (
        isinstance(index, pd.RangeIndex) and index.name is None and index.start == 0
    )
    index_names = [("" if n is None else str(n)) for n in index.names]
    header = ([*index_names] if show_index else []) + [str(c) for c in frame.columns]
    is_p = [
        str(c).lower() == "p-value" or str(c).lower().endswith("p_value")
        for c in frame.columns
    ]
    lines = [
        "| " + " | ".join(h.replace("|", "\\|") for h in header) + " |",
        "|" + "---|" * len(header),
    ]
    previous = None
    for key, values in zip(index, frame.itertuples(index=False), strict=True):
        cells = []
        if show_index:
            key = key if isinstance(key, tuple) else (key,)
            shown = list(key)
            if len(key) > 1 and previous is not None and key[0] == previous[0]:
                shown[0] = ""
            previous = key
            cells += [_markdown_cell(k, pvalue=False, digits=digits) for k in shown]
        cells += [
            _markdown_cell(v, pvalue=p, digits=digits)
            for v, p in zip(values, is_p, strict=True)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Logistic regression by maximum likelihood
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _LogitFit:
    """What a maximum-likelihood logistic fit returned (intercept first)."""

    params: np.ndarray
    cov: np.ndarray
    pvalues: np.ndarray
    ci: np.ndarray  # (n_params, 2), on the log-odds scale
    converged: bool


def _logit(design: np.ndarray, positive: np.ndarray) -> _LogitFit | None:
    """Unpenalised logistic regression of `positive` on `design` (with a 1s column).

    statsmodels' ``Logit`` fitted by Newton-Raphson; its warnings are caught
    and turned into the ``converged`` flag. The callers rule out collinear
    designs first, so a fit that fails (a Hessian that cannot be inverted,
    non-finite estimates) is one that diverged: it returns None. Standard
    errors that are not finite make the p-values and intervals NaN and the
    fit not converged.
    """
    from statsmodels.discrete.discrete_model import Logit

    with warnings.catch_warnings(record=True), np.errstate(all="ignore"):
        warnings.simplefilter("always")
        try:
            result = Logit(positive.astype(np.float64), design).fit(
                method="newton", maxiter=50, disp=0
            )
            params = np.asarray(result.params, dtype=np.float64)
            cov = np.asarray(result.cov_params(), dtype=np.float64)
            pvalues = np.asarray(result.pvalues, dtype=np.float64)
            ci = np.asarray(result.conf_int(alpha=0.05), dtype=np.float64)
        except (np.linalg.LinAlgError, ValueError):
            return None
        converged = bool(result.mle_retvals.get("converged", False))
    if not np.all(np.isfinite(params)):
        return None
    variances = np.diag(cov)
    if not (np.all(np.isfinite(variances)) and np.all(variances > 0)):
        cov = np.full_like(cov, np.nan)
        pvalues = np.full_like(pvalues, np.nan)
        ci = np.full_like(ci, np.nan)
        converged = False
    return _LogitFit(params, cov, pvalues, ci, converged)


def _joint_wald_pvalue(fit: _LogitFit, positions: list[int]) -> float:
    """Wald chi-square test that the coefficients at `positions` are all 0."""
    if len(positions) == 1:
        return float(fit.pvalues[positions[0]])
    beta = fit.params[positions]
    cov = fit.cov[np.ix_(positions, positions)]
    statistic = float(beta @ np.linalg.solve(cov, beta))
    return float(stats.chi2.sf(statistic, df=len(positions)))


_OR_COLUMNS = ["predictor", "odds_ratio", "ci_lower", "ci_upper", "p_value"]


def _odds_ratio_row(fit: _LogitFit, k: int, predictor: str) -> list:
    """Odds ratio, 95% Wald interval and Wald p of coefficient `k`."""
    with np.errstate(over="ignore"):  # a separated fit's odds ratio is inf
        return [
            predictor,
            float(np.exp(fit.params[k])),
            float(np.exp(fit.ci[k, 0])),
            float(np.exp(fit.ci[k, 1])),
            float(fit.pvalues[k]),
        ]


# --------------------------------------------------------------------------
# The estimator
# --------------------------------------------------------------------------


def _check_binary(y, estimator_name: str):
    """``(classes, y == classes[1])``, or a clear error for other targets."""
    check_classification_targets(y)
    classes = np.unique(y)
    if classes.size != 2:
        kind = type_of_target(y, input_name="y")
        shown = classes[:10].tolist()
        more = " ..." if classes.size > 10 else ""
        raise ValueError(
            f"Only binary classification is supported. {estimator_name} needs "
            f"exactly two classes in y; got {classes.size} class(es) "
            f"{shown}{more} (a {kind!r} target)."
        )
    return classes, np.asarray(y) == classes[1]


def _resolve_categorical(categorical: Any, X: Any) -> list | None:
    """The categorical predictors: as given, or with ``"auto"`` the columns of
    a DataFrame that are not numeric (strings, categoricals, booleans)."""
    if isinstance(categorical, str) and categorical == "auto":
        if not hasattr(X, "dtypes"):
            return None  # an array: numbers only
        found = [
            str(name)
            for name, dtype in X.dtypes.items()
            if not pd.api.types.is_numeric_dtype(dtype)
            or pd.api.types.is_bool_dtype(dtype)
        ]
        return found or None
    return categorical


class ScreenedLogisticRegression(FrameState, ClassifierMixin, BaseEstimator):
    """Univariable screen, then a multivariable logistic regression.

    The clinical model of the study: every predictor is entered alone in a
    logistic regression; those with a Wald p-value below `alpha` are kept
    and entered together in an unpenalised multivariable logistic
    regression fitted by maximum likelihood (statsmodels' ``Logit``,
    Newton-Raphson). Odds ratios, their 95% Wald confidence intervals and
    Wald p-values of both stages are kept as tables, as clinical papers
    report them; prediction uses the multivariable model. Being a
    scikit-learn classifier, the whole procedure (the screen included) is
    refitted inside each cross-validation fold.

    Parameters
    ----------
    alpha : float, default=0.05
        Significance level of the univariable screen: a predictor is kept
        when its p-value is strictly below `alpha`.
    categorical : list of str or int, "auto" or None, default=None
        The categorical predictors, by column name (with a DataFrame ``X``)
        or position; ``"auto"``: the columns of a DataFrame ``X`` that are
        not numeric (strings, pandas categoricals, booleans). Each is one-hot
        encoded against a reference level, the first level in natural order
        (a pandas Categorical's order, otherwise numbers by value and strings
        by their leading number, so
        ``"<20"`` before ``"20-400"`` before ``">400"``); its terms are named
        ``"AFP[>400]"``. The other columns must be numeric.

    Attributes
    ----------
    categorical_ : list or None
        The categorical predictors used (`categorical` resolved).
    classes_ : ndarray of shape (2,)
        The two class labels, sorted; ``classes_[1]`` is the event.
    n_features_in_ : int
        Number of predictors seen during `fit`.
    feature_names_in_ : ndarray of str of shape (n_features_in_,)
        Names of the predictors seen during `fit`, when ``X`` has string
        column names. Otherwise predictors are named ``"x0"``, ``"x1"``, ...
    categories_ : dict of str to ndarray
        The levels of each categorical predictor in the training data, in
        natural order; the first is the reference.
    terms_ : ndarray of str of shape (n_terms,)
        The model terms: a numeric predictor's name, or one
        ``"name[level]"`` per non-reference level of a categorical one.
    univariable_ : pandas.DataFrame
        One row per term (index ``term``): ``predictor``, ``odds_ratio``,
        ``ci_lower``, ``ci_upper`` (95% Wald interval) and ``p_value``
        (Wald) of the term's univariable model; ``predictor_p_value``, the
        p-value the screen compares with `alpha` (the term's own for a
        numeric or two-level predictor, the joint Wald chi-square test of
        its terms for a categorical one with more levels); and
        ``selected``. A constant predictor gets NaN and is never kept.
    selected_ : ndarray of str
        The predictors kept by the screen, in column order.
    multivariable_ : pandas.DataFrame
        The same columns as ``univariable_`` up to ``p_value``, one row per
        term of the selected predictors, from the multivariable model.
    coef_ : ndarray of shape (1, n_terms)
        Coefficients (log odds ratios) of the multivariable model over
        ``terms_``; 0 for the terms of predictors not selected.
    intercept_ : ndarray of shape (1,)
        Intercept of the multivariable model.

    See Also
    --------
    table_one : The Table 1 tests of the same variables.
    sklearn.linear_model.LogisticRegression : A penalised logistic model, for
        data that separate.

    Notes
    -----
    If no predictor passes the screen, the one with the smallest p-value is
    kept with an :class:`~ceusradiomics.exceptions.EmptySelectionWarning`.
    When the classes are (quasi-)completely separated, in a univariable or
    in the multivariable model, the maximum-likelihood estimates do not
    exist: Newton-Raphson stops after 50 iterations with diverging
    coefficients, and a :class:`~ceusradiomics.exceptions.SeparationWarning`
    names the predictors (their odds ratios and p-values are then
    meaningless; predictions still rank the lesions). Collinear selected
    predictors, or a multivariable fit that breaks down altogether, raise a
    ValueError. statsmodels' own warnings never reach
    the caller. ``X`` may not have missing values; a level of a categorical
    predictor that `fit` did not see raises a ValueError in prediction.

    References
    ----------
    .. [1] D. W. Hosmer, S. Lemeshow and R. X. Sturdivant, *Applied Logistic
           Regression*, 3rd ed., Wiley, 2013. :doi:`10.1002/9781118548387`

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from ceusradiomics.clinical import ScreenedLogisticRegression, markdown_table
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({
    ...     "size_cm": rng.normal(5, 1.5, 200),
    ...     "age": rng.normal(50, 13, 200),
    ...     "afp": rng.choice(["<20", "20-400", ">400"], 200),
    ... })
    >>> risk = 1.0 * (X["size_cm"] - 5) + 1.5 * (X["afp"] == ">400")
    >>> y = (risk + rng.logistic(size=200) > 0.5).astype(int)
    >>> model = ScreenedLogisticRegression(categorical=["afp"]).fit(X, y)
    >>> model.selected_
    array(['size_cm', 'afp'], dtype=object)
    >>> print(markdown_table(model.multivariable_))
    | term | predictor | odds_ratio | ci_lower | ci_upper | p_value |
    |---|---|---|---|---|---|
    | size_cm | size_cm | 2.85 | 2.08 | 3.91 | <0.001 |
    | afp[20-400] | afp | 0.65 | 0.29 | 1.48 | 0.307 |
    | afp[>400] | afp | 5.23 | 2.07 | 13.19 | <0.001 |
    >>> model.predict_proba(X.head(2)).round(3)
    array([[0.654, 0.346],
           [0.649, 0.351]])
    """

    _parameter_constraints: ClassVar[dict] = {
        "alpha": [Interval(Real, 0, 1, closed="right")],
        "categorical": ["array-like", StrOptions({"auto"}), None],
    }

    def __init__(self, alpha: float = 0.05, categorical=None):
        self.alpha = alpha
        self.categorical = categorical

    # ------------------------------------------------------------------ input

    def _predictor_names(self) -> list[str]:
        if hasattr(self, "feature_names_in_"):
            return [str(name) for name in self.feature_names_in_]
        return [f"x{i}" for i in range(self.n_features_in_)]

    def _categorical_positions(self) -> list[int]:
        if self.categorical_ is None:
            return []
        names = list(getattr(self, "feature_names_in_", []))
        positions = []
        for item in self.categorical_:
            if isinstance(item, Integral) and not isinstance(item, bool):
                if not 0 <= item < self.n_features_in_:
                    raise ValueError(
                        f"categorical position {item} is out of range for X "
                        f"with {self.n_features_in_} column(s)."
                    )
                positions.append(int(item))
            elif isinstance(item, str):
                if item not in names:
                    where = (
                        f"X's columns are {names}"
                        if names
                        else "X has no column names (pass a DataFrame, or "
                        "give positions)"
                    )
                    raise ValueError(
                        f"categorical names column {item!r}, which is not in X; "
                        f"{where}."
                    )
                positions.append(names.index(item))
            else:
                raise ValueError(
                    "categorical must list column names (str) or positions "
                    f"(int); got {item!r}."
                )
        return sorted(set(positions))

    def _numeric_column(self, values: np.ndarray, name: str) -> np.ndarray:
        try:
            column = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"column {name!r} of X is not numeric; list it in categorical "
                "to one-hot encode it."
            ) from None
        if not np.all(np.isfinite(column)):
            raise ValueError(
                f"column {name!r} of X contains NaN or infinity; drop or impute "
                "those rows first."
            )
        return column

    def _design(self, X: np.ndarray) -> np.ndarray:
        """The (n_samples, n_terms) design of ``X`` (no intercept column)."""
        if self.categorical_ is None:
            return np.asarray(X, dtype=np.float64)
        blocks = []
        for j, name in enumerate(self._predictor_names()):
            if name not in self.categories_:
                blocks.append(self._numeric_column(X[:, j], name)[:, None])
                continue
            levels = self.categories_[name]
            column = X[:, j]
            known = np.isin(column, levels)
            if not known.all():
                unknown = sorted({str(v) for v in column[~known]})
                raise ValueError(
                    f"categorical column {name!r} has level(s) {unknown} that "
                    f"fit did not see; the known levels are {list(levels)}."
                )
            blocks.append(
                np.column_stack([column == level for level in levels[1:]]).astype(
                    np.float64
                )
                if len(levels) > 1
                else np.zeros((len(column), 0))
            )
        return np.hstack(blocks)

    def _validate(self, X, *, reset: bool, y=None):
        kwargs = {"dtype": np.float64 if self.categorical_ is None else None}
        if reset:
            return validate_data(self, X, y, reset=True, **kwargs)
        return validate_data(self, X, reset=False, **kwargs)

    # -------------------------------------------------------------------- fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Screen the predictors one at a time, then fit the multivariable model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The predictors, no missing values; a DataFrame for categorical
            predictors named by column.
        y : array-like of shape (n_samples,)
            Binary target.

        Returns
        -------
        self : ScreenedLogisticRegression
            The fitted model.
        """
        self.categorical_ = _resolve_categorical(self.categorical, X)
        declared = {}
        if self.categorical_ is not None and hasattr(X, "dtypes"):
            declared = {
                j: list(dtype.categories)
                for j, dtype in enumerate(X.dtypes)
                if isinstance(dtype, pd.CategoricalDtype)
            }
        X, y = self._validate(X, reset=True, y=y)
        self.classes_, positive = _check_binary(y, type(self).__name__)
        names = self._predictor_names()
        categorical = self._categorical_positions()

        categories = {}
        for j in categorical:
            values = pd.Series(X[:, j], dtype=object)
            if j in declared:
                values = values.astype(pd.CategoricalDtype(declared[j]))
            categories[names[j]] = np.asarray(
                _ordered_levels(values, observed_only=True), dtype=object
            )
        self.categories_ = categories
        design = self._design(X)

        terms, owner = [], []  # term names, and the predictor of each term
        for j, name in enumerate(names):
            if name in categories:
                new = [f"{name}[{level}]" for level in categories[name][1:]]
            else:
                new = [name]
            terms += new
            owner += [j] * len(new)
        owner = np.asarray(owner, dtype=int)
        self.terms_ = np.asarray(terms, dtype=object)

        # Univariable screen.
        rows, predictor_p = [], np.full(len(names), np.nan)
        separated = []
        ones = np.ones((design.shape[0], 1))
        for j, name in enumerate(names):
            positions = np.flatnonzero(owner == j)
            block = design[:, positions]
            fit = None
            if positions.size and np.all(np.ptp(block, axis=0) > 0):
                fit = _logit(np.hstack([ones, block]), positive)
                if fit is None or not fit.converged:
                    separated.append(name)
            if fit is None:  # constant, or diverged
                rows += [[name, np.nan, np.nan, np.nan, np.nan]] * positions.size
                continue
            inner = list(range(1, positions.size + 1))
            predictor_p[j] = _joint_wald_pvalue(fit, inner)
            rows += [_odds_ratio_row(fit, k, name) for k in inner]
        if separated:
            warnings.warn(
                "the univariable logistic fit of "
                f"{', '.join(map(repr, separated))} did not converge: the "
                "predictor (quasi-)completely separates the classes, so its "
                "odds ratio, confidence interval and p-value are not "
                "meaningful.",
                SeparationWarning,
                stacklevel=3,  # past the _fit_context wrapper, to the caller
            )
        keep = predictor_p < self.alpha  # NaN compares False
        if not keep.any():
            if np.all(np.isnan(predictor_p)):
                raise ValueError(
                    "no predictor could be tested: every column of X is "
                    "constant (or has a single level) in the training data."
                )
            best = int(np.nanargmin(predictor_p))
            keep[best] = True
            warnings.warn(
                f"no predictor has a univariable p-value below "
                f"alpha={self.alpha}; keeping the single best, {names[best]!r} "
                f"(p = {predictor_p[best]:.3g}).",
                EmptySelectionWarning,
                stacklevel=3,
            )
        univariable = pd.DataFrame(
            rows, index=pd.Index(terms, name="term"), columns=_OR_COLUMNS
        )
        univariable["predictor_p_value"] = predictor_p[owner]
        univariable["selected"] = keep[owner]
        self.univariable_ = univariable
        self.selected_ = np.asarray(
            [name for name, k in zip(names, keep, strict=True) if k], dtype=object
        )

        # Multivariable model.
        positions = np.flatnonzero(keep[owner])
        full = np.hstack([ones, design[:, positions]])
        if np.linalg.matrix_rank(full) < full.shape[1]:
            raise ValueError(
                "the multivariable logistic model of the selected predictors "
                f"{self.selected_.tolist()} is singular: some of their terms "
                "are collinear (a duplicated predictor, or one that is a linear "
                "combination of others). Drop one of them from X."
            )
        fit = _logit(full, positive)
        if fit is None:
            raise ValueError(
                "the multivariable logistic fit of the selected predictors "
                f"{self.selected_.tolist()} diverged: they (quasi-)completely "
                "separate the classes, and the maximum-likelihood estimates do "
                "not exist. Use a penalised model "
                "(sklearn.linear_model.LogisticRegression) or fewer predictors."
            )
        if not fit.converged:
            warnings.warn(
                "the multivariable logistic fit of "
                f"{self.selected_.tolist()} did not converge: these predictors "
                "(quasi-)completely separate the classes, so the odds ratios, "
                "confidence intervals and p-values are not meaningful.",
                SeparationWarning,
                stacklevel=3,
            )
        selected_terms = [terms[k] for k in positions]
        self.multivariable_ = pd.DataFrame(
            [
                _odds_ratio_row(fit, i + 1, names[owner[k]])
                for i, k in enumerate(positions)
            ],
            index=pd.Index(selected_terms, name="term"),
            columns=_OR_COLUMNS,
        )
        coef = np.zeros((1, len(terms)))
        coef[0, positions] = fit.params[1:]
        self.coef_ = coef
        self.intercept_ = np.array([fit.params[0]])
        return self

    # ---------------------------------------------------------------- predict

    def decision_function(self, X):
        """Linear predictor (log-odds of ``classes_[1]``) of the multivariable model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The predictors, as in `fit`.

        Returns
        -------
        ndarray of shape (n_samples,)
            ``intercept_ + design @ coef_[0]``.
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        return self._design(X) @ self.coef_[0] + self.intercept_[0]

    def predict_proba(self, X):
        """Probabilities of the two classes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The predictors, as in `fit`.

        Returns
        -------
        ndarray of shape (n_samples, 2)
            Columns in the order of ``classes_``.
        """
        p = special.expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        """The most probable class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The predictors, as in `fit`.

        Returns
        -------
        ndarray of shape (n_samples,)
            ``classes_[1]`` where the linear predictor is positive.
        """
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(int)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
