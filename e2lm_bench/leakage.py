"""The organizers' leakage rule: an item is rejected when its gold answer appears in its own prompt."""

from __future__ import annotations

import re


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def answer_in_prompt(answer: str, prompt: str) -> bool:
    """Case- and whitespace-insensitive, bounded by non-word characters on both sides.

    So the gold "O" does not leak through "oxygen", and "2" not through "12", but "photosynthesis" leaks
    through "... called photosynthesis?".
    """
    answer = _collapse(str(answer))
    if not answer:
        return False
    return re.search(r"(?<!\w)" + re.escape(answer) + r"(?!\w)", _collapse(str(prompt)), flags=re.IGNORECASE) is not None
