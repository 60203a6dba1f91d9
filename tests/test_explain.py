"""Per-lesion explanations: the radiomics score's exact contributions."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ceusradiomics import LassoSelector, MannWhitneySelector, StackingERClassifier
from ceusradiomics.explain import radiomics_contributions


@pytest.fixture(scope="module")
def table():
    X, y = make_classification(
        n_samples=90, n_features=15, n_informative=5, random_state=1
    )
    X = pd.DataFrame(X * 3 + 7, columns=[f"feat{i}" for i in range(15)])
    X.index = [f"P{i:03d}" for i in range(90)]
    return X, y


def _branch():
    return make_pipeline(
        MannWhitneySelector(alpha=0.2),
        StandardScaler(),
        LassoSelector(cv=5, random_state=0),
        LogisticRegression(),
    ).set_output(transform="pandas")


def test_contributions_sum_to_the_radiomics_score(table):
    X, y = table
    model = _branch().fit(X, y)
    parts = radiomics_contributions(model, X)
    lasso = model.named_steps["lassoselector"]
    standardised = model[:2].transform(X)
    score = lasso.radiomics_score(standardised)
    np.testing.assert_allclose(
        parts.sum(axis=1) + parts.attrs["intercept"], score, rtol=0, atol=1e-10
    )
    selected = lasso.get_feature_names_out()  # the selected ones
    assert sorted(parts.columns) == sorted(selected)
    assert parts.index.equals(X.index)
    # by hand: coefficient x (value - training mean) / training SD
    scaler = model.named_steps["standardscaler"]
    name = parts.columns[0]
    k = list(scaler.feature_names_in_).index(name)
    j = list(lasso.feature_names_in_).index(name)
    z = (X[name] - scaler.mean_[k]) / scaler.scale_[k]
    np.testing.assert_allclose(parts[name], lasso.coef_[j] * z, rtol=1e-12)
    # ordered from the most negative coefficient to the most positive
    coef = [lasso.coef_[list(lasso.feature_names_in_).index(c)] for c in parts]
    assert coef == sorted(coef)


def test_a_stack_explains_its_radiomics_branch(table):
    X, y = table
    stack = StackingERClassifier(
        estimators=[("radiomics", _branch()), ("other", LogisticRegression())],
        random_state=0,
        nested_oof=False,
    ).fit(X, y)
    parts = radiomics_contributions(stack, X)
    branch = stack.named_estimators_["radiomics"]
    expected = radiomics_contributions(branch, X)
    pd.testing.assert_frame_equal(parts, expected)

    other = StackingERClassifier(
        estimators=[("a", LogisticRegression()), ("b", LogisticRegression(C=0.1))],
        nested_oof=False,
    ).fit(X, y)
    with pytest.raises(ValueError, match="no 'radiomics' branch"):
        radiomics_contributions(other, X)


def test_models_without_a_lasso_are_refused(table):
    X, y = table
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    with pytest.raises(ValueError, match="no fitted LassoSelector"):
        radiomics_contributions(model, X)
