"""Tests of the MaZda histogram features (hand values, scipy, IBSI phantom)."""

import csv
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

from ceusradiomics.exceptions import DegenerateROIWarning
from ceusradiomics.texture.histogram import histogram_feature_names, histogram_features

IBSI = Path(__file__).resolve().parents[1] / "data" / "ibsi"
NAMES = [
    "Mean",
    "Variance",
    "Skewness",
    "Kurtosis",
    "Perc.01%",
    "Perc.10%",
    "Perc.50%",
    "Perc.90%",
    "Perc.99%",
]


def _random_roi(rng, shape):
    """An irregular mask with holes that touches the image border."""
    mask = rng.random(shape) < 0.65
    mask[:, 0] = rng.random(shape[0]) < 0.5
    return mask


def test_feature_names():
    assert histogram_feature_names() == NAMES
    f = histogram_features(np.arange(9, dtype=np.uint8).reshape(3, 3), np.ones((3, 3)))
    assert list(f) == NAMES
    assert all(type(v) is float for v in f.values())


# --------------------------------------------------------------------------
# hand-computed
# --------------------------------------------------------------------------


def test_hand_4x4():
    image = np.array(
        [[0, 1, 1, 2], [1, 2, 2, 3], [2, 3, 3, 7], [9, 9, 9, 9]], dtype=np.uint8
    )
    mask = np.ones((4, 4), bool)
    mask[3] = False
    # ROI values sorted: 0 1 1 1 2 2 2 2 3 3 3 7 (N = 12), sum 27 -> mean 2.25
    deviations = np.array([-2.25] + [-1.25] * 3 + [-0.25] * 4 + [0.75] * 3 + [4.75])
    m2 = (deviations**2).sum() / 12  # 34.25 / 12
    m3 = (deviations**3).sum() / 12
    m4 = (deviations**4).sum() / 12
    f = histogram_features(image, mask)
    assert f["Mean"] == 2.25
    assert f["Variance"] == pytest.approx(34.25 / 12, rel=1e-15)
    assert m2 == pytest.approx(34.25 / 12)
    assert f["Skewness"] == pytest.approx(m3 / m2**1.5, rel=1e-13)
    assert f["Kurtosis"] == pytest.approx(m4 / m2**2 - 3, rel=1e-13)
    # k-th smallest with k = ceil(xx * 12 / 100): k = 1, 2, 6, 11, 12
    assert [f[n] for n in NAMES[4:]] == [0.0, 1.0, 2.0, 3.0, 7.0]


def test_percentiles_use_exact_count_rule():
    # 70 values 1..70: F(g) = g / 70 >= 0.10 first at g = 7. In floating point
    # 0.1 * 70 = 7.000000000000001, whose ceiling (8) would be one too high.
    image = np.arange(1, 71, dtype=np.uint8).reshape(7, 10)
    f = histogram_features(image, np.ones(image.shape, bool))
    assert f["Perc.10%"] == 7.0
    assert f["Perc.01%"] == 1.0  # ceil(0.7) = 1
    assert f["Perc.50%"] == 35.0
    assert f["Perc.90%"] == 63.0
    assert f["Perc.99%"] == 70.0  # ceil(69.3) = 70


def test_percentiles_on_100_values():
    image = np.arange(1, 101, dtype=np.float64).reshape(10, 10)
    f = histogram_features(image, np.ones(image.shape, bool))
    assert [f[n] for n in NAMES[4:]] == [1.0, 10.0, 50.0, 90.0, 99.0]


# --------------------------------------------------------------------------
# agreement with scipy.stats and numpy
# --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(
    "kind", ["uint8", "int16_negative", "float", "int64_wide", "intp_working"]
)
def test_matches_scipy_and_numpy(seed, kind):
    rng = np.random.default_rng(seed)
    shape = (37, 29)
    if kind == "uint8":
        image = rng.rayleigh(50, shape).clip(0, 255).astype(np.uint8)
    elif kind == "int16_negative":
        image = rng.normal(-100, 300, shape).astype(np.int16)
    elif kind == "float":
        image = rng.lognormal(0.0, 0.7, shape)
    elif kind == "int64_wide":  # range beyond the histogram path: sorted instead
        image = rng.integers(-(10**7), 10**7, shape)
    else:
        image = rng.integers(0, 64, shape).astype(np.intp)
    mask = _random_roi(rng, shape)
    roi = image[mask].astype(np.float64)
    f = histogram_features(image, mask)
    assert f["Mean"] == pytest.approx(roi.mean(), rel=1e-12)
    assert f["Variance"] == pytest.approx(roi.var(), rel=1e-12)
    assert f["Skewness"] == pytest.approx(scipy.stats.skew(roi, bias=True), rel=1e-9)
    assert f["Kurtosis"] == pytest.approx(
        scipy.stats.kurtosis(roi, fisher=True, bias=True), rel=1e-9
    )
    for p in (1, 10, 50, 90, 99):
        assert f[f"Perc.{p:02d}%"] == np.percentile(roi, p, method="inverted_cdf")


# --------------------------------------------------------------------------
# IBSI digital phantom (tests/data/ibsi/README.md)
# --------------------------------------------------------------------------

# IBSI rows (3D whole ROI, no aggregation) that are the same quantity as a
# MaZda feature on the phantom's raw grey levels (no discretisation, so the
# intensity-statistics and the intensity-histogram rows coincide):
COMPARABLE = {
    "Q4LE": "Mean",  # Mean intensity
    "X6K6": "Mean",  # Mean discretised intensity
    "ECT3": "Variance",  # Intensity variance (no bias correction)
    "CH89": "Variance",
    "KE2A": "Skewness",
    "88K1": "Skewness",
    "IPH6": "Kurtosis",  # (Excess) intensity kurtosis
    "C3I7": "Kurtosis",
    # IBSI leaves the percentile interpolation open (the manual notes 4.2
    # instead of 4 for P90 in some implementations: Hazen's rule gives 4.2).
    # Its consensus P10 = 1 and P90 = 4 are ROI values, i.e. the inverted-CDF
    # percentile min{g : F(g) >= p} that Perc.xx% is.
    "QG58": "Perc.10%",  # 10th intensity percentile
    "GPMT": "Perc.10%",  # 10th discretised intensity percentile
    "8DWT": "Perc.90%",  # 90th intensity percentile
    "OZ0C": "Perc.90%",  # 90th discretised intensity percentile
}

# Every other IBSI row of the two families, with why it is not comparable.
NOT_COMPARABLE = {
    # The IBSI median averages the two middle values when N is even; Perc.50%
    # is the lower one. They coincide on the phantom only by chance (both of
    # its middle values are 1), see test_ibsi_median_coincides_by_chance.
    "Y12H": "median",
    "WIFQ": "median",
    # Perc.01% / Perc.99% are percentiles, not the minimum / maximum.
    "1GSF": "minimum",
    "1PR8": "minimum",
    "84IY": "maximum",
    "3NCY": "maximum",
    # No MaZda histogram feature for the following.
    # (interquartile range, range, mean / robust mean / median absolute
    # deviation, coefficient of variation, quartile coefficient of dispersion)
    **dict.fromkeys(
        ["SALO", "WR0O", "2OJQ", "5Z3W", "4FUA", "D2ZX", "1128", "WRZB"],
        "dispersion measure",
    ),
    **dict.fromkeys(
        ["N72L", "4RNL", "7TET", "CWYJ", "9S40", "SLWD"], "dispersion measure"
    ),
    "N8CA": "energy",
    "5ZWQ": "root mean square",
    "AMMC": "mode",
    "TLU2": "entropy",
    "BJ5W": "uniformity",
    **dict.fromkeys(["12CE", "8E6O", "VQB3", "RHQZ"], "histogram gradient"),
}


def _ibsi_rows():
    with open(IBSI / "reference_values.csv", newline="") as fh:
        return [
            row
            for row in csv.DictReader(fh)
            if row["family"] in ("intensity_statistics", "intensity_histogram")
            and row["configuration"] == "3D (whole ROI, no aggregation)"
        ]


def _ibsi_phantom_features():
    image = np.load(IBSI / "phantom_mosaic_image.npy")
    mask = np.load(IBSI / "phantom_mosaic_mask.npy")
    return histogram_features(image, mask)


def _round_to_3_significant(x):
    return float(f"{x:.3g}")


def test_ibsi_rows_are_all_accounted_for():
    codes = [row["ibsi_code"] for row in _ibsi_rows()]
    assert len(codes) == 41
    assert set(codes) == set(COMPARABLE) | set(NOT_COMPARABLE)
    assert not set(COMPARABLE) & set(NOT_COMPARABLE)


@pytest.mark.parametrize("code", sorted(COMPARABLE))
def test_ibsi_phantom_reference_value(code):
    # IBSI/MIRP matching rule: round to 3 significant digits, tolerance 0.
    (row,) = [r for r in _ibsi_rows() if r["ibsi_code"] == code]
    assert float(row["tolerance"]) == 0.0
    value = _ibsi_phantom_features()[COMPARABLE[code]]
    assert _round_to_3_significant(value) == float(row["value"]), (
        row["feature"],
        value,
    )


def test_ibsi_phantom_percentiles_are_roi_values():
    image = np.load(IBSI / "phantom_mosaic_image.npy")
    mask = np.load(IBSI / "phantom_mosaic_mask.npy") != 0
    f = _ibsi_phantom_features()
    assert {f["Perc.10%"], f["Perc.90%"]} <= set(image[mask].tolist())


def test_ibsi_median_coincides_by_chance():
    image = np.load(IBSI / "phantom_mosaic_image.npy")
    mask = np.load(IBSI / "phantom_mosaic_mask.npy") != 0
    values = np.sort(image[mask])
    assert values.size == 74 and values[36] == values[37] == 1
    (row,) = [r for r in _ibsi_rows() if r["ibsi_code"] == "Y12H"]
    assert _ibsi_phantom_features()["Perc.50%"] == float(row["value"])


# --------------------------------------------------------------------------
# invariants
# --------------------------------------------------------------------------


def test_pixels_outside_the_mask_do_not_matter():
    rng = np.random.default_rng(1)
    image = rng.normal(10, 3, (30, 30))
    mask = _random_roi(rng, image.shape)
    other = image.copy()
    other[~mask] = np.where(rng.random(int((~mask).sum())) < 0.5, np.nan, 1e9)
    assert histogram_features(other, mask) == histogram_features(image, mask)


def test_translation_and_rotation_invariance():
    rng = np.random.default_rng(2)
    patch = rng.integers(0, 256, (21, 17), dtype=np.uint8)
    patch_mask = _random_roi(rng, patch.shape)
    big = np.zeros((80, 90), np.uint8)
    big_mask = np.zeros((80, 90), bool)
    big[50:71, 3:20], big_mask[50:71, 3:20] = patch, patch_mask
    reference = histogram_features(patch, patch_mask)
    assert histogram_features(big, big_mask) == reference
    rotated = histogram_features(np.rot90(patch), np.rot90(patch_mask))
    for name in NAMES:
        assert rotated[name] == pytest.approx(reference[name], rel=1e-12)


# --------------------------------------------------------------------------
# degenerate input
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_constant_roi(dtype):
    image = np.full((5, 6), 0.1 if dtype is np.float64 else 42, dtype=dtype)
    image[0, 0] = 7  # outside the ROI
    mask = np.ones(image.shape, bool)
    mask[0, 0] = False
    with pytest.warns(DegenerateROIWarning, match="histogram: the ROI is constant"):
        f = histogram_features(image, mask)
    value = float(image[1, 1])
    assert f["Mean"] == value and f["Variance"] == 0.0
    assert np.isnan(f["Skewness"]) and np.isnan(f["Kurtosis"])
    assert [f[n] for n in NAMES[4:]] == [value] * 5


def test_single_pixel_roi():
    image = np.arange(16, dtype=np.uint8).reshape(4, 4)
    mask = np.zeros((4, 4), bool)
    mask[2, 3] = True
    with pytest.warns(DegenerateROIWarning, match="every pixel equals 11"):
        f = histogram_features(image, mask)
    assert f["Mean"] == 11.0 and f["Perc.99%"] == 11.0


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


def test_errors():
    with pytest.raises(ValueError, match=r"image must be a 2-D array; got .* \(9,\)"):
        histogram_features(np.zeros(9), np.ones(9))
    with pytest.raises(ValueError, match=r"got image \(3, 3\) and mask \(3, 4\)"):
        histogram_features(np.zeros((3, 3)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="mask must contain at least one ROI pixel"):
        histogram_features(np.zeros((3, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"finite inside the mask; got 2 NaN"):
        histogram_features(np.array([[np.inf, 1.0], [np.nan, 2.0]]), np.ones((2, 2)))
    with pytest.raises(TypeError, match="got dtype complex128"):
        histogram_features(np.zeros((3, 3), complex), np.ones((3, 3)))


def test_float32_is_computed_in_float64():
    rng = np.random.default_rng(12)
    image = rng.random((20, 20)).astype(np.float32)
    mask = _random_roi(rng, image.shape)
    assert histogram_features(image, mask) == histogram_features(
        image.astype(np.float64), mask
    )
