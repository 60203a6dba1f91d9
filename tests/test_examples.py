"""Every example script and the walkthrough notebook run, headless and offline.

Each script runs in a fresh interpreter, in an empty working folder, with
matplotlib's Agg backend, exactly as a user would start it; a library warning
(``CeusRadiomicsWarning``) that a script does not silence on purpose fails it.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))
# The scripts that take more than ~30 s on a 2-core CI machine.
SLOW = {"study_pipeline_cv.py"}
# What each script must print (besides running without error).
PRINTS = {
    "plot_cohort.py": "saved cohort.png",
    "plot_texture_features.py": "AP phase: 283 features",
    "icc_and_selection.py": "radiomics score = ",
    "study_pipeline_cv.py": "best: {'radiomics__correlationpruner__threshold'",
    "plot_evaluation.py": "DeLong, stack vs Radiomics",
    "multicentre.py": "leave one centre out (AUC of the held-out centre",
}


STRICT = "error::ceusradiomics.exceptions.CeusRadiomicsWarning"


def _run(args, cwd):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-W", STRICT, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_every_example_is_listed():
    assert {script.name for script in SCRIPTS} == set(PRINTS)


@pytest.mark.parametrize(
    "script",
    [pytest.param(s, marks=pytest.mark.slow) if s.name in SLOW else s for s in SCRIPTS],
    ids=lambda s: s.name,
)
def test_example_runs(script, tmp_path):
    source = script.read_text()
    if "import matplotlib" in source:
        pytest.importorskip("matplotlib")
    if "StackingERClassifier" in source or "ResNet" in source:
        pytest.importorskip("torch")
    result = _run([str(script)], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert PRINTS[script.name] in result.stdout
    # A figure script saves where it says, a non-empty PNG.
    for line in result.stdout.splitlines():
        if line.startswith("saved "):
            figure = tmp_path / line.removeprefix("saved ")
            assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_walkthrough_notebook_runs(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    # The kernel inherits this environment: a headless MPLBACKEND=Agg (as CI
    # sets for the scripts) would replace the notebook's inline backend, and
    # the figures would not reach the cell outputs.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    pytest.importorskip("torch")

    path = EXAMPLES / "walkthrough.ipynb"
    notebook = nbformat.read(path, as_version=4)
    # Stored without outputs, so that diffs show code changes only.
    assert all(
        not cell.get("outputs") and cell.get("execution_count") is None
        for cell in notebook.cells
        if cell.cell_type == "code"
    )
    # The kernel spec "python3" names "python", which jupyter_client runs as
    # this interpreter (sys.executable).
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell

    outputs = "\n".join(
        output.get("text", "") + output.get("data", {}).get("text/plain", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert "same features from the files as from the arrays: (10, 566)" in outputs
    assert "(100, 1698)" in outputs
    assert "3-fold AUC" in outputs
    figures = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert len(figures) == 2
