"""Dialogue minimal pairs built from CHILDES transcripts, in the layout the ``dialogue_minpairs`` tasks read.

A caregiver turn immediately followed by a child turn is one exchange: the caregiver turn is the prompt,
the child's real reply is ``chosen``, and ``rejected`` is a child utterance from another exchange of the
same length (whitespace words or subword tokens), as in the published sets (PAPER-DLG). Transcripts are
parsed with pylangacq; the raw main tiers are cleaned here so the rules are ours and documented. All
output is computed before anything is written, and every file is written atomically.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from pathlib import Path
from statistics import mean

import pylangacq

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.errors import UserError
from e2lm_bench.taskdata.readers import DataError
from e2lm_bench.taskdata.sources import DIALOGUE_FIELDS

FOLDER = "dialogue_minpairs"
TERMINATORS = (".", "?", "!")
PUNCTUATION = {",", *TERMINATORS}
UNINTELLIGIBLE = {"xxx", "yyy", "www"}
# Tries of a plain random draw before falling back to filtering the whole length bucket.
_DRAW_TRIES = 8

_BULLET = re.compile("\x15[^\x15]*\x15")
_PAUSE = re.compile(r"\(\.+\)")
# A word or <group> followed by a replacement [: word] or [:: word]: the replacement is what was meant.
_REPLACEMENT = re.compile(r"(?:<[^<>]*>|[^\s\[\]<>]+)\s*\[::?\s+([^\]]*)\]")
# A word or <group> (with any codes attached) followed by a retracing marker: the retraced part goes.
_RETRACED = re.compile(r"(?:<[^<>]*>|[^\s\[\]<>]+)\s*(?:\[[^\]/][^\]]*\]\s*)*\[/{1,3}[-?]?\]")
_BRACKETED = re.compile(r"\[[^\]]*\]")
_DROPPED_CHARS = re.compile("[<>\u2308\u2309\u230a\u230b\u201e\u2021\u2191\u2193]")


def clean_utterance(text: str) -> str:
    """A CHAT main tier as plain words with CHAT-style spacing (``I am blue .``), or "" if no word is left.

    Rules, in order (following what CLAN and pylangacq count as the spoken words):
    - time-alignment bullets ``\\x15...\\x15`` and pauses ``(.)``, ``(..)``, ``(...)`` are removed;
    - ``word [: repl]`` / ``<a b> [: repl]`` (and ``[:: repl]``) become ``repl``;
    - retraced material before ``[/]``, ``[//]``, ``[///]``, ``[/-]``, ``[/?]`` (one word or a ``<...>``
      group) is dropped, keeping the repetition or correction that follows;
    - every other bracketed code is dropped: ``[*]`` errors, ``[= ...]``, ``[+ ...]`` postcodes,
      ``[<]``/``[>]`` overlaps, ``[!]``, ``[%...]``, ...; angle brackets go, their content stays;
    - tokens starting with ``&`` (fillers ``&-um``, fragments ``&+fr``, events ``&=laughs``) are dropped,
      as are ``xxx``/``yyy``/``www`` and omissions ``0word`` (and a bare ``0``);
    - ``@`` markers are cut (``doggie@c`` -> ``doggie``), shortenings lose their parentheses
      (``(be)cause`` -> ``because``), and prolongation ``:`` and syllable pauses ``^`` inside words go;
    - utterance linkers (``+<``, ``+^``, ``++``, ``+"``, ``+,``) and overlap/separator symbols are dropped;
    - the terminator (``.``, ``?``, ``!``, or a special one such as ``+...``, ``+/.``, ``+//?``, ``+!?``)
      becomes `` .``, `` ?`` or `` !`` at the end (by its last character; `` .`` if there is none);
      commas stay as separate tokens.
    """
    text = _PAUSE.sub(" ", _BULLET.sub(" ", text))
    text = _REPLACEMENT.sub(r" \1 ", text)
    previous = None
    while previous != text:  # retracings can chain: "a [/] a [/] a"
        previous, text = text, _RETRACED.sub(" ", text)
    text = _DROPPED_CHARS.sub(" ", _BRACKETED.sub(" ", text))
    words, terminator = [], "."
    for token in text.split():
        if token in TERMINATORS or token == "!?" or (token.startswith("+") and token[-1] in "!?."):
            terminator = "?" if "?" in token else token[-1]
            continue
        if token.startswith(("+", "&", "0")):
            continue
        if token == ",":
            words.append(token)
            continue
        token = re.sub(r"[()\:^]", "", token.split("@", 1)[0])
        if token and token.lower() not in UNINTELLIGIBLE:
            words.append(token)
    while words and words[0] == ",":
        words.pop(0)
    while words and words[-1] == ",":
        words.pop()
    if not words:
        return ""
    return " ".join(words + [terminator])


def _chat_files(chat_paths: list) -> list[Path]:
    """Every .cha file named or inside a named folder, sorted within a folder, each once."""
    files: list[Path] = []
    for entry in chat_paths:
        path = Path(entry)
        if path.is_dir():
            files.extend(sorted(path.rglob("*.cha")))
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"{path}: no such file or folder")
    files = list(dict.fromkeys(files))
    if not files:
        raise DataError(f"no .cha files found in {', '.join(str(p) for p in chat_paths) or 'the empty list'}")
    return files


def _read_transcript(path: Path) -> list[tuple[str, str]]:
    """(speaker code, raw main tier) of every utterance; a truncated or malformed file is a DataError."""
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not valid UTF-8 ({err.reason} at byte {err.start})") from None
    if "@Begin" not in lines:
        raise DataError(f"{path}: not a CHAT transcript (no @Begin line)")
    if lines[-1] != "@End":
        raise DataError(f"{path}: truncated CHAT transcript (the last line is not @End)")
    try:
        reader = pylangacq.read_chat(str(path))
    except ValueError as err:  # pylangacq reports header errors (bad @ID, age, ...) as ValueError
        raise DataError(f"{path}: {err}") from None
    return [(u.participant, u.tiers.get(u.participant, "")) for u in reader.utterances()]


def _load_tokenizer(tokenizer):
    if tokenizer is None:
        raise UserError('match="tokens" needs a tokenizer (an object or the folder of a saved tokenizer)')
    if isinstance(tokenizer, (str, Path)):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(tokenizer))
    return tokenizer


def _word_count(line: str) -> int:
    return len(line.split())


def build_dialogue_minpairs(
    chat_paths: list,
    output_dir,
    match: str = "words",
    tokenizer=None,
    caregivers=("MOT", "FAT"),
    child: str = "CHI",
    seed: int = 0,
    min_words: int = 1,
    dedupe: bool = True,
    held_out: float = 0.0,
    name: str | None = None,
) -> dict:
    """Write ``<output_dir>/dialogue_minpairs/<name>.jsonl`` (+ ``_summary.json``, ``_heldout.jsonl``); return the summary.

    ``match`` decides what "the same length" means for the distractor: whitespace words of the whole
    ``*CHI: ...`` line (as the published word set counts them) or its subword tokens under ``tokenizer``.
    ``held_out`` moves that fraction of the pairs, drawn with the seed, to a separate file (training
    rows, as the seed's DPO split does), so evaluation rows stay apart from them.
    """
    if match not in ("words", "tokens"):
        raise UserError(f'match must be "words" or "tokens", got {match!r}')
    if not 0.0 <= held_out < 1.0:
        raise UserError(f"held_out must be in [0, 1), got {held_out!r}")
    counter = None
    if match == "tokens":
        tok = _load_tokenizer(tokenizer)

        def counter(line: str) -> int:
            return len(tok(line, add_special_tokens=False)["input_ids"])

    length = counter or _word_count
    name = name or f"dialogue_eval_{match}"
    caregivers = tuple(caregivers)
    files = _chat_files(chat_paths)

    counts = Counter()
    exchanges: list[tuple[tuple[str, int], str, str]] = []  # (reply id, prompt line, chosen text)
    child_lines: list[tuple[tuple[str, int], str]] = []
    for path in files:
        utterances = _read_transcript(path)
        speakers = Counter(code for code, _ in utterances)
        if not speakers[child]:
            listed = ", ".join(f"{code} ({n})" for code, n in sorted(speakers.items())) or "none"
            raise DataError(f"{path}: no {child} turns; speakers (utterances): {listed}")
        counts["transcripts"] += 1
        cleaned = []
        for code, raw in utterances:
            text = clean_utterance(raw)
            counts["utterances"] += 1
            counts["empty_after_cleaning"] += not text
            cleaned.append((code, text))
        for index, (code, text) in enumerate(cleaned):
            if code != child or not text:
                continue
            reply_id = (str(path), index)
            child_lines.append((reply_id, text))
            before_code, before_text = cleaned[index - 1] if index else ("", "")
            if before_code in caregivers and before_text:
                exchanges.append((reply_id, f"*{before_code}: {before_text}", text))
    counts["exchanges"] = len(exchanges)

    buckets: dict[int, list[tuple[tuple[str, int], str]]] = defaultdict(list)
    for reply_id, text in child_lines:
        buckets[length(f"*{child}: {text}")].append((reply_id, text))

    rng = random.Random(seed)
    seen: set[tuple[str, str]] = set()
    rows = []
    for reply_id, prompt, text in exchanges:
        if sum(t not in PUNCTUATION for t in text.split()) < min_words:
            counts["too_short"] += 1
            continue
        chosen = f"*{child}: {text}"
        if dedupe and (prompt, chosen) in seen:
            counts["duplicates_removed"] += 1
            continue
        seen.add((prompt, chosen))
        bucket = buckets[length(chosen)]
        for _ in range(_DRAW_TRIES):
            other_id, other = rng.choice(bucket)
            if other_id != reply_id and other != text:
                distractor = other
                break
        else:
            candidates = [other for other_id, other in bucket if other_id != reply_id and other != text]
            distractor = rng.choice(candidates) if candidates else None
        if distractor is None:
            counts["skipped_no_distractor"] += 1
            continue
        rows.append({"prompt": prompt, "chosen": chosen, "rejected": f"*{child}: {distractor}"})

    order = list(range(len(rows)))
    rng.shuffle(order)
    held = set(order[: round(held_out * len(rows))])
    heldout_rows = [row for i, row in enumerate(rows) if i in held]
    eval_rows = [row for i, row in enumerate(rows) if i not in held]
    if not eval_rows:
        raise DataError(f"no dialogue pairs could be built from {len(files)} transcript(s): {dict(counts)}")

    def stats(field: str) -> dict:
        lengths = [_word_count(row[field]) for row in eval_rows]
        return {"mean": round(mean(lengths), 3), "min": min(lengths), "max": max(lengths)}

    target = Path(output_dir) / FOLDER
    summary = {
        "name": name,
        "match": match,
        "seed": seed,
        "caregivers": list(caregivers),
        "child": child,
        "transcripts": counts["transcripts"],
        "utterances": counts["utterances"],
        "empty_after_cleaning": counts["empty_after_cleaning"],
        "exchanges": counts["exchanges"],
        "too_short": counts["too_short"],
        "duplicates_removed": counts["duplicates_removed"],
        "skipped_no_distractor": counts["skipped_no_distractor"],
        "pairs_written": len(eval_rows),
        "held_out": len(heldout_rows),
        "matched_words": sum(_word_count(r["chosen"]) == _word_count(r["rejected"]) for r in eval_rows),
        "length_words": {"prompt": stats("prompt"), "chosen": stats("chosen")},
        "output": str(target / f"{name}.jsonl"),
    }
    if counter is not None:
        summary["matched_tokens"] = sum(counter(r["chosen"]) == counter(r["rejected"]) for r in eval_rows)

    def jsonl(items: list[dict]) -> str:
        return "".join(json.dumps({k: row[k] for k in DIALOGUE_FIELDS}, ensure_ascii=False) + "\n" for row in items)

    if heldout_rows:
        summary["heldout_output"] = str(target / f"{name}_heldout.jsonl")
        atomic_write_text(target / f"{name}_heldout.jsonl", jsonl(heldout_rows))
    atomic_write_text(target / f"{name}.jsonl", jsonl(eval_rows))
    atomic_write_text(target / f"{name}_summary.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return summary
