"""Choosing the items of the early_science task that carry an early-training signal, and writing them out.

The winning E2LM entries kept only the questions whose per-item score rises over the public checkpoints
(morai/UNICAMP, "Early Signals of Scientific Knowledge"; Noor, "A Data-Driven Filtering Pipeline for MMLU";
NeurIPS 2025 competition track). Each item's curves (:mod:`e2lm_bench.scores.item_curves`) get a slope and a
Signal Quality per model; the kept items are written in the task's data layout, ready for
:mod:`e2lm_bench.early_science.hub_dataset`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.early_science.docs import TASK, leaking_items
from e2lm_bench.errors import UserError
from e2lm_bench.scores.signal_quality import SignalQualityWarning, signal_quality
from e2lm_bench.taskdata.e2lm_rules import MAX_DOCS, MIN_DOCS
from e2lm_bench.taskdata.readers import write_jsonl

RULES = ("subject", "slope", "sq")


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
    weight, as benchmark SQ is (arXiv 2506.07731), so one series with many checkpoints does not decide alone;
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
    """The kept items in the task's data layout (usable as E2LM_DATA_DIR and for
    :func:`~e2lm_bench.early_science.hub_dataset.push_to_hub`), with a report and the per-item table; returns
    ``output_dir/<task>``.

    Refuses a kept count outside the competition's 100-15,000 unless ``allow_any_size``.
    """
    kept = sorted(set(selection.kept))
    if not kept:
        raise UserError(f"no item kept (removed by rule: {selection.removed_by}); loosen --min-slope/--min-sq")
    if not allow_any_size and not MIN_DOCS <= len(kept) <= MAX_DOCS:
        raise UserError(
            f"{len(kept)} items kept; the competition requires {MIN_DOCS}-{MAX_DOCS:,} per benchmark "
            "(loosen or tighten --min-slope/--min-sq, or allow any size for a trial)"
        )
    largest = int(selection.table["doc_id"].max()) if len(selection.table) else -1
    if largest >= len(docs_test):
        raise UserError(f"the selection has doc_id {largest} but there are {len(docs_test)} test documents")
    kept_docs = [docs_test[doc_id] for doc_id in kept]
    folder = Path(output_dir) / task
    write_jsonl(folder / "test.jsonl", kept_docs)
    write_jsonl(folder / "dev.jsonl", docs_dev)
    atomic_write_text(folder / "selection.csv", selection.table.to_csv(index=False))
    atomic_write_text(folder / "selection_report.md", _selection_report(selection, docs_test, kept_docs, task))
    return folder
