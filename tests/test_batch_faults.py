"""``python -m ceusradiomics extract`` under faults: nothing mixed, nothing lost.

The faults are real where a test can make them so: the command runs in a
subprocess that is killed with SIGKILL, or that writes under a file-size limit;
each test compares the final table bit for bit with a run that met no fault.
"""

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import ceusradiomics
from ceusradiomics.cli import extract as cli_extract
from ceusradiomics.cli import main
from ceusradiomics.datasets import make_ceus_cohort
from ceusradiomics.io import load_cohort

N_LESIONS = 10
# Few columns, so that a chunk and the store's settings are small next to the
# table (the file-size limit test needs it) and every run is quick.
FAST = ("--families", "hist", "glcm", "--distances", "1", "--quiet")
# What a run with a failing L05 stores.
STOPPED = [f"L{i:02d}" for i in range(1, 11) if i != 5]


def _png(path, array):
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    Image.fromarray(array).save(path)
    return str(path)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """The bundled cohort's US and AP phases as PNG files, and its manifest."""
    folder = tmp_path_factory.mktemp("cohort")
    X, y, _ = make_ceus_cohort(n_lesions=N_LESIONS, image_size=64, random_state=0)
    rows = []
    for lesion in X.index:
        row = {"lesion_id": lesion}
        for phase in ("US", "AP"):
            image = X.loc[lesion, f"{phase}_image"]
            row[f"{phase}_image"] = _png(folder / f"{lesion}_{phase}.png", image)
            mask = X.loc[lesion, f"{phase}_mask"]
            row[f"{phase}_mask"] = _png(folder / f"{lesion}_{phase}_roi.png", mask)
        row["ER"] = y[lesion]
        rows.append(row)
    manifest = pd.DataFrame(rows)
    path = folder / "cohort.csv"
    manifest.to_csv(path, index=False)
    whole = folder / "whole.csv"  # a run that met no fault
    assert main(["extract", "--manifest", str(path), "--out", str(whole), *FAST]) == 0
    return {"X": X, "manifest": manifest, "path": path, "whole": whole}


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


def _manifest(folder, frame, name="cohort.csv"):
    path = folder / name
    frame.to_csv(path, index=False)
    return path


def _extract(manifest, out, *flags):
    return main(["extract", "--manifest", str(manifest), "--out", str(out), *flags])


def _command(manifest, out, *flags):
    return [
        sys.executable,
        "-m",
        "ceusradiomics",
        "extract",
        "--manifest",
        str(manifest),
        "--out",
        str(out),
        *flags,
    ]


def _read_csv(path):
    return pd.read_csv(path, index_col=0, dtype={"lesion_id": str})


def _same_table(path, reference):
    pd.testing.assert_frame_equal(
        _read_csv(path), _read_csv(reference), check_exact=True
    )


def _chunk_ids(partial):
    ids = []
    for path in sorted(partial.glob("chunk-*.npz")):
        with np.load(path) as data:
            ids += data["ids"].tolist()
    return ids


def _temporary_files(folder):
    return sorted(p.name for p in folder.rglob("*.tmp"))


# --------------------------------------------------------------------------
# The store's settings
# --------------------------------------------------------------------------


def test_a_failed_run_that_stored_nothing_does_not_block_the_corrected_run(
    cohort, tmp_path, capsys
):
    # Every lesion fails: the run stores no chunk, only its settings.
    broken = cohort["manifest"].copy()
    broken["US_image"] = str(tmp_path / "nowhere.png")
    path = _manifest(tmp_path, broken)
    out = tmp_path / "features.csv"
    flags = ("--families", "hist", "glcm", "--quiet")
    assert _extract(path, out, *flags, "--distances", "1", "2") == 1
    partial = tmp_path / "features.csv.partial"
    assert (partial / "settings.json").is_file()
    assert not list(partial.glob("chunk-*.npz"))
    capsys.readouterr()
    # The corrected run, with corrected settings too, is not refused.
    fixed = _manifest(tmp_path, cohort["manifest"])
    assert _extract(fixed, out, *flags, "--distances", "1") == 0
    assert capsys.readouterr().err == ""
    _same_table(out, cohort["whole"])
    assert not partial.exists()


def _stopped_run(cohort, tmp_path, *flags):
    """A run that stored chunks and stopped (one lesion fails): the store stays."""
    broken = cohort["manifest"].copy()
    broken.loc[4, "US_image"] = str(tmp_path / "nowhere.png")
    path = _manifest(tmp_path, broken)
    out = tmp_path / "features.csv"
    assert _extract(path, out, *FAST, "--chunk-size", "4", *flags) == 1
    partial = tmp_path / "features.csv.partial"
    assert _chunk_ids(partial) == STOPPED
    return out, partial


def test_the_store_records_the_code_path_and_the_version(cohort, tmp_path, capsys):
    out, partial = _stopped_run(cohort, tmp_path)
    backend = cli_extract._texture_backend()
    assert backend in ("numba", "numpy")
    header = json.loads((partial / "settings.json").read_text())
    assert header["texture_backend"] == backend
    assert header["ceusradiomics"] == ceusradiomics.__version__
    sidecar = json.loads((tmp_path / "features.csv.json").read_text())
    assert sidecar["texture_backend"] == backend
    assert sidecar["versions"]["ceusradiomics"] == ceusradiomics.__version__
    capsys.readouterr()
    fixed = _manifest(tmp_path, cohort["manifest"])

    if backend == "numba":  # the same command on the numpy path is refused
        env = {**os.environ, "CEUSRADIOMICS_DISABLE_NUMBA": "1"}
        result = subprocess.run(
            _command(fixed, out, *FAST), capture_output=True, text=True, env=env
        )
        assert result.returncode == 2
        assert "computed on the numba code path" in result.stderr
        assert "this run uses the numpy one" in result.stderr

    # chunks computed on the other code path are not mixed with this one's
    other = "numpy" if backend == "numba" else "numba"
    (partial / "settings.json").write_text(
        json.dumps({**header, "texture_backend": other})
    )
    assert _extract(fixed, out, *FAST) == 2
    how = (
        "with numba installed and CEUSRADIOMICS_DISABLE_NUMBA unset"
        if other == "numba"
        else "with CEUSRADIOMICS_DISABLE_NUMBA=1"
    )
    assert capsys.readouterr().err == (
        f"error: {partial} holds an unfinished run computed on the {other} code "
        f"path of the texture loops, and this run uses the {backend} one; run the "
        f"command again {how} to finish that run, or delete {partial} to start "
        "over\n"
    )
    # nor those of another version of the library
    (partial / "settings.json").write_text(
        json.dumps({**header, "ceusradiomics": "0.0.1"})
    )
    assert _extract(fixed, out, *FAST) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: {partial} was written by ceusradiomics 0.0.1 (store format "
    )
    assert f"this is {ceusradiomics.__version__}" in err
    # the same settings again: resumed, and the same table
    (partial / "settings.json").write_text(json.dumps(header))
    assert _extract(fixed, out, *FAST) == 0
    _same_table(out, cohort["whole"])


@pytest.mark.parametrize("damage", ["deleted", "not json", "not a mapping"])
def test_a_lost_settings_file_beside_chunks_is_refused(
    cohort, tmp_path, capsys, spy, damage
):
    out, partial = _stopped_run(cohort, tmp_path)
    settings = partial / "settings.json"
    if damage == "deleted":
        settings.unlink()
    elif damage == "not json":
        settings.write_text('{"format": 2, "settin')
    else:
        settings.write_text("[1, 2]")
    capsys.readouterr()
    spy.clear()
    fixed = _manifest(tmp_path, cohort["manifest"])
    # other settings: reusing the chunks would mix two tables into one
    other = ("--families", "hist", "glcm", "--distances", "1", "2", "--quiet")
    assert _extract(fixed, out, *other) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {settings} ")
    assert "9 finished lesions" in err and f"delete {partial} to start over" in err
    assert len(err.splitlines()) == 1
    assert spy == []
    assert _chunk_ids(partial) == STOPPED
    assert len(_read_csv(out)) == 9  # the stopped run's table, as it was


# --------------------------------------------------------------------------
# A weights file
# --------------------------------------------------------------------------


def _state_dict_file(path, seed):
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = torchvision.models.resnet50()
    torch.save(model.state_dict(), path)
    return path


@pytest.mark.filterwarnings("ignore::UserWarning:torch")
def test_a_replaced_weights_file_is_refused_on_resume(cohort, tmp_path, capsys):
    weights = _state_dict_file(tmp_path / "resnet.pth", seed=1)
    deep = ("--phases", "US", "--deep", "--weights", str(weights))
    deep += ("--image-size", "32", "--device", "cpu")
    out, partial = _stopped_run(cohort, tmp_path, *deep)
    header = json.loads((partial / "settings.json").read_text())
    digest = cli_extract._sha256(weights)
    assert header["weights_sha256"] == digest
    sidecar = json.loads((tmp_path / "features.csv.json").read_text())
    assert sidecar["weights_sha256"] == digest
    capsys.readouterr()

    # Another network saved under the same name: its features must not join
    # the first network's in one table.
    _state_dict_file(weights, seed=2)
    fixed = _manifest(tmp_path, cohort["manifest"])
    assert _extract(fixed, out, *FAST, *deep) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {partial} holds an unfinished run computed with another network: "
        f"the weights file {weights} has changed since (SHA-256 {digest[:12]}... "
        f"there, {cli_extract._sha256(weights)[:12]}... now); put that file back to "
        f"finish that run, or delete {partial} to start over\n"
    )
    assert _chunk_ids(partial)  # kept


@pytest.mark.filterwarnings("ignore::UserWarning:torch")
@pytest.mark.parametrize("content", ["garbage", "wrong keys"])
def test_an_unloadable_weights_file_fails_once_at_set_up(
    cohort, tmp_path, capsys, spy, content
):
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    weights = tmp_path / "resnet.pth"
    if content == "garbage":
        weights.write_bytes(b"\x00not a torch file" * 100)
    else:
        torch.save({"conv1.weight": torch.zeros(3, 3)}, weights)
    out = tmp_path / "out" / "features.csv"
    flags = ("--deep", "--weights", str(weights), "--device", "cpu", "--quiet")
    assert _extract(cohort["path"], out, *FAST, *flags) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith("error: ") and f"'{weights}'" in err
    if content == "garbage":
        assert "cannot read weights file" in err
    else:
        assert "is not a torchvision ResNet-50 state dict" in err
    assert spy == []  # no lesion computed
    assert not (tmp_path / "out").exists()  # nothing written


# --------------------------------------------------------------------------
# A failed write
# --------------------------------------------------------------------------


def _file_size_limit(size):
    def limit():  # in the child, before exec: the command meets the limit
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


@pytest.mark.skipif(
    not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE and SIGXFSZ"
)
def test_a_file_size_limit_ends_with_a_message_and_keeps_the_chunks(
    cohort, tmp_path, capsys
):
    out = tmp_path / "features.csv"
    partial = tmp_path / "features.csv.partial"
    # Chunks (2 lesions) and the store's settings fit; the table does not.
    result = subprocess.run(
        _command(cohort["path"], out, *FAST, "--chunk-size", "2"),
        capture_output=True,
        text=True,
        preexec_fn=_file_size_limit(12_000),
        timeout=120,
    )
    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == (
        f"error: cannot write {out}: File too large; the finished lesions are "
        f"saved in {partial} (10/10): lift the file-size limit (ulimit -f) and run "
        "the same command again to resume\n"
    )
    assert _chunk_ids(partial) == [f"L{i:02d}" for i in range(1, 11)]
    assert not out.exists() and _temporary_files(tmp_path) == []

    assert _extract(cohort["path"], out, *FAST, "--chunk-size", "2") == 0
    assert capsys.readouterr().out == (
        f"extracted 10/10 lesions (10 from an earlier run) into {out}\n"
    )
    _same_table(out, cohort["whole"])


def test_a_full_disk_while_saving_a_chunk_keeps_the_earlier_chunks(
    cohort, tmp_path, capsys, spy
):
    # The second chunk's write fails half-way with ENOSPC, as a full disk does.
    wrapper = tmp_path / "full_disk.py"
    wrapper.write_text(
        textwrap.dedent(
            """
            import errno, os, sys
            import numpy as np

            savez, calls = np.savez, []

            def full_disk(file, **arrays):
                calls.append(file)
                if len(calls) == 2:
                    file.write(b"PK\\x03\\x04 half a chunk")
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                return savez(file, **arrays)

            np.savez = full_disk
            from ceusradiomics.cli import main

            sys.exit(main(sys.argv[1:]))
            """
        )
    )
    out = tmp_path / "features.csv"
    partial = tmp_path / "features.csv.partial"
    command = _command(cohort["path"], out, *FAST, "--chunk-size", "4")
    result = subprocess.run(
        [sys.executable, str(wrapper), *command[3:]],
        capture_output=True,
        text=True,
        timeout=120,
    )
    chunk = partial / "chunk-00001.npz"
    assert (result.returncode, result.stdout) == (3, ""), result.stderr
    assert result.stderr == (
        f"error: cannot write {chunk}: {os.strerror(errno.ENOSPC)}; the finished "
        f"lesions are saved in {partial} (4/10): free some disk space and run the "
        "same command again to resume\n"
    )
    assert _chunk_ids(partial) == ["L01", "L02", "L03", "L04"]
    assert _temporary_files(tmp_path) == []

    assert _extract(cohort["path"], out, *FAST, "--chunk-size", "4") == 0
    assert spy == [f"L{i:02d}" for i in range(5, 11)]
    assert "(4 from an earlier run)" in capsys.readouterr().out
    _same_table(out, cohort["whole"])


def test_a_failed_write_at_the_end_is_one_line_in_process(
    cohort, tmp_path, monkeypatch, capsys
):
    # The sidecar cannot be written (ENOSPC): exit 3, no traceback, the store
    # stays, and the next run writes both.
    write_atomically = cli_extract._write_atomically

    def full_disk(path, write):
        def failing(tmp):
            tmp.write_bytes(b"{")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        sidecar = path.name.endswith(".csv.json")
        write_atomically(path, failing if sidecar else write)

    monkeypatch.setattr(cli_extract, "_write_atomically", full_disk)
    out = tmp_path / "features.csv"
    assert _extract(cohort["path"], out, *FAST) == 3
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write {out}.json: No space left on device")
    assert len(err.splitlines()) == 1
    assert (tmp_path / "features.csv.partial").is_dir()
    assert _temporary_files(tmp_path) == []
    monkeypatch.undo()
    assert _extract(cohort["path"], out, *FAST) == 0
    _same_table(out, cohort["whole"])
    assert (tmp_path / "features.csv.json").is_file()


# --------------------------------------------------------------------------
# kill -9
# --------------------------------------------------------------------------


def _alive(processes):
    import psutil

    alive = []
    for process in processes:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a named pipe")
def test_kill_9_takes_the_workers_along_and_the_next_run_cleans_up(
    cohort, tmp_path, capsys
):
    psutil = pytest.importorskip("psutil")
    # Lesion L06's US image is a named pipe: reading it blocks the main
    # process in its third chunk, after the workers have computed two.
    manifest = cohort["manifest"].copy()
    fifo = tmp_path / "L06_US.png"
    os.mkfifo(fifo)
    manifest.loc[5, "US_image"] = str(fifo)
    path = _manifest(tmp_path, manifest)
    out = tmp_path / "features.csv"
    partial = tmp_path / "features.csv.partial"
    flags = (*FAST, "--chunk-size", "2", "--n-jobs", "2")
    # Output to a file, not a pipe: the workers hold the pipe open too.
    log = tmp_path / "killed.log"
    with open(log, "w") as fh:
        process = subprocess.Popen(_command(path, out, *flags), stdout=fh, stderr=fh)
    try:
        deadline = time.monotonic() + 60
        while len(list(partial.glob("chunk-*.npz"))) < 2:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no chunk after 60 s"
            time.sleep(0.02)
        children = psutil.Process(process.pid).children(recursive=True)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert len(children) >= 2  # the workers (and their resource tracker)
    deadline = time.monotonic() + 10
    while _alive(children) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = _alive(children)
    for survivor in survivors:
        with contextlib.suppress(psutil.Error):
            survivor.kill()
    assert survivors == [], "workers outlived their killed parent"

    # What a kill in the middle of a write leaves: temporary files of the dead
    # process; one of a live process (another run's) is not touched.
    dead = process.pid
    stale = [
        tmp_path / f".features.csv.{dead}.tmp",
        tmp_path / f".features.csv.json.{dead}.tmp",
        tmp_path / f".features.errors.csv.{dead}.tmp",
        partial / f".chunk-00002.npz.{dead}.tmp",
    ]
    for path_ in stale:
        path_.write_bytes(b"half written")
    live = tmp_path / f".features.errors.csv.{os.getppid()}.tmp"
    live.write_bytes(b"being written")

    fifo.unlink()
    _png(fifo, cohort["X"].loc["L06", "US_image"])
    assert _extract(path, out, *flags) == 0
    assert "(4 from an earlier run)" in capsys.readouterr().out
    assert not any(p.exists() for p in stale)
    assert _temporary_files(tmp_path) == [live.name]
    _same_table(out, cohort["whole"])


# --------------------------------------------------------------------------
# The manifest
# --------------------------------------------------------------------------


def test_lesion_ids_that_look_missing_are_ids(cohort, tmp_path):
    manifest = cohort["manifest"].copy()
    ids = ["NA", "nan", "None", "N/A", "null"]
    manifest.loc[: len(ids) - 1, "lesion_id"] = ids
    path = _manifest(tmp_path, manifest)
    assert load_cohort(path).index.tolist()[: len(ids)] == ids
    out = tmp_path / "features.csv"
    assert _extract(path, out, *FAST) == 0
    # docs/batch.md: read such ids back as text
    table = pd.read_csv(
        out,
        index_col=0,
        dtype={"lesion_id": str},
        keep_default_na=False,
        na_values=[""],
    )
    assert table.index.tolist() == manifest["lesion_id"].tolist()
    pd.testing.assert_frame_equal(
        table.reset_index(drop=True),
        _read_csv(cohort["whole"]).reset_index(drop=True),
        check_exact=True,
    )


def test_manifest_errors_name_the_file_and_the_problem(tmp_path, capsys):
    out = tmp_path / "features.csv"
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert _extract(empty, out) == 2
    assert capsys.readouterr().err == (
        f"error: manifest '{empty}' is empty: it needs a header line (lesion_id, "
        "{phase}_image, {phase}_mask, ...) and one row per lesion\n"
    )
    header_only = tmp_path / "header.csv"
    header_only.write_text("lesion_id,US_image,US_mask\n")
    assert _extract(header_only, out) == 2
    assert capsys.readouterr().err == (
        f"error: manifest '{header_only}' has no lesion: only its header line\n"
    )
    twice = tmp_path / "twice.csv"
    twice.write_text("lesion_id,US_image,US_mask,US_image\nP1,a.png,b.png,c.png\n")
    assert _extract(twice, out) == 2
    assert capsys.readouterr().err == (
        f"error: manifest '{twice}' has the column 'US_image' twice (columns 2 "
        "and 4); each column name must be unique\n"
    )
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    assert _extract(loop, out) == 2
    assert "symlink loop" in capsys.readouterr().err
    assert list(tmp_path.glob("features*")) == []


def test_a_symlink_loop_in_a_cell_is_an_error_of_that_cell(cohort, tmp_path):
    manifest = cohort["manifest"].copy()
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    manifest.loc[1, "AP_mask"] = str(loop)
    path = _manifest(tmp_path, manifest)
    out = tmp_path / "features.csv"
    assert _extract(path, out, *FAST) == 1
    errors = pd.read_csv(tmp_path / "features.errors.csv")
    assert errors[["lesion_id", "column", "path"]].values.tolist() == [
        ["L02", "AP_mask", str(loop)]
    ]
    assert "symlink loop" in errors["message"][0]
