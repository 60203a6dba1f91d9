"""Table 1 and the screened logistic model (ceusradiomics.clinical).

The p-values of ``table_one`` are checked against scipy on the same tables,
the r x c exact test against a brute-force enumeration written here, and
``ScreenedLogisticRegression`` against statsmodels' ``Logit`` fitted by hand.
"""

import io
import itertools
import math
import warnings
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from ceusradiomics.clinical import (
    ScreenedLogisticRegression,
    freeman_halton_test,
    markdown_table,
    table_one,
)
from ceusradiomics.exceptions import EmptySelectionWarning, SeparationWarning

sm = pytest.importorskip("statsmodels.api")

# --------------------------------------------------------------------------
# Helpers and oracles
# --------------------------------------------------------------------------


def _p(table, variable):
    """The p-value on a variable's first row."""
    return table.loc[variable, "p-value"].iloc[0]


def _test(table, variable):
    return table.loc[variable, "Test"].iloc[0]


def _counts(data, variable, group):
    """levels x groups counts, levels as the table orders them."""
    return pd.crosstab(data[variable], data[group]).to_numpy()


def brute_force_exact(table):
    """Freeman-Halton p-value, every table with the margins listed cell by cell.

    Exact rational probabilities ``prod r! prod c! / (n! prod x!)``; the tables
    no more probable than the observed one (relative tolerance 1e-7, as R's
    fisher.test) are summed.
    """
    table = np.asarray(table)
    rows, cols, n = table.sum(axis=1), table.sum(axis=0), int(table.sum())
    numerator = math.prod(math.factorial(int(v)) for v in (*rows, *cols))

    def probability(x):
        denominator = math.factorial(n) * math.prod(
            math.factorial(int(v)) for v in np.ravel(x)
        )
        return Fraction(numerator, denominator)

    observed = probability(table)
    bound = observed * (1 + Fraction(1, 10**7))
    ranges = [range(min(r, c) + 1) for r in rows for c in cols]
    total, count = Fraction(0), 0
    for cells in itertools.product(*ranges):
        x = np.array(cells).reshape(table.shape)
        if np.array_equal(x.sum(axis=1), rows) and np.array_equal(x.sum(axis=0), cols):
            count += 1
            p = probability(x)
            if p <= bound:
                total += p
    return float(total), count


@pytest.fixture
def frame():
    """200 patients: large-count categoricals and two continuous variables."""
    rng = np.random.default_rng(1)
    n = 200
    er = rng.integers(0, 2, n)
    return pd.DataFrame(
        {
            "ER": er,
            "sex": rng.choice(["F", "M"], n, p=[0.3, 0.7]),
            "afp_group": rng.choice(["<20", "20-400", ">400"], n),
            "age": rng.normal(50, 12, n).round(),
            "size_cm": rng.lognormal(1.5, 0.3, n) + 0.8 * er,
        }
    )


# --------------------------------------------------------------------------
# table_one: p-values against scipy
# --------------------------------------------------------------------------


def test_chi_square_matches_scipy(frame):
    table = table_one(frame, "ER")
    for variable in ["sex", "afp_group"]:
        expected = stats.chi2_contingency(
            _counts(frame, variable, "ER"), correction=False
        ).pvalue
        assert _test(table, variable) == "Pearson's chi-square"
        assert abs(_p(table, variable) - expected) < 1e-12


def test_chi_square_has_no_continuity_correction():
    data = pd.DataFrame(
        {"g": [0] * 30 + [1] * 30, "x": ["a"] * 20 + ["b"] * 25 + ["a"] * 15}
    )
    table = table_one(data, "g")
    counts = _counts(data, "x", "g")
    assert stats.contingency.expected_freq(counts).min() >= 5
    assert (
        abs(_p(table, "x") - stats.chi2_contingency(counts, correction=False).pvalue)
        < 1e-12
    )
    assert abs(_p(table, "x") - stats.chi2_contingency(counts).pvalue) > 1e-3


def test_fisher_2x2_when_an_expected_count_is_below_5():
    data = pd.DataFrame(
        {
            "g": ["a"] * 12 + ["b"] * 10,
            "x": ["no"] * 11 + ["yes"] + ["no"] * 5 + ["yes"] * 5,
        }
    )
    counts = _counts(data, "x", "g")
    assert stats.contingency.expected_freq(counts).min() < 5
    table = table_one(data, "g")
    assert _test(table, "x") == "Fisher's exact"
    assert abs(_p(table, "x") - stats.fisher_exact(counts).pvalue) < 1e-12


def test_exact_option_forces_the_test(frame):
    forced = table_one(frame, "ER", exact=True)
    counts = _counts(frame, "sex", "ER")
    assert _test(forced, "sex") == "Fisher's exact"
    assert abs(_p(forced, "sex") - stats.fisher_exact(counts).pvalue) < 1e-12
    assert _test(forced, "afp_group").startswith("Fisher's exact (Freeman-Halton")
    small = pd.DataFrame({"g": [0, 0, 0, 1, 1, 1], "x": ["a", "a", "b", "b", "b", "a"]})
    never = table_one(small, "g", exact=False)
    expected = stats.chi2_contingency(_counts(small, "x", "g"), correction=False).pvalue
    assert _test(never, "x") == "Pearson's chi-square"
    assert abs(_p(never, "x") - expected) < 1e-12


def test_welch_and_mann_whitney_match_scipy(frame):
    table = table_one(frame, "ER", nonnormal=["size_cm"])
    a = frame.loc[frame["ER"] == 0]
    b = frame.loc[frame["ER"] == 1]
    welch = stats.ttest_ind(a["age"], b["age"], equal_var=False).pvalue
    mwu = stats.mannwhitneyu(a["size_cm"], b["size_cm"], alternative="two-sided").pvalue
    assert _test(table, "age") == "Welch's t-test"
    assert abs(_p(table, "age") - welch) < 1e-12
    assert _test(table, "size_cm") == "Mann-Whitney U"
    assert abs(_p(table, "size_cm") - mwu) < 1e-12
    assert table.index.get_level_values("level")[
        table.index.get_level_values("variable") == "size_cm"
    ].tolist() == ["median [Q1, Q3]"]


def test_continuous_summaries(frame):
    table = table_one(frame, "ER", nonnormal=["size_cm"])
    age = frame["age"]
    assert (
        table.loc[("age", "mean ± SD"), "Overall"]
        == f"{age.mean():.1f} ± {age.std():.1f}"
    )
    size = frame.loc[frame["ER"] == 1, "size_cm"]
    q1, median, q3 = np.percentile(size, [25, 50, 75])
    assert table.loc[("size_cm", "median [Q1, Q3]"), "ER = 1"] == (
        f"{median:.1f} [{q1:.1f}, {q3:.1f}]"
    )


# --------------------------------------------------------------------------
# The r x c exact test
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "counts",
    [
        [[3, 0], [1, 4], [0, 4]],
        [[2, 1, 0], [0, 2, 3]],
        [[1, 2, 0], [2, 0, 1], [0, 1, 3]],
        [[3, 1], [2, 2], [0, 3], [1, 0]],
        [[0, 5], [4, 1], [2, 2]],
        [[1, 1], [1, 1], [1, 1]],
    ],
)
def test_freeman_halton_matches_brute_force(counts):
    expected, n_tables = brute_force_exact(counts)
    result = freeman_halton_test(counts)
    assert result.method == "enumeration"
    assert result.n_tables == n_tables
    assert abs(result.pvalue - expected) < 1e-12


@pytest.mark.parametrize(
    "counts", [[[5, 1], [1, 4]], [[8, 2], [1, 5]], [[0, 3], [6, 2]]]
)
def test_freeman_halton_is_fisher_on_2x2(counts):
    assert (
        abs(freeman_halton_test(counts).pvalue - stats.fisher_exact(counts).pvalue)
        < 1e-12
    )


def test_table_one_uses_the_rxc_exact_test():
    data = pd.DataFrame(
        {
            "g": [0] * 7 + [1] * 6,
            "stage": [
                "I",
                "I",
                "I",
                "II",
                "II",
                "III",
                "I",
                "II",
                "III",
                "III",
                "III",
                "II",
                "III",
            ],
        }
    )
    counts = _counts(data, "stage", "g")
    table = table_one(data, "g")
    assert _test(table, "stage") == "Fisher's exact (Freeman-Halton)"
    assert abs(_p(table, "stage") - brute_force_exact(counts)[0]) < 1e-12


def test_freeman_halton_monte_carlo_is_seeded_and_close():
    counts = [[3, 1], [2, 2], [0, 3], [1, 0]]
    exact = brute_force_exact(counts)[0]
    first = freeman_halton_test(counts, max_tables=5, n_draws=20_000)
    again = freeman_halton_test(counts, max_tables=5, n_draws=20_000)
    assert first.method == "monte-carlo"
    assert first.n_tables == 20_000
    assert first.pvalue == again.pvalue
    assert abs(first.pvalue - exact) < 0.02


def test_freeman_halton_drops_empty_margins_and_checks_input():
    assert freeman_halton_test(
        [[3, 0, 1], [0, 0, 0], [1, 0, 4]]
    ).pvalue == pytest.approx(stats.fisher_exact([[3, 1], [1, 4]]).pvalue, abs=1e-12)
    assert freeman_halton_test([[3, 4]]).pvalue == 1.0
    with pytest.raises(ValueError, match="non-negative integer counts"):
        freeman_halton_test([[1, -1], [2, 3]])
    with pytest.raises(ValueError, match="2-D array"):
        freeman_halton_test([1, 2, 3])


# --------------------------------------------------------------------------
# table_one: layout, order, missing values, rendering
# --------------------------------------------------------------------------


def test_levels_keep_their_natural_order():
    data = pd.DataFrame(
        {
            "g": [0, 1] * 6,
            "afp": [">400", "20-400", "<20"] * 4,
            "size": ["<5", ">=5", ">=5", "<5"] * 3,
            "stage": ["T10", "T2", "T1"] * 4,
        }
    )
    table = table_one(data, "g")
    levels = table.index.get_level_values("level")
    variables = table.index.get_level_values("variable")
    assert levels[variables == "afp"].tolist() == ["n (%)", "<20", "20-400", ">400"]
    assert levels[variables == "size"].tolist() == ["n (%)", "<5", ">=5"]
    assert levels[variables == "stage"].tolist() == ["n (%)", "T1", "T2", "T10"]


def test_a_categorical_keeps_its_own_order():
    order = pd.CategoricalDtype(["positive", "negative", "unknown"])
    data = pd.DataFrame(
        {"g": [0, 1] * 5, "hbv": pd.Series(["negative", "positive"] * 5).astype(order)}
    )
    table = table_one(data, "g")
    assert table.loc["hbv"].index.tolist() == [
        "n (%)",
        "positive",
        "negative",
        "unknown",
    ]
    assert table.loc[("hbv", "unknown"), "Overall"] == "0 (0.0)"
    # the unused level is not part of the test
    counts = np.array([[0, 5], [5, 0]])
    assert abs(_p(table, "hbv") - stats.fisher_exact(counts).pvalue) < 1e-12


def test_groups_in_natural_order_and_sizes():
    data = pd.DataFrame(
        {"cohort": ["test", "train", "train"] * 4, "x": np.arange(12.0)}
    )
    table = table_one(data, "cohort")
    assert table.columns.tolist() == [
        "Missing",
        "Overall",
        "cohort = test",
        "cohort = train",
        "p-value",
        "Test",
    ]
    assert table.loc[
        ("n", ""), ["Overall", "cohort = test", "cohort = train"]
    ].tolist() == [
        "12",
        "4",
        "8",
    ]


def test_missing_counts_and_percentages_of_the_present():
    data = pd.DataFrame(
        {
            "g": [0, 0, 0, 0, 1, 1, 1, 1],
            "sex": ["M", "F", None, "M", "F", "F", "M", None],
            "age": [50.0, np.nan, 40.0, 60.0, 55.0, 45.0, np.nan, np.nan],
        }
    )
    table = table_one(data, "g")
    assert table.loc[("sex", "n (%)"), "Missing"] == 2
    assert table.loc[("age", "mean ± SD"), "Missing"] == 3
    assert pd.isna(table.loc[("sex", "M"), "Missing"])
    assert table.loc[("sex", "M"), "g = 0"] == "2 (66.7)"
    assert table.loc[("sex", "M"), "Overall"] == "3 (50.0)"
    a, b = np.array([50.0, 40.0, 60.0]), np.array([55.0, 45.0])
    expected = stats.ttest_ind(a, b, equal_var=False).pvalue
    assert abs(_p(table, "age") - expected) < 1e-12


def test_dtype_decides_unless_listed():
    data = pd.DataFrame(
        {"g": [0, 1] * 10, "grade": [1, 2, 3, 2, 1] * 4, "ok": [True, False] * 10}
    )
    inferred = table_one(data, "g")
    assert inferred.loc["grade"].index.tolist() == ["mean ± SD"]
    assert inferred.loc["ok"].index.tolist() == ["n (%)", "False", "True"]
    listed = table_one(data, "g", categorical=["grade"])
    assert listed.loc["grade"].index.tolist() == ["n (%)", "1", "2", "3"]


def test_renders_to_csv_and_markdown(frame):
    table = table_one(frame, "ER")
    text = table.to_csv()
    back = pd.read_csv(io.StringIO(text), index_col=[0, 1], keep_default_na=False)
    assert float(back.loc[("age", "mean ± SD"), "p-value"]) == pytest.approx(
        _p(table, "age"), rel=1e-12
    )
    markdown = markdown_table(table)
    lines = markdown.splitlines()
    assert lines[0].startswith(
        "| variable | level | Missing | Overall | ER = 0 | ER = 1 |"
    )
    assert len(lines) == len(table) + 2
    assert "|  | 20-400 |" in markdown  # the variable written once per block


def test_markdown_escapes_and_formats():
    frame = pd.DataFrame(
        {"a|b": ["x|y", None], "p_value": [0.0001, 0.5], "v": [1.23456, np.nan]}
    )
    assert markdown_table(frame, digits=1).splitlines() == [
        "| a\\|b | p_value | v |",
        "|---|---|---|",
        "| x\\|y | <0.001 | 1.2 |",
        "|  | 0.500 |  |",
    ]


def test_on_the_synthetic_cohort():
    from ceusradiomics.datasets import make_ceus_cohort

    _, y, clinical = make_ceus_cohort(40, image_size=64, random_state=0)
    table = table_one(clinical.join(y), "ER", nonnormal=["size_cm"])
    assert table.loc["afp_group"].index.tolist() == ["n (%)", "<20", "20-400", ">400"]
    assert table["p-value"].notna().sum() == clinical.shape[1]


# --------------------------------------------------------------------------
# table_one: errors
# --------------------------------------------------------------------------


def test_table_one_errors(frame):
    with pytest.raises(
        ValueError, match=r"group 'ER' must have exactly two levels.*got 1"
    ):
        table_one(frame.assign(ER=1), "ER")
    with pytest.raises(ValueError, match=r"exactly two levels.*got 3"):
        table_one(frame, "afp_group")
    with pytest.raises(ValueError, match="group 'cohort' is not a column of data"):
        table_one(frame, "cohort")
    with pytest.raises(ValueError, match=r"categorical names column\(s\) \['AFP'\]"):
        table_one(frame, "ER", categorical=["AFP"])
    with pytest.raises(ValueError, match=r"nonnormal names column\(s\) \['size'\]"):
        table_one(frame, "ER", nonnormal=["size"])
    with pytest.raises(ValueError, match="names the group column 'ER'"):
        table_one(frame, "ER", continuous=["ER"])
    with pytest.raises(ValueError, match="both categorical and continuous"):
        table_one(frame, "ER", categorical=["age"], continuous=["age"])
    with pytest.raises(ValueError, match="continuous column 'sex' is not numeric"):
        table_one(frame, "ER", continuous=["sex"])
    with pytest.raises(ValueError, match="group 'ER' has 1 missing value"):
        table_one(frame.assign(ER=frame["ER"].where(frame.index > 0)), "ER")
    with pytest.raises(
        ValueError, match="exact must be 'auto', True or False; got 'yes'"
    ):
        table_one(frame, "ER", exact="yes")
    with pytest.raises(TypeError, match="data must be a pandas DataFrame"):
        table_one(frame.to_numpy(), "ER")


def test_untestable_variables_get_nan():
    data = pd.DataFrame(
        {"g": [0, 0, 1, 1], "x": ["a"] * 4, "y": [1.0, np.nan, 2.0, 3.0]}
    )
    table = table_one(data, "g")
    assert np.isnan(_p(table, "x"))
    assert _test(table, "x").startswith("not tested")
    assert np.isnan(_p(table, "y"))
    assert _test(table, "y").startswith("not tested")


# --------------------------------------------------------------------------
# ScreenedLogisticRegression
# --------------------------------------------------------------------------


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "size_cm": rng.normal(5, 1.5, n),
            "noise": rng.normal(0, 1, n),
            "age": rng.normal(50, 13, n),
        }
    )
    logit = -0.5 + 0.9 * (X["size_cm"] - 5) + 0.04 * (X["age"] - 50)
    y = (rng.random(n) < special.expit(logit)).astype(int)
    return X, y


def _by_hand(X, y):
    """statsmodels Logit on X with a constant: OR, 95% CI, p, params."""
    result = sm.Logit(np.asarray(y, float), sm.add_constant(np.asarray(X, float))).fit(
        disp=0
    )
    ci = np.asarray(result.conf_int())
    params = np.asarray(result.params)
    return np.exp(params[1:]), np.exp(ci[1:]), np.asarray(result.pvalues)[1:], params


def test_univariable_and_multivariable_match_statsmodels():
    X, y = _data()
    model = ScreenedLogisticRegression().fit(X, y)
    for name in X.columns:
        odds, ci, p, _ = _by_hand(X[[name]], y)
        row = model.univariable_.loc[name]
        np.testing.assert_allclose(row["odds_ratio"], odds[0], rtol=1e-6)
        np.testing.assert_allclose(
            row[["ci_lower", "ci_upper"]].astype(float), ci[0], rtol=1e-6
        )
        np.testing.assert_allclose(row["p_value"], p[0], rtol=1e-6, atol=1e-300)
        assert row["predictor_p_value"] == row["p_value"]
    assert model.selected_.tolist() == ["size_cm", "age"]
    odds, ci, p, params = _by_hand(X[["size_cm", "age"]], y)
    multi = model.multivariable_
    assert multi.index.tolist() == ["size_cm", "age"]
    np.testing.assert_allclose(multi["odds_ratio"], odds, rtol=1e-6)
    np.testing.assert_allclose(multi[["ci_lower", "ci_upper"]], ci, rtol=1e-6)
    np.testing.assert_allclose(multi["p_value"], p, rtol=1e-6)
    np.testing.assert_allclose(model.intercept_, params[:1], rtol=1e-6)
    np.testing.assert_allclose(model.coef_, [[params[1], 0.0, params[2]]], rtol=1e-6)


def test_predictions_are_the_logistic_of_the_coefficients():
    X, y = _data()
    model = ScreenedLogisticRegression().fit(X, y)
    _, _, _, params = _by_hand(X[["size_cm", "age"]], y)
    eta = params[0] + X["size_cm"] * params[1] + X["age"] * params[2]
    p = 1.0 / (1.0 + np.exp(-eta.to_numpy()))
    np.testing.assert_allclose(model.decision_function(X), eta, rtol=1e-6)
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], p, rtol=1e-6)
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X), (p > 0.5).astype(int))


def test_the_screen_drops_a_noise_predictor():
    X, y = _data()
    model = ScreenedLogisticRegression(alpha=0.05).fit(X, y)
    assert model.univariable_.loc["noise", "p_value"] > 0.05
    assert not model.univariable_.loc["noise", "selected"]
    assert "noise" not in model.selected_
    assert "noise" not in model.multivariable_.index
    assert model.coef_[0, 1] == 0.0
    every = ScreenedLogisticRegression(alpha=1.0).fit(X, y)
    assert every.selected_.tolist() == ["size_cm", "noise", "age"]


def test_a_categorical_predictor_against_its_reference_level():
    rng = np.random.default_rng(3)
    n = 400
    afp = rng.choice([">400", "<20", "20-400"], n)
    size = rng.normal(5, 1.5, n)
    logit = (
        -1
        + 0.6 * (size - 5)
        + np.select([afp == "20-400", afp == ">400"], [0.5, 1.5], 0)
    )
    y = (rng.random(n) < special.expit(logit)).astype(int)
    X = pd.DataFrame({"size_cm": size, "AFP": afp})
    model = ScreenedLogisticRegression(categorical=["AFP"]).fit(X, y)
    assert model.categories_["AFP"].tolist() == ["<20", "20-400", ">400"]
    assert model.terms_.tolist() == ["size_cm", "AFP[20-400]", "AFP[>400]"]
    assert model.multivariable_.index.tolist() == [
        "size_cm",
        "AFP[20-400]",
        "AFP[>400]",
    ]
    assert model.multivariable_["predictor"].tolist() == ["size_cm", "AFP", "AFP"]
    dummies = np.column_stack([afp == "20-400", afp == ">400"]).astype(float)
    odds, ci, p, params = _by_hand(np.column_stack([size, dummies]), y)
    np.testing.assert_allclose(model.multivariable_["odds_ratio"], odds, rtol=1e-6)
    np.testing.assert_allclose(
        model.multivariable_[["ci_lower", "ci_upper"]], ci, rtol=1e-6
    )
    np.testing.assert_allclose(model.multivariable_["p_value"], p, rtol=1e-6)
    # the screen's p for a three-level predictor: the joint Wald test
    result = sm.Logit(y.astype(float), sm.add_constant(dummies)).fit(disp=0)
    wald = result.wald_test(np.eye(3)[1:], scalar=True)
    assert model.univariable_.loc["AFP[>400]", "predictor_p_value"] == pytest.approx(
        float(wald.pvalue), rel=1e-6
    )
    eta = params[0] + np.column_stack([size, dummies]) @ params[1:]
    np.testing.assert_allclose(model.decision_function(X), eta, rtol=1e-6)


def test_a_pandas_categorical_sets_the_reference():
    rng = np.random.default_rng(4)
    n = 300
    hbv = rng.choice(["negative", "positive"], n)
    y = (rng.random(n) < np.where(hbv == "positive", 0.6, 0.3)).astype(int)
    X = pd.DataFrame({"hbv": pd.Categorical(hbv, categories=["positive", "negative"])})
    model = ScreenedLogisticRegression(categorical=["hbv"]).fit(X, y)
    assert model.terms_.tolist() == ["hbv[negative]"]
    assert model.multivariable_.loc["hbv[negative]", "odds_ratio"] < 1
    positional = ScreenedLogisticRegression(categorical=[0]).fit(hbv[:, None], y)
    assert positional.terms_.tolist() == ["x0[positive]"]


def test_no_predictor_passes_keeps_the_best():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 3))
    y = np.repeat([0, 1], 30)
    with pytest.warns(EmptySelectionWarning, match="keeping the single best, 'x"):
        model = ScreenedLogisticRegression(alpha=0.001).fit(X, y)
    best = int(np.argmin(model.univariable_["predictor_p_value"]))
    assert model.selected_.tolist() == [f"x{best}"]
    assert model.multivariable_.shape[0] == 1


def test_separation_warns_and_still_predicts():
    rng = np.random.default_rng(6)
    x = rng.normal(size=40)
    X = np.column_stack([x, rng.normal(size=40)])
    y = (x > 0).astype(int)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = ScreenedLogisticRegression(alpha=1.0).fit(X, y)
    categories = {w.category for w in caught}
    assert categories == {SeparationWarning}, [str(w.message) for w in caught]
    messages = " ".join(str(w.message) for w in caught)
    assert "univariable logistic fit of 'x0' did not converge" in messages
    assert "multivariable logistic fit" in messages
    assert (model.predict(X) == y).all()


def test_quasi_separation_by_a_level_warns():
    rng = np.random.default_rng(7)
    n = 200
    size = rng.normal(5, 1.5, n)
    y = (rng.random(n) < special.expit(size - 5)).astype(int)
    flag = np.where((y == 1) & (rng.random(n) < 0.2), "yes", "no")  # "yes": all ER
    X = pd.DataFrame({"size_cm": size, "flag": flag})
    with pytest.warns(SeparationWarning, match="univariable logistic fit of 'flag'"):
        model = ScreenedLogisticRegression(categorical=["flag"]).fit(X, y)
    assert model.univariable_.loc["flag[yes]", "odds_ratio"] > 1e3


def test_collinear_predictors_raise():
    X, y = _data()
    X = X.assign(size_mm=10 * X["size_cm"])
    with pytest.raises(
        ValueError, match="is singular: some of their terms are collinear"
    ):
        ScreenedLogisticRegression().fit(X, y)


def test_constant_predictors():
    X, y = _data()
    model = ScreenedLogisticRegression().fit(X.assign(site=1.0), y)
    assert np.isnan(model.univariable_.loc["site", "p_value"])
    assert "site" not in model.selected_
    with pytest.raises(ValueError, match="every column of X is constant"):
        ScreenedLogisticRegression().fit(np.ones((20, 2)), np.repeat([0, 1], 10))


def test_binary_only():
    X, _ = _data(60)
    with pytest.raises(
        ValueError, match=r"Only binary classification is supported.*got 1 class"
    ):
        ScreenedLogisticRegression().fit(X, np.zeros(60, int))
    with pytest.raises(
        ValueError, match=r"exactly two classes in y; got 3 class.*'multiclass'"
    ):
        ScreenedLogisticRegression().fit(X, np.arange(60) % 3)
    with pytest.raises(ValueError, match="Unknown label type"):
        ScreenedLogisticRegression().fit(X, np.linspace(0, 1, 60))


def test_input_errors():
    rng = np.random.default_rng(8)
    size = rng.normal(5, 1.5, 40)
    X = pd.DataFrame({"size_cm": size, "afp": rng.choice(["<20", ">400"], 40)})
    y = (rng.random(40) < special.expit(2 * (size - 5))).astype(int)
    with pytest.raises(
        ValueError, match="categorical names column 'AFP', which is not in X"
    ):
        ScreenedLogisticRegression(categorical=["AFP"]).fit(X, y)
    with pytest.raises(ValueError, match="categorical position 5 is out of range"):
        ScreenedLogisticRegression(categorical=[5]).fit(X, y)
    with pytest.raises(ValueError, match="column 'size_cm' of X is not numeric"):
        ScreenedLogisticRegression(categorical=["afp"]).fit(
            X.assign(size_cm=["a", "b"] * 20), y
        )
    with pytest.raises(ValueError, match="could not convert string to float"):
        ScreenedLogisticRegression().fit(X, y)
    model = ScreenedLogisticRegression(categorical=["afp"], alpha=1.0).fit(X, y)
    with pytest.raises(
        ValueError, match=r"level\(s\) \['20-400'\] that fit did not see"
    ):
        model.predict(X.assign(afp="20-400"))


def test_in_pipeline_cross_validation_and_grid_search():
    X, y = _data()
    pipe = make_pipeline(StandardScaler(), ScreenedLogisticRegression())
    scores = cross_val_score(pipe, X, y, cv=5, scoring="roc_auc")
    assert scores.shape == (5,)
    assert scores.mean() > 0.7
    search = GridSearchCV(
        ScreenedLogisticRegression(),
        {"alpha": [0.01, 0.05, 0.2]},
        cv=3,
        scoring="roc_auc",
    ).fit(X, y)
    assert search.best_params_["alpha"] in {0.01, 0.05, 0.2}


def test_cross_validation_with_categorical_frame():
    from ceusradiomics.datasets import make_ceus_cohort

    _, y, clinical = make_ceus_cohort(120, image_size=64, random_state=0)
    model = ScreenedLogisticRegression(
        categorical=["sex", "size_group", "hepatitis", "cirrhosis", "afp_group"]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptySelectionWarning)
        scores = cross_val_score(
            model, clinical, y, cv=3, scoring="roc_auc", error_score="raise"
        )
    assert np.all(np.isfinite(scores))


@parametrize_with_checks([ScreenedLogisticRegression()])
@pytest.mark.filterwarnings("ignore::ceusradiomics.exceptions.CeusRadiomicsWarning")
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_auto_categorical_takes_the_non_numeric_columns():
    from ceusradiomics.datasets import make_ceus_cohort

    _, y, clinical = make_ceus_cohort(60, image_size=64, random_state=0)
    auto = ScreenedLogisticRegression(categorical="auto").fit(clinical, y)
    assert auto.categorical_ == [
        "sex",
        "size_group",
        "hepatitis",
        "cirrhosis",
        "afp_group",
    ]
    named = ScreenedLogisticRegression(categorical=auto.categorical_).fit(clinical, y)
    np.testing.assert_array_equal(
        auto.predict_proba(clinical), named.predict_proba(clinical)
    )
    numeric = ScreenedLogisticRegression(categorical="auto").fit(
        clinical[["age", "size_cm"]].to_numpy(), y
    )
    assert numeric.categorical_ is None
