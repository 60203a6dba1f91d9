"""Tests of LassoSelector."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from ceusradiomics.exceptions import EmptySelectionWarning, SmallSampleWarning
from ceusradiomics.selection import LassoSelector
from ceusradiomics.selection._lasso import _INTERCEPT_SCALING, _l1_kwargs


def _data(n=150, p=10, seed=0):
    rng = np.random.default_rng(seed)
    X = StandardScaler().fit_transform(rng.normal(size=(n, p)))
    logit = 1.5 * X[:, 0] - 1.0 * X[:, 1] + 0.8 * X[:, 2] - 0.7
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_selects_informative_features_with_signs():
    X, y = _data()
    lasso = LassoSelector(cv=5, Cs=10, random_state=0).fit(X, y)
    support = lasso.get_support()
    assert support[:3].all()
    assert lasso.coef_[0] > 0 > lasso.coef_[1] and lasso.coef_[2] > 0
    assert support.sum() <= 6
    np.testing.assert_array_equal(lasso.transform(X), X[:, support])
    assert lasso.coef_.shape == (10,) and isinstance(lasso.intercept_, float)


def test_cv_scores_match_a_manual_cross_validation():
    X, y = _data(n=90, p=6, seed=1)
    folds = StratifiedKFold(4, shuffle=True, random_state=0)
    Cs = [0.02, 0.05, 0.1, 0.3, 1.0]
    lasso = LassoSelector(cv=folds, Cs=Cs, random_state=0).fit(X, y)
    np.testing.assert_allclose(lasso.Cs_, Cs)
    manual = np.empty((4, len(Cs)))
    for f, (train, test) in enumerate(folds.split(X, y)):
        for c, C in enumerate(Cs):
            model = LogisticRegression(
                C=C,
                solver="liblinear",
                intercept_scaling=_INTERCEPT_SCALING,
                max_iter=1000,
                tol=1e-6,
                **_l1_kwargs(LogisticRegression),
            ).fit(X[train], y[train])
            manual[f, c] = roc_auc_score(y[test], model.decision_function(X[test]))
    # liblinear visits coordinates in a random order, so a fit stops within
    # tol of the optimum, not at one point: a test-set pair may swap.
    np.testing.assert_allclose(lasso.cv_scores_, manual, atol=0.02)
    assert Cs[int(np.argmax(lasso.cv_scores_.mean(axis=0)))] == lasso.C_


def test_refit_has_an_unpenalised_intercept():
    # saga does not penalise the intercept: the refit must agree with it.
    X, y = _data(seed=2)
    lasso = LassoSelector(cv=5, Cs=10, random_state=0).fit(X, y)
    saga = LogisticRegression(
        C=lasso.C_,
        solver="saga",
        tol=1e-10,
        max_iter=100_000,
        **_l1_kwargs(LogisticRegression),
    ).fit(X, y)
    np.testing.assert_allclose(lasso.coef_, saga.coef_.ravel(), atol=1e-3)
    np.testing.assert_allclose(lasso.intercept_, saga.intercept_[0], atol=1e-3)
    np.testing.assert_array_equal(lasso.coef_ != 0, saga.coef_.ravel() != 0)


def test_radiomics_score_is_the_linear_predictor():
    X, y = _data()
    lasso = LassoSelector(cv=5, Cs=10, random_state=0).fit(X, y)
    s = lasso.get_support()
    score = lasso.radiomics_score(X)
    np.testing.assert_allclose(score, X[:, s] @ lasso.coef_[s] + lasso.intercept_)
    np.testing.assert_allclose(score, lasso.estimator_.decision_function(X))
    assert roc_auc_score(y, score) > 0.8


def test_default_grid_starts_where_the_first_feature_enters():
    X, y = _data(seed=3)
    lasso = LassoSelector(cv=5, Cs=8, random_state=0).fit(X, y)
    c_min = 1.0 / np.abs(X.T @ (y - y.mean())).max()
    np.testing.assert_allclose(lasso.Cs_[[0, -1]], [c_min, 100 * c_min])
    kw = {"solver": "liblinear", "intercept_scaling": _INTERCEPT_SCALING}
    kw.update(_l1_kwargs(LogisticRegression))
    below = LogisticRegression(C=0.98 * c_min, **kw).fit(X, y)
    above = LogisticRegression(C=1.05 * c_min, **kw).fit(X, y)
    assert not below.coef_.any() and above.coef_.any()
    # More features than samples: glmnet's longer path.
    wide = LassoSelector(cv=3, Cs=4, random_state=0).fit(np.tile(X[:12], 2), y[:12])
    np.testing.assert_allclose(wide.Cs_[-1] / wide.Cs_[0], 1e4)


def test_deterministic_given_random_state_and_string_labels():
    X, y = _data(seed=4)
    a = LassoSelector(cv=5, Cs=10, random_state=7).fit(X, y)
    b = LassoSelector(cv=5, Cs=10, random_state=7).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.cv_scores_, b.cv_scores_)
    labels = np.where(y == 1, "ER", "no ER")
    c = LassoSelector(cv=5, Cs=10, random_state=7).fit(X, labels)
    assert c.classes_.tolist() == ["ER", "no ER"]
    # "no ER" sorts last, so it is the positive class: the signs flip.
    np.testing.assert_allclose(c.coef_, -a.coef_, atol=1e-8)


def test_fit_does_not_warn():
    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LassoSelector(cv=5, Cs=10, random_state=0).fit(X, y)


def test_all_zero_keeps_best_univariate_feature():
    X, y = _data(seed=5)
    with pytest.warns(EmptySelectionWarning, match=r"kept no feature .*'x0'"):
        lasso = LassoSelector(cv=3, Cs=[1e-6], random_state=0).fit(X, y)
    auc = np.array([roc_auc_score(y, X[:, j]) for j in range(X.shape[1])])
    assert np.flatnonzero(lasso.get_support()).tolist() == [np.argmax(abs(auc - 0.5))]
    uni = LogisticRegression().fit(X[:, [0]], y)
    np.testing.assert_allclose(lasso.coef_[0], uni.coef_[0, 0])
    np.testing.assert_allclose(lasso.intercept_, uni.intercept_[0])
    assert np.ptp(lasso.radiomics_score(X)) > 0


def test_dataframe_names():
    X, y = _data()
    df = pd.DataFrame(X, columns=[f"US_f{j}" for j in range(10)])
    lasso = LassoSelector(cv=5, Cs=10, random_state=0).set_output(transform="pandas")
    out = lasso.fit(df, y).transform(df)
    assert out.columns.tolist()[:3] == ["US_f0", "US_f1", "US_f2"]
    np.testing.assert_allclose(
        lasso.radiomics_score(df), X @ lasso.coef_ + lasso.intercept_
    )


class _OldLogisticRegression:
    def __init__(self, penalty="l2", *, C=1.0, l1_ratio=None):
        pass


class _OldLogisticRegressionCV:
    def __init__(self, *, Cs=10, penalty="l2", l1_ratios=None):
        pass


class _V19LogisticRegressionCV:
    def __init__(
        self, *, penalty="deprecated", l1_ratios="warn", use_legacy_attributes="warn"
    ):
        pass


def test_l1_kwargs_across_scikit_learn_apis():
    assert _l1_kwargs(_OldLogisticRegression) == {"penalty": "l1"}
    assert _l1_kwargs(_OldLogisticRegressionCV) == {"penalty": "l1"}
    assert _l1_kwargs(_V19LogisticRegressionCV) == {
        "l1_ratios": (1.0,),
        "use_legacy_attributes": False,
    }
    # Whatever this scikit-learn is, the arguments construct without warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LogisticRegression(**_l1_kwargs(LogisticRegression))
        LogisticRegressionCV(**_l1_kwargs(LogisticRegressionCV))


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (np.arange(150) % 3, r"LassoSelector needs a binary target .*'multiclass'"),
        (np.ones(150), r"exactly two classes; got a 'binary' target with 1 class"),
    ],
)
def test_non_binary_target(y, match):
    X, _ = _data()
    with pytest.raises(ValueError, match=match):
        LassoSelector(cv=3).fit(X, y)


def test_radiomics_score_checks_input():
    X, y = _data()
    lasso = LassoSelector(cv=3, Cs=5, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but LassoSelector"):
        lasso.radiomics_score(X[:, :3])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"cv": 1}, "'cv' parameter of LassoSelector"),
        ({"Cs": 0}, "'Cs' parameter of LassoSelector"),
        ({"scoring": "auc"}, "'scoring' parameter of LassoSelector"),
        ({"max_iter": 0}, "'max_iter' parameter of LassoSelector"),
    ],
)
def test_parameter_validation(params, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        LassoSelector(**params).fit(X, y)


def test_path_is_logistic_regression_cv_fit_for_fit():
    # The CV path replays LogisticRegressionCV's fits, seeds included: the
    # same fold scores (the AUC computed exactly, so to rounding) and,
    # after the same draws from the generator, the same refit.
    X, y = _data(n=120, p=15, seed=6)
    lasso = LassoSelector(cv=5, Cs=6, random_state=3).fit(X, y)
    rng = np.random.RandomState(3)
    folds = StratifiedKFold(5, shuffle=True, random_state=rng)
    path = LogisticRegressionCV(
        Cs=lasso.Cs_,
        cv=folds,
        scoring="roc_auc",
        solver="liblinear",
        intercept_scaling=_INTERCEPT_SCALING,
        random_state=rng,
        **_l1_kwargs(LogisticRegressionCV),
    ).fit(X, y)
    scores = path.scores_
    if isinstance(scores, dict):  # legacy attribute layout (< 1.10)
        scores = next(iter(scores.values()))
    np.testing.assert_allclose(
        lasso.cv_scores_, np.asarray(scores).reshape(5, -1), rtol=0, atol=1e-14
    )
    refit = LogisticRegression(
        C=lasso.C_,
        solver="liblinear",
        intercept_scaling=_INTERCEPT_SCALING,
        tol=1e-6,
        random_state=rng,
        **_l1_kwargs(LogisticRegression),
    ).fit(X, y)
    np.testing.assert_array_equal(lasso.coef_, refit.coef_.ravel())


@pytest.mark.parametrize("order", ["C", "F"])
def test_direct_liblinear_path_is_logistic_regression_fit_bit_for_bit(
    monkeypatch, order
):
    # The path calls scikit-learn's liblinear driver without
    # LogisticRegression.fit's checks: the same scores and model, to the bit.
    from ceusradiomics.selection import _lasso

    assert _lasso._LIBLINEAR_FIT is not None  # the supported scikit-learn
    X, y = _data(n=130, p=25, seed=4)
    X = np.asarray(X, order=order)
    direct = LassoSelector(random_state=5).fit(X, y)
    monkeypatch.setattr(_lasso, "_LIBLINEAR_FIT", None)
    checked = LassoSelector(random_state=5).fit(X, y)
    np.testing.assert_array_equal(direct.cv_scores_, checked.cv_scores_)
    np.testing.assert_array_equal(direct.coef_, checked.coef_)
    assert direct.intercept_ == checked.intercept_


def test_an_unknown_liblinear_signature_falls_back(monkeypatch):
    import sklearn.svm._base

    from ceusradiomics.selection import _lasso

    monkeypatch.setattr(sklearn.svm._base, "_fit_liblinear", lambda X, y, C: None)
    assert _lasso._sklearn_liblinear() is None


def test_n_jobs_does_not_change_the_result():
    X, y = _data(seed=7)
    one = LassoSelector(cv=5, Cs=8, random_state=0).fit(X, y)
    two = LassoSelector(cv=5, Cs=8, random_state=0, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(one.cv_scores_, two.cv_scores_)
    np.testing.assert_array_equal(one.coef_, two.coef_)


def test_other_scoring_goes_through_the_scorer():
    X, y = _data(n=90, p=6, seed=1)
    lasso = LassoSelector(cv=4, Cs=5, scoring="neg_log_loss", random_state=0)
    lasso.fit(X, y)
    assert lasso.cv_scores_.shape == (4, 5) and (lasso.cv_scores_ < 0).all()


def _unbalanced(n_positive, n=40, seed=8):
    X, _ = _data(n=n, p=6, seed=seed)
    y = np.zeros(n, dtype=int)
    y[:n_positive] = 1
    X[:n_positive, 0] += 1.5  # something to find
    return X, y


def test_folds_are_lowered_to_the_minority_class_with_one_warning():
    # 4 positives of 40: 10 folds would leave 6 test folds with no positive,
    # whose AUC is undefined (a warning per fold and C, and NaN scores).
    X, y = _unbalanced(4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lasso = LassoSelector(cv=10, Cs=5, random_state=0).fit(X, y)
    assert [w.category for w in caught] == [SmallSampleWarning]
    assert str(caught[0].message) == (
        "LassoSelector: cv=10 folds lowered to 4: class 1 has only 4 of the 40 "
        "samples, and every test fold needs one of each class."
    )
    assert caught[0].filename == __file__  # points at the caller's line
    # The folds actually used: 4 stratified folds, each test fold with a
    # positive, so every score is defined; the same fit as asking for 4.
    assert lasso.n_folds_ == 4 and lasso.cv_scores_.shape == (4, 5)
    assert np.isfinite(lasso.cv_scores_).all()
    four = LassoSelector(cv=4, Cs=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(lasso.cv_scores_, four.cv_scores_)
    np.testing.assert_array_equal(lasso.coef_, four.coef_)


def test_folds_follow_the_minority_class_whichever_it_is():
    X, y = _unbalanced(37)  # 3 negatives
    labels = np.where(y == 1, "ER", "no ER")
    with pytest.warns(
        SmallSampleWarning, match=r"cv=5 folds lowered to 3: class 'no ER' has only 3"
    ):
        lasso = LassoSelector(cv=5, Cs=3, random_state=0).fit(X, labels)
    assert lasso.n_folds_ == 3
    # Two positives: two folds, the fewest possible (and, here, an empty LASSO).
    with (
        pytest.warns(SmallSampleWarning, match="lowered to 2"),
        pytest.warns(EmptySelectionWarning),
    ):
        assert (
            LassoSelector(cv=5, Cs=3, random_state=0).fit(*_unbalanced(2)).n_folds_ == 2
        )


def test_folds_are_kept_where_the_minority_class_allows_them():
    X, y = _unbalanced(10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lasso = LassoSelector(cv=10, Cs=3, random_state=0).fit(X, y)
    assert lasso.n_folds_ == 10 and np.isfinite(lasso.cv_scores_).all()
    # A splitter is the user's: used as given, never lowered.
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    assert LassoSelector(cv=folds, Cs=3).fit(X, y).n_folds_ == 3


def test_a_single_sample_of_a_class_is_a_clear_error():
    X, y = _unbalanced(1)
    with pytest.raises(
        ValueError,
        match=r"needs at least 2 samples of each class .* class 1 has 1\.",
    ):
        LassoSelector(cv=10).fit(X, y)
