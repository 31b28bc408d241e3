"""BabyLM-style corpora: cleaning, tokenising into one id stream, and cutting it into training blocks.

A folder holds ``*.train`` and ``*.dev`` files, one utterance or paragraph per line. Lines are cleaned
per source (by file stem, as the BabyLlama recipe does), streamed through the tokenizer in batches, and
the ids concatenated into one ``int32`` array per split, so the text is never held in memory twice.
Every line starts after the token lm-eval conditions context-free items on (``line_start_token_id``)
and ends with EOS, so evaluation never scores after an embedding that training did not see.

Invalid ids are stopped here, with counts and examples: the seed found ``None`` in its dev ids and
patched them to 0 (the pad id), which silently removed those tokens from the loss. ``None`` comes from
a tokenizer that has no id for a piece of text (no unknown token, no byte fallback) or from ids looked
up in another tokenizer's vocabulary; out-of-range ids come from a tokenizer larger than the model.
Empty lines are skipped and counted; they carry no tokens.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from e2lm_bench.errors import UserError

BATCH_LINES = 1000
MAX_EXAMPLES = 5


class CorpusError(UserError):
    """Text or ids that must not reach the model; the message gives counts and examples."""


# Per-source clean-ups (BabyLM file stems): CHILDES speaker codes at line starts, wiki headings and
# markup, subtitle stage directions. Other sources only get whitespace normalisation.
_CLEANERS: dict[str, list[tuple[re.Pattern, str]]] = {
    "childes": [(re.compile(r"^\*[A-Z]{3}:\s*"), "")],
    "simple_wiki": [(re.compile(r"^=+\s*.*?\s*=+$"), ""), (re.compile(r"\[\[|\]\]"), "")],
    "wikipedia": [(re.compile(r"^=+\s*.*?\s*=+$"), ""), (re.compile(r"\[\[|\]\]"), "")],
    "open_subtitles": [(re.compile(r"^\s*-\s*"), ""), (re.compile(r"\[[^\]]*\]|\([^)]*\)"), "")],
    "bnc_spoken": [],
    "gutenberg": [(re.compile(r"_"), "")],
    "switchboard": [(re.compile(r"^[AB]:\s*"), "")],
}
_SPACES = re.compile(r"\s+")


def clean_line(line: str, source: str) -> str:
    for pattern, replacement in _CLEANERS.get(source, []):
        line = pattern.sub(replacement, line)
    return _SPACES.sub(" ", line).strip()


def source_of(path: Path) -> str:
    """``childes.train`` -> ``childes``; also matches names such as ``aochildes`` or ``simple_wiki_100M``."""
    stem = path.stem.lower()
    return next((name for name in _CLEANERS if name in stem), stem)


def split_files(folder: str | Path, split: str) -> list[Path]:
    files = sorted(Path(folder).glob(f"*.{split}"))
    if not files and split == "train":
        raise CorpusError(f"{folder}: no *.train files (a BabyLM-style folder has one text file per source)")
    return files


def iter_lines(files: list[Path], stats: "CorpusStats") -> Iterator[str]:
    """Cleaned non-empty lines of the files, in order, with counts kept in ``stats``."""
    for path in files:
        source = source_of(path)
        with open(path, encoding="utf-8", errors="strict") as handle:
            for number, raw in enumerate(handle, start=1):
                line = clean_line(raw, source)
                if line:
                    stats.lines += 1
                    stats.words += len(line.split())
                    yield line
                else:
                    stats.empty_lines += 1


@dataclass
class CorpusStats:
    lines: int = 0
    empty_lines: int = 0
    words: int = 0
    tokens: int = 0
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def words_per_token(self) -> float:
        return self.words / self.tokens if self.tokens else 0.0

    def problem(self, kind: str, example: str) -> None:
        self.problems.setdefault(kind, []).append(example)


def line_start_token_id(tokenizer) -> int:
    """The token lm-eval's HFLM scores an empty context after (its ``prefix_token_id``): BOS, else EOS."""
    bos = getattr(tokenizer, "bos_token_id", None)
    return tokenizer.eos_token_id if bos is None else bos


def tokenize_split(files: list[Path], tokenizer, vocab_size: int, stats: CorpusStats | None = None) -> np.ndarray:
    """All lines' ids as one int32 array, each line between ``line_start_token_id`` and EOS.

    Without a BOS the start token is EOS, which the previous line already ends with, so only the first
    line gets an extra one. Raises CorpusError on any invalid id, with counts and examples: ids that are
    not integers (``None``), ids outside ``0 <= id < vocab_size``, and characters no token covers (text
    the tokenizer silently dropped).
    """
    stats = stats if stats is not None else CorpusStats()
    eos, start = tokenizer.eos_token_id, line_start_token_id(tokenizer)
    chunks, batch = [], []

    def flush():
        if not batch:
            return
        encoded = tokenizer(batch, add_special_tokens=False)["input_ids"]
        for line, ids, lost in zip(batch, encoded, _lost_characters(tokenizer, batch, encoded)):
            _check_line(line, ids, lost, vocab_size, stats)
            opening = [start] if start != eos or not chunks else []
            chunks.append(np.asarray(opening + [i if isinstance(i, int) else -1 for i in ids] + [eos], dtype=np.int64))
        batch.clear()

    for line in iter_lines(files, stats):
        batch.append(line)
        if len(batch) >= BATCH_LINES:
            flush()
    flush()
    if stats.problems:
        raise CorpusError(_describe(stats.problems, files))
    ids = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
    stats.tokens += int(ids.size)
    return ids.astype(np.int32)


def _lost_characters(tokenizer, lines: list[str], encoded: list[list]) -> list[str]:
    """Per line, the non-space characters missing from the decoded ids (after the tokenizer's normaliser).

    A tokenizer with neither an unknown token nor byte fallback drops what it cannot encode without a
    trace; comparing character counts finds it.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return [""] * len(lines)
    decoded = tokenizer.batch_decode([[i for i in ids if isinstance(i, int)] for ids in encoded])
    normalize = backend.normalizer.normalize_str if backend.normalizer else (lambda text: text)
    lost = []
    for line, text in zip(lines, decoded):
        missing = Counter(c for c in normalize(line) if not c.isspace()) - Counter(c for c in text if not c.isspace())
        lost.append("".join(sorted(missing)))
    return lost


def _check_line(line: str, ids: list, lost: str, vocab_size: int, stats: CorpusStats) -> None:
    bad = [i for i in ids if not isinstance(i, int)]
    if bad:
        stats.problem("ids that are not integers (None)", f"{line[:60]!r} -> {bad[:3]}")
    out_of_range = [i for i in ids if isinstance(i, int) and not 0 <= i < vocab_size]
    if out_of_range:
        stats.problem(f"ids outside 0..{vocab_size - 1} (tokenizer larger than the model?)", f"{line[:60]!r} -> {out_of_range[:3]}")
    if lost:
        stats.problem("characters the tokenizer cannot encode", f"{line[:60]!r}: {lost!r}")


def _describe(problems: dict[str, list[str]], files: list[Path]) -> str:
    parts = [f"{len(examples)} line(s) with {kind}, e.g. " + "; ".join(examples[:MAX_EXAMPLES])
             for kind, examples in problems.items()]
    return f"{', '.join(str(f) for f in files)}: " + " | ".join(parts) + " (no ids were substituted)"


class BlockDataset(torch.utils.data.Dataset):
    """Fixed-length blocks of one id stream.

    Training blocks shift by a random offset each epoch (``set_epoch``), so block edges fall in
    different places; dev blocks never move. Every block is checked once more against the vocabulary.
    """

    def __init__(self, ids: np.ndarray, block_size: int, vocab_size: int, random_offset: bool, seed: int = 0):
        if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
            raise CorpusError(f"id stream has ids outside 0..{vocab_size - 1} (min {ids.min()}, max {ids.max()})")
        self.ids, self.block_size, self.random_offset, self.seed = ids, block_size, random_offset, seed
        self.offset = 0
        self.count = max(0, ids.size // block_size - (1 if random_offset else 0))
        if self.count == 0:
            raise CorpusError(f"{ids.size} tokens make no block of {block_size}; use a smaller --block-size")

    def set_epoch(self, epoch: int) -> None:
        if self.random_offset:
            self.offset = int(np.random.default_rng([self.seed, epoch]).integers(self.block_size))

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        start = index * self.block_size + self.offset
        block = torch.from_numpy(self.ids[start : start + self.block_size].astype(np.int64))
        return {"input_ids": block, "labels": block.clone()}
