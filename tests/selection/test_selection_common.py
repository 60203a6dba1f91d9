"""scikit-learn's common estimator checks for the selectors."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_get_feature_names_out_error,
    check_global_output_transform_pandas,
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
)
from sklearn_compat.utils.estimator_checks import parametrize_with_checks

from ceusradiomics.selection import (
    CorrelationPruner,
    EmptyFeatureFilter,
    ICCFilter,
    LassoSelector,
    MannWhitneySelector,
)

# Fast constructor arguments: the checks fit on 20-30 samples.
ESTIMATORS = [
    MannWhitneySelector(),
    CorrelationPruner(),
    LassoSelector(cv=3, Cs=3, random_state=0),
    ICCFilter(),
    EmptyFeatureFilter(),
]

# ICCFilter reads its repeated measurements from 'name@reader' columns, so it
# needs a DataFrame with such names; the checks below fit it on plain arrays,
# which it rejects with a ValueError by design. Its own tests in test_icc.py
# cover what they would (clone, pickle, not-fitted, row order, names,
# set_output, idempotent fit).
_NO_READER_COLUMNS = (
    "fits on a plain array; ICCFilter needs a DataFrame with 'name@reader' "
    "columns (tested in test_icc.py)"
)
ICC_EXPECTED_FAILURES = {
    name: _NO_READER_COLUMNS
    for name in [
        "check_fit_score_takes_y",
        "check_estimators_overwrite_params",
        "check_dont_overwrite_parameters",
        "check_estimators_fit_returns_self",
        "check_readonly_memmap_input",
        "check_n_features_in_after_fitting",
        "check_positive_only_tag_during_fit",
        "check_estimators_dtypes",
        "check_dtype_object",
        "check_pipeline_consistency",
        "check_estimators_pickle",
        "check_f_contiguous_array_estimator",
        "check_transformer_data_not_an_array",
        "check_transformer_general",
        "check_transformer_preserve_dtypes",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_fit2d_1sample",
        "check_fit2d_1feature",
        "check_dict_unchanged",
        "check_fit_idempotent",
        "check_fit_check_is_fitted",
        "check_n_features_in",
        "check_fit2d_predict1d",
    ]
}


def _expected_failed_checks(estimator):
    return ICC_EXPECTED_FAILURES if isinstance(estimator, ICCFilter) else {}


# The checks fit on random data, where often no feature is significant: the
# selectors then keep one feature and say so, as documented.
ignore_empty_selection = pytest.mark.filterwarnings(
    "ignore::ceusradiomics.exceptions.EmptySelectionWarning"
)


@ignore_empty_selection
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


ARRAY_SELECTORS = [e for e in ESTIMATORS if not isinstance(e, ICCFilter)]
NAME_AND_OUTPUT_CHECKS = [
    check_dataframe_column_names_consistency,
    check_get_feature_names_out_error,
    check_global_output_transform_pandas,
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
]


@ignore_empty_selection
@pytest.mark.parametrize("estimator", ARRAY_SELECTORS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("check", NAME_AND_OUTPUT_CHECKS, ids=lambda c: c.__name__)
def test_feature_names_and_set_output(estimator, check):
    # Not run by check_estimator; scikit-learn runs them in its own test_common.
    check(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", ARRAY_SELECTORS, ids=lambda e: type(e).__name__)
def test_pandas_output_keeps_names_and_index(estimator):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 30)
    X = pd.DataFrame(
        rng.normal(size=(60, 6)),
        columns=[f"US_f{j}" for j in range(6)],
        index=[f"lesion{i:02d}" for i in range(60)],
    )
    X["US_f0"] += 2 * y
    X["US_f1"] = X["US_f0"] + 0.1 * rng.normal(size=60)
    X["US_f2"] -= 1.5 * y
    est = estimator.set_output(transform="pandas").fit(X, y)
    out = est.transform(X)
    assert out.index.equals(X.index)
    assert out.columns.tolist() == est.get_feature_names_out().tolist()
    assert set(out.columns) <= set(X.columns)
    np.testing.assert_array_equal(out.to_numpy(), X[out.columns].to_numpy())
