"""read_cine: cine loops (frames + acquisition times) from DICOM, files and arrays."""

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset

from ceusradiomics.io import read_cine, read_image

US_MULTIFRAME_STORAGE = "1.2.840.10008.5.1.4.1.1.3.1"


def pydicom_file(name):
    path = pydicom.data.get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not shipped with this pydicom")
    return path


def write_cine(path, frames, **elements):
    """A grey multi-frame ultrasound DICOM file with the given attributes."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = US_MULTIFRAME_STORAGE
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.Modality = "US"
    ds.set_pixel_data(frames, "MONOCHROME2", 8)
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def grey_frames():
    return np.random.default_rng(0).integers(0, 256, (5, 6, 7), dtype=np.uint8)


def test_pydicom_ybr_cine_frames_and_frame_time():
    path = pydicom_file("examples_ybr_color.dcm")
    frames, times = read_cine(path)
    assert frames.shape == (30, 240, 320) and frames.dtype == np.uint8
    # Frame Time (0018,1063) = 33.333 ms, pointed to by the Frame Increment Pointer.
    np.testing.assert_allclose(times, np.arange(30) * 0.033333)
    for k in (0, 13, 29):
        np.testing.assert_array_equal(frames[k], read_image(path, frame=k))
    _, times = read_cine(path, frame_rate=25.0)
    np.testing.assert_allclose(times, np.arange(30) / 25.0)
    red, _ = read_cine(pydicom.dcmread(path), color="red")
    np.testing.assert_array_equal(red[3], read_image(path, frame=3, color="red"))


def test_frame_time_vector(tmp_path, grey_frames):
    path = write_cine(
        tmp_path / "vector.dcm",
        grey_frames,
        FrameTimeVector=[0, 100, 100, 250, 50],
        FrameIncrementPointer=0x00181065,
    )
    frames, times = read_cine(path)
    np.testing.assert_array_equal(frames, grey_frames)
    assert frames.dtype == np.uint8
    np.testing.assert_allclose(times, [0.0, 0.1, 0.2, 0.45, 0.5])


def test_frame_increment_pointer_decides(tmp_path, grey_frames):
    both = {"FrameTimeVector": [0, 100, 100, 100, 100], "FrameTime": 40.0}
    path = write_cine(tmp_path / "a.dcm", grey_frames, **both)
    np.testing.assert_allclose(read_cine(path)[1], np.arange(5) * 0.1)
    path = write_cine(
        tmp_path / "b.dcm", grey_frames, FrameIncrementPointer=0x00181063, **both
    )
    np.testing.assert_allclose(read_cine(path)[1], np.arange(5) * 0.04)


def test_dicom_timing_errors(tmp_path, grey_frames):
    path = write_cine(tmp_path / "none.dcm", grey_frames)
    with pytest.raises(
        ValueError,
        match=r"none\.dcm' has neither Frame Time \(0018,1063\) nor Frame Time "
        r"Vector \(0018,1065\); pass frame_rate=",
    ):
        read_cine(path)
    np.testing.assert_allclose(read_cine(path, frame_rate=4)[1], np.arange(5) / 4)
    path = write_cine(tmp_path / "short.dcm", grey_frames, FrameTimeVector=[0, 100])
    with pytest.raises(ValueError, match=r"Frame Time Vector \(0018,1065\) of 2 val"):
        read_cine(path)
    path = write_cine(tmp_path / "zero.dcm", grey_frames, FrameTime=0.0)
    with pytest.raises(ValueError, match=r"Frame Time \(0018,1063\) = 0.0 ms"):
        read_cine(path)


def test_arrays_and_sequences(tmp_path, grey_frames):
    frames, times = read_cine(grey_frames, frame_rate=2.0)
    assert frames is not grey_frames
    np.testing.assert_array_equal(frames, grey_frames)
    np.testing.assert_array_equal(times, [0.0, 0.5, 1.0, 1.5, 2.0])
    rgb = np.random.default_rng(1).integers(0, 256, (3, 4, 5, 3), dtype=np.uint8)
    frames, _ = read_cine(rgb, times=[1.0, 2.0, 4.0])
    # 8-bit colour -> uint8 luma, as Pillow's convert("L") rounds it
    expected = np.stack([np.asarray(Image.fromarray(f).convert("L")) for f in rgb])
    assert frames.dtype == np.uint8
    np.testing.assert_array_equal(frames, expected)
    paths = []
    for k in range(3):
        paths.append(tmp_path / f"f{k}.png")
        Image.fromarray(grey_frames[k]).save(paths[-1])
    frames, times = read_cine(paths, times=[0.0, 0.3, 0.7])
    np.testing.assert_array_equal(frames, grey_frames[:3])
    np.testing.assert_array_equal(times, [0.0, 0.3, 0.7])


def test_multipage_tiff(tmp_path, grey_frames):
    pages = [Image.fromarray(f) for f in grey_frames]
    path = tmp_path / "loop.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    frames, times = read_cine(path, frame_rate=10.0)
    np.testing.assert_array_equal(frames, grey_frames)
    np.testing.assert_allclose(times, np.arange(5) / 10)
    with pytest.raises(ValueError, match=r"loop\.tif' stores no frame timing; pass"):
        read_cine(path)


def test_read_cine_errors(tmp_path, grey_frames):
    with pytest.raises(ValueError, match="pass either frame_rate= or times=, not both"):
        read_cine(grey_frames, frame_rate=1.0, times=np.arange(5.0))
    with pytest.raises(ValueError, match=r"frame_rate must be a positive number"):
        read_cine(grey_frames, frame_rate=0)
    with pytest.raises(TypeError, match=r"frame_rate must be a positive number"):
        read_cine(grey_frames, frame_rate="10")
    with pytest.raises(
        ValueError, match=r"has 5 frame\(s\), got times of shape \(4,\)"
    ):
        read_cine(grey_frames, times=np.arange(4.0))
    with pytest.raises(
        ValueError, match=r"strictly increasing; got 2 then 1 at index 2"
    ):
        read_cine(grey_frames, times=[0.0, 2.0, 1.0, 3.0, 4.0])
    with pytest.raises(ValueError, match=r"frames of the sequence of 2 images differ"):
        read_cine([np.zeros((4, 4)), np.zeros((4, 5))], frame_rate=1.0)
    with pytest.raises(ValueError, match=r"frame 1 of the sequence: .*colour image"):
        read_cine(
            [np.zeros((4, 4)), grey_frames[:3].T.copy()], frame_rate=1.0, color="error"
        )
    with pytest.raises(ValueError, match="source is an empty sequence"):
        read_cine([], frame_rate=1.0)
    with pytest.raises(ValueError, match=r"a cine array must be \(frames, rows"):
        read_cine(np.zeros(5), frame_rate=1.0)
    with pytest.raises(FileNotFoundError, match="no such cine file"):
        read_cine(tmp_path / "missing.dcm", frame_rate=1.0)
    with pytest.raises(ValueError, match="is a directory; pass the list"):
        read_cine(tmp_path, frame_rate=1.0)
    with pytest.raises(TypeError, match="source must be a multi-frame DICOM"):
        read_cine(42)
    with pytest.raises(ValueError, match="color must be one of"):
        read_cine(grey_frames, frame_rate=1.0, color="gray")
