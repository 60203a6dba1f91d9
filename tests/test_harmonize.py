"""ComBat: against neuroCombat, leakage, planted effects, unseen batches, errors."""

import contextlib
import io

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from ceusradiomics.harmonize import ComBat, HarmonizationWarning


def _data(seed=0, n=(30, 25, 35), m=40):
    rng = np.random.default_rng(seed)
    batch = np.repeat(["A", "B", "C"], n)
    total = sum(n)
    # whole years: neuroCombat casts continuous covariates to float32
    age = rng.integers(30, 80, total).astype(float)
    sex = rng.choice(["F", "M"], total)
    Y = rng.normal(size=(total, m)) * rng.uniform(0.5, 3, m) + rng.normal(size=m) * 5
    Y[batch == "B"] = Y[batch == "B"] * 1.5 + 2
    Y[batch == "C"] = Y[batch == "C"] * 0.7 - 1
    Y += 0.05 * age[:, None] + (sex == "M")[:, None] * 0.8
    X = pd.DataFrame(Y, columns=[f"f{j}" for j in range(m)])
    X["center"], X["age"], X["sex"] = batch, age, sex
    return X


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"eb": False},
        {"parametric": False},
        {"mean_only": True},
        {"reference_batch": "B"},
    ],
    ids=["parametric-eb", "no-eb", "non-parametric", "mean-only", "reference"],
)
def test_equals_neurocombat(settings, monkeypatch):
    neuro = pytest.importorskip("neuroCombat")
    X = _data()
    features = [c for c in X.columns if c.startswith("f")]
    kwargs = dict(settings)
    if "reference_batch" in kwargs:
        kwargs["ref_batch"] = kwargs.pop("reference_batch")
        # neuroCombat 0.2.12's reference path still calls the removed np.int
        monkeypatch.setattr(np, "int", int, raising=False)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its progress
        reference = neuro.neuroCombat(
            X[features].to_numpy().T.copy(),  # an array: a frame becomes float32
            X[["center", "age", "sex"]],
            "center",
            categorical_cols=["sex"],
            continuous_cols=["age"],
            **kwargs,
        )["data"].T
    ours = ComBat(covariates=["age", "sex"], **settings).fit_transform(X)
    assert list(ours.columns) == features
    np.testing.assert_allclose(ours.to_numpy(), reference, rtol=0, atol=1e-8)


def test_fit_never_reads_the_test_rows_and_rows_are_independent():
    X = _data()
    train, test = X.iloc[::2], X.iloc[1::2]
    combat = ComBat(covariates=["age", "sex"]).fit(train)
    # the same fit whatever the test rows hold
    scrambled = test.copy()
    scrambled.iloc[:, :40] = 1e6
    again = ComBat(covariates=["age", "sex"]).fit(train)
    np.testing.assert_array_equal(combat.gamma_, again.gamma_)
    out = combat.transform(test)
    # each row is harmonised on its own: transforming it alone changes nothing
    for k in (0, 7, 20):
        alone = combat.transform(test.iloc[[k]])
        np.testing.assert_array_equal(alone.to_numpy()[0], out.to_numpy()[k])
    # and the fit's rows get the fit's estimates
    np.testing.assert_allclose(
        combat.transform(train).to_numpy(),
        ComBat(covariates=["age", "sex"]).fit_transform(train).to_numpy(),
        rtol=0,
        atol=1e-12,
    )


def test_removes_a_planted_centre_shift_and_keeps_the_outcome_effect():
    rng = np.random.default_rng(3)
    n, m = 300, 25
    center = np.repeat(["A", "B", "C"], n // 3)
    y = rng.permutation(np.tile([0, 1], n // 2))  # balanced across centres
    base = rng.normal(size=(n, m))
    outcome = 0.8 * y[:, None]  # 0.8 SD higher with the outcome
    shift = {"A": (0.0, 1.0), "B": (3.0, 1.8), "C": (-2.0, 0.6)}
    Y = base + outcome
    for c, (loc, scale) in shift.items():
        Y[center == c] = Y[center == c] * scale + loc
    X = pd.DataFrame(Y, columns=[f"f{j}" for j in range(m)])
    X["center"] = center
    Z = ComBat().fit_transform(X)
    means = Z.groupby(center).mean()
    sds = Z.groupby(center).std()
    # before: centre means 5 SDs apart; after: within sampling noise
    assert (means.max() - means.min()).max() < 0.45
    assert (sds.max() / sds.min()).max() < 1.35
    effect = Z[y == 1].mean() - Z[y == 0].mean()
    pooled_sd = Z.std()
    assert effect.div(pooled_sd).between(0.5, 1.1).all()  # 0.8 planted, noise


def test_covariate_effect_is_kept():
    X = _data(n=(60, 60, 60), m=10)
    Z = ComBat(covariates=["age", "sex"]).fit_transform(X)
    slope = np.polyfit(X["age"], Z["f0"], 1)[0]
    assert slope == pytest.approx(0.05, abs=0.02)
    without = ComBat().fit_transform(X[[c for c in X if c not in ("age", "sex")]])
    assert list(without.columns) == [f"f{j}" for j in range(10)]


def test_unseen_batch_is_refused_or_estimated():
    X = _data()
    train, new = X[X["center"] != "C"], X[X["center"] == "C"]
    combat = ComBat(covariates=["age", "sex"]).fit(train)
    with pytest.raises(ValueError, match=r"batch\(es\) \['C'\] of lesion"):
        combat.transform(new)
    estimating = ComBat(covariates=["age", "sex"], unseen="estimate").fit(train)
    out = estimating.transform(new)
    # centre C moved onto the training rows' pooled location
    target = estimating.transform(train).mean()
    assert (out.mean() - target).abs().max() < 0.6 * X.iloc[:, :40].std().min()
    # C's rows estimated from C's rows only: mixing in known rows changes nothing
    both = estimating.transform(pd.concat([train.iloc[:5], new]))
    np.testing.assert_allclose(both.iloc[5:].to_numpy(), out.to_numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="at least 2"):
        estimating.transform(new.iloc[:1])


def test_features_it_cannot_estimate_pass_through():
    X = _data(m=6)
    X["flat"] = 1.0
    X["sparse"] = np.nan
    X.loc[X.index[:3], "sparse"] = 1.0  # three values, all in centre A
    X["empty"] = np.nan  # reported later by the EmptyFeatureFilter, not here
    X.loc[X.index[10], "f2"] = np.nan
    with pytest.warns(HarmonizationWarning, match=r"2 of 9 features.*'flat'"):
        combat = ComBat(covariates=["age", "sex"]).fit(X)
    assert sorted(combat.passthrough_) == ["empty", "flat", "sparse"]
    out = combat.transform(X)
    pd.testing.assert_series_equal(out["flat"], X["flat"])
    pd.testing.assert_series_equal(out["sparse"], X["sparse"])
    assert np.isnan(out.loc[X.index[10], "f2"])
    assert np.isfinite(out["f2"].drop(X.index[10])).all()


def test_in_a_pipeline_under_cross_validation():
    X = _data(n=(40, 40, 40), m=8)
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, len(X))
    model = make_pipeline(ComBat(covariates=["age", "sex"]), LogisticRegression())
    scores = cross_val_score(model, X, y, cv=3, scoring="roc_auc")
    assert np.isfinite(scores).all()
    model.set_output(transform="pandas").fit(X, y)
    assert list(model[0].get_feature_names_out()) == [f"f{j}" for j in range(8)]


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda X: X.to_numpy(), TypeError, "needs a DataFrame"),
        (lambda X: X.drop(columns="center"), ValueError, "lacks the column"),
        (lambda X: X.assign(center="A"), ValueError, "at least 2 batches"),
        (
            lambda X: X.assign(center=["A"] * (len(X) - 1) + ["B"]),
            ValueError,
            "at least 2 lesions",
        ),
        (
            lambda X: X.assign(center=[None] + ["A"] * (len(X) - 1)),
            ValueError,
            "have no batch",
        ),
        (lambda X: X.assign(note="x"), TypeError, "not numeric"),
        (lambda X: X.assign(f0=np.inf), ValueError, "infinite"),
    ],
)
def test_errors(change, error, match):
    X = _data(m=5)
    with pytest.raises(error, match=match):
        ComBat(covariates=["age", "sex"]).fit(change(X))


def test_covariate_errors():
    X = _data(m=5)
    combat = ComBat(covariates=["age", "sex"]).fit(X)
    with pytest.raises(ValueError, match=r"level\(s\) \['X'\] not seen"):
        combat.transform(X.assign(sex="X"))
    with pytest.raises(ValueError, match="collinear with the batches"):
        ComBat(covariates=["site_type"]).fit(
            X.drop(columns=["age", "sex"]).assign(
                site_type=X["center"].map({"A": 0.0, "B": 1.0, "C": 1.0})
            )
        )
    with pytest.raises(ValueError, match="reference_batch='Z'"):
        ComBat(reference_batch="Z").fit(X.drop(columns=["age", "sex"]))


# --------------------------------------------------------------- pipelines


def test_study_pipeline_harmonises_records_by_centre():
    import warnings

    from sklearn.model_selection import LeaveOneGroupOut

    from ceusradiomics.datasets import make_ceus_cohort
    from ceusradiomics.ensemble import make_study_pipeline
    from ceusradiomics.exceptions import DegenerateROIWarning, EmptyFeatureWarning
    from ceusradiomics.validation import cross_validate_models

    X, y, _ = make_ceus_cohort(60, image_size=128, centers=3, random_state=0)
    model = make_study_pipeline(
        "radiomics", readers="all", random_state=0, harmonize="center"
    )
    assert [n for n, _ in model.steps[:3]] == [
        "columntransformer",
        "combat",
        "iccfilter",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateROIWarning)
        warnings.simplefilter("ignore", EmptyFeatureWarning)
        # 128-pixel images: the 32-pixel wavelet blocks (s-5) of a few ROIs
        # only, fewer than 2 in some centre: left unharmonised, with a warning
        warnings.simplefilter("ignore", HarmonizationWarning)
        model.fit(X, y)
        combat = model.named_steps["combat"]
        assert list(combat.batches_) == ["A", "B", "C"]
        assert "center" not in combat.features_
        assert any(name.endswith("@r2") for name in combat.features_)
        proba = model.predict_proba(X)[:, 1]
        assert np.isfinite(proba).all()
        # a centre the model never saw: refused, or estimated from its rows
        train = X["center"] != "C"
        model.fit(X[train], y[train])
        with pytest.raises(ValueError, match=r"batch\(es\) \['C'\]"):
            model.predict_proba(X[~train])
        model.set_params(combat__unseen="estimate")
        assert np.isfinite(model.predict_proba(X[~train])).all()
        # leave one centre out, with a per-centre AUC and its DeLong CI
        result = cross_validate_models(
            {"ComBat": model},
            X,
            y,
            cv=LeaveOneGroupOut(),
            groups=X["center"].to_numpy(),
        )
    per_centre = result.per_group.set_index("group")
    assert sorted(per_centre.index) == ["A", "B", "C"]
    assert (per_centre["auc_ci_lower"] <= per_centre["auc"]).all()
    assert (per_centre["auc"] <= per_centre["auc_ci_upper"]).all()


def test_study_pipeline_harmonises_a_feature_table():
    from ceusradiomics.ensemble import make_study_pipeline

    X = _data(n=(40, 40, 40), m=12).drop(columns=["age", "sex"])
    X.columns = [f"US_{c}" if c.startswith("f") else c for c in X.columns]
    rng = np.random.default_rng(0)
    y = (X["US_f0"] + rng.normal(size=len(X)) > X["US_f0"].median()).astype(int)
    model = make_study_pipeline(
        "radiomics", input="table", readers="primary", harmonize="center",
        random_state=0,
    )  # fmt: skip
    model.fit(X, y)
    assert list(model.named_steps["combat"].features_) == [
        c for c in X.columns if c != "center"
    ]
    with pytest.raises(ValueError, match="radiomics and deep branches"):
        make_study_pipeline("clinical", columns=["age"], harmonize="center")


def test_a_harmonised_model_saves_and_loads(tmp_path):
    from ceusradiomics.ensemble import make_study_pipeline
    from ceusradiomics.persist import load_model, save_model

    X = _data(n=(30, 30, 30), m=10).drop(columns=["age", "sex"])
    X.columns = [f"US_{c}" if c.startswith("f") else c for c in X.columns]
    y = (X["US_f0"] > X["US_f0"].median()).astype(int)
    model = make_study_pipeline(
        "radiomics", input="table", readers="primary", harmonize="center",
        random_state=0,
    ).fit(X, y)  # fmt: skip
    save_model(model, tmp_path / "m.skops", card=False)
    loaded = load_model(tmp_path / "m.skops")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_train_harmonises_by_centre_and_predict_refuses_a_new_one(tmp_path):
    import warnings

    from ceusradiomics.card import selection_steps
    from ceusradiomics.cli._settings import resolve_settings
    from ceusradiomics.cli.predict import predict_lesions
    from ceusradiomics.cli.train import SettingsError, build_model, train_model
    from ceusradiomics.datasets import make_ceus_cohort
    from ceusradiomics.exceptions import EmptyFeatureWarning, SmallSampleWarning
    from ceusradiomics.persist import load_model, save_model

    X, y, _ = make_ceus_cohort(60, image_size=96, centers=3, random_state=0)
    settings = resolve_settings(overrides={"random_state": 0})
    train = (X["center"] != "C").to_numpy()
    with warnings.catch_warnings():
        # 40 training lesions of 96-pixel images: sparse large wavelet scales
        # and a LASSO with fewer folds than 10
        warnings.simplefilter("ignore", HarmonizationWarning)
        warnings.simplefilter("ignore", SmallSampleWarning)
        warnings.simplefilter("ignore", EmptyFeatureWarning)
        model, card, problems = train_model(
            X[train], y[train], model="radiomics", settings=settings,
            readers="all", harmonize="center",
        )  # fmt: skip
    assert problems == []
    steps = selection_steps(model)
    assert [label for label, _ in steps[:3]] == ["extracted", "ComBat", "ICC > 0.75"]
    assert steps[0][1] == steps[1][1] == 849  # one reader's features, no batch
    save_model(model, tmp_path / "m.skops", card=card)
    loaded = load_model(tmp_path / "m.skops")
    with pytest.raises(ValueError, match=r"batch\(es\) \['C'\]"):
        predict_lesions(loaded, card, X[~train])
    table, _ = predict_lesions(loaded, card, X[train].iloc[:4])
    np.testing.assert_array_equal(
        table["probability"], model.predict_proba(X[train].iloc[:4])[:, 1]
    )
    with pytest.raises(SettingsError, match="no column 'site'"):
        train_model(X, y, model="radiomics", settings=settings, harmonize="site")
    with pytest.raises(SettingsError, match="imaging models"):
        build_model(
            "clinical", settings, readers="primary", clinical_columns=["age"],
            verbose=False, harmonize="center",
        )  # fmt: skip
