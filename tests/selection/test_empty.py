"""Tests of EmptyFeatureFilter."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline

from ceusradiomics.exceptions import EmptyFeatureWarning
from ceusradiomics.selection import EmptyFeatureFilter


def _table(n=12, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        rng.normal(size=(n, 5)),
        columns=["US_Mean", "US_WavEnLL_s-4", "US_Skew", "AP_WavEnHH_s-4", "PP_Mean"],
        index=[f"P{i:03d}" for i in range(n)],
    )
    X["US_WavEnLL_s-4"] = np.nan  # a scale that no ROI holds
    X["AP_WavEnHH_s-4"] = np.nan
    X.iloc[:3, 2] = np.nan  # one that some ROIs hold: kept, for the imputer
    return X


def test_drops_only_the_all_missing_columns_with_one_warning():
    X = _table()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        flt = EmptyFeatureFilter().set_output(transform="pandas").fit(X)
    assert [w.category for w in caught] == [EmptyFeatureWarning]
    assert str(caught[0].message) == (
        "2 of 5 features have no value in any of the 12 training samples and "
        "are dropped: 'US_WavEnLL_s-4', 'AP_WavEnHH_s-4'."
    )
    assert caught[0].filename == __file__
    assert flt.empty_features_.tolist() == ["US_WavEnLL_s-4", "AP_WavEnHH_s-4"]
    assert flt.get_feature_names_out().tolist() == ["US_Mean", "US_Skew", "PP_Mean"]
    out = flt.transform(X)
    pd.testing.assert_frame_equal(out, X[["US_Mean", "US_Skew", "PP_Mean"]])
    # transform neither warns nor drops more: a test row may be all-NaN.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert flt.transform(X.iloc[:2]).shape == (2, 3)


def test_replaces_the_imputer_warning():
    # SimpleImputer alone drops the empty columns with a warning of its own;
    # after the filter it has none to drop, and the output is the same.
    X = _table()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        alone = SimpleImputer(strategy="median").fit_transform(X)
    assert any("without any observed values" in str(w.message) for w in caught)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chained = make_pipeline(
            EmptyFeatureFilter(), SimpleImputer(strategy="median")
        ).fit_transform(X)
    assert [w.category for w in caught] == [EmptyFeatureWarning]
    np.testing.assert_array_equal(chained, alone)


def test_many_empty_columns_are_counted_not_listed():
    X = np.full((4, 12), np.nan)
    X[:, [0, 11]] = 1.0
    with pytest.warns(
        EmptyFeatureWarning,
        match=r"^10 of 12 features have no value in any of the 4 training samples "
        r"and are dropped: 'x1', 'x2', 'x3', 'x4', 'x5' and 5 more\.$",
    ):
        flt = EmptyFeatureFilter().fit(X)
    assert flt.get_support().tolist() == [True] + [False] * 10 + [True]
    assert len(flt.empty_features_) == 10


def test_no_empty_column_no_warning():
    X = _table().drop(columns=["US_WavEnLL_s-4", "AP_WavEnHH_s-4"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flt = EmptyFeatureFilter().fit(X)
    assert flt.get_support().all() and flt.empty_features_.size == 0


def test_every_column_empty_is_an_error():
    with pytest.raises(ValueError, match="every one of the 3 features is NaN"):
        EmptyFeatureFilter().fit(np.full((5, 3), np.nan))


def test_infinity_is_rejected():
    X = np.ones((4, 2))
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        EmptyFeatureFilter().fit(X)
