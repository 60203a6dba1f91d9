"""Tests of the Haar wavelet energies (``ceusradiomics.texture.wavelet``)."""

import math
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from ceusradiomics.texture.wavelet import (
    haar_decomposition,
    wavelet_feature_names,
    wavelet_features,
)

pywt = pytest.importorskip("pywt")

BANDS = ("LL", "LH", "HL", "HH")


def _features_array(feats, scales):
    """Energies as an array of shape (len(scales), 4), bands LL, LH, HL, HH."""
    return np.array([[feats[f"WavEn{b}_s-{k}"] for b in BANDS] for k in scales])


def _ellipse(shape, center, axes):
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    return ((rr - center[0]) / axes[0]) ** 2 + ((cc - center[1]) / axes[1]) ** 2 <= 1


def _oracle(image, mask, scales, origin=(0, 0)):
    """Loop over every aligned block of the original grid (spec closed form)."""
    out = {}
    rows, cols = image.shape
    for k in scales:
        size, half = 2**k, 2 ** (k - 1)
        sums = dict.fromkeys(BANDS, 0.0)
        count = 0
        # Global block indices whose block starts inside the image.
        for m in range(-(-origin[0] // size), (origin[0] + rows) // size):
            for n in range(-(-origin[1] // size), (origin[1] + cols) // size):
                r, c = m * size - origin[0], n * size - origin[1]
                if not mask[r : r + size, c : c + size].all():
                    continue
                q = image[r : r + size, c : c + size].astype(float)
                a = q[:half, :half].mean()
                b = q[:half, half:].mean()
                cc = q[half:, :half].mean()
                d = q[half:, half:].mean()
                w = 2.0 ** (k - 2)
                sums["LL"] += (w * (a + b + cc + d)) ** 2
                sums["LH"] += (w * ((a + b) - (cc + d))) ** 2
                sums["HL"] += (w * ((a + cc) - (b + d))) ** 2
                sums["HH"] += (w * ((a + d) - (b + cc))) ** 2
                count += 1
        for band in BANDS:
            out[f"WavEn{band}_s-{k}"] = sums[band] / count if count else math.nan
    return out


# --------------------------------------------------------------------- names


def test_feature_names_order_and_default():
    names = wavelet_feature_names()
    assert len(names) == 32
    assert names[:5] == [
        "WavEnLL_s-1",
        "WavEnLH_s-1",
        "WavEnHL_s-1",
        "WavEnHH_s-1",
        "WavEnLL_s-2",
    ]
    assert names[-1] == "WavEnHH_s-8"
    assert wavelet_feature_names(scales=[6]) == [
        "WavEnLL_s-6",
        "WavEnLH_s-6",
        "WavEnHL_s-6",
        "WavEnHH_s-6",
    ]


def test_feature_keys_follow_names():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 40))
    mask = np.ones(image.shape, dtype=bool)
    feats = wavelet_features(image, mask, scales=(2, 3, 7))
    assert list(feats) == wavelet_feature_names(scales=(2, 3, 7))
    assert all(isinstance(v, float) for v in feats.values())


# ------------------------------------------------------------ vs PyWavelets


def test_haar_decomposition_equals_pywt_with_band_mapping():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (64, 96)).astype(np.uint8)
    max_level = 5
    coeffs = pywt.wavedec2(
        image.astype(float), "haar", level=max_level, mode="periodization"
    )
    for level in range(1, max_level + 1):
        ours = haar_decomposition(image, level)
        c_h, c_v, c_d = coeffs[max_level - level + 1]
        # Signs included: HL = cV (high-pass along x), LH = cH, HH = cD.
        assert_allclose(ours["HL"], c_v, rtol=1e-12, atol=1e-9)
        assert_allclose(ours["LH"], c_h, rtol=1e-12, atol=1e-9)
        assert_allclose(ours["HH"], c_d, rtol=1e-12, atol=1e-9)
        approx = pywt.wavedec2(
            image.astype(float), "haar", level=level, mode="periodization"
        )[0]
        assert_allclose(ours["LL"], approx, rtol=1e-12)


def test_energies_equal_pywt_on_full_mask():
    rng = np.random.default_rng(2)
    image = rng.normal(100.0, 30.0, (128, 64))
    mask = np.ones(image.shape, dtype=bool)
    scales = range(1, 7)
    feats = wavelet_features(image, mask, scales=scales)
    for level in scales:
        coeffs = pywt.wavedec2(image, "haar", level=level, mode="periodization")
        c_h, c_v, c_d = coeffs[1]
        expected = {"LL": coeffs[0], "LH": c_h, "HL": c_v, "HH": c_d}
        for band, coef in expected.items():
            assert_allclose(
                feats[f"WavEn{band}_s-{level}"], np.mean(coef**2), rtol=1e-12
            )


# -------------------------------------------------------- brute-force oracle


@pytest.mark.parametrize("origin", [(0, 0), (3, 5), (16, 1)])
def test_matches_block_loop_oracle_on_irregular_mask(origin):
    rng = np.random.default_rng(3)
    image = rng.integers(0, 64, (70, 83))
    mask = _ellipse(image.shape, (36, 40), (33, 38))
    mask &= rng.random(image.shape) > 0.02  # scattered holes
    mask[30:38, 10:50] = False  # a slit
    scales = range(1, 7)
    feats = wavelet_features(image, mask, scales=scales, origin=origin)
    expected = _oracle(image, mask, scales, origin)
    assert_allclose(
        _features_array(feats, scales), _features_array(expected, scales), rtol=1e-12
    )
    # The holes leave some scales valid and kill the coarse ones.
    assert np.isfinite(feats["WavEnHL_s-2"])
    assert np.isnan(feats["WavEnHL_s-6"])


def test_outside_pixels_do_not_matter():
    rng = np.random.default_rng(4)
    image = rng.normal(size=(60, 60))
    mask = _ellipse(image.shape, (30, 28), (25, 20))
    reference = wavelet_features(image, mask, scales=range(1, 5))
    changed = image.copy()
    changed[~mask] = rng.normal(1e3, 1e3, size=(~mask).sum())
    changed[0, 0], changed[0, 1], changed[59, 59] = np.nan, np.inf, -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from inf - inf
        result = wavelet_features(changed, mask, scales=range(1, 5))
    assert result == reference


def test_nonbool_mask_is_nonzero():
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (32, 32))
    mask = _ellipse(image.shape, (16, 16), (14, 12))
    expected = wavelet_features(image, mask, scales=(1, 2, 3))
    assert wavelet_features(image, mask.astype(np.uint8) * 3, scales=(1, 2, 3)) == (
        expected
    )


# --------------------------------------------------- calibration test T8 etc.


@pytest.mark.parametrize("scale", [1, 2, 3, 4])
def test_band_letters_vertical_stripes_only_in_hl(scale):
    """Spec T8: intensity varying along x only -> energy only in "HL"."""
    size = 2**scale
    cols = np.arange(64)
    row = np.where(cols % size < size // 2, 255, 0)
    image = np.tile(row, (48, 1))
    mask = np.ones(image.shape, dtype=bool)
    feats = wavelet_features(image, mask, scales=range(1, 5))
    # HL = 2^(s-2)((a + c) - (b + d)) with a = c = 255, b = d = 0.
    assert feats[f"WavEnHL_s-{scale}"] == pytest.approx((2 ** (scale - 1) * 255) ** 2)
    for k in range(1, 5):
        assert feats[f"WavEnLH_s-{k}"] == 0.0
        assert feats[f"WavEnHH_s-{k}"] == 0.0
        if k < scale:  # finer blocks sit inside one stripe
            assert feats[f"WavEnHL_s-{k}"] == 0.0
    # Horizontal stripes (the transpose) move the energy to "LH".
    transposed = wavelet_features(image.T, mask.T, scales=range(1, 5))
    assert transposed[f"WavEnLH_s-{scale}"] == feats[f"WavEnHL_s-{scale}"]
    assert transposed[f"WavEnHL_s-{scale}"] == 0.0


def test_constant_image_energies():
    image = np.full((64, 64), 7, dtype=np.uint8)
    mask = np.ones(image.shape, dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # constant ROI is not degenerate here
        feats = wavelet_features(image, mask, scales=range(1, 7))
    for k in range(1, 7):
        assert feats[f"WavEnLL_s-{k}"] == (2**k * 7) ** 2
        for band in ("LH", "HL", "HH"):
            assert feats[f"WavEn{band}_s-{k}"] == 0.0


# --------------------------------------------------------------- grid/origin


def test_crop_with_origin_equals_full_image():
    rng = np.random.default_rng(6)
    image = rng.integers(0, 256, (200, 180))
    mask = _ellipse(image.shape, (101, 93), (60, 45))
    scales = range(1, 7)
    full = wavelet_features(image, mask, scales=scales)
    r0, c0 = 37, 45  # not multiples of any block size
    crop = wavelet_features(
        image[r0:170, c0:150], mask[r0:170, c0:150], scales=scales, origin=(r0, c0)
    )
    assert_allclose(
        _features_array(crop, scales), _features_array(full, scales), rtol=1e-12
    )
    # Without the origin the grid moves and the energies change.
    moved = wavelet_features(image[r0:170, c0:150], mask[r0:170, c0:150], scales=scales)
    assert moved["WavEnHL_s-2"] != full["WavEnHL_s-2"]


def test_haar_decomposition_origin_keeps_the_grid():
    rng = np.random.default_rng(7)
    image = rng.normal(size=(64, 64))
    full = haar_decomposition(image, 3)
    r0, c0 = 5, 17  # first complete 8-blocks: rows 8.., columns 24..
    crop = haar_decomposition(image[r0:, c0:], 3, origin=(r0, c0))
    for band in BANDS:
        assert crop[band].shape == (7, 5)
        assert_allclose(crop[band], full[band][1:, 3:], rtol=1e-12)
    # Incomplete blocks are left out: a 10 x 3 image has one 2-block column.
    assert haar_decomposition(image[:10, :3], 1)["LL"].shape == (5, 1)
    assert haar_decomposition(image[:3, :3], 2)["HH"].shape == (0, 0)


def test_decimated_grid_shift_by_one_changes_shift_by_block_does_not():
    """Spec T10: the grid belongs to the image, not to the ROI."""
    rng = np.random.default_rng(8)
    image = rng.integers(0, 256, (160, 160))
    mask = np.zeros(image.shape, dtype=bool)
    mask[20:100, 30:110] = _ellipse((80, 80), (40, 40), (39, 39))
    scales = range(1, 5)
    base = _features_array(wavelet_features(image, mask, scales=scales), scales)
    # Same image, ROI moved by one pixel: other blocks, other energies.
    shifted_roi = _features_array(
        wavelet_features(image, np.roll(mask, 1, axis=1), scales=scales), scales
    )
    assert not np.allclose(shifted_roi[:, 1:], base[:, 1:])
    # Image and ROI moved together by 2^S px: the same blocks, same energies.
    step = 2 ** max(scales)
    moved = wavelet_features(
        np.roll(image, (step, step), axis=(0, 1)),
        np.roll(mask, (step, step), axis=(0, 1)),
        scales=scales,
    )
    assert_allclose(_features_array(moved, scales), base, rtol=1e-12)


def test_scales_larger_than_roi_are_nan_without_warning():
    rng = np.random.default_rng(9)
    image = rng.integers(0, 256, (128, 128))
    mask = np.zeros(image.shape, dtype=bool)
    mask[0:40, 0:40] = True  # holds the 32-block at (0, 0), no 64-block
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        feats = wavelet_features(image, mask)
    arr = _features_array(feats, range(1, 9))
    assert np.isfinite(arr[:5]).all()
    assert np.isnan(arr[5:]).all()
    # The same 40 x 40 ROI placed across the 32-grid holds no 32-block.
    mask = np.zeros(image.shape, dtype=bool)
    mask[20:60, 20:60] = True
    arr = _features_array(wavelet_features(image, mask), range(1, 9))
    assert np.isfinite(arr[:4]).all()
    assert np.isnan(arr[4:]).all()
    # A single pixel supports no scale at all.
    single = np.zeros(image.shape, dtype=bool)
    single[5, 5] = True
    assert np.isnan(list(wavelet_features(image, single).values())).all()


def test_skipped_levels_are_still_on_the_pyramid():
    rng = np.random.default_rng(10)
    image = rng.integers(0, 256, (96, 96))
    mask = _ellipse(image.shape, (48, 47), (45, 44))
    all_scales = wavelet_features(image, mask, scales=range(1, 6))
    some = wavelet_features(image, mask, scales=(3, 5))
    assert some == {k: all_scales[k] for k in wavelet_feature_names((3, 5))}


# --------------------------------------------------------------------- errors


@pytest.fixture
def image_mask():
    image = np.arange(64, dtype=float).reshape(8, 8)
    return image, np.ones((8, 8), dtype=bool)


def test_error_image_not_2d(image_mask):
    _, mask = image_mask
    with pytest.raises(ValueError, match=r"image must be a 2-D array; got .*\(8,\)"):
        wavelet_features(np.zeros(8), mask)


def test_error_image_dtype(image_mask):
    _, mask = image_mask
    with pytest.raises(
        TypeError,
        match=r"image must be an array of integer or floating-point grey levels; "
        r"got dtype complex128",
    ):
        wavelet_features(np.zeros((8, 8), dtype=complex), mask)


def test_error_shape_mismatch(image_mask):
    image, _ = image_mask
    with pytest.raises(ValueError, match=r"same shape.*\(8, 8\) and mask \(8, 9\)"):
        wavelet_features(image, np.ones((8, 9), dtype=bool))


def test_error_empty_mask(image_mask):
    image, mask = image_mask
    with pytest.raises(ValueError, match="at least one ROI pixel"):
        wavelet_features(image, ~mask)


def test_error_nonfinite_in_roi(image_mask):
    image, mask = image_mask
    image[3, 3] = np.nan
    with pytest.raises(
        ValueError,
        match=r"image must be finite inside the mask; got 1 NaN or infinite "
        r"pixel\(s\) inside the ROI",
    ):
        wavelet_features(image, mask)
    with pytest.raises(ValueError, match="only finite values"):
        haar_decomposition(image, 1)


@pytest.mark.parametrize(
    ("scales", "error", "match"),
    [
        ((0, 1), ValueError, r"between 1 and 16.*\(0, 1\)"),
        ((1, 17), ValueError, r"between 1 and 16.*\(1, 17\)"),
        ((2, 1), ValueError, "strictly increasing"),
        ((1, 1), ValueError, "strictly increasing"),
        ((), ValueError, "at least one scale"),
        ((1.0, 2), TypeError, r"scales must contain integers; got 1\.0 of type float"),
        ((True,), TypeError, "scales must contain integers"),
        ("12", TypeError, "scales must be an iterable"),
        (3, TypeError, "scales must be an iterable"),
    ],
)
def test_error_scales(image_mask, scales, error, match):
    image, mask = image_mask
    with pytest.raises(error, match=match):
        wavelet_features(image, mask, scales=scales)
    with pytest.raises(error, match=match):
        wavelet_feature_names(scales)


@pytest.mark.parametrize(
    ("origin", "error", "match"),
    [
        ((-1, 0), ValueError, r"non-negative integers; got \(-1, 0\)"),
        ((0, 0, 0), ValueError, r"pair \(row0, col0\).*\(0, 0, 0\)"),
        (5, ValueError, r"pair \(row0, col0\).*got 5"),
        ((0.5, 0), TypeError, r"origin must hold integers.*float"),
    ],
)
def test_error_origin(image_mask, origin, error, match):
    image, mask = image_mask
    with pytest.raises(error, match=match):
        wavelet_features(image, mask, origin=origin)
    with pytest.raises(error, match=match):
        haar_decomposition(image, 1, origin=origin)


def test_error_haar_decomposition_scale(image_mask):
    image, _ = image_mask
    with pytest.raises(TypeError, match=r"scale must be an integer; got 1\.5"):
        haar_decomposition(image, 1.5)
    with pytest.raises(ValueError, match="between 1 and 16"):
        haar_decomposition(image, 0)


def test_numpy_integer_arguments(image_mask):
    image, mask = image_mask
    feats = wavelet_features(
        image, mask, scales=np.arange(1, 3), origin=(np.int64(2), np.int64(0))
    )
    assert_array_equal(list(feats), wavelet_feature_names((1, 2)))
