"""Tests of the MaZda autoregressive-model features (oracle, synthetic AR fields)."""

import math

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal

from ceusradiomics.exceptions import DegenerateROIWarning
from ceusradiomics.texture.autoregressive import (
    autoregressive_feature_names,
    autoregressive_features,
)

NAMES = ["Teta1", "Teta2", "Teta3", "Teta4", "Sigma"]
# (dr, dc) of the neighbours of Teta1..Teta4: left, upper-left, upper, upper-right
NEIGHBOURS = ((0, -1), (-1, -1), (-1, 0), (-1, 1))


def _irregular_roi(rng, shape, touch_border=True):
    """A smooth random blob with pin holes; optionally reaching the border."""
    field = scipy.ndimage.gaussian_filter(rng.standard_normal(shape), 2.5)
    mask = field > np.quantile(field, 0.3)
    mask &= rng.random(shape) > 0.05  # holes
    if touch_border:
        mask[0:3, 0:10] = True
        mask[5:15, -2:] = True
    return mask


def _oracle(image, mask):
    """Brute-force loops, least squares by SVD of the stacked design matrix."""
    n_rows, n_cols = image.shape

    def inside(r, c):
        return 0 <= r < n_rows and 0 <= c < n_cols and bool(mask[r, c])

    roi = [
        float(image[r, c]) for r in range(n_rows) for c in range(n_cols) if mask[r, c]
    ]
    mu = sum(roi) / len(roi)
    sd = math.sqrt(sum((v - mu) ** 2 for v in roi) / len(roi))
    design, target = [], []
    for r in range(n_rows):
        for c in range(n_cols):
            if inside(r, c) and all(inside(r + dr, c + dc) for dr, dc in NEIGHBOURS):
                target.append((float(image[r, c]) - mu) / sd)
                design.append(
                    [(float(image[r + dr, c + dc]) - mu) / sd for dr, dc in NEIGHBOURS]
                )
    x, y = np.array(design), np.array(target)
    theta = np.linalg.lstsq(x, y, rcond=None)[0]
    residual = y - x @ theta
    return dict(
        zip(NAMES, [*theta, math.sqrt(residual @ residual / y.size)], strict=True)
    )


def _ar_field(theta, shape, rng, burn=60):
    """A causal AR field with parameters ``theta`` and unit-variance innovations.

    z(r,c) = t1 z(r,c-1) + t2 z(r-1,c-1) + t3 z(r-1,c) + t4 z(r-1,c+1) + e(r,c).

    Row by row: the previous row's terms are known, and the recursion along the
    row is a first-order IIR filter. The first ``burn`` rows and the ``burn``
    columns on each side are dropped, so the kept part is stationary.
    """
    t1, t2, t3, t4 = theta
    n_rows, n_cols = shape[0] + burn, shape[1] + 2 * burn
    noise = rng.standard_normal((n_rows, n_cols))
    z = np.zeros((n_rows, n_cols))
    z[0] = scipy.signal.lfilter([1.0], [1.0, -t1], noise[0])
    for r in range(1, n_rows):
        drive = noise[r].copy()
        drive[1:-1] += t2 * z[r - 1, :-2] + t3 * z[r - 1, 1:-1] + t4 * z[r - 1, 2:]
        z[r] = scipy.signal.lfilter([1.0], [1.0, -t1], drive)
    return z[burn:, burn:-burn], noise[burn:, burn:-burn]


def _assert_features_close(actual, expected, rtol=1e-8):
    assert list(actual) == NAMES
    for name in NAMES:
        assert actual[name] == pytest.approx(expected[name], rel=rtol, abs=1e-10), name


def test_feature_names():
    assert autoregressive_feature_names() == NAMES


# --------------------------------------------------------------------------
# hand-checkable case
# --------------------------------------------------------------------------


def test_additive_image_is_an_exact_ar_model():
    # For I(r, c) = f(r) + g(c) (and so for its z-score), every pixel satisfies
    # z(r,c) = z(r,c-1) - z(r-1,c-1) + z(r-1,c): theta = (1, -1, 1, 0), Sigma = 0.
    # On 4 x 4 the usable pixels are rows 1-3, columns 1-2: 6 equations.
    f = np.array([0.0, 1.0, 4.0, 9.0])
    g = np.array([0.0, 2.0, 3.0, 7.0])
    image = f[:, None] + g[None, :]
    out = autoregressive_features(image, np.ones((4, 4), bool))
    np.testing.assert_allclose(
        [out[n] for n in NAMES[:4]], [1.0, -1.0, 1.0, 0.0], atol=1e-9
    )
    # Sigma comes from y'y - theta'X'y: exact to about sqrt(machine epsilon)
    assert out["Sigma"] == pytest.approx(0.0, abs=1e-6)


# --------------------------------------------------------------------------
# brute-force oracle
# --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", ["float", "uint8", "working"])
def test_matches_loop_oracle(seed, kind):
    rng = np.random.default_rng(seed)
    shape = (30, 34)
    smooth = scipy.ndimage.gaussian_filter(rng.standard_normal(shape), (1.0, 2.0))
    image = smooth + 0.3 * rng.standard_normal(shape)
    if kind == "uint8":
        image = np.clip(128 + 300 * image, 0, 255).astype(np.uint8)
    elif kind == "working":
        image = np.clip(32 + 60 * image, 0, 63).astype(np.intp)
    mask = _irregular_roi(rng, shape, touch_border=seed % 2 == 0)
    expected = _oracle(image, mask)
    _assert_features_close(autoregressive_features(image, mask), expected)


# --------------------------------------------------------------------------
# synthetic AR fields with known parameters
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "theta", [(0.35, -0.15, 0.3, 0.1), (-0.3, 0.2, 0.25, -0.1), (0.5, 0.0, 0.4, -0.05)]
)
def test_recovers_known_theta(theta):
    rng = np.random.default_rng(2024)
    field, noise = _ar_field(theta, (200, 200), rng)
    out = autoregressive_features(field, np.ones(field.shape, bool))
    np.testing.assert_allclose([out[n] for n in NAMES[:4]], theta, atol=0.02)
    # Sigma is the innovation SD in units of the field's SD
    assert out["Sigma"] == pytest.approx(noise.std() / field.std(), rel=0.01)


def test_recovers_known_theta_in_an_irregular_roi():
    theta = (0.35, -0.15, 0.3, 0.1)
    rng = np.random.default_rng(7)
    field, _ = _ar_field(theta, (200, 200), rng)
    rr, cc = np.mgrid[:200, :200]
    mask = ((rr - 100) / 95) ** 2 + ((cc - 100) / 80) ** 2 <= 1
    mask &= rng.random(mask.shape) > 0.02  # holes
    out = autoregressive_features(field, mask)
    np.testing.assert_allclose([out[n] for n in NAMES[:4]], theta, atol=0.03)


# --------------------------------------------------------------------------
# invariants
# --------------------------------------------------------------------------


def test_pixels_outside_the_mask_do_not_matter():
    rng = np.random.default_rng(3)
    image = scipy.ndimage.gaussian_filter(rng.standard_normal((32, 32)), 1.0)
    mask = _irregular_roi(rng, image.shape)
    other = image.copy()
    other[~mask] = np.where(rng.random(int((~mask).sum())) < 0.5, np.nan, np.inf)
    assert autoregressive_features(other, mask) == autoregressive_features(image, mask)


def test_translation_invariance():
    rng = np.random.default_rng(5)
    patch = rng.integers(0, 256, (22, 25), dtype=np.uint8)
    patch_mask = _irregular_roi(rng, patch.shape, touch_border=False)
    big = rng.integers(0, 256, (64, 70), dtype=np.uint8)
    big_mask = np.zeros(big.shape, bool)
    big[30:52, 41:66], big_mask[30:52, 41:66] = patch, patch_mask
    _assert_features_close(
        autoregressive_features(big, big_mask),
        autoregressive_features(patch, patch_mask),
        rtol=1e-12,
    )


@pytest.mark.parametrize(("scale", "offset"), [(3.0, 10.0), (0.01, -5.0), (-2.0, 0.0)])
def test_affine_grey_levels_do_not_matter(scale, offset):
    # z-scoring removes the offset and the scale; a negative scale flips the
    # sign of every z, which leaves the least-squares fit unchanged.
    rng = np.random.default_rng(6)
    image = scipy.ndimage.gaussian_filter(rng.standard_normal((30, 30)), 1.2)
    mask = _irregular_roi(rng, image.shape)
    _assert_features_close(
        autoregressive_features(scale * image + offset, mask),
        autoregressive_features(image, mask),
        rtol=1e-9,
    )


# --------------------------------------------------------------------------
# degenerate input
# --------------------------------------------------------------------------


def _assert_all_nan(features):
    assert list(features) == NAMES and all(np.isnan(v) for v in features.values())


def test_constant_roi():
    image = np.full((8, 8), 9, np.uint8)
    image[0, 0] = 1  # outside the ROI
    mask = np.ones(image.shape, bool)
    mask[0, 0] = False
    with pytest.warns(
        DegenerateROIWarning, match="autoregressive: the ROI is constant"
    ):
        _assert_all_nan(autoregressive_features(image, mask))


def test_too_few_equations():
    # a 2 x 4 ROI: only (1, 1) and (1, 2) have their 4 causal neighbours
    image = np.arange(20, dtype=float).reshape(4, 5) ** 2
    mask = np.zeros(image.shape, bool)
    mask[1:3, 0:4] = True
    with pytest.warns(DegenerateROIWarning, match=r"only 2 ROI pixel\(s\)"):
        _assert_all_nan(autoregressive_features(image, mask))


def test_too_thin_roi_has_no_equation():
    with pytest.warns(DegenerateROIWarning, match=r"only 0 ROI pixel\(s\)"):
        _assert_all_nan(
            autoregressive_features(np.arange(10.0)[None, :], np.ones((1, 10)))
        )


def test_linear_ramp_is_singular():
    # z = a c + b r + const: the 4 neighbour columns span only {z, 1}
    image = 3.0 * np.arange(12)[None, :] + 5.0 * np.arange(10)[:, None]
    with pytest.warns(DegenerateROIWarning, match="collinear.*rank 2 < 4"):
        _assert_all_nan(autoregressive_features(image, np.ones(image.shape, bool)))


def test_checkerboard_is_singular():
    # z = +-1: left = up = -z and upper-left = upper-right = z
    image = (np.indices((8, 8)).sum(axis=0) % 2).astype(np.uint8)  # 32 + 32
    with pytest.warns(DegenerateROIWarning, match="collinear.*rank 1 < 4"):
        _assert_all_nan(autoregressive_features(image, np.ones(image.shape, bool)))


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


def test_errors():
    with pytest.raises(ValueError, match=r"image must be a 2-D array; got .* \(4,\)"):
        autoregressive_features(np.zeros(4), np.ones(4))
    with pytest.raises(ValueError, match=r"got image \(4, 4\) and mask \(4, 5\)"):
        autoregressive_features(np.zeros((4, 4)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="mask must contain at least one ROI pixel"):
        autoregressive_features(np.zeros((4, 4)), np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"finite inside the mask; got 1 NaN"):
        autoregressive_features(np.array([[np.inf, 1.0], [2.0, 3.0]]), np.ones((2, 2)))
    with pytest.raises(TypeError, match="got dtype <U1"):
        autoregressive_features(np.array([["a"]]), np.ones((1, 1)))


def test_float32_is_computed_in_float64():
    rng = np.random.default_rng(12)
    image = rng.random((25, 25)).astype(np.float32)
    mask = _irregular_roi(rng, image.shape)
    assert autoregressive_features(image, mask) == autoregressive_features(
        image.astype(np.float64), mask
    )
