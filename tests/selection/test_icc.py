"""Tests of intraclass_correlation and ICCFilter."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from ceusradiomics.exceptions import EmptySelectionWarning
from ceusradiomics.selection import ICC_KINDS, ICCFilter, intraclass_correlation

FORMS = ["ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)", "ICC(3,k)"]

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges (the paper's
# worked example; also pingouin's and R psych's ICC test data).
SHROUT_FLEISS = np.array(
    [
        [9, 2, 5, 8],
        [6, 1, 3, 2],
        [8, 4, 6, 8],
        [7, 1, 2, 6],
        [10, 5, 6, 9],
        [6, 2, 4, 7],
    ],
    dtype=float,
)
# Shrout & Fleiss (1979), the ICCs of that example as published (two
# decimals; k = 4).
SHROUT_FLEISS_ICC = {
    "ICC(1,1)": 0.17,
    "ICC(2,1)": 0.29,
    "ICC(3,1)": 0.71,
    "ICC(1,k)": 0.44,
    "ICC(2,k)": 0.62,
    "ICC(3,k)": 0.91,
}
# Shrout & Fleiss (1979), the example's ANOVA table: BMS = 11.24, WMS = 6.26,
# EMS = 1.02, so F = BMS / WMS for the one-way forms, BMS / EMS otherwise.
SHROUT_FLEISS_F = {"one-way": 11.24 / 6.26, "two-way": 11.24 / 1.02}


# ---------------------------------------------------------------- the function


@pytest.mark.parametrize("kind", FORMS)
def test_shrout_fleiss_published_values(kind):
    res = intraclass_correlation(SHROUT_FLEISS, kind=kind)
    assert round(res.icc, 2) == SHROUT_FLEISS_ICC[kind]
    f_ref = SHROUT_FLEISS_F["one-way" if kind.startswith("ICC(1") else "two-way"]
    np.testing.assert_allclose(res.f_statistic, f_ref, rtol=5e-3)
    assert res.df1 == 5
    assert res.df2 == (18 if kind.startswith("ICC(1") else 15)
    assert res.kind == kind


def _anova_loop(x):
    """Mean squares of a complete (n, k) table by explicit loops."""
    n, k = x.shape
    grand = sum(x[i, j] for i in range(n) for j in range(k)) / (n * k)
    rows = [sum(x[i]) / k for i in range(n)]
    cols = [sum(x[:, j]) / n for j in range(k)]
    ssr = k * sum((r - grand) ** 2 for r in rows)
    ssc = n * sum((c - grand) ** 2 for c in cols)
    sst = sum((x[i, j] - grand) ** 2 for i in range(n) for j in range(k))
    sse = sst - ssr - ssc
    return (
        ssr / (n - 1),
        (sst - ssr) / (n * (k - 1)),
        ssc / (k - 1),
        sse / ((n - 1) * (k - 1)),
    )


def test_matches_loop_oracle_over_features():
    rng = np.random.default_rng(1)
    n, k = 12, 3
    x = rng.normal(size=(n, k, 7)) + rng.normal(size=(n, 1, 7)) * 2
    res = {kind: intraclass_correlation(x, kind=kind).icc for kind in FORMS}
    for f in range(7):
        msb, msw, msj, mse = _anova_loop(x[:, :, f])
        expected = {
            "ICC(1,1)": (msb - msw) / (msb + (k - 1) * msw),
            "ICC(2,1)": (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n),
            "ICC(3,1)": (msb - mse) / (msb + (k - 1) * mse),
            "ICC(1,k)": (msb - msw) / msb,
            "ICC(2,k)": (msb - mse) / (msb + (msj - mse) / n),
            "ICC(3,k)": (msb - mse) / msb,
        }
        for kind in FORMS:
            np.testing.assert_allclose(res[kind][f], expected[kind], rtol=1e-12)


def _pingouin_table(x):
    pg = pytest.importorskip("pingouin")
    n, k = x.shape
    long = pd.DataFrame(
        {
            "target": np.repeat(np.arange(n), k),
            "rater": np.tile(np.arange(k), n),
            "score": x.ravel(),
        }
    )
    old = pg.options.get("round.column.CI95")
    pg.options["round.column.CI95"] = None  # pingouin rounds the CI by default
    try:
        with warnings.catch_warnings():
            # pingouin's own pandas deprecations are not ours to report.
            warnings.filterwarnings("ignore", module="pingouin")
            table = pg.intraclass_corr(long, "target", "rater", "score")
    finally:
        pg.options["round.column.CI95"] = old
    return table.set_index("Type")


# pingouin >= 0.7 prints McGraw & Wong's names.
PINGOUIN_NAMES = {
    "ICC(1,1)": "ICC(1,1)",
    "ICC(2,1)": "ICC(A,1)",
    "ICC(3,1)": "ICC(C,1)",
    "ICC(1,k)": "ICC(1,k)",
    "ICC(2,k)": "ICC(A,k)",
    "ICC(3,k)": "ICC(C,k)",
}


@pytest.mark.parametrize(("seed", "shape"), [(0, (10, 2)), (1, (23, 3)), (2, (7, 5))])
def test_matches_pingouin(seed, shape):
    rng = np.random.default_rng(seed)
    n, k = shape
    # Subject effect + rater bias + noise, so that the forms differ.
    x = (
        rng.normal(size=(n, 1)) * rng.uniform(0.5, 2)
        + rng.normal(size=(1, k)) * 0.7
        + rng.normal(size=(n, k))
    )
    table = _pingouin_table(x)
    for kind in FORMS:
        res = intraclass_correlation(x, kind=kind)
        row = table.loc[PINGOUIN_NAMES[kind]]
        np.testing.assert_allclose(res.icc, row["ICC"], rtol=1e-10)
        np.testing.assert_allclose(res.f_statistic, row["F"], rtol=1e-10)
        np.testing.assert_allclose(res.pvalue, row["pval"], rtol=1e-8)
        assert (res.df1, res.df2) == (row["df1"], row["df2"])
        np.testing.assert_allclose(
            [res.ci_lower, res.ci_upper], row["CI95"], rtol=1e-8, atol=1e-12
        )


def test_vectorised_equals_per_feature():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(15, 3, 6)) + rng.normal(size=(15, 1, 6))
    for kind in FORMS:
        res = intraclass_correlation(x, kind=kind)
        assert res.icc.shape == res.ci_lower.shape == res.pvalue.shape == (6,)
        for f in range(6):
            one = intraclass_correlation(x[:, :, f], kind=kind)
            for field in ("icc", "ci_lower", "ci_upper", "f_statistic", "pvalue"):
                np.testing.assert_allclose(
                    getattr(res, field)[f], getattr(one, field), rtol=1e-12
                )


def test_aliases_map_to_the_same_form():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(9, 3)) + rng.normal(size=(9, 1))
    for alias, canonical in ICC_KINDS.items():
        a = intraclass_correlation(x, kind=alias)
        b = intraclass_correlation(x, kind=canonical)
        assert a.kind == canonical
        assert (a.icc, a.ci_lower, a.ci_upper) == (b.icc, b.ci_lower, b.ci_upper)
    assert ICC_KINDS["ICC(A,1)"] == "ICC(2,1)"
    assert ICC_KINDS["two-way mixed, consistency, single"] == "ICC(3,1)"


def test_confidence_level_widens_interval():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(20, 2)) + rng.normal(size=(20, 1))
    for kind in FORMS:
        r90 = intraclass_correlation(x, kind=kind, confidence=0.90)
        r99 = intraclass_correlation(x, kind=kind, confidence=0.99)
        assert r99.ci_lower < r90.ci_lower <= r90.icc <= r90.ci_upper < r99.ci_upper


def test_invariant_to_affine_change_of_units():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(11, 3, 4)) + rng.normal(size=(11, 1, 4))
    for kind in FORMS:
        a = intraclass_correlation(x, kind=kind)
        b = intraclass_correlation(100.0 * x - 7.0, kind=kind)
        np.testing.assert_allclose(a.icc, b.icc, rtol=1e-10)
        np.testing.assert_allclose(a.ci_lower, b.ci_lower, rtol=1e-8)


def test_constant_feature_is_nan_without_warning():
    x = np.random.default_rng(7).normal(size=(8, 2, 3))
    x[:, :, 1] = 0.1  # one value everywhere: 0/0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for kind in FORMS:
            res = intraclass_correlation(x, kind=kind)
            assert np.isnan(res.icc[1]) and np.isnan(res.ci_lower[1])
            assert np.isnan(res.pvalue[1])
            assert np.isfinite(res.icc[[0, 2]]).all()


def test_perfect_agreement_is_one_with_unit_interval():
    x = np.repeat(np.arange(6.0)[:, None], 3, axis=1)  # raters identical
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for kind in FORMS:
            res = intraclass_correlation(x, kind=kind)
            assert res.icc == 1.0
            assert (res.ci_lower, res.ci_upper) == (1.0, 1.0)


def test_constant_offset_between_raters():
    # Consistency ignores the offset, absolute agreement does not.
    x = np.column_stack([np.arange(6.0), np.arange(6.0) + 3.0])
    assert intraclass_correlation(x, kind="ICC(3,1)").icc == 1.0
    res = intraclass_correlation(x, kind="ICC(2,1)")
    assert 0 < res.icc < 1 and np.isfinite([res.ci_lower, res.ci_upper]).all()


@pytest.mark.parametrize(
    ("ratings", "kwargs", "match"),
    [
        (np.ones((4, 2)), {"kind": "ICC(4,1)"}, r"kind must be one of .*'ICC\(4,1\)'"),
        (np.ones((4, 2)), {"confidence": 1.0}, r"confidence must be .*got 1.0"),
        (np.ones(4), {}, r"ratings must have shape .*got shape \(4,\)"),
        (np.ones((4, 1)), {}, r"at least 2 subjects and 2 raters; got 4 .* 1 rater"),
        (np.ones((1, 3)), {}, r"at least 2 subjects .*got 1 subject"),
        (np.array([[1.0, np.nan], [2.0, 3.0]]), {}, "must not contain NaN"),
        (np.array([[1.0, np.inf], [2.0, 3.0]]), {}, "must be finite"),
    ],
)
def test_function_errors(ratings, kwargs, match):
    with pytest.raises(ValueError, match=match):
        intraclass_correlation(ratings, **kwargs)


# ------------------------------------------------------------------ ICCFilter


def _reader_table(n=40, n_repeated=15, seed=0):
    """Three reliable features, two unreliable; reader 2 on the first rows."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=(n, 5))
    primary = truth + 0.05 * rng.normal(size=(n, 5))
    second = truth + 0.05 * rng.normal(size=(n, 5))
    second[:, 3:] = rng.normal(size=(n, 2))  # reader 2 disagrees entirely
    second[n_repeated:] = np.nan
    names = ["US_a", "US_b", "US_c", "AP_d", "AP_e"]
    X = pd.DataFrame(primary, columns=names)
    for j, name in enumerate(names):
        X[f"{name}@r2"] = second[:, j]
    return X


def test_filter_keeps_reliable_primary_columns():
    X = _reader_table()
    icc = ICCFilter().fit(X)
    assert icc.get_feature_names_out().tolist() == ["US_a", "US_b", "US_c"]
    assert icc.primary_features_.tolist() == ["US_a", "US_b", "US_c", "AP_d", "AP_e"]
    assert icc.readers_.tolist() == ["r2"]
    assert icc.n_repeated_.tolist() == [15] * 5
    assert (icc.icc_[:3] > 0.95).all() and (icc.icc_[3:] < 0.6).all()
    # Support is over all input columns; reader columns are never selected.
    assert icc.get_support().tolist() == [True] * 3 + [False] * 7
    Xt = icc.transform(X)
    np.testing.assert_array_equal(Xt, X[["US_a", "US_b", "US_c"]].to_numpy())


def test_filter_icc_equals_function_on_complete_rows():
    X = _reader_table()
    X.loc[3, "US_b"] = np.nan  # a degenerate primary value drops one row
    icc = ICCFilter(kind="ICC(3,1)").fit(X)
    for j, name in enumerate(icc.primary_features_):
        pair = X[[name, f"{name}@r2"]].dropna().to_numpy()
        ref = intraclass_correlation(pair, kind="ICC(3,1)")
        np.testing.assert_allclose(icc.icc_[j], ref.icc, rtol=1e-12)
        np.testing.assert_allclose(
            icc.icc_ci_[j], [ref.ci_lower, ref.ci_upper], rtol=1e-10
        )
        assert icc.n_repeated_[j] == len(pair)
    assert icc.n_repeated_.tolist() == [15, 14, 15, 15, 15]


def test_filter_any_number_of_readers_and_mixed_reader_sets():
    rng = np.random.default_rng(2)
    n = 30
    a, b = rng.normal(size=(2, n))
    X = pd.DataFrame(
        {
            "a": a,
            "a@r2": a + 0.1 * rng.normal(size=n),
            "a@r3": a + 0.1 * rng.normal(size=n),
            "b": b,
            "b@r3": b + 0.1 * rng.normal(size=n),
        }
    )
    X.loc[20:, "a@r3"] = np.nan
    icc = ICCFilter().fit(X)
    assert icc.readers_.tolist() == ["r2", "r3"]
    assert icc.n_repeated_.tolist() == [20, 30]
    ref = intraclass_correlation(X.loc[:19, ["a", "a@r2", "a@r3"]].to_numpy())
    np.testing.assert_allclose(icc.icc_[0], ref.icc, rtol=1e-12)
    ref_b = intraclass_correlation(X[["b", "b@r3"]].to_numpy())
    np.testing.assert_allclose(icc.icc_[1], ref_b.icc, rtol=1e-12)


def test_filter_threshold_and_lower_bound():
    X = _reader_table(seed=3)
    icc = ICCFilter(threshold=0.0).fit(X)
    base = ICCFilter().fit(X)
    np.testing.assert_array_equal(icc.icc_, base.icc_)
    mask = icc.icc_ > 0.0
    assert icc.get_support()[:5].tolist() == mask.tolist()
    strict = ICCFilter(threshold=0.9, use_lower_bound=True).fit(X)
    expected = base.icc_ci_[:, 0] > 0.9
    assert strict.get_support()[:5].tolist() == expected.tolist()
    assert (base.icc_ci_[:, 0] <= base.icc_).all()
    assert (base.icc_ <= base.icc_ci_[:, 1]).all()


def test_filter_passes_primary_nan_through():
    X = _reader_table()
    X.loc[30, "US_a"] = np.nan  # a lesion without reader 2
    out = ICCFilter().fit(X).transform(X)
    assert np.isnan(out[30, 0])
    assert np.isfinite(np.delete(out, 30, axis=0)).all()


def test_filter_keeps_best_feature_when_none_passes():
    X = _reader_table()
    with pytest.warns(EmptySelectionWarning, match=r"keeping the single best, 'US_"):
        icc = ICCFilter(threshold=0.999).fit(X)
    assert icc.get_feature_names_out().tolist() == [
        icc.primary_features_[np.argmax(icc.icc_)]
    ]


def test_filter_constant_feature_is_dropped():
    X = _reader_table()
    X["US_b"] = 1.0
    X["US_b@r2"] = np.where(X["US_a@r2"].isna(), np.nan, 1.0)
    icc = ICCFilter().fit(X)
    assert np.isnan(icc.icc_[1])
    assert "US_b" not in icc.get_feature_names_out()


def test_filter_set_output_pandas_and_names():
    X = _reader_table()
    X.index = [f"lesion{i}" for i in range(len(X))]
    icc = ICCFilter().set_output(transform="pandas").fit(X)
    out = icc.transform(X)
    assert isinstance(out, pd.DataFrame)
    assert out.columns.tolist() == ["US_a", "US_b", "US_c"]
    assert out.index.equals(X.index)
    assert icc.feature_names_in_.tolist() == X.columns.tolist()
    assert icc.n_features_in_ == 10
    with pytest.raises(ValueError, match="input_features is not equal"):
        icc.get_feature_names_out(["a"] * 10)


def test_filter_clone_pickle_and_refit_are_identical():
    X = _reader_table()
    icc = ICCFilter(threshold=0.5, kind="ICC(A,1)", use_lower_bound=True)
    assert clone(icc).get_params() == icc.get_params()
    fitted = icc.fit(X)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(X), fitted.transform(X))
    np.testing.assert_array_equal(restored.icc_, fitted.icc_)
    again = clone(icc).fit(X)
    np.testing.assert_array_equal(again.icc_, fitted.icc_)


def test_filter_row_order_invariance():
    X = _reader_table()
    perm = np.random.default_rng(0).permutation(len(X))
    a = ICCFilter().fit(X)
    b = ICCFilter().fit(X.iloc[perm])
    np.testing.assert_allclose(a.icc_, b.icc_, rtol=1e-10)
    np.testing.assert_array_equal(a.get_support(), b.get_support())


def test_filter_not_fitted():
    with pytest.raises(NotFittedError):
        ICCFilter().transform(_reader_table().to_numpy())
    with pytest.raises(NotFittedError):
        ICCFilter().get_feature_names_out()


def test_filter_transform_checks_columns():
    X = _reader_table()
    icc = ICCFilter().fit(X)
    with pytest.raises(ValueError, match="feature names should match"):
        icc.transform(X[X.columns[::-1]])


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda X: X.to_numpy(),
            r"needs a DataFrame with named columns.*got an array without",
        ),
        (
            lambda X: X[["US_a", "US_b"]],
            r"found no reader columns.*TextureExtractor\(readers='all'\).*'US_a'",
        ),
        (
            lambda X: X.drop(columns="US_b"),
            r"needs its primary column 'name'; missing primary column\(s\) \['US_b'\]",
        ),
        (
            lambda X: X.drop(columns="AP_e@r2"),
            r"at least one reader column .*none for \['AP_e'\]",
        ),
    ],
)
def test_filter_errors(make, match):
    with pytest.raises(ValueError, match=match):
        ICCFilter().fit(make(_reader_table()))


def test_filter_two_repeated_lesions_is_an_error():
    with pytest.raises(
        ValueError,
        match=r"at least 3 lesions with every reader's measurement.*most any "
        r"feature has is 2.*TextureExtractor\(readers='all'\)",
    ):
        ICCFilter().fit(_reader_table(n_repeated=2))


def test_filter_drops_a_feature_repeated_on_too_few_lesions():
    # A wavelet scale that only a few ROIs hold is NaN elsewhere: no ICC, so
    # the feature is not kept, and the others are unaffected.
    X = _reader_table()
    X.loc[X.index[2:], "US_c@r2"] = np.nan
    icc = ICCFilter(threshold=-1.0).fit(X)
    full = ICCFilter(threshold=-1.0).fit(_reader_table())
    c = list(icc.primary_features_).index("US_c")
    assert icc.n_repeated_[c] == 2 and np.isnan(icc.icc_[c])
    assert "US_c" not in icc.get_feature_names_out()
    others = [i for i in range(len(icc.icc_)) if i != c]
    np.testing.assert_allclose(icc.icc_[others], full.icc_[others])


def test_filter_parameter_validation():
    with pytest.raises(ValueError, match="'kind' parameter of ICCFilter must be"):
        ICCFilter(kind="ICC(9,9)").fit(_reader_table())
