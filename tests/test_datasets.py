"""Tests of the bundled synthetic CEUS cohort (`ceusradiomics.datasets`)."""

import hashlib
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage, special, stats
from scipy.spatial import ConvexHull
from scipy.spatial.distance import pdist
from skimage.measure import perimeter
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ceusradiomics import TextureExtractor, clear_feature_cache
from ceusradiomics.datasets import (
    _AFP_PROBS,
    _CINE_MODEL,
    _NECROSIS_PROBS,
    _SIZE_MODEL,
    _TEXTURE_MODEL,
    _category_probs,
    _CineScanner,
    _draw_clinical,
    _Effects,
    _gaussian_llr,
    _Lesion,
    _log_likelihood_ratios,
    make_ceus_cohort,
)

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
def cohort_and_risk():
    """The default cohort and its true risk, built once (a few seconds)."""
    return make_ceus_cohort(return_risk=True)


@pytest.fixture(scope="module")
def cohort(cohort_and_risk):
    """The default cohort (X, y, clinical)."""
    return cohort_and_risk[:3]


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


# --------------------------------------------------------------------------- pinned


def _cohort_sha256(result):
    """SHA-256 of a cohort's values: every array's bytes, y, clinical, truth."""
    X, y, clinical, *rest = result
    digest = hashlib.sha256()
    digest.update(repr((list(X.columns), list(X.index))).encode())
    for column in X.columns:
        for cell in X[column]:
            arrays = (
                () if cell is None else cell if isinstance(cell, tuple) else (cell,)
            )
            digest.update(repr([(a.dtype.str, a.shape) for a in arrays]).encode())
            for a in arrays:
                digest.update(np.ascontiguousarray(a).tobytes())
    digest.update(repr((y.name, y.dtype.str)).encode())
    digest.update(y.to_numpy().tobytes())
    for name, values in clinical.items():
        if isinstance(values.dtype, pd.CategoricalDtype):
            digest.update(repr((name, list(values.cat.categories))).encode())
            digest.update(values.cat.codes.to_numpy().tobytes())
        else:
            digest.update(repr((name, values.dtype.str)).encode())
            digest.update(values.to_numpy().tobytes())
    for frame in rest:
        digest.update(repr(list(frame.columns)).encode())
        digest.update(np.ascontiguousarray(frame.to_numpy(np.float64)).tobytes())
    return digest.hexdigest()


# Recorded on the cohort before the effect parameters existed (issue 15): the
# default effects must reproduce it bit for bit.
SMALL = dict(
    image_size=64, second_reader_fraction=0.5, cine_duration=60.0, cine_size=32
)
PINNED_SHA256 = {
    0: "23c3717ed6454614e44d4dbdf164fb9e3f8a330c26b99fdeeaa7e1a6ea7fc31b",
    1: "9b1722dbd2dafa0227f789089cc4209b00931b0af1cdae79a58192eff9c84b9d",
}
DEFAULT_SHA256 = "c4467bb739d4e984bce005cdeff964610f5f60a6020f8edd17a278d775c5cd09"

# The cine's frames are log-compressed speckle rounded to grey levels, and its
# ground truth comes from float curves: their last bits follow the CPU's SIMD
# kernels (numpy's on AVX-512 and on AVX2 round some products differently),
# so a frame pixel can round to the next grey level and a hash of the bytes is
# not portable (it was recorded on an AVX-512 machine and failed on an AVX2
# one). They are pinned by fingerprints instead, recorded on the same
# cohort, that any change of the generator moves by far more than the
# tolerance: per lesion the sum of its frames' grey levels and that sum
# weighted by the frame index (a few pixels one level off move them by a few
# units), the ROI and reference pixel counts, and the ground truth's column
# sums (to 1e-9).
# fmt: off
PINNED_CINE = {
    0: {
        "frame_sums": [5972249, 5656324, 5568804, 6458646, 5537449, 5714969],
        "weighted_sums": [
            214379200, 202487398, 199035441, 225461131, 195677973, 205151439
        ],
        "roi_pixels": [222, 182, 119, 99, 76, 35],
        "reference_pixels": [312, 253, 164, 146, 108, 67],
    },
    1: {
        "frame_sums": [5817161, 5653047, 5712338, 4852271, 6015032, 5495390],
        "weighted_sums": [
            202528136, 203453955, 201166347, 173900403, 211218584, 196730723
        ],
        "roi_pixels": [110, 130, 136, 45, 31, 164],
        "reference_pixels": [155, 183, 195, 72, 64, 230],
    },
}
PINNED_CINE_TRUTH_SUMS = {
    0: [
        0.0437285513694, 147.247593022, 52.8856110337, 126.410521847,
        0.223277381412, 0.0103920114374, 0.0290320914702, -0.00257907628726,
        0.554155579996, 0.777432961409, 149.610393256, 162.610207461,
        6.16315384068e-05, 0.928993582542, 16.837063328, 4.21878781187,
        82.4828651327, 0.000118980021781, 0.835948078578, 25.1181232344,
        6.09615960552, 114.608607688,
    ],
    1: [
        0.0330918178673, 149.080016885, 54.4829341555, 160.716743812,
        0.204831390209, 0.00652427545891, 0.0224331211979, -0.00132890295746,
        0.578108860944, 0.782940251153, 175.536310275, 151.631984329,
        8.6197924335e-05, 0.982953640585, 17.8508303212, 4.74238755195,
        85.435232741, 0.000118980021781, 0.546813936939, 24.8183472292,
        5.94941076351, 115.588318081,
    ],
}
# fmt: on


def _cine_fingerprint(X):
    frames = np.stack([frames for frames, _ in X["CEUS_cine"]]).astype(np.int64)
    index = np.arange(frames.shape[1])[:, None, None]
    return {
        "frame_sums": frames.sum(axis=(1, 2, 3)),
        "weighted_sums": (frames * index).sum(axis=(1, 2, 3)),
        "roi_pixels": np.array([m.sum() for m in X["CEUS_mask"]]),
        "reference_pixels": np.array([m.sum() for m in X["CEUS_reference_mask"]]),
    }


CINE_COLUMNS = ["CEUS_cine", "CEUS_mask", "CEUS_reference_mask"]


@pytest.mark.parametrize("seed", list(PINNED_SHA256))
def test_default_effects_reproduce_the_pinned_cohort(seed):
    result = make_ceus_cohort(6, random_state=seed, **SMALL)
    assert _cohort_sha256(result) == PINNED_SHA256[seed]
    # The defaults spelled out, and the risk asked for, change nothing.
    explicit = make_ceus_cohort(
        6,
        random_state=seed,
        size_effect=1.0,
        clinical_effect=1,
        texture_effect=1.0,
        return_risk=True,
        **SMALL,
    )
    assert _cohort_sha256(explicit[:-1]) == PINNED_SHA256[seed]


@pytest.mark.parametrize("seed", list(PINNED_CINE))
def test_default_effects_reproduce_the_pinned_cine(seed):
    X, y, clinical, truth = make_ceus_cohort(6, random_state=seed, cine=True, **SMALL)
    # The cine draws from streams of its own: the rest is the pinned cohort.
    rest = (X.drop(columns=CINE_COLUMNS), y, clinical)
    assert _cohort_sha256(rest) == PINNED_SHA256[seed]
    frames, times = X["CEUS_cine"].iloc[0]
    assert frames.dtype == np.uint8 and frames.shape == (61, 32, 32)
    np.testing.assert_array_equal(times, np.arange(61.0))
    fingerprint = _cine_fingerprint(X)
    for name, pinned in PINNED_CINE[seed].items():
        # a few pixels one grey level (or one ROI edge pixel) off, at most
        atol = {"weighted_sums": 16 * 60, "frame_sums": 16}.get(name, 2)
        np.testing.assert_allclose(fingerprint[name], pinned, rtol=0, atol=atol)
    np.testing.assert_allclose(
        truth.sum(axis=0), PINNED_CINE_TRUTH_SUMS[seed], rtol=1e-9, atol=1e-15
    )
    # The defaults spelled out change nothing, bit for bit on one machine.
    explicit = make_ceus_cohort(
        6,
        random_state=seed,
        cine=True,
        size_effect=1.0,
        clinical_effect=1,
        texture_effect=1.0,
        **SMALL,
    )
    assert _cohort_sha256(explicit) == _cohort_sha256((X, y, clinical, truth))


def test_default_cohort_is_pinned(cohort):
    assert _cohort_sha256(cohort) == DEFAULT_SHA256


# --------------------------------------------------------------------------- effects


def _lesion_pair(seed, effects, scale=0.25):
    """The same lesion stream drawn with ER = 0 and with ER = 1."""
    return tuple(
        _Lesion(np.random.default_rng(seed), er, scale, "positive", effects)
        for er in (0, 1)
    )


NOT_SIZE = (
    "irregularity",
    "heterogeneity_db",
    "washout_db",
    "enhancement_db",
    "echogenicity_db",
    "gain_db",
    "necrotic",
    "halo",
    "orientation",
    "harm_amp",
    "harm_phase",
    "shifts",
    "vessels",
)
SIZE = ("semi_axes", "r_max", "feret_diameter", "center")


def _same(a, b, names):
    return all(
        np.array_equal(getattr(a, n), getattr(b, n))
        if isinstance(getattr(a, n), np.ndarray)
        else getattr(a, n) == getattr(b, n)
        for n in names
    )


def test_texture_effect_zero_leaves_only_size_depending_on_er():
    """ "Imaging adds nothing": with texture_effect=0, flipping a lesion's label
    changes its size and nothing else, in the still images and in the cine
    curve; with the default effect the texture attributes do change."""
    scanner = _CineScanner(32, 1.0, 61)
    changed = 0
    for seed in range(200):
        no_er, er = _lesion_pair(seed, _Effects(texture=0.0))
        assert _same(no_er, er, NOT_SIZE)
        assert no_er.latent["log_radius"] < er.latent["log_radius"]
        curves = [
            scanner._curves(lesion, label, np.random.default_rng(seed), 0.0)
            for lesion, label in ((no_er, 0), (er, 1))
        ]
        assert curves[0] == curves[1]
        default = _lesion_pair(seed, _Effects())
        changed += not _same(*default, ("irregularity", "washout_db", "necrotic"))
    assert changed == 200


def test_size_effect_zero_leaves_the_size_independent_of_er():
    for seed in range(200):
        no_er, er = _lesion_pair(seed, _Effects(size=0.0, texture=0.0))
        assert _same(no_er, er, NOT_SIZE + SIZE)
        no_er, er = _lesion_pair(seed, _Effects(size=0.0))
        assert no_er.latent["log_radius"] == er.latent["log_radius"]
        assert no_er.semi_axes == er.semi_axes
        assert no_er.latent["irregularity"] < er.latent["irregularity"]


def test_zero_effects_make_the_data_independent_of_the_labels():
    """With the three effects at 0 the labels can be anything: two cohorts of
    the same seed with other labels have the same images, cine loops, clinical
    table and curve truth, and no lesion has a risk other than the prior."""
    zero = dict(size_effect=0.0, clinical_effect=0.0, texture_effect=0.0)
    kwargs = dict(random_state=4, cine=True, return_risk=True, **SMALL, **zero)
    few = make_ceus_cohort(8, er_fraction=0.25, **kwargs)
    many = make_ceus_cohort(8, er_fraction=0.75, **kwargs)
    assert not few[1].equals(many[1])
    assert _cohort_sha256((few[0], many[1], *few[2:4])) == _cohort_sha256(many[:4])
    for risk, prior in ((few[-1], 0.25), (many[-1], 0.75)):
        np.testing.assert_array_equal(risk.filter(like="logit_").iloc[:, 1:], 0.0)
        np.testing.assert_allclose(risk["risk"], prior, rtol=1e-15)
    # The clinical effect alone moves the AFP group only.
    afp = make_ceus_cohort(8, er_fraction=0.75, **{**kwargs, "clinical_effect": 3.0})
    assert _cohort_sha256(afp[:1] + many[1:2] + afp[3:4]) == _cohort_sha256(
        many[:1] + many[1:2] + many[3:4]
    )
    pd.testing.assert_frame_equal(
        afp[2].drop(columns="afp_group"), many[2].drop(columns="afp_group")
    )


def test_category_probs_scale_the_log_odds_ratios():
    p0, p1 = np.array(_AFP_PROBS[0]), np.array(_AFP_PROBS[1])
    np.testing.assert_array_equal(_category_probs(_AFP_PROBS, 0, 5.0), p0)
    np.testing.assert_array_equal(_category_probs(_AFP_PROBS, 1, 1.0), p1)
    np.testing.assert_allclose(_category_probs(_AFP_PROBS, 1, 0.0), p0, rtol=1e-15)
    for effect in (0.5, 2.0, -1.0):
        p = _category_probs(_AFP_PROBS, 1, effect)
        assert p.sum() == pytest.approx(1.0, abs=1e-15)
        log_or = np.log(p / p[0]) - np.log(p0 / p0[0])
        np.testing.assert_allclose(
            log_or, effect * (np.log(p1 / p1[0]) - np.log(p0 / p0[0])), atol=1e-12
        )
    assert _category_probs(_NECROSIS_PROBS, 1, 1.0)[0] == 0.1 + 0.25


def test_gaussian_log_likelihood_ratio():
    """Inside the clip bounds the ratio of two Gaussian densities; at a bound
    (censored) the ratio of their tail masses beyond it."""
    model = _TEXTURE_MODEL["heterogeneity_db"]
    for effect in (1.0, 2.5):
        mean1 = model.mean + model.shift * effect
        for x in (1.0, 3.0, 6.5):
            expected = stats.norm.logpdf(x, mean1, model.sd) - stats.norm.logpdf(
                x, model.mean, model.sd
            )
            assert _gaussian_llr(model, x, effect) == pytest.approx(expected, rel=1e-12)
        below = stats.norm.logcdf(0.5, mean1, model.sd) - stats.norm.logcdf(
            0.5, model.mean, model.sd
        )
        above = stats.norm.logsf(7.0, mean1, model.sd) - stats.norm.logsf(
            7.0, model.mean, model.sd
        )
        assert _gaussian_llr(model, 0.2, effect) == pytest.approx(below, rel=1e-12)
        assert _gaussian_llr(model, 9.0, effect) == pytest.approx(above, rel=1e-12)
    assert _gaussian_llr(model, 9.0, 0.0) == 0.0
    assert _gaussian_llr(model, 3.0, 0.0) == 0.0


# --------------------------------------------------------------------------- risk


def test_risk_frame(cohort_and_risk):
    X, y, _, risk = cohort_and_risk
    assert risk.index.equals(X.index)
    assert list(risk.columns) == [
        "risk",
        "logit_prior",
        "logit_size",
        "logit_clinical",
        "logit_texture",
    ]
    assert risk["risk"].between(0, 1, inclusive="neither").all()
    np.testing.assert_allclose(risk["logit_prior"], np.log(68 / 104), rtol=1e-15)
    # Bayes' rule: the parts add up to the log odds of the risk.
    np.testing.assert_allclose(
        special.logit(risk["risk"]), risk.filter(like="logit_").sum(axis=1), atol=1e-12
    )
    # A posterior averages to the prior, and is higher for the ER lesions.
    assert risk["risk"].mean() == pytest.approx(68 / 172, abs=0.05)
    assert risk["risk"][y == 1].mean() > risk["risk"][y == 0].mean() + 0.3
    for part in ("risk", "logit_size", "logit_clinical", "logit_texture"):
        assert roc_auc_score(y, risk[part]) > 0.55, part
    assert roc_auc_score(y, risk["risk"]) > roc_auc_score(y, risk["logit_texture"])


def test_risk_with_the_cine_adds_its_part():
    risk = make_ceus_cohort(6, random_state=0, cine=True, return_risk=True, **SMALL)[-1]
    still = make_ceus_cohort(6, random_state=0, return_risk=True, **SMALL)[-1]
    assert list(risk.columns) == [*still.columns, "logit_cine"]
    pd.testing.assert_frame_equal(
        risk.drop(columns=["risk", "logit_cine"]), still.drop(columns="risk")
    )
    np.testing.assert_allclose(
        special.logit(risk["risk"]), risk.filter(like="logit_").sum(axis=1), atol=1e-12
    )
    no_texture = make_ceus_cohort(
        6, random_state=0, cine=True, return_risk=True, texture_effect=0.0, **SMALL
    )[-1]
    assert (no_texture[["logit_texture", "logit_cine"]] == 0.0).all(axis=None)


@pytest.mark.parametrize(
    "effects", [_Effects(), _Effects(size=2.5, clinical=2.0, texture=0.5)]
)
def test_risk_is_calibrated(effects):
    """Lesions drawn from the model (labels at random with the prior): a
    logistic regression of y on logit(risk) has slope 1 and intercept 0. The
    strong size effect clips many radii, so the censored terms count."""
    rng = np.random.default_rng(0)
    prior = 0.4
    labels = (rng.random(1500) < prior).astype(int)
    logits, clipped = [], 0
    for i, er in enumerate(labels):
        clin = _draw_clinical(np.random.default_rng([i, 1]), int(er), effects.clinical)
        lesion = _Lesion(
            np.random.default_rng([i, 2]), int(er), 0.25, "negative", effects
        )
        clipped += lesion.latent["log_radius"] >= _SIZE_MODEL["log_radius"].high
        parts = _log_likelihood_ratios(lesion, clin["afp_group"], effects)
        logits.append(np.log(prior / (1 - prior)) + sum(parts.values()))
    fit = LogisticRegression(C=1e6).fit(np.reshape(logits, (-1, 1)), labels)
    assert fit.coef_[0, 0] == pytest.approx(1.0, abs=0.15)
    assert fit.intercept_[0] == pytest.approx(0.0, abs=0.15)
    assert clipped > (200 if effects.size > 1 else 20)


def test_cine_model_is_scaled_by_the_texture_effect():
    assert set(_CINE_MODEL) == {"t0", "log_ttp", "sigma"}
    assert all(model.shift != 0 for model in _CINE_MODEL.values())


# --------------------------------------------------------------------------- records


def test_clinical_in_X_joins_the_clinical_table():
    X, y, clinical = make_ceus_cohort(4, random_state=0, **SMALL)
    joined, y2, clinical2 = make_ceus_cohort(
        4, random_state=0, clinical_in_X=True, **SMALL
    )
    assert list(joined.columns) == COLUMNS + list(clinical.columns)
    pd.testing.assert_frame_equal(joined[list(clinical.columns)], clinical)
    pd.testing.assert_frame_equal(clinical2, clinical)
    assert _cohort_sha256((joined[COLUMNS], y2, clinical2)) == _cohort_sha256(
        (X, y, clinical)
    )
    cine = make_ceus_cohort(
        4, random_state=0, cine=True, clinical_in_X=True, return_risk=True, **SMALL
    )
    assert len(cine) == 5
    assert list(cine[0].columns[-7:]) == list(clinical.columns)
    assert "CEUS_cine" in cine[0].columns

    # The extractors ignore the clinical columns.
    clear_feature_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = TextureExtractor(cache=False).fit_transform(X)
        with_clinical = TextureExtractor(cache=False).fit_transform(joined)
    pd.testing.assert_frame_equal(plain, with_clinical)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"size_effect": "1"}, TypeError, r"size_effect must be a float"),
        ({"clinical_effect": True}, TypeError, r"clinical_effect must be a float"),
        ({"texture_effect": np.nan}, ValueError, r"texture_effect must be finite"),
        ({"size_effect": np.inf}, ValueError, r"size_effect must be finite"),
        ({"clinical_in_X": 1}, TypeError, r"clinical_in_X must be a bool"),
        ({"return_risk": "yes"}, TypeError, r"return_risk must be a bool"),
    ],
)
def test_effect_parameter_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_ceus_cohort(4, image_size=64, **kwargs)


# ------------------------------------------------------------- several centres


@pytest.fixture(scope="module")
def three_centres():
    return make_ceus_cohort(60, image_size=128, centers=3, random_state=4)


def test_one_centre_is_the_single_centre_cohort():
    plain = make_ceus_cohort(12, image_size=64, random_state=5)
    one = make_ceus_cohort(12, image_size=64, centers=1, random_state=5)
    for a, b in zip(plain, one, strict=True):
        pd.testing.assert_frame_equal(a, b) if isinstance(
            a, pd.DataFrame
        ) else pd.testing.assert_series_equal(a, b)
    assert "center" not in one[0] and "center" not in one[2]


def test_centres_are_balanced_and_leave_lesions_labels_and_clinic_alone(three_centres):
    X, y, clinical = three_centres
    single_X, single_y, single_clinical = make_ceus_cohort(
        60, image_size=128, random_state=4
    )
    assert X["center"].value_counts().to_dict() == {"A": 20, "B": 20, "C": 20}
    assert list(X["center"].cat.categories) == ["A", "B", "C"]
    pd.testing.assert_series_equal(clinical["center"], X["center"])
    # the same lesions, labels and clinical data as with one centre
    pd.testing.assert_series_equal(y, single_y)
    pd.testing.assert_frame_equal(clinical.drop(columns="center"), single_clinical)
    # centre A is the reference scanner: its images are the single-centre ones
    for lesion in X.index[X["center"] == "A"][:3]:
        assert np.array_equal(
            X.loc[lesion, "AP_image"], single_X.loc[lesion, "AP_image"]
        )
        assert np.array_equal(X.loc[lesion, "AP_mask"], single_X.loc[lesion, "AP_mask"])
    # centre B's scanner: 4 dB more gain, wider speckle, wider ROIs (1 px at 128)
    b = X.index[X["center"] == "B"]
    brighter = [
        X.loc[i, "US_image"][X.loc[i, "US_mask"]].mean()
        - single_X.loc[i, "US_image"][single_X.loc[i, "US_mask"]].mean()
        for i in b
    ]
    assert np.mean(brighter) > 5  # grey levels
    wider = [X.loc[i, "US_mask"].sum() - single_X.loc[i, "US_mask"].sum() for i in b]
    assert min(wider) > 0


def test_centre_effect_zero_gives_identical_scanners():
    X, _, _ = make_ceus_cohort(9, image_size=64, centers=3, center_effect=0.0)
    single, _, _ = make_ceus_cohort(9, image_size=64)
    for column in ("US_image", "PP_mask"):
        assert all(
            np.array_equal(a, b) for a, b in zip(X[column], single[column], strict=True)
        )


def test_clinical_in_X_keeps_one_centre_column():
    X, _, _ = make_ceus_cohort(6, image_size=64, centers=2, clinical_in_X=True)
    assert list(X.columns).count("center") == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"centers": 0}, ValueError, "between 1 and 6"),
        ({"centers": 7}, ValueError, "between 1 and 6"),
        ({"centers": 2.0}, TypeError, "centers must be an int"),
        ({"centers": 2, "center_effect": -1.0}, ValueError, ">= 0"),
        ({"centers": 2, "center_effect": "big"}, TypeError, "center_effect"),
    ],
)
def test_centre_parameter_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_ceus_cohort(6, image_size=64, **kwargs)
