"""The shared records-transformer layer: one validation per ROI, ROIError, registry."""

import struct
import zlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ceusradiomics import (
    PerfusionExtractor,
    TextureExtractor,
    _roi,
    clear_feature_cache,
)
from ceusradiomics.datasets import make_ceus_cohort
from ceusradiomics.exceptions import ROIError, ROIFileNotFoundError
from ceusradiomics.texture import _registry
from ceusradiomics.texture._registry import Family, FamilyParameter, register_family

FAST = {"families": ("hist", "glcm"), "distances": (1,)}


@pytest.fixture(scope="module")
def cohort():
    X, y, _ = make_ceus_cohort(n_lesions=8, image_size=64, random_state=1)
    return X, y


def test_one_validation_per_roi(cohort, monkeypatch):
    X, _ = cohort
    clear_feature_cache("texture")
    calls = []
    original = _roi.validate_roi
    monkeypatch.setattr(
        _roi, "validate_roi", lambda *a, **k: calls.append(k) or original(*a, **k)
    )
    extractor = TextureExtractor(readers="all", cache=False).fit(X)
    extractor.transform(X)
    n_rois = sum(
        1
        for phase, readers in extractor.readers_.items()
        for column in (f"{phase}_mask", *(f"{phase}_mask_{r}" for r in readers))
        for cell in X[column]
        if cell is not None and not (isinstance(cell, float) and np.isnan(cell))
    )
    assert n_rois > len(X) * 3  # the second reader's masks count too
    assert len(calls) == n_rois
    # each call is located: the lesion and the mask column travel with it
    assert {c["mask_column"] for c in calls} >= {"US_mask", "AP_mask", "PP_mask"}


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` grey pixels (no real data)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def _frame(image_cell, mask_cell, lesion="P017"):
    return pd.DataFrame(
        {"US_image": [image_cell], "US_mask": [mask_cell]}, index=[lesion]
    )


def _square_mask(n=32):
    mask = np.zeros((n, n), bool)
    mask[8:24, 8:24] = True
    return mask


def _raises_roi_error(X, column, error=ROIError, **params):
    with pytest.raises(error) as info:
        TextureExtractor(**FAST, **params).fit_transform(X)
    assert info.value.lesion == "P017"
    assert info.value.column == column
    assert str(info.value).startswith(f"lesion 'P017', column '{column}': ")
    return info.value


def test_truncated_png_is_a_located_roi_error(tmp_path):
    path = tmp_path / "us.png"
    Image.fromarray(
        np.arange(32 * 32, dtype=np.uint16).reshape(32, 32).astype(np.uint8)
    ).save(path)
    path.write_bytes(path.read_bytes()[:-40])  # cut the last chunks
    error = _raises_roi_error(_frame(str(path), _square_mask()), "US_image")
    assert error.path == str(path)


def test_decompression_bomb_is_a_located_roi_error(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(_png_header(15000, 15000))
    error = _raises_roi_error(
        _frame(_square_mask().astype(np.uint8), str(path)), "US_mask"
    )
    assert error.path == str(path)
    assert "DecompressionBomb" in str(error)


def test_missing_file_is_a_located_file_not_found(tmp_path):
    path = tmp_path / "nowhere.png"
    error = _raises_roi_error(
        _frame(str(path), _square_mask()), "US_image", ROIFileNotFoundError
    )
    assert isinstance(error, FileNotFoundError)
    assert error.path == str(path)


def test_rgb_images_under_native_normalization(tmp_path):
    rng = np.random.default_rng(0)
    # A float RGB image has float luma: the native range does not apply.
    rgb = rng.random((32, 32, 3))
    error = _raises_roi_error(_frame(rgb, _square_mask()), "US_image")
    assert 'normalization="none"' in str(error) and "float64" in str(error)
    # An 8-bit RGB file keeps 8-bit grey levels (Pillow's "L"): the defaults work.
    path = tmp_path / "rgb.png"
    rgb8 = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(rgb8).save(path)
    out = TextureExtractor(**FAST).fit_transform(_frame(str(path), _square_mask()))
    grey = np.asarray(Image.fromarray(rgb8).convert("L"))
    assert out.loc["P017", "US_Mean"] == pytest.approx(grey[_square_mask()].mean())


def test_float_image_under_native_normalization():
    image = np.random.default_rng(0).random((32, 32))
    error = _raises_roi_error(_frame(image, _square_mask()), "US_image")
    assert "float64" in str(error)


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_errors_found_by_the_maths_are_located(n_jobs):
    # Negative grey levels pass the ROI check; the native range refuses them
    # inside the computation (a worker with n_jobs=2): still located.
    image = np.full((32, 32), -5, np.int16)
    error = _raises_roi_error(_frame(image, _square_mask()), "US_image", n_jobs=n_jobs)
    assert "non-negative" in str(error)


def test_collect_mode_keeps_going(cohort):
    X, _ = cohort
    X = X.copy()
    X.loc[X.index[2], "AP_mask"] = np.zeros_like(X.loc[X.index[2], "AP_mask"])
    X.loc[X.index[5], "US_image"] = None
    extractor = TextureExtractor(**FAST).fit(X)
    table, errors = extractor._transform_records(X, on_error="collect")
    assert [(e.lesion, e.column) for e in errors] == [
        (X.index[2], "AP_mask"),
        (X.index[5], "US_image"),
    ]
    assert table.loc[[X.index[2], X.index[5]]].isna().all().all()
    good = X.drop(index=[X.index[2], X.index[5]])
    np.testing.assert_array_equal(
        table.drop(index=[X.index[2], X.index[5]]).to_numpy(),
        extractor.transform(good).to_numpy(),
    )
    with pytest.raises(ROIError) as info:
        extractor.transform(X)
    assert (info.value.lesion, info.value.column) == (X.index[2], "AP_mask")


def test_perfusion_cell_errors_are_located():
    frames = np.random.default_rng(0).integers(0, 255, (30, 32, 32)).astype(np.uint8)
    X = pd.DataFrame(
        {"CEUS_cine": [(frames, np.arange(30.0))], "CEUS_mask": [np.zeros((32, 31))]},
        index=["P017"],
    )
    with pytest.raises(ROIError) as info:
        PerfusionExtractor().fit_transform(X)
    assert (info.value.lesion, info.value.column) == ("P017", "CEUS_mask")


@pytest.fixture
def toy_family():
    """A family with a parameter of its own, registered for one test."""

    def names(shift_offset):
        return [f"ShiftedMean{shift_offset}"]

    def compute(work, mask, *, levels, origin, shift_offset):
        mean = float(work[mask].mean())
        return {f"ShiftedMean{shift_offset}": mean + shift_offset}

    def resolve(value):
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"shift_offset must be an int >= 0; got {value!r}")
        return value

    family = Family(
        "shift",
        "shifted mean",
        names,
        compute,
        default_bits=8,
        parameters=(FamilyParameter("shift_offset", 1, resolve, "added to the mean"),),
    )
    register_family(family)
    yield family
    del _registry.FAMILIES["shift"]


def test_a_registered_family_reaches_the_extractor(toy_family, cohort):
    X, _ = cohort
    out = TextureExtractor(
        phases="US", families=("hist", "shift"), family_params={"shift_offset": 3}
    ).fit_transform(X)
    assert out.columns[-1] == "US_ShiftedMean3"
    np.testing.assert_allclose(out["US_ShiftedMean3"], out["US_Mean"] + 3)
    with pytest.raises(ValueError, match="shift_offset must be an int >= 0"):
        TextureExtractor(families=("shift",), family_params={"shift_offset": -1}).fit(X)
    with pytest.raises(ValueError, match="unknown texture family parameter"):
        TextureExtractor(family_params={"nope": 1}).fit(X)
    with pytest.raises(ValueError, match="already registered"):
        register_family(toy_family)


def _disc(n=64, radius=20):
    rows, cols = np.ogrid[:n, :n]
    return (rows - n / 2) ** 2 + (cols - n / 2) ** 2 <= radius**2


def _outline(disc):
    from scipy import ndimage

    return disc & ~ndimage.binary_erosion(disc)


def test_outline_masks_are_refused_or_filled(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    disc = _disc()
    path = tmp_path / "outline.png"
    Image.fromarray(_outline(disc).astype(np.uint8) * 255).save(path)
    X = _frame(image, str(path))
    with pytest.raises(ROIError, match="looks like an outline") as info:
        TextureExtractor(**FAST).fit_transform(X)
    assert (info.value.lesion, info.value.column) == ("P017", "US_mask")
    filled = TextureExtractor(**FAST, fill_outline=True).fit_transform(X)
    direct = TextureExtractor(**FAST).fit_transform(_frame(image, disc))
    pd.testing.assert_frame_equal(filled, direct)
    # A thin open line is a (degenerate) ROI, not an outline; a filled ROI
    # with a one-pixel ring around it is not flagged either.
    line = np.zeros((64, 64), bool)
    line[32, 5:60] = True
    assert _roi.outline_of(line, _roi.roi_bbox(line)) is None
    assert _roi.outline_of(disc, _roi.roi_bbox(disc)) is None


def test_label_masks_warn_or_pick_one():
    from ceusradiomics.exceptions import MaskLabelWarning

    image = np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8)
    labels = np.zeros((32, 32), np.uint8)
    labels[4:14, 4:14] = 1
    labels[18:28, 18:28] = 2
    X = _frame(image, labels)
    with pytest.warns(
        MaskLabelWarning, match=r"lesion 'P017', column 'US_mask'.*\(1, 2\)"
    ):
        merged = TextureExtractor(families="hist").fit_transform(X)
    assert merged.loc["P017", "US_Mean"] == pytest.approx(image[labels > 0].mean())
    second = TextureExtractor(families="hist", mask_label=2).fit_transform(X)
    assert second.loc["P017", "US_Mean"] == pytest.approx(image[labels == 2].mean())


def test_fitted_extractor_reads_new_frames_without_further_readers(cohort):
    # Fitted with two readers on still images; new lesions come with one
    # reader, and one of them as a cine whose frame column picks the still.
    X = cohort[0]
    extractor = TextureExtractor(readers="all", families=["hist"], phases=("US",)).fit(
        X
    )
    reference = extractor.transform(X)
    new = X[["US_image", "US_mask"]].copy()
    lesion = new.index[0]
    still = new.at[lesion, "US_image"]
    noise = np.random.default_rng(0).integers(0, 255, (2, *still.shape), np.uint8)
    new["US_image"] = new["US_image"].astype(object)
    new.at[lesion, "US_image"] = np.stack([noise[0], still, noise[1]])
    new["US_frame"] = [1] + [None] * (len(new) - 1)
    got = extractor.transform(new)
    primary = [c for c in reference.columns if "@" not in c]
    pd.testing.assert_frame_equal(got[primary], reference[primary])
    assert got.drop(columns=primary).isna().all().all()  # no second reader
    with pytest.raises(ValueError, match="lacks the columns"):
        extractor.transform(new.drop(columns="US_mask"))
