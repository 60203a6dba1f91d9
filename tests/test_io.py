"""Tests of ceusradiomics.io: image/mask reading, ROI validation, the records frame.

Every fixture file is written by the test into ``tmp_path``; the real
ultrasound DICOMs come from pydicom's own test data (skipped where absent).
"""

import os
import pickle

import numpy as np
import pandas as pd
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, convert_color_space, get_decoder
from pydicom.uid import UID, JPEG2000Lossless

import ceusradiomics.io as cio
from ceusradiomics.exceptions import ROIError, ROIFileNotFoundError, ROITypeError
from ceusradiomics.io import (
    check_phases,
    image_phases,
    is_missing,
    load_cohort,
    load_roi,
    mask_readers,
    read_image,
    read_mask,
    validate_roi,
)

US_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.6.1")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def hand_luma(rgb):
    """ITU-R BT.601 luma written out channel by channel (the oracle).

    Integer colour keeps integer grey levels of its dtype: the weights in
    16-bit fixed point, rounded half up (Pillow's convert("L") rule).
    """
    if rgb.dtype == np.uint8:
        r, g, b = (rgb[..., k].astype(np.int64) for k in range(3))
        return ((19595 * r + 38470 * g + 7471 * b + 32768) >> 16).astype(rgb.dtype)
    if rgb.dtype.kind in "ui":
        return np.floor(hand_luma(rgb.astype(np.float64)) + 0.5).astype(rgb.dtype)
    rgb = rgb.astype(np.float64)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def colour_image(rng, shape=(6, 7)):
    rgb = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    rgb[0, 0] = (10, 20, 30)  # guarantees that the channels differ
    return rgb


def smooth_image(shape=(32, 40)):
    """Smooth content, so that lossy JPEG stays close to the original."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    return (100 + 60 * np.sin(rows / 6.0) * np.cos(cols / 7.0)).astype(np.uint8)


def write_dicom(path, arr, photometric, bits_stored, **elements):
    ds = Dataset()
    ds.SOPClassUID = US_IMAGE_STORAGE
    ds.Modality = "US"
    ds.set_pixel_data(arr, photometric, bits_stored)
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    ds.save_as(path, enforce_file_format=True)
    return path


def pydicom_file(name):
    path = pydicom.data.get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not shipped with this pydicom")
    return path


# --------------------------------------------------------------------------
# read_image: arrays
# --------------------------------------------------------------------------


def test_2d_array_is_returned_as_is():
    image = np.arange(12, dtype=np.int16).reshape(3, 4)
    assert read_image(image) is image
    assert read_image(image, frame=0) is image


def test_rgb_array_luma_matches_hand_computation(rng):
    rgb = colour_image(rng)
    grey = read_image(rgb)
    assert grey.dtype == np.uint8
    np.testing.assert_array_equal(grey, hand_luma(rgb))
    # the float formula, rounded, differs by at most one level
    exact = hand_luma(rgb.astype(np.float64))
    assert np.abs(grey - exact).max() <= 0.5 + 1e-9


def test_8bit_luma_equals_pillow_convert_l(rng):
    rgb = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    pillow = np.asarray(Image.fromarray(rgb).convert("L"))
    np.testing.assert_array_equal(read_image(rgb), pillow)


def test_16bit_colour_keeps_16_bits(rng):
    rgb = rng.integers(0, 65536, (5, 6, 3)).astype(np.uint16)
    grey = read_image(rgb)
    assert grey.dtype == np.uint16
    exact = hand_luma(rgb.astype(np.float64))
    assert np.abs(grey - exact).max() <= 0.5 + 1e-9
    np.testing.assert_array_equal(grey, np.floor(exact + 0.5))


def test_pure_colours_give_the_bt601_weights():
    rgb = np.array([[[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]]], dtype=np.float32)
    np.testing.assert_allclose(read_image(rgb)[0], [0.299, 0.587, 0.114, 1.0])


@pytest.mark.parametrize(("color", "channel"), [("red", 0), ("green", 1), ("blue", 2)])
def test_channel_choice_keeps_dtype(rng, color, channel):
    rgb = rng.integers(0, 60000, (5, 6, 3)).astype(np.uint16)
    grey = read_image(rgb, color=color)
    assert grey.dtype == np.uint16
    np.testing.assert_array_equal(grey, rgb[..., channel])


def test_rgba_array_drops_alpha(rng):
    rgb = colour_image(rng)
    alpha = rng.integers(0, 256, rgb.shape[:2], dtype=np.uint8)
    rgba = np.dstack([rgb, alpha])
    np.testing.assert_array_equal(read_image(rgba), read_image(rgb))


def test_identical_channels_are_grey(rng):
    grey = rng.integers(0, 256, (5, 6), dtype=np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    for color in ("luma", "red", "error"):
        out = read_image(rgb, color=color)
        assert out.dtype == np.uint8
        np.testing.assert_array_equal(out, grey)


def test_single_channel_and_grey_alpha_arrays(rng):
    grey = rng.integers(0, 256, (5, 6), dtype=np.uint8)
    np.testing.assert_array_equal(read_image(grey[..., None]), grey)
    np.testing.assert_array_equal(read_image(np.dstack([grey, 255 - grey])), grey)


def test_color_error_on_colour_array(rng):
    with pytest.raises(ValueError, match="colour image whose channels differ"):
        read_image(colour_image(rng), color="error")


def test_stack_of_frames_needs_frame():
    cine = np.arange(5 * 4 * 6, dtype=np.uint8).reshape(5, 4, 6)
    np.testing.assert_array_equal(read_image(cine, frame=3), cine[3])
    with pytest.raises(ValueError, match=r"holds 5 frames .*pass frame= \(an int"):
        read_image(cine)
    with pytest.raises(ValueError, match=r"frame=5 is out of range .* 5 frames"):
        read_image(cine, frame=5)


def test_stack_of_colour_frames(rng):
    cine = rng.integers(0, 256, (3, 4, 5, 3), dtype=np.uint8)
    np.testing.assert_allclose(read_image(cine, frame=2), hand_luma(cine[2]))
    with pytest.raises(ValueError, match="holds 3 frames"):
        read_image(cine)


def test_frame_on_a_single_frame_array():
    with pytest.raises(ValueError, match=r"frame=1 is out of range .* 1 frame$"):
        read_image(np.zeros((3, 3)), frame=1)


@pytest.mark.parametrize("shape", [(4,), (2, 3, 4, 5, 6)])
def test_array_of_wrong_rank(shape):
    with pytest.raises(
        ValueError, match=r"expected a 2-D image.*got an array of shape"
    ):
        read_image(np.zeros(shape), frame=None if len(shape) == 1 else 0)


def test_unknown_color():
    with pytest.raises(ValueError, match=r"color must be one of 'luma'.*got 'gray'"):
        read_image(np.zeros((2, 2)), color="gray")


@pytest.mark.parametrize(
    ("frame", "error", "match"),
    [
        (-1, ValueError, "frame must be >= 0; got -1"),
        (True, TypeError, "frame must be an int or None; got True"),
        (1.0, TypeError, "frame must be an int or None; got 1.0"),
    ],
)
def test_bad_frame(frame, error, match):
    with pytest.raises(error, match=match):
        read_image(np.zeros((2, 2)), frame=frame)


def test_bad_source_type():
    with pytest.raises(TypeError, match=r"source must be a numpy array, a path.*list"):
        read_image([[1, 2], [3, 4]])


# --------------------------------------------------------------------------
# read_image: files through Pillow
# --------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif"])
def test_lossless_8bit_grey(tmp_path, rng, suffix):
    grey = rng.integers(0, 256, (9, 11), dtype=np.uint8)
    path = tmp_path / f"grey{suffix}"
    Image.fromarray(grey).save(path)
    for source in (path, str(path)):
        out = read_image(source)
        assert out.dtype == np.uint8
        assert out.flags.writeable
        np.testing.assert_array_equal(out, grey)


def test_png_16bit_keeps_values(tmp_path, rng):
    image = rng.integers(0, 65536, (9, 11)).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(image).save(path)
    assert Image.open(path).mode == "I;16"
    out = read_image(path)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, image)


def test_tiff_float32_keeps_values(tmp_path, rng):
    image = rng.normal(0, 1000, (9, 11)).astype(np.float32)
    path = tmp_path / "float.tif"
    Image.fromarray(image).save(path)
    out = read_image(path)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, image)


def test_tiff_int32_keeps_values(tmp_path):
    image = (np.arange(12, dtype=np.int32).reshape(3, 4) - 6) * 100000
    path = tmp_path / "int.tif"
    Image.fromarray(image).save(path)
    out = read_image(path)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, image)


def test_jpeg_grey_within_lossy_tolerance(tmp_path):
    image = smooth_image()
    path = tmp_path / "grey.jpg"
    Image.fromarray(image).save(path, quality=95)
    out = read_image(path)
    assert out.dtype == np.uint8
    assert out.shape == image.shape
    assert np.abs(out.astype(int) - image).max() <= 3


def test_jpeg_rgb_luma(tmp_path):
    grey = smooth_image()
    rgb = np.dstack([grey, 255 - grey, grey // 2])
    path = tmp_path / "colour.jpg"
    Image.fromarray(rgb).save(path, quality=95)
    out = read_image(path)
    assert out.dtype == np.uint8
    # Lossy: close to the luma of what was written ...
    assert np.abs(out - hand_luma(rgb.astype(float))).mean() < 2
    # ... and, on the decoded pixels, exactly Pillow's own BT.601 "L".
    with Image.open(path) as img:
        decoded = np.asarray(img.convert("RGB"))
    np.testing.assert_array_equal(out, hand_luma(decoded))
    np.testing.assert_array_equal(
        out, np.asarray(Image.fromarray(decoded).convert("L"))
    )


def test_rgb_png_five_color_options(tmp_path, rng):
    rgb = colour_image(rng)
    path = tmp_path / "colour.png"
    Image.fromarray(rgb).save(path)
    np.testing.assert_allclose(read_image(path), hand_luma(rgb), rtol=0, atol=1e-12)
    # Hand computation of one pixel: (10, 20, 30) -> 2.99 + 11.74 + 3.42 = 18.15
    assert read_image(path)[0, 0] == 18
    for color, channel in (("red", 0), ("green", 1), ("blue", 2)):
        out = read_image(path, color=color)
        assert out.dtype == np.uint8
        np.testing.assert_array_equal(out, rgb[..., channel])
    with pytest.raises(ValueError, match=r"colour\.png' is a colour image"):
        read_image(path, color="error")


def test_rgb_png_with_identical_channels_is_grey_uint8(tmp_path, rng):
    grey = rng.integers(0, 256, (9, 11), dtype=np.uint8)
    path = tmp_path / "capture.png"
    Image.fromarray(np.dstack([grey] * 3)).save(path)
    assert Image.open(path).mode == "RGB"
    out = read_image(path, color="error")
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, grey)


def test_rgba_png_drops_alpha(tmp_path, rng):
    rgb = colour_image(rng)
    path = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)])).save(path)
    np.testing.assert_allclose(read_image(path), hand_luma(rgb), atol=1e-12)


def test_palette_png_is_expanded_to_rgb(tmp_path, rng):
    rgb = colour_image(rng, (12, 10))
    palette_img = Image.fromarray(rgb).quantize(colors=16)
    path = tmp_path / "palette.png"
    palette_img.save(path)
    assert Image.open(path).mode == "P"
    expanded = np.asarray(palette_img.convert("RGB"))
    np.testing.assert_allclose(read_image(path), hand_luma(expanded), atol=1e-12)


def test_grey_palette_png_is_grey_uint8(tmp_path):
    indices = np.arange(20, dtype=np.uint8).reshape(4, 5)
    img = Image.fromarray(indices, mode="P")
    img.putpalette([v for i in range(256) for v in (255 - i,) * 3])
    path = tmp_path / "grey_palette.png"
    img.save(path)
    out = read_image(path)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, 255 - indices)


def test_bilevel_and_grey_alpha_png(tmp_path):
    bits = np.array([[0, 1, 1], [1, 0, 0]], dtype=bool)
    path = tmp_path / "bits.png"
    Image.fromarray(bits).save(path)
    assert Image.open(path).mode == "1"
    np.testing.assert_array_equal(read_image(path), bits * np.uint8(255))
    grey = np.array([[3, 4, 5], [6, 7, 8]], dtype=np.uint8)
    path = tmp_path / "la.png"
    Image.fromarray(np.dstack([grey, grey * 0 + 9])).convert("LA").save(path)
    np.testing.assert_array_equal(read_image(path), grey)


def test_multipage_tiff_needs_frame(tmp_path, rng):
    frames = rng.integers(0, 256, (3, 5, 6), dtype=np.uint8)
    path = tmp_path / "pages.tif"
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:])
    for k in range(3):
        np.testing.assert_array_equal(read_image(path, frame=k), frames[k])
    with pytest.raises(ValueError, match=r"pages.tif' holds 3 frames .*pass frame="):
        read_image(path)
    with pytest.raises(ValueError, match="frame=3 is out of range"):
        read_image(path, frame=3)


def test_pil_image_source(rng):
    grey = rng.integers(0, 256, (4, 5), dtype=np.uint8)
    np.testing.assert_array_equal(read_image(Image.fromarray(grey)), grey)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.png"
    with pytest.raises(FileNotFoundError, match=r"no such image file: '.*nope\.png'"):
        read_image(path)


def test_directory_is_not_an_image(tmp_path):
    with pytest.raises(ValueError, match="is a directory, not an image file"):
        read_image(tmp_path)


def test_unreadable_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not an image")
    with pytest.raises(ValueError, match=r"cannot read '.*notes\.txt' as an image"):
        read_image(path)


def test_invalid_dicom_file(tmp_path):
    path = tmp_path / "broken.dcm"
    path.write_bytes(b"\x00" * 10)
    with pytest.raises(ValueError, match=r"cannot read '.*broken\.dcm' as DICOM"):
        read_image(path)


# --------------------------------------------------------------------------
# read_image: DICOM written by the test
# --------------------------------------------------------------------------


def test_dicom_monochrome2_uint16(tmp_path, rng):
    image = rng.integers(0, 65536, (6, 7)).astype(np.uint16)
    path = write_dicom(tmp_path / "mono.dcm", image, "MONOCHROME2", 16)
    out = read_image(path)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, image)


def test_dicom_detected_by_preamble(tmp_path, rng):
    image = rng.integers(0, 4096, (6, 7)).astype(np.uint16)
    path = write_dicom(tmp_path / "IM0001", image, "MONOCHROME2", 12)
    np.testing.assert_array_equal(read_image(path), image)


def test_dicom_dataset_source(tmp_path, rng):
    image = rng.integers(0, 256, (6, 7), dtype=np.uint8)
    path = write_dicom(tmp_path / "ds.dcm", image, "MONOCHROME2", 8)
    np.testing.assert_array_equal(read_image(pydicom.dcmread(path)), image)


def test_dicom_monochrome1_is_inverted_within_bits_stored(tmp_path, rng):
    image = rng.integers(0, 4096, (6, 7)).astype(np.uint16)
    path = write_dicom(tmp_path / "m1.dcm", image, "MONOCHROME1", 12)
    out = read_image(path)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, 4095 - image)


def test_dicom_monochrome1_signed(tmp_path, rng):
    image = rng.integers(-2048, 2048, (6, 7)).astype(np.int16)
    path = write_dicom(tmp_path / "m1s.dcm", image, "MONOCHROME1", 12)
    out = read_image(path)
    assert out.dtype == np.int16
    # Mirror of [-2048, 2047] onto itself: v -> -2048 + 2047 - v.
    np.testing.assert_array_equal(out, -1 - image)


def test_dicom_rescale_applied(tmp_path, rng):
    image = rng.integers(0, 4096, (6, 7)).astype(np.uint16)
    path = write_dicom(
        tmp_path / "rescaled.dcm",
        image,
        "MONOCHROME2",
        12,
        RescaleSlope=2,
        RescaleIntercept=-1024,
    )
    out = read_image(path)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, 2.0 * image - 1024)


def test_dicom_identity_rescale_keeps_dtype(tmp_path, rng):
    image = rng.integers(0, 4096, (6, 7)).astype(np.uint16)
    path = write_dicom(
        tmp_path / "identity.dcm",
        image,
        "MONOCHROME2",
        12,
        RescaleSlope=1,
        RescaleIntercept=0,
    )
    out = read_image(path)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, image)


def test_dicom_rgb(tmp_path, rng):
    rgb = colour_image(rng)
    path = write_dicom(tmp_path / "rgb.dcm", rgb, "RGB", 8)
    np.testing.assert_allclose(read_image(path), hand_luma(rgb), atol=1e-12)
    np.testing.assert_array_equal(read_image(path, color="blue"), rgb[..., 2])
    with pytest.raises(ValueError, match="colour image whose channels differ"):
        read_image(path, color="error")


def test_dicom_ybr_full_is_converted_to_rgb(tmp_path, rng):
    rgb = colour_image(rng, (8, 9))
    ybr = convert_color_space(rgb, "RGB", "YBR_FULL")
    path = write_dicom(tmp_path / "ybr.dcm", ybr, "YBR_FULL", 8)
    expected = convert_color_space(ybr, "YBR_FULL", "RGB")
    np.testing.assert_allclose(read_image(path), hand_luma(expected), atol=1e-12)
    # The Y of YBR_FULL is BT.601 luma, so the round trip (two uint8
    # roundings) stays within about one grey level of it.
    assert np.abs(read_image(path) - ybr[..., 0]).max() <= 1.5
    assert np.abs(read_image(path) - hand_luma(rgb)).max() <= 1.5


def test_dicom_multiframe_needs_frame(tmp_path, rng):
    cine = rng.integers(0, 256, (4, 6, 7), dtype=np.uint8)
    path = write_dicom(tmp_path / "cine.dcm", cine, "MONOCHROME2", 8)
    for k in range(4):
        np.testing.assert_array_equal(read_image(path, frame=k), cine[k])
    with pytest.raises(
        ValueError, match=r"cine\.dcm' holds 4 frames \(a cine\); pass frame="
    ):
        read_image(path)
    with pytest.raises(ValueError, match=r"frame=4 is out of range .* 4 frames"):
        read_image(path, frame=4)


def test_dicom_multiframe_rgb(tmp_path, rng):
    cine = rng.integers(0, 256, (3, 6, 7, 3), dtype=np.uint8)
    path = write_dicom(tmp_path / "cine_rgb.dcm", cine, "RGB", 8)
    np.testing.assert_allclose(read_image(path, frame=1), hand_luma(cine[1]))


def test_dicom_single_frame_accepts_frame_zero_only(tmp_path):
    path = write_dicom(
        tmp_path / "one.dcm", np.eye(3, dtype=np.uint8), "MONOCHROME2", 8
    )
    np.testing.assert_array_equal(read_image(path, frame=0), np.eye(3))
    with pytest.raises(ValueError, match="frame=1 is out of range"):
        read_image(path, frame=1)


def test_dicom_without_pixel_data(tmp_path):
    ds = Dataset()
    ds.SOPClassUID = US_IMAGE_STORAGE
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.PatientID = "P1"
    path = tmp_path / "nopixels.dcm"
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(ValueError, match="holds no pixel data"):
        read_image(path)


# --------------------------------------------------------------------------
# read_image: real ultrasound shipped with pydicom
# --------------------------------------------------------------------------


def _rgb_frame_by_pydicom(path, frame=None):
    ds = pydicom.dcmread(path)
    rgb = ds.pixel_array  # pydicom's own decoding, YBR -> RGB included
    return rgb if frame is None else rgb[frame]


def test_pydicom_ybr_cine():
    path = pydicom_file("examples_ybr_color.dcm")
    with pytest.raises(ValueError, match=r"holds 30 frames .*from 0 to 29"):
        read_image(path)
    raw_ds = pydicom.dcmread(path)
    for k in (0, 17, 29):
        grey = read_image(path, frame=k)
        assert grey.shape == (240, 320)
        assert grey.dtype == np.uint8
        # Same as the luma of pydicom's own RGB conversion of that frame.
        rgb = _rgb_frame_by_pydicom(path, k)
        np.testing.assert_allclose(grey, hand_luma(rgb), atol=1e-9)
        # And close to the Y plane stored in the file: the YCbCr -> RGB
        # conversion rounds to uint8 and clips the few out-of-gamut pixels.
        ybr, meta = get_decoder(raw_ds.file_meta.TransferSyntaxUID).as_array(
            raw_ds, index=k, raw=True
        )
        assert meta["photometric_interpretation"] == "YBR_FULL_422"
        diff = np.abs(grey.astype(float) - ybr[..., 0])
        assert diff.mean() < 0.1
        assert np.mean(diff > 1.5) < 0.005
    assert not np.array_equal(read_image(path, frame=0), read_image(path, frame=29))
    with pytest.raises(ValueError, match="frame=30 is out of range"):
        read_image(path, frame=30)


def test_pydicom_jpeg2000():
    path = pydicom_file("examples_jpeg2k.dcm")
    if not get_decoder(JPEG2000Lossless).is_available:
        pytest.skip("no JPEG 2000 decoding plugin for pydicom is installed")
    grey = read_image(path)
    assert grey.shape == (480, 640)
    assert grey.min() >= 0 and grey.max() <= 255
    np.testing.assert_allclose(grey, hand_luma(_rgb_frame_by_pydicom(path)), atol=1e-9)


def test_pydicom_rgb():
    path = pydicom_file("examples_rgb_color.dcm")
    rgb = _rgb_frame_by_pydicom(path)
    grey = read_image(path)
    assert grey.shape == (240, 320)
    np.testing.assert_allclose(grey, hand_luma(rgb), atol=1e-9)
    np.testing.assert_array_equal(read_image(path, color="red"), rgb[..., 0])


def test_pydicom_palette():
    path = pydicom_file("examples_palette.dcm")
    ds = pydicom.dcmread(path)
    rgb = apply_color_lut(ds.pixel_array, ds)
    grey = read_image(path)
    assert grey.shape == (ds.Rows, ds.Columns)
    np.testing.assert_allclose(grey, hand_luma(rgb), atol=1e-9)


# --------------------------------------------------------------------------
# read_mask
# --------------------------------------------------------------------------


def test_read_mask_bool_array_is_returned_as_is():
    mask = np.eye(3, dtype=bool)
    assert read_mask(mask) is mask


def test_read_mask_nonzero_and_label():
    labels = np.array([[0, 1, 2], [2, 0, 3]], dtype=np.uint8)
    np.testing.assert_array_equal(read_mask(labels), labels != 0)
    np.testing.assert_array_equal(read_mask(labels, label=2), labels == 2)
    assert read_mask(labels).dtype == np.bool_


def test_read_mask_png_0_255(tmp_path):
    mask = np.zeros((5, 6), dtype=bool)
    mask[1:4, 2:5] = True
    path = tmp_path / "roi.png"
    Image.fromarray(mask.astype(np.uint8) * 255).save(path)
    np.testing.assert_array_equal(read_mask(path), mask)
    np.testing.assert_array_equal(read_mask(path, label=255), mask)


def test_read_mask_colour(tmp_path):
    rgb = np.zeros((4, 5, 3), dtype=np.uint8)
    rgb[1, 1] = (255, 0, 0)
    rgb[2, 3] = (0, 0, 1)  # nonzero in the blue channel only
    path = tmp_path / "colour_roi.png"
    Image.fromarray(rgb).save(path)
    expected = np.zeros((4, 5), dtype=bool)
    expected[1, 1] = expected[2, 3] = True
    np.testing.assert_array_equal(read_mask(path), expected)
    red_only = np.zeros((4, 5), dtype=bool)
    red_only[1, 1] = True
    np.testing.assert_array_equal(read_mask(path, label=(255, 0, 0)), red_only)
    with pytest.raises(ValueError, match="label must be an RGB triple"):
        read_mask(path, label=255)


def test_read_mask_rgb_with_equal_channels_takes_a_scalar_label():
    rgb = np.zeros((3, 3, 3), dtype=np.uint8)
    rgb[1, 1] = 7
    np.testing.assert_array_equal(read_mask(rgb, label=7), rgb[..., 0] == 7)


def test_read_mask_errors():
    with pytest.raises(ValueError, match="label must be a scalar for a grey mask"):
        read_mask(np.eye(3), label=(1, 0, 0))
    with pytest.raises(ValueError, match=r"mask holds 1 NaN value\(s\)"):
        read_mask(np.array([[0.0, np.nan], [1.0, 0.0]]))
    with pytest.raises(
        TypeError,
        match=r"mask must be a bool or numeric array \(nonzero = inside\); got dtype "
        "object",
    ):
        read_mask(np.array([["a", "b"]], dtype=object))


def test_read_mask_dicom_frame(tmp_path):
    masks = np.zeros((2, 4, 4), dtype=np.uint8)
    masks[1, 1:3, 1:3] = 1
    path = write_dicom(tmp_path / "masks.dcm", masks, "MONOCHROME2", 8)
    np.testing.assert_array_equal(read_mask(path, frame=1), masks[1] == 1)
    with pytest.raises(ValueError, match="holds 2 frames"):
        read_mask(path)


# --------------------------------------------------------------------------
# validate_roi
# --------------------------------------------------------------------------


def test_validate_roi_returns_inputs_without_copy():
    image = np.arange(12.0).reshape(3, 4)
    mask = np.zeros((3, 4), dtype=bool)
    mask[1, 1:3] = True
    out_image, out_mask = validate_roi(image, mask)
    assert out_image is image
    assert out_mask is mask


def test_validate_roi_binarises_numeric_masks():
    image = np.ones((2, 3), dtype=np.uint16)
    _, mask = validate_roi(image, np.array([[0, 2, 0], [0, 0, 255]]))
    np.testing.assert_array_equal(mask, [[False, True, False], [False, False, True]])


def test_validate_roi_shape_mismatch_message():
    with pytest.raises(ROIError) as info:
        validate_roi(
            np.zeros((480, 640)),
            np.ones((480, 641)),
            lesion="P017",
            image_column="AP_image",
            mask_column="AP_mask",
        )
    assert str(info.value) == (
        "lesion 'P017', column 'AP_mask': mask must have the same shape as image; "
        "got image (480, 640) and mask (480, 641)"
    )
    assert info.value.lesion == "P017"
    assert info.value.column == "AP_mask"
    assert info.value.path is None


@pytest.mark.parametrize(
    ("lesion", "column", "prefix"),
    [
        ("P017", "AP_mask", "lesion 'P017', column 'AP_mask': "),
        ("P017", None, "lesion 'P017': "),
        (None, "AP_mask", "column 'AP_mask': "),
        (None, None, ""),
        (17, "US_mask", "lesion 17, column 'US_mask': "),
        (np.str_("P1"), None, "lesion 'P1': "),
        (np.int64(3), None, "lesion 3: "),
    ],
)
def test_validate_roi_message_prefix(lesion, column, prefix):
    with pytest.raises(ROIError) as info:
        validate_roi(
            np.zeros((2, 2)), np.zeros((2, 2)), lesion=lesion, mask_column=column
        )
    assert str(info.value) == prefix + (
        "mask must contain at least one ROI pixel (nonzero): the mask is empty"
    )
    assert info.value.lesion is lesion
    assert info.value.column == column


ONE = np.ones((3, 3))


@pytest.mark.parametrize(
    ("image", "mask", "error", "column", "match"),
    [
        (
            np.zeros((3, 3, 3)),
            ONE,
            ROIError,
            "US_image",
            r"^lesion 'P1', column 'US_image': image must be a 2-D array; got an "
            r"array of shape \(3, 3, 3\); convert colour images to grey levels "
            r"\(color=\) or pick one frame$",
        ),
        (
            np.zeros(3),
            ONE,
            ROIError,
            "US_image",
            r"image must be a 2-D array; got an array of shape \(3,\)$",
        ),
        (
            np.zeros((3, 3), dtype=bool),
            ONE,
            ROITypeError,
            "US_image",
            "column 'US_image': image must be an array of integer or floating-point "
            r"grey levels; got dtype bool \(is it the mask\?\)",
        ),
        (
            np.array([["a"] * 3] * 3, dtype=object),
            ONE,
            ROITypeError,
            "US_image",
            "image must be an array of integer or floating-point grey levels; got "
            "dtype object",
        ),
        (
            np.zeros((3, 3), dtype=complex),
            ONE,
            ROITypeError,
            "US_image",
            "got dtype complex128",
        ),
        (
            ONE,
            np.ones((3, 3, 1)),
            ROIError,
            "US_mask",
            r"column 'US_mask': mask must have the same shape as image; got image "
            r"\(3, 3\) and mask \(3, 3, 1\)",
        ),
        (
            ONE,
            np.ones((3, 4)),
            ROIError,
            "US_mask",
            r"column 'US_mask': mask must have the same shape as image; got image "
            r"\(3, 3\) and mask \(3, 4\)",
        ),
        (
            ONE,
            np.zeros((3, 3), dtype=bool),
            ROIError,
            "US_mask",
            r"column 'US_mask': mask must contain at least one ROI pixel "
            r"\(nonzero\): the mask is empty",
        ),
        (
            ONE,
            np.array([[np.nan, 1, 0]] * 3),
            ROIError,
            "US_mask",
            r"column 'US_mask': mask holds 3 NaN value\(s\)",
        ),
        (
            ONE,
            np.array([["x"] * 3] * 3, dtype=object),
            ROITypeError,
            "US_mask",
            r"column 'US_mask': mask must be a bool or numeric array "
            r"\(nonzero = inside\); got dtype object",
        ),
        (
            np.array([[np.nan, np.inf, 1.0], [-np.inf, 1.0, 1.0], [1.0] * 3]),
            np.array([[1, 1, 0], [1, 1, 0], [0, 0, 0]]),
            ROIError,
            "US_image",
            r"column 'US_image': image must be finite inside the mask; got 3 NaN or "
            r"infinite pixel\(s\) inside the ROI",
        ),
    ],
)
def test_validate_roi_errors(image, mask, error, column, match):
    with pytest.raises(error, match=match) as info:
        validate_roi(
            image, mask, lesion="P1", image_column="US_image", mask_column="US_mask"
        )
    assert info.value.lesion == "P1"
    assert info.value.column == column
    assert info.value.path is None


def test_validate_roi_ignores_nan_outside_the_roi():
    image = np.array([[np.nan, 1.0], [2.0, 3.0]], dtype=np.float32)
    _, mask = validate_roi(image, [[0, 1], [1, 1]])
    assert mask.sum() == 3


def test_min_extent_single_pixel():
    image = np.ones((4, 4))
    mask = np.zeros((4, 4), dtype=bool)
    mask[2, 1] = True
    validate_roi(image, mask)  # min_extent=1: a single pixel is a ROI
    with pytest.raises(
        ROIError,
        match=r"^lesion 'P9', column 'PP_mask': ROI spans only 1 row\(s\) x 1 "
        r"column\(s\); at least 2 pixels along one axis are needed",
    ) as info:
        validate_roi(image, mask, lesion="P9", mask_column="PP_mask", min_extent=2)
    assert info.value.lesion == "P9"
    assert info.value.column == "PP_mask"


@pytest.mark.parametrize(
    "pixels",
    [
        [(1, 1), (1, 2)],  # a horizontal pair
        [(0, 3), (1, 3)],  # a vertical pair
        [(0, 0), (1, 1)],  # a diagonal pair: bounding box 2 x 2
        [(2, 0), (2, 1), (2, 2), (2, 3)],  # a one-row line
    ],
)
def test_min_extent_two_accepts_any_pair(pixels):
    mask = np.zeros((4, 4), dtype=bool)
    mask[tuple(np.array(pixels).T)] = True
    validate_roi(np.ones((4, 4)), mask, min_extent=2)


def test_min_extent_three():
    mask = np.zeros((5, 5), dtype=bool)
    mask[1:3, 1:3] = True
    with pytest.raises(ValueError, match=r"2 row\(s\) x 2 column\(s\); at least 3"):
        validate_roi(np.ones((5, 5)), mask, min_extent=3)
    mask[1, 3] = True
    validate_roi(np.ones((5, 5)), mask, min_extent=3)


@pytest.mark.parametrize(
    ("value", "error"),
    [(0, ValueError), (-2, ValueError), (1.5, TypeError), (True, TypeError)],
)
def test_min_extent_must_be_a_positive_int(value, error):
    with pytest.raises(error, match="min_extent must be an int >= 1"):
        validate_roi(ONE, ONE, min_extent=value)


# --------------------------------------------------------------------------
# is_missing, load_roi
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (None, True),
        (float("nan"), True),
        (np.float32("nan"), True),
        (pd.NA, True),
        (pd.NaT, True),
        ("", True),
        ("  ", True),
        ("a.png", False),
        (0.0, False),
        (np.zeros((2, 2)), False),
        (np.full((2, 2), np.nan), False),
    ],
)
def test_is_missing(cell, expected):
    assert is_missing(cell) is expected


def test_load_roi_from_files(tmp_path, rng):
    image = rng.integers(0, 65536, (6, 7)).astype(np.uint16)
    mask = np.zeros((6, 7), dtype=np.uint8)
    mask[2:5, 1:4] = 255
    Image.fromarray(image).save(tmp_path / "img.png")
    Image.fromarray(mask).save(tmp_path / "roi.png")
    out_image, out_mask = load_roi(tmp_path / "img.png", str(tmp_path / "roi.png"))
    np.testing.assert_array_equal(out_image, image)
    np.testing.assert_array_equal(out_mask, mask > 0)


def test_load_roi_rgb_array_cell_uses_luma(rng):
    rgb = colour_image(rng)
    image, mask = load_roi(rgb, np.ones(rgb.shape[:2]))
    np.testing.assert_allclose(image, hand_luma(rgb))
    assert mask.all()


def test_load_roi_missing_file(tmp_path):
    path = tmp_path / "nope.png"
    with pytest.raises(
        ROIFileNotFoundError,
        match=r"^lesion 'P1', column 'US_image': no such image file: '.*nope\.png'$",
    ) as info:
        load_roi(path, np.ones((2, 2)), lesion="P1", image_column="US_image")
    assert isinstance(info.value, FileNotFoundError)
    assert info.value.lesion == "P1"
    assert info.value.column == "US_image"
    assert info.value.path == str(path)
    with pytest.raises(
        ROIFileNotFoundError, match=r"^no such image file: '.*nope\.png'$"
    ) as info:
        load_roi(np.ones((2, 2)), path)
    assert info.value.lesion is None
    assert info.value.column is None
    assert info.value.path == str(path)


def test_load_roi_empty_cell():
    with pytest.raises(
        ROIError, match=r"^lesion 'P1', column 'US_mask_r2': no mask"
    ) as info:
        load_roi(np.ones((2, 2)), None, lesion="P1", mask_column="US_mask_r2")
    assert info.value.lesion == "P1"
    assert info.value.column == "US_mask_r2"
    assert info.value.path is None
    with pytest.raises(
        ROIError, match=r"^lesion 'P1', column 'US_image': no image"
    ) as info:
        load_roi(float("nan"), np.ones((2, 2)), lesion="P1", image_column="US_image")
    assert info.value.lesion == "P1"
    assert info.value.column == "US_image"


def test_load_roi_prefixes_reading_errors(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("text")
    with pytest.raises(
        ROIError, match=r"^lesion 'P2', column 'AP_image': cannot read '.*notes\.txt'"
    ) as info:
        load_roi(path, np.ones((2, 2)), lesion="P2", image_column="AP_image")
    assert info.value.lesion == "P2"
    assert info.value.column == "AP_image"
    assert info.value.path == str(path)
    with pytest.raises(
        ROITypeError, match=r"^lesion 'P2', column 'AP_mask': source must be"
    ) as info:
        load_roi(np.ones((2, 2)), 3, lesion="P2", mask_column="AP_mask")
    assert isinstance(info.value, TypeError)
    assert info.value.lesion == "P2"
    assert info.value.column == "AP_mask"
    assert info.value.path is None
    cine = np.zeros((3, 4, 5))
    with pytest.raises(
        ROIError, match=r"^lesion 'P2', column 'AP_image': .*3 fra"
    ) as info:
        load_roi(cine, np.ones((4, 5)), lesion="P2", image_column="AP_image")
    assert info.value.lesion == "P2"
    assert info.value.column == "AP_image"


def test_load_roi_validates(rng):
    with pytest.raises(
        ROIError,
        match=r"^lesion 'P3', column 'US_mask': mask must have the same shape as "
        r"image; got image \(2, 2\) and mask \(2, 3\)",
    ) as info:
        load_roi(np.ones((2, 2)), np.ones((2, 3)), lesion="P3", mask_column="US_mask")
    assert info.value.lesion == "P3"
    assert info.value.column == "US_mask"
    mask = np.zeros((3, 3))
    mask[1, 1] = 1
    with pytest.raises(ROIError, match="ROI spans only 1 row") as info:
        load_roi(np.ones((3, 3)), mask, min_extent=2)
    assert info.value.lesion is None
    assert info.value.column is None


# --------------------------------------------------------------------------
# load_cohort and the records-frame helpers
# --------------------------------------------------------------------------


@pytest.fixture
def cohort_dir(tmp_path, rng):
    """Three lesions, phases US and AP, a second reader on US for two."""
    images = tmp_path / "images"
    images.mkdir()
    rows = []
    for lesion, er in (("007", 1), ("P2", 0), ("P3", 1)):
        row = {"lesion_id": lesion, "age": 60, "ER": er}
        for phase in ("US", "AP"):
            image = rng.integers(0, 256, (8, 9), dtype=np.uint8)
            mask = np.zeros((8, 9), dtype=np.uint8)
            mask[2:6, 3:7] = 1
            Image.fromarray(image).save(images / f"{lesion}_{phase}.png")
            Image.fromarray(mask).save(images / f"{lesion}_{phase}_roi.png")
            row[f"{phase}_image"] = f"images/{lesion}_{phase}.png"
            row[f"{phase}_mask"] = f"images/{lesion}_{phase}_roi.png"
        row["US_mask_r2"] = "" if lesion == "P2" else f"images/{lesion}_US_roi.png"
        rows.append(row)
    columns = [
        "lesion_id",
        "US_image",
        "US_mask",
        "US_mask_r2",
        "AP_image",
        "AP_mask",
        "age",
        "ER",
    ]
    pd.DataFrame(rows)[columns].to_csv(tmp_path / "cohort.csv", index=False)
    return tmp_path


def test_load_cohort_frame(cohort_dir):
    X, y = load_cohort(cohort_dir / "cohort.csv", label_column="ER")
    assert X.index.name == "lesion_id"
    assert list(X.index) == ["007", "P2", "P3"]  # text ids: '007' is kept
    assert list(X.columns) == [
        "US_image",
        "US_mask",
        "US_mask_r2",
        "AP_image",
        "AP_mask",
        "age",
    ]
    images = os.path.join(str(cohort_dir), "images")
    assert X.loc["P2", "AP_mask"] == os.path.join(images, "P2_AP_roi.png")
    for column in ("US_image", "US_mask", "AP_image", "AP_mask"):
        assert all(isinstance(p, str) and os.path.isabs(p) for p in X[column])
        assert all(os.path.isfile(p) for p in X[column])
    assert X.loc["P2", "US_mask_r2"] is None
    assert X.loc["007", "US_mask_r2"] == os.path.join(images, "007_US_roi.png")
    assert list(X["age"]) == [60, 60, 60]
    assert y.name == "ER"
    assert list(y) == [1, 0, 1]
    assert y.index.equals(X.index)
    assert load_cohort(cohort_dir / "cohort.csv").shape == (3, 7)  # ER kept
    # The frame pickles, and its cells load.
    X2 = pickle.loads(pickle.dumps(X))
    image, mask = load_roi(X2.loc["P3", "AP_image"], X2.loc["P3", "AP_mask"])
    assert image.shape == (8, 9)
    assert mask.sum() == 16


def test_load_cohort_is_lazy(cohort_dir, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("load_cohort must not read any image")

    monkeypatch.setattr(cio, "read_image", forbidden)
    monkeypatch.setattr(cio, "read_mask", forbidden)
    monkeypatch.setattr(Image, "open", forbidden)
    monkeypatch.setattr(pydicom, "dcmread", forbidden)
    for png in (cohort_dir / "images").iterdir():
        png.unlink()  # paths need not even exist yet
    X = load_cohort(cohort_dir / "cohort.csv")
    assert X.loc["P3", "US_image"].endswith("P3_US.png")


def test_load_cohort_from_dataframe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    array = np.ones((3, 3))
    manifest = pd.DataFrame(
        {
            "id": [1, 2],
            "US_image": ["a.png", array],
            "US_mask": [os.path.join(str(tmp_path), "m.png"), "sub/../m2.png"],
            "US_mask_r2": [np.nan, None],
        }
    )
    before = manifest.copy()
    X = load_cohort(manifest, id_column="id")
    pd.testing.assert_frame_equal(manifest, before)  # input not mutated
    assert list(X.index) == [1, 2]
    assert X.index.name == "id"
    assert X.loc[1, "US_image"] == os.path.join(str(tmp_path), "a.png")
    assert X.loc[2, "US_image"] is array
    assert X.loc[2, "US_mask"] == os.path.join(str(tmp_path), "m2.png")
    assert X.loc[1, "US_mask_r2"] is None and X.loc[2, "US_mask_r2"] is None
    X = load_cohort(manifest, id_column="id", base_dir="/data")
    assert X.loc[1, "US_image"] == os.path.join(os.path.abspath("/data"), "a.png")
    # A frame already indexed by id (e.g. the output itself) is accepted.
    again = load_cohort(X, id_column="id")
    assert again.loc[1, "US_image"] == X.loc[1, "US_image"]


def _manifest(**overrides):
    data = {
        "lesion_id": ["P1", "P2"],
        "US_image": ["a.png", "b.png"],
        "US_mask": ["am.png", "bm.png"],
        "ER": [0, 1],
    }
    data.update(overrides)
    return pd.DataFrame({k: v for k, v in data.items() if v is not None})


@pytest.mark.parametrize(
    ("manifest", "kwargs", "error", "match"),
    [
        (
            _manifest(),
            {"id_column": "patient"},
            ValueError,
            "manifest has no id column 'patient'; pass id_column=",
        ),
        (
            _manifest(lesion_id=["P1", "P1"]),
            {},
            ValueError,
            r"id column 'lesion_id' has duplicated lesion ids \['P1'\]",
        ),
        (
            _manifest(lesion_id=["P1", None]),
            {},
            ValueError,
            r"id column 'lesion_id' is empty in row\(s\) \[1\]",
        ),
        (
            _manifest(US_image=None, US_mask=None),
            {},
            ValueError,
            "manifest has no '{phase}_image' column",
        ),
        (
            _manifest(US_mask=None),
            {},
            ValueError,
            r"image column\(s\) without their mask column: add \['US_mask'\]",
        ),
        (
            _manifest(AP_mask=["x.png", "y.png"]),
            {},
            ValueError,
            r"mask column\(s\) \['AP_mask'\] without their image column; add "
            r"\['AP_image'\]",
        ),
        (
            _manifest(),
            {"label_column": "outcome"},
            ValueError,
            "manifest has no label column 'outcome'",
        ),
        (
            np.zeros((2, 3)),
            {},
            TypeError,
            "manifest must be a CSV path .* or a DataFrame; got ndarray",
        ),
    ],
)
def test_load_cohort_errors(manifest, kwargs, error, match):
    with pytest.raises(error, match=match):
        load_cohort(manifest, **kwargs)


def test_load_cohort_bad_cell_is_a_located_roi_error():
    with pytest.raises(
        ROITypeError, match=r"^lesion 'P2', column 'US_image': a cell must be a path"
    ) as info:
        load_cohort(_manifest(US_image=["a.png", 3]))
    assert isinstance(info.value, TypeError)
    assert info.value.lesion == "P2"
    assert info.value.column == "US_image"
    assert info.value.path is None


def test_load_cohort_csv_errors(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"no such manifest file: '.*none\.csv'"
    ):
        load_cohort(tmp_path / "none.csv")
    path = tmp_path / "gap.csv"
    path.write_text("lesion_id,US_image,US_mask\nP1,a.png,b.png\n,c.png,d.png\n")
    with pytest.raises(ValueError, match=r"is empty in line\(s\) \[3\]"):
        load_cohort(path)


def test_load_cohort_ids_that_look_missing_are_ids(tmp_path):
    # pandas reads NA, nan, None, N/A, null, ... as missing by default
    ids = ["NA", "nan", "None", "N/A", "null", "#N/A", "007"]
    rows = [f"{i},{i}.png,{i}_roi.png,{k % 2}" for k, i in enumerate(ids)]
    path = tmp_path / "cohort.csv"
    path.write_text("lesion_id,US_image,US_mask,ER\n" + "\n".join(rows) + "\n")
    X, y = load_cohort(path, label_column="ER")
    assert X.index.tolist() == ids
    assert X.loc["NA", "US_image"] == str(tmp_path / "NA.png")
    assert y.tolist() == [0, 1, 0, 1, 0, 1, 0]
    # an empty cell is still a missing id
    path.write_text("lesion_id,US_image,US_mask\nNA,a.png,b.png\n,c.png,d.png\n")
    with pytest.raises(ValueError, match=r"is empty in line\(s\) \[3\]"):
        load_cohort(path)
    # other columns keep pandas' missing values: NA in a path cell is empty
    path.write_text("lesion_id,US_image,US_mask,US_mask_r2\nP1,a.png,b.png,NA\n")
    assert load_cohort(path).loc["P1", "US_mask_r2"] is None


def test_load_cohort_duplicated_column_is_named(tmp_path):
    path = tmp_path / "cohort.csv"
    path.write_text("lesion_id,US_image,US_mask,ER,US_mask\nP1,a.png,b.png,1,c.png\n")
    with pytest.raises(
        ValueError,
        match=r"^manifest '.*cohort\.csv' has the column 'US_mask' twice \(columns "
        r"3 and 5\); each column name must be unique$",
    ):
        load_cohort(path)
    # unnamed columns (trailing commas, a written index) are not duplicates
    path.write_text(",lesion_id,US_image,US_mask,\n0,P1,a.png,b.png,\n")
    assert load_cohort(path).index.tolist() == ["P1"]


def test_load_cohort_empty_manifest_names_the_file(tmp_path):
    path = tmp_path / "cohort.csv"
    path.write_text("")
    with pytest.raises(ValueError, match=r"^manifest '.*cohort\.csv' is empty: "):
        load_cohort(path)
    path.write_text("lesion_id,US_image,US_mask\n")
    with pytest.raises(
        ValueError, match=r"^manifest '.*cohort\.csv' has no lesion: only its header"
    ):
        load_cohort(path)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_symlink_loops_say_so(tmp_path):
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    with pytest.raises(FileNotFoundError, match=r"loop\.csv' is a symlink loop"):
        load_cohort(loop)
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(image)
    ring_a, ring_b = tmp_path / "ring_a.png", tmp_path / "ring_b.png"
    ring_a.symlink_to(ring_b)
    ring_b.symlink_to(ring_a)
    with pytest.raises(FileNotFoundError, match=r"ring_a\.png' is a symlink loop"):
        read_image(ring_a)
    # in a manifest: an error of that cell
    path = tmp_path / "cohort.csv"
    path.write_text("lesion_id,US_image,US_mask\nP1,a.png,ring_a.png\n")
    X = load_cohort(path)
    with pytest.raises(ROIFileNotFoundError, match="symlink loop") as info:
        load_roi(
            X.loc["P1", "US_image"],
            X.loc["P1", "US_mask"],
            lesion="P1",
            image_column="US_image",
            mask_column="US_mask",
        )
    assert info.value.column == "US_mask" and info.value.path == str(ring_a)
    # a dangling link is a missing file, as before
    dangling = tmp_path / "dangling.png"
    dangling.symlink_to(tmp_path / "gone.png")
    with pytest.raises(FileNotFoundError, match="no such image file"):
        read_image(dangling)


def test_image_phases_and_mask_readers():
    X = pd.DataFrame(
        columns=[
            "PP_image",
            "PP_mask",
            "US_image",
            "US_mask_r3",
            "US_mask",
            "US_mask_r2",
            "AP_image",
            "AP_mask",
            "_image",
            "age",
            0,
        ]
    )
    assert image_phases(X) == ("PP", "US", "AP")
    assert mask_readers(X, "US") == ("r3", "r2")
    assert mask_readers(X, "PP") == ()
    with pytest.raises(TypeError, match="X must be the records DataFrame"):
        image_phases(X.columns)
    with pytest.raises(TypeError, match="X must be the records DataFrame"):
        mask_readers(X.to_numpy(), "US")


X_PHASES = pd.DataFrame(
    columns=["US_image", "US_mask", "AP_image", "AP_mask", "PP_image"]
)


@pytest.mark.parametrize(
    ("phases", "expected"),
    [("AP", ("AP",)), (["AP", "US"], ("AP", "US")), (("US",), ("US",))],
)
def test_check_phases(phases, expected):
    assert check_phases(X_PHASES, phases) == expected


@pytest.mark.parametrize(
    ("X", "phases", "error", "match"),
    [
        (
            np.zeros((2, 2)),
            None,
            TypeError,
            r"X must be the records DataFrame: one row per lesion, .*'{phase}_image' "
            r"and '{phase}_mask' columns.*; got ndarray",
        ),
        (
            pd.DataFrame(columns=["age"]),
            None,
            ValueError,
            "X has no '{phase}_image' column",
        ),
        (
            X_PHASES,
            ["CT"],
            ValueError,
            r"unknown phase\(s\) \['CT'\] in phases; X has the phases "
            r"\['US', 'AP', 'PP'\]",
        ),
        (X_PHASES, [], ValueError, "phases is empty"),
        (X_PHASES, ["US", "US"], ValueError, "phases holds duplicates"),
        (X_PHASES, [1], TypeError, r"phases must be strings; got \[1\]"),
        (X_PHASES, 3, TypeError, "phases must be None, a phase name or an iterable"),
        (
            X_PHASES,
            None,
            ValueError,
            r"X has no mask column for the phase\(s\) \['PP'\]; add \['PP_mask'\]",
        ),
    ],
)
def test_check_phases_errors(X, phases, error, match):
    with pytest.raises(error, match=match):
        check_phases(X, phases)
