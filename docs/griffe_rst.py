"""Griffe extension: the reStructuredText bits of numpydoc docstrings as Markdown.

The package's docstrings follow numpydoc, so they hold a few reStructuredText
constructs that the Markdown renderer of mkdocstrings would print verbatim:
roles (``:func:`~ceusradiomics.io.load_cohort```, ``:math:`x```,
``:doi:`10.1/x```), ``.. math::`` blocks, ``.. [1]`` citations and ``::``
literal-block markers. This extension rewrites them, before the docstrings are
parsed, into the Markdown the site renders: MathJax through
``pymdownx.arithmatex``, and optional cross-references (a link where the target
is documented on the site, plain code otherwise, never a broken link).

It is loaded by ``mkdocs.yml`` (``extensions: [docs/griffe_rst.py:RstToMarkdown]``); the
docstrings themselves stay plain numpydoc, readable in ``help()`` and checked
by pytest's doctest run.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?P<role>[a-z]+):`(?P<body>[^`]+)`")
_CITATION = re.compile(r"^(?P<indent>\s*)\.\. \[(?P<label>[^\]]+)\]\s+")
_CITATION_REF = re.compile(r"\[(?P<label>[0-9A-Za-z]+)\]_")
_MATH_BLOCK = re.compile(r"^(?P<indent>\s*)\.\. math::\s*(?P<inline>.*)$")
_CALLABLE_ROLES = {"func", "meth"}


def _role(match: re.Match) -> str:
    role, body = match["role"], " ".join(match["body"].split())
    if role == "math":
        return rf"\({body}\)"
    if role == "doi":
        return f"[doi:{body}](https://doi.org/{body})"
    # Python cross-reference: ~ shows the last component only; "title <target>".
    title, target = body, body
    explicit = re.fullmatch(r"(?P<title>.+?)\s*<(?P<target>[^>]+)>", body)
    if explicit:
        title, target = explicit["title"], explicit["target"]
    elif body.startswith("~"):
        target = body[1:]
        title = target.rsplit(".", 1)[-1]
    target = target.lstrip(".~")
    if role in _CALLABLE_ROLES and not explicit:
        title += "()"
    code = f"<code>{html.escape(title)}</code>"
    # mkdocs-autorefs turns an optional reference into a link when the target
    # is rendered on the site and into plain text otherwise (sklearn, numpy,
    # private helpers), without a warning.
    return f'<autoref identifier="{html.escape(target)}" optional>{code}</autoref>'


def _math_blocks(lines: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _MATH_BLOCK.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        indent = match["indent"]
        body = [match["inline"]] if match["inline"].strip() else []
        i += 1
        # The block is every following line indented deeper, or blank.
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)
        ):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        stripped = [line.strip() for line in body if line.strip()]
        if any("&" in line or r"\\" in line for line in stripped):
            # Sphinx aligns a multi-line block for you; MathJax needs it said.
            stripped = [r"\begin{aligned}", *stripped, r"\end{aligned}"]
        if out and out[-1].strip():
            out.append("")
        out += [f"{indent}$$", *(f"{indent}{line}" for line in stripped), f"{indent}$$"]
        out.append("")
    return out


def rst_to_markdown(text: str) -> str:
    r"""Rewrite the reStructuredText constructs of a numpydoc docstring.

    Parameters
    ----------
    text : str
        The docstring, as griffe reads it (dedented).

    Returns
    -------
    str
        The same docstring with roles, ``.. math::`` blocks, citations and
        ``::`` markers in Markdown.

    Examples
    --------
    >>> print(rst_to_markdown("a :class:`~pkg.mod.Name` of :math:`x^2`"))
    a <autoref identifier="pkg.mod.Name" optional><code>Name</code></autoref> of \(x^2\)
    >>> print(rst_to_markdown(".. [1] A. Author, 2020. :doi:`10.1/x`"))
    - \[1\] A. Author, 2020. [doi:10.1/x](https://doi.org/10.1/x)
    """
    lines = _math_blocks(text.splitlines())
    converted = []
    for line in lines:
        # Escaped brackets: "[1] [2]" would otherwise read as a reference link.
        line = _CITATION.sub(r"\g<indent>- \\[\g<label>\\] ", line)
        line = _CITATION_REF.sub(r"\\[\g<label>\\]", line)
        if line.rstrip().endswith("::") and line.strip() != "::":
            line = line.rstrip()[:-1]  # "for example::" -> "for example:"
        converted.append(line)
    # Roles last, on the whole text: a role may wrap onto the next line.
    return _ROLE.sub(_role, "\n".join(converted))


class RstToMarkdown(griffe.Extension):
    """Rewrite every docstring with :func:`rst_to_markdown` as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
