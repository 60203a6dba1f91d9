"""TextureExtractor: the records frame -> named MaZda feature table."""

import pickle

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from ceusradiomics import TextureExtractor, clear_feature_cache
from ceusradiomics.datasets import make_ceus_cohort
from ceusradiomics.exceptions import DegenerateROIWarning, ROIError
from ceusradiomics.texture import texture_feature_names, texture_features

FAST = {"families": ("hist", "grad", "glcm"), "distances": (1, 2)}


@pytest.fixture(scope="module")
def cohort():
    X, y, _ = make_ceus_cohort(n_lesions=12, image_size=96, random_state=3)
    return X, y


def test_default_feature_set_is_mazda_2d():
    names = texture_feature_names()
    # 9 + 5 + 20 + 220 + 5 + 4 * 6 (the study's model uses WavEnHL_s-6)
    assert len(names) == 283
    assert len(set(names)) == len(names)
    for name in [
        "Mean",
        "Perc.01%",
        "GrSkewness",
        "135dr_GLevNonU",
        "Horzl_ShrtREmp",
        "S(1,0)Correlat",
        "S(5,-5)DifEntrp",
        "Teta2",
        "Sigma",
        "WavEnHL_s-6",
    ]:
        assert name in names


def test_columns_follow_phase_and_reader_naming(cohort):
    X, _ = cohort
    ext = TextureExtractor(readers="all", **FAST).fit(X)
    base = texture_feature_names(FAST["families"], distances=FAST["distances"])
    names = ext.get_feature_names_out()
    assert ext.phases_ == ("US", "AP", "PP")
    assert ext.readers_ == {"US": ("r2",), "AP": ("r2",), "PP": ("r2",)}
    assert len(names) == 6 * len(base)
    assert names[0] == "US_Mean"
    assert f"AP_{base[3]}" in names
    assert f"PP_{base[-1]}@r2" == names[-1]
    assert TextureExtractor(**FAST).fit(X).n_features_out_ == 3 * len(base)


def test_values_equal_the_pure_function_and_readers(cohort):
    X, _ = cohort
    out = TextureExtractor(readers="all", **FAST).fit_transform(X)
    assert isinstance(out, pd.DataFrame)
    assert out.index.equals(X.index)
    lesion = X.index[1]
    expected = texture_features(
        X.loc[lesion, "AP_image"], X.loc[lesion, "AP_mask"], **FAST
    )
    got = out.loc[lesion, [f"AP_{n}" for n in expected]].to_numpy(float)
    np.testing.assert_array_equal(got, np.array(list(expected.values())))

    has_r2 = X["US_mask_r2"].map(lambda m: m is not None)
    assert has_r2.any() and not has_r2.all()
    r2_cols = [c for c in out.columns if c.endswith("@r2")]
    assert out.loc[~has_r2, r2_cols].isna().all().all()
    second = X.index[has_r2.to_numpy()][0]
    expected = texture_features(
        X.loc[second, "PP_image"], X.loc[second, "PP_mask_r2"], **FAST
    )
    got = out.loc[second, [f"PP_{n}@r2" for n in expected]].to_numpy(float)
    np.testing.assert_array_equal(got, np.array(list(expected.values())))


def test_n_jobs_does_not_change_the_result(cohort):
    X, _ = cohort
    serial = TextureExtractor(**FAST).fit_transform(X)
    parallel = TextureExtractor(n_jobs=2, **FAST).fit_transform(X)
    pd.testing.assert_frame_equal(serial, parallel)


def test_small_batches_and_n_jobs_give_every_roi_its_row(cohort):
    # ROIs travel to the workers in batches; a cohort whose ROI count is not a
    # multiple of the batch size must still fill every row, in order.
    X, _ = cohort
    sub = X.iloc[:7]
    serial = TextureExtractor(n_jobs=1, cache=False).fit_transform(sub)
    parallel = TextureExtractor(n_jobs=2, cache=False).fit_transform(sub)
    pd.testing.assert_frame_equal(serial, parallel)
    for lesion in sub.index[[0, 3, 6]]:
        image, mask = sub.loc[lesion, "US_image"], sub.loc[lesion, "US_mask"]
        expected = texture_features(image, mask)
        assert serial.loc[lesion, "US_Mean"] == expected["Mean"]
        assert serial.loc[lesion, "US_S(2,2)Entropy"] == expected["S(2,2)Entropy"]


def test_progress_bar_only_when_rois_are_computed(cohort, capsys):
    X, _ = cohort
    clear_feature_cache("texture")
    extractor = TextureExtractor(phases=("US",), verbose=True).fit(X.iloc[:3])
    extractor.transform(X.iloc[:3])
    assert "texture" in capsys.readouterr().err
    extractor.transform(X.iloc[:3])  # every ROI from the cache: no bar
    assert "texture" not in capsys.readouterr().err


def test_set_output_pandas_keeps_lesion_index(cohort):
    X, _ = cohort
    out = TextureExtractor(**FAST).set_output(transform="pandas").fit_transform(X)
    assert out.index.equals(X.index)
    assert list(out.columns) == list(TextureExtractor(**FAST).fit(X).feature_names_out_)


def test_transform_without_fit_is_allowed_but_names_need_fit(cohort):
    X, _ = cohort
    ext = TextureExtractor(phases=("US",), families="hist")
    out = ext.transform(X)
    assert out.shape == (len(X), 9)
    with pytest.raises(NotFittedError, match="call 'fit'"):
        ext.get_feature_names_out()


def test_clone_and_pickle(cohort):
    X, _ = cohort
    ext = TextureExtractor(phases=("AP",), **FAST).fit(X)
    restored = pickle.loads(pickle.dumps(ext))
    pd.testing.assert_frame_equal(restored.transform(X), ext.transform(X))
    assert not hasattr(clone(ext), "feature_names_out_")


def test_paths_give_the_same_values_as_arrays(cohort, tmp_path):
    X, _ = cohort
    X = X.iloc[:3]
    records = {}
    for lesion in X.index:
        row = {}
        for phase in ("US", "AP", "PP"):
            image_path = tmp_path / f"{lesion}_{phase}.png"
            mask_path = tmp_path / f"{lesion}_{phase}_mask.png"
            Image.fromarray(X.loc[lesion, f"{phase}_image"]).save(image_path)
            Image.fromarray(X.loc[lesion, f"{phase}_mask"].astype(np.uint8) * 255).save(
                mask_path
            )
            row[f"{phase}_image"] = str(image_path)
            row[f"{phase}_mask"] = str(mask_path)
        records[lesion] = row
    paths = pd.DataFrame.from_dict(records, orient="index")
    from_paths = TextureExtractor(**FAST).fit_transform(paths)
    from_arrays = TextureExtractor(**FAST).fit_transform(X)
    np.testing.assert_array_equal(from_paths.to_numpy(), from_arrays.to_numpy())


def test_cache_computes_each_roi_once_across_clones(cohort, monkeypatch):
    X, _ = cohort
    clear_feature_cache("texture")
    calls = []
    original = TextureExtractor._compute
    monkeypatch.setattr(
        TextureExtractor,
        "_compute",
        staticmethod(lambda *a: calls.append(1) or original(*a)),
    )
    ext = TextureExtractor(phases=("US",), **FAST)
    first = ext.fit_transform(X)
    assert len(calls) == len(X)
    second = clone(ext).fit_transform(X)
    assert len(calls) == len(X)  # every ROI came from the cache
    pd.testing.assert_frame_equal(first, second)
    uncached = TextureExtractor(phases=("US",), cache=False, **FAST).fit_transform(X)
    assert len(calls) == 2 * len(X)
    pd.testing.assert_frame_equal(first, uncached)
    # Other settings are other keys.
    TextureExtractor(phases=("US",), normalization="minmax", **FAST).fit_transform(X)
    assert len(calls) == 3 * len(X)


def test_degenerate_roi_warning_names_the_lesion():
    image = np.full((32, 32), 100, np.uint8)
    mask = np.zeros((32, 32), bool)
    mask[4:20, 4:20] = True
    X = pd.DataFrame(
        {"US_image": [image], "US_mask": [mask]},
        index=pd.Index(["P017"], name="lesion_id"),
    )
    with pytest.warns(DegenerateROIWarning, match="lesion 'P017', column 'US_mask'"):
        out = TextureExtractor(families=("hist",)).fit_transform(X)
    assert out.loc["P017", "US_Mean"] == 100
    assert np.isnan(out.loc["P017", "US_Skewness"])


def test_invalid_input_errors_name_the_lesion(cohort):
    X, _ = cohort
    with pytest.raises(TypeError, match="records DataFrame"):
        TextureExtractor().fit(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="DP"):
        TextureExtractor(phases=("DP",)).fit(X)
    broken = X.iloc[:2].copy()
    lesion = broken.index[1]
    broken.at[lesion, "AP_mask"] = np.zeros_like(broken.iloc[1]["AP_mask"])
    with pytest.raises(
        ROIError,
        match=rf"^lesion '{lesion}', column 'AP_mask': mask must contain at least "
        r"one ROI pixel \(nonzero\): the mask is empty",
    ) as info:
        TextureExtractor(**FAST).fit_transform(broken)
    assert info.value.lesion == lesion
    assert info.value.column == "AP_mask"
    assert info.value.path is None
    broken.at[lesion, "AP_mask"] = np.ones((5, 5), bool)
    with pytest.raises(
        ROIError,
        match=rf"^lesion '{lesion}', column 'AP_mask': mask must have the same shape "
        r"as image; got image \(96, 96\) and mask \(5, 5\)",
    ) as info:
        TextureExtractor(**FAST).fit_transform(broken)
    assert info.value.lesion == lesion
    assert info.value.column == "AP_mask"


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"normalization": "zscore"}, InvalidParameterError, "normalization"),
        ({"readers": "second"}, InvalidParameterError, "readers"),
        ({"families": ("hist", "lbp")}, ValueError, "unknown: \\['lbp'\\]"),
        ({"bits": {"glcm": 6, "gabor": 4}}, ValueError, "gabor"),
        ({"bits": {"glcm": 0}}, ValueError, "between 1 and 16"),
        ({"distances": (1, 0)}, ValueError, "positive integers"),
        ({"wavelet_scales": (3, 2)}, ValueError, "strictly increasing"),
    ],
)
def test_parameter_errors(cohort, params, error, match):
    X, _ = cohort
    with pytest.raises(error, match=match):
        TextureExtractor(**params).fit(X)
