"""The human-readable view of one or more run folders: an overview heatmap per series and metric, curve and
SQ plots, ``report.md`` and a self-contained ``report.html``. What scoring added beyond SQ (SNR, decision
accuracy, ages of acquisition, item slopes) is shown where scores.json has it, so older files still render.

The overview comes first because a run may have a hundred task curves: the heatmaps show at a glance which
tasks move over training, and the curves below fold away in the HTML. Several run folders in one report
share one curve per task, so runs trained or evaluated separately can be compared on one axis.

Both documents are rendered from one list of blocks, so the Markdown and the HTML never disagree. The
HTML embeds every plot as a ``data:`` URI so it can be mailed or attached as a single file. Matplotlib
is imported only when plotting, and figures are built with the object API on an Agg canvas: nothing is
registered with pyplot, so the caller's backend is untouched and no figure outlives its function.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.errors import UserError
from e2lm_bench.evaluation.results import FAILURES_JSON, read_results, safe_name

SCORES_JSON = "scores.json"
PLOTS = "plots"
LOG_SPAN = 100.0  # more than 2 decades of positive x values -> log axis
AXIS_LABELS = {"tokens": "tokens", "words": "words", "step": "training step"}
SQ_PARTS = (  # key in scores.json, legend label, colour
    ("monotonicity", "monotonicity", "#4C72B0"),
    ("autocorrelation", "autocorrelation", "#DD8452"),
    ("sq", "SQ", "#55A868"),
)
MARKERS = "osD^vPX*<>"
DPI = 110
FOLD_OPEN_MAX = 8  # task curves a report may have and still show its folds open in the HTML
ANNOTATE_MAX_CELLS = 160  # a heatmap with more cells than this is too dense for numbers in its cells


class ReportError(UserError):
    """A run folder the report cannot be built from (no or unreadable scores.json); the message says what to run."""


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Paragraph:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class Figure:
    path: Path
    alt: str
    caption: str


@dataclass
class Fold:
    """Blocks the HTML shows under a ``<details>`` summary line; the Markdown shows them plainly under a heading."""
    summary: str
    blocks: list
    open: bool


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


def choose_x_axis(frame: pd.DataFrame) -> tuple[str, bool]:
    """The x column for one task's rows (tokens, else words, else step) and whether it needs a log scale.

    Tokens or words are used only when every row has them, so all models of a task share one axis.
    """
    column = next((c for c in ("tokens", "words") if len(frame) and frame[c].notna().all()), "step")
    return column, _log_scale(frame[column].to_numpy(dtype=float))


def _log_scale(values: np.ndarray) -> bool:
    """More than LOG_SPAN between the smallest and largest positive value: a linear axis would crush the start."""
    positive = values[values > 0]
    return bool(len(positive) >= 2 and positive.max() / positive.min() > LOG_SPAN)


def _training_axis(ax, values: np.ndarray, axis: str, log: bool) -> None:
    """Training amount on x as every plot of the report shows it: log scale when asked, 20K-style ticks for
    large counts (below 1e4 plain numbers read better than a mix of 800 and 1K) and the axis' name."""
    from matplotlib.ticker import FuncFormatter

    if log:
        ax.set_xscale("log")
    if log or np.abs(values).max(initial=0) >= 1e4:
        ax.xaxis.set_major_formatter(FuncFormatter(_human))
    ax.set_xlabel(AXIS_LABELS[axis] + (" (log scale)" if log else ""))


def _missing(value: float | None) -> bool:
    """null in scores.json, or NaN (Python's json module reads and writes NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt(value: float | None) -> str:
    """Three decimals, or an en dash for a missing value."""
    return "–" if _missing(value) else f"{value:.3f}"


def _human(x: float, _pos: object = None) -> str:
    """Tick labels such as 500, 20K, 1.5M, 3B: counts of tokens or steps stay readable on any scale."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def _new_figure(width: float, height: float):
    """A figure on its own Agg canvas, outside pyplot's registry, so it is freed when dropped."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    figure = MplFigure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, bbox_inches="tight")
    figure.clear()
    return path


def _model_styles(models: list[str]) -> dict[str, tuple]:
    """One colour and marker per model, the same in every plot of the report."""
    from matplotlib import colormaps

    palette = colormaps["tab10" if len(models) <= 10 else "tab20"]
    return {m: (palette(i % palette.N), MARKERS[i % len(MARKERS)]) for i, m in enumerate(models)}


def _plot_curve(rows: pd.DataFrame, task: str, metric: str, x: str, log: bool, styles: dict, path: Path,
                legend_title: str) -> str:
    """Value over training, one line per series with a ±stderr band; returns the caption."""
    notes = []
    missing = rows[x].isna()
    if missing.any():
        notes.append(f"{int(missing.sum())} point(s) without a {x} value are not shown.")
    rows = rows[~missing]
    if log:
        dropped = rows[x] <= 0
        if dropped.any():
            notes.append(f"{int(dropped.sum())} point(s) at {x} ≤ 0 are not shown on the log axis.")
        rows = rows[~dropped]

    figure = _new_figure(8, 4.5)
    ax = figure.add_subplot()
    shown = [m for m in styles if m in set(rows["model"])]  # the report's series order, runs as given
    for model in shown:
        points = rows[rows["model"] == model].sort_values(x)
        color, marker = styles[model]
        ax.plot(points[x], points["value"], marker=marker, markersize=4, linewidth=1.5, color=color, label=model)
        if points["stderr"].notna().any():
            ax.fill_between(
                points[x], points["value"] - points["stderr"], points["value"] + points["stderr"],
                color=color, alpha=0.18, linewidth=0,
            )
    _training_axis(ax, rows[x].to_numpy(dtype=float), x, log)
    ax.set_ylabel(metric)
    ax.set_title(f"{task} — {metric}")
    ax.grid(True, alpha=0.3, which="major")
    if len(rows):
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False, title=legend_title,
                  title_fontsize=8)
    _save(figure, path)
    band = " Shaded band: ±1 standard error." if rows["stderr"].notna().any() else ""
    lines = f" Lines ({legend_title}): {', '.join(shown)}." if shown else ""
    return " ".join([f"{task} / {metric} over {AXIS_LABELS[x]}{' (log scale)' if log else ''}.{band}{lines}", *notes])


def _plot_heatmap(rows: pd.DataFrame, series: str, metric: str, path: Path) -> str:
    """Task × checkpoint of one series and metric, each cell the change since the task's first checkpoint;
    returns the caption.

    The change, not the value, is shown so that tasks on different levels (chance 0.5, a margin of 3 nats)
    share one diverging scale centred on "no change", and a flat task reads as white whatever its level.
    """
    from matplotlib import colormaps

    x, _ = choose_x_axis(rows)
    order = rows.drop_duplicates("checkpoint").sort_values(["step", "checkpoint"])
    grid = rows.pivot_table(index="task", columns="checkpoint", values="value", aggfunc="first")
    grid = grid.reindex(columns=list(order["checkpoint"]))
    change = grid.sub(grid.bfill(axis=1).iloc[:, 0], axis=0)  # each task from its own first value
    limit = float(change.abs().max().max())
    limit = limit if limit > 0 else 1.0
    values = change.to_numpy(dtype=float)
    n_tasks, n_checkpoints = values.shape
    figure = _new_figure(min(14.0, max(6.0, 3.0 + 0.6 * n_checkpoints)), max(2.6, 1.4 + 0.3 * n_tasks))
    ax = figure.add_subplot()
    cmap = colormaps["RdBu"].with_extremes(bad="#dddddd")
    image = ax.imshow(values, aspect="auto", cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
    annotated = values.size <= ANNOTATE_MAX_CELLS
    if annotated:
        for (i, j), value in np.ndenumerate(values):
            if not math.isnan(value):
                ax.text(j, i, f"{value:+.2f}", ha="center", va="center", fontsize=7,
                        color="white" if abs(value) > 0.6 * limit else "black")
    ax.set_xticks(range(n_checkpoints), [_human(v) for v in order[x]], fontsize=8,
                  rotation=45 if n_checkpoints > 10 else 0)
    ax.set_yticks(range(n_tasks), list(change.index), fontsize=8)
    ax.set_xlabel(f"checkpoint ({AXIS_LABELS[x]})")
    ax.set_title(f"series {series} — {metric}: change since the first checkpoint")
    bar = figure.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
    bar.set_label(f"{metric}, change since the first checkpoint", fontsize=8)
    _save(figure, path)
    cells = " Cells show the change to 2 decimals." if annotated else ""
    return (f"Series {series}, {metric}: each cell is the change in {metric} from the task's first checkpoint to "
            f"that checkpoint (blue: higher, red: lower, white: unchanged; grey: not evaluated).{cells}")


def _plot_sq(task: str, metric: str, entries: dict, sq: str, path: Path) -> str:
    """Monotonicity, autocorrelation and SQ per series as grouped bars; returns the caption.

    ``entries`` maps a series to its entry in scores.json; ``sq`` says the benchmark's SQ for the title.
    """
    series = list(entries)
    crowded = len(series) > 4 or max(map(len, series)) > 14  # rotate tick labels, keep only the n/a bar labels
    figure = _new_figure(min(11.0, max(5.0, 1.2 + 0.9 * len(series))), 3.8)
    ax = figure.add_subplot()
    width = 0.8 / len(SQ_PARTS)
    lowest = 0.0
    for i, (key, label, color) in enumerate(SQ_PARTS):
        values = [entries[m][key] for m in series]
        heights = [0.0 if _missing(v) else v for v in values]
        lowest = min(lowest, *heights)
        positions = [j + (i - (len(SQ_PARTS) - 1) / 2) * width for j in range(len(series))]
        bars = ax.bar(positions, heights, width, label=label, color=color)
        labels = ["n/a" if _missing(v) else "" if crowded else f"{v:.2f}" for v in values]
        ax.bar_label(bars, labels=labels, fontsize=7, padding=1, rotation=90 if crowded else 0)
    warned = [m for m in series if entries[m].get("warning")]
    sep = " " if crowded else "\n"
    ticks = [f"{m}{' *' if m in warned else ''}{sep}(n={_count(entries[m].get('n'))})" for m in series]
    ax.set_xticks(
        range(len(series)), ticks, rotation=30 if crowded else 0, ha="right" if crowded else "center", fontsize=8
    )
    ax.set_ylim(min(0.0, lowest - 0.1), 1.08)
    if lowest < 0:
        ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("series (n = points in its curve)")
    ax.set_ylabel("value (1 = best)")
    ax.set_title(f"{task} — {metric}: signal quality ({sq})")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False, title="SQ part",
              title_fontsize=8)
    _save(figure, path)
    caption = f"{task} / {metric}: SQ parts per series (n = points in the curve)."
    return caption + (" * = see Warnings." if warned else "")


def _plot_decision(decisions: dict[str, dict], axis: str, title: str, path: Path) -> str:
    """Decision accuracy over the small models' training, one line per benchmark; returns the caption.

    ``decisions`` maps a benchmark ("task / metric") to its ``decision`` entry in scores.json, ``axis`` is the
    scoring x axis its curve is on.
    """
    x = np.array([point[0] for entry in decisions.values() for point in entry["curve"]], dtype=float)
    log = _log_scale(x)
    styles = _model_styles(list(decisions))
    figure = _new_figure(8, 4.5)
    ax = figure.add_subplot()
    intervals = False
    for name, entry in decisions.items():
        curve = np.array(entry["curve"], dtype=float)
        color, marker = styles[name]
        ax.plot(curve[:, 0], curve[:, 1], marker=marker, markersize=4, linewidth=1.5, color=color, label=name)
        if entry.get("final_ci"):
            low, high = entry["final_ci"]
            ax.errorbar(curve[-1, 0], entry["final"], yerr=[[entry["final"] - low], [high - entry["final"]]],
                        color=color, capsize=4, linewidth=1.2)
            intervals = True
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="chance (0.5)")
    _training_axis(ax, x, axis, log)
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("decision accuracy (share of pairs)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False, title="benchmark",
              title_fontsize=8, ncol=1 + len(decisions) // 20)
    _save(figure, path)
    bars = " Bars at the last point: 95% item-bootstrap interval of the final decision accuracy." if intervals else ""
    return (f"{title}: at each checkpoint of the small models ({AXIS_LABELS[axis]}{', log scale' if log else ''}), "
            f"the share of pairs they order as the target models are ordered at their final checkpoint; dashed: "
            f"chance.{bars}")


AOA_SHORT = {"learned before the first checkpoint": "before first checkpoint"}  # statuses too long for a margin


def _aoa_order(entries: dict[str, dict[str, dict]]) -> list[str]:
    """Tasks by their median AoA over the series that learned them; tasks no series learned last, by name."""
    def key(task):
        ages = [e["aoa"] for e in entries[task].values() if e["status"] == "learned"]
        return (0, float(np.median(ages)), task) if ages else (1, 0.0, task)
    return sorted(entries, key=key)


def _plot_aoa(family: str, axis: str, entries: dict[str, dict[str, dict]], span: tuple[float, float], styles: dict,
              path: Path, legend_title: str) -> str:
    """Ages of acquisition of a task family as a dot plot, earliest on top; returns the caption.

    ``entries`` maps task -> series -> its ``acquisition`` entry; ``span`` is the evaluated checkpoints' range
    on ``axis``, the only range where an age can be found. Statuses are written at the right margin, never
    drawn as dots: "not learned" has no age to place.
    """
    from matplotlib.ticker import LogLocator, NullFormatter
    from matplotlib.transforms import offset_copy

    tasks = _aoa_order(entries)
    series = [m for m in styles if any(m in entries[t] for t in tasks)]
    figure = _new_figure(9, 1.6 + 0.32 * len(tasks) * max(1.0, len(series) / 2))
    ax = figure.add_subplot()
    offsets = {m: (i - (len(series) - 1) / 2) * min(0.2, 0.7 / len(series)) for i, m in enumerate(series)}
    shown = set()
    for row, task in enumerate(tasks):
        statuses = []
        for model in series:
            entry = entries[task].get(model)
            if entry is None:
                continue
            if entry["status"] == "learned":
                color, marker = styles[model]
                ax.plot(entry["aoa"], row + offsets[model], marker=marker, color=color, linestyle="none",
                        markersize=6, label=None if model in shown else model)
                shown.add(model)
            else:
                status = AOA_SHORT.get(entry["status"], entry["status"])
                statuses.append(status if len(series) == 1 else f"{model}: {status}")
        if statuses:
            ax.text(1.01, row, "; ".join(statuses), transform=ax.get_yaxis_transform(), va="center", fontsize=7,
                    color="#555555")
    ax.set_yticks(range(len(tasks)), tasks, fontsize=8)
    ax.set_ylim(len(tasks) - 0.5, -0.5)
    ax.set_xlim(span[0] / 1.5, span[1] * 1.5)
    _training_axis(ax, np.array(span), axis, True)
    if span[1] / span[0] < 30:  # under ~1.5 decades a log axis has one or two labelled ticks
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, axis="x", alpha=0.3, which="major")
    ax.set_title(f"{family} — age of acquisition (halfway from chance to the fitted ceiling)")
    if shown:  # below the x label: the right margin holds the statuses
        below = offset_copy(ax.transAxes, fig=figure, y=-36, units="points")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=below, fontsize=8, frameon=False,
                  title=legend_title, title_fontsize=8, ncol=min(4, len(shown)))
    _save(figure, path)
    learned = sum(e["status"] == "learned" for t in tasks for e in entries[t].values())
    total = sum(len(entries[t]) for t in tasks)
    return (f"{family}: age of acquisition per task on {AXIS_LABELS[axis]} (log scale), earliest on top; "
            f"{learned} of {total} curve(s) learned within the evaluated checkpoints ({_human(span[0])} to "
            f"{_human(span[1])} {AXIS_LABELS[axis]}, the x range shown). Curves without an age are named at the "
            "right with their status, not drawn. No intervals: scoring gives none for ages of acquisition.")


def _plot_item_slopes(entries: dict[str, dict], series: str, family: str, axis: str, color, path: Path) -> str:
    """Per task of a family, the histogram of its items' margin slopes, for one series; returns the caption.

    Each task keeps its own bins (scores.json stores the histogram, not the slopes), so tasks get panels
    instead of one merged histogram; each panel has its own x range, since one fast task would squeeze the rest.
    """
    from matplotlib.ticker import MaxNLocator

    tasks = sorted(entries)
    columns = min(4, len(tasks))
    rows = math.ceil(len(tasks) / columns)
    figure = _new_figure(1.0 + 3.0 * columns, 1.2 + 2.0 * rows)
    figure.set_layout_engine("constrained")  # room for the shared labels and the title above the panel titles
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, task in zip(axes, tasks):
        entry = entries[task]
        edges = np.array(entry["histogram"]["edges"], dtype=float)
        ax.bar(edges[:-1], entry["histogram"]["counts"], width=np.diff(edges), align="edge", color=color,
               edgecolor="white", linewidth=0.5)
        ax.axvline(0, color="black", linestyle="--", linewidth=0.8)
        ax.set_title(f"{task.removeprefix(family + '_')}\n{entry['rising_share']:.0%} rising", fontsize=7)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of items
        ax.tick_params(labelsize=7)
        ax.grid(True, axis="y", alpha=0.3)
    for ax in axes[len(tasks):]:
        ax.set_visible(False)
    figure.supxlabel(f"item slope: change of the margin (nats) per 10× {AXIS_LABELS[axis]}", fontsize=9)
    figure.supylabel("items", fontsize=9)
    figure.suptitle(f"series {series} — {family}: slopes of the items' margins over training", fontsize=10)
    _save(figure, path)
    n_items = sum(entries[t]["n_items"] for t in tasks)
    rising = sum(entries[t]["rising_share"] * entries[t]["n_items"] for t in tasks) / n_items
    falling = sum(entries[t]["falling_share"] * entries[t]["n_items"] for t in tasks) / n_items
    return (f"Series {series}, {family}: per task, how many items' margins (log-probability of the right answer "
            f"minus the wrong one, nats) change by how much per 10× {AXIS_LABELS[axis]}. {rising:.0%} of "
            f"{n_items} items rise significantly (p < 0.05), {falling:.0%} fall; dashed line: no change. Panels are "
            f"titled by task without the \"{family}_\" prefix; each has its own x range.")


REWARD_LOG_EXTRAS = ("step", "reward", "kl", "completion_length")  # rewards.csv columns that are not a named reward


def read_training_log(path: str | Path) -> pd.DataFrame:
    """A training log (``rewards.csv`` of ``e2lm-bench rl``, ``rounds.csv`` of ``interact``), in the order of its
    first column (step or round)."""
    log = pd.read_csv(path)
    return log.sort_values(log.columns[0], ignore_index=True)


def _plot_rewards(log: pd.DataFrame, run: str, path: Path) -> str:
    """Reward per RL step, thin, and its trailing moving average, bold; returns the caption.

    A named reward equal to the total (one reward, weight 1) is drawn once, as the total.
    """
    window = max(1, len(log) // 10)
    named = [c for c in log.columns if c not in REWARD_LOG_EXTRAS]
    alone = [c for c in named if not log[c].equals(log["reward"])]
    same = f" (= {', '.join(c for c in named if c not in alone)})" if len(alone) < len(named) else ""
    figure = _new_figure(8, 4.5)
    ax = figure.add_subplot()
    for column, color in zip(["reward", *alone], ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3")):
        label = f"{run}: {column}{same if column == 'reward' else ''}"
        ax.plot(log["step"], log[column], linewidth=0.8, alpha=0.35, color=color, label=f"{label}, per step")
        ax.plot(log["step"], log[column].rolling(window, min_periods=1).mean(), linewidth=2, color=color,
                label=f"{label}, {window}-step moving average")
    ax.set_xlabel("RL step (optimizer updates)")
    ax.set_ylabel("reward (mean over the step's completions)")
    ax.set_title(f"{run} — reward per RL step")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False, title="run")
    _save(figure, path)
    return (f"{run}: reward per RL step (thin) and its trailing {window}-step moving average (bold), "
            f"{len(log)} steps; each step's value is the mean over its sampled completions.")


def _plot_rounds(log: pd.DataFrame, run: str, path: Path) -> str:
    """The two losses and the SimPO margin per interaction round, side by side; returns the caption."""
    figure = _new_figure(10, 4)
    losses, margin = figure.subplots(1, 2)
    for column, color in (("sft_loss", "#4C72B0"), ("simpo_loss", "#DD8452")):
        losses.plot(log["round"], log[column], marker="o", color=color, label=f"{run}: {column}")
    margin.plot(log["round"], log["margin"], marker="o", color="#55A868", label=f"{run}: margin")
    losses.set_ylabel("loss, nats (LM: per token; SimPO: per pair)")
    margin.set_ylabel("β · (mean token log-prob: winning − losing)")
    for ax, title in ((losses, "losses"), (margin, "SimPO margin")):
        ax.set_xlabel("interaction round")
        ax.set_xticks(log["round"])
        ax.set_title(f"{run} — {title}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, frameon=False)
    _save(figure, path)
    return (f"{run}: per round, the mean over its steps of the LM loss on the corrected texts, the SimPO loss and "
            f"the margin between the corrected and the student's own continuations; {len(log)} rounds.")


def _load_scores(run_dir: Path) -> dict:
    path = run_dir / SCORES_JSON
    if not path.is_file():
        raise ReportError(f"{path}: no scores yet; run `e2lm-bench score {run_dir}` first")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ReportError(f"{path}: not valid JSON ({err}); rerun `e2lm-bench score {run_dir}`") from None


def _load_failures(run_dir: Path) -> list:
    path = run_dir / FAILURES_JSON
    if not path.is_file():
        return []
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ReportError(f"{path}: not valid JSON ({err})") from None


def _label(run: Run, model: str, several: bool) -> str:
    """A series' name in the report: the run's name joins it when there are several runs."""
    return f"{run.name}: {model}" if several else model


def _blocks(runs: list[Run], overview: list, decision: list, dynamics: list, plot_blocks: list) -> list:
    """The report's content, independent of the output format; ``decision`` follows the scores, ``dynamics``
    (ages of acquisition, item slopes) the failed checkpoints."""
    several = len(runs) > 1
    columns = _shown([b for run in runs for b in run.scores["benchmarks"]], BENCHMARK_FIGURES)
    prefix = (lambda run: f"{run.name}: ") if several else (lambda run: "")
    counts = [
        f"{run.table['model'].nunique()} series, {len(run.table[['model', 'checkpoint']].drop_duplicates())} "
        f"checkpoint(s), {run.table['task'].nunique()} task(s), {len(run.table)} result row(s)"
        for run in runs
    ]
    blocks: list = [Heading(f"E2LM benchmark report: {', '.join(run.name for run in runs)}", 1)]
    if several:
        blocks += [Paragraph(f"{len(runs)} runs, their curves overlaid on one axis per task:"),
                   Bullets([f"{run.name}: {text}" for run, text in zip(runs, counts)])]
    else:
        blocks.append(Paragraph(counts[0] + "."))
    blocks += [Heading("Overview"), *overview]
    blocks += [
        Heading("How to read this report"),
        Paragraph(
            "A series is one model's checkpoints, named after its folder (the model column of results.csv)"
            + ("; with several runs it is named run: series." if several else ".")
            + " The overview above shows, per series and metric, how every task changed since its first "
            "checkpoint. Each curve plot below shows one task metric over training, one line per series, with "
            "a shaded band of ±1 standard error where the evaluation reported one. SQ (signal quality) is the "
            "mean of a curve's monotonicity and its lag autocorrelation, the E2LM organizers' definition; "
            "higher means the benchmark tracks training more smoothly. The global score weights SQ, RC and CS; "
            "RC (ranking consistency) and CS (scientific compliance) are this package's reconstructions. Notes "
            "from the scoring step:"
        ),
        Bullets([prefix(run) + note for run in runs for note in run.scores["settings"].get("notes") or []] or ["none"]),
        Paragraph("Scoring settings:"),
        Bullets([line for run in runs for line in _settings(run.scores["settings"], prefix(run))]),
        Heading("Scores"),
        Table(
            (["run"] if several else []) + ["task", "metric", "SQ", *(c[0] for c in columns), "RC", "CS", "score"],
            [([run.name] if several else []) + [b["task"], b["metric"], _with_ci(b["sq"], b.get("sq_ci")),
                                                *_cells(b, columns), fmt(b["rc"]), fmt(b["cs"]), fmt(b["score"])]
             for run in runs for b in run.scores["benchmarks"]],
        ),
    ]
    if any("snr" in b for run in runs for b in run.scores["benchmarks"]):  # scored with the new measures
        blocks.append(Paragraph(SNR_TEXT))
    shared: dict[str, list[str]] = {}  # a note many benchmarks share (one series: no SNR) is listed once
    for run in runs:
        for b in run.scores["benchmarks"]:
            for note in b.get("notes") or []:
                shared.setdefault(prefix(run) + note, []).append(f"{b['task']} / {b['metric']}")
    if shared:
        blocks += [Paragraph("Why a figure is missing, per benchmark (notes from the scoring step):"), Bullets([
            f"{note} ({', '.join(where[:NOTE_TASKS_SHOWN])}"
            f"{f' and {len(where) - NOTE_TASKS_SHOWN} more' if len(where) > NOTE_TASKS_SHOWN else ''})"
            for note, where in shared.items()])]
    blocks += decision
    entries = [m for run in runs for b in run.scores["benchmarks"] for m in b["models"].values()]
    series_columns = _shown(entries, SERIES_FIGURES)
    blocks += [
        Heading("Signal quality per series"),
        Table(
            ["task", "metric", "series", "n", "monotonicity", "autocorrelation", "SQ", *(c[0] for c in series_columns)],
            [
                [b["task"], b["metric"], _label(run, model, several), _count(m.get("n")),
                 *(_with_ci(m[key], m.get(f"{key}_ci")) for key in ("monotonicity", "autocorrelation", "sq")),
                 *_cells(m, series_columns)]
                for run in runs for b in run.scores["benchmarks"] for model, m in b["models"].items()
            ],
        ),
        Heading("Warnings"),
    ]
    warnings = [
        f"{b['task']} / {b['metric']}, {_label(run, model, several)}: {m['warning']}"
        for run in runs for b in run.scores["benchmarks"] for model, m in b["models"].items() if m.get("warning")
    ]
    blocks.append(Bullets(warnings) if warnings else Paragraph("none"))
    blocks.append(Heading("Failed checkpoints"))
    failures = [[_label(run, f["model"], several), f["checkpoint"], f["error"]] for run in runs for f in run.failures]
    blocks.append(Table(["series", "checkpoint", "error"], failures) if failures else Paragraph("none"))
    blocks += dynamics
    blocks.append(Heading("Plots"))
    blocks.extend(plot_blocks)
    return blocks


def _settings(settings: dict, prefix: str) -> list[str]:
    rc_reference = "none" if settings["rc_reference"] is None else settings["rc_reference"]
    lines = [
        f"{prefix}scoring x axis: {settings['x']}; weights (SQ, RC, CS): {', '.join(str(w) for w in settings['weights'])}",
        f"{prefix}RC: {settings['rc_variant']}, pairs {_pairs(settings['rc_pairs'])}, reference {rc_reference}",
        f"{prefix}CS: {settings['cs_variant']}, pairs {_pairs(settings['cs_pairs'])}",
    ]
    if "last_k" not in settings:  # scored before SNR, bootstrap and decision accuracy existed
        return lines
    decision, replicates, chance = settings["decision"], settings["bootstrap"], settings["chance"]
    return lines + [
        f"{prefix}SNR: last {settings['last_k']} checkpoint(s) of each series; item bootstrap: "
        + (f"{replicates} replicates, seed {settings['seed']}" if replicates else "none"),
        f"{prefix}decision accuracy: "
        + (f"small {', '.join(decision['small'])} predicting target {', '.join(decision['target'])}" if decision
           else "not asked (score --decision)")
        + "; AoA chance level: " + ("1 / answer options (0.5 without samples)" if chance is None else f"{chance:g}"),
    ]


SNR_TEXT = (
    "SNR (signal-to-noise ratio) follows Heineman et al. 2025, \"Signal and Noise\": on each series' last k "
    "checkpoints, signal is the largest gap between two series' mean scores divided by the mean of those means, "
    "noise is the standard deviation of all those scores pooled, divided by their mean, and SNR = signal / noise. "
    "The pooled noise includes the gaps between series, so this SNR is bounded (about 2 for two series); SNR "
    "within divides the signal by the mean of each series' own relative standard deviation instead, the paper's "
    "within-run reading. Both need two or more series. Decision accuracy follows Magnusson et al. 2025, "
    "\"DataDecide\": at each checkpoint of the small models, the share of their pairs ordered as the corresponding "
    "target models are ordered at their final checkpoint (a tie counts 0.5, so 0.5 is chance). Brackets are 95% percentile "
    "intervals over item-bootstrap replicates (the benchmark's items drawn with replacement, one draw for every "
    "series), where the scoring step ran one."
)
BENCHMARK_FIGURES = (  # optional columns of the scores table: header, keys of the value, keys of its interval
    ("SNR", ("snr", "snr"), ("snr", "snr_ci")),
    ("SNR within", ("snr", "snr_within"), None),
    ("noise", ("snr", "noise"), ("snr", "noise_ci")),
    ("decision acc.", ("decision", "final"), ("decision", "final_ci")),
)
SERIES_FIGURES = (("noise", ("noise",), ("noise_ci",)),)  # optional columns of the per-series table
NOTE_TASKS_SHOWN = 3  # benchmarks named after a shared note


def _dig(entry: dict, keys: tuple | None):
    """``entry[k1][k2]...``, None where a key is missing (old scores.json files lack the newer keys)."""
    if keys is None:
        return None
    for key in keys:
        entry = (entry or {}).get(key)
    return entry


def _shown(entries: list[dict], figures: tuple) -> list[tuple]:
    """The optional columns some entry has a value for: an empty column would only say "not computed"."""
    return [column for column in figures if any(not _missing(_dig(e, column[1])) for e in entries)]


def _cells(entry: dict, columns: list[tuple]) -> list[str]:
    return [_with_ci(_dig(entry, value), _dig(entry, ci)) for _, value, ci in columns]


def _with_ci(value: float | None, ci: list | None) -> str:
    """A figure with its 95% interval where one was bootstrapped: 0.810 [0.740, 0.860]."""
    return fmt(value) if not ci else f"{fmt(value)} [{fmt(ci[0])}, {fmt(ci[1])}]"


def _count(n: int | None) -> str:
    return "–" if n is None else str(n)


def _pairs(pairs: list | None) -> str:
    return "none" if not pairs else ", ".join(f"{a} vs {b}" for a, b in pairs)


def _md(text: str) -> str:
    """Plain text made safe inside Markdown paragraphs and table cells (model names may hold | < & *)."""
    text = " ".join(str(text).split()).replace("\\", "\\\\")
    for char in "|<>&`*[]":
        text = text.replace(char, "\\" + char)
    return text


def _to_markdown(blocks: list, out_dir: Path) -> str:
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {_md(block.text)}")
        elif isinstance(block, Paragraph):
            out.append(_md(block.text))
        elif isinstance(block, Bullets):
            out.append("\n".join(f"- {_md(item)}" for item in block.items))
        elif isinstance(block, Table):
            lines = ["| " + " | ".join(map(_md, block.header)) + " |", "|" + "---|" * len(block.header)]
            lines += ["| " + " | ".join(map(_md, row)) + " |" for row in block.rows]
            out.append("\n".join(lines))
        elif isinstance(block, Figure):
            out.append(f"![{_md(block.alt)}]({block.path.relative_to(out_dir).as_posix()})\n\n*{_md(block.caption)}*")
        elif isinstance(block, Fold):
            out.append(_to_markdown([Heading(block.summary, 3), *block.blocks], out_dir).rstrip("\n"))
    return "\n\n".join(out) + "\n"


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 1200px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #eee; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .92em; }
.table-wrap { overflow-x: auto; }
th, td { border: 1px solid #ddd; padding: .3em .7em; text-align: left; vertical-align: top; white-space: nowrap; }
td:last-child { white-space: normal; }
td { font-variant-numeric: tabular-nums; }
th { background: #f5f5f5; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1.2em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9em; margin-top: .3em; }
details { border: 1px solid #e5e5e5; border-radius: 4px; padding: .4em .8em; margin: .8em 0; }
summary { cursor: pointer; font-weight: 600; }
"""


def _to_html(blocks: list) -> str:
    title = html.escape(blocks[0].text)
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{title}</title>\n'
        f"<style>{CSS}</style>\n</head>\n<body>\n" + _html_body(blocks) + "\n</body>\n</html>\n"
    )


def _html_body(blocks: list) -> str:
    esc = html.escape
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{esc(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            out.append(f"<p>{esc(block.text)}</p>")
        elif isinstance(block, Bullets):
            out.append("<ul>" + "".join(f"<li>{esc(item)}</li>" for item in block.items) + "</ul>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{esc(h)}</th>" for h in block.header)
            body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in block.rows)
            markup = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            out.append(f'<div class="table-wrap">{markup}</div>')
        elif isinstance(block, Figure):
            data = base64.b64encode(block.path.read_bytes()).decode("ascii")
            out.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{esc(block.alt)}">'
                f"<figcaption>{esc(block.caption)}</figcaption></figure>"
            )
        elif isinstance(block, Fold):
            out.append(f"<details{' open' if block.open else ''}><summary>{esc(block.summary)}</summary>\n"
                       f"{_html_body(block.blocks)}\n</details>")
    return "\n".join(out)


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
        _load_scores(run_dir) if scores is None else scores,
        _load_failures(run_dir) if failures is None else failures,
    )
    return _write([run], run_dir if output is None else Path(output), reward_logs or {}, round_logs or {})


def write_runs_report(run_dirs: list[str | Path], output: str | Path) -> dict[str, Path | list[Path]]:
    """One report over several run folders, written into ``output``: curves of all runs on one axis per task,
    each series named ``run: series``. Returns what :func:`write_report` returns."""
    run_dirs = [Path(d) for d in run_dirs]
    runs = [Run(name, read_results(d), _load_scores(d), _load_failures(d))
            for name, d in zip(run_names(run_dirs), run_dirs)]
    return _write(runs, Path(output), {}, {})


def _write(runs: list[Run], out_dir: Path, reward_logs: dict, round_logs: dict) -> dict[str, Path | list[Path]]:
    several = len(runs) > 1
    table = pd.concat(
        [run.table.assign(model=[_label(run, m, several) for m in run.table["model"]]) for run in runs],
        ignore_index=True,
    )
    entries: dict[tuple[str, str], dict] = {}  # (task, metric) -> series -> its entry in scores.json
    benchmark_sq: dict[tuple[str, str], list[str]] = {}
    for run in runs:
        for b in run.scores["benchmarks"]:
            key = (b["task"], b["metric"])
            entries.setdefault(key, {}).update({_label(run, m, several): e for m, e in b["models"].items()})
            benchmark_sq.setdefault(key, []).append(f"{run.name} {fmt(b['sq'])}" if several else fmt(b["sq"]))
    series = [_label(run, m, several) for run in runs
              for m in sorted(set(run.table["model"]) | {m for b in run.scores["benchmarks"] for m in b["models"]})]
    styles = _model_styles(series)
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
            caption = _plot_heatmap(rows, name, metric, path)
            overview.append(Figure(path, f"{name} — {metric}: change since the first checkpoint, per task", caption))

    plot_blocks: list = []
    for run, log_path in reward_logs.items():
        plot_blocks.append(Heading(f"{run} — RL reward", 3))
        path = out_dir / PLOTS / f"rewards_{safe_name(run)}.png"
        caption = _plot_rewards(read_training_log(log_path), run, path)
        plot_blocks.append(Figure(path, f"{run} — reward per RL step", caption))
    for run, log_path in round_logs.items():
        plot_blocks.append(Heading(f"{run} — interaction rounds", 3))
        path = out_dir / PLOTS / f"rounds_{safe_name(run)}.png"
        caption = _plot_rounds(read_training_log(log_path), run, path)
        plot_blocks.append(Figure(path, f"{run} — losses and margin per interaction round", caption))

    in_table = sorted(set(map(tuple, table[["task", "metric"]].drop_duplicates().to_numpy())))
    keys = [*entries, *(k for k in in_table if k not in entries)]  # the score table's order first
    families: dict[str, list] = {}
    for task, metric in keys:
        blocks = families.setdefault(_family(task), [])
        blocks.append(Heading(f"{task} — {metric}", 4))
        name = f"{safe_name(task)}_{safe_name(metric)}"
        task_rows = table[table["task"] == task]
        rows = task_rows[task_rows["metric"] == metric]
        if len(rows):
            x, log = choose_x_axis(task_rows)
            path = out_dir / PLOTS / f"curve_{name}.png"
            caption = _plot_curve(rows, task, metric, x, log, styles, path, legend_title)
            blocks.append(Figure(path, f"{task} — {metric} curves", caption))
        if entries.get((task, metric)):
            path = out_dir / PLOTS / f"sq_{name}.png"
            caption = _plot_sq(task, metric, entries[(task, metric)], f"SQ {', '.join(benchmark_sq[(task, metric)])}", path)
            blocks.append(Figure(path, f"{task} — {metric} signal quality", caption))
    for family, blocks in families.items():
        tasks = {task for task, _ in keys if _family(task) == family}
        figures = sum(isinstance(b, Figure) for b in blocks)
        plot_blocks.append(Fold(f"{family}: {len(tasks)} task(s), {figures} plot(s)", blocks,
                                open=len(keys) <= FOLD_OPEN_MAX))

    blocks = _blocks(runs, overview, _decision_blocks(runs, out_dir),
                     _acquisition_blocks(runs, table, styles, out_dir, legend_title)
                     + _slope_blocks(runs, styles, out_dir), plot_blocks)
    markdown = atomic_write_text(out_dir / "report.md", _to_markdown(blocks, out_dir))
    page = atomic_write_text(out_dir / "report.html", _to_html(blocks))
    return {"html": page, "markdown": markdown, "plots": _figures(blocks)}


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
        caption = _plot_decision(decisions, run.scores["settings"]["x"], title, path)
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
                    _label(run, model, several)] = entry
    blocks = []
    for (family, axis), entries in sorted(families.items()):
        blocks.append(Heading(f"{family} — age of acquisition on {AXIS_LABELS[axis]}", 3))
        rows = table[table["task"].isin(list(entries)) & (table["metric"] == "acc")]
        x = rows[axis].to_numpy(dtype=float)
        x = x[x > 0]
        if len(x):
            path = out_dir / PLOTS / f"aoa_{safe_name(family)}_{axis}.png"
            caption = _plot_aoa(family, axis, entries, (x.min(), x.max()), styles, path, legend_title)
            blocks.append(Figure(path, f"{family} — age of acquisition per task", caption))
        blocks.append(Table(
            ["task", "series", "status", f"AoA ({AXIS_LABELS[axis]})", "fitted ceiling", "chance", "note"],
            [[task, model, e["status"], "–" if e["aoa"] is None else _human(e["aoa"]), fmt(e["ceiling"]),
              f"{e['chance']:g}", e["note"] or ""]
             for task in _aoa_order(entries) for model, e in entries[task].items()],
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
            name = _label(run, model, several)
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
                caption = _plot_item_slopes(drawn, name, family, axis, styles[name][0], path)
                blocks.append(Figure(path, f"{name} — {family}: item slopes", caption + skipped))
    if not blocks:
        return []
    return [Heading("Item slopes"), Paragraph(
        "Each item's margin (log-probability of the right answer minus the wrong one) is regressed on log10 "
        "training amount; a task whose items rise one by one shows a broad histogram right of zero, one whose "
        "items never move a peak at zero. An item rises or falls when its slope differs from zero at p < 0.05."),
        *blocks]


def _figures(blocks: list) -> list[Path]:
    """The plots in the report's order, those in folds included."""
    paths = []
    for block in blocks:
        if isinstance(block, Figure):
            paths.append(block.path)
        elif isinstance(block, Fold):
            paths.extend(_figures(block.blocks))
    return paths
