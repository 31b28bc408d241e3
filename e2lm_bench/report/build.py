"""The human-readable view of one or more run folders: an overview heatmap per series and metric, curve and
SQ plots, ``report.md`` and a self-contained ``report.html``. What scoring added beyond SQ (SNR, decision
accuracy, ages of acquisition, item slopes) is shown where scores.json has it, so older files still render.

The overview comes first because a run may have a hundred task curves: the heatmaps show at a glance which
tasks move over training, and the curves below fold away in the HTML. Several run folders in one report
share one curve per task, so runs trained or evaluated separately can be compared on one axis.

This module decides which figures the report has and where they go; summary.py writes its text and tables,
render.py turns the blocks into Markdown and HTML.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.evaluation.results import read_results, safe_name
from e2lm_bench.report.blocks import Figure, Fold, Heading, Paragraph, Table, figure_paths
from e2lm_bench.report.dynamics_plots import aoa_order, plot_aoa, plot_item_slopes
from e2lm_bench.report.formatting import fmt, human
from e2lm_bench.report.plots import (
    AXIS_LABELS,
    choose_x_axis,
    model_styles,
    plot_curve,
    plot_decision,
    plot_heatmap,
    plot_members,
    plot_sq,
)
from e2lm_bench.report.render import to_html, to_markdown
from e2lm_bench.report.runs import Run, load_failures, load_scores, run_names, series_label
from e2lm_bench.report.summary import report_blocks
from e2lm_bench.report.training_plots import plot_rewards, plot_rounds, read_training_log

PLOTS = "plots"  # the folder of the PNGs, beside report.md
FOLD_OPEN_MAX = 8  # task curves a report may have and still show its folds open in the HTML


def write_report(
    run_dir: str | Path,
    table: pd.DataFrame | None = None,
    scores: dict | None = None,
    failures: list | None = None,
    reward_logs: dict[str, str | Path] | None = None,
    round_logs: dict[str, str | Path] | None = None,
    output: str | Path | None = None,
) -> dict[str, Path | list[Path]]:
    """Plots, report.md and a single-file report.html for a run folder; what is not given is read from it.

    ``reward_logs`` maps an RL series name to its ``rewards.csv``; each gets a reward plot before the curves.
    ``round_logs`` maps an interaction series name to its ``rounds.csv``; each gets a plot of its rounds.
    ``output`` is the folder to write into (default: the run folder).
    Returns {"html": path, "markdown": path, "plots": [paths]}.
    """
    run_dir = Path(run_dir)
    run = Run(
        run_names([run_dir])[0],
        read_results(run_dir) if table is None else table,
        load_scores(run_dir) if scores is None else scores,
        load_failures(run_dir) if failures is None else failures,
    )
    return _write([run], run_dir if output is None else Path(output), reward_logs or {}, round_logs or {})


def write_runs_report(run_dirs: list[str | Path], output: str | Path) -> dict[str, Path | list[Path]]:
    """One report over several run folders, written into ``output``: curves of all runs on one axis per task,
    each series named ``run: series``. Returns what :func:`write_report` returns."""
    run_dirs = [Path(d) for d in run_dirs]
    runs = [Run(name, read_results(d), load_scores(d), load_failures(d))
            for name, d in zip(run_names(run_dirs), run_dirs)]
    return _write(runs, Path(output), {}, {})


def _write(runs: list[Run], out_dir: Path, reward_logs: dict, round_logs: dict) -> dict[str, Path | list[Path]]:
    """Every plot of ``runs`` into ``out_dir``, then report.md and report.html from the same blocks."""
    several = len(runs) > 1
    table = pd.concat(
        [run.table.assign(model=[series_label(run, m, several) for m in run.table["model"]]) for run in runs],
        ignore_index=True,
    )
    entries: dict[tuple[str, str], dict] = {}  # (task, metric) -> series -> its entry in scores.json
    benchmark_sq: dict[tuple[str, str], list[str]] = {}
    for run in runs:
        for b in run.scores["benchmarks"]:
            key = (b["task"], b["metric"])
            entries.setdefault(key, {}).update({series_label(run, m, several): e for m, e in b["models"].items()})
            benchmark_sq.setdefault(key, []).append(f"{run.name} {fmt(b['sq'])}" if several else fmt(b["sq"]))
    series = [series_label(run, m, several) for run in runs
              for m in sorted(set(run.table["model"]) | {m for b in run.scores["benchmarks"] for m in b["models"]})]
    styles = model_styles(series)
    legend_title = "run: series" if several else "series"

    overview: list = [Paragraph(
        "One heatmap per series and metric: rows are tasks, columns the checkpoints in training order, and each "
        "cell the change in the metric since the task's first checkpoint, on a colour scale centred on no change. "
        "Every task's curve is under Plots."
    )]
    for name in series:
        for metric in sorted(table.loc[table["model"] == name, "metric"].unique()):
            rows = table[(table["model"] == name) & (table["metric"] == metric)]
            path = out_dir / PLOTS / f"heatmap_{safe_name(name)}_{safe_name(metric)}.png"
            caption = plot_heatmap(rows, name, metric, path)
            overview.append(Figure(path, f"{name} — {metric}: change since the first checkpoint, per task", caption))

    plot_blocks: list = []
    for run, log_path in reward_logs.items():
        plot_blocks.append(Heading(f"{run} — RL reward", 3))
        path = out_dir / PLOTS / f"rewards_{safe_name(run)}.png"
        caption = plot_rewards(read_training_log(log_path), run, path)
        plot_blocks.append(Figure(path, f"{run} — reward per RL step", caption))
    for run, log_path in round_logs.items():
        plot_blocks.append(Heading(f"{run} — interaction rounds", 3))
        path = out_dir / PLOTS / f"rounds_{safe_name(run)}.png"
        caption = plot_rounds(read_training_log(log_path), run, path)
        plot_blocks.append(Figure(path, f"{run} — losses and margin per interaction round", caption))

    in_table = sorted(set(map(tuple, table[["task", "metric"]].drop_duplicates().to_numpy())))
    keys = [*entries, *(k for k in in_table if k not in entries)]  # the score table's order first
    families: dict[str, list] = {}
    grouped = set()
    for group, members in _groups(set(table["task"])).items():
        member_rows = table[table["task"].isin(members)]
        for metric in sorted(member_rows["metric"].unique()):
            rows = member_rows[member_rows["metric"] == metric]
            x, log = choose_x_axis(rows)
            path = out_dir / PLOTS / f"members_{safe_name(group)}_{safe_name(metric)}.png"
            caption = plot_members(rows, group, metric, x, log, styles, path, legend_title)
            families.setdefault(_family(group), []).append(Figure(path, f"{group} — {metric}: its subtasks", caption))
        grouped.update(members)
    keys = [(task, metric) for task, metric in keys if task not in grouped]
    for task, metric in keys:
        blocks = families.setdefault(_family(task), [])
        blocks.append(Heading(f"{task} — {metric}", 4))
        name = f"{safe_name(task)}_{safe_name(metric)}"
        task_rows = table[table["task"] == task]
        rows = task_rows[task_rows["metric"] == metric]
        if len(rows):
            x, log = choose_x_axis(task_rows)
            path = out_dir / PLOTS / f"curve_{name}.png"
            caption = plot_curve(rows, task, metric, x, log, styles, path, legend_title)
            blocks.append(Figure(path, f"{task} — {metric} curves", caption))
        if entries.get((task, metric)):
            path = out_dir / PLOTS / f"sq_{name}.png"
            caption = plot_sq(task, metric, entries[(task, metric)], f"SQ {', '.join(benchmark_sq[(task, metric)])}", path)
            blocks.append(Figure(path, f"{task} — {metric} signal quality", caption))
    for family, blocks in families.items():
        tasks = {task for task, _ in keys if _family(task) == family}
        figures = sum(isinstance(b, Figure) for b in blocks)
        plot_blocks.append(Fold(f"{family}: {len(tasks)} task(s), {figures} plot(s)", blocks,
                                open=len(keys) <= FOLD_OPEN_MAX))

    blocks = report_blocks(runs, overview, _decision_blocks(runs, out_dir),
                           _acquisition_blocks(runs, table, styles, out_dir, legend_title)
                           + _slope_blocks(runs, styles, out_dir), plot_blocks)
    markdown = atomic_write_text(out_dir / "report.md", to_markdown(blocks, out_dir))
    page = atomic_write_text(out_dir / "report.html", to_html(blocks))
    return {"html": page, "markdown": markdown, "plots": figure_paths(blocks)}


MEMBERS_MIN = 8  # a group with at least this many subtasks shows them in one figure rather than one each


def _groups(tasks: set[str]) -> dict[str, list[str]]:
    """Group -> its subtasks, for groups of at least MEMBERS_MIN: a subtask's group is the longest other
    task in the table whose name, plus "_", begins it (``blimp_fast`` for ``blimp_fast_wh_island``)."""
    members: dict[str, list[str]] = {}
    for task in sorted(tasks):
        parents = [t for t in tasks if t != task and task.startswith(t + "_")]
        if parents:
            members.setdefault(max(parents, key=len), []).append(task)
    return {group: names for group, names in members.items() if len(names) >= MEMBERS_MIN}


def _family(task: str) -> str:
    """The task family a task's curves are grouped under: zorro for zorro_* paradigms and the zorro group."""
    return task.split("_")[0]


def _decision_blocks(runs: list[Run], out_dir: Path) -> list:
    """One decision-accuracy figure per run scored with --decision: its small and target models are its own."""
    blocks = []
    for run in runs:
        decisions = {f"{b['task']} / {b['metric']}": b["decision"] for b in run.scores["benchmarks"] if b.get("decision")}
        if not decisions:
            continue
        setting = run.scores["settings"]["decision"]
        title = (f"{run.name + ': ' if len(runs) > 1 else ''}decision accuracy of {', '.join(setting['small'])} "
                 f"for {', '.join(setting['target'])}")
        path = out_dir / PLOTS / f"decision_{safe_name(run.name)}.png"
        caption = plot_decision(decisions, run.scores["settings"]["x"], title, path)
        blocks.append(Figure(path, title, caption))
    return [Heading("Decision accuracy"), *blocks] if blocks else []


def _acquisition_blocks(runs: list[Run], table: pd.DataFrame, styles: dict, out_dir: Path, legend_title: str) -> list:
    """Per task family (and training axis, which series may not share), an AoA dot plot and a status table."""
    several = len(runs) > 1
    families: dict[tuple[str, str], dict] = {}  # (family, axis) -> task -> series -> entry
    for run in runs:
        for model, tasks in (run.scores.get("acquisition") or {}).items():
            for task, entry in tasks.items():
                families.setdefault((_family(task), entry["axis"]), {}).setdefault(task, {})[
                    series_label(run, model, several)] = entry
    blocks = []
    for (family, axis), entries in sorted(families.items()):
        blocks.append(Heading(f"{family} — age of acquisition on {AXIS_LABELS[axis]}", 3))
        rows = table[table["task"].isin(list(entries)) & (table["metric"] == "acc")]
        x = rows[axis].to_numpy(dtype=float)
        x = x[x > 0]
        if len(x):
            path = out_dir / PLOTS / f"aoa_{safe_name(family)}_{axis}.png"
            caption = plot_aoa(family, axis, entries, (x.min(), x.max()), styles, path, legend_title)
            blocks.append(Figure(path, f"{family} — age of acquisition per task", caption))
        blocks.append(Table(
            ["task", "series", "status", f"AoA ({AXIS_LABELS[axis]})", "fitted ceiling", "chance", "note"],
            [[task, model, e["status"], "–" if e["aoa"] is None else human(e["aoa"]), fmt(e["ceiling"]),
              f"{e['chance']:g}", e["note"] or ""]
             for task in aoa_order(entries) for model, e in entries[task].items()],
        ))
    if not blocks:
        return []
    return [Heading("Age of acquisition"), Paragraph(
        "Age of acquisition follows Chang & Bergen 2022, as the BabyLM 2025 evaluation uses it: a four-parameter "
        "sigmoid is fitted to each series' accuracy against log training amount, and the age is where the fit "
        "crosses halfway between chance and its fitted ceiling. An age is given only for a curve that rises and "
        "crosses inside the evaluated checkpoints; otherwise the status says why (not learned, no fit, learned "
        "before the first checkpoint) and no age is drawn."), *blocks]


def _slope_blocks(runs: list[Run], styles: dict, out_dir: Path) -> list:
    """Per series and task family, the histograms of its items' margin slopes (scored with --item-slopes)."""
    several = len(runs) > 1
    blocks = []
    for run in runs:
        for model, tasks in (run.scores.get("item_slopes") or {}).items():
            name = series_label(run, model, several)
            groups: dict[tuple[str, str], dict] = {}
            for task, entry in sorted(tasks.items()):
                groups.setdefault((_family(task), entry["axis"]), {})[task] = entry
            for (family, axis), entries in groups.items():
                drawn = {task: e for task, e in entries.items() if e["histogram"]}
                skipped = "".join(f" No slopes for {task}: {e['note']}." for task, e in entries.items()
                                  if not e["histogram"])
                if not drawn:
                    blocks.append(Paragraph(f"Series {name}, {family}:{skipped}"))
                    continue
                path = out_dir / PLOTS / f"item_slopes_{safe_name(name)}_{safe_name(family)}_{axis}.png"
                caption = plot_item_slopes(drawn, name, family, axis, styles[name][0], path)
                blocks.append(Figure(path, f"{name} — {family}: item slopes", caption + skipped))
    if not blocks:
        return []
    return [Heading("Item slopes"), Paragraph(
        "Each item's margin (log-probability of the right answer minus the wrong one) is regressed on log10 "
        "training amount; a task whose items rise one by one shows a broad histogram right of zero, one whose "
        "items never move a peak at zero. An item rises or falls when its slope differs from zero at p < 0.05."),
        *blocks]
