"""The study's selection chain, step by step and as one Pipeline under CV."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ceusradiomics.selection import (
    CorrelationPruner,
    ICCFilter,
    LassoSelector,
    MannWhitneySelector,
)

N_LESIONS = 160
N_REPEATED = 60  # lesions that a second reader outlined
INFORMATIVE = [f"US_inf{i}" for i in range(4)]
REDUNDANT = [f"AP_red{i}" for i in range(4)]  # near-copies of INFORMATIVE
UNRELIABLE = [f"PP_unrel{i}" for i in range(3)]  # informative, readers disagree
NOISE = [f"US_noise{i}" for i in range(16)]


@pytest.fixture(scope="module")
def cohort():
    """Feature table with reader-2 columns, and its binary outcome."""
    rng = np.random.default_rng(42)
    y = rng.permutation(np.repeat([0, 1], [96, 64]))
    shift = 1.2 * y[:, None]
    informative = shift + rng.normal(size=(N_LESIONS, 4))
    redundant = informative + 0.2 * rng.normal(size=(N_LESIONS, 4))
    unreliable = shift[:, [0] * 3] + rng.normal(size=(N_LESIONS, 3))
    noise = rng.normal(size=(N_LESIONS, 16))
    primary = np.column_stack([informative, redundant, unreliable, noise])
    names = INFORMATIVE + REDUNDANT + UNRELIABLE + NOISE
    # Reader 2 re-measures with a small error, except on the unreliable
    # features, where the measurement has nothing to do with the first.
    second = primary + 0.15 * rng.normal(size=primary.shape)
    second[:, 8:11] = 1.5 * rng.normal(size=(N_LESIONS, 3))
    second[rng.permutation(N_LESIONS)[N_REPEATED:]] = np.nan
    X = pd.DataFrame(primary, columns=names)
    X = X.join(pd.DataFrame(second, columns=[f"{n}@r2" for n in names]))
    X.index = [f"lesion{i:03d}" for i in range(N_LESIONS)]
    return X, y


def _steps(cv=4, Cs=8):
    return [
        ICCFilter(threshold=0.75),
        StandardScaler(),
        MannWhitneySelector(alpha=0.05),
        CorrelationPruner(threshold=0.6),
        LassoSelector(cv=cv, Cs=Cs, random_state=0),
    ]


def test_each_step_removes_what_it_should(cohort):
    X, y = cohort
    icc, scaler, mwu, pruner, lasso = (
        s.set_output(transform="pandas") for s in _steps()
    )

    Xt = icc.fit_transform(X)
    assert icc.n_repeated_.tolist() == [N_REPEATED] * 27
    assert list(Xt.columns) == INFORMATIVE + REDUNDANT + NOISE  # unreliable out
    unreliable = np.isin(icc.primary_features_, UNRELIABLE)
    assert (icc.icc_[unreliable] < 0.3).all() and (icc.icc_[~unreliable] > 0.9).all()

    Xt = mwu.fit_transform(scaler.fit_transform(Xt), y)
    kept = set(Xt.columns)
    assert set(INFORMATIVE + REDUNDANT) <= kept
    assert len(kept & set(NOISE)) <= 2  # about alpha * 16 false positives

    Xt = pruner.fit_transform(Xt)
    for inf, red in zip(INFORMATIVE, REDUNDANT, strict=True):
        assert (inf in Xt.columns) != (red in Xt.columns)  # one of each pair
        assert any({d, k} == {inf, red} for d, k, _ in pruner.dropped_pairs_)
    assert len(pruner.dropped_pairs_) == 4

    Xt = lasso.fit_transform(Xt, y)
    kept = set(Xt.columns)
    assert len(kept - set(NOISE)) >= 3  # the signal survives
    assert len(kept & set(NOISE)) <= 1
    upstream = pruner.transform(mwu.transform(scaler.transform(icc.transform(X))))
    score = lasso.radiomics_score(upstream)
    assert np.corrcoef(score, y)[0, 1] > 0.5


def _pipeline():
    return make_pipeline(*_steps(), LogisticRegression())


def test_pipeline_cross_validates(cohort):
    X, y = cohort
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    auc = cross_val_score(_pipeline(), X, y, cv=folds, scoring="roc_auc")
    assert auc.mean() > 0.8


def test_pipeline_grid_search_and_names(cohort):
    X, y = cohort
    search = GridSearchCV(
        _pipeline(),
        {"correlationpruner__threshold": [0.6, 0.95]},
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
        scoring="roc_auc",
    ).fit(X, y)
    assert search.best_score_ > 0.8
    assert (search.cv_results_["mean_test_score"] > 0.8).all()
    best = search.best_estimator_
    assert best[3].threshold == search.best_params_["correlationpruner__threshold"]
    names = best[:-1].get_feature_names_out()
    assert len(names) == best[-1].n_features_in_
    assert set(names) <= set(INFORMATIVE + REDUNDANT + NOISE)
