"""texture_features: every family at once, names, bits, normalisation, crops."""

import numpy as np
import pytest

from ceusradiomics.texture import (
    co_occurrence_features,
    histogram_features,
    quantize,
    texture_feature_names,
    texture_features,
    wavelet_features,
)


@pytest.fixture
def roi():
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, size=(150, 170), dtype=np.uint8)
    rows, cols = np.ogrid[:150, :170]
    mask = ((rows - 80) / 45) ** 2 + ((cols - 90) / 70) ** 2 <= 1
    mask[70:75, 60:64] = False  # a hole
    return image, mask


def test_keys_follow_the_registry_order(roi):
    features = texture_features(*roi)
    assert list(features) == texture_feature_names()
    assert all(isinstance(v, float) for v in features.values())


def test_a_crop_with_its_origin_equals_the_full_image(roi):
    image, mask = roi
    full = texture_features(image, mask, wavelet_scales=5)
    crop = texture_features(
        image[20:, 13:], mask[20:, 13:], wavelet_scales=5, origin=(20, 13)
    )
    np.testing.assert_array_equal(list(full.values()), list(crop.values()))
    # Without the origin the Haar grid moves, and only the wavelets change.
    moved = texture_features(image[20:, 13:], mask[20:, 13:], wavelet_scales=5)
    changed = [k for k in full if not np.isclose(full[k], moved[k], equal_nan=True)]
    assert changed and all(k.startswith("WavEn") for k in changed)


def test_each_family_sees_its_own_working_image(roi):
    image, mask = roi
    features = texture_features(image, mask, bits={"glcm": 4}, distances=(1,))
    expected = co_occurrence_features(
        quantize(image, mask, bits=4), mask, levels=16, distances=(1,)
    )
    for name, value in expected.items():
        assert features[name] == pytest.approx(value, rel=1e-12, nan_ok=True)
    # The histogram keeps 8 bits: the original grey levels of an 8-bit image.
    assert features["Mean"] == pytest.approx(image[mask].mean())


def test_native_range_of_16_bit_images_drops_low_bits(roi):
    image, mask = roi
    wide = image.astype(np.uint16) * 256 + 17
    features = texture_features(wide, mask, families="hist")
    assert features == histogram_features(image, mask)


def test_normalization_is_needed_for_float_images(roi):
    image, mask = roi
    scaled = image / 255.0
    with pytest.raises(ValueError, match="minmax"):
        texture_features(scaled, mask, families="hist")
    a = texture_features(scaled, mask, families="glcm", normalization="minmax")
    b = texture_features(image, mask, families="glcm", normalization="minmax")
    np.testing.assert_allclose(list(a.values()), list(b.values()))


def test_wavelet_scales_int_means_one_to_k(roi):
    image, mask = roi
    features = texture_features(image, mask, families="wav", wavelet_scales=3)
    assert features == wavelet_features(image, mask, scales=(1, 2, 3))
    assert texture_feature_names("wav", wavelet_scales=(2, 4))[0] == "WavEnLL_s-2"


def test_invalid_roi_is_reported_before_any_family(roi):
    image, mask = roi
    with pytest.raises(
        ValueError,
        match=r"mask must have the same shape as image; got image \(\d+, \d+\) "
        r"and mask \(\d+, \d+\)",
    ):
        texture_features(image, mask[:-1])
    with pytest.raises(ValueError, match=r"at least one ROI pixel.*the mask is empty"):
        texture_features(image, np.zeros_like(mask))
