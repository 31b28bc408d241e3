"""The generated sample data: reproducible, in the layout the loaders read, and true to each task's contrast."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2lm_bench.taskdata import sources as data
from e2lm_bench.taskdata.readers import read_jsonl, read_pair_lines
from e2lm_bench.taskdata.sample import (
    EXCHANGES,
    OTHER_REAL_WORDS,
    REAL_WORDS,
    SAMPLE_DATA_DIR,
    ZORRO_TEMPLATES,
    _split_onset,
    write_sample_data,
)
from e2lm_bench.taskdata.sources import DIALOGUE_FIELDS, LEXICAL_FIELDS, ZORRO_PARADIGMS


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    return write_sample_data(tmp_path_factory.mktemp("sample"), seed=0)


def test_committed_copy_is_the_seed_0_output(generated):
    # A failure here means sample_data.py changed: rerun `python -m e2lm_bench.taskdata.sample`.
    assert _snapshot(SAMPLE_DATA_DIR) == _snapshot(generated)


def test_layout(generated):
    expected = {f"zorro/{p}.txt" for p in ZORRO_PARADIGMS} | {
        "dialogue_minpairs/dialogue_eval_words.jsonl",
        "dialogue_minpairs/dialogue_eval_tokens.jsonl",
        "lexical_decision/lexical_decision.jsonl",
        "early_science/test.jsonl",
        "early_science/dev.jsonl",
    }
    # evaluation_data/ (the BabyLM 2025 layout) is checked in test_babylm_data.py
    assert {name for name in _snapshot(generated) if not name.startswith("evaluation_data/")} == expected


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    first = _snapshot(write_sample_data(tmp_path / "a", seed=7))
    assert first == _snapshot(write_sample_data(tmp_path / "b", seed=7))
    other = _snapshot(write_sample_data(tmp_path / "c", seed=8))
    assert first.keys() == other.keys()
    assert all(first[name] != other[name] for name in first)


def test_every_paradigm_has_a_template():
    assert sorted(ZORRO_TEMPLATES) == sorted(ZORRO_PARADIGMS)


@pytest.mark.parametrize("paradigm", ZORRO_PARADIGMS)
def test_zorro_pairs(generated, paradigm):
    path = generated / "zorro" / f"{paradigm}.txt"
    raw = path.read_text(encoding="utf-8")
    assert not raw.endswith("\n")
    pairs = read_pair_lines(path)
    assert len(pairs) == 12
    assert len({(p["sentence_good"], p["sentence_bad"]) for p in pairs}) == 12
    for pair in pairs:
        good, bad = pair["sentence_good"], pair["sentence_bad"]
        assert good != bad
        for sentence in (good, bad):
            assert sentence == sentence.lower() == sentence.strip()
            assert sentence.endswith((" .", " ?")) and "  " not in sentence


def test_zorro_contrasts_are_minimal_edits(generated):
    """Spot checks that the bad twin breaks the named rule and nothing else."""

    def pairs(paradigm):
        rows = read_pair_lines(generated / "zorro" / f"{paradigm}.txt")
        return [(row["sentence_good"], row["sentence_bad"]) for row in rows]

    cases = {("he", "him"), ("she", "her"), ("they", "them"), ("we", "us"), ("i", "me")}

    for good, bad in pairs("case-subjective_pronoun"):
        g, b = good.split(), bad.split()
        assert g[1:] == b[1:] and (g[0], b[0]) in cases
    for good, bad in pairs("argument_structure-swapped_arguments"):
        assert sorted(good.split()) == sorted(bad.split())
    for good, bad in pairs("irregular-verb"):
        assert len(good.split()) == len(bad.split()) and sum(x != y for x, y in zip(good.split(), bad.split())) == 1
    for good, bad in pairs("agreement_determiner_noun-between_neighbors"):
        assert sum(x != y for x, y in zip(good.split(), bad.split())) == 1


def test_dialogue_files(generated):
    replies = {f"*CHI: {chi}" for _, chi in EXCHANGES}
    files = {}
    for variant in ("words", "tokens"):
        rows = read_jsonl(generated / "dialogue_minpairs" / f"dialogue_eval_{variant}.jsonl", DIALOGUE_FIELDS)
        assert len(rows) == 40
        assert len({row["prompt"] for row in rows}) == 40
        for row in rows:
            assert row["prompt"].startswith("*MOT: ") and row["prompt"].endswith((" ?", " .", " !"))
            assert row["chosen"] in replies and row["rejected"] in replies
            assert row["rejected"] != row["chosen"]
        files[variant] = rows
    for row in files["words"]:
        assert len(row["chosen"].split()) == len(row["rejected"].split())
    assert files["words"] != files["tokens"]


def test_lexical_decision(generated):
    rows = read_jsonl(generated / "lexical_decision" / "lexical_decision.jsonl", LEXICAL_FIELDS)
    assert len(rows) == 60
    assert len({row["lexeme"] for row in rows}) == len({row["wug"] for row in rows}) == 60
    for row in rows:
        lexeme, wug = row["lexeme"], row["wug"]
        assert lexeme in REAL_WORDS
        assert wug not in REAL_WORDS and wug not in OTHER_REAL_WORDS
        assert len(wug) == len(lexeme)
        assert _split_onset(wug)[1] == _split_onset(lexeme)[1]
        assert _split_onset(wug)[0] in {_split_onset(w)[0] for w in REAL_WORDS}


def test_loaders_read_the_sample(generated, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(generated))
    assert len(data.dialogue_minpairs_rows("words")) == len(data.dialogue_minpairs_rows("tokens")) == 40
    assert len(data.lexical_decision_rows()) == 60
    assert all(len(data.zorro_rows(p)) == 12 for p in ZORRO_PARADIGMS)


def test_early_science_sample_is_a_valid_submission_size():
    """The bundled sample must pass the competition's 100-15,000 item rule, so the submission demo works offline."""
    import json

    test = [json.loads(line) for line in (SAMPLE_DATA_DIR / "early_science" / "test.jsonl").read_text().splitlines()]
    dev = [json.loads(line) for line in (SAMPLE_DATA_DIR / "early_science" / "dev.jsonl").read_text().splitlines()]
    assert 100 <= len(test) <= 15_000 and len(dev) >= 5
    for doc in test + dev:
        assert len(doc["choices"]) == 4 and len(set(doc["choices"])) == 4
        assert doc["choices"][doc["answer"]].lower() not in doc["question"].lower().split()
    assert not {d["question"] for d in test} & {d["question"] for d in dev}
