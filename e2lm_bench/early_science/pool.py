"""The candidate items of early_science: public science multiple-choice sets in one document format.

SciQ, ARC-Easy and MMLU's STEM subjects are the sets the organizers found useful early in training (their
MMLU-var baseline, arXiv 2506.07731). They are normalised to the task's fields, items that would fail the
leakage check are dropped, and the pool is written in the task's data layout so a trajectory run can evaluate every item
before :mod:`e2lm_bench.early_science.item_selection` keeps the ones with a rising curve.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Callable

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.early_science.docs import TASK, leaking_items
from e2lm_bench.errors import UserError
from e2lm_bench.taskdata.readers import write_jsonl

SCIQ_ID = "allenai/sciq"
ARC_ID = "allenai/ai2_arc"
MMLU_ID = "cais/mmlu"
# MMLU's "STEM" category (Hendrycks et al. 2021), the subjects of lm-eval's mmlu_stem group.
MMLU_STEM_SUBJECTS = (
    "abstract_algebra", "anatomy", "astronomy", "college_biology", "college_chemistry",
    "college_computer_science", "college_mathematics", "college_physics", "computer_security",
    "conceptual_physics", "electrical_engineering", "elementary_mathematics", "high_school_biology",
    "high_school_chemistry", "high_school_computer_science", "high_school_mathematics",
    "high_school_physics", "high_school_statistics", "machine_learning",
)
SOURCES = ("sciq", "arc_easy", "mmlu_stem")


def _load(path: str, name: str | None, split: str):
    import datasets

    try:
        return datasets.load_dataset(path, name, split=split)
    except OSError as err:  # datasets' ConnectionError offline names only the Hub id
        raise UserError(
            f"could not download the Hub dataset {path}{f' ({name})' if name else ''}, split {split}: "
            f"{type(err).__name__}: {err}. The pool is built from the Hub: run where it is reachable, or with "
            "HF_HUB_OFFLINE=1 once the datasets are in your Hugging Face cache"
        ) from err


def _doc(doc_id: str, question, choices, answer: int, subject: str, source: str) -> dict | None:
    """A document in the task's format, or None when the row cannot be one (empty or repeated choices,
    no question, answer out of range): such items would score ambiguously or not at all."""
    if not isinstance(question, str) or not question.strip():
        return None
    if not all(isinstance(choice, str) and choice.strip() for choice in choices):
        return None
    choices = [choice.strip() for choice in choices]
    if len(choices) < 2 or len({choice.lower() for choice in choices}) < len(choices):
        return None
    if not 0 <= answer < len(choices):
        return None
    return {"id": doc_id, "question": question.strip(), "choices": choices, "answer": answer,
            "subject": subject, "source": source}


def _sciq_rows(split: str, seed: int) -> list[dict | None]:
    """SciQ stores the gold apart from three distractors; the gold goes to a position drawn from a generator
    seeded by (seed, item id), so a position does not depend on which other items are loaded."""
    docs = []
    for index, row in enumerate(_load(SCIQ_ID, None, split)):
        doc_id = f"sciq/{split}/{index}"
        distractors = [row.get(f"distractor{k}") for k in (1, 2, 3)]
        position = random.Random(f"{seed}/{doc_id}").randrange(len(distractors) + 1)
        choices = distractors[:position] + [row.get("correct_answer")] + distractors[position:]
        docs.append(_doc(doc_id, row.get("question"), choices, position, "sciq", SCIQ_ID))
    return docs


def _arc_rows(split: str, seed: int) -> list[dict | None]:
    docs = []
    for index, row in enumerate(_load(ARC_ID, "ARC-Easy", split)):
        choices = row.get("choices") or {}
        labels = [str(label).strip() for label in choices.get("label") or []]
        key = str(row.get("answerKey", "")).strip()
        texts = choices.get("text") or []
        if key not in labels or len(labels) != len(texts):
            docs.append(None)
            continue
        docs.append(_doc(f"arc_easy/{split}/{index}", row.get("question"), texts, labels.index(key), "arc_easy", ARC_ID))
    return docs


def _mmlu_rows(split: str, seed: int) -> list[dict | None]:
    docs = []
    for subject in MMLU_STEM_SUBJECTS:
        for index, row in enumerate(_load(MMLU_ID, subject, split)):
            answer = row.get("answer")
            if isinstance(answer, bool) or not isinstance(answer, int):
                docs.append(None)
                continue
            doc_id = f"mmlu/{subject}/{split}/{index}"
            docs.append(_doc(doc_id, row.get("question"), list(row.get("choices") or []), answer, subject, MMLU_ID))
    return docs


# source -> (rows of a split, test split, few-shot split)
LOADERS: dict[str, tuple[Callable[[str, int], list], str, str]] = {
    "sciq": (_sciq_rows, "test", "train"),
    "arc_easy": (_arc_rows, "test", "train"),
    "mmlu_stem": (_mmlu_rows, "test", "dev"),
}


def _interleave(groups: list[list[dict]]) -> list[dict]:
    """Round-robin over sources, so lm-eval's first_n few-shot sampler draws from every source."""
    out = []
    for position in range(max((len(group) for group in groups), default=0)):
        out += [group[position] for group in groups if position < len(group)]
    return out


def build_pool(output_dir, sources=SOURCES, dev_per_source: int = 5, seed: int = 0, max_items: int | None = None,
               report: Callable[[str], None] | None = print) -> Path:
    """Load, normalise and write the pool as ``output_dir/early_science/{test,dev}.jsonl``; returns that folder.

    Test items come from each source's test split; few-shot items are the first ``dev_per_source`` valid
    items of its train (SciQ, ARC) or dev (MMLU) split, never from test. Invalid rows and items whose gold
    appears in the prompt are dropped; ``max_items`` keeps a seeded random subset in file order. Counts per
    source go to ``pool_summary.json`` and, one line per source, to ``report``.
    """
    unknown = [source for source in sources if source not in LOADERS]
    if unknown or not sources:
        raise UserError(f"unknown pool source(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
                        f"choose from {', '.join(LOADERS)}")
    if max_items is not None and max_items < 1:
        raise UserError(f"max_items must be a positive number, got {max_items}")
    summary, test, dev_groups = {}, [], []
    for source in dict.fromkeys(sources):
        rows, test_split, dev_split = LOADERS[source]
        loaded = rows(test_split, seed)
        valid = [doc for doc in loaded if doc is not None]
        leaking = {index for index, _ in leaking_items(valid)}
        kept = [doc for index, doc in enumerate(valid) if index not in leaking]
        dev_groups.append([doc for doc in rows(dev_split, seed) if doc is not None][:dev_per_source])
        summary[source] = {"loaded": len(loaded), "invalid": len(loaded) - len(valid), "leaking": len(leaking),
                           "capped": 0, "test": len(kept), "dev": len(dev_groups[-1])}
        test += [(source, doc) for doc in kept]
    if max_items is not None and len(test) > max_items:
        chosen = set(random.Random(seed).sample(range(len(test)), max_items))
        for index, (source, _) in enumerate(test):
            if index not in chosen:
                summary[source]["capped"] += 1
                summary[source]["test"] -= 1
        test = [pair for index, pair in enumerate(test) if index in chosen]
    if not test:
        raise UserError("the pool is empty: every loaded item was invalid or leaking")
    folder = Path(output_dir) / TASK
    write_jsonl(folder / "test.jsonl", (doc for _, doc in test))
    write_jsonl(folder / "dev.jsonl", _interleave(dev_groups))
    atomic_write_text(folder / "pool_summary.json", json.dumps(summary, indent=1) + "\n")
    if report is not None:
        for source, counts in summary.items():
            report(f"{source}: {counts['test']} test items, {counts['dev']} few-shot ({counts['loaded']} loaded; "
                   f"dropped {counts['invalid']} invalid, {counts['leaking']} leaking, {counts['capped']} over max_items)")
        report(f"wrote {len(test)} test items to {folder}")
    return folder
