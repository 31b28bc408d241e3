"""What a report is made of, independent of its format: Markdown and HTML are both rendered from one list of
these blocks, so they never disagree. ``kind`` is what the templates dispatch on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar


@dataclass
class Heading:
    text: str
    level: int = 2
    kind: ClassVar[str] = "heading"


@dataclass
class Paragraph:
    text: str
    kind: ClassVar[str] = "paragraph"


@dataclass
class Bullets:
    items: list[str]
    kind: ClassVar[str] = "bullets"


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    kind: ClassVar[str] = "table"


@dataclass
class Figure:
    path: Path
    alt: str
    caption: str
    kind: ClassVar[str] = "figure"


@dataclass
class Fold:
    """Blocks the HTML shows under a ``<details>`` summary line; the Markdown shows them plainly under a heading."""
    summary: str
    blocks: list
    open: bool
    kind: ClassVar[str] = "fold"


def figure_paths(blocks: list) -> list[Path]:
    """The plots in the report's order, those in folds included."""
    paths = []
    for block in blocks:
        if isinstance(block, Figure):
            paths.append(block.path)
        elif isinstance(block, Fold):
            paths.extend(figure_paths(block.blocks))
    return paths
