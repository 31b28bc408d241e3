"""The run folders a report reads (results, scores.json, failures.json) and the names it gives them: a run is
named after its folder, a series after its model, prefixed with the run's name when several runs share a report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from e2lm_bench.errors import UserError
from e2lm_bench.evaluation.results import FAILURES_JSON

SCORES_JSON = "scores.json"


class ReportError(UserError):
    """A run folder the report cannot be built from (no or unreadable scores.json); the message says what to run."""


@dataclass
class Run:
    """One run folder's content; ``name`` is what the report calls it (its folder name, made unique)."""
    name: str
    table: pd.DataFrame
    scores: dict
    failures: list


def run_names(run_dirs: list[Path]) -> list[str]:
    """Folder names, with as many parent folders as it takes to tell equal names apart (a/eval, b/eval)."""
    parts = [Path(d).resolve().parts for d in run_dirs]
    for depth in range(1, max(map(len, parts)) + 1):
        names = ["/".join(p[-depth:]) for p in parts]
        if len(set(names)) == len(names):
            return names
    return [f"{Path(d).resolve().name} ({i})" for i, d in enumerate(run_dirs, start=1)]  # a folder given twice


def load_scores(run_dir: Path) -> dict:
    path = run_dir / SCORES_JSON
    if not path.is_file():
        raise ReportError(f"{path}: no scores yet; run `e2lm-bench score {run_dir}` first")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ReportError(f"{path}: not valid JSON ({err}); rerun `e2lm-bench score {run_dir}`") from None


def load_failures(run_dir: Path) -> list:
    path = run_dir / FAILURES_JSON
    if not path.is_file():
        return []
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ReportError(f"{path}: not valid JSON ({err})") from None


def series_label(run: Run, model: str, several: bool) -> str:
    """A series' name in the report: the run's name joins it when there are several runs."""
    return f"{run.name}: {model}" if several else model
