"""ceusradiomics.validation: repeated CV with corrected intervals, bootstrap validation.

The statistics are checked against hand computations written out here (the
corrected resampled t of Nadeau & Bengio, Efron & Tibshirani's .632+ in its
error-rate form, Harrell's optimism loop with statsmodels for the
recalibration), the orchestration against manual loops, and the whole on
pure-noise labels, where an honest estimate must not find skill.
"""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import special, stats
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    LeaveOneGroupOut,
    RepeatedStratifiedKFold,
    StratifiedKFold,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from ceusradiomics.ensemble import make_study_pipeline
from ceusradiomics.exceptions import (
    SeparationWarning,
    UndefinedScoreWarning,
)
from ceusradiomics.metrics import calibration_intercept_slope
from ceusradiomics.validation import (
    BootstrapValidationResult,
    CrossValidationResult,
    _recalibration,
    bootstrap_632plus_score,
    bootstrap_validation,
    corrected_resampled_ttest,
    cross_validate_models,
)

# Test-fold AUCs of two models on the same 10 splits (5 folds x 2 repeats).
SCORES_A = [0.80, 0.75, 0.78, 0.82, 0.79, 0.77, 0.81, 0.76, 0.80, 0.78]
SCORES_B = [0.74, 0.73, 0.75, 0.80, 0.72, 0.74, 0.78, 0.75, 0.76, 0.73]


def _noise(seed, n=80, p=20):
    """Pure noise: features and labels drawn independently (balanced classes)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"US_f{i}" for i in range(p)])
    y = pd.Series(rng.permutation(np.repeat([0, 1], n // 2)), name="ER")
    return X, y


def _logistic():
    return make_pipeline(StandardScaler(), LogisticRegression())


# --------------------------------------------------------------------------
# corrected resampled t: hand computation
# --------------------------------------------------------------------------
def _hand_corrected_t(d, n_train, n_test, null=0.0, alpha=0.05):
    """Nadeau & Bengio's corrected resampled t, written out term by term."""
    J = len(d)
    mean = sum(d) / J
    variance = sum((x - mean) ** 2 for x in d) / (J - 1)
    se = math.sqrt((1 / J + n_test / n_train) * variance)
    t = (mean - null) / se
    p = 2 * (1 - stats.t.cdf(abs(t), J - 1))
    q = stats.t.ppf(1 - alpha / 2, J - 1)
    return mean, se, t, p, mean - q * se, mean + q * se


def test_corrected_t_interval_equals_hand_computation():
    res = corrected_resampled_ttest(SCORES_A, n_train=80, n_test=20)
    mean, se, _, _, lower, upper = _hand_corrected_t(SCORES_A, 80, 20)
    assert res.mean == pytest.approx(mean, abs=1e-14)
    assert res.std_error == pytest.approx(se, abs=1e-14)
    assert (res.ci_lower, res.ci_upper) == pytest.approx((lower, upper), abs=1e-12)
    assert res.df == 9 and res.n_resamples == 10
    # The numbers, once by hand: mean 0.786, s^2 = 0.000493 (ddof 1),
    # se = sqrt((1/10 + 20/80) * 0.000493) = 0.013140, t_{9, .975} = 2.262157.
    assert res.std_error == pytest.approx(0.0131402689, abs=1e-9)
    assert res.ci_lower == pytest.approx(0.786 - 2.2621571628 * 0.0131402689, abs=1e-9)
    # Against chance: H0 mean AUC = 0.5.
    chance = corrected_resampled_ttest(SCORES_A, n_train=80, n_test=20, null=0.5)
    assert chance.t == pytest.approx((0.786 - 0.5) / se, rel=1e-12)


def test_corrected_t_test_equals_hand_computation():
    res = corrected_resampled_ttest(SCORES_A, SCORES_B, n_train=80, n_test=20)
    d = [a - b for a, b in zip(SCORES_A, SCORES_B, strict=True)]
    mean, se, t, p, lower, upper = _hand_corrected_t(d, 80, 20)
    assert (res.mean, res.std_error, res.t) == pytest.approx((mean, se, t), rel=1e-12)
    assert res.p_value == pytest.approx(p, rel=1e-9)
    assert (res.ci_lower, res.ci_upper) == pytest.approx((lower, upper), rel=1e-12)
    assert (round(res.t, 3), round(res.p_value, 4)) == (3.207, 0.0107)
    # The naive paired t-test (1/J instead of 1/J + n2/n1) is far more liberal.
    naive = stats.ttest_rel(SCORES_A, SCORES_B)
    assert naive.pvalue < res.p_value / 10


def test_corrected_t_drops_undefined_splits_and_averages_sizes():
    a = np.array(SCORES_A)
    a[3] = np.nan  # a test fold with one class
    n_train = np.array([80, 80, 79, 81, 80, 80, 80, 79, 81, 80])
    n_test = 100 - n_train
    res = corrected_resampled_ttest(a, SCORES_B, n_train=n_train, n_test=n_test)
    keep = np.isfinite(a)
    d = list((a - np.array(SCORES_B))[keep])
    ratio_test, ratio_train = n_test[keep].mean(), n_train[keep].mean()
    mean, se, t, _, _, _ = _hand_corrected_t(d, ratio_train, ratio_test)
    assert res.n_resamples == 9 and res.df == 8
    assert (res.mean, res.std_error, res.t) == pytest.approx((mean, se, t), rel=1e-12)


def test_corrected_t_zero_variance_gives_nan_test():
    res = corrected_resampled_ttest(SCORES_A, SCORES_A, n_train=80, n_test=20)
    assert res.mean == 0 and res.std_error == 0
    assert math.isnan(res.t) and math.isnan(res.p_value)
    assert res.ci_lower == res.ci_upper == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scores_a": [0.7, np.nan]}, "at least 2 finite per-split values; got 1"),
        ({"scores_b": [0.7, 0.8]}, "one score per split of the same splits"),
        ({"n_train": [80, 80]}, r"n_train must be a number or hold one value per"),
        ({"n_test": 0}, "n_train and n_test must be positive"),
        ({"scores_a": [[0.7, 0.8]]}, "scores_a must be 1-D"),
    ],
)
def test_corrected_t_errors(kwargs, match):
    args = {"scores_a": [0.7, 0.8, 0.75], "n_train": 80, "n_test": 20, **kwargs}
    with pytest.raises(ValueError, match=match):
        corrected_resampled_ttest(**args)


# --------------------------------------------------------------------------
# .632+: Efron & Tibshirani's error-rate formulas, by hand
# --------------------------------------------------------------------------
def _hand_632plus_error(err, err1, gamma):
    """Efron & Tibshirani (1997) on error rates: err apparent, err1 out-of-bag."""
    err1_prime = min(err1, gamma)
    r = (err1_prime - err) / (gamma - err) if err1 > err and gamma > err else 0.0
    err632 = 0.368 * err + 0.632 * err1
    return err632 + (err1_prime - err) * (0.368 * 0.632 * r) / (1 - 0.368 * r)


@pytest.mark.parametrize(
    ("apparent", "oob"),
    [
        (0.90, 0.80),  # some overfitting
        (1.00, 0.50),  # pure noise, complete overfitting
        (1.00, 0.42),  # out-of-bag worse than chance
        (0.80, 0.85),  # no overfitting: the .632 estimate
        (0.45, 0.40),  # apparent below chance
        (0.97, 0.70),
    ],
)
def test_632plus_equals_error_rate_formula(apparent, oob):
    expected = 1 - _hand_632plus_error(1 - apparent, 1 - oob, 0.5)
    assert bootstrap_632plus_score(apparent, oob) == pytest.approx(expected, abs=1e-15)


def test_632plus_hand_values_and_broadcasting():
    # err = 0.1, Err1 = 0.2, gamma = 0.5: R = 0.25, w = 0.632 / 0.908.
    w = 0.632 / (1 - 0.368 * 0.25)
    assert bootstrap_632plus_score(0.9, 0.8) == pytest.approx(
        1 - ((1 - w) * 0.1 + w * 0.2), abs=1e-15
    )
    assert bootstrap_632plus_score(1.0, 0.5) == pytest.approx(0.5, abs=1e-15)
    assert bootstrap_632plus_score(0.8, 0.85) == pytest.approx(
        0.368 * 0.8 + 0.632 * 0.85, abs=1e-15
    )
    many = bootstrap_632plus_score(0.9, np.array([0.8, 0.5, 0.95]))
    assert many.shape == (3,)
    assert many[0] == bootstrap_632plus_score(0.9, 0.8)


# --------------------------------------------------------------------------
# cross_validate_models against a manual loop; nested CV
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def classification():
    X, y = make_classification(
        n_samples=90, n_features=6, n_informative=3, random_state=1
    )
    X = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    X.index = [f"P{i:03d}" for i in range(90)]
    return X, pd.Series(y, index=X.index, name="ER")


MODELS = {
    "logistic": make_pipeline(StandardScaler(), LogisticRegression()),
    "tuned": GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression()),
        {"logisticregression__C": [0.01, 1.0]},
        cv=3,
    ),
    "forest": RandomForestClassifier(n_estimators=10, random_state=0),
}


@pytest.fixture(scope="module")
def cv_result(classification):
    X, y = classification
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=7)
    return cross_validate_models(MODELS, X, y, cv=cv)


def test_cross_validate_models_equals_manual_nested_loop(classification, cv_result):
    X, y = classification
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=7)
    assert isinstance(cv_result, CrossValidationResult)
    assert (cv_result.n_repeats, cv_result.n_folds) == (2, 5)
    for name, estimator in MODELS.items():
        rows = cv_result.scores[cv_result.scores["model"] == name]
        oof = np.full((len(y), 2), np.nan)
        for j, (train, test) in enumerate(cv.split(X, y)):
            # The GridSearchCV is fitted on the training rows only: its inner
            # 3-fold search never sees the outer test fold (nested CV).
            model = clone(estimator).fit(X.iloc[train], y.iloc[train])
            proba = model.predict_proba(X.iloc[test])[:, 1]
            oof[test, j // 5] = proba
            row = rows.iloc[j]
            assert (row["repeat"], row["fold"]) == (j // 5, j % 5)
            assert (row["n_train"], row["n_test"]) == (len(train), len(test))
            expected = stats.mannwhitneyu(
                proba[y.iloc[test] == 1], proba[y.iloc[test] == 0]
            ).statistic / ((y.iloc[test] == 1).sum() * (y.iloc[test] == 0).sum())
            assert row["score"] == pytest.approx(expected, abs=1e-12)
        frame = cv_result.oof_proba[name]
        assert list(frame.index) == list(X.index)
        np.testing.assert_array_equal(frame.to_numpy(), oof)


def test_summary_table_is_the_hand_computation(cv_result):
    frame = cv_result.to_frame()
    assert list(frame.index) == ["logistic", "tuned", "forest"]
    for name in frame.index:
        rows = cv_result.scores[cv_result.scores["model"] == name]
        scores = rows["score"].to_numpy()
        ratio = rows["n_test"].mean() / rows["n_train"].mean()
        _, _, _, _, lower, upper = _hand_corrected_t(list(scores), 1.0, ratio)
        assert frame.loc[name, "mean"] == pytest.approx(scores.mean(), abs=1e-14)
        assert frame.loc[name, "sd"] == pytest.approx(scores.std(ddof=1), abs=1e-14)
        assert frame.loc[name, ["ci_lower", "ci_upper"]].tolist() == pytest.approx(
            [lower, upper], abs=1e-12
        )
        # Percentile interval over repeats: of the per-repeat mean fold AUCs.
        per_repeat = scores.reshape(2, 5).mean(axis=1)
        assert frame.loc[name, "percentile_lower"] == pytest.approx(
            np.percentile(per_repeat, 2.5), abs=1e-14
        )
        assert frame.loc[name, "percentile_upper"] == pytest.approx(
            np.percentile(per_repeat, 97.5), abs=1e-14
        )
        assert per_repeat.mean() == pytest.approx(scores.mean(), abs=1e-14)
        assert frame.loc[name, "n_splits"] == 10
        # Every lesion is predicted once in each repeat.
        assert not cv_result.oof_proba[name].isna().any().any()


def test_pooled_auc_and_repeat_scores(classification, cv_result):
    _, y = classification
    from sklearn.metrics import roc_auc_score

    for name in MODELS:
        repeats = cv_result.repeat_scores[cv_result.repeat_scores["model"] == name]
        oof = cv_result.oof_proba[name]
        pooled = [roc_auc_score(y, oof[r]) for r in range(2)]
        assert repeats["pooled_auc"].tolist() == pytest.approx(pooled, abs=1e-14)
        assert cv_result.to_frame().loc[name, "pooled_auc"] == pytest.approx(
            np.mean(pooled), abs=1e-14
        )


def test_pairwise_comparison_is_the_corrected_t_test(cv_result):
    table = cv_result.compare()
    assert table[["model_a", "model_b"]].values.tolist() == [
        ["logistic", "tuned"],
        ["logistic", "forest"],
        ["tuned", "forest"],
    ]
    scores = cv_result.scores
    row = table.iloc[1]
    a = scores.loc[scores["model"] == "logistic", "score"].to_numpy()
    b = scores.loc[scores["model"] == "forest", "score"].to_numpy()
    ratio = scores["n_test"].mean() / scores["n_train"].mean()
    mean, se, t, p, lower, upper = _hand_corrected_t(list(a - b), 1.0, ratio)
    assert [row["difference"], row["std_error"], row["t"]] == pytest.approx(
        [mean, se, t], rel=1e-12
    )
    assert row["p_value"] == pytest.approx(p, rel=1e-9)
    assert [row["ci_lower"], row["ci_upper"]] == pytest.approx([lower, upper])
    assert row["df"] == 9


def test_default_cv_is_5_by_10_repeated_stratified(classification):
    X, y = classification
    result = cross_validate_models({"logistic": LogisticRegression()}, X, y)
    assert (result.n_repeats, result.n_folds) == (10, 5)
    expected = RepeatedStratifiedKFold(n_splits=5, n_repeats=10, random_state=0)
    tests = [test for _, test in expected.split(X, y)]
    sizes = result.scores["n_test"].tolist()
    assert sizes == [len(t) for t in tests]
    assert result.oof_proba["logistic"].shape == (90, 10)


def test_int_cv_is_stratified_kfold(classification):
    X, y = classification
    result = cross_validate_models({"lr": LogisticRegression()}, X, y, cv=3)
    assert (result.n_repeats, result.n_folds) == (1, 3)
    assert math.isnan(result.to_frame().loc["lr", "percentile_lower"])


def test_other_scoring(classification):
    X, y = classification
    cv = StratifiedKFold(4)
    result = cross_validate_models(
        {"lr": LogisticRegression()}, X, y, cv=cv, scoring="accuracy"
    )
    for (train, test), score in zip(
        cv.split(X, y), result.scores["score"], strict=True
    ):
        model = LogisticRegression().fit(X.iloc[train], y.iloc[train])
        assert score == model.score(X.iloc[test], y.iloc[test])


# --------------------------------------------------------------------------
# one-class test folds, groups
# --------------------------------------------------------------------------
def test_one_class_test_fold_gives_nan_and_one_warning():
    X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    order = np.argsort(y, kind="stable")  # 20 negatives, then 20 positives
    rest = order[5:]
    splits = [
        (rest, order[:5]),  # negatives only
        (np.concatenate([order[:5], order[10:]]), order[5:10]),  # negatives only
        (order[:30], order[30:]),  # positives only
        (np.concatenate([order[:15], order[25:]]), order[15:25]),  # both
        (np.concatenate([order[:12], order[28:]]), order[12:28]),  # both
    ]
    with pytest.warns(UndefinedScoreWarning) as record:
        result = cross_validate_models(
            {"a": LogisticRegression(), "b": LogisticRegression(C=0.1)},
            X,
            y,
            cv=splits,
        )
    assert len(record) == 1
    assert str(record[0].message).startswith(
        "3 of 5 test folds hold lesions of one class only: their AUC is undefined"
    )
    scores = result.scores.set_index(["model", "fold"])["score"]
    assert scores.loc["a"].isna().tolist() == [True, True, True, False, False]
    frame = result.to_frame()
    assert frame.loc["a", "n_splits"] == 2
    assert frame.loc["a", "mean"] == pytest.approx(scores.loc["a"].iloc[3:].mean())


def test_leave_one_group_out_gives_per_group_auc():
    X, y = make_classification(n_samples=90, n_features=5, random_state=2)
    centre = np.repeat(["A", "B", "C"], 30)
    result = cross_validate_models(
        {"lr": LogisticRegression()}, X, y, cv=LeaveOneGroupOut(), groups=centre
    )
    assert (result.n_repeats, result.n_folds) == (1, 3)
    per_group = result.per_group.set_index("group")
    assert list(per_group.index) == ["A", "B", "C"]
    assert per_group["n"].tolist() == [30, 30, 30]
    assert per_group["n_positive"].tolist() == [
        int(y[centre == c].sum()) for c in "ABC"
    ]
    # One group per test fold: the group's AUC is the fold's.
    np.testing.assert_allclose(
        per_group["auc"].to_numpy(), result.scores["score"].to_numpy(), atol=1e-15
    )
    # and its DeLong CI is roc_auc_ci's on the group's out-of-fold scores
    from ceusradiomics.metrics import roc_auc_ci

    oof = result.oof_proba["lr"][0].to_numpy()
    for c in "ABC":
        ci = roc_auc_ci(y[centre == c], oof[centre == c])
        assert per_group.loc[c, "auc_ci_lower"] == pytest.approx(ci.ci_lower)
        assert per_group.loc[c, "auc_ci_upper"] == pytest.approx(ci.ci_upper)
        assert ci.ci_lower < per_group.loc[c, "auc"] < ci.ci_upper


@pytest.mark.filterwarnings("ignore:The groups parameter is ignored:UserWarning")
def test_groups_with_other_splitter_and_a_one_class_group():
    # Groups given to a splitter that ignores them (scikit-learn says so)
    # still give per-group AUCs: per centre, from the out-of-fold predictions.
    X, y = make_classification(n_samples=80, n_features=5, random_state=3)
    groups = np.where(np.arange(80) < 70, "big", "small")
    y = y.copy()
    y[70:] = 1  # the small centre has one class only
    with pytest.warns(UndefinedScoreWarning, match=r"groups \['small'\] hold lesions"):
        result = cross_validate_models(
            {"lr": LogisticRegression()}, X, y, cv=StratifiedKFold(5), groups=groups
        )
    per_group = result.per_group.set_index("group")
    assert math.isnan(per_group.loc["small", "auc"])
    from sklearn.metrics import roc_auc_score

    big = groups == "big"
    oof = result.oof_proba["lr"][0].to_numpy()
    assert per_group.loc["big", "auc"] == pytest.approx(
        roc_auc_score(y[big], oof[big]), abs=1e-14
    )
    assert result.per_group is not None
    no_groups = cross_validate_models(
        {"lr": LogisticRegression()}, X, y, cv=StratifiedKFold(5)
    )
    assert no_groups.per_group is None


# --------------------------------------------------------------------------
# input errors
# --------------------------------------------------------------------------
def test_cross_validate_models_errors():
    X, y = make_classification(
        n_samples=30, n_features=3, n_informative=2, n_redundant=0, random_state=0
    )
    with pytest.raises(ValueError, match="models is empty"):
        cross_validate_models({}, X, y)
    with pytest.raises(TypeError, match=r"models\['svm'\] must have predict_proba"):
        cross_validate_models({"svm": LinearSVC()}, X, y)
    with pytest.raises(TypeError, match="must be keyed by name"):
        cross_validate_models({1: LogisticRegression()}, X, y)
    with pytest.raises(ValueError, match="exactly two classes"):
        cross_validate_models({"lr": LogisticRegression()}, X, np.arange(30) % 3)
    with pytest.raises(ValueError, match="30 rows in X and 29 labels"):
        cross_validate_models({"lr": LogisticRegression()}, X, y[:-1])
    with pytest.raises(ValueError, match="groups must hold one label per lesion"):
        cross_validate_models({"lr": LogisticRegression()}, X, y, groups=[1, 2])
    with pytest.raises(ValueError, match="model must be one of"):
        cross_validate_models({"lr": LogisticRegression()}, X, y, cv=3).interval("x")


def test_bootstrap_validation_errors():
    X, y = make_classification(
        n_samples=30, n_features=3, n_informative=2, n_redundant=0, random_state=0
    )
    with pytest.raises(TypeError, match="model must have predict_proba"):
        bootstrap_validation(LinearSVC(), X, y)
    with pytest.raises(ValueError, match="missing labels"):
        bootstrap_validation(LogisticRegression(), X, np.where(y, 1.0, np.nan))
    with pytest.raises(ValueError, match="n_bootstrap"):
        bootstrap_validation(LogisticRegression(), X, y, n_bootstrap=1)


# --------------------------------------------------------------------------
# bootstrap_validation against a hand-written optimism loop
# --------------------------------------------------------------------------
def _statsmodels_recalibration(y, proba):
    """rms's lrm.fit(lp, y): logit P(y) = a + b lp, by statsmodels."""
    lp = special.logit(np.clip(proba, 1e-8, 1 - 1e-8))
    fit = sm.Logit(y.astype(float), sm.add_constant(lp)).fit(disp=0, tol=1e-10)
    return fit.params[0], fit.params[1]


def test_bootstrap_validation_equals_hand_written_loop():
    X, y = make_classification(
        n_samples=70, n_features=5, n_informative=2, flip_y=0.2, random_state=4
    )
    model = LogisticRegression(C=0.5)
    B, seed, n = 25, 3, len(y)
    result = bootstrap_validation(model, X, y, n_bootstrap=B, random_state=seed)
    assert isinstance(result, BootstrapValidationResult)

    from sklearn.metrics import roc_auc_score

    full = clone(model).fit(X, y)
    apparent = roc_auc_score(y, full.predict_proba(X)[:, 1])
    rng = np.random.RandomState(seed)
    train, test, oob, intercepts, slopes = [], [], [], [], []
    for _ in range(B):
        idx = rng.randint(0, n, size=n)
        fitted = clone(model).fit(X[idx], y[idx])
        train.append(roc_auc_score(y[idx], fitted.predict_proba(X[idx])[:, 1]))
        proba = fitted.predict_proba(X)[:, 1]
        test.append(roc_auc_score(y, proba))
        left_out = np.setdiff1d(np.arange(n), idx)
        oob.append(roc_auc_score(y[left_out], proba[left_out]))
        a, b = _statsmodels_recalibration(y, proba)
        intercepts.append(a)
        slopes.append(b)
    optimism = np.mean(np.array(train) - np.array(test))
    plus = 1 - _hand_632plus_error(1 - apparent, 1 - np.mean(oob), 0.5)

    table = result.to_frame()
    assert result.apparent_auc == pytest.approx(apparent, abs=1e-15)
    assert table.loc["auc"].tolist()[:5] == pytest.approx(
        [apparent, np.mean(train), np.mean(test), optimism, apparent - optimism],
        abs=1e-12,
    )
    assert table.loc["auc_632plus", ["test", "corrected"]].tolist() == pytest.approx(
        [np.mean(oob), plus], abs=1e-12
    )
    assert table.loc["auc_632plus", "optimism"] == pytest.approx(apparent - plus)
    # rms: apparent intercept 0 and slope 1; corrected = mean test value.
    assert table.loc["intercept", ["apparent", "train"]].tolist() == [0.0, 0.0]
    assert table.loc["slope", ["apparent", "train"]].tolist() == [1.0, 1.0]
    assert table.loc["intercept", "corrected"] == pytest.approx(
        np.mean(intercepts), abs=1e-7
    )
    assert table.loc["slope", "corrected"] == pytest.approx(np.mean(slopes), abs=1e-7)
    assert table.loc["slope", "optimism"] == pytest.approx(
        1 - np.mean(slopes), abs=1e-7
    )
    assert table["n"].tolist() == [B, B, B, B]
    # The .632+ interval: percentiles of the per-sample .632+ AUCs.
    per_sample = [1 - _hand_632plus_error(1 - apparent, 1 - o, 0.5) for o in oob]
    assert table.loc["auc_632plus", ["ci_lower", "ci_upper"]].tolist() == pytest.approx(
        list(np.percentile(per_sample, [2.5, 97.5])), abs=1e-12
    )
    assert table.loc[["auc", "intercept", "slope"], "ci_lower"].isna().all()


def test_recalibration_is_rms_and_shares_the_metrics_slope():
    X, y = make_classification(
        n_samples=120,
        n_features=4,
        n_informative=4,
        n_redundant=0,
        flip_y=0.3,
        random_state=5,
    )
    positive = y == 1
    # The apparent recalibration of an unpenalised logistic model on its own
    # data is (0, 1) exactly (its score equations); rms takes it by definition.
    design = sm.add_constant(X)
    mle = sm.Logit(y.astype(float), design).fit(disp=0, tol=1e-10)
    lp = design @ mle.params
    a, b, problem = _recalibration(positive, special.expit(lp))
    assert problem is None
    assert (a, b) == pytest.approx((0.0, 1.0), abs=1e-8)
    # On other data: the two-parameter fit (statsmodels), whose slope is the
    # metrics module's calibration slope.
    rng = np.random.default_rng(0)
    proba = special.expit(2.0 * lp + rng.normal(size=120))
    a, b, _ = _recalibration(positive, proba)
    assert (a, b) == pytest.approx(_statsmodels_recalibration(y, proba), abs=1e-7)
    assert b == pytest.approx(calibration_intercept_slope(y, proba).slope, abs=1e-12)
    assert _recalibration(positive, np.full(120, 0.3))[2] == "constant"
    assert _recalibration(positive, positive * 0.8 + 0.1)[2] == "separation"


def test_bootstrap_skips_one_class_samples_with_one_warning():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 2))
    y = np.zeros(16, dtype=int)
    y[:2] = 1  # 2 positives: some samples miss them, many out-of-bag sets too
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        result = bootstrap_validation(
            LogisticRegression(), X, y, n_bootstrap=40, random_state=0
        )
    ours = [w for w in record if issubclass(w.category, UndefinedScoreWarning)]
    assert len(ours) == 1
    assert {w.category for w in record} <= {UndefinedScoreWarning, SeparationWarning}
    skipped = int(result.replicates["auc_test"].isna().sum())
    assert skipped > 0
    assert f"{skipped} of 40 bootstrap samples hold lesions of one class" in str(
        ours[0].message
    )
    assert result.to_frame().loc["auc", "n"] == 40 - skipped


# --------------------------------------------------------------------------
# n_jobs: bit for bit
# --------------------------------------------------------------------------
def test_n_jobs_gives_identical_results(classification):
    X, y = classification
    models = {
        "logistic": MODELS["logistic"],
        "forest": RandomForestClassifier(n_estimators=10, random_state=0),
    }
    cv = RepeatedStratifiedKFold(n_splits=4, n_repeats=2, random_state=0)
    serial = cross_validate_models(models, X, y, cv=cv)
    parallel = cross_validate_models(models, X, y, cv=cv, n_jobs=2)
    pd.testing.assert_frame_equal(serial.scores, parallel.scores, check_exact=True)
    pd.testing.assert_frame_equal(
        serial.to_frame(), parallel.to_frame(), check_exact=True
    )
    for name in models:
        pd.testing.assert_frame_equal(
            serial.oof_proba[name], parallel.oof_proba[name], check_exact=True
        )
    # A forest's bootstrap models often separate the original lesions (it
    # memorises those it was fitted on): SeparationWarning, expected here.
    with pytest.warns(SeparationWarning):
        boot = bootstrap_validation(models["forest"], X, y, n_bootstrap=8)
    with pytest.warns(SeparationWarning):
        boot2 = bootstrap_validation(models["forest"], X, y, n_bootstrap=8, n_jobs=2)
    pd.testing.assert_frame_equal(boot.replicates, boot2.replicates, check_exact=True)
    assert boot.apparent_auc == boot2.apparent_auc


# --------------------------------------------------------------------------
# pure noise: no skill found
# --------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_intervals_contain_chance_logistic(seed):
    X, y = _noise(seed)
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=seed)
    frame = cross_validate_models({"lr": _logistic()}, X, y, cv=cv).to_frame()
    assert frame.loc["lr", "ci_lower"] < 0.5 < frame.loc["lr", "ci_upper"]
    table = bootstrap_validation(
        _logistic(), X, y, n_bootstrap=30, random_state=seed
    ).to_frame()
    plus = table.loc["auc_632plus"]
    assert plus["ci_lower"] < 0.5 < plus["ci_upper"]
    # Harrell's correction works for a logistic model: 20 noise predictors
    # on 80 lesions look good (apparent AUC > 0.7), the corrected AUC does not.
    auc = table.loc["auc"]
    assert auc["apparent"] > 0.7
    assert auc["optimism"] > 0.15
    assert abs(auc["corrected"] - 0.5) < 0.15


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_forest_apparent_high_632plus_near_chance(seed):
    X, y = _noise(seed)
    forest = RandomForestClassifier(n_estimators=50, random_state=0)
    table = bootstrap_validation(forest, X, y, n_bootstrap=30, random_state=seed)
    table = table.to_frame()
    assert table.loc["auc", "apparent"] > 0.99
    assert abs(table.loc["auc_632plus", "corrected"] - 0.5) < 0.15
    plus = table.loc["auc_632plus"]
    assert plus["ci_lower"] < 0.5 < plus["ci_upper"]
    # The documented weakness: a forest memorises the ~63% of the original
    # lesions that were in each sample, so Harrell's optimism is too small.
    assert table.loc["auc", "corrected"] > 0.8


@pytest.mark.filterwarnings("ignore::ceusradiomics.exceptions.EmptySelectionWarning")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_intervals_contain_chance_radiomics_pipeline(seed):
    # On noise the U test often keeps no feature (EmptySelectionWarning: the
    # selector keeps the single best one), which is expected here.
    X, y = _noise(seed)
    model = make_study_pipeline(
        "radiomics", input="table", readers="primary", lasso_cv=3, random_state=0
    ).set_params(randomforestclassifier__n_estimators=100)
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=seed)
    frame = cross_validate_models({"radiomics": model}, X, y, cv=cv).to_frame()
    assert frame.loc["radiomics", "ci_lower"] < 0.5 < frame.loc["radiomics", "ci_upper"]
    table = bootstrap_validation(model, X, y, n_bootstrap=30, random_state=seed)
    plus = table.to_frame().loc["auc_632plus"]
    assert plus["ci_lower"] < 0.5 < plus["ci_upper"]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::ceusradiomics.exceptions.CeusRadiomicsWarning")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_intervals_contain_chance_stack(seed):
    # The study's stack (a radiomics branch and a second branch, fused by a
    # logistic meta-learner) on noise: its repeated-CV interval and its .632+
    # interval contain chance. Package warnings are expected on noise (the U
    # test keeps nothing, small folds).
    from ceusradiomics import StackingERClassifier

    X, y = _noise(seed)
    radiomics = make_study_pipeline(
        "radiomics", input="table", readers="primary", lasso_cv=3, random_state=0
    ).set_params(randomforestclassifier__n_estimators=50)
    stack = StackingERClassifier(
        estimators=[("radiomics", radiomics), ("logistic", LogisticRegression())],
        random_state=0,
        nested_oof=False,  # the validation is the outer loop
    )
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=seed)
    frame = cross_validate_models({"stack": stack}, X, y, cv=cv).to_frame()
    assert frame.loc["stack", "ci_lower"] < 0.5 < frame.loc["stack", "ci_upper"]
    # 40 samples: on noise the stack's out-of-bag AUCs sit below chance (its
    # meta-learner learns the out-of-fold anti-correlation of noise), and 20
    # give a percentile interval too narrow to be read (seed 2: up to 0.497).
    table = bootstrap_validation(stack, X, y, n_bootstrap=40, random_state=seed)
    plus = table.to_frame().loc["auc_632plus"]
    assert plus["ci_lower"] < 0.5 < plus["ci_upper"]


# --------------------------------------------------------------------------
# the figure
# --------------------------------------------------------------------------
def test_plot_is_headless_and_draws_every_split(cv_result):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = cv_result.plot()
    try:
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert labels == ["logistic", "tuned", "forest"]
        # One line of dots per model, 10 splits each.
        dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
        assert [len(line.get_xdata()) for line in dots] == [10, 10, 10]
        assert ax.get_legend() is not None
        _, other = plt.subplots()
        assert cv_result.plot(ax=other) is other
    finally:
        plt.close("all")
