"""``train`` and ``predict``: a manifest of files to a saved model to probabilities.

The cohort is written to PNG files (three phases, a second reader on some
lesions, two clinical columns); the models are trained with fast texture
settings and a random network so the suite stays quick.
"""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import skops.io
from PIL import Image

from ceusradiomics import load_model
from ceusradiomics.cli import main
from ceusradiomics.datasets import make_ceus_cohort
from ceusradiomics.io import load_cohort
from ceusradiomics.persist import load_card

N_LESIONS = 60
FAST = ["--families", "hist", "glcm", "--distances", "1"]
NETWORK = ["--weights", "none", "--image-size", "32"]
SETTINGS = {
    "families": ["hist", "glcm"],
    "distances": [1],
    "weights": None,
    "image_size": 32,
}


def _png(path, array):
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    Image.fromarray(array).save(path)
    return str(path.name)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cohort")
    X, y, clinical = make_ceus_cohort(
        n_lesions=N_LESIONS, image_size=64, random_state=0
    )
    rows = []
    for lesion in X.index:
        row = {"lesion_id": lesion}
        for phase in ("US", "AP", "PP"):
            row[f"{phase}_image"] = _png(
                folder / f"{lesion}_{phase}.png", X.loc[lesion, f"{phase}_image"]
            )
            row[f"{phase}_mask"] = _png(
                folder / f"{lesion}_{phase}_roi.png", X.loc[lesion, f"{phase}_mask"]
            )
            second = X.loc[lesion, f"{phase}_mask_r2"]
            row[f"{phase}_mask_r2"] = (
                None
                if second is None
                else _png(folder / f"{lesion}_{phase}_r2.png", second)
            )
        row["ER"] = y[lesion]
        row["age"] = clinical.loc[lesion, "age"]
        row["size_cm"] = clinical.loc[lesion, "size_cm"]
        rows.append(row)
    manifest = pd.DataFrame(rows)
    manifest.to_csv(folder / "cohort.csv", index=False)
    return {"folder": folder, "manifest": manifest, "path": folder / "cohort.csv"}


# Trains, saves, and writes the model's in-memory probabilities, in its own
# process: a CPU convolution's last bits depend on torch's thread set-up, and
# this test process has changed it (other tests call torch.set_num_threads),
# so the reference must come from a process as fresh as the one predicting.
TRAIN_SCRIPT = """
import json, sys
import numpy as np
from ceusradiomics.cli._settings import resolve_settings
from ceusradiomics.cli.train import train_model
from ceusradiomics.io import load_cohort
from ceusradiomics.persist import save_model

manifest, folder, settings = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
X = load_cohort(manifest)
y = X.pop("ER")
model, card, problems = train_model(
    X, y, settings=resolve_settings(overrides=settings), readers="all"
)
assert problems == [], problems
save_model(model, f"{folder}/model.skops", card=card)
np.save(f"{folder}/proba.npy", model.predict_proba(X)[:, 1])
branches = model.branch_predict_proba(X)
np.save(f"{folder}/radiomics.npy", branches["radiomics"].to_numpy())
np.save(f"{folder}/deep.npy", branches["deep"].to_numpy())
"""


@pytest.fixture(scope="module")
def trained_stack(files, tmp_path_factory):
    """The stack ``train`` fits: its file, card and in-memory probabilities."""
    import json

    folder = tmp_path_factory.mktemp("model")
    settings = json.dumps(SETTINGS)
    done = subprocess.run(
        [sys.executable, "-c", TRAIN_SCRIPT, str(files["path"]), str(folder), settings],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    X = load_cohort(files["path"])
    return {
        "path": folder / "model.skops",
        "card": load_card(folder / "model.skops"),
        "X": X,
        **{k: np.load(folder / f"{k}.npy") for k in ("proba", "radiomics", "deep")},
    }


def _absolute(manifest, folder):
    """`manifest` with its file cells as absolute paths (to write it elsewhere)."""
    manifest = manifest.copy()
    for column in manifest.columns:
        if column.endswith(("_image", "_mask", "_r2")):
            manifest[column] = [
                None if pd.isna(p) else str(folder / p) for p in manifest[column]
            ]
    return manifest


def _predict(*args):
    """``python -m ceusradiomics predict`` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "ceusradiomics", "predict", "--quiet", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_predictions_in_a_fresh_process_equal_the_trained_model(
    trained_stack, files, tmp_path
):
    out = tmp_path / "predictions.csv"
    done = _predict(
        "--model", trained_stack["path"], "--manifest", files["path"], "--out", out
    )
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out, dtype={"lesion_id": str}, keep_default_na=False)
    X, expected = trained_stack["X"], trained_stack["proba"]
    assert table["lesion_id"].tolist() == X.index.tolist()
    # bit for bit: the CSV holds each float's shortest exact repr
    assert np.array_equal(table["probability"].to_numpy(), expected)
    for name in ("radiomics", "deep"):
        assert np.array_equal(table[f"proba_{name}"].to_numpy(), trained_stack[name])
    threshold = trained_stack["card"].threshold
    assert (table["predicted"] == (expected >= threshold).astype(int)).all()
    assert (table["warnings"] == "").all()  # the training lesions themselves


def test_predict_warns_per_lesion_on_16_bit_images(trained_stack, files, tmp_path):
    manifest = _absolute(files["manifest"].head(5).drop(columns="ER"), files["folder"])
    for k in (1, 3):
        lesion = manifest.loc[k, "lesion_id"]
        grey = np.asarray(Image.open(manifest.loc[k, "AP_image"]))
        path = tmp_path / f"{lesion}_AP16.png"
        Image.fromarray(grey.astype(np.uint16) * 257).save(path)
        manifest.loc[k, "AP_image"] = str(path)
    path = tmp_path / "new.csv"
    manifest.to_csv(path, index=False)
    out = tmp_path / "predictions.csv"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ceusradiomics",
            "predict",
            "--model",
            str(trained_stack["path"]),
            "--manifest",
            str(path),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out, keep_default_na=False)
    flagged = table["warnings"] != ""
    assert flagged.tolist() == [False, True, False, True, False]
    for text in table.loc[flagged, "warnings"]:
        assert "AP_image: uint16 image, but the model was trained on uint8" in text
    for lesion in manifest.loc[[1, 3], "lesion_id"]:
        assert f"warning: lesion '{lesion}': AP_image: uint16 image" in done.stderr
    assert "2 with input warnings" in done.stdout


def test_predict_lists_unreadable_lesions_and_refuses_untrusted_files(
    trained_stack, files, tmp_path
):
    manifest = _absolute(files["manifest"].head(4), files["folder"])
    manifest.loc[2, "US_mask"] = str(tmp_path / "gone.png")
    path = tmp_path / "new.csv"
    manifest.to_csv(path, index=False)
    out = tmp_path / "p.csv"
    done = _predict("--model", trained_stack["path"], "--manifest", path, "--out", out)
    assert done.returncode == 1
    errors = pd.read_csv(tmp_path / "p.errors.csv")
    assert errors["lesion_id"].tolist() == [manifest.loc[2, "lesion_id"]]
    assert errors["column"].tolist() == ["US_mask"]
    assert len(pd.read_csv(out)) == 3

    evil = tmp_path / "evil.skops"
    skops.io.dump({"run": subprocess.call}, evil)
    done = _predict("--model", evil, "--manifest", path, "--out", out)
    assert done.returncode == 2
    assert "does not trust" in done.stderr and "subprocess.call" in done.stderr


def test_train_command_saves_model_card_and_errors(files, tmp_path, capsys):
    manifest = files["manifest"].drop(columns="ER").copy()
    manifest.loc[0, "PP_mask"] = "missing.png"  # unreadable: listed, left out
    manifest_path = files["folder"] / "no_labels.csv"
    manifest.to_csv(manifest_path, index=False)
    labels = files["manifest"][["lesion_id", "ER"]].copy()
    labels.loc[1, "ER"] = np.nan  # no outcome: listed, left out
    labels_path = tmp_path / "outcomes.csv"
    labels.to_csv(labels_path, index=False)
    out = tmp_path / "radiomics.skops"
    code = main(
        [
            "train",
            "--manifest",
            str(manifest_path),
            "--labels",
            str(labels_path),
            "--model",
            "radiomics",
            "--out",
            str(out),
            "--quiet",
            *FAST,
        ]
    )
    printed = capsys.readouterr()
    assert code == 1, printed.err
    errors = pd.read_csv(tmp_path / "radiomics.errors.csv")
    assert set(errors["lesion_id"]) == {"L01", "L02"}
    assert "MissingLabel" in set(errors["error"])
    card = load_card(out)
    assert card.training["n_lesions"] == N_LESIONS - 2
    assert card.texture["families"] == ["hist", "glcm"]
    assert card.readers["US"] == ["US_mask", "US_mask_r2"]  # ICC: two readers
    assert "5-fold cross-validation" in card.validation["method"]
    assert f"lesions used: {N_LESIONS - 2} of {N_LESIONS}" in printed.out
    assert "out-of-fold AUC" in printed.out and "LASSO" in printed.out
    markdown = (tmp_path / "radiomics.card.md").read_text()
    assert markdown == card.to_markdown()
    model = load_model(out)
    assert type(model).__name__ == "Pipeline"


def test_train_refuses_bad_input(files, tmp_path, capsys):
    single = _absolute(files["manifest"].assign(ER=0), files["folder"])
    path = tmp_path / "one_class.csv"
    single.to_csv(path, index=False)
    out = tmp_path / "m.skops"
    args = ["train", "--manifest", str(path), "--out", str(out), *FAST, "--quiet"]
    assert main([*args, "--model", "radiomics"]) == 2
    assert "two classes" in capsys.readouterr().err
    assert main([*args, "--model", "clinical"]) == 2
    assert "--clinical-columns" in capsys.readouterr().err
    assert main([*args, "--label-column", "outcome"]) == 2
    assert "no column 'outcome'" in capsys.readouterr().err
    assert not out.exists()


def test_predict_on_one_reader_and_on_real_ultrasound_dicoms(
    trained_stack, files, tmp_path, capsys
):
    # New lesions have one reader: the second reader's columns, used by the
    # ICC filter in training only, are not needed, and the values are the same.
    single = _absolute(files["manifest"], files["folder"]).drop(
        columns=["ER", "US_mask_r2", "AP_mask_r2", "PP_mask_r2"]
    )
    path = tmp_path / "one_reader.csv"
    single.to_csv(path, index=False)
    out = tmp_path / "one_reader_predictions.csv"
    done = _predict("--model", trained_stack["path"], "--manifest", path, "--out", out)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out, keep_default_na=False)
    assert np.array_equal(table["probability"].to_numpy(), trained_stack["proba"])

    # pydicom's real ultrasound files (colour YBR cine read through a frame
    # column, RGB, JPEG 2000, palette) against a model fitted on 8-bit PNGs:
    # every lesion is scored, and each is flagged as unlike the training data.
    from pydicom.data import get_testdata_file

    from ceusradiomics.io import read_image

    rows = []
    for name in (
        "examples_ybr_color.dcm",
        "examples_rgb_color.dcm",
        "examples_jpeg2k.dcm",
        "examples_palette.dcm",
    ):
        source = get_testdata_file(name)
        cine = name == "examples_ybr_color.dcm"
        rows_, cols = read_image(source, frame=0 if cine else None).shape
        mask = np.zeros((rows_, cols), bool)
        mask[rows_ // 3 : 2 * rows_ // 3, cols // 3 : 2 * cols // 3] = True
        mask_path = tmp_path / f"{name}.roi.png"
        Image.fromarray(mask.astype(np.uint8) * 255).save(mask_path)
        row = {"lesion_id": name.removesuffix(".dcm")}
        for phase in ("US", "AP", "PP"):
            row[f"{phase}_image"] = source
            row[f"{phase}_mask"] = str(mask_path)
            row[f"{phase}_frame"] = 0 if cine else None
        rows.append(row)
    path = tmp_path / "dicoms.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    out = tmp_path / "dicom_predictions.csv"
    done = _predict("--model", trained_stack["path"], "--manifest", path, "--out", out)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out, keep_default_na=False)
    assert table["lesion_id"].tolist() == [r["lesion_id"] for r in rows]
    assert table["probability"].between(0, 1).all()
    assert (table["warnings"] != "").all()
    palette = table.set_index("lesion_id").loc["examples_palette", "warnings"]
    assert "uint16 image, but the model was trained on uint8" in palette

    # explain names the same extrapolation (its figure explains it all the same)
    pytest.importorskip("matplotlib")
    from ceusradiomics.cli import main

    figure = tmp_path / "palette.png"
    args = ["explain", "--model", str(trained_stack["path"]), "--manifest", str(path)]
    assert main([*args, "--lesion", "examples_palette", "--out", str(figure)]) == 0
    err = capsys.readouterr().err
    assert "warning: lesion 'examples_palette': " in err
    assert "uint16 image, but the model was trained on uint8" in err
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_explain_writes_a_figure_per_lesion(trained_stack, files, tmp_path):
    pytest.importorskip("matplotlib")
    from ceusradiomics.cli import main

    lesion = str(trained_stack["X"].index[3])
    out = tmp_path / "one.png"
    done = subprocess.run(
        [
            sys.executable, "-m", "ceusradiomics", "explain", "--quiet",
            "--model", str(trained_stack["path"]), "--manifest", str(files["path"]),
            "--lesion", lesion, "--out", str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"lesion {lesion}: radiomics" in done.stdout and "stack" in done.stdout

    two = [str(v) for v in trained_stack["X"].index[:2]]
    folder = tmp_path / "figures"
    args = ["explain", "--model", str(trained_stack["path"])]
    args += ["--manifest", str(files["path"]), "--quiet"]
    assert main([*args, "--lesion", *two, "--out", str(folder)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{v}.png" for v in two)
    svg = tmp_path / "one.svg"
    assert main([*args, "--lesion", two[0], "--out", str(svg), "--top", "3"]) == 0
    assert svg.read_text().lstrip().startswith("<?xml")


def test_explain_refuses_bad_requests(trained_stack, files, tmp_path, capsys):
    from ceusradiomics.cli import main

    args = ["explain", "--model", str(trained_stack["path"])]
    args += ["--manifest", str(files["path"]), "--quiet"]
    assert main([*args, "--lesion", "P999", "--out", str(tmp_path / "x.png")]) == 2
    assert "lesion 'P999' is not in X's index" in capsys.readouterr().err
    two = [str(v) for v in trained_stack["X"].index[:2]]
    assert main([*args, "--lesion", *two, "--out", str(tmp_path / "x.png")]) == 2
    assert "pass a folder" in capsys.readouterr().err
    lesion = two[0]
    assert main([*args, "--lesion", lesion, "--out", "x.png", "--top", "0"]) == 2
    assert "--top must be >= 1" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
