"""Publishing a selected early_science folder as the Hugging Face dataset the task's YAML names.

The organizers load a submitted task's data from the Hub only, so the selection must become a
dataset that ``load_dataset(repo_id)`` reads with its test and dev splits; the card generated here says how.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.early_science.docs import TASK, read_docs
from e2lm_bench.errors import UserError
from e2lm_bench.redaction import redacted


def _dataset_card(output_dir: Path, task: str, test_docs, dev_docs) -> str:
    """A card whose ``configs`` front matter lets ``load_dataset(repo_id)`` find the test and dev splits."""
    subjects = pd.Series([doc["subject"] for doc in test_docs]).value_counts().sort_index()
    sources = sorted({doc["source"] for doc in test_docs})
    lines = [
        "---",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: test",
        f"    path: {task}/test.jsonl",
        "  - split: dev",
        f"    path: {task}/dev.jsonl",
        "task_categories:",
        "- multiple-choice",
        "language:",
        "- en",
        "---",
        "",
        f"# {task}",
        "",
        "Science multiple-choice questions selected for an early-training signal (E2LM competition), scored "
        "in cloze form: the prompt is `Question: <question>\\nAnswer:` and each choice's text is scored as "
        "a continuation. Fields: `id`, `question`, `choices`, `answer` (index of the gold choice), "
        "`subject`, `source`.",
        "",
        f"- test: {len(test_docs)} items; dev (few-shot examples): {len(dev_docs)} items",
        f"- sources: {', '.join(sources)} (each keeps its own licence; check them before redistributing)",
        "",
        "| subject | test items |",
        "|---|---|",
        *(f"| {subject} | {count} |" for subject, count in subjects.items()),
    ]
    if (output_dir / task / "selection_report.md").is_file():
        lines += ["", f"How the items were chosen: `{task}/selection_report.md`."]
    return "\n".join(lines) + "\n"


def push_to_hub(output_dir, repo_id: str, private: bool = True, token: str | None = None, task: str = TASK) -> str:
    """Upload a :func:`~e2lm_bench.early_science.item_selection.write_selection` folder as a Hub dataset with a generated
    card; returns the repo URL.

    The token comes from ``token`` or HF_TOKEN (else the saved Hub login); it is never written or shown,
    and Hub errors are re-raised with it removed.
    """
    output_dir = Path(output_dir)
    folder = output_dir / task
    test_docs = read_docs(folder / "test.jsonl")
    dev_docs = read_docs(folder / "dev.jsonl")
    atomic_write_text(output_dir / "README.md", _dataset_card(output_dir, task, test_docs, dev_docs))
    token = token or os.environ.get("HF_TOKEN") or None
    from huggingface_hub import HfApi

    try:
        api = HfApi(token=token)
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(
            repo_id=repo_id, repo_type="dataset", folder_path=str(output_dir),
            commit_message=f"Upload {task} items ({len(test_docs)} test, {len(dev_docs)} dev)",
        )
    except Exception as err:  # any Hub failure: its text may echo request headers, so redact before showing
        raise UserError(f"push to {repo_id}: {type(err).__name__}: {redacted(str(err), token)}") from None
    return str(url)
