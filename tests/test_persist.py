"""Safe model files: save_model / load_model (skops), the model card, weights.

Every fitted estimator of the library round-trips with identical outputs; a
file holding a type outside the trusted list is refused before anything in
it is constructed; the card states the fitted model's own numbers; a weights
file travels inside the model file.
"""

import json
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ceusradiomics import (
    CorrelationPruner,
    ICCFilter,
    LassoSelector,
    MannWhitneySelector,
    PerfusionExtractor,
    ScreenedLogisticRegression,
    StackingERClassifier,
    TextureExtractor,
    load_model,
    save_model,
)
from ceusradiomics._state import decode_frames, encode_frames
from ceusradiomics.card import InputSchema, ModelCard, radiomics_score_terms
from ceusradiomics.datasets import make_ceus_cohort
from ceusradiomics.ensemble import RadiomicsScore, make_study_pipeline
from ceusradiomics.exceptions import UntrustedModelError
from ceusradiomics.metrics import roc_auc_ci, youden_threshold
from ceusradiomics.persist import load_card, trusted_types
from ceusradiomics.selection import EmptyFeatureFilter

FAST_TEXTURE = {"families": ["hist", "glcm"], "distances": [1]}


@pytest.fixture(scope="module")
def cohort():
    X, y, clinical = make_ceus_cohort(n_lesions=40, image_size=64, random_state=0)
    return X, y, clinical


@pytest.fixture(scope="module")
def table():
    X, y = make_classification(
        n_samples=80, n_features=12, n_informative=4, random_state=0
    )
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(12)]), y


def _roundtrip(model, tmp_path, **kwargs):
    path = save_model(model, tmp_path / "model.skops", **kwargs)
    return load_model(path), path


def _same_output(a, b, X):
    for method in ("predict_proba", "transform"):
        if hasattr(a, method):
            left, right = getattr(a, method)(X), getattr(b, method)(X)
            left, right = np.asarray(left), np.asarray(right)
            assert left.dtype == right.dtype
            np.testing.assert_array_equal(left, right)
            return
    raise AssertionError(f"{type(a).__name__} has no output to compare")


# --------------------------------------------------------------- round trips


def _tabular_models(X, y):
    readers = X.assign(**{f"{c}@r2": X[c] + 0.01 * np.arange(len(X)) for c in X})
    return [
        (ICCFilter(threshold=0.5).fit(readers), readers),
        (MannWhitneySelector().fit(X, y), X),
        (CorrelationPruner().fit(X), X),
        (LassoSelector(cv=3, random_state=0).fit(X, y), X),
        (EmptyFeatureFilter().fit(X), X),
        (ScreenedLogisticRegression().fit(X.iloc[:, :4], y), X.iloc[:, :4]),
        (
            RadiomicsScore(
                make_pipeline(StandardScaler(), LassoSelector(cv=3, random_state=0))
            )
            .set_output(transform="pandas")
            .fit(X, y),
            X,
        ),
        (
            StackingERClassifier(
                estimators=[
                    ("a", LogisticRegression()),
                    ("b", make_pipeline(StandardScaler(), LogisticRegression(C=0.1))),
                ],
                random_state=0,
            ).fit(X, y),
            X,
        ),
    ]


def test_every_tabular_estimator_round_trips(table, tmp_path):
    X, y = table
    for model, data in _tabular_models(X, y):
        loaded, _ = _roundtrip(model, tmp_path)
        assert type(loaded) is type(model)
        _same_output(model, loaded, data)


def test_stack_out_of_fold_frame_round_trips(table, tmp_path):
    X, y = table
    stack = _tabular_models(X, y)[-1][0]
    loaded, _ = _roundtrip(stack, tmp_path)
    pd.testing.assert_frame_equal(loaded.oof_proba_, stack.oof_proba_)


def test_clinical_model_odds_ratio_tables_round_trip(cohort, tmp_path):
    _, y, clinical = cohort
    model = ScreenedLogisticRegression(categorical="auto").fit(clinical, y)
    loaded, _ = _roundtrip(model, tmp_path)
    pd.testing.assert_frame_equal(loaded.univariable_, model.univariable_)
    pd.testing.assert_frame_equal(loaded.multivariable_, model.multivariable_)
    _same_output(model, loaded, clinical)


def test_records_extractors_round_trip(cohort, tmp_path):
    X = cohort[0]
    texture = TextureExtractor(readers="all", **FAST_TEXTURE).fit(X)
    loaded, _ = _roundtrip(texture, tmp_path)
    pd.testing.assert_frame_equal(loaded.transform(X), texture.transform(X))
    cine = make_ceus_cohort(n_lesions=4, random_state=0, cine=True)[0]
    perfusion = PerfusionExtractor().fit(cine)
    loaded, _ = _roundtrip(perfusion, tmp_path)
    pd.testing.assert_frame_equal(loaded.transform(cine), perfusion.transform(cine))


def test_study_nomogram_round_trips(cohort, tmp_path):
    X, y, clinical = cohort
    data = X.join(clinical)
    nomogram = make_study_pipeline(
        "nomogram",
        clinical_columns=["age", "size_cm"],
        texture_params=FAST_TEXTURE,
        random_state=0,
    ).fit(data, y)
    loaded, _ = _roundtrip(nomogram, tmp_path)
    _same_output(nomogram, loaded, data)


def test_frames_keep_dtypes_index_and_names():
    frame = pd.DataFrame(
        {"p": [0.1, 0.2], "term": ["a", "b"], "n": [1, 2]},
        index=pd.Index(["L1", "L2"], name="lesion"),
    ).astype({"term": object})
    multi = frame.set_index(["term", "n"])
    series = pd.Series([1.5, 2.5], index=["x", "y"], name="s")
    state = {"oof_": frame, "multi_": multi, "inner_": {"s": series}, "k": 3}
    encoded = encode_frames(state)
    assert not any(isinstance(v, pd.DataFrame | pd.Series) for v in encoded.values())
    decoded = decode_frames(pickle.loads(pickle.dumps(encoded)))
    pd.testing.assert_frame_equal(decoded["oof_"], frame)
    pd.testing.assert_frame_equal(decoded["multi_"], multi)
    pd.testing.assert_series_equal(decoded["inner_"]["s"], series)
    assert decoded["k"] == 3


# ------------------------------------------------------------------- trust


class WritesAMarker:
    """A type whose construction from a file writes a marker: a stand-in for
    code an attacker would run on load."""

    marker = None

    def __setstate__(self, state):
        with open(state["marker"], "w") as fh:
            fh.write("constructed")
        self.__dict__.update(state)


def test_untrusted_type_is_refused_and_never_constructed(tmp_path):
    marker = tmp_path / "marker.txt"
    evil = WritesAMarker()
    evil.__dict__["marker"] = str(marker)
    path = tmp_path / "evil.skops"
    skops.io.dump({"model": evil}, path)
    with pytest.raises(UntrustedModelError, match="WritesAMarker") as info:
        load_model(path)
    assert info.value.types == [f"{__name__}.WritesAMarker"]
    assert not marker.exists()
    # The test can fail: trusting the type constructs it and writes the marker.
    load_model(path, trusted=info.value.types)
    assert marker.read_text() == "constructed"


def test_untrusted_function_is_refused(tmp_path):
    import os

    path = tmp_path / "function.skops"
    skops.io.dump({"call": os.system}, path)
    with pytest.raises(UntrustedModelError, match="system"):
        load_model(path)


def test_trusted_list_is_the_library_and_named_internals():
    names = trusted_types()
    assert "ceusradiomics.ensemble.StackingERClassifier" in names
    assert "sklearn.tree._tree.Tree" in names
    assert all(n.startswith(("ceusradiomics.", "sklearn.", "numpy.")) for n in names)


def test_bad_files_and_unfitted_models(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        load_model(tmp_path / "missing.skops")
    text = tmp_path / "text.skops"
    text.write_text("not a zip")
    with pytest.raises(ValueError, match="not a model file"):
        load_model(text)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="not fitted"):
        save_model(LogisticRegression(), tmp_path / "m.skops")
    with pytest.raises(TypeError, match="ModelCard"):
        save_model(LogisticRegression().fit([[0], [1]], [0, 1]), tmp_path / "m", card=1)


# -------------------------------------------------------------------- card


@pytest.fixture(scope="module")
def fitted_stack(cohort):
    X, y, _ = cohort
    stack = StackingERClassifier(
        estimators=[
            (
                "radiomics",
                make_study_pipeline(
                    "radiomics",
                    texture_params=FAST_TEXTURE,
                    lasso_cv=5,
                    random_state=0,
                ),
            ),
            (
                "deep",
                make_study_pipeline(
                    "deep", weights=None, image_size=32, lasso_cv=5, random_state=0
                ),
            ),
        ],
        random_state=0,
    ).fit(X, y)
    return stack


def test_card_states_the_fitted_models_numbers(fitted_stack, cohort, tmp_path):
    X, y, _ = cohort
    card = ModelCard.from_model(fitted_stack, X, y)
    oof = fitted_stack.oof_proba_["stack"].to_numpy()
    assert card.training == {
        "n_lesions": 40,
        "n_positive": int(y.sum()),
        "outcome_rate": float(y.mean()),
        "classes": [0, 1],
    }
    assert card.validation["auc"] == pytest.approx(roc_auc_score(y, oof), abs=1e-12)
    ci = roc_auc_ci(y, oof)
    assert (card.validation["ci_lower"], card.validation["ci_upper"]) == (
        ci.ci_lower,
        ci.ci_upper,
    )
    assert card.threshold == youden_threshold(y, oof)
    radiomics = fitted_stack.named_estimators_["radiomics"]
    lasso = radiomics.named_steps["lassoselector"]
    selected = lasso.get_feature_names_out().tolist()  # the selected ones
    branch = card.branches["radiomics"]
    assert sorted(branch["radiomics_score"]["coefficients"]) == sorted(selected)
    assert branch["radiomics_score"]["intercept"] == float(lasso.intercept_)
    for name, value in branch["radiomics_score"]["coefficients"].items():
        k = list(lasso.feature_names_in_).index(name)
        assert value == lasso.coef_[k]
    forest = radiomics.named_steps["randomforestclassifier"]
    assert branch["selected"] == list(forest.feature_names_in_)
    primary = [n for n in radiomics[0].get_feature_names_out() if "@" not in n]
    assert branch["steps"][0] == ["extracted", len(primary)]  # second reader's not
    assert branch["steps"][1] == [
        "ICC > 0.75",
        len(radiomics[1].get_feature_names_out()),
    ]
    assert branch["steps"][-1] == ["LASSO", len(selected)]
    assert card.phases == ["US", "AP", "PP"]
    assert card.network["weights"] == "random"
    assert card.texture["families"] == ["hist", "glcm"]
    schema = card.input_schema["phases"]["AP"]
    areas = [int(m.sum()) for m in X["AP_mask"]]
    assert (schema["area_min"], schema["area_max"]) == (min(areas), max(areas))
    grey = [X.loc[k, "AP_image"][X.loc[k, "AP_mask"]] for k in X.index]
    assert schema["grey_max"] == max(float(g.max()) for g in grey)
    assert schema["dtypes"] == ["uint8"]
    # Stored in the file, read back without constructing the model.
    path = save_model(fitted_stack, tmp_path / "stack.skops", card=card)
    assert load_card(path) == card
    text = card.to_markdown()
    assert f"AUC {card.validation['auc']:.3f}" in text
    assert "Youden" in text


def test_score_terms_reproduce_the_lasso_score(fitted_stack, cohort):
    X, _, _ = cohort
    radiomics = fitted_stack.named_estimators_["radiomics"]
    terms = radiomics_score_terms(radiomics)
    standardised = radiomics[:-2].transform(X)  # up to and with the scaler
    lasso = radiomics.named_steps["lassoselector"]
    by_hand = terms["intercept"] + sum(
        value * standardised[name] for name, value in terms["coefficients"].items()
    )
    np.testing.assert_allclose(
        by_hand, lasso.radiomics_score(standardised), rtol=0, atol=1e-12
    )


def test_input_schema_flags_what_training_never_saw(fitted_stack, cohort):
    X, _, _ = cohort
    schema = InputSchema.from_records(fitted_stack, X)
    assert all(m == [] for m in schema.check(fitted_stack, X).values())
    odd = X.iloc[:3].copy()
    odd.at[odd.index[0], "US_image"] = odd.iloc[0]["US_image"].astype(np.uint16) * 257
    small = np.zeros_like(odd.iloc[1]["PP_mask"])
    small[30:32, 30:32] = True
    odd.at[odd.index[1], "PP_mask"] = small
    found = schema.check(fitted_stack, odd)
    first, second, third = (found[k] for k in odd.index)
    assert any("uint16 image" in m for m in first)
    assert any("grey levels" in m for m in first)
    assert second == [
        "PP_image: ROI of 4 pixels, far outside the training range "
        f"{schema.phases['PP']['area_min']}.."
        f"{schema.phases['PP']['area_max']}"
    ]
    assert third == []


def test_saved_stack_is_small_and_predicts_the_same(fitted_stack, cohort, tmp_path):
    X, _, _ = cohort
    loaded, path = _roundtrip(fitted_stack, tmp_path)
    assert path.stat().st_size < 5 * 2**20
    np.testing.assert_array_equal(
        loaded.predict_proba(X), fitted_stack.predict_proba(X)
    )
    with zipfile.ZipFile(path) as archive:
        meta = json.loads(archive.read("ceusradiomics/meta.json"))
    assert meta["weights_files"] == {}  # a random network is rebuilt from its seed


# ----------------------------------------------------------------- weights


def test_a_weights_file_travels_inside_the_model(cohort, tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from torchvision.models import resnet50

    from ceusradiomics import ResNetFeaturizer

    torch.manual_seed(0)
    weights = tmp_path / "mine.pth"
    torch.save(resnet50(weights=None).state_dict(), weights)
    X = cohort[0].iloc[:3]
    featurizer = ResNetFeaturizer(weights=str(weights), image_size=32).fit(X)
    expected = featurizer.transform(X)
    path = save_model(featurizer, tmp_path / "deep.skops")
    card = load_card(path)
    assert card.network["sha256"] == card.network["sha256"].lower()
    assert len(card.network["sha256"]) == 64
    weights.unlink()  # the model must not need the original file
    monkeypatch.setenv("CEUSRADIOMICS_CACHE", str(tmp_path / "cache"))
    loaded = load_model(path)
    assert loaded.weights.startswith(str(tmp_path / "cache"))
    assert card.network["sha256"] in loaded.weights
    pd.testing.assert_frame_equal(loaded.transform(X), expected)


def test_a_file_from_before_a_new_parameter_loads_with_its_default(cohort, tmp_path):
    # A ResNetFeaturizer saved before `precision` existed ran in float32.
    pytest.importorskip("torch")
    from ceusradiomics import ResNetFeaturizer

    X = cohort[0].iloc[:2]
    featurizer = ResNetFeaturizer(weights=None, image_size=32, random_state=0).fit(X)
    expected = featurizer.transform(X)
    del featurizer.precision  # as an older version wrote it
    loaded, _ = _roundtrip(featurizer, tmp_path)
    assert loaded.precision == "float32"
    assert loaded.get_params()["precision"] == "float32"
    pd.testing.assert_frame_equal(loaded.transform(X), expected)
    assert pickle.loads(pickle.dumps(featurizer)).precision == "float32"
