"""make_study_pipeline and StackingERClassifier: the study's models in scikit-learn."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import make_column_selector
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from ceusradiomics import LassoSelector, StackingERClassifier
from ceusradiomics.datasets import make_ceus_cohort
from ceusradiomics.ensemble import make_study_pipeline
from ceusradiomics.exceptions import EmptyFeatureWarning

TABULAR_STACK = StackingERClassifier(
    estimators=[
        ("lr", LogisticRegression()),
        ("tree", DecisionTreeClassifier(max_depth=2, random_state=0)),
    ],
    random_state=0,
)
# scikit-learn's checks fit dozens of times: without the nested refits.
FAST_STACK = clone(TABULAR_STACK).set_params(nested_oof=False)


@parametrize_with_checks([FAST_STACK])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_nested_out_of_fold_passes_the_training_checks():
    from sklearn.utils.estimator_checks import check_classifiers_train

    check_classifiers_train("StackingERClassifier", clone(TABULAR_STACK))


def _table(n=120, p=30, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    rng.shuffle(y)
    X = rng.normal(size=(n, p))
    X[:, :3] += 1.2 * y[:, None]  # three informative texture features
    columns = [f"US_f{i}" for i in range(p)]
    deep = rng.normal(size=(n, 20))
    deep[:, :2] += 1.0 * y[:, None]
    columns += [f"US_resnet50_{k:04d}" for k in range(20)]
    frame = pd.DataFrame(np.hstack([X, deep]), columns=columns)
    return frame, pd.Series(y, name="ER")


def test_study_pipeline_steps():
    names = [n for n, _ in make_study_pipeline("radiomics").steps]
    assert names == [
        "textureextractor",
        "iccfilter",
        "emptyfeaturefilter",
        "simpleimputer",
        "mannwhitneyselector",
        "correlationpruner",
        "standardscaler",
        "lassoselector",
        "randomforestclassifier",
    ]
    deep = [n for n, _ in make_study_pipeline("deep", weights=None).steps]
    assert deep[0] == "resnetfeaturizer" and deep[-1] == "calibratedclassifiercv"
    assert "iccfilter" not in deep and "emptyfeaturefilter" not in deep
    single = [n for n, _ in make_study_pipeline(readers="primary").steps]
    assert "iccfilter" not in single
    with pytest.raises(ValueError, match=r"branch must be one of \['radiomics'"):
        make_study_pipeline("clinic")
    with pytest.raises(ValueError, match="input must be 'records' or 'table'"):
        make_study_pipeline(input="images")


def _study_order(pipeline):
    """The same pipeline with the study's literal order: z-score before the U test."""
    steps = [(name, clone(step)) for name, step in pipeline.steps]
    scaler = next(s for s in steps if s[0] == "standardscaler")
    steps.remove(scaler)
    names = [name for name, _ in steps]
    first = names.index("simpleimputer") + 1 if "simpleimputer" in names else 1
    steps.insert(first, scaler)
    return Pipeline(steps).set_output(transform="pandas")


@pytest.mark.parametrize("branch", ["radiomics", "deep"])
def test_z_score_after_the_filters_is_the_study_order_model(branch):
    # Correlated features on wildly different scales and offsets, a few of
    # them informative, some NaN (radiomics only): the U test, the pruning
    # and the LASSO must pick the same columns, and the model must predict the
    # same, whether the z-score comes first (the study) or before the LASSO.
    rng = np.random.default_rng(7)
    n, latent = 150, 25
    y = np.repeat([0, 1], n // 2)
    base = rng.normal(size=(n, latent))
    base[:, :4] += 0.9 * y[:, None]
    copies = [
        base[:, k] * 10.0 ** rng.uniform(-3, 3) + rng.normal(0, 0.6, n) + 1e3 * k
        for k in range(latent)
        for _ in range(3)
    ]
    X = np.column_stack(copies)
    suffix = "" if branch == "radiomics" else "_resnet50"
    columns = [f"US{suffix}_{k:04d}" for k in range(X.shape[1])]
    table = pd.DataFrame(X, columns=columns)
    if branch == "radiomics":
        table.iloc[rng.choice(n, 6, replace=False), 5] = np.nan
    ours = make_study_pipeline(
        branch, input="table", readers="primary", lasso_cv=5, random_state=0
    )
    study = _study_order(ours)
    assert [n for n, _ in study.steps].index("standardscaler") < [
        n for n, _ in study.steps
    ].index("mannwhitneyselector")
    ours.fit(table, y)
    study.fit(table, y)
    for step in ("mannwhitneyselector", "correlationpruner", "lassoselector"):
        kept = ours.named_steps[step].get_feature_names_out()
        assert list(kept) == list(study.named_steps[step].get_feature_names_out())
    assert 0 < len(ours.named_steps["lassoselector"].get_feature_names_out()) < 30
    np.testing.assert_allclose(
        ours.named_steps["lassoselector"].coef_,
        study.named_steps["lassoselector"].coef_,
        rtol=1e-9,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        ours.predict_proba(table), study.predict_proba(table), rtol=1e-9, atol=1e-12
    )


def test_table_branches_select_their_own_columns():
    X, y = _table()
    radiomics = make_study_pipeline(
        "radiomics", input="table", readers="primary", lasso_cv=3, random_state=0
    ).fit(X, y)
    kept = radiomics.named_steps["lassoselector"].get_feature_names_out()
    assert set(kept) <= {f"US_f{i}" for i in range(30)}
    assert {"US_f0", "US_f1", "US_f2"} & set(kept)
    deep = make_study_pipeline("deep", input="table", lasso_cv=3, random_state=0)
    deep.fit(X, y)
    kept = deep.named_steps["lassoselector"].get_feature_names_out()
    assert all("_resnet50_" in k for k in kept)


def test_stack_of_table_branches_with_grid_search():
    X, y = _table()
    stack = StackingERClassifier(
        estimators=[
            (
                "radiomics",
                make_study_pipeline(
                    "radiomics", input="table", readers="primary", lasso_cv=3
                ),
            ),
            ("deep", make_study_pipeline("deep", input="table", lasso_cv=3)),
        ],
        random_state=0,
        # The search scores its own folds: the nested training scores of
        # every candidate fit would only cost time here.
        nested_oof=False,
    )
    search = GridSearchCV(
        stack,
        {"radiomics__correlationpruner__threshold": [0.6, 0.9]},
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
        scoring="roc_auc",
    ).fit(X, y)
    assert search.best_score_ > 0.75
    proba = search.best_estimator_.branch_predict_proba(X)
    assert list(proba.columns) == ["radiomics", "deep", "stack"]
    assert ((proba >= 0) & (proba <= 1)).all().all()


def test_default_branches_are_built_in_fit_and_by_nested_set_params():
    stack = StackingERClassifier(random_state=0)
    assert stack.estimators is None
    assert "radiomics__lassoselector__cv" not in stack.get_params()
    stack.set_params(radiomics__lassoselector__cv=5)
    assert [name for name, _ in stack.estimators] == ["radiomics", "deep"]
    assert stack.get_params()["radiomics__lassoselector__cv"] == 5
    # the default splitter is seeded and stratified, and get_params is unchanged
    fitted = clone(TABULAR_STACK).fit(*_table(p=5))
    assert fitted.get_params()["cv"] is None


def test_one_class_target_is_a_clear_error():
    X, y = _table(p=5)
    with pytest.raises(ValueError, match="binary outcome with both classes"):
        clone(TABULAR_STACK).fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="Only binary classification"):
        clone(TABULAR_STACK).fit(X, np.arange(len(y)) % 3)


def test_out_of_fold_probabilities_are_kept():
    X, y = _table(p=8)
    stack = clone(TABULAR_STACK).fit(X, y)
    oof = stack.oof_proba_
    assert list(oof.columns) == ["lr", "tree", "stack"]
    assert oof.index.equals(X.index)
    # the branches' columns are exactly cross_val_predict with the same folds
    from sklearn.model_selection import cross_val_predict

    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    expected = cross_val_predict(
        LogisticRegression(), X, y, cv=cv, method="predict_proba"
    )[:, 1]
    np.testing.assert_allclose(oof["lr"], expected)
    # and they are less optimistic than the refitted tree's own training scores
    refit = stack.branch_predict_proba(X)
    assert roc_auc_score(y, oof["tree"]) < roc_auc_score(y, refit["tree"])


def test_selection_inside_the_folds_does_not_leak():
    # A feature that carries the label only in one held-out fold: selection
    # fitted inside the training folds cannot see it; selection fitted once on
    # all rows (the leak) would pick it and score that fold well.
    rng = np.random.default_rng(1)
    n = 150
    y = np.repeat([0, 1], n // 2)
    rng.shuffle(y)
    X = pd.DataFrame(rng.normal(size=(n, 40)), columns=[f"f{i}" for i in range(40)])
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    train, test = folds[0]
    X.loc[test, "f0"] = y[test] * 3.0 + rng.normal(scale=0.3, size=len(test))
    X.loc[train, "f0"] = rng.normal(size=len(train))

    model = make_study_pipeline(
        "radiomics", input="table", readers="primary", lasso_cv=3, random_state=0
    )
    honest = model.fit(X.iloc[train], y[train])
    auc_honest = roc_auc_score(y[test], honest.predict_proba(X.iloc[test])[:, 1])

    selector = clone(model)[:-1].fit(X, y)  # the leak: selection on every row
    kept = selector.get_feature_names_out()
    assert "f0" in kept
    # Even the leaky selector's model is fitted on the training rows only; the
    # leak is the selection alone, and it is enough to inflate the fold's AUC.
    leaky = LogisticRegression().fit(selector.transform(X.iloc[train]), y[train])
    auc_leaky = roc_auc_score(
        y[test], leaky.predict_proba(selector.transform(X.iloc[test]))[:, 1]
    )
    assert "f0" not in honest[:-1].get_feature_names_out()
    assert auc_honest < 0.75 < auc_leaky


@pytest.fixture(scope="module")
def small_cohort():
    X, y, _ = make_ceus_cohort(
        n_lesions=30, image_size=64, second_reader_fraction=1.0, random_state=5
    )
    return X, y


# Folds of a 30-lesion cohort are small: a U test may keep nothing (the best
# feature is kept, with a warning).
@pytest.mark.filterwarnings("ignore::ceusradiomics.exceptions.EmptySelectionWarning")
def test_stack_on_records_in_cross_val_score(small_cohort):
    X, y = small_cohort
    stack = StackingERClassifier(
        estimators=[
            (
                "radiomics",
                make_study_pipeline(
                    "radiomics", phases=("AP",), lasso_cv=3, random_state=0
                ),
            ),
            (
                "deep",
                make_study_pipeline(
                    "deep",
                    phases=("AP",),
                    weights=None,
                    image_size=32,
                    lasso_cv=3,
                    random_state=0,
                ).set_params(calibratedclassifiercv__cv=2),
            ),
        ],
        cv=3,
        random_state=0,
        # 30 lesions: the nested refits' folds would hold two lesions of a
        # class (tested on tables above)
        nested_oof=False,
    )
    scores = cross_val_score(
        stack, X, y, cv=StratifiedKFold(2, shuffle=True, random_state=0)
    )
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))
    fitted = stack.fit(X, y)
    proba = fitted.branch_predict_proba(X)
    assert proba.index.equals(X.index)


@pytest.mark.filterwarnings("ignore::ceusradiomics.exceptions.EmptySelectionWarning")
# 64-pixel images: the widest wavelet scales fit no ROI (dropped, with a note).
@pytest.mark.filterwarnings("ignore::ceusradiomics.exceptions.EmptyFeatureWarning")
def test_texture_is_extracted_once_across_the_stack_folds(small_cohort, monkeypatch):
    from ceusradiomics import TextureExtractor, clear_feature_cache

    X, y = small_cohort
    clear_feature_cache("texture")
    calls = []
    original = TextureExtractor._compute
    monkeypatch.setattr(
        TextureExtractor,
        "_compute",
        staticmethod(lambda *a: calls.append(1) or original(*a)),
    )
    branch = make_study_pipeline(
        "radiomics", phases=("PP",), readers="primary", lasso_cv=3, random_state=0
    )
    StackingERClassifier(
        estimators=[("radiomics", branch), ("again", clone(branch))],
        cv=3,
        random_state=0,
    ).fit(X, y)
    # 2 branches x (1 + 3 folds) fits, yet every ROI is computed once.
    assert len(calls) == len(X)


class _RadiomicsScore(ClassifierMixin, BaseEstimator):
    """The LASSO's radiomics score as a classifier.

    Its probabilities carry every bit of the LASSO's coefficients, where the
    study's branches pass on only which features it kept.
    """

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        self.lasso_ = LassoSelector(cv=5, Cs=10, random_state=self.random_state)
        self.lasso_.fit(X, y)
        self.classes_ = self.lasso_.classes_
        return self

    def predict_proba(self, X):
        p = expit(self.lasso_.radiomics_score(X))
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(int)]


def _liblinear_stack(n_jobs):
    return StackingERClassifier(
        estimators=[
            (
                "radiomics",
                make_study_pipeline(
                    "radiomics",
                    input="table",
                    readers="primary",
                    lasso_cv=5,
                    random_state=0,
                ).set_params(randomforestclassifier__n_estimators=20),
            ),
            ("score", make_pipeline(StandardScaler(), _RadiomicsScore(0))),
        ],
        n_jobs=n_jobs,
        random_state=0,
    )


def _lasso_coefs(stack):
    return [
        stack.named_estimators_["radiomics"].named_steps["lassoselector"].coef_,
        stack.named_estimators_["score"][-1].lasso_.coef_,
    ]


@pytest.mark.slow
def test_n_jobs_gives_the_serial_stack_bit_for_bit():
    # The branches and their folds are fitted in threads, and liblinear draws
    # from one generator per process: unless the LASSO's fits take turns on
    # it, a fit's coefficients depend on what runs beside it (without the
    # lock, nearly every threaded fit below differed from the serial one).
    X, y = make_classification(
        n_samples=120, n_features=100, n_informative=20, n_redundant=0, random_state=0
    )
    X = pd.DataFrame(X, columns=[f"US_f{j}" for j in range(X.shape[1])])
    serial = _liblinear_stack(None).fit(X, y)
    expected = serial.predict_proba(X)
    for _ in range(10):
        threaded = _liblinear_stack(2).fit(X, y)
        np.testing.assert_array_equal(threaded.predict_proba(X), expected)
        np.testing.assert_array_equal(threaded.oof_proba_, serial.oof_proba_)
        for got, want in zip(_lasso_coefs(threaded), _lasso_coefs(serial), strict=True):
            np.testing.assert_array_equal(got, want)


def test_features_no_lesion_holds_are_dropped_with_one_warning():
    # Wavelet scales that no ROI holds are NaN for every lesion: one package
    # warning per fit, none from scikit-learn's imputer, the same model.
    X, y = _table(p=12)
    X["US_WavEnLL_s-5"] = np.nan
    X["PP_WavEnHH_s-5"] = np.nan
    X.loc[X.index[:5], "US_f3"] = np.nan  # some ROIs hold it: imputed
    model = make_study_pipeline(
        "radiomics", input="table", readers="primary", lasso_cv=3, random_state=0
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, y)
    assert [w.category for w in caught] == [EmptyFeatureWarning]
    assert "2 of 14 features" in str(caught[0].message)
    empty = model.named_steps["emptyfeaturefilter"]
    assert empty.empty_features_.tolist() == ["US_WavEnLL_s-5", "PP_WavEnHH_s-5"]
    assert "US_f3" in model.named_steps["simpleimputer"].get_feature_names_out()
    # The model is the one fitted without those columns.
    clean = clone(model).fit(X.drop(columns=empty.empty_features_), y)
    np.testing.assert_array_equal(model.predict_proba(X), clean.predict_proba(X))


def test_study_pipeline_takes_texture_settings():
    model = make_study_pipeline(
        "radiomics", texture_params={"normalization": "minmax", "bits": 6}
    )
    extractor = model.named_steps["textureextractor"]
    assert (extractor.normalization, extractor.bits) == ("minmax", 6)
    with pytest.raises(ValueError, match=r"texture_params must not hold \['phases'\]"):
        make_study_pipeline("radiomics", texture_params={"phases": ("US",)})


def _table_with_clinical(seed=0, n=120):
    """A feature table (two informative texture-like columns) with clinical factors."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    rng.shuffle(y)
    X = pd.DataFrame(rng.normal(size=(n, 30)), columns=[f"US_f{i}" for i in range(30)])
    X["US_f0"] += 1.2 * y
    X["US_f1"] -= 0.8 * y
    X["size_cm"] = np.round(4 + 1.5 * y + rng.normal(scale=1.5, size=n), 1)
    X["afp_group"] = pd.Categorical(
        rng.choice(["<20", "20-400", ">400"], size=n),
        categories=["<20", "20-400", ">400"],
    )
    X.index = [f"L{i:03d}" for i in range(n)]
    return X, y


def test_clinical_branch_is_the_screened_model():
    from ceusradiomics import ScreenedLogisticRegression

    X, y = _table_with_clinical()
    model = make_study_pipeline("clinical", columns=["size_cm", "afp_group"]).fit(X, y)
    direct = ScreenedLogisticRegression(categorical="auto").fit(
        X[["size_cm", "afp_group"]], y
    )
    np.testing.assert_allclose(
        model.predict_proba(X), direct.predict_proba(X[["size_cm", "afp_group"]])
    )
    assert list(model[-1].selected_) == ["size_cm"]
    with pytest.raises(ValueError, match="needs columns"):
        make_study_pipeline("clinical")


def test_nomogram_scores_with_the_training_lasso_only():
    # f_leak carries the label only in the held-out fold: a radiomics score
    # whose LASSO saw every row would use it; the nomogram's, refitted in the
    # fit on the training rows, does not.
    X, y = _table_with_clinical(seed=3, n=150)
    rng = np.random.default_rng(0)
    train, test = next(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    X["US_leak"] = rng.normal(size=len(X))
    X.iloc[test, X.columns.get_loc("US_leak")] = y[test] * 3.0 + rng.normal(
        scale=0.3, size=len(test)
    )
    nomogram = make_study_pipeline(
        "nomogram",
        input="table",
        readers="primary",
        lasso_cv=3,
        random_state=0,
        clinical_columns=["size_cm", "afp_group"],
    )
    fitted = clone(nomogram).fit(X.iloc[train], y[train])
    score = fitted.named_steps["columntransformer"].named_transformers_[
        "radiomicsscore"
    ]
    lasso = score.pipeline_[-1]
    used = lasso.feature_names_in_[lasso.coef_ != 0]
    assert "US_leak" not in used
    # the clinical columns never reach the radiomics score
    assert not {"size_cm", "afp_group"} & set(
        score.pipeline_[0].get_feature_names_out()
    )
    terms = list(fitted[-1].terms_)
    assert terms[0] == "radiomics_score" and "afp_group[>400]" in terms
    leaky = clone(nomogram).fit(X, y)
    leaky_lasso = (
        leaky.named_steps["columntransformer"]
        .named_transformers_["radiomicsscore"]
        .pipeline_[-1]
    )
    assert "US_leak" in leaky_lasso.feature_names_in_[leaky_lasso.coef_ != 0]


@pytest.mark.filterwarnings("ignore::ceusradiomics.exceptions.EmptySelectionWarning")
# The nested refits see ~35 lesions: an AFP level may hold one class only.
@pytest.mark.filterwarnings("ignore::ceusradiomics.exceptions.SeparationWarning")
def test_stack_with_a_clinical_branch_in_cv_and_grid_search():
    X, y = _table_with_clinical(seed=1)
    radiomics = make_study_pipeline(
        "radiomics", input="table", readers="primary", lasso_cv=3, random_state=0
    )
    radiomics.set_params(randomforestclassifier__n_estimators=50)
    stack = StackingERClassifier(
        estimators=[("radiomics", radiomics)],
        clinical_columns=["size_cm", "afp_group"],
        cv=3,
        random_state=0,
    )
    # A table branch takes every non-ResNet column: keep it on the texture
    # columns of this table (the clinical factors go to the clinical branch).
    radiomics.set_params(
        columntransformer__transformers=[
            ("columns", "passthrough", make_column_selector(pattern=r"^US_"))
        ]
    )
    scores = cross_val_score(stack, X, y, cv=3, scoring="roc_auc")
    assert np.isfinite(scores).all()
    fitted = clone(stack).fit(X, y)
    assert list(fitted.oof_proba_.columns) == ["radiomics", "clinical", "stack"]
    search = GridSearchCV(
        stack,
        {"final_estimator": [LogisticRegression(C=0.1), LogisticRegression()]},
        cv=3,
    ).fit(X, y)
    assert search.best_estimator_.named_estimators_["clinical"] is not None


@pytest.mark.filterwarnings("ignore::ceusradiomics.exceptions.EmptySelectionWarning")
@pytest.mark.filterwarnings("ignore::ceusradiomics.exceptions.EmptyFeatureWarning")
# 30 lesions: an AFP level may hold one class only (rightly flagged).
@pytest.mark.filterwarnings("ignore::ceusradiomics.exceptions.SeparationWarning")
def test_nomogram_on_records_with_clinical_columns_joined(small_cohort):
    X, y = small_cohort
    _, _, clinical = make_ceus_cohort(
        n_lesions=30, image_size=64, second_reader_fraction=1.0, random_state=5
    )
    joined = X.join(clinical)
    nomogram = make_study_pipeline(
        "nomogram",
        phases=("PP",),
        readers="primary",
        lasso_cv=3,
        random_state=0,
        clinical_columns=["size_cm", "afp_group"],
    ).fit(joined, y)
    proba = nomogram.predict_proba(joined)[:, 1]
    assert proba.shape == (30,) and np.all((proba > 0) & (proba < 1))
    table = nomogram[-1].multivariable_
    assert table.index[0] == "radiomics_score"
    assert {"afp_group[20-400]", "afp_group[>400]", "size_cm"} <= set(table.index)


def test_radiomics_score_cross_fits_the_training_scores():
    from sklearn.preprocessing import StandardScaler

    from ceusradiomics import LassoSelector
    from ceusradiomics.ensemble import RadiomicsScore

    X, y = _table_with_clinical(seed=2)
    X = X.filter(like="US_")
    inner = Pipeline(
        [("scale", StandardScaler()), ("lasso", LassoSelector(cv=3, random_state=0))]
    )
    score = RadiomicsScore(inner, cv=4, random_state=0)
    crossed = score.fit_transform(X, y)[:, 0]
    expected = np.empty(len(y))
    for train, test in StratifiedKFold(4, shuffle=True, random_state=0).split(X, y):
        fold = clone(inner).fit(X.iloc[train], y[train])
        expected[test] = fold[-1].radiomics_score(fold[:-1].transform(X.iloc[test]))
    np.testing.assert_allclose(crossed, expected, rtol=1e-12)
    in_sample = score.transform(X)[:, 0]
    assert not np.allclose(crossed, in_sample)
    # cv=None: the published nomograms' in-sample scores
    plain = RadiomicsScore(inner, cv=None).fit_transform(X, y)[:, 0]
    np.testing.assert_allclose(plain, in_sample, rtol=1e-12)


def test_stack_out_of_fold_score_is_a_nested_cross_validation():
    X, y = _table(p=8)
    stack = clone(TABULAR_STACK).fit(X, y)
    # by hand: each outer fold refits the whole stack on the other folds
    expected = np.full(len(y), np.nan)
    outer = StratifiedKFold(5, shuffle=True, random_state=0)
    for train, test in outer.split(X, y):
        fold = clone(TABULAR_STACK).fit(X.iloc[train], y[train])
        expected[test] = fold.predict_proba(X.iloc[test])[:, 1]
    np.testing.assert_allclose(stack.oof_proba_["stack"], expected, rtol=0, atol=1e-12)


def test_stack_out_of_fold_score_is_honest_on_noise():
    # The meta-learner cross-validated on branch scores whose branches saw
    # every training row is optimistic on pure noise; the nested score is not.
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(80, 6)), columns=[f"x{i}" for i in range(6)])
    y = rng.permutation(np.repeat([0, 1], 40))
    stack = StackingERClassifier(
        estimators=[
            ("tree", DecisionTreeClassifier(max_depth=3, random_state=0)),
            ("lr", LogisticRegression()),
        ],
        random_state=0,
    ).fit(X, y)
    auc = roc_auc_score(y, stack.oof_proba_["stack"])
    assert 0.3 < auc < 0.7
