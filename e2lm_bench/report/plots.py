"""The report's plots of scores over training (task curves, the overview heatmap, SQ bars, decision accuracy)
and what every plot of the report shares: one training axis, one colour and marker per series.

Matplotlib is imported only inside the functions, and figures are built with the object API on an Agg canvas:
nothing is registered with pyplot, so the caller's backend is untouched and no figure outlives its function.
Each ``plot_*`` function writes its PNG and returns the caption, which says in words what the plot shows.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from e2lm_bench.report.formatting import count, human, missing

LOG_SPAN = 100.0  # more than 2 decades of positive x values -> log axis
AXIS_LABELS = {"tokens": "tokens", "words": "words", "step": "training step"}
SQ_PARTS = (  # key in scores.json, legend label, colour
    ("monotonicity", "monotonicity", "#4C72B0"),
    ("autocorrelation", "autocorrelation", "#DD8452"),
    ("sq", "SQ", "#55A868"),
)
MARKERS = "osD^vPX*<>"
DPI = 110
ANNOTATE_MAX_CELLS = 160  # a heatmap with more cells than this is too dense for numbers in its cells


def choose_x_axis(frame: pd.DataFrame) -> tuple[str, bool]:
    """The x column for one task's rows (tokens, else words, else step) and whether it needs a log scale.

    Tokens or words are used only when every row has them, so all models of a task share one axis.
    """
    column = next((c for c in ("tokens", "words") if len(frame) and frame[c].notna().all()), "step")
    return column, log_scale(frame[column].to_numpy(dtype=float))


def log_scale(values: np.ndarray) -> bool:
    """More than LOG_SPAN between the smallest and largest positive value: a linear axis would crush the start."""
    positive = values[values > 0]
    return bool(len(positive) >= 2 and positive.max() / positive.min() > LOG_SPAN)


def training_axis(ax, values: np.ndarray, axis: str, log: bool) -> None:
    """Training amount on x as every plot of the report shows it: log scale when asked, 20K-style ticks for
    large counts (below 1e4 plain numbers read better than a mix of 800 and 1K) and the axis' name."""
    from matplotlib.ticker import FuncFormatter

    if log:
        ax.set_xscale("log")
    if log or np.abs(values).max(initial=0) >= 1e4:
        ax.xaxis.set_major_formatter(FuncFormatter(human))
    ax.set_xlabel(AXIS_LABELS[axis] + (" (log scale)" if log else ""))


def new_figure(width: float, height: float):
    """A figure on its own Agg canvas, outside pyplot's registry, so it is freed when dropped."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    figure = MplFigure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def save(figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, bbox_inches="tight")
    figure.clear()
    return path


def model_styles(models: list[str]) -> dict[str, tuple]:
    """One colour and marker per model, the same in every plot of the report."""
    from matplotlib import colormaps

    palette = colormaps["tab10" if len(models) <= 10 else "tab20"]
    return {m: (palette(i % palette.N), MARKERS[i % len(MARKERS)]) for i, m in enumerate(models)}


def plot_curve(rows: pd.DataFrame, task: str, metric: str, x: str, log: bool, styles: dict, path: Path,
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

    figure = new_figure(8, 4.5)
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
    training_axis(ax, rows[x].to_numpy(dtype=float), x, log)
    ax.set_ylabel(metric)
    ax.set_title(f"{task} — {metric}")
    ax.grid(True, alpha=0.3, which="major")
    if len(rows):
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False, title=legend_title,
                  title_fontsize=8)
    save(figure, path)
    band = " Shaded band: ±1 standard error." if rows["stderr"].notna().any() else ""
    lines = f" Lines ({legend_title}): {', '.join(shown)}." if shown else ""
    return " ".join([f"{task} / {metric} over {AXIS_LABELS[x]}{' (log scale)' if log else ''}.{band}{lines}", *notes])


def plot_members(rows: pd.DataFrame, group: str, metric: str, x: str, log: bool, styles: dict, path: Path,
                 legend_title: str) -> str:
    """The curves of a group's subtasks in one figure (a thin line each, per series) under the group's own curve,
    so a suite of many subtasks (BLiMP's 67 UIDs) reads as one picture; returns the caption."""
    rows = rows[rows[x].notna() & ((rows[x] > 0) if log else True)]
    figure = new_figure(8, 4.5)
    ax = figure.add_subplot()
    shown = [m for m in styles if m in set(rows["model"])]
    for model in shown:
        color, _ = styles[model]
        for _, points in rows[rows["model"] == model].groupby("task"):
            points = points.sort_values(x)
            ax.plot(points[x], points["value"], linewidth=0.7, alpha=0.35, color=color)
        ax.plot([], [], color=color, linewidth=1.5, label=model)
    training_axis(ax, rows[x].to_numpy(dtype=float), x, log)
    ax.set_ylabel(metric)
    ax.set_title(f"{group}: its {rows['task'].nunique()} subtasks — {metric}")
    ax.grid(True, alpha=0.3, which="major")
    if shown:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False, title=legend_title,
                  title_fontsize=8)
    save(figure, path)
    return (f"{metric} of each of the {rows['task'].nunique()} subtasks of {group} over {AXIS_LABELS[x]}"
            f"{' (log scale)' if log else ''}, one thin line per subtask and series; the group's own curve is "
            "plotted above, and every subtask's value is in the results table.")


def plot_heatmap(rows: pd.DataFrame, series: str, metric: str, path: Path) -> str:
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
    figure = new_figure(min(14.0, max(6.0, 3.0 + 0.6 * n_checkpoints)), max(2.6, 1.4 + 0.3 * n_tasks))
    ax = figure.add_subplot()
    cmap = colormaps["RdBu"].with_extremes(bad="#dddddd")
    image = ax.imshow(values, aspect="auto", cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
    annotated = values.size <= ANNOTATE_MAX_CELLS
    if annotated:
        for (i, j), value in np.ndenumerate(values):
            if not math.isnan(value):
                ax.text(j, i, f"{value:+.2f}", ha="center", va="center", fontsize=7,
                        color="white" if abs(value) > 0.6 * limit else "black")
    ax.set_xticks(range(n_checkpoints), [human(v) for v in order[x]], fontsize=8,
                  rotation=45 if n_checkpoints > 10 else 0)
    ax.set_yticks(range(n_tasks), list(change.index), fontsize=8)
    ax.set_xlabel(f"checkpoint ({AXIS_LABELS[x]})")
    ax.set_title(f"series {series} — {metric}: change since the first checkpoint")
    bar = figure.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
    bar.set_label(f"{metric}, change since the first checkpoint", fontsize=8)
    save(figure, path)
    cells = " Cells show the change to 2 decimals." if annotated else ""
    return (f"Series {series}, {metric}: each cell is the change in {metric} from the task's first checkpoint to "
            f"that checkpoint (blue: higher, red: lower, white: unchanged; grey: not evaluated).{cells}")


def plot_sq(task: str, metric: str, entries: dict, sq: str, path: Path) -> str:
    """Monotonicity, autocorrelation and SQ per series as grouped bars; returns the caption.

    ``entries`` maps a series to its entry in scores.json; ``sq`` says the benchmark's SQ for the title.
    """
    series = list(entries)
    crowded = len(series) > 4 or max(map(len, series)) > 14  # rotate tick labels, keep only the n/a bar labels
    figure = new_figure(min(11.0, max(5.0, 1.2 + 0.9 * len(series))), 3.8)
    ax = figure.add_subplot()
    width = 0.8 / len(SQ_PARTS)
    lowest = 0.0
    for i, (key, label, color) in enumerate(SQ_PARTS):
        values = [entries[m][key] for m in series]
        heights = [0.0 if missing(v) else v for v in values]
        lowest = min(lowest, *heights)
        positions = [j + (i - (len(SQ_PARTS) - 1) / 2) * width for j in range(len(series))]
        bars = ax.bar(positions, heights, width, label=label, color=color)
        labels = ["n/a" if missing(v) else "" if crowded else f"{v:.2f}" for v in values]
        ax.bar_label(bars, labels=labels, fontsize=7, padding=1, rotation=90 if crowded else 0)
    warned = [m for m in series if entries[m].get("warning")]
    sep = " " if crowded else "\n"
    ticks = [f"{m}{' *' if m in warned else ''}{sep}(n={count(entries[m].get('n'))})" for m in series]
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
    save(figure, path)
    caption = f"{task} / {metric}: SQ parts per series (n = points in the curve)."
    return caption + (" * = see Warnings." if warned else "")


def plot_decision(decisions: dict[str, dict], axis: str, title: str, path: Path) -> str:
    """Decision accuracy over the small models' training, one line per benchmark; returns the caption.

    ``decisions`` maps a benchmark ("task / metric") to its ``decision`` entry in scores.json, ``axis`` is the
    scoring x axis its curve is on.
    """
    x = np.array([point[0] for entry in decisions.values() for point in entry["curve"]], dtype=float)
    log = log_scale(x)
    styles = model_styles(list(decisions))
    figure = new_figure(8, 4.5)
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
    training_axis(ax, x, axis, log)
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("decision accuracy (share of pairs)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False, title="benchmark",
              title_fontsize=8, ncol=1 + len(decisions) // 20)
    save(figure, path)
    bars = " Bars at the last point: 95% item-bootstrap interval of the final decision accuracy." if intervals else ""
    return (f"{title}: at each checkpoint of the small models ({AXIS_LABELS[axis]}{', log scale' if log else ''}), "
            f"the share of pairs they order as the target models are ordered at their final checkpoint; dashed: "
            f"chance.{bars}")
