"""Bad input: every error names the file, the line and the field."""

from __future__ import annotations

import json

import pytest

from e2lm_bench.taskdata.readers import DataError, read_jsonl, read_pair_lines
from e2lm_bench.taskdata.sources import dialogue_minpairs_rows, zorro_rows


def _write(path, text: str | bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_missing_field_names_file_line_and_field(tmp_path):
    path = _write(tmp_path / "d.jsonl", json.dumps({"prompt": "a", "chosen": "b", "rejected": "c"}) + "\n"
                  + json.dumps({"prompt": "a", "chosen": "b"}) + "\n")
    with pytest.raises(DataError, match=r"d\.jsonl:2: missing field 'rejected'"):
        read_jsonl(path, ("prompt", "chosen", "rejected"))


def test_empty_or_non_string_field(tmp_path):
    path = _write(tmp_path / "d.jsonl", json.dumps({"lexeme": "dog", "wug": ""}) + "\n")
    with pytest.raises(DataError, match=r"d\.jsonl:1: field 'wug' must be a non-empty string"):
        read_jsonl(path, ("lexeme", "wug"))


def test_malformed_json_line(tmp_path):
    path = _write(tmp_path / "d.jsonl", '{"lexeme": "dog", "wug": "dag"}\n{"lexeme": \n')
    with pytest.raises(DataError, match=r"d\.jsonl:2: not valid JSON"):
        read_jsonl(path, ("lexeme", "wug"))


def test_odd_line_count(tmp_path):
    path = _write(tmp_path / "p.txt", "a b .\na bs .\nthe c .")
    with pytest.raises(DataError, match=r"p\.txt: odd number of lines \(3\); line 3 has no partner"):
        read_pair_lines(path)


def test_empty_file(tmp_path):
    with pytest.raises(DataError, match=r"p\.txt: empty file"):
        read_pair_lines(_write(tmp_path / "p.txt", "\n"))
    with pytest.raises(DataError, match=r"d\.jsonl: no rows"):
        read_jsonl(_write(tmp_path / "d.jsonl", ""), ("lexeme",))


def test_blank_line_inside_pairs(tmp_path):
    with pytest.raises(DataError, match=r"p\.txt:2: blank line"):
        read_pair_lines(_write(tmp_path / "p.txt", "a .\n\nb .\nc ."))


def test_non_utf8_bytes_name_the_line(tmp_path):
    with pytest.raises(DataError, match=r"p\.txt:3: not valid UTF-8"):
        read_pair_lines(_write(tmp_path / "p.txt", b"a .\nb .\nc \xff .\nd ."))


def test_pairs_grammatical_first_and_bad_first(tmp_path):
    path = _write(tmp_path / "p.txt", "good one .\nbad one .\ngood two .\nbad two .\n")
    assert [p["sentence_good"] for p in read_pair_lines(path)] == ["good one .", "good two ."]
    assert [p["sentence_good"] for p in read_pair_lines(path, bad_first=True)] == ["bad one .", "bad two ."]


def test_missing_file_under_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("E2LM_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=r"dialogue_eval_words\.jsonl: file not found \(E2LM_DATA_DIR is set"):
        dialogue_minpairs_rows("words")


def test_data_dir_that_does_not_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("E2LM_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="is not a directory"):
        zorro_rows("ellipsis-n_bar")


def test_unknown_paradigm_and_variant():
    with pytest.raises(DataError, match="unknown Zorro paradigm"):
        zorro_rows("ellipsis")
    with pytest.raises(DataError, match="unknown dialogue_minpairs variant"):
        dialogue_minpairs_rows("chars")


def test_hub_source_is_used_without_data_dir(monkeypatch):
    """The default source: the hub dataset, validated like a local file (the hub call itself is mocked)."""
    import datasets

    calls = []

    def fake_load_dataset(path, split):
        calls.append((path, split))
        return datasets.Dataset.from_list([{"prompt": "*MOT: hi .", "chosen": "*CHI: hi .", "rejected": "*CHI: no ."},
                                           {"prompt": "*MOT: hi .", "chosen": "", "rejected": "*CHI: no ."}])

    monkeypatch.delenv("E2LM_DATA_DIR", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    with pytest.raises(DataError, match=r"fpadovani/dialogue_eval_tokens row 1: field 'chosen'"):
        dialogue_minpairs_rows("tokens")
    assert calls == [("fpadovani/dialogue_eval_tokens", "train")]


def test_zorro_default_source_is_the_pinned_suite_file(monkeypatch, tmp_path):
    from e2lm_bench.taskdata import sources as data

    fetched = []

    def fake_download(url):
        fetched.append(url)
        return _write(tmp_path / "suite.txt", "good .\nbad .\n")

    monkeypatch.delenv("E2LM_DATA_DIR", raising=False)
    monkeypatch.setattr(data, "_download", fake_download)
    assert zorro_rows("ellipsis-n_bar") == [{"sentence_good": "good .", "sentence_bad": "bad .", "pair_id": 0}]
    assert fetched == ["https://raw.githubusercontent.com/phueb/UnMasked/df493c82dc9df3ae3f96bb2803cbb1c50a0f3a29/"
                       "test_suites/zorro/ellipsis-n_bar.txt"]
