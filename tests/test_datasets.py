"""Tests of the bundled synthetic CEUS cohort (`ceusradiomics.datasets`)."""

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage, stats
from scipy.spatial import ConvexHull
from scipy.spatial.distance import pdist
from skimage.measure import perimeter
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ceusradiomics.datasets import make_ceus_cohort

PHASES = ("US", "AP", "PP")
COLUMNS = [
    "US_image",
    "US_mask",
    "AP_image",
    "AP_mask",
    "PP_image",
    "PP_mask",
    "US_mask_r2",
    "AP_mask_r2",
    "PP_mask_r2",
]


@pytest.fixture(scope="module")
def cohort():
    """The default cohort, built once for the module (a few seconds)."""
    return make_ceus_cohort()


def _ring(mask, inner, outer):
    """The band of pixels more than `inner`, at most `outer` px outside a mask."""
    distance = ndimage.distance_transform_edt(~mask)
    return (distance > inner) & (distance <= outer)


@pytest.fixture(scope="module")
def roi_stats(cohort):
    """Ten simple per-ROI statistics per lesion, plus the surrounding liver."""
    X, _, _ = cohort
    rows = []
    for _, rec in X.iterrows():
        mask = rec["US_mask"]
        row = {
            "area": mask.sum(),
            # 1 for a disc, larger for lobulated or rough margins.
            "irregularity": perimeter(mask) / (2 * np.sqrt(np.pi * mask.sum())),
        }
        for phase in PHASES:
            image, roi = rec[f"{phase}_image"].astype(float), rec[f"{phase}_mask"]
            row[f"{phase}_mean"] = image[roi].mean()
            row[f"{phase}_std"] = image[roi].std()
            row[f"{phase}_liver"] = image[_ring(roi, 4, 12)].mean()
        row["AP_minus_PP"] = row["AP_mean"] - row["PP_mean"]
        rows.append(row)
    return pd.DataFrame(rows, index=X.index)


def _dice(a, b):
    return 2.0 * np.sum(a & b) / (a.sum() + b.sum())


# --------------------------------------------------------------------------- layout


def test_records_frame_layout(cohort):
    X, y, clinical = cohort
    assert list(X.columns) == COLUMNS
    assert X.index.name == "lesion_id"
    assert X.index[0] == "L001" and X.index[-1] == "L172"
    assert X.index.is_unique
    assert y.index.equals(X.index) and clinical.index.equals(X.index)
    for column in COLUMNS[:6]:
        kind = column.split("_")[1]
        for cell in X[column]:
            assert isinstance(cell, np.ndarray)
            assert cell.shape == (256, 256)
            assert cell.dtype == (np.uint8 if kind == "image" else bool)


def test_lesion_ids_are_padded_to_the_width_of_n():
    X, y, _ = make_ceus_cohort(12, image_size=64, random_state=0)
    assert X.index.tolist() == [f"L{i:02d}" for i in range(1, 13)]
    assert y.index.equals(X.index)


def test_outcome_is_balanced_exactly_and_shuffled(cohort):
    _, y, _ = cohort
    assert y.name == "ER"
    assert y.dtype.kind == "i"
    assert set(np.unique(y)) == {0, 1}
    assert y.sum() == round(68 / 172 * 172) == 68
    # Random order, not 68 ones first.
    assert 0 < y.iloc[:68].sum() < 68


@pytest.mark.parametrize(("n", "fraction"), [(10, 0.5), (11, 0.3), (7, 0.2)])
def test_outcome_count_is_round_of_fraction(n, fraction):
    _, y, _ = make_ceus_cohort(n, er_fraction=fraction, image_size=64)
    assert y.sum() == round(fraction * n)


def test_masks_are_inside_the_frame(cohort):
    X, _, _ = cohort
    for column in [c for c in COLUMNS if "mask" in c]:
        for mask in X[column].dropna():
            rows, cols = np.nonzero(mask)
            assert rows.min() > 0 and cols.min() > 0
            assert rows.max() < 255 and cols.max() < 255


def test_same_lesion_in_the_three_phases(cohort):
    """Each phase shows the same outline, moved by at most 3 px (breathing)."""
    X, _, _ = cohort
    for _, rec in X.iterrows():
        us = rec["US_mask"]
        for phase in ("AP", "PP"):
            other = rec[f"{phase}_mask"]
            assert other.sum() == us.sum()
            shift = np.subtract(
                ndimage.center_of_mass(other), ndimage.center_of_mass(us)
            )
            assert np.all(np.abs(shift) <= 3 + 1e-9)
            # A whole-pixel translation, so the masks match exactly once undone.
            dy, dx = np.rint(shift).astype(int)
            np.testing.assert_array_equal(np.roll(us, (dy, dx), axis=(0, 1)), other)


def test_lesion_sizes(cohort):
    X, _, _ = cohort
    radius = np.sqrt(np.array([m.sum() for m in X["US_mask"]]) / np.pi)
    assert radius.min() >= 18 and radius.max() <= 85
    # Some ROIs hold an aligned 64 x 64 block (the coarsest wavelet scale).
    fits = [
        ndimage.distance_transform_cdt(m, metric="chessboard").max() >= 32
        for m in X["US_mask"]
    ]
    assert 0 < sum(fits) < len(fits)


# --------------------------------------------------------------------------- readers


def test_second_reader_subset(cohort):
    X, _, _ = cohort
    present = X[["US_mask_r2", "AP_mask_r2", "PP_mask_r2"]].notna()
    # The same lesions carry a second reading of all three phases.
    assert (present.nunique(axis=1) == 1).all()
    assert present["US_mask_r2"].sum() == round(0.3 * 172)
    assert X.loc[~present["US_mask_r2"], "US_mask_r2"].map(lambda v: v is None).all()


@pytest.mark.parametrize(
    ("n", "fraction", "expected"),
    [(5, 0.1, 3), (2, 0.1, 2), (10, 0.0, 0), (4, 1.0, 4), (20, 0.5, 10)],
)
def test_second_reader_count(n, fraction, expected):
    X, _, _ = make_ceus_cohort(
        n, er_fraction=0.5, image_size=64, second_reader_fraction=fraction
    )
    assert X["AP_mask_r2"].notna().sum() == expected
    assert list(X.columns) == COLUMNS


def test_second_reader_redraws_the_outline(cohort):
    X, _, _ = cohort
    dice = []
    for _, rec in X[X["US_mask_r2"].notna()].iterrows():
        for phase in PHASES:
            primary, second = rec[f"{phase}_mask"], rec[f"{phase}_mask_r2"]
            assert second.dtype == bool and second.shape == primary.shape
            assert not np.array_equal(primary, second)
            dice.append(_dice(primary, second))
    assert min(dice) >= 0.8 and max(dice) <= 0.99
    # Readers differ at the margin only: each second outline lies within a
    # few pixels of the primary one.
    for _, rec in X[X["US_mask_r2"].notna()].iterrows():
        primary, second = rec["US_mask"], rec["US_mask_r2"]
        band = ndimage.binary_dilation(primary, iterations=8)
        core = ndimage.binary_erosion(primary, iterations=8)
        assert np.all(band[second]) and np.all(second[core])


# --------------------------------------------------------------------------- images


def test_enhancement_pattern(roi_stats):
    s = roi_stats
    # Arterial hyper-enhancement: the ROI is brighter than the liver around it.
    assert (s["AP_mean"] > s["AP_liver"]).mean() > 0.95
    # Portal wash-out: the ROI is darker in PP than in AP, and than the liver.
    assert s["AP_minus_PP"].mean() > 10
    assert (s["AP_minus_PP"] > 0).mean() > 0.65
    assert (s["PP_mean"] < s["PP_liver"]).mean() > 0.7
    # Hypo- to iso-echoic on grey-scale US.
    assert (s["US_mean"] - s["US_liver"]).mean() < 0


def test_speckle_is_elongated_laterally(cohort):
    """Speckle grains are wider than deep: the lateral (column) correlation
    at a 2-pixel lag exceeds the axial (row) one, both well below 1."""
    X, _, _ = cohort
    for lesion in X.index[:10]:
        image = X.loc[lesion, "US_image"].astype(float)
        # A liver patch below the top of the sector and away from the lesion.
        liver = ~ndimage.binary_dilation(X.loc[lesion, "US_mask"], iterations=10)
        liver[:90] = False
        valid_ax = liver[:-2] & liver[2:]
        valid_lat = liver[:, :-2] & liver[:, 2:]
        axial = np.corrcoef(image[:-2][valid_ax], image[2:][valid_ax])[0, 1]
        lateral = np.corrcoef(image[:, :-2][valid_lat], image[:, 2:][valid_lat])[0, 1]
        assert 0 < axial < lateral < 0.9
        # Log-compressed fully developed speckle: a few tens of grey levels.
        assert 10 < image[liver].std() < 40


def test_sector_outside_is_black(cohort):
    X, _, _ = cohort
    for phase in PHASES:
        image = X.iloc[0][f"{phase}_image"]
        assert image[0, 0] == 0 and image[0, -1] == 0
        assert image[200:, 100:156].mean() > 40


# --------------------------------------------------------------------------- signal


def test_outcome_signal_is_real_but_imperfect(cohort, roi_stats):
    _, y, _ = cohort
    features = roi_stats.drop(columns=[c for c in roi_stats if c.endswith("_liver")])
    assert features.shape[1] == 9
    model = make_pipeline(StandardScaler(), LogisticRegression())
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    proba = cross_val_predict(model, features, y, cv=cv, method="predict_proba")
    auc = roc_auc_score(y, proba[:, 1])
    assert 0.70 < auc < 0.95

    area = features["area"]
    assert stats.mannwhitneyu(area[y == 1], area[y == 0]).pvalue < 0.01
    assert roc_auc_score(y, area) > 0.6  # ER lesions are larger
    for name, values in features.items():
        single = roc_auc_score(y, values)
        assert max(single, 1 - single) < 0.9, name
    # The other designed effects point the right way.
    assert roc_auc_score(y, features["irregularity"]) > 0.6
    assert roc_auc_score(y, features["AP_std"]) > 0.6
    assert roc_auc_score(y, features["PP_mean"]) < 0.4  # stronger wash-out


# --------------------------------------------------------------------------- clinical


def test_clinical_frame(cohort):
    _, y, clinical = cohort
    assert list(clinical.columns) == [
        "age",
        "sex",
        "size_cm",
        "size_group",
        "hepatitis",
        "cirrhosis",
        "afp_group",
    ]
    assert clinical["age"].dtype == float and clinical["size_cm"].dtype == float
    assert clinical["age"].between(18, 85).all()
    assert 44 < clinical["age"].mean() < 56 and 9 < clinical["age"].std() < 17
    categories = {
        "sex": ["F", "M"],
        "size_group": ["<5", ">=5"],
        "hepatitis": ["negative", "positive"],
        "cirrhosis": ["negative", "positive"],
        "afp_group": ["<20", "20-400", ">400"],
    }
    for column, expected in categories.items():
        assert clinical[column].cat.categories.tolist() == expected
        assert clinical[column].notna().all()
        assert set(clinical[column]) == set(expected)
    assert clinical["size_group"].cat.ordered and clinical["afp_group"].cat.ordered
    # Table 1 of the study: 85% men, 94% hepatitis, 75% cirrhosis, half >= 5 cm.
    assert 0.75 < (clinical["sex"] == "M").mean() < 0.95
    assert 0.85 < (clinical["hepatitis"] == "positive").mean() <= 1
    assert 0.6 < (clinical["cirrhosis"] == "positive").mean() < 0.9
    assert 0.3 < (clinical["size_group"] == ">=5").mean() < 0.7
    np.testing.assert_array_equal(
        clinical["size_group"] == ">=5", clinical["size_cm"] >= 5
    )
    # AFP > 400 ng/ml is more frequent with early recurrence.
    high_afp = clinical["afp_group"] == ">400"
    assert high_afp[y == 1].mean() > high_afp[y == 0].mean()


def test_size_cm_is_the_lesion_diameter_in_the_image(cohort):
    """size_cm is the maximum diameter of the US outline at 0.05 cm/pixel."""
    X, _, clinical = cohort
    for lesion in X.index[:20]:
        points = np.argwhere(X.loc[lesion, "US_mask"]).astype(float)
        hull = points[ConvexHull(points).vertices]
        # Pixel centres sit up to half a pixel inside the true outline.
        diameter_px = pdist(hull).max() + 1.0
        assert clinical.loc[lesion, "size_cm"] == pytest.approx(
            diameter_px * 0.05, abs=0.12
        )


# --------------------------------------------------------------------------- randomness


def _assert_cohorts_equal(a, b):
    Xa, ya, ca = a
    Xb, yb, cb = b
    pd.testing.assert_series_equal(ya, yb)
    pd.testing.assert_frame_equal(ca, cb)
    assert Xa.index.equals(Xb.index)
    for column in COLUMNS:
        for u, v in zip(Xa[column], Xb[column], strict=True):
            if u is None or v is None:
                assert u is None and v is None
            else:
                np.testing.assert_array_equal(u, v)


def test_same_seed_same_cohort():
    kwargs = dict(image_size=64, second_reader_fraction=0.5)
    _assert_cohorts_equal(
        make_ceus_cohort(6, random_state=3, **kwargs),
        make_ceus_cohort(6, random_state=3, **kwargs),
    )
    _assert_cohorts_equal(
        make_ceus_cohort(6, random_state=np.random.default_rng(5), **kwargs),
        make_ceus_cohort(6, random_state=np.random.default_rng(5), **kwargs),
    )


def test_different_seed_different_cohort():
    Xa, _, _ = make_ceus_cohort(4, image_size=64, random_state=0)
    Xb, _, _ = make_ceus_cohort(4, image_size=64, random_state=1)
    for column in ("US_image", "AP_mask"):
        assert not any(
            np.array_equal(u, v) for u, v in zip(Xa[column], Xb[column], strict=True)
        )
    # None draws fresh entropy.
    Xc, _, _ = make_ceus_cohort(2, image_size=64, random_state=None)
    Xd, _, _ = make_ceus_cohort(2, image_size=64, random_state=None)
    assert not np.array_equal(Xc.iloc[0]["US_image"], Xd.iloc[0]["US_image"])


def test_lesion_does_not_depend_on_cohort_size():
    """Lesion i's random stream depends on (random_state, i) only; its label
    comes from the cohort, so lesions with the same label are identical."""
    small = make_ceus_cohort(8, er_fraction=0.5, image_size=64, random_state=7)
    large = make_ceus_cohort(12, er_fraction=0.5, image_size=64, random_state=7)
    same_label = np.flatnonzero(small[1].to_numpy() == large[1].to_numpy()[:8])
    assert same_label.size > 0
    for i in same_label:
        for column in ("US_image", "AP_image", "PP_mask"):
            np.testing.assert_array_equal(
                small[0].iloc[i][column], large[0].iloc[i][column]
            )
        pd.testing.assert_series_equal(
            small[2].iloc[i], large[2].iloc[i], check_names=False
        )


@pytest.mark.parametrize("image_size", [64, 100])
def test_other_image_sizes(image_size):
    X, _, clinical = make_ceus_cohort(
        3, er_fraction=0.5, image_size=image_size, random_state=2
    )
    for column in COLUMNS[:6]:
        for cell in X[column]:
            assert cell.shape == (image_size, image_size)
    for _, rec in X.iterrows():
        assert (
            rec["AP_image"][rec["AP_mask"]].mean()
            > rec["PP_image"][rec["PP_mask"]].mean() - 20
        )
    assert clinical["size_cm"].between(1.5, 11).all()


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_lesions": 1}, ValueError, r"n_lesions must be an int >= 2; got 1"),
        ({"n_lesions": 10.0}, TypeError, r"n_lesions must be an int >= 2; got 10.0"),
        ({"n_lesions": True}, TypeError, r"n_lesions must be an int"),
        ({"image_size": 32}, ValueError, r"image_size must be an int >= 64; got 32"),
        ({"image_size": "256"}, TypeError, r"image_size must be an int >= 64"),
        ({"er_fraction": 0.0}, ValueError, r"er_fraction must be in the open"),
        ({"er_fraction": 1.5}, ValueError, r"er_fraction must be in the open"),
        ({"er_fraction": "0.4"}, TypeError, r"er_fraction must be a float"),
        (
            {"n_lesions": 4, "er_fraction": 0.1},
            ValueError,
            r"er_fraction=0.1 gives 0 ER lesions out of n_lesions=4; both classes",
        ),
        (
            {"n_lesions": 4, "er_fraction": 0.9},
            ValueError,
            r"gives 4 ER lesions out of n_lesions=4",
        ),
        (
            {"second_reader_fraction": -0.1},
            ValueError,
            r"second_reader_fraction must be in \[0, 1\]; got -0.1",
        ),
        (
            {"second_reader_fraction": 1.2},
            ValueError,
            r"second_reader_fraction must be in \[0, 1\]; got 1.2",
        ),
        ({"random_state": -1}, ValueError, r"random_state must be a non-negative"),
        ({"random_state": "seed"}, TypeError, r"random_state must be an int, a numpy"),
    ],
)
def test_parameter_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_ceus_cohort(**{"image_size": 64, **kwargs})
