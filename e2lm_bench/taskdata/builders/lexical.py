"""Lexical-decision pairs (a real word and a pseudo-word) in the layout the ``lexical_decision`` task reads.

Pseudo-words follow the idea of Wuggy (Keuleers & Brysbaert 2010) in a deliberately small form: a word
is cut into onset / nucleus / coda segments, and one segment is swapped for another of the same type,
length and position seen in the lexicon, preferring swaps whose transitions to the neighbouring segments
also occur in the lexicon, so the result looks pronounceable. A candidate is kept only if English (per
wordfreq) and the input lexicon do not know it. Everything is computed before anything is written, so a
failure leaves no partial output.
"""

from __future__ import annotations

import json
import random
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import wordfreq

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.taskdata.readers import DataError
from e2lm_bench.taskdata.sources import LEXICAL_FIELDS

FOLDER = "lexical_decision"
MIN_LENGTH = 3
# Longer than wordfreq's English list, so any band floor is reached; reading stops there.
_TOP_N = 500_000

# A segment: its type (o/n/c), the syllable index and whether that syllable is the last one, then its text.
Slot = tuple[str, int, bool]


def _script(char: str) -> str:
    """First word of the Unicode name ("LATIN", "CYRILLIC", ...), which is enough to catch homoglyph mixes."""
    return unicodedata.name(char, "UNKNOWN").split()[0]


def read_word_list(path: str | Path) -> list[str]:
    """Words of a file, one per line (blank lines skipped); anything that is not one single-script word is an error."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not valid UTF-8 ({err.reason} at byte {err.start})") from None
    words = []
    for number, line in enumerate(text.splitlines(), start=1):
        word = line.strip()
        if not word:
            continue
        where = f"{path}:{number}"
        if any(ch.isspace() for ch in word):
            raise DataError(f"{where}: {word!r} contains a space; expected one word per line")
        if any(ch.isdigit() for ch in word):
            raise DataError(f"{where}: {word!r} contains a digit")
        if not word.isalpha():
            raise DataError(f"{where}: {word!r} is not a word (only letters are allowed)")
        scripts = sorted({_script(ch) for ch in word})
        if len(scripts) > 1:
            raise DataError(f"{where}: {word!r} mixes scripts ({', '.join(scripts)})")
        words.append(word)
    if not words:
        raise DataError(f"{path}: no words")
    return words


def _is_vowel(word: str, i: int) -> bool:
    """a e i o u, and "y" except word-initially or before a vowel ("yes", "beyond" vs "happy", "play")."""
    if word[i] in "aeiou":
        return True
    return word[i] == "y" and i > 0 and not (i + 1 < len(word) and word[i + 1] in "aeiou")


def segments(word: str) -> list[tuple[Slot, str]]:
    """Onset, nucleus and coda of every vowel group; a consonant cluster between two nuclei gives its
    first letter to the coda and the rest to the next onset (a single consonant goes to the onset).
    A word without a vowel has no segments."""
    runs: list[tuple[bool, str]] = []
    for i, ch in enumerate(word):
        vowel = _is_vowel(word, i)
        if runs and runs[-1][0] == vowel:
            runs[-1] = (vowel, runs[-1][1] + ch)
        else:
            runs.append((vowel, ch))
    nuclei = [i for i, (vowel, _) in enumerate(runs) if vowel]
    if not nuclei:
        return []
    last = len(nuclei) - 1
    out: list[tuple[Slot, str]] = []
    onset = "".join(text for _, text in runs[: nuclei[0]])
    for k, i in enumerate(nuclei):
        end = nuclei[k + 1] if k < last else len(runs)
        between = "".join(text for _, text in runs[i + 1 : end])
        if k == last:
            coda, next_onset = between, ""
        elif len(between) <= 1:
            coda, next_onset = "", between
        else:
            coda, next_onset = between[0], between[1:]
        out += [(("o", k, k == last), onset), (("n", k, k == last), runs[i][1]), (("c", k, k == last), coda)]
        onset = next_onset
    return out


def _band_words(low: float, high: float) -> list[str]:
    """English words whose Zipf frequency lies in [low, high]; the list is by frequency, so it stops below ``low``."""
    out = []
    for word in wordfreq.top_n_list("en", _TOP_N):
        zipf = wordfreq.zipf_frequency(word, "en")
        if zipf < low:
            break
        if zipf <= high:
            out.append(word)
    return out


def _real_words(candidates: list[str], vocabulary: set[str] | None) -> tuple[list[str], Counter]:
    """The usable words in input order, and how many of the others were dropped for which reason."""
    rejected: Counter = Counter()
    seen: set[str] = set()
    words = []
    for word in candidates:
        if not (word.isascii() and word.isalpha() and word.islower()):
            rejected["not_lowercase_ascii_letters"] += 1
        elif len(word) < MIN_LENGTH:
            rejected["shorter_than_3"] += 1
        elif word in seen:
            rejected["duplicate"] += 1
        elif vocabulary is not None and word not in vocabulary:
            rejected["not_in_vocabulary"] += 1
        else:
            seen.add(word)
            words.append(word)
    return words, rejected


class _Lexicon:
    """Which segments occur in which slot, and which typed segments follow which (over non-empty segments)."""

    def __init__(self, words: list[str]):
        self.words = set(words)
        inventory: dict[Slot, set[str]] = defaultdict(set)
        self.transitions: set[tuple[tuple[str, str], tuple[str, str]]] = set()
        for word in words:
            segs = segments(word)
            for slot, text in segs:
                if text:
                    inventory[slot].add(text)
            chain = [("^", "")] + [(slot[0], text) for slot, text in segs if text] + [("$", "")]
            self.transitions.update(zip(chain, chain[1:]))
        self.inventory = {slot: sorted(texts) for slot, texts in inventory.items()}

    def candidates(self, word: str, rng: random.Random) -> list[str]:
        """Every one-segment swap of ``word`` with a same-type, same-slot, same-length segment; those whose
        transitions to both neighbours are attested come first, ties in an order drawn from ``rng``."""
        segs = segments(word)
        filled = [i for i, (_, text) in enumerate(segs) if text]
        scored = []
        for pos, i in enumerate(filled):
            slot, text = segs[i]
            before = (segs[filled[pos - 1]][0][0], segs[filled[pos - 1]][1]) if pos > 0 else ("^", "")
            after = (segs[filled[pos + 1]][0][0], segs[filled[pos + 1]][1]) if pos + 1 < len(filled) else ("$", "")
            for alt in self.inventory.get(slot, ()):
                if alt == text or len(alt) != len(text):
                    continue
                score = ((before, (slot[0], alt)) in self.transitions) + (((slot[0], alt), after) in self.transitions)
                wug = "".join(alt if j == i else t for j, (_, t) in enumerate(segs))
                scored.append((score, wug))
        rng.shuffle(scored)
        scored.sort(key=lambda item: -item[0])
        return [wug for _, wug in scored]

    def is_pseudo_word(self, candidate: str) -> bool:
        return candidate not in self.words and wordfreq.zipf_frequency(candidate, "en") == 0


def build_lexical_decision(
    output_dir: str | Path,
    words: list[str] | None = None,
    frequency_band: tuple[float, float] | None = None,
    vocabulary: set[str] | None = None,
    n: int | None = None,
    seed: int = 0,
) -> dict:
    """Write ``output_dir/lexical_decision/lexical_decision.jsonl`` ({"lexeme", "wug"}) and ``summary.json``.

    The words are ``words`` or the English words of a Zipf ``frequency_band`` (exactly one of the two),
    kept only if in ``vocabulary`` when given; ``n`` of them are drawn with ``seed``, which also orders
    the pseudo-word candidates, so the same arguments give the same file.
    """
    if (words is None) == (frequency_band is None):
        raise DataError("give either a word list or a frequency band, not both or neither")
    if frequency_band is not None:
        low, high = frequency_band
        if low > high:
            raise DataError(f"frequency band {frequency_band}: the lower bound is above the upper one")
        words = _band_words(low, high)
    if n is not None and n < 1:
        raise DataError(f"n must be at least 1, got {n}")
    lexicon_words, rejected = _real_words(words, vocabulary)
    lexicon = _Lexicon(lexicon_words)
    rng = random.Random(seed)
    targets = lexicon_words
    if n is not None and n < len(targets):
        targets = [lexicon_words[i] for i in sorted(rng.sample(range(len(lexicon_words)), n))]
    rows, used, skipped = [], set(), 0
    for word in targets:
        wug = next((c for c in lexicon.candidates(word, rng) if c not in used and lexicon.is_pseudo_word(c)), None)
        if wug is None:
            skipped += 1
            continue
        used.add(wug)
        rows.append(dict(zip(LEXICAL_FIELDS, (word, wug))))
    if not rows:
        raise DataError(f"no pairs: {len(targets)} word(s) in, none with a pseudo-word candidate")
    summary = {
        "words_in": len(targets),
        "pairs": len(rows),
        "skipped_no_candidate": skipped,
        "rejected_input": dict(sorted(rejected.items())),
    }
    folder = Path(output_dir) / FOLDER
    atomic_write_text(folder / "lexical_decision.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
    atomic_write_text(folder / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def vocabulary_from(path: str | Path) -> set[str]:
    """Lower-cased words a model could know: a tokenizer folder's whole-word entries, or a corpus's words.

    A folder with a ``tokenizer.json`` gives the tokenizer's vocabulary (word-start markers such as ``Ġ``
    and ``▁`` removed); any other file or folder is read as text (``*.train`` files in a folder).
    """
    path = Path(path)
    if (path / "tokenizer.json").is_file():
        from transformers import AutoTokenizer

        return {token.lstrip("Ġ▁").lower() for token in AutoTokenizer.from_pretrained(path).get_vocab()}
    files = sorted(path.glob("*.train")) if path.is_dir() else [path]
    if not files:
        raise DataError(f"{path}: no tokenizer.json and no *.train files")
    words = set()
    for file in files:
        with open(file, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                words.update(word.lower() for word in line.split())
    return words
