"""scikit-learn's data-free common checks over every public estimator.

The estimators are read from ``ceusradiomics.__all__``: any public class that
subclasses :class:`sklearn.base.BaseEstimator` is checked, so a new estimator
is covered as soon as it is exported. The checks here only construct, clone,
inspect and re-parametrise an estimator (no fit, no data); the data-driven
checks (``parametrize_with_checks``) stay next to each estimator's own tests.
"""

import inspect

import pytest
from sklearn.base import BaseEstimator
from sklearn.utils import estimator_checks

import ceusradiomics

# Checks of sklearn.utils.estimator_checks that never fit nor see data. Looked
# up by name: a check that the installed scikit-learn lacks is skipped.
DATA_FREE_CHECKS = [
    "check_parameters_default_constructible",
    "check_no_attributes_set_in_init",
    "check_get_params_invariance",
    "check_set_params",
    "check_estimator_cloneable",
    "check_estimator_repr",
    "check_estimator_tags_renamed",
    "check_valid_tag_types",
    "check_mixin_order",
    "check_do_not_raise_errors_in_init_or_set_params",
]

EXPECTED_ESTIMATORS = {
    "TextureExtractor",
    "ResNetFeaturizer",
    "PerfusionExtractor",
    "ScreenedLogisticRegression",
    "ICCFilter",
    "MannWhitneySelector",
    "CorrelationPruner",
    "LassoSelector",
    "StackingERClassifier",
}


def public_estimators():
    """The classes of ``ceusradiomics.__all__`` that are scikit-learn estimators."""
    estimators = []
    for name in ceusradiomics.__all__:
        obj = getattr(ceusradiomics, name)
        if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
            estimators.append(obj)
    return estimators


ESTIMATORS = public_estimators()


def test_public_estimators_are_found():
    names = {cls.__name__ for cls in ESTIMATORS}
    assert ESTIMATORS
    assert names >= EXPECTED_ESTIMATORS, EXPECTED_ESTIMATORS - names


@pytest.mark.parametrize("check_name", DATA_FREE_CHECKS)
@pytest.mark.parametrize("Estimator", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_data_free_common_checks(Estimator, check_name):
    check = getattr(estimator_checks, check_name, None)
    if check is None:
        pytest.skip(f"{check_name} is not in this scikit-learn")
    check(Estimator.__name__, Estimator())
