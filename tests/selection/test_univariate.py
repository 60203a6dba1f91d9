"""Tests of MannWhitneySelector."""

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from ceusradiomics.exceptions import EmptySelectionWarning
from ceusradiomics.selection import MannWhitneySelector


def _data(n=60, p=12, seed=0, shift=(1.5, -1.0, 0.8)):
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.repeat([0, 1], [n - n // 3, n // 3]))
    X = rng.normal(size=(n, p))
    for j, s in enumerate(shift):
        X[:, j] += s * y
    X[:, 5] = np.round(X[:, 5])  # heavy ties
    return X, y


def test_matches_per_feature_scipy_and_auc():
    X, y = _data()
    sel = MannWhitneySelector().fit(X, y)
    for j in range(X.shape[1]):
        ref = stats.mannwhitneyu(
            X[y == 1, j], X[y == 0, j], alternative="two-sided", method="asymptotic"
        )
        np.testing.assert_allclose(sel.statistics_[j], ref.statistic, rtol=1e-12)
        np.testing.assert_allclose(sel.pvalues_[j], ref.pvalue, rtol=1e-10)
    # U of the positive class over n1 * n0 is the feature's ROC AUC.
    n1, n0 = (y == 1).sum(), (y == 0).sum()
    auc = [roc_auc_score(y, X[:, j]) for j in range(X.shape[1])]
    np.testing.assert_allclose(sel.statistics_ / (n1 * n0), auc, rtol=1e-12)


def test_auto_method_agrees_for_large_groups():
    # Both groups > 8: scipy's "auto" is the asymptotic test used here.
    X, y = _data(n=60)
    sel = MannWhitneySelector().fit(X, y)
    ref = stats.mannwhitneyu(X[y == 1], X[y == 0], axis=0, method="auto")
    np.testing.assert_allclose(sel.pvalues_, ref.pvalue, rtol=1e-12)


def test_selects_the_shifted_features():
    X, y = _data(n=200)
    sel = MannWhitneySelector(alpha=0.01, correction="bonferroni").fit(X, y)
    assert np.flatnonzero(sel.get_support()).tolist() == [0, 1, 2]
    np.testing.assert_array_equal(sel.transform(X), X[:, sel.pvalues_corrected_ < 0.01])


def test_string_labels_and_positive_class():
    X, y = _data()
    labels = np.where(y == 1, "recurrence", "censored")
    sel = MannWhitneySelector().fit(X, labels)
    assert sel.classes_.tolist() == ["censored", "recurrence"]
    ref = MannWhitneySelector().fit(X, y)
    np.testing.assert_array_equal(sel.statistics_, ref.statistics_)
    np.testing.assert_array_equal(sel.pvalues_, ref.pvalues_)


def _bh_loop(p):
    """Benjamini-Hochberg adjusted p-values by the textbook step-up loop."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p[i] * m / rank)
        adjusted[i] = running
    return np.array(adjusted)


def test_corrections():
    X, y = _data(p=20, seed=4)
    raw = MannWhitneySelector().fit(X, y)
    np.testing.assert_array_equal(raw.pvalues_corrected_, raw.pvalues_)
    bonf = MannWhitneySelector(correction="bonferroni").fit(X, y)
    np.testing.assert_allclose(
        bonf.pvalues_corrected_, np.minimum(raw.pvalues_ * 20, 1.0), rtol=1e-12
    )
    bh = MannWhitneySelector(correction="fdr_bh").fit(X, y)
    np.testing.assert_allclose(bh.pvalues_corrected_, _bh_loop(raw.pvalues_))
    np.testing.assert_array_equal(bh.pvalues_, raw.pvalues_)
    # Corrections only ever remove features.
    assert bonf.get_support().sum() <= bh.get_support().sum()
    assert bh.get_support().sum() <= raw.get_support().sum()


def test_alpha_is_strict():
    X, y = _data()
    sel = MannWhitneySelector().fit(X, y)
    p = np.sort(sel.pvalues_)[3]
    at = MannWhitneySelector(alpha=p).fit(X, y)
    assert at.get_support().sum() == 3


def test_constant_feature_has_p_one():
    X, y = _data()
    X[:, 4] = 2.5
    sel = MannWhitneySelector().fit(X, y)
    assert sel.pvalues_[4] == 1.0
    assert not sel.get_support()[4]


def test_no_feature_passes_keeps_smallest_p():
    X, y = _data(shift=())
    X = X[:, 6:]
    sel = MannWhitneySelector(alpha=1e-6)
    with pytest.warns(EmptySelectionWarning, match=r"alpha=1e-06; keeping .*'x"):
        sel.fit(X, y)
    assert np.flatnonzero(sel.get_support()).tolist() == [np.argmin(sel.pvalues_)]
    assert sel.transform(X).shape == (len(y), 1)


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (np.arange(60) % 3, r"binary target .* 'multiclass' target with 3 class"),
        (np.zeros(60), r"exactly two classes; got a 'binary' target with 1 class"),
        (np.linspace(0, 1, 60), r"got a 'continuous' target"),
    ],
)
def test_non_binary_target(y, match):
    X, _ = _data()
    with pytest.raises(ValueError, match=match):
        MannWhitneySelector().fit(X, y)


def test_nan_is_rejected():
    X, y = _data()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        MannWhitneySelector().fit(X, y)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"alpha": 0.0}, "'alpha' parameter of MannWhitneySelector"),
        ({"alpha": 1.5}, "'alpha' parameter of MannWhitneySelector"),
        ({"correction": "holm"}, "'correction' parameter of MannWhitneySelector"),
    ],
)
def test_parameter_validation(params, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        MannWhitneySelector(**params).fit(X, y)
