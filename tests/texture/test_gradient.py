"""Tests of the MaZda absolute-gradient features (hand values, loop oracle)."""

import math

import numpy as np
import pytest
import scipy.ndimage

from ceusradiomics.exceptions import DegenerateROIWarning
from ceusradiomics.texture.gradient import (
    absolute_gradient,
    gradient_feature_names,
    gradient_features,
)

NAMES = ["GrMean", "GrVariance", "GrSkewness", "GrKurtosis", "GrNonZeros"]


def _irregular_roi(rng, shape, touch_border=True):
    """A smooth random blob with pin holes; optionally reaching the border."""
    field = scipy.ndimage.gaussian_filter(rng.standard_normal(shape), 2.5)
    mask = field > np.quantile(field, 0.35)
    mask &= rng.random(shape) > 0.06  # holes
    if touch_border:
        mask[0, 2:9] = mask[1, 2:9] = True
        mask[3:12, -1] = mask[3:12, -2] = True
    return mask


def _oracle(image, mask):
    """Brute-force loops: G at every pixel whose 4-neighbours are in the ROI."""
    n_rows, n_cols = image.shape

    def inside(r, c):
        return 0 <= r < n_rows and 0 <= c < n_cols and bool(mask[r, c])

    gradient = np.zeros(image.shape)
    support = np.zeros(image.shape, bool)
    values = []
    for r in range(n_rows):
        for c in range(n_cols):
            if inside(r, c) and all(
                inside(r + dr, c + dc) for dr, dc in ((0, -1), (0, 1), (-1, 0), (1, 0))
            ):
                gx = float(image[r, c + 1]) - float(image[r, c - 1])
                gy = float(image[r + 1, c]) - float(image[r - 1, c])
                g = math.sqrt(gx * gx + gy * gy)
                gradient[r, c], support[r, c] = g, True
                values.append(g)
    n = len(values)
    mean = sum(values) / n
    m2 = sum((g - mean) ** 2 for g in values) / n
    m3 = sum((g - mean) ** 3 for g in values) / n
    m4 = sum((g - mean) ** 4 for g in values) / n
    features = {
        "GrMean": mean,
        "GrVariance": m2,
        "GrSkewness": m3 / m2**1.5,
        "GrKurtosis": m4 / m2**2 - 3.0,
        "GrNonZeros": sum(g > 0 for g in values) / n,
    }
    return gradient, support, features


def _assert_features_close(actual, expected, rel=1e-10):
    assert list(actual) == NAMES
    for name in NAMES:
        assert actual[name] == pytest.approx(expected[name], rel=rel, abs=1e-12), name


def test_feature_names():
    assert gradient_feature_names() == NAMES


# --------------------------------------------------------------------------
# hand-computed
# --------------------------------------------------------------------------


def test_hand_4x4():
    # I(r, c) = (r + 1)(c + 1); only the 2 x 2 centre has its 4 neighbours.
    image = np.outer(np.arange(1, 5), np.arange(1, 5)).astype(np.uint8)
    mask = np.ones((4, 4), bool)
    grad, support = absolute_gradient(image, mask)
    # (1,1): dx = 6-2, dy = 6-2 -> sqrt(32); (1,2): dx = 8-4, dy = 9-3 -> sqrt(52)
    # (2,1): dx = 9-3, dy = 8-4 -> sqrt(52); (2,2): dx = 12-6, dy = 12-6 -> sqrt(72)
    expected = np.zeros((4, 4))
    expected[1:3, 1:3] = np.sqrt([[32, 52], [52, 72]])
    np.testing.assert_allclose(grad, expected, rtol=1e-15)
    np.testing.assert_array_equal(support, expected > 0)
    g = np.sqrt([32.0, 52.0, 52.0, 72.0])
    d = g - g.mean()
    f = gradient_features(image, mask)
    assert f["GrMean"] == pytest.approx(g.mean(), rel=1e-15)
    assert f["GrVariance"] == pytest.approx((d**2).mean(), rel=1e-13)
    assert f["GrSkewness"] == pytest.approx((d**3).mean() / (d**2).mean() ** 1.5)
    assert f["GrKurtosis"] == pytest.approx((d**4).mean() / (d**2).mean() ** 2 - 3)
    assert f["GrNonZeros"] == 1.0


def test_hand_nonzeros_is_a_fraction():
    # a flat left half (G = 0) next to a step: 4 of the 12 support pixels see it
    image = np.zeros((5, 6), np.uint8)
    image[:, 4:] = 10
    grad, support = absolute_gradient(image, np.ones(image.shape, bool))
    assert support.sum() == 12
    np.testing.assert_array_equal(grad[1:4, 1:5], [[0, 0, 10, 10]] * 3)
    assert gradient_features(image, np.ones(image.shape, bool))["GrNonZeros"] == 0.5


def test_support_is_cross_erosion():
    rng = np.random.default_rng(0)
    mask = _irregular_roi(rng, (30, 40))
    _, support = absolute_gradient(np.zeros(mask.shape), mask)
    cross = scipy.ndimage.generate_binary_structure(2, 1)
    eroded = scipy.ndimage.binary_erosion(mask, cross, border_value=0)
    np.testing.assert_array_equal(support, eroded)


# --------------------------------------------------------------------------
# brute-force oracle
# --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", [np.uint8, np.intp, np.float64])
def test_matches_loop_oracle(seed, dtype):
    rng = np.random.default_rng(seed)
    shape = (28, 35)
    image = (rng.rayleigh(40, shape)).clip(0, 255).astype(dtype)
    image[rng.random(shape) < 0.1] = 0  # some flat runs, so some G == 0
    mask = _irregular_roi(rng, shape, touch_border=seed % 2 == 0)
    grad, support, expected = _oracle(image, mask)
    assert support.sum() > 50
    actual_grad, actual_support = absolute_gradient(image, mask)
    np.testing.assert_array_equal(actual_support, support)
    np.testing.assert_allclose(actual_grad, grad, rtol=1e-14, atol=0)
    _assert_features_close(gradient_features(image, mask), expected)


def test_mask_touching_every_border():
    rng = np.random.default_rng(9)
    image = rng.integers(0, 64, (12, 15))
    mask = np.ones(image.shape, bool)
    mask[5, 7] = False
    _, support, expected = _oracle(image, mask)
    assert not support[0].any() and not support[-1].any()
    assert not support[:, 0].any() and not support[:, -1].any()
    _assert_features_close(gradient_features(image, mask), expected)


# --------------------------------------------------------------------------
# invariants
# --------------------------------------------------------------------------


def test_pixels_outside_the_mask_do_not_matter():
    rng = np.random.default_rng(4)
    image = rng.normal(100, 20, (30, 30))
    mask = _irregular_roi(rng, image.shape)
    other = image.copy()
    other[~mask] = np.where(rng.random(int((~mask).sum())) < 0.5, np.nan, -1e6)
    assert gradient_features(other, mask) == gradient_features(image, mask)
    g1, s1 = absolute_gradient(image, mask)
    g2, s2 = absolute_gradient(other, mask)
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(s1, s2)


def test_translation_invariance():
    rng = np.random.default_rng(5)
    patch = rng.integers(0, 256, (20, 24), dtype=np.uint8)
    patch_mask = _irregular_roi(rng, patch.shape, touch_border=False)
    big = rng.integers(0, 256, (70, 64), dtype=np.uint8)
    big_mask = np.zeros(big.shape, bool)
    big[40:60, 33:57], big_mask[40:60, 33:57] = patch, patch_mask
    assert gradient_features(big, big_mask) == gradient_features(patch, patch_mask)
    grad_big, _ = absolute_gradient(big, big_mask)
    grad_patch, _ = absolute_gradient(patch, patch_mask)
    np.testing.assert_array_equal(grad_big[40:60, 33:57], grad_patch)
    assert grad_big.sum() == grad_patch.sum()


@pytest.mark.parametrize("k", [1, 2, 3])
def test_rotation_by_90_degrees_is_invariant(k):
    # dx and dy swap (and change sign): |G| and the cross support do not change
    rng = np.random.default_rng(k)
    image = rng.integers(0, 256, (26, 31), dtype=np.uint8)
    mask = _irregular_roi(rng, image.shape)
    reference = gradient_features(image, mask)
    rotated = gradient_features(np.rot90(image, k), np.rot90(mask, k))
    _assert_features_close(rotated, reference, rel=1e-12)
    grad, _ = absolute_gradient(image, mask)
    np.testing.assert_allclose(
        absolute_gradient(np.rot90(image, k), np.rot90(mask, k))[0],
        np.rot90(grad, k),
        rtol=1e-15,
    )


def test_transpose_and_flip_invariance():
    rng = np.random.default_rng(8)
    image = rng.integers(0, 256, (19, 23), dtype=np.uint8)
    mask = _irregular_roi(rng, image.shape)
    reference = gradient_features(image, mask)
    _assert_features_close(gradient_features(image.T, mask.T), reference, rel=1e-12)
    _assert_features_close(
        gradient_features(image[::-1], mask[::-1]), reference, rel=1e-12
    )


# --------------------------------------------------------------------------
# degenerate input
# --------------------------------------------------------------------------


def test_roi_without_support_pixel():
    image = np.arange(30, dtype=np.uint8).reshape(5, 6)
    mask = np.zeros(image.shape, bool)
    mask[2:4, :] = True  # a two-pixel-thick band: no pixel has both vertical
    mask[0, 1] = True  # neighbours, however wide the band is
    with pytest.warns(DegenerateROIWarning, match="no ROI pixel has its 4 neighbours"):
        f = gradient_features(image, mask)
    assert list(f) == NAMES and all(np.isnan(v) for v in f.values())
    grad, support = absolute_gradient(image, mask)  # no warning: nothing computed
    assert not support.any() and not grad.any()


def test_roi_too_small_for_the_cross():
    with pytest.warns(DegenerateROIWarning, match="every gradient feature is NaN"):
        gradient_features(np.ones((2, 2)), np.ones((2, 2)))


def test_constant_roi():
    image = np.full((6, 6), 17, np.uint8)
    image[0, 0] = 200  # outside the ROI
    mask = np.ones(image.shape, bool)
    mask[0, 0] = False
    with pytest.warns(DegenerateROIWarning, match=r"same at every support pixel \(0,"):
        f = gradient_features(image, mask)
    assert f["GrMean"] == 0.0 and f["GrVariance"] == 0.0 and f["GrNonZeros"] == 0.0
    assert np.isnan(f["GrSkewness"]) and np.isnan(f["GrKurtosis"])


def test_linear_ramp_has_constant_gradient():
    # I = 3c + 4r: G = sqrt(6**2 + 8**2) = 10 at every support pixel
    image = 3 * np.arange(8)[None, :] + 4 * np.arange(7)[:, None]
    with pytest.warns(DegenerateROIWarning, match=r"same at every support pixel \(10,"):
        f = gradient_features(image.astype(float), np.ones(image.shape, bool))
    assert f["GrMean"] == 10.0 and f["GrVariance"] == 0.0 and f["GrNonZeros"] == 1.0


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize("func", [gradient_features, absolute_gradient])
def test_errors(func):
    with pytest.raises(
        ValueError, match=r"image must be a 2-D array; got .* \(2, 2, 2\)"
    ):
        func(np.zeros((2, 2, 2)), np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match=r"got image \(3, 3\) and mask \(2, 3\)"):
        func(np.zeros((3, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="mask must contain at least one ROI pixel"):
        func(np.zeros((3, 3)), np.zeros((3, 3), bool))
    with pytest.raises(ValueError, match=r"finite inside the mask; got 1 NaN"):
        func(np.array([[1.0, np.nan], [2.0, 3.0]]), np.ones((2, 2)))
    with pytest.raises(TypeError, match="got dtype bool"):
        func(np.ones((3, 3), bool), np.ones((3, 3)))


def test_float32_is_computed_in_float64():
    rng = np.random.default_rng(12)
    image = rng.random((20, 20)).astype(np.float32)
    mask = _irregular_roi(rng, image.shape)
    assert gradient_features(image, mask) == gradient_features(
        image.astype(np.float64), mask
    )
