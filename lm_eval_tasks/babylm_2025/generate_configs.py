"""Writes the suite's small per-subtask YAMLs and its group YAMLs: ``python lm_eval_tasks/babylm_2025/generate_configs.py``.

The generated files are committed; a test checks they match this script's output. The subtasks and
their names come from ``catalog.py``.
"""

from __future__ import annotations

from pathlib import Path

from e2lm_bench.lm_eval_tasks.babylm_2025.catalog import SUBTASKS, SUITES

HERE = Path(__file__).resolve().parent
CHOICE_METRICS = ("acc", "margin", "ties")
WHY = {
    "blimp": "Unweighted mean over UIDs, the pipeline's AVERAGE.",
    "supplement": "Unweighted mean over UIDs, the pipeline's AVERAGE.",
    "ewok": "Unweighted mean over the 11 domains, the pipeline's AVERAGE.",
    "entity_split": "Mean over the operation counts of one split, as the pipeline averages.",
    "entity": "Mean over the splits present of their per-split means, as the pipeline averages.",
    "comps": "Unweighted mean over the 4 subsets (full eval only).",
}


def _task(name: str, kwargs: dict) -> str:
    lines = "".join(f"  {key}: {value}\n" for key, value in kwargs.items())
    return f"include: _template_yaml\ntask: {name}\ndataset_kwargs:\n{lines}"


def _group(name: str, members: list[str], why: str, metrics=CHOICE_METRICS) -> str:
    listed = "".join(f"  - {m}\n" for m in members)
    aggregate = "".join(f"  - metric: {m}\n    aggregation: mean\n    weight_by_size: false\n" for m in metrics)
    aggregate = f"aggregate_metric_list:\n{aggregate}" if metrics else ""
    return f"# {why}\ngroup: {name}\ntask:\n{listed}{aggregate}metadata:\n  version: 1.0\n"


def configs() -> dict[str, str]:
    """Path relative to this folder -> YAML text, for every generated file."""
    files, groups = {}, {}
    for task in SUBTASKS.values():
        files[f"{task.folder}/{task.name}.yaml"] = _task(task.name, task.kwargs)
        if task.group != task.name:
            groups.setdefault((task.folder, task.group), []).append(task.name)
    for (folder, group), members in groups.items():
        if folder == "entity_tracking":
            why = WHY["entity_split"]
        else:
            why = WHY["supplement" if folder == "blimp_supplement" else folder.split("_")[0]]
        files[f"{folder}/_{group}.yaml"] = _group(group, members, why)
    families = {}
    for task in SUBTASKS.values():
        splits = families.setdefault((task.eval_set, task.family), [])
        if task.folder == "entity_tracking" and task.group not in splits:
            splits.append(task.group)
    for (_, family), splits in families.items():
        if splits:
            files[f"entity_tracking/_{family}.yaml"] = _group(family, splits, WHY["entity"])
    for suite, eval_set in SUITES.items():
        members = [family for (s, family) in families if s == eval_set]
        why = ("The full zero-shot suite" if eval_set == "full" else "The fast zero-shot suite (no COMPS), as run on "
               "every chck_*M revision") + "; each family keeps its own metric, so the suite has no overall mean."
        files[f"_{suite}.yaml"] = _group(suite, members, why, metrics=())
    return files


if __name__ == "__main__":
    for relative, text in configs().items():
        (HERE / relative).write_text(text)
