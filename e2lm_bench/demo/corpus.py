"""The demo's training corpus: utterances of the grammar, minus the ones held out for evaluation.

A fixed hash (:func:`held_out`) reserves a share of the possible utterances for the evaluation sets,
so a model is scored on combinations it has not seen verbatim. A line holds one to three utterances, as
lines of transcribed speech do: a model that never saw an utterance follow another within a line
expects the text to end after every one, and continues a stream of them (the interaction stage's
contexts) with noise.
"""

from __future__ import annotations

import random
import zlib
from pathlib import Path

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.demo.grammar import utterance

HELD_OUT_ONE_IN = 4
UTTERANCES_PER_LINE = 3


def held_out(line: str) -> bool:
    """Whether an utterance is reserved for evaluation: a fixed hash, so it holds for every seed and size.

    Formulas of up to three words ("uh oh !") are never evaluated, and the corpus needs every one.
    """
    return len(line.split()) > 3 and zlib.crc32(line.encode("utf-8")) % HELD_OUT_ONE_IN == 0


def generate_corpus(n_utterances: int, seed: int = 0) -> list[str]:
    """``n_utterances`` lines (an exchange counts as one), none of them held out for evaluation."""
    rng = random.Random(seed)
    lines = []
    while len(lines) < n_utterances:
        line = utterance(rng)
        if not held_out(line):
            lines.append(line)
    return lines


def group_lines(utterances: list[str], seed: int, most: int = UTTERANCES_PER_LINE) -> list[str]:
    """Consecutive utterances joined into lines of 1 to ``most`` of them."""
    rng, lines, start = random.Random(seed), [], 0
    while start < len(utterances):
        size = rng.randint(1, most)
        lines.append(" ".join(utterances[start:start + size]))
        start += size
    return lines


def write_corpus(out_dir: str | Path, n_train: int, n_dev: int, seed: int = 0) -> Path:
    """BabyLM-style ``demo.train`` and ``demo.dev`` under ``out_dir`` of ``n_train`` and ``n_dev`` utterances
    (the first ones of :func:`generate_corpus`); returns ``out_dir``."""
    out_dir = Path(out_dir)
    utterances = generate_corpus(n_train + n_dev, seed)
    for name, part in (("demo.train", utterances[:n_train]), ("demo.dev", utterances[n_train:])):
        atomic_write_text(out_dir / name, "".join(line + "\n" for line in group_lines(part, seed)))
    return out_dir
