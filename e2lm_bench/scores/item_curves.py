"""Per-item learning curves of a task, read from the samples the trajectory runner writes.

Benchmark curves average the items away; item bootstrap intervals and choosing items (the early_science item
selection) need each item's score at each checkpoint. The runner keeps them per (model, checkpoint, task) next to the results
table, and this module joins the two into one long table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from e2lm_bench.errors import UserError
from e2lm_bench.evaluation.results import SAMPLES, ResultsError, read_results, safe_name, samples_path
from e2lm_bench.taskdata.readers import iter_json_objects

DERIVED_METRICS = ("margin", "margin_max")


def _no_samples(run_dir: Path, task: str, detail: str) -> UserError:
    return UserError(
        f"{run_dir}: no per-item samples for task {task!r} ({detail}); run `e2lm-bench trajectory ... "
        f"--tasks {task} --output {run_dir}` first (plain lm-eval --log_samples folders are not read)"
    )


def sample_value(record: dict, metric: str, where: str) -> float:
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
        values[doc_id] = sample_value(record, metric, where)
    return values


def item_curves(run_dir, task: str, metric: str = "margin", models=None) -> pd.DataFrame:
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
        path = samples_path(run_dir, model, checkpoint, task)
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
