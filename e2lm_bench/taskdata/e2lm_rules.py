"""What the E2LM competition asks of a submitted benchmark's items.

A benchmark has 100 to 15,000 items (the competition site's rules page, e2lmc.github.io), and an item is
rejected when its gold answer appears in its own prompt (the organizers' leakage check, announced in
https://huggingface.co/blog/tiiuae/e2lm-competition). Both the early_science item tools and the submission check read them here.
"""

from __future__ import annotations

import re

MIN_DOCS, MAX_DOCS = 100, 15_000


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
