"""The command line: ``python -m ceusradiomics demo`` and the README's commands."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ceusradiomics.__main__ import main

ROOT = Path(__file__).resolve().parents[1]


def test_readme_opens_with_the_two_commands_that_ci_runs():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", readme, re.S)
    assert block is not None and readme.index("```bash") < 200
    commands = block.group(1).strip().splitlines()
    assert len(commands) == 2
    assert "pip install" in commands[0]
    assert commands[0].endswith("python -m ceusradiomics demo")
    assert commands[1] == "pytest"
    assert "README.md" in (ROOT / ".ci" / "run").read_text()


def test_demo_summary_prints_the_cohort_table(capsys):
    assert main(["demo", "--n-lesions", "30", "--summary-only"]) == 0
    out = capsys.readouterr().out
    assert "30 lesions" in out
    assert re.search(r"Number\s+21\s+9", out)  # stratified 7:3
    assert "Cirrhosis" in out and "AFP" in out


def test_demo_runs_the_radiomics_model(capsys):
    assert main(["demo", "--n-lesions", "40"]) == 0
    out = capsys.readouterr().out
    assert "Texture features: 849 per lesion" in out
    assert "radiomics score =" in out
    auc = re.search(r"AUC testing (\d\.\d+)", out)
    assert auc is not None and 0 <= float(auc.group(1)) <= 1


def test_unknown_command_exits_with_usage():
    with pytest.raises(SystemExit) as exc:
        main(["extrakt"])
    assert exc.value.code == 2


def test_module_entry_point_runs():
    done = subprocess.run(
        [sys.executable, "-m", "ceusradiomics", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "demo" in done.stdout
