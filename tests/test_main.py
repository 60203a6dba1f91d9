"""The command line: ``python -m ceusradiomics demo`` and the README's commands."""

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ceusradiomics.cli import demo, main

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
    # Table 1 by cohort, stratified 7:3: n overall, training, testing
    assert re.search(r"^n\s+30\s+21\s+9", out, re.M)
    assert "cirrhosis" in out and "afp_group" in out and "Welch" in out


# 60 lesions: small folds and rare clinical levels rightly warn (one class in
# a level, features kept by default, folds lowered).
@pytest.mark.filterwarnings("ignore::ceusradiomics.exceptions.CeusRadiomicsWarning")
def test_demo_runs_the_study_and_writes_every_file(capsys, tmp_path):
    out = tmp_path / "demo"
    code = main(
        [
            "demo",
            "--n-lesions",
            "60",
            "--image-size",
            "32",
            "--weights",
            "none",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "radiomics features: 849 (extracted)" in printed
    assert "radiomics score =" in printed
    assert "Table 2" in printed and "DeLong" in printed
    for name in [
        "table2.csv",
        "delong.csv",
        "predictions.csv",
        "report.md",
        "roc.png",
        "calibration.png",
        "decision_curves.png",
        "lasso_coefficients.png",
        "nomogram.png",
        "roc.svg",
        "nomogram.svg",
        "table1.csv",
        "table1_er.csv",
        "odds_ratios.csv",
        "repeated_cv.csv",
        "repeated_cv_splits.csv",
        "repeated_cv.svg",
    ]:
        assert (out / name).stat().st_size > 0, name
    table2 = pd.read_csv(out / "table2.csv")
    assert len(table2) == 12
    assert set(table2["model"]) == {
        "Clinical",
        "Radiomics",
        "ResNet-50 (random weights)",
        "Imaging stack",
        "Clinical + imaging stack",
        "Radiomics nomogram",
    }
    delong = pd.read_csv(out / "delong.csv")
    assert "Imaging stack vs Clinical" in set(delong["comparison"])
    assert "Clinical factors, training cohort" in printed
    assert table2["AUC"].between(0, 1).all()
    report = (out / "report.md").read_text()
    # the repeated CV leads; the study's single split follows
    assert report.index("## Internal validation: the primary estimates") < report.index(
        "## Table 2"
    )
    assert not (out / "bootstrap.csv").exists()  # --thorough only
    html = _check_html_report(out)
    assert html.index("Primary estimates") < html.index("Table 2.")
    # explanations of the first testing lesion with ER and the first without
    predictions = pd.read_csv(out / "predictions.csv")
    tested = set(predictions.loc[predictions["cohort"] == "test"].iloc[:, 1])
    explained = sorted(p.stem for p in out.glob("explain_*.png"))
    assert len(explained) == 2, explained
    assert {name.removeprefix("explain_") for name in explained} <= tested
    assert "Why these predictions? Two testing lesions" in html
    assert all(f"![{name}.png]({name}.png)" in report for name in explained)


@pytest.mark.slow
# 60 lesions resampled: a clinical factor may separate a bootstrap sample.
@pytest.mark.filterwarnings("ignore::ceusradiomics.exceptions.SeparationWarning")
@pytest.mark.filterwarnings("ignore::ceusradiomics.exceptions.SmallSampleWarning")
@pytest.mark.filterwarnings("ignore::ceusradiomics.exceptions.EmptySelectionWarning")
def test_thorough_demo_adds_the_stacks_and_the_bootstrap(capsys, tmp_path, monkeypatch):
    # The thorough run's design at a size a test affords: one repeat, five
    # bootstrap samples (docs/benchmarks.md times the real one).
    monkeypatch.setattr(demo, "THOROUGH_REPEATS", 1)
    monkeypatch.setattr(demo, "THOROUGH_BOOTSTRAP", 5)
    out = tmp_path / "demo"
    flags = ["--n-lesions", "60", "--image-size", "32", "--weights", "none"]
    code = main(["demo", *flags, "--thorough", "--out", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "Repeated 5-fold cross-validation x 1" in printed
    assert "Bootstrap validation (5 samples)" in printed
    cv = pd.read_csv(out / "repeated_cv.csv")
    assert {"Imaging stack", "Clinical + imaging stack"} <= set(cv["model"])
    assert (cv["n_splits"] == 5).all()
    boot = pd.read_csv(out / "bootstrap.csv")
    assert set(boot["model"]) == {
        "Clinical",
        "Radiomics",
        "ResNet-50 (random weights)",
        "Radiomics nomogram",
    }
    assert set(boot["metric"]) == {"auc", "auc_632plus", "intercept", "slope"}
    assert (boot["n"] == 5).all()
    # a forest fits its training lesions perfectly: Harrell's caveat is printed
    forest = boot[(boot["model"] == "Radiomics") & (boot["metric"] == "auc")]
    if forest["apparent"].iloc[0] >= 0.99:
        assert "Radiomics: apparent AUC" in printed
    html = _check_html_report(out, tables=("bootstrap.csv",))
    assert "Bootstrap validation (5 samples)" in html
    assert "Bootstrap validation" in (out / "report.md").read_text()


class _Tables(HTMLParser):
    """The tables (rows of cell texts), the embedded figures and the links."""

    def __init__(self):
        super().__init__()
        self.tables, self.cell, self.svgs, self.links = [], None, 0, []

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = ""
        elif tag == "svg":
            self.svgs += 1
        self.links += [v for k, v in attrs if k in ("href", "src") and v]

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append(self.cell.strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def _check_html_report(out, tables=()):
    text = (out / "report.html").read_text()
    assert text.startswith("<!DOCTYPE html>")
    parsed = _Tables()
    parsed.feed(text)
    # every figure embedded, nothing fetched from elsewhere
    figures = {p.stem for p in out.glob("*.svg")}
    # six study figures and two lesion explanations
    assert parsed.svgs == len(figures) == 8
    assert all(link.startswith(("#", "data:")) for link in parsed.links)
    # every table is its CSV, to the three decimals shown
    csvs = ("table2.csv", "delong.csv", "odds_ratios.csv", "repeated_cv.csv")
    for name in (*csvs, *tables):
        frame = pd.read_csv(out / name)
        header = list(frame.columns)
        (table,) = [t for t in parsed.tables if t and t[0] == header]
        for row, values in zip(table[1:], frame.itertuples(index=False), strict=True):
            for cell, value in zip(row, values, strict=True):
                if isinstance(value, float):
                    assert cell == ("" if np.isnan(value) else f"{value:.3f}")
                else:
                    assert cell == str(value)
    return text


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
