"""The BabyLM 2025 data readers on the bundled sample, their one-line errors, and the sample's own contract."""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

import pytest

from e2lm_bench.taskdata import babylm
from e2lm_bench.taskdata.babylm import (
    BLIMP_UIDS,
    COMPS_STEMS,
    ENTITY_SPLITS,
    EWOK_DOMAINS,
    NUMOPS,
    OSF_URL,
    READING_COLUMNS,
    SUPPLEMENT_UIDS,
)
from e2lm_bench.taskdata.babylm_sample import write_babylm_sample
from e2lm_bench.taskdata.readers import DataError
from e2lm_bench.taskdata.sample import SAMPLE_DATA_DIR

EVAL = SAMPLE_DATA_DIR / "evaluation_data"
SHARED_BLIMP = Path(__file__).resolve().parents[2] / "shared" / "data" / "blimp"


@pytest.fixture
def sample(monkeypatch):
    monkeypatch.setenv("E2LM_DATA_DIR", str(SAMPLE_DATA_DIR))


def _raw(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _one_line_error(call, *parts: str) -> str:
    with pytest.raises(DataError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for part in parts:
        assert part in message
    return message


# --- Reading the sample ----------------------------------------------------------------------------


def test_blimp_and_supplement(sample):
    assert sorted(p.stem for p in (EVAL / "full_eval" / "blimp_filtered").glob("*.jsonl")) == list(BLIMP_UIDS)
    assert len(BLIMP_UIDS) == 67
    for family, uids in (("blimp", BLIMP_UIDS), ("supplement", SUPPLEMENT_UIDS)):
        for uid in uids:
            full = babylm.minimal_pair_rows("full", family, uid)
            assert len(full) == 6 and babylm.minimal_pair_rows("fast", family, uid) == full[:3]
            assert all(set(row) == {"sentence_good", "sentence_bad", "field", "linguistics_term"} for row in full)
            assert len({(row["sentence_good"], row["sentence_bad"]) for row in full}) == 6
            assert all(bool(row["field"]) == (family == "blimp") for row in full)


def test_blimp_records_have_the_pipeline_keys():
    for uid in BLIMP_UIDS:
        for number, record in enumerate(_raw(EVAL / "full_eval" / "blimp_filtered" / f"{uid}.jsonl")):
            assert list(record) == ["sentence_good", "sentence_bad", "field", "linguistics_term", "UID",
                                    "simple_LM_method", "one_prefix_method", "two_prefix_method",
                                    "lexically_identical", "pair_id"]
            assert record["UID"] == uid and record["pair_id"] == number
    dialogue = [r for uid in SUPPLEMENT_UIDS for r in _raw(EVAL / "full_eval" / "supplement_filtered" / f"{uid}.jsonl")
                if r["sentence_good"].startswith("A: ")]
    assert len(dialogue) >= 12 and all(" B: " in r["sentence_good"] and " B: " in r["sentence_bad"] for r in dialogue)


def test_good_first_pairs_differ_and_match_in_length(sample):
    """A bad twin is a different sentence of the same number of words: length cannot give the answer."""
    for family, uids in (("blimp", BLIMP_UIDS), ("supplement", SUPPLEMENT_UIDS)):
        for uid in uids:
            for row in babylm.minimal_pair_rows("full", family, uid):
                good, bad = row["sentence_good"], row["sentence_bad"]
                assert good != bad and len(good.split()) == len(bad.split()), (uid, good, bad)
    for stem in COMPS_STEMS:
        for row in babylm.comps_rows(stem):
            assert row["prefix_acceptable"] != row["prefix_unacceptable"]
            assert len(row["prefix_acceptable"].split()) == len(row["prefix_unacceptable"].split())
    pair = babylm.minimal_pair_rows("full", "blimp", "anaphor_gender_agreement")[0]
    assert {pair["sentence_good"].split()[-1], pair["sentence_bad"].split()[-1]} == {"himself.", "herself."}


def test_ewok_rows_come_in_swapped_twins(sample):
    for domain in EWOK_DOMAINS:
        rows = babylm.ewok_rows("full", domain)
        assert len(rows) == 6 and babylm.ewok_rows("fast", domain) == rows[:4]
        for original, swapped in zip(rows[::2], rows[1::2]):
            assert (swapped["Context1"], swapped["Context2"]) == (original["Context2"], original["Context1"])
            assert (swapped["Target1"], swapped["Target2"]) == (original["Target2"], original["Target1"])
            assert original["Target1"] != original["Target2"] and original["ConceptA"]


def _simulate(prefix: str) -> tuple[int, str]:
    """(box asked about, its contents) from the prefix's text alone: an independent check of the gold option."""
    state, *rest = re.split(r"(?<=\.) (?=[A-Z])", prefix.rstrip())
    boxes = {int(i): [] if text == "nothing" else re.findall(r"the ([a-z ]+?)(?=,| and |$)", text)
             for i, text in re.findall(r"Box (\d+) contains (.*?)(?=, Box \d+ contains |\.$)", state)}
    for op in rest[:-1]:
        if m := re.fullmatch(r"Move the contents of Box (\d+) to Box (\d+)\.", op):
            boxes[int(m[2])] += boxes[int(m[1])]
            boxes[int(m[1])] = []
        elif m := re.fullmatch(r"Move the (.+) from Box (\d+) to Box (\d+)\.", op):
            boxes[int(m[2])].remove(m[1])
            boxes[int(m[3])].append(m[1])
        elif m := re.fullmatch(r"Remove the (.+) from Box (\d+)\.", op):
            boxes[int(m[2])].remove(m[1])
        else:
            m = re.fullmatch(r"Put the (.+) into Box (\d+)\.", op)
            boxes[int(m[2])].append(m[1])
    box = int(re.fullmatch(r"Box (\d+) contains", rest[-1] if rest else "")[1])
    names = [f"the {o}" for o in boxes[box]]
    text = "nothing" if not names else names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return box, text + "."


def test_entity_tracking(sample):
    for split in ENTITY_SPLITS:
        raw = _raw(EVAL / "full_eval" / "entity_tracking" / f"{split}.jsonl")
        assert [r["numops"] for r in raw] == sorted(r["numops"] for r in raw)  # sorted from 0
        for numops in NUMOPS:
            rows = babylm.entity_tracking_rows("full", split, numops)
            assert len(rows) == 2 and all(row["numops"] == numops for row in rows)
            for row in rows:
                assert row["input_prefix"].endswith(" ") and row["options"][0] != row["options"][1]
                assert _simulate(row["input_prefix"])[1] == row["options"][0], row
                assert row["input_prefix"].count(". ") >= numops + 1
    assert [babylm.entity_tracking_rows("fast", "regular", n) for n in NUMOPS] == [
        babylm.entity_tracking_rows("full", "regular", n) for n in NUMOPS]
    _one_line_error(lambda: babylm.entity_tracking_rows("fast", "ambiref", 0), "regular")
    first = babylm.entity_tracking_rows("full", "regular", 1)
    first[0]["options"].append("changed")  # rows are copies of the cached parse
    assert "changed" not in babylm.entity_tracking_rows("full", "regular", 1)[0]["options"]


def test_wug(sample):
    for kind, count in (("adj", 24), ("past", 12)):
        rows = babylm.wug_rows(kind)
        assert len(rows) == count and babylm.wug_rows(kind, eval_set="fast") == rows
        for row in rows:
            assert type(row["ratio"]) is float and 0 <= row["ratio"] <= 1
            first, second = row["candidates"]
            assert first != second and first.rsplit(" ", 1)[0] == second.rsplit(" ", 1)[0]
    assert len({row["ratio"] for row in babylm.wug_rows("adj")}) > 5


def test_comps(sample):
    for stem in COMPS_STEMS:
        rows = babylm.comps_rows(stem)
        assert len(rows) == 8 and all(row["property_phrase"].endswith(".") and row["negative_sample_type"] for row in rows)
    assert babylm.comps_rows("comps_wugs")[0]["prefix_acceptable"].startswith("A ")
    assert not (EVAL / "fast_eval" / "comps").exists()


def test_reading(sample):
    rows = babylm.reading_rows("full")
    assert len(rows) == 90 and [row["row"] for row in rows] == list(range(90))
    csv = Path("reading") / "reading_data.csv"
    assert (EVAL / "full_eval" / csv).read_bytes() == (EVAL / "fast_eval" / csv).read_bytes()
    assert len(babylm.reading_rows("fast")) == 90
    starts = [row for row in rows if row["context_length"] == 0]
    assert len(starts) == 15
    assert all(row["item"] == "None" and row["prev_item"] is None and row["prev_word"] is None for row in starts)
    second = rows[1]
    assert second["item"] == rows[0]["word"] and second["prev_word"] == rows[0]["word"] and second["prev_item"] is None
    third = rows[2]
    assert third["item"] == f"{rows[0]['word']} {rows[1]['word']}" and third["prev_item"] == rows[0]["word"]
    assert all(type(row[c]) is float for row in rows for c in ("Subtlex_log10", "length", "RTgopast", "prev_length"))
    assert 0 < sum(math.isnan(row["RTgopast"]) for row in rows) < 45
    assert all(row["length"] == len(row["word"]) for row in rows)


def test_aoa(sample):
    contexts = babylm.cdi_contexts()
    assert len(contexts) == 12 and all(len(word) > 1 and len(texts) == 3 for word, texts in contexts.items())
    lines = babylm.cdi_human_path().read_text(encoding="utf-8").splitlines()
    assert lines[0].split(",") == ["word", *map(str, range(16, 31))]
    for line in lines[1:]:
        word, *shares = line.split(",")
        values = [float(s) for s in shares]
        assert word in contexts and values == sorted(values) and values[0] < 0.5 < values[-1]


# --- Folders and one-line errors -------------------------------------------------------------------


def test_root_is_the_folder_or_its_evaluation_data(monkeypatch):
    monkeypatch.setenv("E2LM_DATA_DIR", str(SAMPLE_DATA_DIR))
    assert babylm.babylm_root() == EVAL
    monkeypatch.setenv("E2LM_DATA_DIR", str(EVAL))
    assert babylm.babylm_root() == EVAL
    assert len(babylm.minimal_pair_rows("full", "blimp", "wh_island")) == 6


def test_missing_folder_and_unset_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("E2LM_DATA_DIR", str(tmp_path))
    _one_line_error(babylm.babylm_root, f"{tmp_path}/evaluation_data/full_eval", OSF_URL, "unzip evaluation_data.zip",
                    "--data-dir sample")
    monkeypatch.delenv("E2LM_DATA_DIR")
    _one_line_error(lambda: babylm.ewok_rows("full", "social-relations"), "E2LM_DATA_DIR", OSF_URL,
                    "evaluation_data/full_eval", "--data-dir sample")
    (tmp_path / "evaluation_data" / "full_eval").mkdir(parents=True)
    monkeypatch.setenv("E2LM_DATA_DIR", str(tmp_path))
    expected = tmp_path / "evaluation_data" / "full_eval" / "comps" / "comps_base.jsonl"
    _one_line_error(lambda: babylm.comps_rows("comps_base"), str(expected), OSF_URL)


def _bad_file(tmp_path: Path, monkeypatch, relative: str, text: str) -> Path:
    path = tmp_path / "evaluation_data" / "full_eval" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("E2LM_DATA_DIR", str(tmp_path))
    return path


def test_row_without_sentence_bad(monkeypatch, tmp_path):
    good = json.dumps({"sentence_good": "A dog runs.", "sentence_bad": "A dog run."})
    path = _bad_file(tmp_path, monkeypatch, "blimp_filtered/adjunct_island.jsonl",
                     good + "\n" + json.dumps({"sentence_good": "A cat sits."}) + "\n")
    _one_line_error(lambda: babylm.minimal_pair_rows("full", "blimp", "adjunct_island"), f"{path}:2", "'sentence_bad'")


def test_options_not_a_list(monkeypatch, tmp_path):
    row = {"sample_id": 0, "numops": 0, "input_prefix": "Box 0 contains ", "options": "the ball."}
    path = _bad_file(tmp_path, monkeypatch, "entity_tracking/regular.jsonl", json.dumps(row) + "\n")
    _one_line_error(lambda: babylm.entity_tracking_rows("full", "regular", 0), f"{path}:1", "'options'")
    path.write_text(json.dumps({**row, "options": ["a.", "b."], "numops": "1"}) + "\n", encoding="utf-8")
    _one_line_error(lambda: babylm.entity_tracking_rows("full", "regular", 1), f"{path}:1", "'numops'")


def test_wug_ratio_may_be_a_numeric_string(monkeypatch, tmp_path):
    path = _bad_file(tmp_path, monkeypatch, "wug_past_tense/wug_past_tense.jsonl",
                     json.dumps({"sentences": "a\tb", "ratio": "0.25"}) + "\n"
                     + json.dumps({"sentences": "a b", "ratio": 0.5}) + "\n")
    _one_line_error(lambda: babylm.wug_rows("past"), f"{path}:2", "'sentences'")
    path.write_text(json.dumps({"sentences": "a\tb", "ratio": "0.25"}) + "\n", encoding="utf-8")
    assert babylm.wug_rows("past") == [{"candidates": ["a", "b"], "ratio": 0.25}]


def test_reading_csv_without_rtgopast(monkeypatch, tmp_path):
    columns = [c for c in READING_COLUMNS if c != "RTgopast"]
    path = _bad_file(tmp_path, monkeypatch, "reading/reading_data.csv",
                     ",".join(["", *columns]) + "\n" + ",".join(["0", *["1"] * len(columns)]) + "\n")
    message = _one_line_error(lambda: babylm.reading_rows("full"), str(path), "RTgopast")
    assert "RTfirstfix" not in message


def test_cdi_entry_without_context(monkeypatch, tmp_path):
    path = _bad_file(tmp_path, monkeypatch, "aoa/cdi_childes.json", json.dumps({"dog": [{"text": "a"}]}))
    _one_line_error(babylm.cdi_contexts, str(path), "'dog'", "context")


# --- The sample is generated, not edited ---------------------------------------------------------------


def test_regenerating_reproduces_the_committed_files(tmp_path):
    write_babylm_sample(tmp_path, random.Random(0))

    def snapshot(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    generated = snapshot(tmp_path / "evaluation_data")
    assert len(generated) > 150 and generated == snapshot(EVAL)
    assert sum(len(data) for data in generated.values()) < 400_000


@pytest.mark.skipif(not SHARED_BLIMP.is_dir(), reason="the shared BLiMP copy is not on this machine")
def test_uids_are_the_shared_blimp_file_stems():
    assert list(BLIMP_UIDS) == sorted(p.stem for p in SHARED_BLIMP.iterdir() if p.is_file())
