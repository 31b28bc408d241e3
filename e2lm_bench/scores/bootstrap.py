"""Item bootstrap: how much a benchmark's scores depend on which items it happens to contain.

One draw of items (with replacement) is applied to every checkpoint of every model of a task, so the
resampled curves stay paired: a hard item drawn twice is hard for all of them, as it would be in a real
alternative benchmark. A checkpoint's resampled value is the mean over the drawn items, which is the metric's
value only for metrics that are item means (acc, acc_norm, margins); the caller checks that against the
results table. Draws are kept as counts per item, so every replicate of every curve is one matrix product.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from e2lm_bench.errors import UserError
from e2lm_bench.evaluation.results import SAMPLES, safe_name
from e2lm_bench.scores.item_curves import sample_value
from e2lm_bench.taskdata.readers import iter_json_objects

LEVEL = 95.0


class ItemValues:
    """Per-item values of a run: ``frame(task, metric, model)`` is items (doc_id) x checkpoints (name)."""

    def __init__(self, values: dict, choices: dict[str, int]):
        self._values = values
        self.choices = choices  # task -> most common number of answer options, for a chance level

    def frame(self, task: str, metric: str, model: str) -> pd.DataFrame | None:
        columns = self._values.get((task, metric, model))
        return pd.DataFrame(columns).sort_index() if columns else None

    def __bool__(self) -> bool:
        return bool(self._values)


def read_item_values(run_dir, table: pd.DataFrame, extra_metrics=("margin",)) -> ItemValues:
    """The samples the trajectory runner wrote for every (model, checkpoint) of ``table``.

    Every samples file of a checkpoint is read once and its records go to the task they name, so subtasks of
    a group (written in the group's file) are found too. Values are the table's metrics for that task plus
    ``extra_metrics`` (margins are derived from log-likelihoods when absent); a record lacking one is skipped
    for that metric only. The first record of a (task, doc_id) wins when a group and its subtask both wrote it.
    """
    values: dict = defaultdict(lambda: defaultdict(dict))
    options: dict = defaultdict(list)
    metrics_of = {str(task): {*map(str, metrics), *extra_metrics}
                  for task, metrics in table.groupby("task")["metric"].unique().items()}
    for model, checkpoint in table[["model", "checkpoint"]].drop_duplicates().itertuples(index=False):
        folder = Path(run_dir) / SAMPLES / safe_name(model) / safe_name(checkpoint)
        for path in sorted(folder.glob("*.jsonl")):
            for where, record in iter_json_objects(path):
                task, doc_id = record.get("task"), record.get("doc_id")
                if task not in metrics_of:
                    continue
                if isinstance(doc_id, bool) or not isinstance(doc_id, int) or doc_id < 0:
                    raise UserError(f"{where}: 'doc_id' must be a non-negative integer, got {doc_id!r}")
                if isinstance(record.get("loglikelihoods"), list):
                    options[task].append(len(record["loglikelihoods"]))
                for metric in metrics_of[task]:
                    column = values[(task, metric, model)][checkpoint]
                    if doc_id in column:
                        continue
                    try:
                        column[doc_id] = sample_value(record, metric, where)
                    except UserError:
                        continue
    choices = {task: int(np.bincount(counts).argmax()) for task, counts in options.items() if counts}
    kept = {key: {checkpoint: items for checkpoint, items in columns.items() if items} for key, columns in values.items()}
    return ItemValues({key: columns for key, columns in kept.items() if columns}, choices)


def resampling_weights(n_items: int, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """How often each item is drawn in each replicate (replicates x items, as floats for a BLAS product); each
    row sums to ``n_items``."""
    draws = rng.integers(0, n_items, size=(replicates, n_items)) + n_items * np.arange(replicates)[:, None]
    return np.bincount(draws.ravel(), minlength=replicates * n_items).reshape(replicates, n_items).astype(float)


def resampled_curves(matrix: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Replicates x checkpoints: each checkpoint's mean over the drawn items (``matrix`` is items x checkpoints)."""
    return weights @ matrix / matrix.shape[0]


def interval(samples, level: float = LEVEL) -> list[float] | None:
    """Percentile interval of the finite replicates (None where none is finite, e.g. an undefined SNR)."""
    samples = np.asarray([np.nan if s is None else s for s in np.ravel(samples)], dtype=float)
    samples = samples[np.isfinite(samples)]
    if not len(samples):
        return None
    tail = (100.0 - level) / 2
    return [float(v) for v in np.percentile(samples, [tail, 100.0 - tail])]
