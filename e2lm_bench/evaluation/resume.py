"""Settings-checked resume: what shaped each part's numbers is written beside it, and a rerun compares.

A part (model, checkpoint, task) already written with the same settings is skipped; one written with other
settings stops the run before anything is evaluated, unless the user asks to overwrite, so a curve never mixes
numbers computed two ways. Parts written before settings were recorded are kept and counted.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from e2lm_bench.evaluation import results as results_io
from e2lm_bench.evaluation.run_plan import TrajectoryConfig, TrajectoryError, model_arguments
from e2lm_bench.taskdata.sources import DATA_DIR_ENV


def part_settings(config: TrajectoryConfig, task_dict: dict) -> dict:
    """What shapes a part's numbers besides the weights, written beside it so that a rerun cannot mix settings."""
    from lm_eval.evaluator_utils import get_sample_size
    from lm_eval.utils import handle_non_serializable, hash_string

    def documents(task) -> str:
        docs = [doc for _, doc in task.doc_iterator(limit=get_sample_size(task, config.limit))]
        return hash_string(json.dumps(docs, default=handle_non_serializable, sort_keys=True, ensure_ascii=False))

    settings = {
        "limit": config.limit, "seed": list(config.seed), "scorer": config.scorer, "model_args": model_arguments(config),
        "data_dir": os.environ.get(DATA_DIR_ENV),
        "tasks": {name: {"version": task.VERSION, "num_fewshot": task.get_config("num_fewshot"),
                         "documents": documents(task)} for name, task in sorted(task_dict["tasks"].items())},
    }
    return json.loads(json.dumps(settings, default=str))  # as it reads back from the file


def settings_difference(recorded: dict, current: dict) -> tuple[str, object, object] | None:
    """The first setting that differs, named as the user sets it; other documents are named by their folder."""
    def flat(settings: dict) -> dict:
        named = {"limit": settings.get("limit"), "seed": settings.get("seed"), "scorer": settings.get("scorer"),
                 **settings.get("model_args", {})}
        for task, values in settings.get("tasks", {}).items():
            named |= {f"num_fewshot[{task}]": values.get("num_fewshot"), f"version[{task}]": values.get("version")}
        return named

    old, new = flat(recorded), flat(current)
    if "scorer" not in recorded:  # written before the scorer was recorded: kept unchecked, and counted (pending)
        del old["scorer"], new["scorer"]
    for name in {**new, **old}:
        if old.get(name) != new.get(name):
            return name, old.get(name), new.get(name)
    old_tasks, new_tasks = recorded.get("tasks", {}), current["tasks"]
    if sorted(old_tasks) != sorted(new_tasks):
        return "subtasks", ",".join(sorted(old_tasks)), ",".join(sorted(new_tasks))
    for task, values in new_tasks.items():
        if old_tasks[task].get("documents") != values["documents"]:
            if recorded.get("data_dir") != current["data_dir"]:
                return "data_dir", recorded.get("data_dir"), current["data_dir"]
            return f"documents[{task}]", str(old_tasks[task].get("documents"))[:12], values["documents"][:12]
    return None


def done_parts(out: Path, checkpoints, settings: dict):
    """(checkpoint, task, written part, difference or None) for every part found in the run folder."""
    for checkpoint in checkpoints:
        for task, current in settings.items():
            part = results_io.written_part(out, checkpoint.model, checkpoint.name, task)
            if part is not None:
                recorded = part.settings
                yield checkpoint, task, part, settings_difference(recorded, current) if recorded else None


def refuse_other_settings(out: Path, checkpoints, settings: dict) -> None:
    """Stop before anything is evaluated if a part was written with other settings."""
    for *_, difference in done_parts(out, checkpoints, settings):
        if difference:
            name, old, new = difference
            raise TrajectoryError(f"{out} was run with {name}={old}; this run has {name}={new} "
                                  "(use --overwrite to re-evaluate)")


@dataclass
class Pending:
    """The parts a run has to evaluate, and what it found of the others."""

    parts: dict  # checkpoint -> its tasks still to evaluate
    unverified: int = 0  # kept although written without (all of) their settings, by older versions
    damaged: list[str] = field(default_factory=list)  # "<part file>: why", re-evaluated


def pending(out: Path, checkpoints, settings: dict, overwrite: bool) -> Pending:
    """The parts to evaluate: not written, damaged, or (with ``overwrite``) written with other or unknown settings.

    Without ``overwrite`` a difference has already stopped the run; parts written without settings, or without
    the scorer (before it was recorded), are kept and counted."""
    todo = Pending({c: list(settings) for c in checkpoints})
    for checkpoint, task, part, difference in done_parts(out, checkpoints, settings):
        if part.damage:
            path = results_io.part_path(out, checkpoint.model, checkpoint.name, task)
            todo.damaged.append(f"{path}: {part.damage}")
            continue
        complete = _complete(part)
        if not overwrite or (complete and not difference):
            todo.parts[checkpoint].remove(task)
            todo.unverified += not complete
    todo.parts = {c: tasks for c, tasks in todo.parts.items() if tasks}
    return todo


def part_done(out: Path, checkpoint, task: str, settings: dict) -> bool:
    """The part is written whole with these settings (by this process or another one on the same folder)."""
    part = results_io.written_part(out, checkpoint.model, checkpoint.name, task)
    return part is not None and not part.damage and _complete(part) and settings_difference(part.settings, settings) is None


def _complete(part) -> bool:
    """Written with every setting (older versions wrote none, then none of the scorer)."""
    return part.settings is not None and "scorer" in part.settings


def settings_digest(settings: dict) -> str:
    """A short fingerprint of a task's settings, for claims: processes with other settings must not share a folder."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
