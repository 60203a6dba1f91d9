"""Tests of ceusradiomics.metrics against hand computations and loop oracles."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, roc_auc_score
from sklearn.utils._param_validation import InvalidParameterError

from ceusradiomics.metrics import (
    AUCResult,
    BinaryReport,
    _resampled_aucs,
    binary_report,
    calibration_curve,
    calibration_intercept_slope,
    decision_curve,
    delong_test,
    net_benefit,
    roc_auc_ci,
    wilson_interval,
    youden_threshold,
)

Z95 = stats.norm.ppf(0.975)


# --------------------------------------------------------------------------
# oracles written out with loops, straight from the definitions
# --------------------------------------------------------------------------
def _psi(x, y):
    """Mann-Whitney kernel: 1 if x > y, 1/2 on a tie, 0 otherwise."""
    if x > y:
        return 1.0
    if x == y:
        return 0.5
    return 0.0


def delong_slow(y, scores):
    """DeLong et al. (1988) by the double loop over positive-negative pairs.

    Returns the AUCs (k,) and DeLong's covariance matrix (k, k) of k models,
    from the structural components V10 (per positive) and V01 (per
    negative), with sample covariances over m - 1 and n - 1 (Hanley &
    McNeil's placement values).
    """
    pos = [i for i in range(len(y)) if y[i] == 1]
    neg = [j for j in range(len(y)) if y[j] == 0]
    m, n, k = len(pos), len(neg), len(scores)
    v10 = np.zeros((k, m))
    v01 = np.zeros((k, n))
    for r, s in enumerate(scores):
        for a, i in enumerate(pos):
            v10[r, a] = sum(_psi(s[i], s[j]) for j in neg) / n
        for b, j in enumerate(neg):
            v01[r, b] = sum(_psi(s[i], s[j]) for i in pos) / m
    auc = v10.mean(axis=1)
    s10 = np.zeros((k, k))
    s01 = np.zeros((k, k))
    for r in range(k):
        for q in range(k):
            s10[r, q] = sum(
                (v10[r, a] - auc[r]) * (v10[q, a] - auc[q]) for a in range(m)
            ) / (m - 1)
            s01[r, q] = sum(
                (v01[r, b] - auc[r]) * (v01[q, b] - auc[q]) for b in range(n)
            ) / (n - 1)
    return auc, s10 / m + s01 / n


def _tied_data(seed, n=40, levels=6):
    """Labels and two correlated scores rounded to a few levels (many ties)."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n // 2 - 3, dtype=int), np.zeros(n - n // 2 + 3, dtype=int)]
    rng.shuffle(y)
    base = rng.normal(size=n) + 0.8 * y
    a = np.round(base * levels / 3) / levels
    b = np.round((base + rng.normal(scale=0.8, size=n)) * levels / 3) / levels
    return y, a, b


# The 3-positive / 3-negative example worked by hand in the tests below.
Y_HAND = np.array([1, 1, 1, 0, 0, 0])
A_HAND = np.array([0.8, 0.6, 0.4, 0.5, 0.3, 0.4])  # a tie at 0.4 across classes
B_HAND = np.array([0.2, 0.9, 0.7, 0.1, 0.8, 0.3])


# --------------------------------------------------------------------------
# roc_auc_ci (DeLong and bootstrap)
# --------------------------------------------------------------------------
def test_delong_hand_example():
    # V10 = [1, 1, 1/2] (0.4 ties 0.4), V01 = [2/3, 1, 5/6]; AUC = 5/6;
    # S10 = var([1, 1, .5]) = 1/12, S01 = var([2/3, 1, 5/6]) = 1/36;
    # Var = S10/3 + S01/3 = 1/36 + 1/108 = 1/27.
    res = roc_auc_ci(Y_HAND, A_HAND)
    assert isinstance(res, AUCResult)
    assert res.method == "delong"
    assert_allclose(res.auc, 5 / 6, rtol=1e-14)
    assert_allclose(res.std_error, np.sqrt(1 / 27), rtol=1e-13)
    assert_allclose(res.ci_lower, 5 / 6 - Z95 * np.sqrt(1 / 27), rtol=1e-12)
    assert res.ci_upper == 1.0  # 5/6 + 0.377 clipped to the AUC scale


@pytest.mark.parametrize("seed", range(4))
def test_delong_variance_matches_slow_oracle_with_ties(seed):
    y, a, _ = _tied_data(seed)
    assert np.unique(a).size < a.size / 3  # the data are full of ties
    auc, cov = delong_slow(y, [a])
    res = roc_auc_ci(y, a)
    assert_allclose(res.auc, auc[0], rtol=1e-12)
    assert_allclose(res.std_error**2, cov[0, 0], rtol=1e-10)
    half = Z95 * np.sqrt(cov[0, 0])
    assert_allclose(res.ci_lower, max(0.0, auc[0] - half), rtol=1e-10)
    assert_allclose(res.ci_upper, min(1.0, auc[0] + half), rtol=1e-10)


@pytest.mark.parametrize("seed", range(3))
def test_auc_equals_sklearn(seed):
    y, a, b = _tied_data(seed, n=57)
    assert roc_auc_ci(y, a).auc == pytest.approx(roc_auc_score(y, a), rel=1e-12)
    res = roc_auc_ci(y, b, method="bootstrap", n_bootstraps=50, random_state=0)
    assert res.auc == pytest.approx(roc_auc_score(y, b), rel=1e-12)


def test_auc_below_half_is_not_flipped():
    res = roc_auc_ci(Y_HAND, -A_HAND)
    assert res.auc == pytest.approx(1 / 6)


def test_labels_and_pos_label():
    y = np.array(["ER", "no", "ER", "no", "no", "ER", "no"])
    s = np.array([0.9, 0.1, 0.4, 0.5, 0.2, 0.7, 0.3])
    res = roc_auc_ci(y, s, pos_label="ER")
    assert res.auc == pytest.approx(roc_auc_score(y == "ER", s))
    # {-1, 1} labels: 1 is positive, as in scikit-learn
    res_pm = roc_auc_ci(np.where(y == "ER", 1, -1), s)
    assert res_pm.auc == res.auc
    # pandas inputs and a column vector of labels
    res_pd = roc_auc_ci(pd.Series(y == "ER"), pd.Series(s))
    assert res_pd.auc == res.auc
    assert roc_auc_ci((y == "ER").astype(int)[:, None], s).auc == res.auc


def test_bootstrap_close_to_delong_on_large_sample():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 300)
    score = rng.normal(size=600) + 1.0 * y
    delong = roc_auc_ci(y, score)
    boot = roc_auc_ci(y, score, method="bootstrap", n_bootstraps=1000, random_state=0)
    assert boot.method == "bootstrap"
    assert boot.auc == delong.auc
    assert boot.ci_lower < delong.auc < boot.ci_upper
    assert abs(boot.ci_lower - delong.ci_lower) < 0.01
    assert abs(boot.ci_upper - delong.ci_upper) < 0.01
    assert boot.std_error == pytest.approx(delong.std_error, rel=0.1)


def test_resampled_aucs_match_sklearn_on_each_resample():
    # the bootstrap reweights cases instead of re-ranking them: check each
    # replicate against roc_auc_score on the explicitly resampled scores
    rng = np.random.default_rng(7)
    pos = np.round(rng.normal(size=7) + 1, 1)
    neg = np.round(rng.normal(size=9), 1)
    neg[:3] = pos[:3]  # ties across classes
    pos_idx = rng.integers(0, 7, size=(25, 7))
    neg_idx = rng.integers(0, 9, size=(25, 9))
    labels = np.r_[np.ones(7), np.zeros(9)]
    expected = [
        roc_auc_score(labels, np.r_[pos[pos_idx[k]], neg[neg_idx[k]]])
        for k in range(25)
    ]
    assert_allclose(_resampled_aucs(pos, neg, pos_idx, neg_idx), expected, rtol=1e-12)


def test_bootstrap_is_seeded_and_stratified():
    y, a, _ = _tied_data(5, n=30)
    r1 = roc_auc_ci(y, a, method="bootstrap", n_bootstraps=200, random_state=3)
    r2 = roc_auc_ci(y, a, method="bootstrap", n_bootstraps=200, random_state=3)
    r3 = roc_auc_ci(y, a, method="bootstrap", n_bootstraps=200, random_state=4)
    assert r1 == r2
    assert r1 != r3
    # stratified: even one positive case gives a defined AUC in every resample
    y1 = np.array([1, 0, 0, 0, 0])
    res = roc_auc_ci(y1, [0.6, 0.1, 0.7, 0.3, 0.2], method="bootstrap", random_state=0)
    assert np.isfinite([res.ci_lower, res.ci_upper, res.std_error]).all()
    assert res.auc == 0.75


def test_bootstrap_alpha_changes_percentiles():
    y, a, _ = _tied_data(6, n=50)
    wide = roc_auc_ci(y, a, method="bootstrap", alpha=0.01, random_state=0)
    narrow = roc_auc_ci(y, a, method="bootstrap", alpha=0.2, random_state=0)
    assert wide.ci_lower <= narrow.ci_lower <= narrow.ci_upper <= wide.ci_upper


def test_perfect_separation_gives_degenerate_delong_interval():
    res = roc_auc_ci([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4])
    assert (res.auc, res.ci_lower, res.ci_upper, res.std_error) == (1, 1, 1, 0)


def test_auc_result_str():
    res = AUCResult(0.774, 0.69, 0.858, 0.04, "delong", 0.05)
    assert str(res) == "0.774 (95% CI 0.690-0.858)"
    assert str(AUCResult(0.5, 0.4, 0.6, 0.05, "delong", 0.1)).startswith(
        "0.500 (90% CI"
    )


# --------------------------------------------------------------------------
# delong_test
# --------------------------------------------------------------------------
def test_delong_test_hand_example():
    # Model b: V10 = [1/3, 1, 2/3], V01 = [1, 1/3, 2/3], AUC_b = 2/3.
    # Deviations from the means: V10 a [1/6, 1/6, -1/3], b [-1/3, 1/3, 0];
    # V01 a [-1/6, 1/6, 0], b [1/3, -1/3, 0].
    # S_aa = 1/27; S_bb = (1/9)/3 + (1/9)/3 = 2/27;
    # S_ab = (0/2)/3 + ((-1/18 - 1/18)/2)/3 = -1/54.
    res = delong_test(Y_HAND, A_HAND, B_HAND)
    expected_cov = np.array([[1 / 27, -1 / 54], [-1 / 54, 2 / 27]])
    assert_allclose(res.covariance, expected_cov, rtol=1e-12, atol=1e-15)
    assert_allclose([res.auc_a, res.auc_b], [5 / 6, 2 / 3], rtol=1e-14)
    assert res.difference == pytest.approx(1 / 6)
    se = np.sqrt(1 / 27 + 2 / 27 + 2 / 54)  # = sqrt(4/27)
    assert res.std_error == pytest.approx(se, rel=1e-12)
    assert res.z == pytest.approx((1 / 6) / se, rel=1e-12)
    assert res.p_value == pytest.approx(2 * stats.norm.sf((1 / 6) / se), rel=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_delong_test_matches_slow_oracle(seed):
    y, a, b = _tied_data(seed, n=35)
    auc, cov = delong_slow(y, [a, b])
    res = delong_test(y, a, b)
    assert_allclose(res.covariance, cov, rtol=1e-10, atol=1e-15)
    assert_allclose([res.auc_a, res.auc_b], auc, rtol=1e-12)
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    assert res.z == pytest.approx((auc[0] - auc[1]) / np.sqrt(var), rel=1e-8)
    assert res.p_value == pytest.approx(
        2 * stats.norm.sf(abs(auc[0] - auc[1]) / np.sqrt(var)), rel=1e-8
    )
    # the covariance of one model is roc_auc_ci's variance
    assert res.covariance[0, 0] == pytest.approx(roc_auc_ci(y, a).std_error ** 2)


def test_delong_test_identical_scores():
    y, a, _ = _tied_data(0)
    res = delong_test(y, a, a.copy())
    assert (res.difference, res.z, res.p_value, res.std_error) == (0, 0, 1, 0)
    # a monotone transform keeps the ranks, hence the AUC and the components
    res2 = delong_test(y, a, np.exp(3 * a))
    assert (res2.z, res2.p_value) == (0, 1)


def test_delong_test_is_antisymmetric():
    y, a, b = _tied_data(2)
    ab, ba = delong_test(y, a, b), delong_test(y, b, a)
    assert ab.z == pytest.approx(-ba.z)
    assert ab.p_value == pytest.approx(ba.p_value)


# --------------------------------------------------------------------------
# Wilson interval, binary_report, youden_threshold
# --------------------------------------------------------------------------
def _wilson_by_hand(k, n, z):
    p = k / n
    center = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return center - half, center + half


@pytest.mark.parametrize(
    ("k", "n"), [(0, 1), (0, 7), (3, 7), (7, 7), (20, 48), (51, 51)]
)
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_wilson_against_hand_formula_and_scipy(k, n, alpha):
    lower, upper = wilson_interval(k, n, alpha=alpha)
    hand = _wilson_by_hand(k, n, stats.norm.ppf(1 - alpha / 2))
    assert_allclose([lower, upper], np.clip(hand, 0, 1), rtol=1e-12, atol=1e-15)
    ci = stats.binomtest(k, n).proportion_ci(
        confidence_level=1 - alpha, method="wilson"
    )
    assert_allclose([lower, upper], [ci.low, ci.high], rtol=1e-10, atol=1e-14)


def test_wilson_vectorised_and_empty():
    lower, upper = wilson_interval(np.array([1, 0, 4]), np.array([4, 0, 4]))
    assert lower.shape == (3,)
    assert np.isnan(lower[1]) and np.isnan(upper[1])
    assert upper[2] == 1.0
    assert_allclose(lower[0], _wilson_by_hand(1, 4, Z95)[0])


def test_binary_report_counts_match_confusion_matrix():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=80)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, size=80), 0, 1)
    rep = binary_report(y, p, threshold=0.45)
    tn, fp, fn, tp = confusion_matrix(y, p >= 0.45).ravel()
    assert (rep.tp, rep.fp, rep.tn, rep.fn) == (tp, fp, tn, fn)
    assert rep.n == 80
    assert rep.sensitivity == tp / (tp + fn)
    assert rep.specificity == tn / (tn + fp)
    assert rep.ppv == tp / (tp + fp)
    assert rep.npv == tn / (tn + fn)
    assert rep.accuracy == (tp + tn) / 80
    table = rep.to_frame()
    assert list(table.index) == ["accuracy", "sensitivity", "specificity", "ppv", "npv"]
    assert list(table.columns) == [
        "estimate",
        "ci_lower",
        "ci_upper",
        "successes",
        "total",
    ]
    assert table.loc["sensitivity", "successes"] == tp
    assert table.loc["sensitivity", "total"] == tp + fn
    assert table.loc["npv", "estimate"] == rep.npv
    lo, hi = _wilson_by_hand(tn, tn + fp, Z95)
    assert_allclose(table.loc["specificity", ["ci_lower", "ci_upper"]], [lo, hi])


def test_binary_report_threshold_is_inclusive_and_study_like():
    # 20 positives, 31 negatives as in the study's test set; Se 0.600, Sp 0.742
    y = np.r_[np.ones(20), np.zeros(31)]
    p = np.r_[np.full(12, 0.5), np.full(8, 0.2), np.full(8, 0.5), np.full(23, 0.3)]
    rep = binary_report(y, p, threshold=0.5)
    assert (rep.tp, rep.fn, rep.tn, rep.fp) == (12, 8, 23, 8)
    assert round(rep.sensitivity, 3) == 0.6
    assert round(rep.specificity, 3) == 0.742
    assert rep.threshold == 0.5 and rep.alpha == 0.05


def test_binary_report_undefined_ppv_warns():
    with pytest.warns(UndefinedMetricWarning, match="PPV is undefined at threshold=1"):
        rep = binary_report([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], threshold=1.0)
    assert np.isnan(rep.ppv)
    assert rep.to_frame().loc["ppv", ["estimate", "ci_lower", "ci_upper"]].isna().all()
    with pytest.warns(UndefinedMetricWarning, match="NPV is undefined"):
        binary_report([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], threshold=0.0)


def youden_slow(y, p):
    """Brute force: J at every observed score, the highest cut-off on ties."""
    best_j, best_t = -np.inf, None
    for t in sorted(set(p), reverse=True):
        called = [pi >= t for pi in p]
        tp = sum(c and yi == 1 for c, yi in zip(called, y, strict=True))
        tn = sum((not c) and yi == 0 for c, yi in zip(called, y, strict=True))
        j = tp / sum(y) + tn / (len(y) - sum(y)) - 1
        if j > best_j + 1e-12:
            best_j, best_t = j, t
    return best_t


def test_youden_hand_case_with_tie():
    # J = 3/4 + 1 - 1 = 0.75 at 0.6 and 1 + 3/4 - 1 = 0.75 at 0.35: the tie
    # goes to the higher (more specific) threshold.
    y = [0, 0, 0, 1, 0, 1, 1, 1]
    p = [0.1, 0.2, 0.3, 0.35, 0.4, 0.6, 0.7, 0.9]
    assert youden_threshold(y, p) == 0.6
    rep = binary_report(y, p, threshold="youden")
    assert rep.threshold == 0.6
    assert rep.sensitivity + rep.specificity - 1 == 0.75


@pytest.mark.parametrize("seed", range(4))
def test_youden_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=40)
    y[:2] = [0, 1]
    p = np.round(rng.uniform(size=40) * 0.6 + 0.3 * y, 2)
    assert youden_threshold(y, p) == youden_slow(list(y), list(p))


def test_youden_train_threshold_applies_to_test():
    y_tr, p_tr = [0, 0, 1, 1, 0, 1], [0.2, 0.3, 0.4, 0.8, 0.5, 0.9]
    t = youden_threshold(y_tr, p_tr)
    rep = binary_report([0, 1, 1, 0], [0.75, 0.8, 0.1, 0.05], threshold=t)
    assert rep.threshold == t == 0.8
    assert (rep.tp, rep.fp, rep.tn, rep.fn) == (1, 0, 2, 1)


# --------------------------------------------------------------------------
# calibration
# --------------------------------------------------------------------------
def _simulate(n, seed, power=1.0, shift=0.0):
    """Outcomes from true risks p; predictions logit^-1(power * logit p + shift)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.03, 0.97, size=n)
    y = (rng.uniform(size=n) < p).astype(int)
    logit = np.log(p / (1 - p))
    return y, 1 / (1 + np.exp(-(power * logit + shift)))


def test_calibration_perfect_is_zero_one():
    y, p = _simulate(20000, 0)
    intercept, slope = calibration_intercept_slope(y, p)
    assert abs(intercept) < 0.05
    assert abs(slope - 1) < 0.05


def test_calibration_overconfident_and_overestimating():
    y, p = _simulate(5000, 1, power=2.0)
    assert calibration_intercept_slope(y, p).slope == pytest.approx(0.5, abs=0.05)
    y, p = _simulate(5000, 2, power=0.5)
    assert calibration_intercept_slope(y, p).slope == pytest.approx(2.0, abs=0.2)
    # risks overestimated (shifted up on the logit scale): intercept < 0
    y, p = _simulate(5000, 3, shift=1.0)
    res = calibration_intercept_slope(y, p)
    assert res.intercept == pytest.approx(-1.0, abs=0.1)
    assert res.slope == pytest.approx(1.0, abs=0.1)


def test_calibration_matches_unpenalised_logistic_regressions():
    y, p = _simulate(300, 4, power=1.5, shift=-0.3)
    logit = np.log(p / (1 - p))
    res = calibration_intercept_slope(y, p)
    lr = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000)
    lr.fit(logit[:, None], y)
    assert res.slope == pytest.approx(lr.coef_[0, 0], rel=1e-5)
    # the intercept with logit(p) as offset: score equation sum(y - mu) = 0
    mu = 1 / (1 + np.exp(-(res.intercept + logit)))
    assert abs(np.sum(y - mu)) < 1e-8


def test_calibration_matches_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    y, p = _simulate(300, 5, power=0.7, shift=0.4)
    logit = np.log(p / (1 - p))
    res = calibration_intercept_slope(y, p)
    slope_fit = sm.GLM(y, sm.add_constant(logit), family=sm.families.Binomial()).fit()
    citl_fit = sm.GLM(
        y, np.ones((y.size, 1)), family=sm.families.Binomial(), offset=logit
    ).fit()
    assert res.slope == pytest.approx(slope_fit.params[1], rel=1e-7)
    assert res.intercept == pytest.approx(citl_fit.params[0], rel=1e-7, abs=1e-10)


def test_calibration_degenerate_cases_warn():
    with pytest.warns(UndefinedMetricWarning, match="separate the classes perfectly"):
        res = calibration_intercept_slope([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9])
    assert res.slope == np.inf and np.isfinite(res.intercept)
    with pytest.warns(UndefinedMetricWarning, match="separate"):
        res = calibration_intercept_slope([1, 1, 0, 0], [0.1, 0.2, 0.7, 0.9])
    assert res.slope == -np.inf
    with pytest.warns(UndefinedMetricWarning, match="all probabilities are equal"):
        res = calibration_intercept_slope([0, 1, 0, 1, 0], [0.4] * 5)
    assert np.isnan(res.slope)
    # constant 0.4 with prevalence 0.4 is calibrated in the large
    assert res.intercept == pytest.approx(0.0, abs=1e-10)


def test_calibration_probabilities_of_zero_and_one_are_finite():
    y = [0, 1, 0, 1, 1, 0, 0, 1]
    p = [0.0, 1.0, 0.3, 0.6, 0.2, 0.7, 0.1, 0.9]
    res = calibration_intercept_slope(y, p)
    assert np.isfinite(res).all()


def test_calibration_curve_is_sklearns():
    from sklearn import calibration

    assert calibration_curve is calibration.calibration_curve


# --------------------------------------------------------------------------
# net benefit, decision curve
# --------------------------------------------------------------------------
Y_NB = np.array([0, 0, 0, 1, 0, 1, 1, 1])
P_NB = np.array([0.1, 0.2, 0.3, 0.35, 0.4, 0.6, 0.7, 0.9])


def test_net_benefit_hand_values():
    # pt = 0.25: treated 0.3, 0.35, 0.4, 0.6, 0.7, 0.9 -> TP 4, FP 2;
    #   NB = 4/8 - 2/8 * (0.25 / 0.75) = 0.5 - 1/12.
    # pt = 0.35 (a tie with a score, treated): TP 4, FP 1 -> 4/8 - 1/8 * 35/65.
    # pt = 0.5: TP 3, FP 0 -> 3/8.
    nb = net_benefit(Y_NB, P_NB, [0.25, 0.35, 0.5])
    assert_allclose(nb, [0.5 - 1 / 12, 0.5 - 0.125 * 0.35 / 0.65, 0.375], rtol=1e-14)
    assert net_benefit(Y_NB, P_NB, 0.5).shape == (1,)


def test_net_benefit_matches_loop_and_treat_all():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=60)
    p = np.round(rng.uniform(size=60), 2)
    t = np.linspace(0.01, 0.99, 99)
    nb = net_benefit(y, p, t)
    for k, pt in enumerate(t):
        tp = sum(1 for yi, pi in zip(y, p, strict=True) if pi >= pt and yi == 1)
        fp = sum(1 for yi, pi in zip(y, p, strict=True) if pi >= pt and yi == 0)
        assert nb[k] == pytest.approx(tp / 60 - fp / 60 * pt / (1 - pt), abs=1e-14)
    prevalence = y.mean()
    curve = decision_curve(y, p, thresholds=t)
    assert list(curve.columns) == ["threshold", "model", "treat_all", "treat_none"]
    assert_array_equal(curve["model"], nb)
    assert_allclose(curve["treat_all"], prevalence - (1 - prevalence) * t / (1 - t))
    assert_allclose(curve["treat_all"], net_benefit(y, np.ones(60), t), atol=1e-15)
    assert (curve["treat_none"] == 0).all()


def test_decision_curve_default_thresholds_and_one_class():
    curve = decision_curve(Y_NB, P_NB)
    assert_allclose(curve["threshold"], np.arange(1, 100) / 100)
    # a subgroup without events: only false positives count
    nb = net_benefit([0, 0, 0], [0.1, 0.5, 0.9], [0.5])
    assert nb[0] == pytest.approx(-2 / 3)


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("func", "args", "what"),
    [
        (roc_auc_ci, ([1, 1, 1], [0.1, 0.2, 0.3]), "AUC"),
        (delong_test, ([1, 1, 1], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1]), "DeLong's test"),
        (binary_report, ([1, 1, 1], [0.1, 0.2, 0.3]), "sensitivity and specificity"),
        (youden_threshold, ([1, 1, 1], [0.1, 0.2, 0.3]), "Youden's index"),
        (calibration_intercept_slope, ([1, 1, 1], [0.1, 0.2, 0.3]), "calibration"),
    ],
)
def test_one_class_raises(func, args, what):
    with pytest.raises(
        ValueError, match=rf"y_true has only one class \(1\): {what} needs both"
    ):
        func(*args)


def test_one_class_message_names_the_label():
    with pytest.raises(ValueError, match=r"only one class \('ER'\): AUC needs both"):
        roc_auc_ci(["ER", "ER"], [0.1, 0.2], pos_label="ER")


@pytest.mark.parametrize(
    "call",
    [
        lambda: roc_auc_ci([0, 1, 0, 1], [0.1, 0.2, 0.3]),
        lambda: delong_test([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3]),
        lambda: binary_report([0, 1, 0, 1], [0.1, 0.2, 0.3]),
        lambda: net_benefit([0, 1, 0, 1], [0.1, 0.2, 0.3], [0.5]),
        lambda: calibration_intercept_slope([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4, 0.5]),
    ],
)
def test_length_mismatch_raises(call):
    with pytest.raises(
        ValueError,
        match=r"y_true and (y_score|y_proba|score_b) must have the same length; "
        r"got 4 and [35]",
    ):
        call()


@pytest.mark.parametrize(
    ("func", "name"),
    [
        (roc_auc_ci, "y_score"),
        (youden_threshold, "y_score"),
        (binary_report, "y_proba"),
        (calibration_intercept_slope, "y_proba"),
    ],
)
def test_nan_scores_raise(func, name):
    with pytest.raises(
        ValueError,
        match=rf"{name} must be finite; got 1 NaN or infinite value\(s\), "
        r"the first at position 2",
    ):
        func([0, 1, 0, 1], [0.1, 0.2, np.nan, 0.4])


def test_nan_in_second_score_of_delong_test():
    with pytest.raises(ValueError, match="score_b must be finite"):
        delong_test([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], [0.1, np.inf, 0.3, 0.4])


@pytest.mark.parametrize(
    "call",
    [
        lambda p: binary_report([0, 1, 0, 1], p),
        lambda p: calibration_intercept_slope([0, 1, 0, 1], p),
        lambda p: net_benefit([0, 1, 0, 1], p, [0.5]),
        lambda p: decision_curve([0, 1, 0, 1], p),
    ],
)
def test_probabilities_outside_unit_interval_raise(call):
    with pytest.raises(
        ValueError,
        match=r"y_proba must hold probabilities in \[0, 1\]; got values from -0.5 to 2",
    ):
        call([0.1, -0.5, 2.0, 0.4])


@pytest.mark.parametrize("thresholds", [[0.0, 0.5], [0.5, 1.0], [1.5], [np.nan]])
def test_thresholds_outside_open_unit_interval_raise(thresholds):
    with pytest.raises(
        ValueError, match=r"thresholds must lie strictly between 0 and 1"
    ):
        net_benefit(Y_NB, P_NB, thresholds)
    with pytest.raises(
        ValueError, match=r"thresholds must lie strictly between 0 and 1"
    ):
        decision_curve(Y_NB, P_NB, thresholds)


def test_empty_thresholds_raise():
    with pytest.raises(ValueError, match="thresholds must be a non-empty 1-D sequence"):
        net_benefit(Y_NB, P_NB, [])


def test_label_errors():
    with pytest.raises(
        ValueError, match=r"y_true must be binary; got 3 classes \[0, 1, 2\]"
    ):
        roc_auc_ci([0, 1, 2, 1], [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(
        ValueError,
        match=r"y_true has labels \['a', 'b'\], not \{0, 1\} or \{-1, 1\}; "
        r"pass pos_label",
    ):
        roc_auc_ci(["a", "b", "a", "b"], [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(
        ValueError,
        match=r"pos_label='c' is not one of the labels of y_true \['a', 'b'\]",
    ):
        roc_auc_ci(["a", "b", "a", "b"], [0.1, 0.2, 0.3, 0.4], pos_label="c")
    with pytest.raises(ValueError, match="y_true must not contain NaN"):
        roc_auc_ci([0, 1, np.nan, 1], [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="y_true is empty"):
        roc_auc_ci([], [])
    with pytest.raises(ValueError, match=r"y_true must be 1-D .* shape \(2, 2\)"):
        roc_auc_ci([[0, 1], [1, 0]], [0.1, 0.2])


def test_score_shape_and_type_errors():
    with pytest.raises(
        ValueError,
        match=r"y_score must be 1-D .* shape \(4, 2\). For predict_proba output "
        r"pass the positive column",
    ):
        roc_auc_ci([0, 1, 0, 1], np.zeros((4, 2)))
    with pytest.raises(TypeError, match="y_score must be numeric"):
        roc_auc_ci([0, 1, 0, 1], ["a", "b", "c", "d"])


def test_delong_needs_two_cases_per_class():
    with pytest.raises(
        ValueError,
        match="at least 2 positive and 2 negative cases; got 1 positive and 3 negative",
    ):
        roc_auc_ci([1, 0, 0, 0], [0.9, 0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="at least 2 positive and 2 negative"):
        delong_test([1, 0, 0, 0], [0.9, 0.1, 0.2, 0.3], [0.9, 0.1, 0.2, 0.3])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: roc_auc_ci(Y_HAND, A_HAND, alpha=1.5),
            "'alpha' parameter of roc_auc_ci",
        ),
        (
            lambda: roc_auc_ci(Y_HAND, A_HAND, method="wald"),
            "'method' parameter of roc_auc_ci",
        ),
        (
            lambda: roc_auc_ci(Y_HAND, A_HAND, n_bootstraps=0),
            "'n_bootstraps' parameter",
        ),
        (
            lambda: binary_report(Y_HAND, A_HAND, threshold=1.2),
            "'threshold' parameter of binary_report",
        ),
        (
            lambda: binary_report(Y_HAND, A_HAND, threshold="best"),
            "'threshold' parameter of binary_report",
        ),
        (
            lambda: wilson_interval(1, 2, alpha=0),
            "'alpha' parameter of wilson_interval",
        ),
    ],
)
def test_parameter_validation(call, match):
    with pytest.raises(InvalidParameterError, match=match):
        call()


def test_wilson_errors():
    with pytest.raises(
        ValueError,
        match=r"successes must not exceed total; "
        r"got successes \[5.0\] and total \[4.0\]",
    ):
        wilson_interval([5], [4])
    with pytest.raises(ValueError, match="total must hold counts >= 0"):
        wilson_interval([0], [-1])
    with pytest.raises(ValueError, match="successes must hold whole counts"):
        wilson_interval([1.5], [4])


def test_report_is_frozen():
    rep = BinaryReport(threshold=0.5, tp=1, fp=0, tn=1, fn=0)
    with pytest.raises(AttributeError):
        rep.tp = 3


def test_delong_test_is_nan_where_its_variance_is_degenerate():
    from ceusradiomics.exceptions import DegenerateStatisticWarning

    # 2 + 2 lesions: a ranks every pair right, b every pair wrong; each
    # lesion's structural component is then the same, so the difference
    # has no variance (the asymptotic test said p = 0 here).
    y = [0, 0, 1, 1]
    a = [0.1, 0.2, 0.8, 0.9]
    b = [0.8, 0.9, 0.1, 0.2]
    with pytest.warns(DegenerateStatisticWarning, match="undefined"):
        res = delong_test(y, a, b)
    assert res.difference != 0
    assert np.isnan(res.z) and np.isnan(res.p_value)
    same = delong_test(y, a, a)
    assert (same.z, same.p_value) == (0.0, 1.0)
