"""Every subtask of the suite, with what the pipeline calls it: one list for the YAML generator and the exporter.

Names: full-eval tasks as the pipeline's folders name them (``blimp_filtered_<UID>``, ``ewok_<domain>``,
``entity_tracking_<split>_<n>_ops``, ``comps_<subset>``, ``wug_adj``, ``reading``); fast-eval tasks with
``_fast`` after the family (``blimp_fast_<UID>``, ``ewok_fast_<domain>``, ``wug_adj_fast``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from e2lm_bench.taskdata.babylm import (
    BLIMP_UIDS,
    COMPS_STEMS,
    ENTITY_SPLITS,
    EWOK_DOMAINS,
    NUMOPS,
    SUPPLEMENT_UIDS,
    WUG_FOLDERS,
)


@dataclass(frozen=True)
class Subtask:
    name: str
    folder: str  # our task folder
    group: str  # the group it belongs to (the subtask itself for wug and reading)
    family: str  # the family's group in the suite (differs from ``group`` for entity tracking's splits)
    eval_set: str  # "full" or "fast"
    kwargs: dict = field(default_factory=dict)  # the YAML's dataset_kwargs
    pipeline_task: str = ""  # the pipeline's --task (its results folder)
    data_folder: str = ""  # the pipeline's data folder (the results subfolder)
    uid: str = ""  # the pipeline's UID (the key of its predictions file)


def _name(text: str) -> str:
    return text.replace("-", "_")


def _families(eval_set: str) -> list[Subtask]:
    fast = eval_set == "fast"
    tasks = []
    for folder, family, uids, group, data in (
        ("blimp_filtered", "blimp", BLIMP_UIDS, "blimp_fast" if fast else "blimp_filtered",
         "blimp_fast" if fast else "blimp_filtered"),
        ("blimp_supplement", "supplement", SUPPLEMENT_UIDS, "blimp_supplement_fast" if fast else "blimp_supplement",
         "supplement_fast" if fast else "supplement_filtered"),
    ):
        tasks += [Subtask(f"{group}_{uid}", folder, group, group, eval_set, {"eval_set": eval_set, "family": family, "uid": uid},
                          "blimp", data, uid) for uid in uids]
    group = "ewok_fast" if fast else "ewok"
    tasks += [Subtask(f"{group}_{_name(d)}", "ewok", group, group, eval_set, {"eval_set": eval_set, "domain": d}, "ewok",
                      "ewok_fast" if fast else "ewok_filtered", d) for d in EWOK_DOMAINS]
    group = "entity_tracking_fast" if fast else "entity_tracking"
    for split in ("regular",) if fast else ENTITY_SPLITS:
        tasks += [Subtask(f"{group}_{split}_{n}_ops", "entity_tracking", f"{group}_{split}", group, eval_set,
                          {"eval_set": eval_set, "split": split, "numops": n}, "entity_tracking",
                          "entity_tracking_fast" if fast else "entity_tracking", f"{split}_{n}_ops") for n in NUMOPS]
    if not fast:  # COMPS is in the full evaluation only
        uids = {"comps_base": "base", "comps_wugs": "wugs", "comps_wugs_dist-before": "wugs_dist_before"}
        tasks += [Subtask(_name(stem), "comps", "comps", "comps", eval_set, {"stem": stem}, "comps", "comps",
                          uids.get(stem, "wugs_dist_in_between")) for stem in COMPS_STEMS]
    suffix = "_fast" if fast else ""
    for kind in ("adj", "past"):
        name = f"wug_{kind}{suffix}"
        tasks.append(Subtask(name, "wug", name, name, eval_set, {"eval_set": eval_set, "kind": kind}, "wug",
                             WUG_FOLDERS[kind], f"wug_{kind}"))
    tasks.append(Subtask(f"reading{suffix}", "reading", f"reading{suffix}", f"reading{suffix}", eval_set, {"eval_set": eval_set},
                         "reading", "reading", "reading"))
    return tasks


SUBTASKS: dict[str, Subtask] = {t.name: t for eval_set in ("full", "fast") for t in _families(eval_set)}
SUITES = {"babylm_2025": "full", "babylm_2025_fast": "fast"}

# Every name a user can ask for that evaluates part of the suite: subtasks, their groups, the suites.
NAMES = (frozenset(SUBTASKS) | {t.group for t in SUBTASKS.values()} | {t.family for t in SUBTASKS.values()}
         | set(SUITES) | {"aoa_word"})


def suite_families(name: str) -> list[str]:
    """The family groups of a suite, in suite order ([] for any other name): a suite whose data is partly
    unreadable runs family by family, so one bad file stops only its own family."""
    if name not in SUITES:
        return []
    families = []
    for task in SUBTASKS.values():
        if task.eval_set == SUITES[name] and task.family not in families:
            families.append(task.family)
    return families
