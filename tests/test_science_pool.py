"""The candidate pool, built from in-memory datasets shaped like SciQ, ARC-Easy and MMLU (no network)."""

from __future__ import annotations

import json

import datasets
import pytest

from e2lm_bench.early_science import pool
from e2lm_bench.early_science.docs import load_docs
from e2lm_bench.errors import UserError


def sciq_row(i: int, question: str | None = None, correct: str | None = None, d1: str = "helium") -> dict:
    return {"question": question or f"Which substance number {i} is studied here?", "correct_answer": correct or f"answer {i}",
            "distractor1": d1, "distractor2": "argon", "distractor3": "neon", "support": ""}


SCIQ_TEST = [
    *(sciq_row(i) for i in range(8)),
    sciq_row(8, question="Plants turn light into sugar by photosynthesis. What is the process called?", correct="photosynthesis"),
    sciq_row(9, d1=" "),  # an empty distractor: invalid
]
def arc_row(question: str, texts: list[str], labels: str, key: str) -> dict:
    return {"id": question, "question": question, "choices": {"text": texts, "label": list(labels)}, "answerKey": key}


ARC_TEST = [
    arc_row("Which is a mammal?", ["trout", "frog", "whale", "crow"], "ABCD", "C"),
    arc_row("What pulls objects toward Earth?", ["gravity", "magnetism", "friction"], "123", "1"),
    arc_row("Which is a gas at room temperature?", ["iron", "oxygen", "salt", "wood"], "ABCD", "E"),  # no such key
]
ARC_TRAIN = [arc_row(f"Train question {i}?", ["x", "y"], "AB", "B") for i in range(3)]


def mmlu_row(subject: str, split: str) -> dict:
    return {"question": f"A {split} question on {subject}?", "subject": subject,
            "choices": ["first", "second", "third", "fourth"], "answer": 3}


def fake_load_dataset(calls):
    tables = {
        ("allenai/sciq", None, "test"): SCIQ_TEST,
        ("allenai/sciq", None, "train"): [sciq_row(100 + i) for i in range(6)],
        ("allenai/ai2_arc", "ARC-Easy", "test"): ARC_TEST,
        ("allenai/ai2_arc", "ARC-Easy", "train"): ARC_TRAIN,
    }
    for subject in pool.MMLU_STEM_SUBJECTS:
        for split in ("test", "dev"):
            tables[("cais/mmlu", subject, split)] = [mmlu_row(subject, split)]

    def load_dataset(path, name=None, split=None, **kwargs):
        calls.append((path, name, split))
        return datasets.Dataset.from_list(tables[(path, name, split)])

    return load_dataset


@pytest.fixture
def calls(monkeypatch):
    recorded = []
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset(recorded))
    return recorded


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_build_pool_normalises_every_source(calls, tmp_path):
    lines = []
    folder = pool.build_pool(tmp_path / "out", dev_per_source=2, report=lines.append)
    assert folder == tmp_path / "out" / "early_science"
    assert ("allenai/ai2_arc", "ARC-Easy", "test") in calls and ("cais/mmlu", "machine_learning", "dev") in calls
    test = {doc["id"]: doc for doc in read(folder / "test.jsonl")}

    sciq = test["sciq/test/3"]
    assert sciq["choices"][sciq["answer"]] == "answer 3"
    assert sorted(sciq["choices"]) == sorted(["answer 3", "helium", "argon", "neon"])
    assert (sciq["subject"], sciq["source"]) == ("sciq", "allenai/sciq")
    assert test["arc_easy/test/0"]["answer"] == 2 and test["arc_easy/test/1"]["answer"] == 0
    assert test["arc_easy/test/0"]["source"] == "allenai/ai2_arc"
    astro = test["mmlu/astronomy/test/0"]
    assert (astro["subject"], astro["source"], astro["answer"]) == ("astronomy", "cais/mmlu", 3)
    assert sum(doc["source"] == "cais/mmlu" for doc in test.values()) == len(pool.MMLU_STEM_SUBJECTS) == 19

    # invalid rows and the leaking item are gone, and counted
    assert "sciq/test/8" not in test and "sciq/test/9" not in test and "arc_easy/test/2" not in test
    summary = json.loads((folder / "pool_summary.json").read_text())
    assert summary["sciq"] == {"loaded": 10, "invalid": 1, "leaking": 1, "capped": 0, "test": 8, "dev": 2}
    assert summary["arc_easy"]["invalid"] == 1 and summary["mmlu_stem"]["test"] == 19
    assert any("1 leaking" in line for line in lines)

    # few-shot items come from train/dev, round-robin over sources
    dev = read(folder / "dev.jsonl")
    assert [doc["id"] for doc in dev] == [
        "sciq/train/0", "arc_easy/train/0", "mmlu/abstract_algebra/dev/0",
        "sciq/train/1", "arc_easy/train/1", "mmlu/anatomy/dev/0",
    ]
    test_back, dev_back = load_docs(tmp_path / "out")
    assert len(test_back) == 8 + 2 + 19 and dev_back == dev


def test_sciq_answer_position_is_reproducible_by_seed(calls, tmp_path):
    first = pool.build_pool(tmp_path / "a", sources=("sciq",), seed=0, report=None)
    again = pool.build_pool(tmp_path / "b", sources=("sciq",), seed=0, report=None)
    other = pool.build_pool(tmp_path / "c", sources=("sciq",), seed=1, report=None)
    assert (first / "test.jsonl").read_bytes() == (again / "test.jsonl").read_bytes()
    positions = lambda folder: [doc["answer"] for doc in read(folder / "test.jsonl")]  # noqa: E731
    assert positions(first) != positions(other)
    assert len(set(positions(first))) > 1  # the gold is not always in the same place


def test_max_items_keeps_a_seeded_subset_in_order(calls, tmp_path):
    folder = pool.build_pool(tmp_path / "out", max_items=5, report=None)
    ids = [doc["id"] for doc in read(folder / "test.jsonl")]
    full = [doc["id"] for doc in read(pool.build_pool(tmp_path / "full", report=None) / "test.jsonl")]
    assert len(ids) == 5 and ids == [doc_id for doc_id in full if doc_id in ids]
    summary = json.loads((folder / "pool_summary.json").read_text())
    assert sum(counts["test"] for counts in summary.values()) == 5
    assert sum(counts["capped"] for counts in summary.values()) == len(full) - 5


def test_unknown_source_is_refused(calls, tmp_path):
    with pytest.raises(UserError, match="'gsm8k'.*sciq, arc_easy, mmlu_stem"):
        pool.build_pool(tmp_path, sources=("sciq", "gsm8k"))
    assert not calls


def test_offline_download_names_the_dataset(monkeypatch, tmp_path):
    import datasets

    def offline(path, name=None, split=None, **kwargs):
        raise ConnectionError(f"Couldn't reach '{path}' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(UserError, match=r"^could not download the Hub dataset allenai/sciq, split test: ConnectionError: "
                                        r".*HF_HUB_OFFLINE=1"):
        pool.build_pool(tmp_path, sources=("sciq",))
    assert not any(tmp_path.iterdir())
