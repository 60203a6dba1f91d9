"""``python -m ceusradiomics extract``: batch extraction, resume, errors, settings."""

import hashlib
import inspect
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from numbers import Integral
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.uid import UID
from sklearn.utils._param_validation import Interval

import ceusradiomics
from ceusradiomics import ResNetFeaturizer, TextureExtractor
from ceusradiomics.cli import _settings, build_parser, main
from ceusradiomics.cli import extract as cli_extract
from ceusradiomics.cli.extract import DEFAULT_SETTINGS, SettingsError, resolve_settings
from ceusradiomics.datasets import make_ceus_cohort
from ceusradiomics.io import load_cohort
from ceusradiomics.texture import _registry
from ceusradiomics.texture._registry import Family, FamilyParameter, family_parameters

US_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.6.1")
PHASES = ("US", "AP")
N_LESIONS = 10


# --------------------------------------------------------------------------
# A cohort on disk: PNG images and masks, one DICOM image, a second reader
# --------------------------------------------------------------------------


def _png(path, array):
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    Image.fromarray(array).save(path)
    return str(path)


def _dicom(path, array):
    ds = Dataset()
    ds.SOPClassUID = US_IMAGE_STORAGE
    ds.Modality = "US"
    ds.set_pixel_data(array, "MONOCHROME2", 8)
    ds.save_as(path, enforce_file_format=True)
    return str(path)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """The bundled cohort's US and AP phases written as files, and its manifest.

    Lesion L02's US image is a DICOM file; the second reader's masks of the
    lesions that have one are in US_mask_r2 / AP_mask_r2; ``age`` is a
    clinical column that the table must not carry.
    """
    folder = tmp_path_factory.mktemp("cohort")
    X, y, clinical = make_ceus_cohort(
        n_lesions=N_LESIONS, image_size=64, random_state=0
    )
    rows = []
    for lesion in X.index:
        row = {"lesion_id": lesion}
        for phase in PHASES:
            image = X.loc[lesion, f"{phase}_image"]
            if lesion == "L02" and phase == "US":
                row["US_image"] = _dicom(folder / f"{lesion}_US.dcm", image)
            else:
                row[f"{phase}_image"] = _png(folder / f"{lesion}_{phase}.png", image)
            mask = X.loc[lesion, f"{phase}_mask"]
            row[f"{phase}_mask"] = _png(folder / f"{lesion}_{phase}_roi.png", mask)
        for phase in PHASES:
            mask = X.loc[lesion, f"{phase}_mask_r2"]
            row[f"{phase}_mask_r2"] = (
                None
                if mask is None
                else _png(folder / f"{lesion}_{phase}_r2.png", mask)
            )
        row["ER"] = y[lesion]
        row["age"] = clinical.loc[lesion, "age"]
        rows.append(row)
    manifest = pd.DataFrame(rows)
    path = folder / "cohort.csv"
    manifest.to_csv(path, index=False)
    return {"X": X, "y": y, "manifest": manifest, "path": path, "folder": folder}


@pytest.fixture
def spy(monkeypatch):
    """The lesions whose features are computed (not read back from a store)."""
    computed = []
    compute = cli_extract._Extraction.compute

    def recording(self, lesions):
        computed.extend(lesions)
        return compute(self, lesions)

    monkeypatch.setattr(cli_extract._Extraction, "compute", recording)
    return computed


def _manifest(tmp_path, frame, name="cohort.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def _read_csv(path):
    # Ids as text, as docs/batch.md says; pandas >= 3 parses floats exactly.
    return pd.read_csv(path, index_col=0, dtype={"lesion_id": str})


def _extract(manifest, out, *flags):
    return main(["extract", "--manifest", str(manifest), "--out", str(out), *flags])


def _reference(X, **params):
    """The same features through the notebook API on the in-memory arrays."""
    extractor = TextureExtractor(phases=PHASES, cache=False, **params)
    return extractor.fit_transform(X)


# --------------------------------------------------------------------------
# Same values as the estimator API
# --------------------------------------------------------------------------


def test_files_extract_to_the_values_of_the_estimator_api(cohort, tmp_path):
    out = tmp_path / "features.csv"
    assert _extract(cohort["path"], out, "--readers", "all", "--quiet") == 0

    table = _read_csv(out)
    # PNG and DICOM files give what the arrays they were written from give,
    # the further reader's columns included (NaN where L0x has none).
    expected = _reference(cohort["X"], readers="all")
    assert table.index.tolist() == cohort["manifest"]["lesion_id"].tolist()
    assert table.index.name == "lesion_id"
    assert table.columns[0] == "ER"
    assert table["ER"].tolist() == cohort["y"].tolist()
    assert "age" not in table.columns
    pd.testing.assert_frame_equal(
        table.drop(columns="ER"),
        expected,
        check_names=False,
        check_index_type=False,
        check_exact=True,
    )
    assert any("@r2" in c for c in table.columns)
    # and what the API gives on the manifest itself
    api = _reference(load_cohort(cohort["path"]), readers="all")
    pd.testing.assert_frame_equal(
        table.drop(columns="ER"), api, check_index_type=False, check_exact=True
    )
    # a finished run leaves no partial store and no errors file
    assert not (tmp_path / "features.csv.partial").exists()
    assert not (tmp_path / "features.errors.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "features.csv",
        "features.csv.json",
    ]


def test_parquet_and_csv_hold_the_same_table(cohort, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    flags = ("--families", "hist", "glcm", "--distances", "1", "2", "--quiet")
    assert _extract(cohort["path"], tmp_path / "f.parquet", *flags) == 0
    assert _extract(cohort["path"], tmp_path / "f.csv", *flags) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"extracted 10/10 lesions into {tmp_path / 'f.parquet'}",
        f"extracted 10/10 lesions into {tmp_path / 'f.csv'}",
    ]
    parquet = pd.read_parquet(tmp_path / "f.parquet")
    pd.testing.assert_frame_equal(
        parquet, _read_csv(tmp_path / "f.csv"), check_exact=True
    )
    assert parquet.shape == (10, 1 + 2 * (9 + 2 * 4 * 11))
    expected = _reference(cohort["X"], families=("hist", "glcm"), distances=(1, 2))
    pd.testing.assert_frame_equal(
        parquet.drop(columns="ER"),
        expected,
        check_names=False,
        check_index_type=False,
        check_exact=True,
    )


def test_parquet_without_pyarrow_asks_for_csv_before_any_work(
    cohort, tmp_path, monkeypatch, capsys, spy
):
    monkeypatch.setattr(cli_extract.importlib.util, "find_spec", lambda name: None)
    assert _extract(cohort["path"], tmp_path / "features.parquet") == 2
    err = capsys.readouterr().err
    assert err == (
        "error: writing features.parquet needs pyarrow (pip install pyarrow); "
        f"or write CSV: --out {tmp_path / 'features.csv'}\n"
    )
    assert spy == [] and list(tmp_path.iterdir()) == []


@pytest.mark.filterwarnings("ignore::UserWarning:torch")
def test_deep_features_match_the_featurizer(cohort, tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "features.csv"
    flags = ("--phases", "US", "--families", "hist", "--deep", "--weights", "none")
    assert _extract(cohort["path"], out, *flags, "--image-size", "32", "--quiet") == 0
    table = _read_csv(out)
    featurizer = ResNetFeaturizer(
        phases=("US",), weights=None, image_size=32, random_state=0, cache=False
    )
    expected = featurizer.fit_transform(load_cohort(cohort["path"]))
    assert table.shape == (10, 1 + 9 + 2048)
    deep = table.filter(like="_resnet50_")
    assert deep.columns.tolist() == expected.columns.tolist()
    # float32 activations: equal up to the batch composition of the forward pass
    np.testing.assert_allclose(deep.to_numpy(), expected.to_numpy(), rtol=1e-5)
    sidecar = json.loads((tmp_path / "features.csv.json").read_text())
    assert sidecar["settings"]["deep"] is True
    assert sidecar["settings"]["weights"] is None
    assert sidecar["versions"]["torch"] is not None


# --------------------------------------------------------------------------
# The sidecar
# --------------------------------------------------------------------------


def test_sidecar_records_settings_versions_manifest_and_time(cohort, tmp_path):
    out = tmp_path / "features.csv"
    before = datetime.now(timezone.utc).replace(microsecond=0)
    flags = ("--bits", "glcm=5,rlm=4", "--wavelet-scales", "2", "--quiet")
    assert _extract(cohort["path"], out, *flags) == 0
    sidecar = json.loads((tmp_path / "features.csv.json").read_text())

    assert before <= datetime.fromisoformat(sidecar["created"])
    assert datetime.fromisoformat(sidecar["created"]) <= datetime.now(timezone.utc)
    assert sidecar["manifest"] == {
        "path": str(cohort["path"]),
        "sha256": hashlib.sha256(cohort["path"].read_bytes()).hexdigest(),
        "id_column": "lesion_id",
        "label_column": "ER",
    }
    assert sidecar["table"] == str(out) and sidecar["format"] == "csv"
    assert sidecar["lesions"] == {
        "manifest": 10,
        "extracted": 10,
        "resumed": 0,
        "errors": 0,
        "warnings": 0,
    }
    assert sidecar["errors_file"] is None
    assert sidecar["n_features"] == _read_csv(out).shape[1] - 1
    settings = sidecar["settings"]
    assert set(settings) == set(DEFAULT_SETTINGS)
    assert settings["bits"] == {
        "hist": 8,
        "grad": 8,
        "rlm": 4,
        "glcm": 5,
        "ar": 8,
        "wav": 8,
    }
    assert settings["wavelet_scales"] == [1, 2]
    assert settings["phases"] == ["US", "AP"]  # what "every phase" meant
    assert settings["families"] == ["hist", "grad", "rlm", "glcm", "ar", "wav"]
    versions = sidecar["versions"]
    assert versions["ceusradiomics"] == ceusradiomics.__version__
    assert versions["numpy"] == np.__version__
    assert versions["pandas"] == pd.__version__
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))
    # The settings object is itself a parameter file that reproduces the table.
    params = tmp_path / "settings.json"
    params.write_text(json.dumps(settings))
    assert resolve_settings(params) == settings
    again = tmp_path / "again.csv"
    assert _extract(cohort["path"], again, "--params", str(params), "--quiet") == 0
    pd.testing.assert_frame_equal(_read_csv(again), _read_csv(out), check_exact=True)


# --------------------------------------------------------------------------
# Resume
# --------------------------------------------------------------------------


def _chunk_ids(partial):
    ids = []
    for path in sorted(partial.glob("chunk-*.npz")):
        with np.load(path) as data:
            ids += data["ids"].tolist()
    return ids


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a named pipe")
def test_killed_run_resumes_to_the_same_table(cohort, tmp_path, spy, capsys):
    # Lesion L06's US image is a named pipe: reading it blocks, so the run is
    # deterministically stuck in its third chunk when it is killed.
    manifest = cohort["manifest"].copy()
    fifo = tmp_path / "L06_US.png"
    os.mkfifo(fifo)
    manifest.loc[5, "US_image"] = str(fifo)
    path = _manifest(tmp_path, manifest)
    out = tmp_path / "features.csv"
    partial = tmp_path / "features.csv.partial"
    command = [sys.executable, "-m", "ceusradiomics", "extract"]
    command += ["--manifest", path, "--out", str(out), "--chunk-size", "2"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while len(list(partial.glob("chunk-*.npz"))) < 2:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no chunk after 60 s"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert _chunk_ids(partial) == ["L01", "L02", "L03", "L04"]
    assert not out.exists()  # never a half-written table

    fifo.unlink()
    _png(fifo, cohort["X"].loc["L06", "US_image"])
    assert _extract(path, out, "--chunk-size", "2", "--quiet") == 0
    assert capsys.readouterr().out == (
        f"extracted 10/10 lesions (4 from an earlier run) into {out}\n"
    )
    assert spy == [f"L{i:02d}" for i in range(5, 11)]  # L01-L04 not recomputed
    sidecar = json.loads((tmp_path / "features.csv.json").read_text())
    assert sidecar["lesions"]["resumed"] == 4
    assert not partial.exists()

    # identical to a run that was never interrupted
    assert _extract(path, tmp_path / "whole.csv", "--quiet") == 0
    pd.testing.assert_frame_equal(
        _read_csv(out), _read_csv(tmp_path / "whole.csv"), check_exact=True
    )


def _broken(cohort, tmp_path):
    """The manifest with a missing file, an empty mask and a mask of another shape."""
    manifest = cohort["manifest"].copy()
    manifest.loc[2, "US_image"] = str(tmp_path / "nowhere.png")
    manifest.loc[4, "AP_mask"] = _png(tmp_path / "empty.png", np.zeros((64, 64), bool))
    manifest.loc[6, "US_mask"] = _png(tmp_path / "small.png", np.ones((32, 32), bool))
    return manifest


def test_broken_rows_go_to_the_errors_file_and_are_retried(
    cohort, tmp_path, spy, capsys
):
    path = _manifest(tmp_path, _broken(cohort, tmp_path))
    out = tmp_path / "features.csv"
    assert _extract(path, out, "--chunk-size", "4", "--quiet") == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"extracted 7/10 lesions; 3 errors in {tmp_path / 'features.errors.csv'}"
    )
    errors = pd.read_csv(tmp_path / "features.errors.csv")
    assert errors.columns.tolist() == [
        "lesion_id",
        "column",
        "path",
        "error",
        "message",
    ]
    # filled from the ROIError's attributes, not from its message
    assert errors[["lesion_id", "column", "error"]].values.tolist() == [
        ["L03", "US_image", "ROIFileNotFoundError"],
        ["L05", "AP_mask", "ROIError"],
        ["L07", "US_mask", "ROIError"],
    ]
    assert errors["path"][0] == str(tmp_path / "nowhere.png")
    # the message is the reason alone (io's wording), without the location
    messages = errors["message"].tolist()
    assert messages[0] == f"no such image file: '{tmp_path / 'nowhere.png'}'"
    assert "empty" in messages[1]
    assert "(32, 32)" in messages[2] and "(64, 64)" in messages[2]
    assert not any(m.startswith("lesion ") for m in messages)
    # the table holds the other lesions, in manifest order
    table = _read_csv(out)
    good = ["L01", "L02", "L04", "L06", "L08", "L09", "L10"]
    assert table.index.tolist() == good
    pd.testing.assert_frame_equal(
        table.drop(columns="ER"),
        _reference(cohort["X"]).loc[good],
        check_names=False,
        check_index_type=False,
        check_exact=True,
    )
    sidecar = json.loads((tmp_path / "features.csv.json").read_text())
    assert sidecar["lesions"]["errors"] == 3
    assert sidecar["errors_file"] == str(tmp_path / "features.errors.csv")
    assert (tmp_path / "features.csv.partial").is_dir()

    # Fixed manifest: only the failed lesions are computed, then all is clean.
    spy.clear()
    fixed = _manifest(tmp_path, cohort["manifest"])
    assert _extract(fixed, out, "--chunk-size", "4", "--quiet") == 0
    assert spy == ["L03", "L05", "L07"]
    assert not (tmp_path / "features.errors.csv").exists()
    assert not (tmp_path / "features.csv.partial").exists()
    pd.testing.assert_frame_equal(
        _read_csv(out).drop(columns="ER"),
        _reference(cohort["X"]),
        check_names=False,
        check_index_type=False,
        check_exact=True,
    )


def test_fail_fast_stops_at_the_first_error(cohort, tmp_path, spy, capsys):
    path = _manifest(tmp_path, _broken(cohort, tmp_path))
    out = tmp_path / "features.csv"
    assert _extract(path, out, "--chunk-size", "2", "--fail-fast", "--quiet") == 1
    err = capsys.readouterr().err
    assert err == (
        "error: lesion 'L03', column 'US_image': ROIFileNotFoundError: no such image "
        f"file: '{tmp_path / 'nowhere.png'}' (stopped by --fail-fast; 2/10 lesions "
        f"are saved in {tmp_path / 'features.csv.partial'}, and the same command "
        "resumes from there)\n"
    )
    # the chunk of L03 was computed, but ends before L03: L04 is not kept
    assert spy == ["L01", "L02", "L03", "L04"]
    assert not out.exists()
    assert len(pd.read_csv(tmp_path / "features.errors.csv")) == 1
    assert _chunk_ids(tmp_path / "features.csv.partial") == ["L01", "L02"]


def test_resuming_with_other_settings_is_refused(cohort, tmp_path, capsys):
    path = _manifest(tmp_path, _broken(cohort, tmp_path))
    out = tmp_path / "features.csv"
    assert _extract(path, out, "--distances", "1", "2", "--quiet") == 1
    capsys.readouterr()
    assert _extract(path, out, "--distances", "1", "--quiet") == 2
    partial = tmp_path / "features.csv.partial"
    assert capsys.readouterr().err == (
        f"error: {partial} holds an unfinished run with other settings (distances: "
        "[1, 2] there, [1] now); run the command again with the same settings to "
        f"finish that run, or delete {partial} to start over\n"
    )
    # speed-only settings may change
    assert _extract(path, out, "--distances", "1", "2", "--n-jobs", "1") == 1


def test_an_unexpected_failure_is_isolated_to_its_lesion(
    cohort, tmp_path, monkeypatch, capsys
):
    # An error that reading the ROIs does not reveal fails the chunk; the
    # chunk is then extracted lesion by lesion and only the culprit is listed.
    compute = cli_extract._Extraction.compute

    def failing(self, lesions):
        if "L02" in lesions:
            raise RuntimeError("out of memory")
        return compute(self, lesions)

    monkeypatch.setattr(cli_extract._Extraction, "compute", failing)
    out = tmp_path / "features.csv"
    assert _extract(cohort["path"], out, "--families", "hist", "--quiet") == 1
    assert capsys.readouterr().err == (
        f"extracted 9/10 lesions; 1 error in {tmp_path / 'features.errors.csv'}\n"
    )
    errors = pd.read_csv(tmp_path / "features.errors.csv", keep_default_na=False)
    assert errors.values.tolist() == [["L02", "", "", "RuntimeError", "out of memory"]]
    assert "L02" not in _read_csv(out).index


def test_ctrl_c_keeps_the_finished_chunks(cohort, tmp_path, monkeypatch, capsys):
    compute = cli_extract._Extraction.compute

    def interrupted(self, lesions):
        if "L05" in lesions:
            raise KeyboardInterrupt
        return compute(self, lesions)

    monkeypatch.setattr(cli_extract._Extraction, "compute", interrupted)
    out = tmp_path / "features.csv"
    flags = ("--families", "hist", "--chunk-size", "2", "--quiet")
    assert _extract(cohort["path"], out, *flags) == 130
    partial = tmp_path / "features.csv.partial"
    assert capsys.readouterr().err == (
        f"interrupted: finished lesions are saved in {partial}; run the same "
        "command again to resume\n"
    )
    assert _chunk_ids(partial) == ["L01", "L02", "L03", "L04"]
    assert not out.exists()


def test_a_damaged_chunk_is_computed_again(cohort, tmp_path, spy, capsys):
    path = _manifest(tmp_path, _broken(cohort, tmp_path))
    out = tmp_path / "features.csv"
    flags = ("--families", "hist", "--chunk-size", "4", "--quiet")
    assert _extract(path, out, *flags) == 1
    damaged = tmp_path / "features.csv.partial" / "chunk-00000.npz"
    damaged.write_bytes(b"not a zip file")
    spy.clear()
    capsys.readouterr()
    fixed = _manifest(tmp_path, cohort["manifest"])
    assert _extract(fixed, out, *flags) == 0
    assert capsys.readouterr().err.startswith(
        f"warning: ignoring the unreadable {damaged} ("
    )
    # chunk 0 held L01, L02 and L04 (L03 had failed)
    assert spy == ["L01", "L02", "L03", "L04", "L05", "L07"]
    pd.testing.assert_frame_equal(
        _read_csv(out).drop(columns="ER"),
        _reference(cohort["X"], families=("hist",)),
        check_names=False,
        check_index_type=False,
        check_exact=True,
    )


def test_a_second_run_on_the_same_output_is_refused(cohort, tmp_path, capsys):
    fcntl = pytest.importorskip("fcntl")
    partial = tmp_path / "features.csv.partial"
    partial.mkdir()
    with open(partial / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert _extract(cohort["path"], tmp_path / "features.csv") == 2
    assert capsys.readouterr().err == (
        f"error: another extract is writing {partial} (its lock is held); wait "
        "for it to finish, or give this run another --out\n"
    )
    # once the other run is gone (its lock released), this one goes on
    assert _extract(cohort["path"], tmp_path / "features.csv", "--quiet") == 0


def test_degenerate_rois_are_reported_as_warnings_not_errors(cohort, tmp_path, capsys):
    manifest = cohort["manifest"].copy()
    tiny = np.zeros((64, 64), bool)
    tiny[30:32, 30:32] = True
    manifest.loc[0, "US_mask"] = _png(tmp_path / "tiny.png", tiny)
    path = _manifest(tmp_path, manifest)
    out = tmp_path / "features.csv"
    assert _extract(path, out, "--families", "hist", "grad") == 0
    err = capsys.readouterr().err
    assert (
        "warning: lesion 'L01', column 'US_mask': gradient: no ROI pixel has its 4 "
        "neighbours" in err
    )
    table = _read_csv(out)
    assert table.filter(like="US_Grad").loc["L01"].isna().all()
    assert table.filter(like="US_Grad").drop(index="L01").notna().all().all()
    sidecar = json.loads((tmp_path / "features.csv.json").read_text())
    assert sidecar["lesions"]["warnings"] == 1
    # --quiet: no progress bar and no warning lines
    assert _extract(path, tmp_path / "quiet.csv", "--families", "grad", "--quiet") == 0
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------
# Parameter files and flags
# --------------------------------------------------------------------------


def test_parameter_file_and_flags_give_the_same_table(cohort, tmp_path):
    yaml = pytest.importorskip("yaml")
    params = tmp_path / "settings.yaml"
    params.write_text(
        yaml.safe_dump(
            {
                "families": ["hist", "rlm", "glcm"],
                "distances": [1, 2, 3],
                "bits": {"glcm": 5},
                "readers": "all",
            }
        )
    )
    from_file = tmp_path / "file.csv"
    # a flag replaces the file's value: distances [1, 2] instead of [1, 2, 3]
    args = ("--params", str(params), "--distances", "1", "2", "--quiet")
    assert _extract(cohort["path"], from_file, *args) == 0
    from_flags = tmp_path / "flags.csv"
    flags = ("--families", "hist", "rlm", "glcm", "--distances", "1", "2")
    flags += ("--bits", "glcm=5", "--readers", "all", "--quiet")
    assert _extract(cohort["path"], from_flags, *flags) == 0
    pd.testing.assert_frame_equal(
        _read_csv(from_file), _read_csv(from_flags), check_exact=True
    )
    settings = json.loads((tmp_path / "file.csv.json").read_text())["settings"]
    assert settings["distances"] == [1, 2]
    assert settings["bits"]["glcm"] == 5 and settings["bits"]["rlm"] == 6


VALID = ", ".join(DEFAULT_SETTINGS)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "s.json",
            '{"famlies": ["hist"]}',
            "s.json: unknown setting 'famlies' (did you mean 'families'?). "
            f"Valid settings are: {VALID}",
        ),
        (
            "s.json",
            '{"chunk_size": 4}',
            "s.json: 'chunk_size' is an option of the command, not a setting: pass "
            f"--chunk-size on the command line. Valid settings are: {VALID}",
        ),
        (
            "s.json",
            '{"cache": false}',
            "s.json: 'cache' is not a setting of the command (the in-process "
            "feature cache stays on",
        ),
        # Values are checked by the estimator that takes them: its
        # _parameter_constraints, then its own resolution of the settings.
        (
            "s.json",
            '{"distances": "1, 2"}',
            "s.json: distances must be an array-like",
        ),
        (
            "s.json",
            '{"distances": [1, 2.5]}',
            "s.json: distances must be ",
        ),
        (
            "s.json",
            '{"deep": "yes"}',
            "s.json: deep must be an instance of 'bool'",
        ),
        (
            "s.json",
            '{"image_size": 16}',
            "s.json: image_size must be an int in the range [32, inf); got 16\n",
        ),
        (
            "s.json",
            '{"random_state": null}',
            "s.json: random_state must be an int in the range [0, 4294967295]; "
            "got None",
        ),
        (
            "s.json",
            '{"bits": {"glcm": 6, "glmc": 6}}',
            "s.json: bits has unknown families ['glmc']; valid keys are "
            "['hist', 'grad', 'rlm', 'glcm', 'ar', 'wav']",
        ),
        (
            "s.json",
            '{"normalization": "zscore"}',
            "s.json: normalization must be one of ['none', '3sigma', '1-99', "
            "'minmax']; got 'zscore'",
        ),
        (
            "s.json",
            '{"weights": "resnet.pth"}',
            "s.json: weights must be None, one of 'IMAGENET1K_V1', "
            "'IMAGENET1K_V2', 'DEFAULT' or the path of a ResNet-50 state dict "
            "file; got '{folder}/resnet.pth', which is not a known name and no "
            "such file exists",
        ),
        (
            "s.json",
            '{"distances": [1 2]}',
            "s.json: not valid JSON: Expecting ',' delimiter at line 1, column 18",
        ),
        (
            "s.json",
            "[1, 2]",
            "s.json: a parameter file must hold a mapping of setting names to "
            "values (e.g. 'distances: [1, 2]'); got a list",
        ),
        (
            "s.toml",
            "distances = [1]",
            "--params must be a .json, .yaml or .yml file; got '{path}'",
        ),
    ],
)
def test_bad_parameter_file_gives_a_clear_message(
    cohort, tmp_path, capsys, spy, name, text, message
):
    params = tmp_path / name
    params.write_text(text)
    out = tmp_path / "out" / "features.csv"
    assert _extract(cohort["path"], out, "--params", str(params)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: " + message.format(path=params, folder=tmp_path))
    assert len(err.splitlines()) == 1  # one line, reported once
    assert spy == [] and not (tmp_path / "out").exists()


def test_yaml_parameter_file_errors(cohort, tmp_path, capsys, monkeypatch):
    pytest.importorskip("yaml")
    params = tmp_path / "s.yaml"
    params.write_text("wavelet_scales: [2, 1]\n")
    assert _extract(cohort["path"], tmp_path / "f.csv", "--params", str(params)) == 2
    err = capsys.readouterr().err  # the estimator's reason, after the file
    assert err.startswith("error: s.yaml: ") and "(2, 1)" in err
    assert len(err.splitlines()) == 1
    params.write_text("distances: [1, 2\n")
    assert _extract(cohort["path"], tmp_path / "f.csv", "--params", str(params)) == 2
    assert capsys.readouterr().err.startswith("error: s.yaml: not valid YAML: ")
    # without PyYAML, a clear pointer to JSON
    monkeypatch.setitem(sys.modules, "yaml", None)
    assert _extract(cohort["path"], tmp_path / "f.csv", "--params", str(params)) == 2
    assert capsys.readouterr().err == (
        "error: s.yaml: reading YAML needs PyYAML (pip install PyYAML); or write "
        "the same settings as JSON (settings.json)\n"
    )


def test_bad_flags_and_options(cohort, tmp_path, capsys):
    out = tmp_path / "features.csv"
    assert _extract(cohort["path"], out, "--distances", "0") == 2
    err = capsys.readouterr().err  # the estimator's reason, after the flag
    assert err.startswith("error: --distances: distances must be ")
    assert err.endswith("got [0]\n") and len(err.splitlines()) == 1
    assert _extract(cohort["path"], tmp_path / "features.xlsx") == 2
    assert capsys.readouterr().err == (
        "error: --out must end in .parquet or .csv (the table's format); got "
        f"'{tmp_path / 'features.xlsx'}'\n"
    )
    assert _extract(cohort["path"], out, "--chunk-size", "0") == 2
    assert "--chunk-size must be an integer >= 1; got 0" in capsys.readouterr().err
    assert _extract(cohort["path"], out, "--label-column", "OS") == 2
    assert capsys.readouterr().err.startswith(
        "error: --label-column: the manifest has no column 'OS'; its columns are "
        "['lesion_id', 'US_image'"
    )
    assert _extract(cohort["path"], out, "--phases", "PP") == 2
    assert "unknown phase(s) ['PP']" in capsys.readouterr().err
    assert _extract(tmp_path / "nowhere.csv", out) == 2
    assert "no such manifest file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        _extract(cohort["path"], out, "--bits", "glcm=x")
    assert exc.value.code == 2
    assert "family=int pairs (e.g. glcm=6,rlm=6); got 'glcm=x'" in (
        capsys.readouterr().err
    )
    assert list(tmp_path.iterdir()) == []


def test_without_a_label_column_the_table_has_features_only(cohort, tmp_path):
    path = _manifest(tmp_path, cohort["manifest"].drop(columns="ER"))
    out = tmp_path / "features.csv"
    assert _extract(path, out, "--families", "hist", "--quiet") == 0
    assert _read_csv(out).columns[0] == "US_Mean"
    sidecar = json.loads((tmp_path / "features.csv.json").read_text())
    assert sidecar["manifest"]["label_column"] is None
    # another label column, by name
    assert _extract(cohort["path"], out, "--label-column", "age", "--quiet") == 0
    assert _read_csv(out)["age"].tolist() == cohort["manifest"]["age"].tolist()


def _help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["extract", "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


def test_every_setting_has_a_flag(capsys):
    text = _help(capsys)
    for key in DEFAULT_SETTINGS:
        assert f"--{key.replace('_', '-')}" in text
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "extract" in capsys.readouterr().out


@pytest.mark.parametrize("cls", [TextureExtractor, ResNetFeaturizer])
def test_every_estimator_parameter_is_a_setting_unless_listed(cls, capsys):
    # The settings are the estimators' parameters: none is typed again, and a
    # parameter the command leaves out is listed, with its reason.
    text = " ".join(_help(capsys).split())
    for name in cls().get_params():
        if name in _settings.NOT_EXPOSED:
            assert name not in DEFAULT_SETTINGS
            continue
        if name == "family_params":  # its entries are settings of their own
            assert name not in DEFAULT_SETTINGS
            assert set(family_parameters()) <= set(DEFAULT_SETTINGS)
            continue
        assert name in DEFAULT_SETTINGS  # a parameter-file key
        flag = f"--{name.replace('_', '-')}"
        file_only = text.partition("(no command-line spelling):")[2]
        assert flag in text or name in file_only
        default = cls().get_params()[name]
        if name not in _settings.OVERRIDES:
            assert DEFAULT_SETTINGS[name] == _settings._plain(default)
    assert DEFAULT_SETTINGS["random_state"] == 0  # a seed on purpose


def test_flag_types_and_help_come_from_the_estimators(capsys):
    text = " ".join(_help(capsys).split())
    # choices from _parameter_constraints, in the docstring's order
    assert "--normalization {none,3sigma,1-99,minmax}" in text
    assert "--mask-context {keep,zero}" in text
    # help: the first sentence of the numpydoc description
    assert "--distances DISTANCE [DISTANCE ...] Co-occurrence distances" in text
    assert "Images per forward pass (default: 16)" in text
    # the option lists come from their single source
    from ceusradiomics.texture import FAMILIES

    assert f"Subset of {' '.join(FAMILIES)}" in text
    # a list flag takes several values or comma-separated ones; "none" is None
    # where the estimator allows it; an int margin stays pixels
    command = "extract --manifest m --out o --distances 1,2 3 --n-jobs none "
    command += "--crop-margin 8 --wavelet-scales 3"
    args = build_parser().parse_args(command.split())
    flags = _settings.flag_settings(vars(args))
    assert flags == {
        "distances": [1, 2, 3],
        "n_jobs": None,
        "crop_margin": 8,
        "wavelet_scales": 3,  # one value k: the scales 1..k
    }
    assert isinstance(flags["crop_margin"], int)


def _with_params(cls, **extra):
    """`cls`'s signature with keyword-only parameters `extra` (name: default)."""
    signature = inspect.signature(cls.__init__)
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
        for name, default in extra.items()
    ]
    return signature.replace(parameters=[*signature.parameters.values(), *added])


class _NewTexture(TextureExtractor):
    """TextureExtractor with two more parameters.

    Parameters
    ----------
    smoothing : int, default=2
        Width of a made-up smoothing window. Not used.
    family_options : dict, optional
        Made-up per-family options.
    """

    _parameter_constraints: ClassVar[dict] = {
        **TextureExtractor._parameter_constraints,
        "smoothing": [Interval(Integral, 1, 8, closed="both")],
        "family_options": [None, dict],
    }

    def __init__(self, phases=None, *, smoothing=2, family_options=None, **params):
        super().__init__(phases, **params)
        self.smoothing = smoothing
        self.family_options = family_options

    __init__.__signature__ = _with_params(
        TextureExtractor, smoothing=2, family_options=None
    )


@pytest.fixture
def new_texture(monkeypatch):
    """The command derived from _NewTexture instead of TextureExtractor."""
    monkeypatch.setitem(_settings.ESTIMATORS, "texture", _NewTexture)


def test_a_new_estimator_parameter_reaches_flags_and_parameter_file(
    new_texture, cohort, tmp_path, capsys
):
    text = " ".join(_help(capsys).split())
    assert "--smoothing SMOOTHING Width of a made-up smoothing window (default: 2)" in (
        text
    )
    # a dict without a parser of its own: a parameter-file key only
    assert "--family-options" not in text
    assert "parameter file only (no command-line spelling): family_options" in text
    settings = resolve_settings(overrides={"smoothing": 3})
    assert settings["smoothing"] == 3 and settings["family_options"] is None
    # validated by the estimator's constraint, reported once with the flag
    with pytest.raises(SettingsError) as exc:
        resolve_settings(overrides={"smoothing": 9})
    assert str(exc.value) == (
        "--smoothing: smoothing must be an int in the range [1, 8]; got 9"
    )
    params = tmp_path / "s.json"
    params.write_text('{"family_options": {"glcm": {"symmetric": true}}}')
    options = resolve_settings(params)["family_options"]
    assert options == {"glcm": {"symmetric": True}}
    params.write_text('{"family_options": [1]}')
    with pytest.raises(SettingsError, match=r"^s.json: family_options must be "):
        resolve_settings(params)
    # and the run hands it to the estimator
    out = tmp_path / "f.csv"
    flags = ("--families", "hist", "--smoothing", "4", "--quiet")
    assert _extract(cohort["path"], out, *flags) == 0
    sidecar = json.loads((tmp_path / "f.csv.json").read_text())
    assert sidecar["settings"]["smoothing"] == 4


@pytest.fixture
def shift_family():
    """A texture family with a parameter of its own, registered for one test."""

    def names(shift_offset):
        return [f"ShiftedMean{shift_offset}"]

    def compute(work, mask, *, levels, origin, shift_offset):
        return {f"ShiftedMean{shift_offset}": float(work[mask].mean()) + shift_offset}

    def resolve(value):
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"shift_offset must be an int >= 0; got {value!r}")
        return value

    parameter = FamilyParameter("shift_offset", 1, resolve, "added to the mean")
    family = Family("shift", "shifted mean", names, compute, parameters=(parameter,))
    _registry.register_family(family)
    yield family
    del _registry.FAMILIES["shift"]


def test_a_registered_family_parameter_is_a_setting(
    shift_family, cohort, tmp_path, capsys
):
    # The registry's parameter is a flag and a parameter-file key, passed to
    # the extractor in family_params, checked by the family's own resolve.
    text = " ".join(_help(capsys).split())
    assert "--shift-offset SHIFT_OFFSET Added to the mean (default: 1)" in text
    assert "Subset of hist grad rlm glcm ar wav shift (default: all)" in text
    out = tmp_path / "f.csv"
    flags = ("--families", "hist", "shift", "--shift-offset", "3", "--quiet")
    assert _extract(cohort["path"], out, "--phases", "US", *flags) == 0
    table = _read_csv(out)
    assert table.columns[-1] == "US_ShiftedMean3"
    np.testing.assert_allclose(table["US_ShiftedMean3"], table["US_Mean"] + 3)
    sidecar = json.loads((tmp_path / "f.csv.json").read_text())
    assert sidecar["settings"]["shift_offset"] == 3
    assert _extract(cohort["path"], out, *flags[:-3], "--shift-offset", "-1") == 2
    assert capsys.readouterr().err == (
        "error: --shift-offset: shift_offset must be an int >= 0; got -1\n"
    )
    params = tmp_path / "s.json"
    params.write_text('{"family_params": {"shift_offset": 2}}')
    with pytest.raises(SettingsError, match="its entries are settings of their own"):
        resolve_settings(params)


def test_an_invalid_flag_is_reported_once_with_its_name(cohort, tmp_path, capsys):
    out = tmp_path / "features.csv"
    assert _extract(cohort["path"], out, "--image-size", "16") == 2
    assert capsys.readouterr().err == (
        "error: --image-size: image_size must be an int in the range [32, inf); "
        "got 16\n"
    )
    assert _extract(cohort["path"], out, "--families", "hist", "glmc") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --families: families must be ")
    assert "glmc" in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_errors_file_column_and_path_come_from_the_roi_error(cohort, tmp_path):
    manifest = cohort["manifest"].copy()
    missing = tmp_path / "gone_roi.png"
    manifest.loc[1, "AP_mask"] = str(missing)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(Path(manifest.loc[3, "US_image"]).read_bytes()[:200])
    manifest.loc[3, "US_image"] = str(truncated)
    path = _manifest(tmp_path, manifest)
    out = tmp_path / "features.csv"
    assert _extract(path, out, "--families", "hist", "--quiet") == 1
    errors = pd.read_csv(tmp_path / "features.errors.csv", keep_default_na=False)
    rows = errors.set_index("lesion_id")
    assert rows.loc["L02", ["column", "path", "error"]].tolist() == [
        "AP_mask",
        str(missing),
        "ROIFileNotFoundError",
    ]
    assert rows.loc["L04", ["column", "path", "error"]].tolist() == [
        "US_image",
        str(truncated),
        "ROIError",
    ]
    # the message is the reason alone: the location is in its own columns
    assert not rows["message"].str.startswith("lesion ").any()
    assert _read_csv(out).index.tolist() == [
        f"L{i:02d}" for i in range(1, 11) if i not in (2, 4)
    ]


def test_run_extract_reads_a_parameter_file_relative_weights_path(tmp_path):
    # A weights file named in a parameter file is relative to that file.
    (tmp_path / "nets").mkdir()
    (tmp_path / "nets" / "resnet.pth").write_bytes(b"")
    params = tmp_path / "settings.json"
    params.write_text('{"weights": "nets/resnet.pth", "crop_margin": 8}')
    settings = resolve_settings(params)
    assert settings["weights"] == str((tmp_path / "nets" / "resnet.pth").resolve())
    assert settings["crop_margin"] == 8 and isinstance(settings["crop_margin"], int)
    assert resolve_settings(overrides={"weights": "None"})["weights"] is None
