"""Dialogue pairs from small CHAT transcripts written here: cleaning, pairing, length matching, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from e2lm_bench.taskdata.builders.dialogue import build_dialogue_minpairs, clean_utterance
from e2lm_bench.taskdata.readers import DataError, read_jsonl
from e2lm_bench.taskdata.sources import DIALOGUE_FIELDS
from e2lm_bench.training.tokenizer import train_bpe_tokenizer

HEADER = (
    "@UTF8\n@Begin\n@Languages:\teng\n"
    "@Participants:\tCHI Target_Child, MOT Mother, FAT Father, INV Investigator\n"
    "@ID:\teng|test|CHI|2;06.00|||||Target_Child|||\n"
    "@ID:\teng|test|MOT|||||Mother|||\n"
    "@ID:\teng|test|FAT|||||Father|||\n"
    "@ID:\teng|test|INV|||||Investigator|||\n"
)

TRANSCRIPT_A = [
    "*MOT:\tyou are <green> [/] green ?",
    "*CHI:\tI am &-um blue@c [*] .",
    "*FAT:\twhat is that (be)cause ? [+ bch]",
    "*CHI:\t<a doggie@c> [>] .",
    "*MOT:\tlook [<] !",
    "*CHI:\txxx .",
    "*MOT:\tgoed [: went] where +...",
    "*CHI:\tthe big dog . \x15100_900\x15",
]
TRANSCRIPT_B = [
    "*FAT:\tshall we read a book ?",
    "*CHI:\tno more book .",
    "*MOT:\tdo you want juice ?",
    "*CHI:\twant milk !",
    "*CHI:\tand that one !",
    "*INV:\thello .",
    "*CHI:\thi .",
    "*MOT:\tsay hi .",
    "*CHI:\thi [/] hi .",
]

EXPECTED_PAIRS = {
    ("*MOT: you are green ?", "*CHI: I am blue ."),
    ("*FAT: what is that because ?", "*CHI: a doggie ."),
    ("*MOT: went where .", "*CHI: the big dog ."),
    ("*FAT: shall we read a book ?", "*CHI: no more book ."),
    ("*MOT: do you want juice ?", "*CHI: want milk !"),
}


def write_chat(path: Path, lines: list[str], end: bool = True, header: str = HEADER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n".join(lines) + ("\n@End\n" if end else "\n"), encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "chat"
    write_chat(folder / "a.cha", TRANSCRIPT_A)
    write_chat(folder / "b.cha", TRANSCRIPT_B)
    return folder


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("you are <green> [/] green ?", "you are green ?"),
        ("<I want> [//] I need it +//?", "I need it ?"),
        ("a [/] a [/] apple .", "apple ."),
        ("<no> [///] yes [/-] yes .", "yes ."),
        ("I am &-um blue@c [*] .", "I am blue ."),
        ("&+fr &=laughs doggie@c !", "doggie !"),
        ("goed [: went] there +...", "went there ."),
        ("<me go> [: I went] home .", "I went home ."),
        ("that (.) dog [= the brown one] [!] !", "that dog !"),
        ("what (be)cause ? [+ bch]", "what because ?"),
        ("+< <yes> [<] +/.", "yes ."),
        ("no [>] +!?", "no ?"),
        ("0is he there ?", "he there ?"),
        ("bana:nas , please yyy .", "bananas , please ."),
        ("yes . \x15100_200\x15", "yes ."),
        ("Jwww went home .", "Jwww went home ."),
        ("xxx .", ""),
        ("www &=cries .", ""),
        ("0 .", ""),
    ],
)
def test_clean_utterance(raw, clean):
    assert clean_utterance(raw) == clean


def test_word_matched_pairs_and_summary(corpus, tmp_path):
    out = tmp_path / "out"
    summary = build_dialogue_minpairs([corpus], out, seed=3)
    rows = read_jsonl(out / "dialogue_minpairs" / "dialogue_eval_words.jsonl", DIALOGUE_FIELDS)
    assert {(r["prompt"], r["chosen"]) for r in rows} == EXPECTED_PAIRS
    for row in rows:
        assert len(row["chosen"].split()) == len(row["rejected"].split())
        assert row["chosen"] != row["rejected"] and row["rejected"].startswith("*CHI: ")
    assert summary["transcripts"] == 2 and summary["utterances"] == 17
    assert summary["empty_after_cleaning"] == 1
    # "*MOT: say hi ." -> "hi ." has no other 3-word child line but itself ("*INV: hello ." is no caregiver).
    assert summary["exchanges"] == 6 and summary["skipped_no_distractor"] == 1
    assert summary["pairs_written"] == 5 == summary["matched_words"]
    assert summary["duplicates_removed"] == 0 and summary["held_out"] == 0
    assert summary["length_words"]["chosen"] == {"mean": 4.6, "min": 4, "max": 5}
    saved = json.loads((out / "dialogue_minpairs" / "dialogue_eval_words_summary.json").read_text())
    assert saved == summary


def test_same_seed_same_file_and_caregiver_choice(corpus, tmp_path):
    files = []
    for run in ("x", "y"):
        build_dialogue_minpairs([corpus / "a.cha", corpus / "b.cha"], tmp_path / run, seed=7)
        files.append((tmp_path / run / "dialogue_minpairs" / "dialogue_eval_words.jsonl").read_bytes())
    assert files[0] == files[1]
    summary = build_dialogue_minpairs([corpus], tmp_path / "mot", caregivers=("MOT",), name="mot_only")
    rows = rows_of(tmp_path / "mot" / "dialogue_minpairs" / "mot_only.jsonl")
    assert summary["pairs_written"] == len(rows) == 3 and all(r["prompt"].startswith("*MOT: ") for r in rows)


def test_token_matching(corpus, tmp_path):
    texts = [clean_utterance(line.split("\t")[1]) for line in TRANSCRIPT_A + TRANSCRIPT_B]
    tokenizer = train_bpe_tokenizer([f"*CHI: {t}" for t in texts if t] * 3, vocab_size=300, add_bos=True)
    tokenizer.save_pretrained(tmp_path / "tok")
    out = tmp_path / "out"
    summary = build_dialogue_minpairs([corpus], out, match="tokens", tokenizer=tmp_path / "tok")
    rows = rows_of(out / "dialogue_minpairs" / "dialogue_eval_tokens.jsonl")
    assert rows and summary["pairs_written"] == len(rows) == summary["matched_tokens"]

    def count(line):
        return len(tokenizer(line, add_special_tokens=False)["input_ids"])

    for row in rows:
        assert count(row["chosen"]) == count(row["rejected"]) and row["chosen"] != row["rejected"]
    assert summary["matched_words"] == sum(len(r["chosen"].split()) == len(r["rejected"].split()) for r in rows)
    assert summary["exchanges"] == summary["pairs_written"] + summary["skipped_no_distractor"]


def test_dedupe_min_words_and_held_out(corpus, tmp_path):
    write_chat(corpus / "sub" / "b_copy.cha", TRANSCRIPT_B)
    summary = build_dialogue_minpairs([corpus], tmp_path / "d")
    assert summary["exchanges"] == 9 and summary["duplicates_removed"] == 3 and summary["pairs_written"] == 5
    kept = build_dialogue_minpairs([corpus], tmp_path / "k", dedupe=False)
    assert kept["duplicates_removed"] == 0 and kept["pairs_written"] == 7  # two more skipped "hi ."
    short = build_dialogue_minpairs([corpus], tmp_path / "s", min_words=3)
    assert short["too_short"] == 5 and short["duplicates_removed"] == 1 and short["pairs_written"] == 3

    summary = build_dialogue_minpairs([corpus], tmp_path / "h", held_out=0.4, seed=1)
    folder = tmp_path / "h" / "dialogue_minpairs"
    held, kept_rows = rows_of(folder / "dialogue_eval_words_heldout.jsonl"), rows_of(folder / "dialogue_eval_words.jsonl")
    assert summary["held_out"] == len(held) == 2 and summary["pairs_written"] == len(kept_rows) == 3
    assert {(r["prompt"], r["chosen"]) for r in held + kept_rows} == EXPECTED_PAIRS


def test_truncated_file_is_an_error_and_writes_nothing(corpus, tmp_path):
    bad = write_chat(corpus / "c.cha", TRANSCRIPT_B, end=False)
    with pytest.raises(DataError, match=r"c\.cha.*truncated"):
        build_dialogue_minpairs([corpus], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    bad.write_text(HEADER.replace("2;06.00", "2;6.") + "*CHI:\thi .\n@End\n")
    with pytest.raises(DataError, match=r"c\.cha"):
        build_dialogue_minpairs([corpus], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_no_child_turns_and_no_files(corpus, tmp_path):
    write_chat(corpus / "adults.cha", ["*MOT:\thello .", "*FAT:\thi there .", "*MOT:\tok ."])
    with pytest.raises(DataError, match=r"adults\.cha: no CHI turns; speakers \(utterances\): FAT \(1\), MOT \(2\)"):
        build_dialogue_minpairs([corpus], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .cha files"):
        build_dialogue_minpairs([tmp_path / "empty"], tmp_path / "out")


def test_words_file_runs_in_lm_eval(corpus, tmp_path, llama_dir, monkeypatch):
    from lm_eval import simple_evaluate

    from e2lm_bench.evaluation.harness import task_manager_class

    build_dialogue_minpairs([corpus], tmp_path / "out")
    monkeypatch.setenv("E2LM_DATA_DIR", str(tmp_path / "out"))
    out = simple_evaluate(model="hf", model_args=f"pretrained={llama_dir}", tasks=["dialogue_minpairs_words"],
                          task_manager=task_manager_class(skip_builtin=True)(), batch_size=8, device="cpu")
    result = out["results"]["dialogue_minpairs_words"]
    assert 0.0 <= result["acc,none"] <= 1.0
    assert out["n-samples"]["dialogue_minpairs_words"]["effective"] == 5


def test_cli_wiring(corpus, tmp_path, capsys):
    from e2lm_bench.cli import main

    assert main(["data", "dialogue-minpairs", str(corpus), "--output", str(tmp_path / "cli"), "--seed", "3"]) == 0
    assert '"pairs_written"' in capsys.readouterr().out
    assert rows_of(tmp_path / "cli" / "dialogue_minpairs" / "dialogue_eval_words.jsonl")
    write_chat(tmp_path / "bad" / "cut.cha", TRANSCRIPT_A, end=False)
    assert main(["data", "dialogue-minpairs", str(tmp_path / "bad"), "--output", str(tmp_path / "o2")]) == 2
    assert "truncated CHAT transcript" in capsys.readouterr().err
