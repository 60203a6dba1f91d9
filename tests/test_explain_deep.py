"""Explanations needing the network or the forest: CAM, Grad-CAM, SHAP, display."""

import sys
import warnings

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from ceusradiomics import (  # noqa: E402
    CorrelationPruner,
    LassoSelector,
    MannWhitneySelector,
    ResNetFeaturizer,
    StackingERClassifier,
)
from ceusradiomics.datasets import make_ceus_cohort  # noqa: E402
from ceusradiomics.deep._cam import class_activation_map  # noqa: E402
from ceusradiomics.ensemble import make_study_pipeline  # noqa: E402
from ceusradiomics.exceptions import (  # noqa: E402
    DegenerateROIWarning,
    EmptyFeatureWarning,
)
from ceusradiomics.explain import (  # noqa: E402
    LesionExplanationDisplay,
    _activation_map,
    _deep_score,
    activation_map,
    forest_shap_values,
    permutation_importances,
    radiomics_contributions,
)
from ceusradiomics.harmonize import HarmonizationWarning  # noqa: E402

PHASES = ("US", "AP", "PP")


@pytest.fixture(scope="module")
def cohort():
    X, y = make_ceus_cohort(n_lesions=60, image_size=128, random_state=0)[:2]
    return X, y


@pytest.fixture(scope="module")
def deep_model(cohort):
    X, y = cohort
    return make_study_pipeline("deep", weights=None, image_size=64, random_state=0).fit(
        X, y
    )


@pytest.fixture(scope="module")
def stack(cohort):
    X, y = cohort
    with warnings.catch_warnings():
        # small ROIs: NaN features, and no 64 x 64 wavelet block (s-6)
        warnings.simplefilter("ignore", DegenerateROIWarning)
        warnings.simplefilter("ignore", EmptyFeatureWarning)
        return StackingERClassifier(
            estimators=[
                (
                    "radiomics",
                    make_study_pipeline(
                        "radiomics", readers="primary", random_state=0
                    ).set_params(randomforestclassifier__n_estimators=100),
                ),
                (
                    "deep",
                    make_study_pipeline(
                        "deep", weights=None, image_size=64, random_state=0
                    ),
                ),
            ],
            # the explanations need a fitted stack, not its nested OOF scores
            cv=3,
            nested_oof=False,
            random_state=0,
        ).fit(X, y)


def test_cam_of_arrays_is_the_weighted_sum_of_channels():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(5, 3, 4))
    v = rng.normal(size=5)
    expected = np.zeros((3, 4)) + 0.25
    for k in range(5):
        for r in range(3):
            for c in range(4):
                expected[r, c] += v[k] * A[k, r, c]
    np.testing.assert_allclose(class_activation_map(A, v, 0.25), expected, rtol=1e-14)
    with pytest.raises(ValueError, match="channels"):
        class_activation_map(A, v[:4])


def test_cam_equals_a_hand_computation_through_torchvision(cohort, deep_model):
    """An independent path: torchvision's own ResNet-50 with the featurizer's
    seed, the public preprocessing, and the score's weights from the scaler
    and the LASSO by hand."""
    from torchvision.models import resnet50

    from ceusradiomics.deep import preprocess_roi

    X, _ = cohort
    featurizer = deep_model.named_steps["resnetfeaturizer"]
    scaler = deep_model.named_steps["standardscaler"]
    lasso = deep_model.named_steps["lassoselector"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(featurizer.network_seed_)
        net = resnet50().eval()
    lesion = X.index[7]
    for phase in PHASES:
        x = preprocess_roi(
            X.loc[lesion, f"{phase}_image"],
            X.loc[lesion, f"{phase}_mask"],
            image_size=64,
        )
        with torch.no_grad():
            t = torch.from_numpy(x)[None]
            for name in ("conv1", "bn1", "relu", "maxpool"):
                t = getattr(net, name)(t)
            for name in ("layer1", "layer2", "layer3", "layer4"):
                t = getattr(net, name)(t)
        A = t[0].double().numpy()
        grid = np.zeros(A.shape[1:])
        for j, name in enumerate(lasso.feature_names_in_):
            if lasso.coef_[j] == 0 or not name.startswith(f"{phase}_"):
                continue
            k = list(scaler.feature_names_in_).index(name)
            channel = int(name.rsplit("_", 1)[1])
            w = lasso.coef_[j] / scaler.scale_[k]
            grid += w * (A[channel] - scaler.mean_[k])
        found = _activation_map(deep_model, X, lesion, phase)
        assert found.grid.shape == (2, 2)  # 64 px / stride 32
        np.testing.assert_allclose(found.grid, grid, rtol=1e-4, atol=1e-4)


def test_grid_means_add_up_to_the_deep_lasso_score(cohort, deep_model):
    X, _ = cohort
    parts = radiomics_contributions(deep_model, X)
    score = parts.sum(axis=1) + parts.attrs["intercept"]
    assert (parts != 0).any().any(), "the LASSO selected no deep feature"
    terms = _deep_score(deep_model)
    for lesion in X.index[:6]:
        total = terms.intercept + sum(
            _activation_map(deep_model, X, lesion, p).grid.mean() for p in PHASES
        )
        # float32 network (activations in the hundreds) against float64
        assert total == pytest.approx(score[lesion], rel=1e-4, abs=1e-4)


def test_map_is_aligned_with_the_image_and_deterministic(cohort, deep_model):
    from ceusradiomics.deep import crop_box

    X, _ = cohort
    lesion = X.index[3]
    first = activation_map(deep_model, X, lesion, "AP")
    again = activation_map(deep_model, X, lesion, "AP")
    assert np.array_equal(first, again, equal_nan=True)
    image = X.loc[lesion, "AP_image"]
    assert first.shape == image.shape
    rows, cols = crop_box(X.loc[lesion, "AP_mask"], 0.1)
    inside = np.zeros(image.shape, bool)
    inside[rows, cols] = True
    assert np.isfinite(first[inside]).all()
    assert np.isnan(first[~inside]).all()
    # transposing the crop's grid would not give this: the upsampled map's
    # corners hold the grid's corner cells' values (bilinear, edge-clamped)
    found = _activation_map(deep_model, X, lesion, "AP")
    crop = first[rows, cols]
    assert crop[0, -1] == pytest.approx(found.grid[0, -1])
    assert crop[-1, 0] == pytest.approx(found.grid[-1, 0])


def test_gradcam_at_the_last_layer_is_the_relu_of_the_cam(cohort, deep_model):
    pytest.importorskip("torchcam")
    X, _ = cohort
    lesion = X.index[5]
    terms = _deep_score(deep_model)
    for phase in ("US", "PP"):
        cam = _activation_map(deep_model, X, lesion, phase)
        grad = _activation_map(deep_model, X, lesion, phase, method="gradcam")
        cells = cam.grid.size
        # Grad-CAM's weights are the score's gradients averaged over the grid:
        # v_k / cells; it drops the constant and keeps the positive part.
        expected = np.maximum(cam.grid - terms.constants[phase], 0.0) / cells
        np.testing.assert_allclose(grad.grid, expected, rtol=1e-4, atol=1e-7)
    plus = _activation_map(
        deep_model, X, lesion, "AP", method="gradcam++", layer="layer3"
    )
    assert plus.grid.shape == (4, 4)  # layer3: stride 16
    assert (plus.grid >= 0).all() and np.isfinite(plus.image[plus.box]).all()


def test_map_peaks_on_a_planted_hot_patch():
    """Positive lesions carry a bright patch at a random place: the features
    that respond to it drive the score, and the map is high on it."""
    rng = np.random.default_rng(0)
    n, size, side = 60, 96, 16
    yy, xx = np.mgrid[:size, :size]
    mask = ((yy - 48) / 36) ** 2 + ((xx - 48) / 36) ** 2 <= 1
    images, labels, corners = [], [], []
    for i in range(n):
        image = np.clip(rng.rayleigh(40, (size, size)), 0, 255)
        r, c = rng.integers(26, 70 - side, 2)
        if i % 2:
            image[r : r + side, c : c + side] = 250
        images.append(image.astype(np.uint8))
        labels.append(i % 2)
        corners.append((r, c))
    X = pd.DataFrame(
        {"AP_image": images, "AP_mask": [mask] * n},
        index=[f"L{i:02d}" for i in range(n)],
    )
    model = make_pipeline(
        # layer2 (stride 8): a 28 x 28 grid over the crop
        ResNetFeaturizer(weights=None, layer="layer2", image_size=224, random_state=0),
        MannWhitneySelector(alpha=0.05),
        CorrelationPruner(0.6),
        StandardScaler(),
        LassoSelector(cv=5, random_state=0),
        LogisticRegression(),
    ).set_output(transform="pandas")
    model.fit(X, np.array(labels))
    distances = []
    for i in range(1, n, 2):
        heat = activation_map(model, X, X.index[i], "AP")
        r, c = corners[i]
        on_patch = heat[r : r + side, c : c + side].mean()
        elsewhere = heat[mask].mean()
        assert on_patch > elsewhere, X.index[i]
        peak = np.unravel_index(np.nanargmax(heat), heat.shape)
        distances.append(np.hypot(peak[0] - (r + side / 2), peak[1] - (c + side / 2)))
    assert np.median(distances) < side


def test_a_trained_head_keeps_the_cam_exact(cohort):
    X, y = cohort
    model = make_study_pipeline(
        "deep", weights=None, image_size=64, head=8, random_state=0
    )
    model.set_params(resnetfeaturizer__epochs=2, resnetfeaturizer__augment=False)
    model.fit(X, y)
    parts = radiomics_contributions(model, X)
    terms = _deep_score(model)
    lesion = X.index[0]
    total = terms.intercept + sum(
        _activation_map(model, X, lesion, p).grid.mean() for p in PHASES
    )
    assert total == pytest.approx(
        parts.loc[lesion].sum() + parts.attrs["intercept"], rel=1e-4, abs=1e-4
    )


def test_stack_maps_explain_its_deep_branch(cohort, stack):
    X, _ = cohort
    deep = stack.named_estimators_["deep"]
    lesion = X.index[2]
    np.testing.assert_array_equal(
        activation_map(stack, X, lesion, "PP"),
        activation_map(deep, X, lesion, "PP"),
    )


def test_activation_map_errors(cohort, deep_model, stack):
    X, _ = cohort
    with pytest.raises(ValueError, match="'nope' is not in X's index"):
        activation_map(deep_model, X, "nope", "AP")
    with pytest.raises(ValueError, match="phase 'XX'"):
        activation_map(deep_model, X, X.index[0], "XX")
    with pytest.raises(ValueError, match="method must be one of"):
        activation_map(deep_model, X, X.index[0], "AP", method="lime")
    with pytest.raises(ValueError, match="exact CAM is at"):
        activation_map(deep_model, X, X.index[0], "AP", layer="layer3")
    with pytest.raises(ValueError, match="no deep branch"):
        activation_map(stack.named_estimators_["radiomics"], X, X.index[0], "AP")
    harmonised = make_study_pipeline(
        "deep", weights=None, image_size=32, harmonize="center", random_state=0
    )
    centred = X.assign(center=np.resize(["A", "B"], len(X)))
    with warnings.catch_warnings():  # random 32-pixel features: many constant
        warnings.simplefilter("ignore", HarmonizationWarning)
        harmonised.fit(centred, cohort[1])
    with pytest.raises(ValueError, match="steps are: columntransformer, combat"):
        activation_map(harmonised, centred, X.index[0], "AP")
    with pytest.raises(TypeError, match="records DataFrame"):
        activation_map(deep_model, X.to_numpy(), X.index[0], "AP")


def test_gradient_methods_refuse_a_layer_outside_the_network(cohort, deep_model):
    pytest.importorskip("torchcam")
    X, _ = cohort
    with pytest.raises(ValueError, match="not a module of the network"):
        activation_map(
            deep_model, X, X.index[0], "AP", method="gradcam", layer="layer9"
        )


def test_gradient_methods_without_torchcam_say_what_to_install(
    cohort, deep_model, monkeypatch
):
    X, _ = cohort
    monkeypatch.setitem(sys.modules, "torchcam", None)
    monkeypatch.setitem(sys.modules, "torchcam.methods", None)
    with pytest.raises(ImportError, match=r"ceusradiomics\[explain\]"):
        activation_map(deep_model, X, X.index[0], "AP", method="gradcam")


def test_gradient_methods_need_a_stage(cohort, deep_model):
    X, y = cohort
    model = make_study_pipeline("deep", weights=None, image_size=64, random_state=0)
    model.set_params(resnetfeaturizer__layer="layer4.1")
    model.fit(X, y)
    heat = activation_map(model, X, X.index[0], "AP")  # exact CAM: any node
    assert heat.shape == X.loc[X.index[0], "AP_image"].shape
    with pytest.raises(ValueError, match="need the featurizer's layer at a stage"):
        activation_map(model, X, X.index[0], "AP", method="gradcam")


def test_fc_featurizer_has_no_map(cohort):
    X, y = cohort
    model = make_study_pipeline("deep", weights=None, image_size=64, random_state=0)
    model.set_params(resnetfeaturizer__layer="fc")
    model.fit(X, y)
    with pytest.raises(ValueError, match="spatial layer"):
        activation_map(model, X, X.index[0], "AP")


# ------------------------------------------------------------------ forest


def test_shap_values_add_up_to_the_forest_probability(cohort, stack):
    pytest.importorskip("shap")
    X, _ = cohort
    radiomics = stack.named_estimators_["radiomics"]
    values = forest_shap_values(stack, X)
    proba = radiomics.predict_proba(X)[:, 1]
    np.testing.assert_allclose(
        values.sum(axis=1) + values.attrs["expected_value"], proba, atol=1e-10
    )
    forest = radiomics[-1]
    assert list(values.columns) == list(forest.feature_names_in_)
    assert values.index.equals(X.index)
    # the base value is the forest's mean prediction over its training data
    # (tree path dependent): between the class shares
    assert 0 < values.attrs["expected_value"] < 1


def test_shap_missing_points_to_permutation_importance(cohort, stack, monkeypatch):
    X, _ = cohort
    monkeypatch.setitem(sys.modules, "shap", None)
    with pytest.raises(ImportError, match="permutation_importances"):
        forest_shap_values(stack, X)


def test_permutation_importances_rank_the_forest_inputs(cohort, stack):
    X, y = cohort
    table = permutation_importances(stack, X, y, n_repeats=3, random_state=0)
    forest = stack.named_estimators_["radiomics"][-1]
    assert sorted(table.index) == sorted(forest.feature_names_in_)
    assert list(table.columns) == ["importance_mean", "importance_std"]
    assert table["importance_mean"].is_monotonic_decreasing
    assert (table["importance_std"] >= 0).all()
    again = permutation_importances(stack, X, y, n_repeats=3, random_state=0)
    pd.testing.assert_frame_equal(table, again)
    with pytest.raises(ValueError, match="no tree-ensemble branch"):
        permutation_importances(stack.named_estimators_["deep"], X, y)


# ----------------------------------------------------------------- display


def test_display_renders_headless(cohort, stack, tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    X, _ = cohort
    lesion = X.index[4]
    display = LesionExplanationDisplay.from_estimator(stack, X, lesion, top=6)
    assert set(display.axes_) == {*PHASES, "contributions", "probabilities"}
    assert [p.phase for p in display.panels] == list(PHASES)
    for panel in display.panels:
        assert panel.heat.shape == panel.image.shape == panel.mask.shape
        assert np.isfinite(panel.score)
    # the bars are the six largest terms of the radiomics score
    parts = radiomics_contributions(stack, X.loc[[lesion]]).iloc[0]
    largest = parts.abs().sort_values(ascending=False).index[:6]
    assert sorted(display.contributions.index) == sorted(largest)
    proba = stack.branch_predict_proba(X.loc[[lesion]]).iloc[0]
    pd.testing.assert_series_equal(display.probabilities, proba)
    assert len(display.axes_["contributions"].patches) == 6
    path = tmp_path / "lesion.png"
    display.figure_.savefig(path)
    assert path.stat().st_size > 10_000
    matplotlib.pyplot.close(display.figure_)


def test_display_without_a_deep_branch_shows_the_rois(cohort, stack):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    X, _ = cohort
    radiomics = stack.named_estimators_["radiomics"]
    display = LesionExplanationDisplay.from_estimator(
        radiomics, X, X.index[0], contributions="shap"
    )
    assert [p.phase for p in display.panels] == list(PHASES)
    assert all(p.heat is None for p in display.panels)
    assert display.contribution_label.startswith("SHAP")
    assert list(display.probabilities.index) == ["model"]
    matplotlib.pyplot.close(display.figure_)
    with pytest.raises(ValueError, match="contributions must be"):
        LesionExplanationDisplay.from_estimator(
            radiomics, X, X.index[0], contributions="lime"
        )


def test_maps_of_pydicom_ultrasound_files(cohort, deep_model, tmp_path):
    """Real files: a model fitted on the cohort's arrays explains lesions drawn
    on pydicom's ultrasound DICOMs (a YBR cine through its frame column, RGB,
    JPEG 2000, palette)."""
    pytest.importorskip("matplotlib")
    import matplotlib
    from PIL import Image
    from pydicom.data import get_testdata_file

    from ceusradiomics.io import read_image

    matplotlib.use("Agg")
    rows = {}
    for name in (
        "examples_ybr_color.dcm",
        "examples_rgb_color.dcm",
        "examples_jpeg2k.dcm",
        "examples_palette.dcm",
    ):
        source = get_testdata_file(name)
        cine = name == "examples_ybr_color.dcm"
        shape = read_image(source, frame=0 if cine else None).shape
        mask = np.zeros(shape, bool)
        mask[shape[0] // 3 : 2 * shape[0] // 3, shape[1] // 3 : 2 * shape[1] // 3] = 1
        mask_path = tmp_path / f"{name}.png"
        Image.fromarray(mask.astype(np.uint8) * 255).save(mask_path)
        row = {}
        for phase in PHASES:
            row[f"{phase}_image"] = source
            row[f"{phase}_mask"] = str(mask_path)
            row[f"{phase}_frame"] = 0 if cine else None
        rows[name] = (row, shape)
    X = pd.DataFrame({k: r for k, (r, _) in rows.items()}).T
    for name, (_, shape) in rows.items():
        heat = activation_map(deep_model, X, name, "AP")
        assert heat.shape == shape[:2]
        assert np.isfinite(heat).sum() > 0
        display = LesionExplanationDisplay.from_estimator(deep_model, X, name)
        assert len(display.panels) == 3
        matplotlib.pyplot.close(display.figure_)
