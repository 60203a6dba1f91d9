"""Tests of the grey-level normalisation and quantisation (MaZda working image)."""

import numpy as np
import pytest

from ceusradiomics.texture._quantize import quantize, roi_intensity_range

NORMALIZATIONS = ("none", "3sigma", "1-99", "minmax")


def _random_roi(seed, shape=(24, 31)):
    """A random irregular mask full of holes that touches the image border."""
    rng = np.random.default_rng(seed)
    mask = rng.random(shape) < 0.7
    mask[0, : shape[1] // 2] = True  # touches the top border
    return mask


# --------------------------------------------------------------------------
# hand-computed cases
# --------------------------------------------------------------------------

IMAGE_4X4 = np.array(
    [[0, 31, 32, 63], [64, 127, 128, 191], [192, 224, 254, 255], [7, 8, 9, 250]],
    dtype=np.uint8,
)
MASK_4X4 = np.array([[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]], bool)


def test_none_hand_4x4():
    # floor(v * 8 / 256) = v // 32; the last row is outside the ROI -> 0
    expected = np.array(
        [[0, 0, 1, 1], [2, 3, 4, 5], [6, 7, 7, 7], [0, 0, 0, 0]], dtype=np.intp
    )
    q = quantize(IMAGE_4X4, MASK_4X4, bits=3)
    assert q.dtype == np.intp
    np.testing.assert_array_equal(q, expected)


def test_minmax_hand_4x4():
    # a = 0, b = 255, L = 4: floor(v * 4 / 255), 255 -> 4 -> clipped to 3
    # 63*4/255 = 0.988 -> 0; 64*4/255 = 1.004 -> 1; 128*4/255 = 2.008 -> 2;
    # 191*4/255 = 2.996 -> 2; 192*4/255 = 3.01 -> 3
    expected = np.array(
        [[0, 0, 0, 0], [1, 1, 2, 2], [3, 3, 3, 3], [0, 0, 0, 0]], dtype=np.intp
    )
    assert roi_intensity_range(IMAGE_4X4, MASK_4X4, "minmax") == (0.0, 255.0)
    np.testing.assert_array_equal(
        quantize(IMAGE_4X4, MASK_4X4, normalization="minmax", bits=2), expected
    )


def test_3sigma_hand_4x4():
    image = np.array([[1, 2], [3, 6]], dtype=np.uint8)
    mask = np.ones((2, 2), bool)
    # mean 3, sample variance (4 + 1 + 0 + 9) / 3 = 14 / 3
    sigma = np.sqrt(14 / 3)
    a, b = roi_intensity_range(image, mask, "3sigma")
    assert a == pytest.approx(3 - 3 * sigma)
    assert b == pytest.approx(3 + 3 * sigma)
    # L = 2: level 1 from the midpoint 3 upwards
    np.testing.assert_array_equal(
        quantize(image, mask, normalization="3sigma", bits=1), [[0, 0], [1, 1]]
    )


# --------------------------------------------------------------------------
# "none": the native range and the bit shift
# --------------------------------------------------------------------------


@pytest.mark.parametrize("bits", range(1, 9))
def test_none_uint8_is_right_shift(bits):
    rng = np.random.default_rng(bits)
    image = rng.integers(0, 256, size=(20, 25), dtype=np.uint8)
    mask = _random_roi(bits, image.shape)
    q = quantize(image, mask, bits=bits)
    expected = np.where(mask, image.astype(np.intp) >> (8 - bits), 0)
    np.testing.assert_array_equal(q, expected)
    assert q.max() <= 2**bits - 1


def test_none_bits_above_native_depth_shifts_left():
    image = np.array([[0, 1], [128, 255]], dtype=np.uint8)
    mask = np.ones((2, 2), bool)
    np.testing.assert_array_equal(
        quantize(image, mask, bits=10), image.astype(np.intp) << 2
    )


def test_none_uint16_uses_native_16_bit_range():
    image = np.array([[0, 255, 256], [4095, 40000, 65535]], dtype=np.uint16)
    mask = np.ones(image.shape, bool)
    assert roi_intensity_range(image, mask) == (0.0, 65536.0)
    # small values of a 16-bit image are dark: 255 >> 8 = 0
    np.testing.assert_array_equal(
        quantize(image, mask, bits=8), [[0, 0, 1], [15, 156, 255]]
    )


@pytest.mark.parametrize(
    ("dtype", "high", "native_top"),
    [
        (np.int8, 127, 256.0),
        (np.int16, 300, 65536.0),
        (np.int32, 255, 256.0),
        (np.int64, 256, 65536.0),
        (np.uint32, 65535, 65536.0),
    ],
)
def test_none_native_depth_by_dtype(dtype, high, native_top):
    image = np.array([[0, high]], dtype=dtype)
    mask = np.ones(image.shape, bool)
    assert roi_intensity_range(image, mask, "none") == (0.0, native_top)


def test_none_wide_integers_must_fit_16_bits():
    image = np.array([[0, 70000]], dtype=np.int32)
    with pytest.raises(ValueError, match=r"reaches 70000 >= 2\*\*16"):
        quantize(image, np.ones(image.shape, bool))


def test_none_rejects_float_images():
    image = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r'normalization="none" needs integer.*minmax'):
        quantize(image, np.ones((3, 3), bool))


def test_none_rejects_negative_levels():
    image = np.array([[-3, 5], [7, 9]], dtype=np.int16)
    with pytest.raises(ValueError, match="non-negative grey levels; the ROI holds -3"):
        roi_intensity_range(image, np.ones((2, 2), bool))
    # ... unless the negative pixel is outside the ROI
    mask = np.array([[0, 1], [1, 1]], bool)
    assert roi_intensity_range(image, mask) == (0.0, 65536.0)


# --------------------------------------------------------------------------
# the other normalisations
# --------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [1, 2, 5, 8, 12, 16])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float64])
def test_minmax_maps_min_to_0_and_max_to_top_level(bits, dtype):
    rng = np.random.default_rng(bits)
    image = (rng.normal(100, 30, size=(18, 21))).clip(0, 255).astype(dtype)
    mask = _random_roi(bits, image.shape)
    q = quantize(image, mask, normalization="minmax", bits=bits)
    roi = image[mask]
    assert set(q[mask & (image == roi.min())]) == {0}
    assert set(q[mask & (image == roi.max())]) == {2**bits - 1}
    assert q.min() == 0 and q.max() == 2**bits - 1


def test_minmax_floor_is_exact_on_level_boundaries():
    # v = k / 256 with [a, b] = [0, 1] must land exactly on level k
    values = np.arange(257) / 256
    image = values.reshape(1, -1)
    q = quantize(image, np.ones(image.shape, bool), normalization="minmax", bits=8)
    np.testing.assert_array_equal(q[0, :256], np.arange(256))
    assert q[0, 256] == 255


@pytest.mark.parametrize("seed", range(4))
def test_3sigma_uses_sample_sd_and_floor_formula(seed):
    rng = np.random.default_rng(seed)
    image = rng.gamma(3.0, 20.0, size=(30, 26))
    image[0, 0] = 1e4  # an outlier far beyond 3 sigma is clipped to level L - 1
    mask = _random_roi(seed, image.shape)
    mask[0, 0] = True
    roi = image[mask]
    mu, sd = roi.mean(), roi.std(ddof=1)
    a, b = roi_intensity_range(image, mask, "3sigma")
    assert a == pytest.approx(mu - 3 * sd, rel=1e-12)
    assert b == pytest.approx(mu + 3 * sd, rel=1e-12)
    q = quantize(image, mask, normalization="3sigma", bits=6)
    expected = np.clip(np.floor((np.clip(roi, a, b) - a) * 64 / (b - a)), 0, 63)
    np.testing.assert_array_equal(q[mask], expected)
    assert q[0, 0] == 63


def _kociolek_1_99_integer(values):
    """Kociołek's loop over the cumulative histogram, levels min..max."""
    values = [int(v) for v in values]
    n = len(values)
    m = n // 100
    lo = hi = min(values)  # the fallback: the lowest level of the histogram
    cumulative = 0
    for level in range(min(values), max(values) + 1):
        cumulative += values.count(level)
        if cumulative < m:
            lo = level
        if cumulative <= n - m:
            hi = level
    return float(lo), float(hi)


def _kociolek_1_99_float(values):
    """The same count rule with the distinct ROI values as levels."""
    n = len(values)
    m = n // 100
    levels = sorted(set(float(v) for v in values))
    lo = hi = levels[0]
    for level in levels:
        cumulative = sum(1 for v in values if v <= level)
        if cumulative < m:
            lo = level
        if cumulative <= n - m:
            hi = level
    return lo, hi


def test_1_99_count_rule_on_integer_ramp():
    # N = 1000, m = 10; cumulative count of level g is g + 1:
    # a = max{g : g + 1 < 10} = 8, b = max{g : g + 1 <= 990} = 989
    image = np.arange(1000, dtype=np.uint16).reshape(25, 40)
    mask = np.ones(image.shape, bool)
    assert roi_intensity_range(image, mask, "1-99") == (8.0, 989.0)


def test_1_99_count_rule_on_float_ramp():
    # the same ramp shifted by 0.5: the levels are the ROI values themselves
    image = (np.arange(1000) + 0.5).reshape(25, 40)
    mask = np.ones(image.shape, bool)
    assert roi_intensity_range(image, mask, "1-99") == (8.5, 989.5)


def test_1_99_small_roi_spans_the_roi_range():
    # N < 100 -> m = 0: no pixel is discarded
    image = np.array([[3, 9, 4], [200, 7, 8]], dtype=np.uint8)
    mask = np.ones(image.shape, bool)
    assert roi_intensity_range(image, mask, "1-99") == (3.0, 200.0)


@pytest.mark.parametrize("seed", range(6))
def test_1_99_matches_cumulative_histogram_loop(seed):
    rng = np.random.default_rng(seed)
    shape = (27, 23)
    # heavy ties at the minimum and maximum, as in saturated ultrasound
    image = rng.integers(-5, 60, size=shape).clip(0, 50).astype(np.int16) + 7
    mask = _random_roi(seed, shape)
    roi = image[mask]
    assert roi.size >= 300  # m >= 3
    assert roi_intensity_range(image, mask, "1-99") == _kociolek_1_99_integer(roi)
    image_f = image + rng.random(shape) * 0.5
    assert roi_intensity_range(image_f, mask, "1-99") == _kociolek_1_99_float(
        image_f[mask]
    )


def test_1_99_with_m_equal_1_and_negative_levels():
    # N = 150 -> m = 1: a = max(s[0] - 1, min) = min, b = s[149] - 1 = max - 1
    rng = np.random.default_rng(1)
    image = rng.integers(-40, 40, size=(10, 15)).astype(np.int32)
    mask = np.ones(image.shape, bool)
    expected = _kociolek_1_99_integer(image[mask])
    assert expected == (float(image.min()), float(image.max() - 1))
    assert roi_intensity_range(image, mask, "1-99") == expected


def test_1_99_quantize_uses_that_range():
    image = np.arange(1000, dtype=np.uint16).reshape(25, 40)
    mask = np.ones(image.shape, bool)
    q = quantize(image, mask, normalization="1-99", bits=4)
    v = np.clip(image.astype(float), 8, 989)
    np.testing.assert_array_equal(q, np.clip(np.floor((v - 8) * 16 / 981), 0, 15))


@pytest.mark.parametrize("normalization", ["3sigma", "1-99", "minmax"])
def test_constant_roi_gives_level_zero(normalization):
    image = np.full((6, 7), 200, dtype=np.uint8)
    image[0, 0] = 3  # outside the ROI
    mask = np.ones(image.shape, bool)
    mask[0, 0] = False
    a, b = roi_intensity_range(image, mask, normalization)
    assert b <= a
    # no warning (the families warn): pytest turns any package warning into an error
    q = quantize(image, mask, normalization=normalization, bits=8)
    np.testing.assert_array_equal(q, np.zeros(image.shape, np.intp))


def test_single_pixel_roi_3sigma_is_constant():
    image = np.array([[5, 6], [7, 8]], dtype=np.uint8)
    mask = np.array([[0, 1], [0, 0]], bool)
    assert roi_intensity_range(image, mask, "3sigma") == (6.0, 6.0)
    assert quantize(image, mask, normalization="3sigma").sum() == 0


# --------------------------------------------------------------------------
# invariants
# --------------------------------------------------------------------------


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_pixels_outside_the_mask_do_not_matter(normalization):
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, size=(40, 33), dtype=np.uint8)
    mask = _random_roi(7, image.shape)
    other = image.copy()
    other[~mask] = rng.integers(0, 256, size=int((~mask).sum()), dtype=np.uint8)
    q = quantize(image, mask, normalization=normalization, bits=5)
    np.testing.assert_array_equal(
        q, quantize(other, mask, normalization=normalization, bits=5)
    )
    assert not q[~mask].any()


def test_nan_outside_the_mask_is_ignored():
    rng = np.random.default_rng(3)
    image = rng.random((10, 12))
    mask = _random_roi(3, image.shape)
    dirty = image.copy()
    dirty[~mask] = np.nan
    dirty[~mask & (np.arange(12) % 2 == 0)] = np.inf
    for normalization in ("3sigma", "1-99", "minmax"):
        np.testing.assert_array_equal(
            quantize(dirty, mask, normalization=normalization, bits=6),
            quantize(image, mask, normalization=normalization, bits=6),
        )


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_translation_moves_the_levels(normalization):
    rng = np.random.default_rng(11)
    patch = rng.integers(0, 256, size=(15, 12), dtype=np.uint8)
    patch_mask = _random_roi(11, patch.shape)
    big = np.zeros((60, 50), np.uint8)
    big_mask = np.zeros((60, 50), bool)
    big[30:45, 7:19], big_mask[30:45, 7:19] = patch, patch_mask
    q_patch = quantize(patch, patch_mask, normalization=normalization, bits=4)
    q_big = quantize(big, big_mask, normalization=normalization, bits=4)
    np.testing.assert_array_equal(q_big[30:45, 7:19], q_patch)
    assert q_big.sum() == q_patch.sum()


def test_non_bool_mask_means_nonzero():
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, size=(9, 9), dtype=np.uint8)
    mask = _random_roi(5, image.shape)
    np.testing.assert_array_equal(
        quantize(image, mask.astype(np.uint8) * 255, bits=4),
        quantize(image, mask, bits=4),
    )


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize("normalization", ["None", "3-sigma", None, "zscore"])
def test_unknown_normalization(normalization):
    image = np.zeros((3, 3), np.uint8)
    match = r"normalization must be one of \['none', '3sigma', '1-99', 'minmax'\]"
    with pytest.raises(ValueError, match=match):
        quantize(image, np.ones((3, 3), bool), normalization=normalization)
    with pytest.raises(ValueError, match=match):
        roi_intensity_range(image, np.ones((3, 3), bool), normalization)


@pytest.mark.parametrize("bits", [0, 17, -1, True, 8.0, "8", None])
def test_invalid_bits(bits):
    with pytest.raises(ValueError, match="bits must be an integer between 1 and 16"):
        quantize(np.zeros((3, 3), np.uint8), np.ones((3, 3), bool), bits=bits)


def test_numpy_integer_bits_accepted():
    q = quantize(
        np.full((2, 2), 255, np.uint8), np.ones((2, 2), bool), bits=np.int64(2)
    )
    assert q.max() == 3


def test_image_must_be_2d():
    with pytest.raises(
        ValueError, match=r"image must be a 2-D array; got .* \(2, 3, 3\)"
    ):
        quantize(np.zeros((2, 3, 3), np.uint8), np.ones((2, 3, 3), bool))


def test_mask_shape_mismatch():
    with pytest.raises(
        ValueError,
        match=r"mask must have the same shape as image; "
        r"got image \(4, 5\) and mask \(4, 6\)",
    ):
        quantize(np.zeros((4, 5), np.uint8), np.ones((4, 6), bool))


def test_empty_mask():
    with pytest.raises(ValueError, match="mask must contain at least one ROI pixel"):
        quantize(np.zeros((4, 5), np.uint8), np.zeros((4, 5), bool))


def test_non_finite_roi_values():
    image = np.ones((4, 4))
    image[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"finite inside the mask; got 1 NaN"):
        quantize(image, np.ones((4, 4), bool), normalization="minmax")


def test_bool_image_rejected():
    with pytest.raises(
        TypeError, match="image must be an array of integer or floating"
    ):
        quantize(np.ones((3, 3), bool), np.ones((3, 3), bool))


def test_non_numeric_mask_rejected():
    with pytest.raises(TypeError, match="mask must be a bool or numeric array"):
        quantize(np.zeros((2, 2), np.uint8), np.array([["a", "b"], ["c", "d"]]))


def test_array_likes_accepted():
    q = quantize([[1, 2], [3, 250]], [[1, 1], [0, 1]], normalization="minmax", bits=2)
    np.testing.assert_array_equal(q, [[0, 0], [0, 3]])
