"""Lexical-decision builder: pseudo-words that English does not know, reproducible, readable by the task."""

from __future__ import annotations

import json

import pytest
import wordfreq

from e2lm_bench.taskdata.builders.lexical import build_lexical_decision, read_word_list, segments
from e2lm_bench.taskdata.readers import DataError, read_jsonl
from e2lm_bench.taskdata.sources import LEXICAL_FIELDS

WORDS = ["dog", "happy", "milk", "ball", "table", "garden", "window", "sister", "basket", "little",
         "jump", "water", "pencil", "rabbit", "button", "kitchen", "monkey", "yellow", "summer", "candle"]


def _pairs(root):
    return read_jsonl(root / "lexical_decision" / "lexical_decision.jsonl", LEXICAL_FIELDS)


@pytest.fixture(scope="module")
def band_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("band")
    summary = build_lexical_decision(root, frequency_band=(4.0, 5.5), n=80, seed=0)
    return root, summary


def test_segments_split_onset_nucleus_coda():
    assert [t for _, t in segments("strength")] == ["str", "e", "ngth"]
    assert [t for _, t in segments("basket")] == ["b", "a", "s", "k", "e", "t"]
    assert segments("hmm") == []


def test_band_wugs_are_unknown_words_of_the_same_length(band_dir):
    root, summary = band_dir
    pairs = _pairs(root)
    assert summary["words_in"] == 80 and summary["pairs"] == len(pairs) > 60
    assert summary["pairs"] + summary["skipped_no_candidate"] == 80
    assert json.loads((root / "lexical_decision" / "summary.json").read_text()) == summary
    wugs = [p["wug"] for p in pairs]
    assert len(set(wugs)) == len(wugs)
    for pair in pairs:
        assert 4.0 <= wordfreq.zipf_frequency(pair["lexeme"], "en") <= 5.5
        assert wordfreq.zipf_frequency(pair["wug"], "en") == 0
        assert len(pair["wug"]) == len(pair["lexeme"]) and pair["wug"] != pair["lexeme"]
        assert pair["wug"].isascii() and pair["wug"].isalpha()


def test_same_seed_same_file_other_seed_differs(tmp_path):
    texts = []
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        build_lexical_decision(tmp_path / name, words=WORDS, seed=seed)
        texts.append((tmp_path / name / "lexical_decision" / "lexical_decision.jsonl").read_text())
    assert texts[0] == texts[1] != texts[2]


def test_word_list_filters_and_counts_rejected_input(tmp_path):
    words = WORDS + ["Dog", "it", "dog", "don't", "hmm"]
    summary = build_lexical_decision(tmp_path, words=words, vocabulary=set(WORDS) - {"jump"} | {"hmm"})
    assert summary["rejected_input"] == {"duplicate": 1, "not_in_vocabulary": 1, "not_lowercase_ascii_letters": 2,
                                         "shorter_than_3": 1}
    assert summary["words_in"] == len(WORDS)  # 19 of WORDS plus "hmm", which has no vowel to swap
    assert summary["skipped_no_candidate"] >= 1
    assert {p["lexeme"] for p in _pairs(tmp_path)} <= set(WORDS) - {"jump"}


@pytest.mark.parametrize("line, reason", [("саt", "mixes scripts"), ("dog2", "digit"), ("ice cream", "space"),
                                          ("don't", "not a word")])
def test_bad_word_list_names_the_line_and_nothing_is_written(tmp_path, line, reason):
    source = tmp_path / "words.txt"
    source.write_text(f"dog\n{line}\nmilk\n", encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(DataError, match=rf"words\.txt:2: .*{reason}"):
        build_lexical_decision(out, words=read_word_list(source))
    assert not out.exists()


def test_word_list_file_reads_one_word_per_line(tmp_path):
    source = tmp_path / "words.txt"
    source.write_text("dog\n\n  milk\nкот\n", encoding="utf-8")
    assert read_word_list(source) == ["dog", "milk", "кот"]


def test_no_pair_is_an_error_and_writes_nothing(tmp_path):
    with pytest.raises(DataError, match="no pairs"):
        build_lexical_decision(tmp_path / "out", words=["hmm", "psst"])
    with pytest.raises(DataError, match="either"):
        build_lexical_decision(tmp_path / "out", words=WORDS, frequency_band=(4, 5))
    assert not (tmp_path / "out").exists()


def test_output_runs_through_the_lexical_decision_task(band_dir, llama_dir, monkeypatch):
    from lm_eval import simple_evaluate

    from e2lm_bench.evaluation.harness import task_manager_class

    root, summary = band_dir
    monkeypatch.setenv("E2LM_DATA_DIR", str(root))
    out = simple_evaluate(model="hf", model_args=f"pretrained={llama_dir}", tasks=["lexical_decision"],
                          task_manager=task_manager_class(skip_builtin=True)(), batch_size=8, device="cpu")
    assert out["n-samples"]["lexical_decision"]["effective"] == summary["pairs"]
    assert 0.0 <= out["results"]["lexical_decision"]["acc,none"] <= 1.0


def test_cli_restricts_to_a_corpus_vocabulary(tmp_path, capsys):
    import json as _json

    from e2lm_bench.cli import main

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "childes.train").write_text("the little doggie wanted water and sunshine today\nwhere is mommy going\n")
    assert main(["data", "lexical-decision", "--output", str(tmp_path / "out"), "--frequency-band", "3,7",
                 "--vocabulary", str(corpus)]) == 0
    rows = [_json.loads(line) for line in (tmp_path / "out" / "lexical_decision" / "lexical_decision.jsonl").read_text().splitlines()]
    corpus_words = set((corpus / "childes.train").read_text().split())
    assert rows and {row["lexeme"] for row in rows} <= corpus_words
    assert main(["data", "lexical-decision", "--output", str(tmp_path / "o2"), "--frequency-band", "x"]) == 2
    assert "expected LOW,HIGH" in capsys.readouterr().err
