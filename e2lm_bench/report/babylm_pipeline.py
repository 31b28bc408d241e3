"""A trajectory run's BabyLM 2025 results written as the official pipeline writes them, and read back.

For every checkpoint, the files the pipeline's scripts leave (babylm/evaluation-pipeline-2025,
``sentence_zero_shot/run.py`` and ``reading/run.py``), so a run can go to the leaderboard's collation
without running the pipeline again::

    <out>/<model>/<checkpoint>/zero_shot/causal/<task>/<data folder>/best_temperature_report.txt
    <out>/<model>/<checkpoint>/zero_shot/causal/<task>/<data folder>/predictions.json
    <out>/<model>/<checkpoint>/zero_shot/causal/reading/{report.txt,predictions.json}

``predictions.json`` is ``{UID: {"predictions": [{"id": "<UID>_<k>", "pred": <chosen string>}]}}`` (WUG
adds ``"prob"``, the first candidate's probability), k counting within the UID in file order; the report
gives accuracy ×100 per UID and their unweighted mean (entity tracking: the mean of its splits' means),
at temperature 1 as the pipeline's scripts run it. The chosen strings are re-read from the data, so the
same ``E2LM_DATA_DIR`` must be set as for the run.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.errors import UserError
from e2lm_bench.evaluation.results import read_results, samples_path
from e2lm_bench.evaluation.series import FINAL
from e2lm_bench.lm_eval_tasks.babylm_2025 import hooks
from e2lm_bench.lm_eval_tasks.babylm_2025.catalog import SUBTASKS, Subtask
from e2lm_bench.taskdata import babylm

BACKEND = "causal"
ENTITY_SPLITS = ("regular", "ambiref", "move_contents")


def _rows(task: Subtask) -> list[dict]:
    kwargs = task.kwargs
    if task.folder in ("blimp_filtered", "blimp_supplement"):
        return babylm.minimal_pair_rows(**kwargs)
    if task.folder == "ewok":
        return babylm.ewok_rows(**kwargs)
    if task.folder == "entity_tracking":
        return babylm.entity_tracking_rows(**kwargs)
    if task.folder == "comps":
        return babylm.comps_rows(**kwargs)
    return babylm.wug_rows(kwargs["kind"], eval_set=kwargs["eval_set"])


def _candidates(task: Subtask, row: dict) -> list[str]:
    """The strings the pipeline stores as ``pred``, one per candidate (COMPS: the whole sentence)."""
    if task.folder in ("blimp_filtered", "blimp_supplement"):
        return hooks.good_bad_choices(row)
    if task.folder == "ewok":
        return hooks.ewok_choices(row)
    if task.folder == "entity_tracking":
        return hooks.entity_choices(row)
    if task.folder == "comps":
        return [prefix + hooks.comps_target(row) for prefix in hooks.comps_contexts(row)]
    return hooks.wug_choices(row)


def _predictions(task: Subtask, records: list[dict]) -> list[dict]:
    rows = _rows(task)
    if len(rows) != len(records):
        raise UserError(f"{task.name}: {len(records)} scored items but {len(rows)} rows in the data: the pipeline's "
                        "files cover whole tasks (a run without --limit, on the data it read)")
    out = []
    for record in sorted(records, key=lambda r: r["doc_id"]):
        scores = record["loglikelihoods"]
        chosen = _candidates(task, rows[record["doc_id"]])[int(np.argmax(scores))]
        entry = {"id": f"{task.uid}_{record['doc_id']}", "pred": chosen}
        if task.folder == "wug":
            entry["prob"] = float(np.exp(scores[0] - np.logaddexp.reduce(scores)))
        out.append(entry)
    return out


def _report(metric: str, sections: dict[str, dict[str, float]], average: float) -> str:
    lines = ["TEMPERATURE: 1.00", ""]
    for key, values in sections.items():
        lines.append(f"### {key.upper()} {metric}")
        lines += [f"{name}: {value:.2f}" for name, value in values.items()]
        lines.append("")
    return "\n".join(lines + [f"### AVERAGE {metric}", f"{average:.2f}", "", ""])


def _breakdowns(tasks: list[Subtask], records: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
    """BLiMP's ``field`` and ``linguistics_term`` sections: accuracy ×100 over every item with the value (the
    pipeline writes ``syntax_semantics`` as ``syntax/semantics``)."""
    if tasks[0].folder != "blimp_filtered":
        return {}
    sections: dict[str, dict[str, list]] = {"field": defaultdict(list), "linguistics_term": defaultdict(list)}
    for task in tasks:
        rows = _rows(task)
        for record in records[task.name]:
            row = rows[record["doc_id"]]
            for key, values in sections.items():
                value = row.get(key, "").replace("syntax_semantics", "syntax/semantics")
                if value:
                    values[value].append(record["acc"])
    return {key: {name: 100.0 * float(np.mean(v)) for name, v in values.items()} for key, values in sections.items()
            if values}


def _choice_report(tasks: list[Subtask], records: dict[str, list[dict]]) -> str:
    uids = {t.uid: 100.0 * float(np.mean([r["acc"] for r in records[t.name]])) for t in tasks}
    if tasks[0].folder == "entity_tracking":
        split_means = {}
        for split in ENTITY_SPLITS:
            values = [v for uid, v in uids.items() if uid.startswith(split + "_")]
            if values:
                split_means[split] = float(np.mean(values))
        uids.update(split_means)
        average = float(np.mean(list(split_means.values())))
    else:
        average = float(np.mean(list(uids.values())))
    return _report("ACCURACY", {"UID": uids, **_breakdowns(tasks, records)}, average)


def _reading_files(records: list[dict], rows: list[dict]) -> tuple[str, dict]:
    surprisal = defaultdict(dict)
    items = []
    by_row = {row["row"]: row for row in rows}
    for record in records:
        doc = record["doc"]
        surprisal[doc["row"]][doc["kind"]] = -record["loglikelihoods"][0]
        items.append((doc["row"], doc["kind"], -record["loglikelihoods"][0],
                      {k: by_row[doc["row"]][k] for k in hooks.READING_VARIABLES}))
    predictions = [{"id": row["row"], "pred": surprisal[row["row"]]["word"],
                    "prev_pred": surprisal[row["row"]].get("prev", math.nan)} for row in rows]
    report = (f"EYE TRACKING SCORE: {hooks.eye_tracking_score(items):.2f}\n"
              f"SELF-PACED READING SCORE: {hooks.self_paced_reading_score(items):.2f}\n")
    return report, {"reading": {"predictions": predictions}}


def _reading_records(task: Subtask, records: list[dict]) -> list[dict]:
    """Reading documents come two per CSV row (word, previous word), in the loader's order."""
    docs = hooks.load_reading(**task.kwargs)["test"]
    return [{**record, "doc": docs[record["doc_id"]]} for record in records]


def pipeline_folder(out_dir: Path, model: str, checkpoint: str) -> Path:
    """Where the pipeline writes a model's revision: ``<Path(model).stem>/<revision, or main>/zero_shot/causal``."""
    return Path(out_dir) / Path(model).stem / ("main" if checkpoint == FINAL else checkpoint) / "zero_shot" / BACKEND


def write_pipeline_outputs(run_dir: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Write the pipeline's files for every BabyLM 2025 subtask in ``run_dir``'s samples; the paths written."""
    run_dir = Path(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir / "babylm_pipeline"
    written = []
    parts = read_results(run_dir)[["model", "checkpoint"]].drop_duplicates()
    for model, checkpoint in parts.itertuples(index=False):
        samples_dir = samples_path(run_dir, model, checkpoint, "x").parent
        by_task = defaultdict(list)
        for samples in sorted(samples_dir.glob("*.jsonl")):
            for line in samples.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                if record["task"] in SUBTASKS:
                    by_task[record["task"]].append(record)
        base = pipeline_folder(out_dir, model, checkpoint)
        folders = defaultdict(list)
        for name in by_task:
            task = SUBTASKS[name]
            folders[(task.pipeline_task, task.data_folder)].append(task)
        for (pipeline_task, data_folder), tasks in folders.items():
            if pipeline_task == "reading":
                (task,) = tasks
                records = _reading_records(task, by_task[task.name])
                report, predictions = _reading_files(records, babylm.reading_rows(task.eval_set))
                where = base / "reading"
                written += [atomic_write_text(where / "report.txt", report),
                            atomic_write_text(where / "predictions.json", json.dumps(predictions))]
                continue
            where = base / pipeline_task / data_folder
            predictions = {t.uid: {"predictions": _predictions(t, by_task[t.name])} for t in tasks}
            if pipeline_task == "wug":
                (task,) = tasks
                rho = hooks.wug_spearman([(p["prob"], row["ratio"]) for p, row in
                                          zip(predictions[task.uid]["predictions"], _rows(task))])
                report = _report("SPEARMAN'S RHO", {"UID": {"avg": rho}}, rho)
            else:
                report = _choice_report(tasks, by_task)
            written += [atomic_write_text(where / "best_temperature_report.txt", report),
                        atomic_write_text(where / "predictions.json", json.dumps(predictions))]
    return written


_SCORE = re.compile(r"^(EYE TRACKING|SELF-PACED READING) SCORE: (\S+)$")


def read_pipeline_outputs(out_dir: str | Path) -> dict[tuple[str, str, str, str], dict]:
    """(model, checkpoint, task, data folder) -> {"average": float, "sections": {...}, "predictions": {...}},
    from files in the pipeline's layout (ours or the pipeline's own)."""
    found = {}
    for report in sorted(Path(out_dir).glob("*/*/zero_shot/*/*/*/best_temperature_report.txt")):
        data_folder, task = report.parent.name, report.parent.parent.name
        model, checkpoint = report.parents[5].name, report.parents[4].name
        sections, current, lines = {}, None, report.read_text(encoding="utf-8").splitlines()
        average = None
        for i, line in enumerate(lines):
            if line.startswith("### AVERAGE"):
                average = float(lines[i + 1])
                break
            if line.startswith("### "):
                current = sections.setdefault(line[4:].split(" ")[0].lower(), {})
            elif ": " in line and current is not None:
                name, value = line.rsplit(": ", 1)
                current[name] = float(value)
        found[(model, checkpoint, task, data_folder)] = {
            "average": average, "sections": sections,
            "predictions": json.loads((report.parent / "predictions.json").read_text(encoding="utf-8"))}
    for report in sorted(Path(out_dir).glob("*/*/zero_shot/*/reading/report.txt")):
        model, checkpoint = report.parents[4].name, report.parents[3].name
        scores = {m[1]: float(m[2]) for line in report.read_text(encoding="utf-8").splitlines()
                  if (m := _SCORE.match(line))}
        found[(model, checkpoint, "reading", "reading")] = {
            "eye_tracking": scores.get("EYE TRACKING"), "self_paced_reading": scores.get("SELF-PACED READING"),
            "predictions": json.loads((report.parent / "predictions.json").read_text(encoding="utf-8"))}
    return found
