"""The documentation site builds with warnings as errors, and says what the code does.

``mkdocs build --strict`` fails on a broken link or anchor, a page missing from
the navigation, a missing snippet file or a docstring the API renderer cannot
read. The other tests check the built site against the package: every public
function and class has its API entry, no reStructuredText leaks through, every
example script is on the examples page, and the radiomics-score mapping names
real feature columns.
"""

import importlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
API_MODULES = [
    "io",
    "datasets",
    "texture",
    "deep",
    "selection",
    "clinical",
    "report",
    "validation",
    "ensemble",
    "metrics",
    "plotting",
    "exceptions",
    "perfusion",
]


def _griffe_rst():
    spec = importlib.util.spec_from_file_location("griffe_rst", DOCS / "griffe_rst.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    pytest.importorskip("mkdocstrings_handlers.python")
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _page(site, name):
    return (site / name / "index.html").read_text()


def _text(html):
    return re.sub(r"<[^>]+>", "", html)


def test_site_has_every_page(site):
    for page in [
        "getting-started",
        "guide/texture",
        "guide/selection",
        "guide/stacking",
        "guide/scale",
        "deep",
        "evaluation",
        "batch",
        "examples",
        "features",
        "radiomics-score",
        "benchmarks",
        "api",
        *(f"api/{name}" for name in API_MODULES),
    ]:
        assert (site / page / "index.html").is_file(), page
    # The feature reference is the generated page, every name included.
    from ceusradiomics.texture import texture_feature_names

    features = _text(_page(site, "features"))
    assert all(name in features for name in texture_feature_names())


@pytest.mark.parametrize("name", API_MODULES)
def test_api_page_documents_every_public_callable(site, name):
    module = importlib.import_module(f"ceusradiomics.{name}")
    html = _page(site, f"api/{name}")
    anchors = set(re.findall(r'id="([^"]+)"', html))
    # Functions and classes defined in the package; constants (no docstring
    # of their own) and re-exports of other libraries' functions are described
    # in the module's text instead.
    public = [
        member
        for member in module.__all__
        if callable(getattr(module, member))
        and getattr(getattr(module, member), "__module__", "").startswith(
            "ceusradiomics"
        )
    ]
    assert public
    missing = [m for m in public if f"ceusradiomics.{name}.{m}" not in anchors]
    assert missing == []


def test_no_restructuredtext_leaks_into_the_api_pages(site):
    for name in API_MODULES:
        text = _text(_page(site, f"api/{name}"))
        for leftover in (
            ":func:`",
            ":class:`",
            ":math:`",
            ":doi:`",
            ".. math::",
            ".. [",
        ):
            assert leftover not in text, (name, leftover)


def test_examples_page_embeds_every_script(site):
    source = (DOCS / "examples.md").read_text()
    scripts = sorted(p.name for p in (ROOT / "examples").glob("*.py"))
    embedded = sorted(re.findall(r'--8<-- "examples/([^"]+)"', source))
    assert embedded == scripts
    text = _text(_page(site, "examples"))
    assert text.count("def main(") == len(scripts)


def test_docs_repeat_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    commands = re.search(r"^```bash\n(.*?)^```$", readme, re.M | re.S).group(1)
    for page in ("index.md", "getting-started.md"):
        assert f"```bash\n{commands}```" in (DOCS / page).read_text(), page


def _r_name(column):
    # R's make.names, as the study printed its feature names.
    return re.sub(r"[^0-9A-Za-z._]", ".", column)


def test_radiomics_score_mapping_names_real_columns():
    from ceusradiomics.texture import texture_feature_names

    columns = {
        f"{phase}_{name}"
        for phase in ("US", "AP", "PP")
        for name in texture_feature_names()
    }
    text = (DOCS / "radiomics-score.md").read_text()
    rows = re.findall(
        r"^\| ([A-Za-z0-9_.]+) \| ([−+]0\.\d+) \| `([^`]+)` \|", text, re.M
    )
    assert len(rows) == 11  # the study's 11 features
    table = {}
    for published, coefficient, column in rows:
        assert column in columns
        # Undoing make.names; "DP" (not an image of the study) is read as PP.
        expected = published.replace("DP_", "PP_", 1).lower()
        assert _r_name(column).lower() == expected
        table[column] = float(coefficient.replace("−", "-"))
    # The code that applies the score uses the same terms and coefficients.
    code = dict(re.findall(r'^    "([^"]+)": (-?0\.\d+),$', text, re.M))
    assert {k: float(v) for k, v in code.items()} == table


def test_rst_to_markdown():
    rst_to_markdown = _griffe_rst().rst_to_markdown
    assert rst_to_markdown(":math:`x^2` and :doi:`10.1/x`") == (
        r"\(x^2\) and [doi:10.1/x](https://doi.org/10.1/x)"
    )
    # A role may wrap onto the next line (at a space, as in reStructuredText).
    assert rst_to_markdown(":class:`the\n   pipeline <sklearn.pipeline.Pipeline>`") == (
        '<autoref identifier="sklearn.pipeline.Pipeline" optional>'
        "<code>the pipeline</code></autoref>"
    )
    assert "<code>load_cohort()</code>" in rst_to_markdown(
        ":func:`~ceusradiomics.io.load_cohort`"
    )
    assert "<code>the loader</code>" in rst_to_markdown(
        ":func:`the loader <ceusradiomics.io.load_cohort>`"
    )
    block = "Where\n.. math::\n\n    a &= 1 \\\\\n    b &= 2\n\nAfter."
    assert rst_to_markdown(block).splitlines() == [
        "Where",
        "",
        "$$",
        r"\begin{aligned}",
        r"a &= 1 \\",
        "b &= 2",
        r"\end{aligned}",
        "$$",
        "",
        "After.",
    ]
    citations = ".. [1] A. Author,\n       a title.\n.. [2] B. Author.\nAs in [1]_."
    assert rst_to_markdown(citations).splitlines() == [
        r"- \[1\] A. Author,",
        "       a title.",
        r"- \[2\] B. Author.",
        r"As in \[1\].",
    ]
    assert rst_to_markdown("The workflow::\n\n    code") == "The workflow:\n\n    code"
