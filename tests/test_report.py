"""Tests of ceusradiomics.report: the page parses, embeds, escapes and mirrors CSVs."""

import base64
import csv
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from ceusradiomics.report import TRIPOD_SECTIONS, StudyReport

VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input",
    "link", "meta", "source", "track", "wbr",
}  # fmt: skip


class _Page(HTMLParser):
    """Checks that non-void tags balance; collects text, ids, links, tables, images."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.errors = []
        self.ids = []
        self.hrefs = []
        self.srcs = []
        self.svgs = 0
        self.png_uris = []
        self.headings = {}  # id -> text
        self.tables = {}  # id -> list of rows (list of cell texts)
        self.text = []
        self.doctype = None
        self._table = None
        self._row = None
        self._cell = None
        self._heading = None

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag not in VOID:
            self.stack.append(tag)
        self._attributes(tag, attrs)

    def handle_startendtag(self, tag, attrs):  # <path ... /> inside SVG
        self._attributes(tag, dict(attrs))

    def _attributes(self, tag, attrs):
        if "id" in attrs:
            self.ids.append(attrs["id"])
        for name in ("href", "xlink:href"):
            if name in attrs:
                self.hrefs.append(attrs[name])
        if "src" in attrs:
            self.srcs.append(attrs["src"])
            if attrs["src"].startswith("data:image/png;base64,"):
                self.png_uris.append(attrs["src"])
        if tag == "svg":
            self.svgs += 1
        elif tag == "table":
            self._table = self.tables.setdefault(attrs.get("id"), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag in ("h2", "h3", "h4", "h5", "h6"):
            self._heading = (attrs.get("id"), [])

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag.startswith("h") and self._heading is not None:
            anchor, parts = self._heading
            self.headings[anchor] = "".join(parts)
            self._heading = None

    def handle_data(self, data):
        if self.stack and self.stack[-1] in ("style", "script"):
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._heading is not None:
            self._heading[1].append(data)


def _parse(page):
    parser = _Page()
    parser.feed(page)
    parser.close()
    assert parser.errors == []
    assert parser.stack == [], f"unclosed tags: {parser.stack}"
    return parser


def _csv_rows(frame, path, **kwargs):
    """The cells of `frame` as written to CSV with 3 decimals, read back as text."""
    frame.to_csv(path, float_format="%.3f", **kwargs)
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def _table_one():
    index = pd.MultiIndex.from_tuples(
        [("Age", "mean ± SD"), ("AFP", "n (%)"), ("AFP", "<20"), ("AFP", ">400")],
        names=["variable", "level"],
    )
    return pd.DataFrame(
        {
            "Missing": pd.array([0, 1, pd.NA, pd.NA], dtype="Int64"),
            "Overall": ["55.1 ± 9.8", "", "<b>70</b> (41%)", "30 & more"],
            "p-value": [0.04213, np.nan, np.nan, 0.5],
        },
        index=index,
    )


def _table_two():
    return pd.DataFrame(
        {
            "model": ["clinical", "radiomics", "stack"],
            "AUC": [0.75123, 0.8, np.nan],
            "n": [52, 52, 52],
            "accuracy": [0.7, 0.7449, 1.0],
        }
    )


@pytest.fixture
def figures():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    for k in range(2):
        fig, ax = plt.subplots(figsize=(2.5, 2))
        ax.plot([0, 0.3, 1], [0, 0.7 + 0.1 * k, 1], label=f"model {k}")
        ax.set_title("ROC <train> & test")
        ax.legend()
        made.append(fig)
    yield made
    for fig in made:
        plt.close(fig)


def _full_report(figures):
    report = StudyReport("ER <after> ablation", subtitle="Synthetic & small")
    report.add_section(TRIPOD_SECTIONS[0])
    report.add_text("First <b>paragraph</b>.\n\nSecond one & last.")
    report.add_table(_table_one(), caption="Table 1 <baseline>", csv_name="table1.csv")
    report.add_section("Performance")
    report.add_table(_table_two(), caption="Table 2", csv_name="table2.csv")
    report.add_section("ROC curves", level=3)
    report.add_figure(figures[0], caption="Figure 1 <ROC>", name="roc.svg")
    report.add_figure(figures[1], caption="Figure 2", image_format="png")
    report.add_section("Limitations")
    report.add_list(["random <weights>", "EPV & 3"])
    return report


def test_report_parses_embeds_and_mirrors_csvs(figures, tmp_path):
    path = _full_report(figures).write(tmp_path / "report.html")
    page = path.read_text(encoding="utf-8")
    parsed = _parse(page)

    assert page.startswith("<!DOCTYPE html>")
    assert parsed.doctype == "DOCTYPE html"
    assert '<html lang="en">' in page and '<meta charset="utf-8">' in page

    # Every figure embedded: one inline SVG, one PNG data URI that decodes.
    assert parsed.svgs == 1 and page.count("<svg") == 1
    assert len(parsed.png_uris) == 1
    png = base64.b64decode(parsed.png_uris[0].split(",", 1)[1])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")

    # Offline: nothing refers to the network.
    assert "<script" not in page and "<link" not in page
    for target in parsed.hrefs + parsed.srcs:
        assert target.startswith(("#", "data:")), target
    assert "http" not in " ".join(parsed.hrefs + parsed.srcs)

    # Valid ids (also inside the SVG) and a TOC linking to each section.
    assert len(parsed.ids) == len(set(parsed.ids))
    toc = [h for h in parsed.hrefs if h.startswith("#") and h[1:] in parsed.headings]
    assert [parsed.headings[h[1:]] for h in toc] == [
        "Data and participants",
        "Performance",
        "ROC curves",
        "Limitations",
    ]

    # Tables equal the CSVs written with the same formatting.
    assert parsed.tables["table-1"] == _csv_rows(_table_one(), tmp_path / "t1.csv")
    assert parsed.tables["table-2"] == _csv_rows(
        _table_two(), tmp_path / "t2.csv", index=False
    )
    assert parsed.tables["table-2"][1] == ["clinical", "0.751", "52", "0.700"]

    # Text is escaped: markup in the input shows as text.
    text = "".join(parsed.text)
    for shown in (
        "ER <after> ablation",
        "Synthetic & small",
        "First <b>paragraph</b>.",
        "Second one & last.",
        "Table 1 <baseline>",
        "Figure 1 <ROC>",
        "random <weights>",
        "EPV & 3",
        "table1.csv",
        "roc.svg",
    ):
        assert shown in text
    assert "<b>70</b> (41%)" in parsed.tables["table-1"][3]
    assert "<b>" not in page.replace("&lt;b&gt;", "")


def test_toc_nests_subsections_and_ids_are_unique():
    report = StudyReport("T")
    for title, level in [("A", 2), ("A", 2), ("B", 3), ("C", 4), ("D", 2)]:
        report.add_section(title, level=level)
    parsed = _parse(report.to_html())
    assert list(parsed.headings) == ["a", "a-2", "b", "c", "d"]
    assert parsed.hrefs == ["#a", "#a-2", "#b", "#c", "#d"]
    assert repr(report) == "StudyReport(title='T', n_sections=5)"


def test_multiindex_repeats_are_greyed_but_kept():
    page = StudyReport("T").add_table(_table_one()).to_html()
    assert page.count('<th scope="row" class="repeat">AFP</th>') == 2
    assert page.count('<th scope="row">AFP</th>') == 1


def test_table_options():
    frame = pd.DataFrame({"x": [1.23456]}, index=pd.Index(["a"], name="id"))
    series = pd.Series([0.5], name="p")
    page = (
        StudyReport("T")
        .add_table(frame, float_format="{:.1f}", index=False)
        .add_table(series, float_format=lambda v: f"{v:.0%}")
        .add_table(pd.DataFrame({("a", "b"): [1]}))
        .to_html()
    )
    tables = _parse(page).tables
    assert tables["table-1"] == [["x"], ["1.2"]]
    assert tables["table-2"] == [["p"], ["50%"]]
    assert tables["table-3"] == [["a / b"], ["1"]]


def test_tripod_sections():
    assert StudyReport.tripod_sections() == list(TRIPOD_SECTIONS)
    assert TRIPOD_SECTIONS[-1] == "Limitations" and len(TRIPOD_SECTIONS) == 8


def test_import_does_not_load_matplotlib():
    code = "import sys, ceusradiomics.report; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_errors():
    report = StudyReport("T")
    with pytest.raises(ValueError, match="level must be an int from 2 to 6"):
        report.add_section("x", level=1)
    with pytest.raises(TypeError, match="frame must be a pandas DataFrame"):
        report.add_table([[1, 2]])
    with pytest.raises(ValueError, match="float_format must format one float"):
        report.add_table(pd.DataFrame({"a": [1.0]}), float_format="{:d}")
    with pytest.raises(TypeError, match="float_format must be a format string"):
        report.add_table(pd.DataFrame({"a": [1.0]}), float_format=3)
    with pytest.raises(TypeError, match="figure must be a matplotlib Figure"):
        report.add_figure(object())
    with pytest.raises(TypeError, match="items must be an iterable of items"):
        report.add_list("abc")


def test_image_format_is_checked(figures):
    with pytest.raises(ValueError, match="image_format must be 'svg' or 'png'"):
        StudyReport("T").add_figure(figures[0], image_format="jpg")
