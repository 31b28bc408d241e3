"""``report.md`` and ``report.html`` from one list of blocks, through the jinja2 templates in ``templates/``.

Both templates walk the same blocks with the same recursive macro, so the two documents never disagree. The
HTML is autoescaped (model names may hold ``<`` or ``&``) and embeds each plot as a ``data:`` URI, so the page
is one file that can be mailed or attached; the Markdown escapes through the ``md`` filter instead.
"""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


def _markdown_escape(text: str) -> str:
    """Plain text made safe inside Markdown paragraphs and table cells (model names may hold | < & *)."""
    text = " ".join(str(text).split()).replace("\\", "\\\\")
    for char in "|<>&`*[]":
        text = text.replace(char, "\\" + char)
    return text


def _data_uri(path: Path) -> str:
    """A PNG inlined, so the HTML needs no plots folder beside it."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


TEMPLATES = Environment(
    loader=PackageLoader("e2lm_bench.report", "templates"),
    autoescape=select_autoescape(["html.j2"]),
    undefined=StrictUndefined,  # a misspelt field fails the report instead of leaving a blank
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
TEMPLATES.filters.update(md=_markdown_escape, data_uri=_data_uri)


def to_markdown(blocks: list, out_dir: Path) -> str:
    """Markdown that links each plot relative to ``out_dir``, where report.md is written."""
    return TEMPLATES.get_template("report.md.j2").render(blocks=blocks, out_dir=out_dir)


def to_html(blocks: list) -> str:
    """A single-file page titled by the first block, the report's level-1 heading."""
    return TEMPLATES.get_template("report.html.j2").render(blocks=blocks)
