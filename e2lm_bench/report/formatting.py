"""How numbers read everywhere in the report, in tables, captions and tick labels alike."""

from __future__ import annotations

import math


def missing(value: float | None) -> bool:
    """null in scores.json, or NaN (Python's json module reads and writes NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt(value: float | None) -> str:
    """Three decimals, or an en dash for a missing value."""
    return "–" if missing(value) else f"{value:.3f}"


def count(n: int | None) -> str:
    return "–" if n is None else str(n)


def human(x: float, _pos: object = None) -> str:
    """Counts such as 500, 20K, 1.5M, 3B: tokens or steps stay readable on any scale (a matplotlib tick formatter)."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"
