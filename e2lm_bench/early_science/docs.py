"""The documents of the early_science task: their fields, their prompt, a validated reader and the leakage check.

The pool builder writes them, the item selection keeps some of them, the domain judge and the Hub upload
read them; all of them agree on one format through this module. A document is
``{"id", "question", "choices", "answer", "subject", "source"}``, ``answer`` being the gold choice's index.
"""

from __future__ import annotations

from pathlib import Path

from e2lm_bench.taskdata.e2lm_rules import answer_in_prompt
from e2lm_bench.taskdata.readers import DataError, iter_json_objects
from e2lm_bench.taskdata.sources import local_data_dir

TASK = "early_science"
DOC_STRINGS = ("id", "question", "subject", "source")


def render_prompt(doc: dict) -> str:
    """The early_science prompt, as lm_eval_tasks/early_science/utils.py renders it."""
    return "Question: " + doc["question"].strip() + "\nAnswer:"


def leaking_items(docs) -> list[tuple[int, str]]:
    """Items whose gold answer text appears in their own prompt (the organizers' leakage check,
    :func:`e2lm_bench.taskdata.e2lm_rules.answer_in_prompt`)."""
    return [(index, doc["choices"][doc["answer"]]) for index, doc in enumerate(docs)
            if answer_in_prompt(doc["choices"][doc["answer"]], render_prompt(doc))]


def _doc_error(where: str, field_name: str, problem: str) -> DataError:
    return DataError(f"{where}: field {field_name!r} {problem}")


def _checked_doc(record: dict, where: str) -> dict:
    for name in DOC_STRINGS:
        value = record.get(name)
        if not isinstance(value, str) or not value.strip():
            raise _doc_error(where, name, f"must be a non-empty string, got {value!r}")
    choices = record.get("choices")
    if not isinstance(choices, list) or len(choices) < 2:
        raise _doc_error(where, "choices", f"must be a list of at least 2 strings, got {choices!r}")
    for position, choice in enumerate(choices):
        if not isinstance(choice, str) or not choice.strip():
            raise _doc_error(where, "choices", f"item {position} must be a non-empty string, got {choice!r}")
    answer = record.get("answer")
    if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < len(choices):
        raise _doc_error(where, "answer", f"must be an integer index 0..{len(choices) - 1}, got {answer!r}")
    return record


def read_docs(path: Path) -> list[dict]:
    """The documents of one JSONL file, in file order; a bad field or a repeated id is an error naming the line."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    docs, seen = [], {}
    for where, record in iter_json_objects(path):
        doc = _checked_doc(record, where)
        if doc["id"] in seen:
            raise _doc_error(where, "id", f"{doc['id']!r} repeats line {seen[doc['id']]}")
        seen[doc["id"]] = where.rsplit(":", 1)[1]
        docs.append(doc)
    if not docs:
        raise DataError(f"{path}: no rows")
    return docs


def load_docs(data_dir=None, task: str = TASK) -> tuple[list[dict], list[dict]]:
    """Validated test and dev documents from ``data_dir/<task>/`` (default: E2LM_DATA_DIR).

    The test list is in file order, so its indices are the doc_ids of the run's samples.
    """
    root = Path(data_dir) if data_dir is not None else local_data_dir()
    if root is None:
        raise DataError(f"no data folder: give one (--data-dir) or set E2LM_DATA_DIR to the folder holding {task}/")
    return read_docs(root / task / "test.jsonl"), read_docs(root / task / "dev.jsonl")
