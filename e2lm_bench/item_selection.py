"""Choosing the items of the early_science task that carry an early-training signal, and shipping them.

The winning E2LM entries kept only the questions whose per-item score rises over the public checkpoints
(reference §9.2). Here the per-item scores come from the samples the trajectory runner writes, each item
gets a slope and a Signal Quality per model, and the kept items are written in the task's data layout and,
optionally, pushed to the Hub as the dataset the task names. The two submission checks of reference §5
(answer leakage, scientific domain) are available for the result.
"""

from __future__ import annotations

import json
import os
import random
import re
import string
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from e2lm_bench.data import DataError, iter_json_objects, local_data_dir
from e2lm_bench.errors import UserError
from e2lm_bench.leakage import answer_in_prompt
from e2lm_bench.results import ResultsError, atomic_write_text, read_results, safe_name
from e2lm_bench.scoring import SignalQualityWarning, signal_quality

TASK = "early_science"
# The runner's samples folder (trajectory.SAMPLES); not imported, as the runner module loads lm-eval.
SAMPLES = "samples"
DERIVED_METRICS = ("margin", "margin_max")
RULES = ("subject", "slope", "sq")
MIN_ITEMS, MAX_ITEMS = 100, 15_000  # competition rule: every benchmark has 100-15,000 samples (reference §7)
DOC_STRINGS = ("id", "question", "subject", "source")


def _no_samples(run_dir: Path, task: str, detail: str) -> UserError:
    return UserError(
        f"{run_dir}: no per-item samples for task {task!r} ({detail}); run `e2lm-bench trajectory ... "
        f"--tasks {task} --output {run_dir}` first (plain lm-eval --log_samples folders are not read)"
    )


def _sample_value(record: dict, metric: str, where: str) -> float:
    """The item's ``metric``; the two margins are derived from the log-likelihoods when the record lacks them,
    so samples of a task without margin metrics can still be ranked by margin."""
    if metric in record:
        value = record[metric]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{where}: {metric!r} is not a number ({value!r})")
        return float(value)
    lls, gold = record.get("loglikelihoods"), record.get("target")
    derivable = (
        metric in DERIVED_METRICS and isinstance(lls, list) and len(lls) >= 2
        and all(isinstance(ll, (int, float)) and not isinstance(ll, bool) for ll in lls)
        and isinstance(gold, int) and not isinstance(gold, bool) and 0 <= gold < len(lls)
    )
    if not derivable:
        present = sorted(key for key in record if key not in ("task", "doc_id", "target", "loglikelihoods"))
        raise UserError(
            f"{where}: no {metric!r} in the record (it has {', '.join(present) or 'no metrics'}) "
            "and no log-likelihoods with a gold index to compute a margin from"
        )
    lls = np.asarray(lls, dtype=float)
    wrong = np.delete(lls, gold)
    return float(lls[gold] - (wrong.mean() if metric == "margin" else wrong.max()))


def _read_samples(path: Path, task: str, metric: str) -> dict[int, float]:
    values = {}
    for where, record in iter_json_objects(path):
        if record.get("task") != task:
            continue
        doc_id = record.get("doc_id")
        if isinstance(doc_id, bool) or not isinstance(doc_id, int) or doc_id < 0:
            raise UserError(f"{where}: 'doc_id' must be a non-negative integer, got {doc_id!r}")
        if doc_id in values:
            raise UserError(f"{where}: doc_id {doc_id} appears twice in this file")
        values[doc_id] = _sample_value(record, metric, where)
    return values


def item_curves(run_dir, task: str = TASK, metric: str = "margin", models=None) -> pd.DataFrame:
    """Per-item curves of a trajectory run: one row per (model, checkpoint, step, doc_id) with ``value``.

    Checkpoints and steps come from the run's results table; each one's samples file is read from where the
    runner writes it. A checkpoint without a samples file (e.g. evaluated before samples were written) is
    skipped; a malformed line is an error naming the file and line.
    """
    run_dir = Path(run_dir)
    try:
        table = read_results(run_dir)
    except ResultsError as err:
        raise _no_samples(run_dir, task, str(err)) from None
    table = table[table["task"] == task]
    if table.empty:
        raise _no_samples(run_dir, task, "the results table has no rows for it")
    available = sorted(table["model"].unique())
    if models is not None:
        unknown = [model for model in models if model not in available]
        if unknown:
            raise UserError(
                f"{run_dir}: no results for model(s) {', '.join(map(repr, unknown))} on {task!r}; "
                f"the run has {', '.join(map(repr, available))}"
            )
        table = table[table["model"].isin(models)]
    points = table[["model", "checkpoint", "step"]].drop_duplicates(["model", "checkpoint"])
    frames = []
    for model, checkpoint, step in points.itertuples(index=False):
        path = run_dir / SAMPLES / safe_name(model) / safe_name(checkpoint) / f"{safe_name(task)}.jsonl"
        if not path.is_file():
            continue
        values = _read_samples(path, task, metric)
        frames.append(pd.DataFrame({
            "model": model, "checkpoint": checkpoint, "step": step, "doc_id": list(values),
            "metric": metric, "value": list(values.values()),
        }))
    if not frames or all(frame.empty for frame in frames):
        raise _no_samples(run_dir, task, f"no {SAMPLES}/<model>/<checkpoint>/{safe_name(task)}.jsonl with its items")
    curves = pd.concat(frames, ignore_index=True)
    curves["doc_id"] = curves["doc_id"].astype(int)
    return curves.sort_values(["model", "step", "checkpoint", "doc_id"], na_position="last", ignore_index=True)


@dataclass
class Selection:
    """The outcome of :func:`select_items`: kept doc ids, one table row per item, and what each rule removed."""

    kept: list[int]
    table: pd.DataFrame
    removed_by: dict[str, int]
    settings: dict = field(default_factory=dict)


def _slope(values: np.ndarray) -> float:
    """Least-squares slope against checkpoint position; positions of missing values are skipped, not closed up."""
    x = np.arange(len(values), dtype=float)
    finite = np.isfinite(values)
    x, y = x[finite], values[finite]
    if len(y) < 2:
        return float("nan")
    x = x - x.mean()
    return float((x * (y - y.mean())).sum() / (x * x).sum())


def select_items(curves: pd.DataFrame, min_slope: float = 0.0, min_sq: float = 0.5, subjects=None, docs=None) -> Selection:
    """Keep the items whose curves rise: mean slope > ``min_slope`` and mean SQ >= ``min_sq``.

    Per model, an item's values are put in step order (checkpoints without a step last) and get a
    least-squares slope per checkpoint and the organizers' SQ. Both are averaged over models with equal
    weight, as benchmark SQ is (reference §2), so one series with many checkpoints does not decide alone;
    an item with a NaN for any model (fewer than two values) is removed by the slope rule.
    Note: below 8 checkpoints SQ has no autocorrelation term, so an item's SQ is at most 0.5.

    Rules, in order, each item counted under the first that removes it: ``subject`` (only when
    ``subjects`` is given; needs ``docs``, the test documents indexed by doc_id), ``slope``, ``sq``.
    """
    if curves.empty:
        raise UserError("no item curves to select from")
    if subjects is not None and docs is None:
        raise UserError("a subject filter needs the test documents (docs) to know each item's subject")
    per_model = []
    ordered = curves.sort_values(["model", "doc_id", "step"], na_position="last", kind="stable")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SignalQualityWarning)  # short or flat item series are expected
        for (_, doc_id), rows in ordered.groupby(["model", "doc_id"], sort=False):
            values = rows["value"].to_numpy(dtype=float)
            per_model.append((doc_id, _slope(values), signal_quality(values).sq))
    stats = pd.DataFrame(per_model, columns=["doc_id", "slope", "sq"]).groupby("doc_id", sort=True)
    table = stats.agg(lambda column: column.mean(skipna=False)).reset_index()

    table["subject"] = None
    if docs is not None:
        largest = int(table["doc_id"].max())
        if largest >= len(docs):
            raise UserError(
                f"the samples have doc_id {largest} but the test documents number {len(docs)}; "
                "they are not the data the run was evaluated on"
            )
        table["subject"] = [docs[doc_id]["subject"] for doc_id in table["doc_id"]]
    wanted = set(subjects) if subjects is not None else None
    unknown = sorted(wanted - {doc["subject"] for doc in docs}) if wanted is not None else []
    if unknown:  # a misspelt subject would silently remove every item of it
        raise UserError(f"no test document has subject(s) {', '.join(map(repr, unknown))}")
    reasons = []
    for row in table.itertuples(index=False):
        if wanted is not None and row.subject not in wanted:
            reasons.append("subject")
        elif not row.slope > min_slope:
            reasons.append("slope")
        elif not row.sq >= min_sq:
            reasons.append("sq")
        else:
            reasons.append("kept")
    table["reason"] = reasons
    table["kept"] = table["reason"] == "kept"
    table = table[["doc_id", "subject", "slope", "sq", "kept", "reason"]]
    return Selection(
        kept=[int(doc_id) for doc_id in table.loc[table["kept"], "doc_id"]],
        table=table,
        removed_by={rule: int((table["reason"] == rule).sum()) for rule in RULES},
        settings={
            "metric": ", ".join(sorted(curves["metric"].unique())) if "metric" in curves else None,
            "models": sorted(curves["model"].unique()),
            "min_slope": min_slope, "min_sq": min_sq,
            "subjects": sorted(wanted) if wanted is not None else None,
        },
    )


def render_prompt(doc: dict) -> str:
    """The early_science prompt, as lm_eval_tasks/early_science/utils.py renders it."""
    return "Question: " + doc["question"].strip() + "\nAnswer:"


def leaking_items(docs) -> list[tuple[int, str]]:
    """Items whose gold answer text appears in their own prompt (the organizers' leakage check, reference §5)."""
    return [(index, doc["choices"][doc["answer"]]) for index, doc in enumerate(docs)
            if answer_in_prompt(doc["choices"][doc["answer"]], render_prompt(doc))]


def judge_text(doc: dict) -> str:
    """One item as the organizers' domain check shows it to the judge: question, lettered options, answer."""
    if len(doc["choices"]) > len(string.ascii_uppercase):
        raise UserError(f"item {doc.get('id')!r}: more than 26 choices cannot be lettered")
    letters = string.ascii_uppercase
    options = [f"{letters[i]}) {choice.strip()}" for i, choice in enumerate(doc["choices"])]
    return "\n".join([doc["question"].strip(), *options, f"Answer: {letters[doc['answer']]}"])


def _verdict(reply, doc_id) -> bool:
    word = re.sub(r"[^a-z]", "", str(reply).strip().lower())
    if word.startswith("accept"):
        return True
    if word.startswith("reject"):
        return False
    raise UserError(f"domain judge: item {doc_id!r}: expected 'Accept' or 'Reject', got {str(reply)[:80]!r}")


def judge_domain(docs, judge: Callable[[str], str], sample: int = 50, seed: int = 0) -> dict:
    """The organizers' scientific-domain check on a seeded random sample of ``sample`` items (reference §5).

    ``judge`` maps an item's text to "Accept" or "Reject": :func:`openai_judge` reproduces the organizers'
    setting, any local model wrapped as a function works too. The pass threshold is not published.
    """
    docs = list(docs)
    if not docs:
        raise UserError("domain judge: no documents to sample")
    chosen = sorted(random.Random(seed).sample(range(len(docs)), min(sample, len(docs))))
    rejected = []
    for index in chosen:
        doc_id = docs[index].get("id", index)
        if not _verdict(judge(judge_text(docs[index])), doc_id):
            rejected.append(doc_id)
    accepted = len(chosen) - len(rejected)
    return {"sampled": len(chosen), "accepted": accepted, "fraction": accepted / len(chosen), "rejected": rejected}


JUDGE_SYSTEM_PROMPT = (
    "You screen questions for a benchmark of scientific and expert knowledge. You will see one "
    "multiple-choice question with its options and the correct answer. Answer Accept when answering it "
    "needs knowledge from a specialised field: natural sciences, mathematics, medicine, computer science, "
    "engineering, law, economics, business, the social sciences, or history and philosophy where reasoning "
    "about the subject is required. Answer Reject when it tests everyday common sense, the meaning, spelling "
    "or grammar of words and idioms, isolated trivia, sentiment, understanding of a short passage given in "
    "the question, or a language task such as paraphrasing or summarising. Give only the verdict."
)
VERDICT_SCHEMA = {
    "name": "domain_verdict",
    "strict": True,
    "schema": {
        "type": "object",
        "properties": {"verdict": {"type": "string", "enum": ["Accept", "Reject"]}},
        "required": ["verdict"],
        "additionalProperties": False,
    },
}


def openai_judge(model: str = "gpt-4o-2024-08-06") -> Callable[[str], str]:
    """A judge for :func:`judge_domain` calling the OpenAI API at temperature 0 with a fixed verdict schema,
    as the organizers' check does. The key is read from OPENAI_API_KEY and kept out of every message."""
    try:
        import openai
    except ImportError:
        raise UserError("the OpenAI domain judge needs the openai package: pip install openai") from None
    key = os.environ.get("OPENAI_API_KEY", "").strip()
    if not key:
        raise UserError("the OpenAI domain judge needs an API key in the OPENAI_API_KEY environment variable")
    client = openai.OpenAI(api_key=key)

    def judge(text: str) -> str:
        try:
            response = client.chat.completions.create(
                model=model,
                temperature=0,
                messages=[{"role": "system", "content": JUDGE_SYSTEM_PROMPT}, {"role": "user", "content": text}],
                response_format={"type": "json_schema", "json_schema": VERDICT_SCHEMA},
            )
        except openai.OpenAIError as err:
            raise UserError(f"domain judge: OpenAI request failed ({_redacted(str(err), key)})") from None
        return json.loads(response.choices[0].message.content)["verdict"]

    return judge


def _redacted(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def _jsonl(docs) -> str:
    return "".join(json.dumps(doc, ensure_ascii=False) + "\n" for doc in docs)


def _selection_report(selection: Selection, docs_test, kept_docs, task: str) -> str:
    settings = selection.settings
    evaluated = selection.table
    lines = [
        f"# {task}: item selection",
        "",
        f"Items with curves: {len(evaluated)} of {len(docs_test)} test documents. Kept: {len(kept_docs)}.",
        "",
        f"Metric: {settings.get('metric')}; models: {', '.join(settings.get('models') or []) or '-'}.",
        f"Rules, applied in order (an item counts under the first that removes it): subject filter "
        f"{', '.join(settings['subjects']) if settings.get('subjects') else 'none'}; mean slope > "
        f"{settings.get('min_slope')}; mean SQ >= {settings.get('min_sq')}.",
        "",
        "| rule | removed |",
        "|---|---|",
        *(f"| {rule} | {count} |" for rule, count in selection.removed_by.items()),
        "",
        "| subject | items | kept |",
        "|---|---|---|",
    ]
    subjects = pd.Series([docs_test[doc_id]["subject"] for doc_id in evaluated["doc_id"]], dtype=object)
    kept = evaluated["kept"].to_numpy()
    for subject in sorted(subjects.unique()):
        mask = (subjects == subject).to_numpy()
        lines.append(f"| {subject} | {int(mask.sum())} | {int(kept[mask].sum())} |")
    leaks = leaking_items(kept_docs)
    lines += ["", f"Kept items whose gold answer appears in the prompt (leakage check): {len(leaks)}."]
    return "\n".join(lines) + "\n"


def write_selection(docs_test, docs_dev, selection: Selection, output_dir, task: str = TASK,
                    allow_any_size: bool = False) -> Path:
    """The kept items in the task's data layout (usable as E2LM_DATA_DIR and for :func:`push_to_hub`), with a
    report and the per-item table; returns ``output_dir/<task>``.

    Refuses a kept count outside the competition's 100-15,000 unless ``allow_any_size``.
    """
    kept = sorted(set(selection.kept))
    if not allow_any_size and not MIN_ITEMS <= len(kept) <= MAX_ITEMS:
        raise UserError(
            f"{len(kept)} items kept; the competition requires {MIN_ITEMS}-{MAX_ITEMS:,} per benchmark "
            "(loosen or tighten --min-slope/--min-sq, or allow any size for a trial)"
        )
    largest = int(selection.table["doc_id"].max()) if len(selection.table) else -1
    if largest >= len(docs_test):
        raise UserError(f"the selection has doc_id {largest} but there are {len(docs_test)} test documents")
    kept_docs = [docs_test[doc_id] for doc_id in kept]
    folder = Path(output_dir) / task
    atomic_write_text(folder / "test.jsonl", _jsonl(kept_docs))
    atomic_write_text(folder / "dev.jsonl", _jsonl(docs_dev))
    atomic_write_text(folder / "selection.csv", selection.table.to_csv(index=False))
    atomic_write_text(folder / "selection_report.md", _selection_report(selection, docs_test, kept_docs, task))
    return folder


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
    """Upload a :func:`write_selection` folder as a Hub dataset with a generated card; returns the repo URL.

    The token comes from ``token`` or HF_TOKEN (else the saved Hub login); it is never written or shown,
    and Hub errors are re-raised with it removed.
    """
    output_dir = Path(output_dir)
    folder = output_dir / task
    test_docs = _read_docs(folder / "test.jsonl")
    dev_docs = _read_docs(folder / "dev.jsonl")
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
        raise UserError(f"push to {repo_id}: {type(err).__name__}: {_redacted(str(err), token)}") from None
    return str(url)


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


def _read_docs(path: Path) -> list[dict]:
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
    return _read_docs(root / task / "test.jsonl"), _read_docs(root / task / "dev.jsonl")
