"""minpairs-from-text: Zorro/BLiMP text suites and BLiMP JSONL into the zorro layout."""

from __future__ import annotations

import json

import pytest

from e2lm_bench.taskdata.builders.minpairs import convert_suite
from e2lm_bench.taskdata.readers import DataError, read_pair_lines
from tests.conftest import SHARED_DATA


def test_bad_first_copies_are_reordered(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "ellipsis-n_bar.txt").write_text("bad one .\ngood one .\nbad two .\ngood two .")
    convert_suite(tmp_path / "src", tmp_path / "out", bad_first=True)
    pairs = read_pair_lines(tmp_path / "out" / "zorro" / "ellipsis-n_bar.txt")
    assert [(p["sentence_good"], p["sentence_bad"]) for p in pairs] == [("good one .", "bad one ."), ("good two .", "bad two .")]


def test_blimp_jsonl_and_duplicates_are_reported(tmp_path):
    (tmp_path / "src").mkdir()
    rows = [{"sentence_good": "Who ran?", "sentence_bad": "Who ran it?"}] * 2 + [{"sentence_good": "A b.", "sentence_bad": "A c."}]
    (tmp_path / "src" / "wh_island.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = convert_suite(tmp_path / "src", tmp_path / "out", suite="blimp")
    assert summary.pairs == {"wh_island": 3} and summary.duplicated_pairs == {"wh_island": 1}
    assert (tmp_path / "out" / "blimp" / "wh_island.txt").read_text().splitlines()[:2] == ["Who ran?", "Who ran it?"]


def test_unknown_zorro_names_are_reported(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "my_paradigm.txt").write_text("a .\nb .")
    assert convert_suite(tmp_path / "src", tmp_path / "out").unknown_paradigms == ["my_paradigm"]


def test_a_bad_file_leaves_nothing_behind(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("a .\nb .")
    (tmp_path / "src" / "b.txt").write_text("a .\nb .\nc .")
    (tmp_path / "src" / "c.jsonl").write_text('{"sentence_good": "x ."}\n')
    with pytest.raises(DataError, match=r"b\.txt: odd number of lines \(3\)"):
        convert_suite(tmp_path / "src", tmp_path / "out")
    assert not (tmp_path / "out" / "zorro").exists() and not list(tmp_path.glob(".minpairs-*"))
    (tmp_path / "src" / "b.txt").unlink()
    with pytest.raises(DataError, match=r"c\.jsonl:1: field 'sentence_bad'"):
        convert_suite(tmp_path / "src", tmp_path / "out")


@pytest.mark.skipif(not (SHARED_DATA / "zorro").is_dir(), reason="../shared/data is absent")
def test_shared_zorro_converts_to_the_same_suite_and_scores(tmp_path, llama_dir, monkeypatch):
    """Acceptance: 23 paradigms x 2,000 pairs, and the zorro task scores exactly as on the shared copy."""
    from lm_eval import simple_evaluate

    from e2lm_bench.evaluation.harness import task_manager_class

    summary = convert_suite(SHARED_DATA / "zorro", tmp_path / "out")
    assert len(summary.pairs) == 23 and set(summary.pairs.values()) == {2000} and not summary.unknown_paradigms
    results = []
    for root in (tmp_path / "out", SHARED_DATA):
        monkeypatch.setenv("E2LM_DATA_DIR", str(root))
        out = simple_evaluate(model="hf", model_args=f"pretrained={llama_dir}", tasks=["zorro"], limit=20,
                              task_manager=task_manager_class(skip_builtin=True)(), batch_size=32, device="cpu")
        results.append({k: v for k, v in out["results"].items()})
    assert results[0] == results[1]


def test_cli_wiring(tmp_path, capsys):
    from e2lm_bench.cli import main

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "irregular-verb.txt").write_text("he went .\nhe goed .")
    assert main(["data", "minpairs-from-text", str(tmp_path / "src"), "--output", str(tmp_path / "out")]) == 0
    assert "1 paradigms, 1 pairs" in capsys.readouterr().out
    (tmp_path / "src" / "irregular-verb.txt").write_text("")
    assert main(["data", "minpairs-from-text", str(tmp_path / "src"), "--output", str(tmp_path / "out")]) == 2
    assert "empty file" in capsys.readouterr().err
