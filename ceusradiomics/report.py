"""A self-contained HTML study report: sections, text, tables and figures.

:class:`StudyReport` is a small document builder. Sections, paragraphs,
bulleted lists, :class:`pandas.DataFrame` tables and matplotlib figures are
added in reading order, and :meth:`StudyReport.to_html` renders one HTML5
file that needs nothing else to be read: the style sheet sits in a
``<style>`` element, figures are inline SVG (or base64 PNG data URIs), and
nothing is loaded from the network (no scripts, no external links). Every
piece of text is HTML-escaped.

:data:`TRIPOD_SECTIONS` lists the section titles of a TRIPOD+AI-like
prediction-model report, in order.

matplotlib is never imported here: a figure is rendered through its own
``savefig`` method, so ``import ceusradiomics.report`` works without the
``plot`` extra.
"""

from __future__ import annotations

import base64
import html
import io
import numbers
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from ceusradiomics._version import __version__

__all__ = ["TRIPOD_SECTIONS", "StudyReport"]

#: Section titles of a TRIPOD+AI-like report of a prediction model, in order.
TRIPOD_SECTIONS = (
    "Data and participants",
    "Outcome",
    "Predictors and extraction settings",
    "Model building",
    "Performance",
    "Internal validation",
    "Calibration and decision curves",
    "Limitations",
)

_CSS = """\
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  line-height: 1.5; color: #1a1a1a; max-width: 60rem; margin: 2rem auto;
  padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; }
.subtitle { color: #555; margin-top: 0; }
nav.toc { border: 1px solid #ddd; border-radius: 4px; padding: 0.5rem 1rem;
  background: #fafafa; }
nav.toc ul { margin: 0.2rem 0; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; margin-top: 2rem; }
.table-wrap { overflow-x: auto; margin: 1rem 0; }
table { border-collapse: collapse; font-size: 0.9rem; }
caption { caption-side: top; text-align: left; font-weight: 600;
  padding-bottom: 0.3rem; }
th, td { border-bottom: 1px solid #e2e2e2; padding: 0.25rem 0.6rem;
  text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #999; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th.repeat { color: #aaa; font-weight: normal; }
tbody th { font-weight: normal; }
figure { margin: 1.5rem 0; }
figure svg, figure img { max-width: 100%; height: auto; }
figcaption { font-size: 0.9rem; color: #333; }
.note { font-size: 0.8rem; color: #666; margin-top: 0.2rem; }
footer { margin-top: 3rem; font-size: 0.8rem; color: #777; }
"""

_ID_ATTRIBUTE = re.compile(r'\bid="([^"]+)"')


def _escape(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "section"


def _is_missing(value: Any) -> bool:
    return bool(pd.api.types.is_scalar(value) and pd.isna(value))


def _check_float_format(float_format: str | Callable[[float], str]):
    """Return a callable formatting one float; check that it works on 1.0."""
    formatter = float_format.format if isinstance(float_format, str) else float_format
    if not callable(formatter):
        raise TypeError(
            "float_format must be a format string such as '{:.3f}' or a callable "
            f"float -> str; got {float_format!r}."
        )
    try:
        probe = formatter(1.0)
    except (ValueError, TypeError, IndexError, KeyError) as err:
        raise ValueError(
            "float_format must format one float, as '{:.3f}'.format(1.0) does; "
            f"got {float_format!r}, which raised {err!r}."
        ) from err
    if not isinstance(probe, str):
        raise TypeError(
            f"float_format must return a str; got {type(probe).__name__} "
            f"from {float_format!r}."
        )
    return formatter


def _format_cell(value: Any, formatter: Callable[[float], str]) -> tuple[str, bool]:
    """The text of one cell and whether it is a number."""
    if _is_missing(value):
        return "", False
    if isinstance(value, bool):
        return str(value), False
    if isinstance(value, numbers.Integral):
        return str(int(value)), True
    if isinstance(value, numbers.Real):
        return formatter(float(value)), True
    return str(value), False


def _label(value: Any) -> str:
    """The text of a column or index label (tuples of a MultiIndex joined)."""
    if isinstance(value, tuple):
        return " / ".join(_label(part) for part in value)
    return "" if _is_missing(value) else str(value)


def _prefix_svg_ids(svg: str, prefix: str) -> str:
    """Make the ``id`` values of one SVG unique within the page."""
    for name in set(_ID_ATTRIBUTE.findall(svg)):
        new = f"{prefix}-{name}"
        svg = svg.replace(f'id="{name}"', f'id="{new}"')
        svg = svg.replace(f'href="#{name}"', f'href="#{new}"')
        svg = svg.replace(f"url(#{name})", f"url(#{new})")
    return svg


class StudyReport:
    """A study report written as one self-contained HTML file.

    Content is added in reading order with the ``add_*`` methods (each returns
    the report, so calls can be chained) and rendered by :meth:`to_html` or
    :meth:`write`. The page starts with the title, the subtitle and a table of
    contents linking to every section.

    The file opens offline: the CSS is inline, figures are embedded as inline
    SVG or base64 PNG, and nothing refers to the network. Every text, cell and
    caption is HTML-escaped, so ``"<b>"`` shows as the three characters.

    Parameters
    ----------
    title : str
        The page title, shown as the ``<h1>`` heading and the ``<title>``.
    subtitle : str, optional
        A line shown under the title (e.g. the cohort and the date of the
        run).

    See Also
    --------
    TRIPOD_SECTIONS : The section titles of a TRIPOD+AI-like report.

    Notes
    -----
    Figures are rendered when added (a later change to the figure does not
    show) and are not closed; close them with ``matplotlib.pyplot.close``.
    The ``id`` attributes inside each SVG are prefixed with the figure's id,
    so several matplotlib SVGs can share one page.

    Examples
    --------
    >>> import pandas as pd
    >>> from ceusradiomics.report import StudyReport
    >>> report = (
    ...     StudyReport("ER of HCC after ablation", subtitle="Synthetic cohort")
    ...     .add_section("Performance")
    ...     .add_text("AUC with DeLong 95% CI; a < b & c.")
    ...     .add_table(
    ...         pd.DataFrame({"model": ["clinical"], "AUC": [0.7512]}),
    ...         caption="Table 2", csv_name="table2.csv",
    ...     )
    ... )
    >>> report
    StudyReport(title='ER of HCC after ablation', n_sections=1)
    >>> page = report.to_html()
    >>> page.startswith("<!DOCTYPE html>")
    True
    >>> "<td class=\\"num\\">0.751</td>" in page, "a &lt; b &amp; c." in page
    (True, True)

    A matplotlib figure is embedded as inline SVG:

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(figsize=(2, 2))
    >>> _ = ax.plot([0, 1], [0, 1])
    >>> page = report.add_figure(fig, caption="ROC curves").to_html()
    >>> plt.close(fig)
    >>> page.count("<svg ")
    1
    """

    def __init__(self, title: str, *, subtitle: str | None = None):
        self.title = title
        self.subtitle = subtitle
        self._blocks: list[str] = []
        self._sections: list[tuple[int, str, str]] = []  # (level, title, id)
        self._ids: set[str] = set()
        self._n_figures = 0
        self._n_tables = 0

    def __repr__(self) -> str:
        return f"StudyReport(title={self.title!r}, n_sections={len(self._sections)})"

    @staticmethod
    def tripod_sections() -> list[str]:
        """Section titles of a TRIPOD+AI-like report, in order.

        Returns
        -------
        list of str
            A copy of :data:`TRIPOD_SECTIONS`.

        Examples
        --------
        >>> from ceusradiomics.report import StudyReport
        >>> StudyReport.tripod_sections()[:3]
        ['Data and participants', 'Outcome', 'Predictors and extraction settings']
        """
        return list(TRIPOD_SECTIONS)

    def _unique_id(self, base: str) -> str:
        candidate, n = base, 1
        while candidate in self._ids:
            n += 1
            candidate = f"{base}-{n}"
        self._ids.add(candidate)
        return candidate

    def add_section(self, title: str, level: int = 2) -> StudyReport:
        """Start a section: a heading listed in the table of contents.

        Parameters
        ----------
        title : str
            The heading's text; its ``id`` is derived from it (``"Model
            building"`` -> ``"model-building"``, made unique by a suffix).
        level : int, default=2
            The heading level, 2 (``<h2>``) to 6; level 1 is the report's
            title. Deeper levels nest in the table of contents.

        Returns
        -------
        StudyReport
            The report itself.
        """
        if isinstance(level, bool) or not isinstance(level, int) or not 2 <= level <= 6:
            raise ValueError(
                f"level must be an int from 2 to 6 (1 is the report's title); "
                f"got {level!r}."
            )
        anchor = self._unique_id(_slug(str(title)))
        self._sections.append((level, str(title), anchor))
        self._blocks.append(f'<h{level} id="{anchor}">{_escape(title)}</h{level}>')
        return self

    def add_text(self, text: str) -> StudyReport:
        """Add plain text; a blank line starts a new paragraph.

        Parameters
        ----------
        text : str
            Plain text (not HTML: it is escaped).

        Returns
        -------
        StudyReport
            The report itself.
        """
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", str(text))]
        for paragraph in paragraphs:
            if paragraph:
                self._blocks.append(f"<p>{_escape(paragraph)}</p>")
        return self

    def add_list(self, items: Iterable[Any], *, ordered: bool = False) -> StudyReport:
        """Add a bulleted (or numbered) list of plain-text items.

        Parameters
        ----------
        items : iterable
            The items, each shown as ``str(item)``, escaped.
        ordered : bool, default=False
            Number the items (``<ol>``) instead of bullets (``<ul>``).

        Returns
        -------
        StudyReport
            The report itself.
        """
        if isinstance(items, str):
            raise TypeError(
                "items must be an iterable of items, not one str; got "
                f"{items!r}. Wrap it in a list, or use add_text."
            )
        tag = "ol" if ordered else "ul"
        body = "".join(f"<li>{_escape(item)}</li>" for item in items)
        self._blocks.append(f"<{tag}>{body}</{tag}>")
        return self

    def add_table(
        self,
        frame: pd.DataFrame,
        *,
        caption: str | None = None,
        csv_name: str | None = None,
        float_format: str | Callable[[float], str] = "{:.3f}",
        index: bool | None = None,
    ) -> StudyReport:
        """Add a DataFrame as an HTML table.

        Every cell shows as :meth:`pandas.DataFrame.to_csv` would write it
        with the same float format: floats through `float_format`, integers
        in full, missing values (NaN, None, ``pd.NA``) as empty cells, other
        values as ``str``. A MultiIndex on the rows becomes one leading column
        per level (a value repeated from the row above is greyed out but kept,
        so the cells match the CSV); MultiIndex column labels are joined with
        ``" / "``.

        Parameters
        ----------
        frame : pandas.DataFrame or pandas.Series
            The table (a Series is shown as a one-column table).
        caption : str, optional
            The table's caption (``<caption>``), e.g. ``"Table 2. ..."``.
        csv_name : str, optional
            The file the table mirrors (e.g. ``"table2.csv"``), shown as a
            note under the table.
        float_format : str or callable, default="{:.3f}"
            A :meth:`str.format` string with one field, or a function
            float -> str.
        index : bool, optional
            Show the row index. By default it is shown unless it is an unnamed
            :class:`~pandas.RangeIndex` (as ``to_csv(index=False)`` writes).

        Returns
        -------
        StudyReport
            The report itself.
        """
        if isinstance(frame, pd.Series):
            frame = frame.to_frame()
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(
                "frame must be a pandas DataFrame or Series; got "
                f"{type(frame).__name__}. Build one with pandas.DataFrame(...)."
            )
        formatter = _check_float_format(float_format)
        if index is None:
            index = not (
                isinstance(frame.index, pd.RangeIndex) and frame.index.name is None
            )
        self._n_tables += 1
        anchor = self._unique_id(f"table-{self._n_tables}")

        head = []
        if index:
            head += [_label(name) for name in frame.index.names]
        head += [_label(column) for column in frame.columns]
        lines = [f'<div class="table-wrap"><table id="{anchor}">']
        if caption is not None:
            lines.append(f"<caption>{_escape(caption)}</caption>")
        lines.append(
            "<thead><tr>"
            + "".join(f'<th scope="col">{_escape(h)}</th>' for h in head)
            + "</tr></thead>"
        )
        lines.append("<tbody>")
        previous: tuple = ()
        rows = frame.itertuples(index=False, name=None)
        for key, row in zip(frame.index, rows, strict=True):
            cells = []
            if index:
                keys = key if isinstance(key, tuple) else (key,)
                for level, value in enumerate(keys):
                    repeat = tuple(keys[: level + 1]) == previous[: level + 1]
                    css = ' class="repeat"' if repeat else ""
                    cells.append(f'<th scope="row"{css}>{_escape(_label(value))}</th>')
                previous = tuple(keys)
            for value in row:
                text, numeric = _format_cell(value, formatter)
                css = ' class="num"' if numeric else ""
                cells.append(f"<td{css}>{_escape(text)}</td>")
            lines.append("<tr>" + "".join(cells) + "</tr>")
        lines.append("</tbody></table>")
        if csv_name is not None:
            lines.append(
                f'<p class="note">Also written as <code>{_escape(csv_name)}</code>.</p>'
            )
        lines.append("</div>")
        self._blocks.append("\n".join(lines))
        return self

    def add_figure(
        self,
        figure: Any,
        *,
        caption: str | None = None,
        name: str | None = None,
        image_format: str = "svg",
        dpi: float = 150,
    ) -> StudyReport:
        """Embed a matplotlib figure, as inline SVG or a base64 PNG.

        Parameters
        ----------
        figure : matplotlib.figure.Figure
            The figure (anything with matplotlib's ``savefig``). It is rendered
            now and left open.
        caption : str, optional
            The figure's caption (``<figcaption>``).
        name : str, optional
            The file the figure is also written to (e.g. ``"roc.svg"``),
            shown as a note under the caption.
        image_format : {"svg", "png"}, default="svg"
            Inline SVG (vector, text searchable) or a PNG data URI.
        dpi : float, default=150
            Resolution of a PNG.

        Returns
        -------
        StudyReport
            The report itself.
        """
        if not callable(getattr(figure, "savefig", None)):
            raise TypeError(
                "figure must be a matplotlib Figure (with a savefig method); got "
                f"{type(figure).__name__}. Pass ax.figure for an Axes."
            )
        if image_format not in ("svg", "png"):
            raise ValueError(
                f"image_format must be 'svg' or 'png'; got {image_format!r}."
            )
        self._n_figures += 1
        anchor = self._unique_id(f"figure-{self._n_figures}")
        label = _escape(caption if caption is not None else f"Figure {self._n_figures}")
        buffer = io.BytesIO()
        if image_format == "svg":
            figure.savefig(buffer, format="svg", metadata={"Date": None})
            svg = buffer.getvalue().decode("utf-8")
            svg = svg[svg.index("<svg") :].strip()  # drop the XML prolog / doctype
            image = _prefix_svg_ids(svg, anchor)
            image = image.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)
        else:
            figure.savefig(buffer, format="png", dpi=dpi)
            data = base64.b64encode(buffer.getvalue()).decode("ascii")
            image = f'<img src="data:image/png;base64,{data}" alt="{label}">'
        parts = [f'<figure id="{anchor}">', image]
        if caption is not None or name is not None:
            parts.append("<figcaption>")
            if caption is not None:
                parts.append(_escape(caption))
            if name is not None:
                parts.append(
                    f'<span class="note"> Also written as <code>{_escape(name)}'
                    "</code>.</span>"
                )
            parts.append("</figcaption>")
        parts.append("</figure>")
        self._blocks.append("\n".join(parts))
        return self

    def _toc(self) -> str:
        if not self._sections:
            return ""
        lines = ['<nav class="toc" aria-label="Contents">', "<strong>Contents</strong>"]
        depth = []  # open <ul> levels
        for level, title, anchor in self._sections:
            if depth and level > depth[-1]:
                lines.append("<ul>")
                depth.append(level)
            else:
                while depth and level < depth[-1]:
                    lines.append("</li></ul>")
                    depth.pop()
                if depth:
                    lines.append("</li>")
                else:
                    lines.append("<ul>")
                    depth.append(level)
            lines.append(f'<li><a href="#{anchor}">{_escape(title)}</a>')
        while depth:
            lines.append("</li></ul>")
            depth.pop()
        lines.append("</nav>")
        return "\n".join(lines)

    def to_html(self) -> str:
        """Render the report as one HTML5 document.

        Returns
        -------
        str
            The page, starting ``<!DOCTYPE html>``.
        """
        head = [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f'<meta name="generator" content="ceusradiomics {_escape(__version__)}">',
            f"<title>{_escape(self.title)}</title>",
            f"<style>\n{_CSS}</style>",
            "</head>",
            "<body>",
            "<header>",
            f"<h1>{_escape(self.title)}</h1>",
        ]
        if self.subtitle is not None:
            head.append(f'<p class="subtitle">{_escape(self.subtitle)}</p>')
        head.append("</header>")
        toc = self._toc()
        if toc:
            head.append(toc)
        body = ["<main>", *self._blocks, "</main>"]
        tail = [
            f"<footer>Written by ceusradiomics {_escape(__version__)}.</footer>",
            "</body>",
            "</html>",
            "",
        ]
        return "\n".join(head + body + tail)

    def write(self, path: str | os.PathLike) -> Path:
        """Write the report as a UTF-8 HTML file.

        Parameters
        ----------
        path : str or path-like
            The file to write (e.g. ``"report.html"``); its folder must exist.

        Returns
        -------
        pathlib.Path
            The path written.
        """
        path = Path(path)
        path.write_text(self.to_html(), encoding="utf-8")
        return path
