"""Real ultrasound files that no one here made: pydicom's bundled DICOMs.

Each goes through a manifest and ``load_cohort`` with a mask the test draws,
then through the extractors with their default settings.
"""

import numpy as np
import pandas as pd
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from ceusradiomics import TextureExtractor
from ceusradiomics.exceptions import ROIError
from ceusradiomics.io import load_cohort, read_image
from ceusradiomics.texture import texture_features

FILES = {
    "ybr": "examples_ybr_color.dcm",  # 30-frame YBR_FULL_422 cine, 8 bits
    "rgb": "examples_rgb_color.dcm",
    "jpeg2k": "examples_jpeg2k.dcm",
    "palette": "examples_palette.dcm",
}


def _ellipse(shape):
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    r0, c0 = shape[0] / 2, shape[1] / 2
    return ((rows - r0) / (shape[0] / 4)) ** 2 + (
        (cols - c0) / (shape[1] / 4)
    ) ** 2 <= 1


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("real")
    rows = []
    for lesion, name in FILES.items():
        path = get_testdata_file(name)
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        shape = (int(ds.Rows), int(ds.Columns))
        mask_path = folder / f"{lesion}_mask.png"
        Image.fromarray(_ellipse(shape).astype(np.uint8) * 255).save(mask_path)
        frames = int(ds.get("NumberOfFrames") or 1)
        rows.append(
            {
                "lesion_id": lesion,
                "US_image": path,
                "US_mask": mask_path.name,
                "US_frame": 5 if frames > 1 else "",
            }
        )
    csv = folder / "cohort.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    return csv


def test_texture_defaults_on_real_dicoms(manifest):
    X = load_cohort(manifest)
    table = TextureExtractor().fit_transform(X)
    assert table.shape == (4, 283)
    first_order = [c for c in table.columns if not c.startswith("US_WavEn")]
    assert np.isfinite(table[first_order].to_numpy()).all()
    # the cine's row is frame 5, as the manifest's US_frame says
    image = read_image(get_testdata_file(FILES["ybr"]), frame=5)
    assert image.dtype == np.uint8
    mask = _ellipse(image.shape)
    expected = texture_features(image, mask)
    np.testing.assert_array_equal(
        table.loc["ybr"].to_numpy(), np.fromiter(expected.values(), float)
    )
    # 8-bit colour is read as 8-bit grey, so the native range applies; a
    # palette maps to its own 16-bit entries
    assert read_image(get_testdata_file(FILES["rgb"])).dtype == np.uint8
    assert read_image(get_testdata_file(FILES["palette"])).dtype == np.uint16


def test_named_frames_of_a_real_cine(manifest):
    X = load_cohort(manifest).loc[["ybr"]].copy()
    X["US_frame"] = "peak"
    peak = TextureExtractor(families="hist").fit_transform(X)
    frames = [
        TextureExtractor(families="hist")
        .fit_transform(X.assign(US_frame=k))
        .loc["ybr", "US_Mean"]
        for k in range(30)
    ]
    # the peak frame is the one of the highest mean intensity in the ROI
    assert peak.loc["ybr", "US_Mean"] == max(frames)
    # a 1-second loop holds no arterial window: a located error on the frame
    with pytest.raises(ROIError) as info:
        TextureExtractor().fit_transform(X.assign(US_frame="ap"))
    assert (info.value.lesion, info.value.column) == ("ybr", "US_frame")
    with pytest.raises(ROIError) as info:
        TextureExtractor().fit_transform(X.assign(US_frame="late"))
    assert (info.value.lesion, info.value.column) == ("ybr", "US_frame")
    # without a frame the cine is refused, naming the cell
    with pytest.raises(ROIError, match="pass frame=") as info:
        TextureExtractor().fit_transform(X.drop(columns="US_frame"))
    assert info.value.column == "US_image"


def test_resnet_on_real_dicoms(manifest):
    pytest.importorskip("torch")
    from ceusradiomics import ResNetFeaturizer

    X = load_cohort(manifest)
    table = ResNetFeaturizer(weights=None, image_size=64, random_state=0).fit_transform(
        X
    )
    assert table.shape == (4, 2048)
    assert np.isfinite(table.to_numpy()).all()


def test_perfusion_refuses_a_one_second_loop():
    from ceusradiomics import PerfusionExtractor
    from ceusradiomics.exceptions import DegenerateROIWarning

    path = get_testdata_file(FILES["ybr"])  # 30 frames, 1 s: no bolus fits
    mask = np.zeros((240, 320), bool)
    mask[80:160, 100:220] = True
    X = pd.DataFrame({"CEUS_cine": [path], "CEUS_mask": [mask]}, index=["ybr"])
    with pytest.warns(DegenerateROIWarning, match=r"lesion 'ybr'.*too short"):
        table = PerfusionExtractor().fit_transform(X)
    assert table.loc["ybr"].isna().all()


@pytest.fixture(scope="module")
def colour_cohort(tmp_path_factory):
    """40 lesions from the real colour DICOMs: the 30 frames of the YBR cine
    (picked by US_frame) and the other files, each with an ellipse of its own,
    and an outcome drawn at random (a real-file smoke test, not a signal)."""
    folder = tmp_path_factory.mktemp("colour")
    rng = np.random.default_rng(0)
    rows = []
    sources = [(FILES["ybr"], k) for k in range(30)] + [
        (FILES[name], None) for name in ("rgb", "jpeg2k", "palette") for _ in range(3)
    ]
    for i, (name, frame) in enumerate(sources[:40]):
        path = get_testdata_file(name)
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        shape = (int(ds.Rows), int(ds.Columns))
        rows_, cols_ = np.ogrid[: shape[0], : shape[1]]
        r0 = rng.uniform(0.35, 0.65) * shape[0]
        c0 = rng.uniform(0.35, 0.65) * shape[1]
        a, b = rng.uniform(0.12, 0.25) * shape[0], rng.uniform(0.12, 0.25) * shape[1]
        mask = ((rows_ - r0) / a) ** 2 + ((cols_ - c0) / b) ** 2 <= 1
        mask_path = folder / f"L{i:02d}_mask.png"
        Image.fromarray(mask.astype(np.uint8) * 255).save(mask_path)
        rows.append(
            {
                "lesion_id": f"L{i:02d}",
                "US_image": path,
                "US_mask": mask_path.name,
                "US_frame": "" if frame is None else frame,
                "ER": int(i % 5 < 2),
            }
        )
    csv = folder / "cohort.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    return csv


# Random outcomes: the selection steps rightly warn that nothing passes.
@pytest.mark.filterwarnings("ignore::ceusradiomics.exceptions.CeusRadiomicsWarning")
def test_demo_on_a_manifest_of_real_colour_dicoms(colour_cohort, tmp_path):
    from ceusradiomics.cli import main

    out = tmp_path / "demo"
    status = main(
        [
            "demo",
            "--manifest",
            str(colour_cohort),
            "--weights",
            "none",
            "--image-size",
            "64",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    table2 = pd.read_csv(out / "table2.csv")
    assert len(table2) >= 3
    assert (out / "report.md").exists()


def test_demo_texture_flags_reach_the_pipeline(colour_cohort, tmp_path, capsys):
    from ceusradiomics.cli import main

    status = main(["demo", "--manifest", str(colour_cohort), "--bits", "0"])
    assert status == 2
    assert "--bits" in capsys.readouterr().err


def test_extract_command_on_real_dicoms(manifest, tmp_path):
    from ceusradiomics.cli import main

    out = tmp_path / "features.csv"
    assert (
        main(["extract", "--manifest", str(manifest), "--out", str(out), "--quiet"])
        == 0
    )
    table = pd.read_csv(out, index_col=0)
    direct = TextureExtractor().fit_transform(load_cohort(manifest))
    assert list(table.index) == list(direct.index)
    np.testing.assert_allclose(
        table[direct.columns].to_numpy(), direct.to_numpy(), rtol=1e-12, equal_nan=True
    )
