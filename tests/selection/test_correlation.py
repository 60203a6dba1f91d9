"""Tests of correlation_matrix and CorrelationPruner."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ceusradiomics.selection import CorrelationPruner, correlation_matrix


def _clustered(n=80, n_clusters=4, per_cluster=3, n_noise=4, seed=0):
    """Clusters of correlated features of varying strength, plus noise."""
    rng = np.random.default_rng(seed)
    cols = []
    for _ in range(n_clusters):
        base = rng.normal(size=n)
        for _ in range(per_cluster):
            cols.append(base + rng.uniform(0.1, 1.2) * rng.normal(size=n))
    cols.extend(rng.normal(size=(n_noise, n)))
    return np.column_stack(cols)


def _prune_oracle(X, threshold, method="pearson"):
    """The rule, step by step, recomputing correlations from the data."""
    remaining = list(range(X.shape[1]))
    dropped = []
    while len(remaining) > 1:
        data = X[:, remaining]
        if method == "spearman":
            data = stats.rankdata(data, axis=0)
        r = np.corrcoef(data, rowvar=False)
        np.fill_diagonal(r, 0.0)
        a = np.abs(r)
        best = None
        for i in range(len(remaining)):
            for j in range(i + 1, len(remaining)):
                if a[i, j] > threshold and (best is None or a[i, j] > a[best]):
                    best = (i, j)
        if best is None:
            break
        i, j = best
        mean_i = a[i].sum() / (len(remaining) - 1)
        mean_j = a[j].sum() / (len(remaining) - 1)
        drop, keep = (i, j) if mean_i > mean_j + 1e-12 else (j, i)
        dropped.append((remaining[drop], remaining[keep], r[drop, keep]))
        del remaining[drop]
    return remaining, dropped


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_correlation_matrix_matches_numpy_and_scipy(method):
    X = _clustered()
    ours = correlation_matrix(X, method=method)
    ref = (
        np.corrcoef(X, rowvar=False)
        if method == "pearson"
        else stats.spearmanr(X).statistic
    )
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    np.testing.assert_array_equal(ours, ours.T)


def test_constant_column_correlates_zero_without_warning():
    X = _clustered()
    X[:, 2] = 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for method in ("pearson", "spearman"):
            r = correlation_matrix(X, method=method)
            assert r[2, 2] == 1.0
            assert (np.delete(r[2], 2) == 0.0).all()
            pruner = CorrelationPruner(method=method).fit(X)
            assert pruner.get_support()[2]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("threshold", [0.3, 0.6, 0.8])
@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_matches_step_by_step_oracle(seed, threshold, method):
    X = _clustered(seed=seed)
    pruner = CorrelationPruner(threshold=threshold, method=method).fit(X)
    kept, dropped = _prune_oracle(X, threshold, method)
    assert np.flatnonzero(pruner.get_support()).tolist() == kept
    got = [(int(d[1:]), int(k[1:]), r) for d, k, r in pruner.dropped_pairs_]
    assert [g[:2] for g in got] == [d[:2] for d in dropped]
    np.testing.assert_allclose([g[2] for g in got], [d[2] for d in dropped])


@pytest.mark.parametrize("seed", range(5))
def test_no_remaining_pair_exceeds_threshold(seed):
    X = _clustered(seed=seed, per_cluster=5)
    pruner = CorrelationPruner(threshold=0.5).fit(X)
    kept = pruner.transform(X)
    r = np.abs(np.corrcoef(kept, rowvar=False))
    np.fill_diagonal(r, 0.0)
    assert r.max() <= 0.5
    # Every dropped feature had a kept-or-later-dropped partner above it.
    assert all(abs(r_) > 0.5 for _, _, r_ in pruner.dropped_pairs_)
    assert len(pruner.dropped_pairs_) == X.shape[1] - kept.shape[1]


def test_tie_drops_the_later_column():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 30))
    X = np.column_stack([b, a, -a, 3 * a + 1])  # x1, x2, x3 are one feature
    pruner = CorrelationPruner().fit(X)
    assert pruner.get_support().tolist() == [True, True, False, False]
    assert [p[:2] for p in pruner.dropped_pairs_] == [("x2", "x1"), ("x3", "x1")]
    np.testing.assert_allclose([p[2] for p in pruner.dropped_pairs_], [-1.0, 1.0])


def test_drops_the_more_connected_feature():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 200))
    hub = a + b  # correlated 0.7 with both a and b
    X = np.column_stack([a, hub, b])
    pruner = CorrelationPruner(threshold=0.6).fit(X)
    assert pruner.get_support().tolist() == [True, False, True]
    assert pruner.dropped_pairs_[0][0] == "x1"


def test_spearman_is_invariant_to_monotone_transforms():
    X = _clustered(seed=5)
    a = CorrelationPruner(method="spearman").fit(X)
    b = CorrelationPruner(method="spearman").fit(np.exp(X))
    np.testing.assert_array_equal(a.get_support(), b.get_support())
    np.testing.assert_allclose(
        correlation_matrix(X, method="spearman"),
        correlation_matrix(np.exp(X), method="spearman"),
        atol=1e-12,
    )
    assert a.dropped_pairs_ == b.dropped_pairs_


def test_thresholds_at_the_ends():
    X = _clustered()
    assert CorrelationPruner(threshold=1.0).fit(X).get_support().all()
    zero = CorrelationPruner(threshold=0.0).fit(X)
    assert zero.get_support().sum() == 1  # every pair has |r| > 0


def test_feature_names_in_dropped_pairs_and_output():
    X = pd.DataFrame(_clustered(per_cluster=2, n_clusters=2, n_noise=1))
    X.columns = ["US_a", "US_a2", "PP_b", "PP_b2", "AP_noise"]
    pruner = CorrelationPruner(threshold=0.6).set_output(transform="pandas").fit(X)
    out = pruner.transform(X)
    assert out.columns.tolist() == pruner.get_feature_names_out().tolist()
    names = {d for d, _, _ in pruner.dropped_pairs_}
    assert names.isdisjoint(out.columns)
    assert names | set(out.columns) == set(X.columns)
    # The pairs' r is the matrix's, which correlation_matrix gives on demand.
    r = pd.DataFrame(correlation_matrix(X), index=X.columns, columns=X.columns)
    for dropped, kept, r_pair in pruner.dropped_pairs_:
        assert r_pair == r.loc[dropped, kept]
        assert kept in X.columns and abs(r_pair) > 0.6


def test_nan_is_rejected():
    X = _clustered()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        CorrelationPruner().fit(X)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"threshold": 1.5}, "'threshold' parameter of CorrelationPruner"),
        ({"method": "kendall"}, "'method' parameter of CorrelationPruner"),
    ],
)
def test_parameter_validation(params, match):
    with pytest.raises(ValueError, match=match):
        CorrelationPruner(**params).fit(_clustered())


def test_correlation_matrix_errors():
    with pytest.raises(ValueError, match="method must be 'pearson' or 'spearman'"):
        correlation_matrix(np.ones((3, 2)), method="kendall")
    with pytest.raises(ValueError, match=r"X must be 2-D .*got shape \(3,\)"):
        correlation_matrix(np.ones(3))


def test_fitted_pruner_is_small_and_keeps_the_pruning():
    # 2,000 features, the deep branch's width, in 200 redundant groups: the
    # n x n matrix (32 MB) is computed in fit but not kept, so the fitted
    # pruner pickles in O(n_features), and still says what it did.
    rng = np.random.default_rng(0)
    n, groups, per_group = 60, 200, 10
    base = rng.normal(size=(n, groups))
    X = np.repeat(base, per_group, axis=1) + 0.3 * rng.normal(size=(n, 2000))
    pruner = CorrelationPruner(threshold=0.6).fit(X)
    size = len(pickle.dumps(pruner))
    assert size < 1_000_000, size
    assert not any(
        isinstance(v, np.ndarray) and v.ndim == 2 for v in vars(pruner).values()
    )
    kept = pruner.get_feature_names_out()
    dropped = [d for d, _, _ in pruner.dropped_pairs_]
    assert len(kept) + len(dropped) == 2000 and set(kept).isdisjoint(dropped)
    assert groups <= len(kept) < 2000
    # Every dropped feature is correlated above the threshold with its partner,
    # as the matrix computed on demand confirms.
    r = correlation_matrix(X)
    for d, k, r_pair in pruner.dropped_pairs_[:50]:
        assert r_pair == r[int(d[1:]), int(k[1:])] and abs(r_pair) > 0.6
    # Same result as before the pickle round trip.
    again = pickle.loads(pickle.dumps(pruner))
    np.testing.assert_array_equal(again.transform(X), pruner.transform(X))
