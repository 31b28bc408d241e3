"""Plots of how tasks are learned over training, from what scoring adds per task: ages of acquisition as a dot
plot per task family, and histograms of the items' margin slopes per series and family."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from e2lm_bench.report.formatting import human
from e2lm_bench.report.plots import AXIS_LABELS, new_figure, save, training_axis

AOA_SHORT = {"learned before the first checkpoint": "before first checkpoint"}  # statuses too long for a margin


def aoa_order(entries: dict[str, dict[str, dict]]) -> list[str]:
    """Tasks by their median AoA over the series that learned them; tasks no series learned last, by name."""
    def key(task):
        ages = [e["aoa"] for e in entries[task].values() if e["status"] == "learned"]
        return (0, float(np.median(ages)), task) if ages else (1, 0.0, task)
    return sorted(entries, key=key)


def plot_aoa(family: str, axis: str, entries: dict[str, dict[str, dict]], span: tuple[float, float], styles: dict,
             path: Path, legend_title: str) -> str:
    """Ages of acquisition of a task family as a dot plot, earliest on top; returns the caption.

    ``entries`` maps task -> series -> its ``acquisition`` entry; ``span`` is the evaluated checkpoints' range
    on ``axis``, the only range where an age can be found. Statuses are written at the right margin, never
    drawn as dots: "not learned" has no age to place.
    """
    from matplotlib.ticker import LogLocator, NullFormatter
    from matplotlib.transforms import offset_copy

    tasks = aoa_order(entries)
    series = [m for m in styles if any(m in entries[t] for t in tasks)]
    figure = new_figure(9, 1.6 + 0.32 * len(tasks) * max(1.0, len(series) / 2))
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
    training_axis(ax, np.array(span), axis, True)
    if span[1] / span[0] < 30:  # under ~1.5 decades a log axis has one or two labelled ticks
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, axis="x", alpha=0.3, which="major")
    ax.set_title(f"{family} — age of acquisition (halfway from chance to the fitted ceiling)")
    if shown:  # below the x label: the right margin holds the statuses
        below = offset_copy(ax.transAxes, fig=figure, y=-36, units="points")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=below, fontsize=8, frameon=False,
                  title=legend_title, title_fontsize=8, ncol=min(4, len(shown)))
    save(figure, path)
    learned = sum(e["status"] == "learned" for t in tasks for e in entries[t].values())
    total = sum(len(entries[t]) for t in tasks)
    return (f"{family}: age of acquisition per task on {AXIS_LABELS[axis]} (log scale), earliest on top; "
            f"{learned} of {total} curve(s) learned within the evaluated checkpoints ({human(span[0])} to "
            f"{human(span[1])} {AXIS_LABELS[axis]}, the x range shown). Curves without an age are named at the "
            "right with their status, not drawn. No intervals: scoring gives none for ages of acquisition.")


def plot_item_slopes(entries: dict[str, dict], series: str, family: str, axis: str, color, path: Path) -> str:
    """Per task of a family, the histogram of its items' margin slopes, for one series; returns the caption.

    Each task keeps its own bins (scores.json stores the histogram, not the slopes), so tasks get panels
    instead of one merged histogram; each panel has its own x range, since one fast task would squeeze the rest.
    """
    from matplotlib.ticker import MaxNLocator

    tasks = sorted(entries)
    columns = min(4, len(tasks))
    rows = math.ceil(len(tasks) / columns)
    figure = new_figure(1.0 + 3.0 * columns, 1.2 + 2.0 * rows)
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
    save(figure, path)
    n_items = sum(entries[t]["n_items"] for t in tasks)
    rising = sum(entries[t]["rising_share"] * entries[t]["n_items"] for t in tasks) / n_items
    falling = sum(entries[t]["falling_share"] * entries[t]["n_items"] for t in tasks) / n_items
    return (f"Series {series}, {family}: per task, how many items' margins (log-probability of the right answer "
            f"minus the wrong one, nats) change by how much per 10× {AXIS_LABELS[axis]}. {rising:.0%} of "
            f"{n_items} items rise significantly (p < 0.05), {falling:.0%} fall; dashed line: no change. Panels are "
            f"titled by task without the \"{family}_\" prefix; each has its own x range.")
