"""The human-readable view of a run folder: curve and SQ plots, ``report.md`` and a self-contained ``report.html``.

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

import pandas as pd

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.errors import UserError
from e2lm_bench.results import FAILURES_JSON, read_results, safe_name

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


def choose_x_axis(frame: pd.DataFrame) -> tuple[str, bool]:
    """The x column for one task's rows (tokens, else words, else step) and whether it needs a log scale.

    Tokens or words are used only when every row has them, so all models of a task share one axis.
    """
    column = next((c for c in ("tokens", "words") if len(frame) and frame[c].notna().all()), "step")
    positive = frame[column][frame[column] > 0]
    return column, bool(len(positive) >= 2 and positive.max() / positive.min() > LOG_SPAN)


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


def _plot_curve(rows: pd.DataFrame, task: str, metric: str, x: str, log: bool, styles: dict, path: Path) -> str:
    """Value over training, one line per model with a ±stderr band; returns the caption."""
    from matplotlib.ticker import FuncFormatter

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
    for model, points in rows.groupby("model", sort=True):
        points = points.sort_values(x)
        color, marker = styles[model]
        ax.plot(points[x], points["value"], marker=marker, markersize=4, linewidth=1.5, color=color, label=model)
        if points["stderr"].notna().any():
            ax.fill_between(
                points[x], points["value"] - points["stderr"], points["value"] + points["stderr"],
                color=color, alpha=0.18, linewidth=0,
            )
    if log:
        ax.set_xscale("log")
    if log or rows[x].abs().max() >= 1e4:  # below that, plain numbers read better than a mix of 800 and 1K
        ax.xaxis.set_major_formatter(FuncFormatter(_human))
    ax.set_xlabel(AXIS_LABELS[x] + (" (log scale)" if log else ""))
    ax.set_ylabel(metric)
    ax.set_title(f"{task} — {metric}")
    ax.grid(True, alpha=0.3, which="major")
    if len(rows):
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False, title="model")
    _save(figure, path)
    band = " Shaded band: ±1 standard error." if rows["stderr"].notna().any() else ""
    return " ".join([f"{task} / {metric} over {AXIS_LABELS[x]}{' (log scale)' if log else ''}.{band}", *notes])


def _plot_sq(benchmark: dict, path: Path) -> str:
    """Monotonicity, autocorrelation and SQ per model as grouped bars; returns the caption."""
    models = list(benchmark["models"])
    crowded = len(models) > 4 or max(map(len, models)) > 14  # rotate tick labels, keep only the n/a bar labels
    figure = _new_figure(min(11.0, max(5.0, 1.2 + 0.9 * len(models))), 3.8)
    ax = figure.add_subplot()
    width = 0.8 / len(SQ_PARTS)
    lowest = 0.0
    for i, (key, label, color) in enumerate(SQ_PARTS):
        values = [benchmark["models"][m][key] for m in models]
        heights = [0.0 if _missing(v) else v for v in values]
        lowest = min(lowest, *heights)
        positions = [j + (i - (len(SQ_PARTS) - 1) / 2) * width for j in range(len(models))]
        bars = ax.bar(positions, heights, width, label=label, color=color)
        labels = ["n/a" if _missing(v) else "" if crowded else f"{v:.2f}" for v in values]
        ax.bar_label(bars, labels=labels, fontsize=7, padding=1, rotation=90 if crowded else 0)
    warned = [m for m in models if benchmark["models"][m].get("warning")]
    sep = " " if crowded else "\n"
    ticks = [f"{m}{' *' if m in warned else ''}{sep}(n={_count(benchmark['models'][m].get('n'))})" for m in models]
    ax.set_xticks(
        range(len(models)), ticks, rotation=30 if crowded else 0, ha="right" if crowded else "center", fontsize=8
    )
    ax.set_ylim(min(0.0, lowest - 0.1), 1.08)
    if lowest < 0:
        ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("value")
    ax.set_title(f"{benchmark['task']} — {benchmark['metric']}: signal quality (SQ {fmt(benchmark['sq'])})")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    _save(figure, path)
    caption = f"{benchmark['task']} / {benchmark['metric']}: SQ parts per model (n = points in the curve)."
    return caption + (" * = see Warnings." if warned else "")


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


def _blocks(run_dir: Path, table: pd.DataFrame, scores: dict, failures: list, plot_blocks: list) -> list:
    """The report's content, independent of the output format."""
    settings = scores["settings"]
    benchmarks = scores["benchmarks"]
    checkpoints = len(table[["model", "checkpoint"]].drop_duplicates())
    rc_reference = "none" if settings["rc_reference"] is None else settings["rc_reference"]
    blocks: list = [
        Heading(f"E2LM benchmark report: {run_dir.resolve().name}", 1),
        Paragraph(
            f"{table['model'].nunique()} model(s), {checkpoints} checkpoint(s), "
            f"{table['task'].nunique()} task(s), {len(table)} result row(s)."
        ),
        Heading("How to read this report"),
        Paragraph(
            "Each curve plot shows one task metric over training, one line per model, with a shaded band of "
            "±1 standard error where the evaluation reported one. SQ (signal quality) is the mean of a curve's "
            "monotonicity and its lag autocorrelation, the E2LM organizers' definition; higher means the "
            "benchmark tracks training more smoothly. The global score weights SQ, RC and CS; RC (ranking "
            "consistency) and CS (scientific compliance) are this package's reconstructions. Notes from the "
            "scoring step:"
        ),
        Bullets(settings.get("notes") or ["none"]),
        Paragraph("Scoring settings:"),
        Bullets([
            f"scoring x axis: {settings['x']}; weights (SQ, RC, CS): {', '.join(str(w) for w in settings['weights'])}",
            f"RC: {settings['rc_variant']}, pairs {_pairs(settings['rc_pairs'])}, reference {rc_reference}",
            f"CS: {settings['cs_variant']}, pairs {_pairs(settings['cs_pairs'])}",
        ]),
        Heading("Scores"),
        Table(
            ["task", "metric", "SQ", "RC", "CS", "score"],
            [[b["task"], b["metric"], fmt(b["sq"]), fmt(b["rc"]), fmt(b["cs"]), fmt(b["score"])] for b in benchmarks],
        ),
        Heading("Signal quality per model"),
        Table(
            ["task", "metric", "model", "n", "monotonicity", "autocorrelation", "SQ"],
            [
                [b["task"], b["metric"], model, _count(m.get("n")),
                 fmt(m["monotonicity"]), fmt(m["autocorrelation"]), fmt(m["sq"])]
                for b in benchmarks for model, m in b["models"].items()
            ],
        ),
        Heading("Warnings"),
    ]
    warnings = [
        f"{b['task']} / {b['metric']}, {model}: {m['warning']}"
        for b in benchmarks for model, m in b["models"].items() if m.get("warning")
    ]
    blocks.append(Bullets(warnings) if warnings else Paragraph("none"))
    blocks.append(Heading("Failed checkpoints"))
    blocks.append(
        Table(["model", "checkpoint", "error"], [[f["model"], f["checkpoint"], f["error"]] for f in failures])
        if failures else Paragraph("none")
    )
    blocks.append(Heading("Plots"))
    blocks.extend(plot_blocks)
    return blocks


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


def _to_markdown(blocks: list, run_dir: Path) -> str:
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
            out.append(f"![{_md(block.alt)}]({block.path.relative_to(run_dir).as_posix()})\n\n*{_md(block.caption)}*")
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
"""


def _to_html(blocks: list) -> str:
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
    title = esc(blocks[0].text)
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{title}</title>\n'
        f"<style>{CSS}</style>\n</head>\n<body>\n" + "\n".join(out) + "\n</body>\n</html>\n"
    )


def write_report(
    run_dir: str | Path,
    table: pd.DataFrame | None = None,
    scores: dict | None = None,
    failures: list | None = None,
    reward_logs: dict[str, str | Path] | None = None,
    round_logs: dict[str, str | Path] | None = None,
) -> dict[str, Path | list[Path]]:
    """Plots, report.md and a single-file report.html for a run folder; what is not given is read from it.

    ``reward_logs`` maps an RL series name to its ``rewards.csv``; each gets a reward plot before the curves.
    ``round_logs`` maps an interaction series name to its ``rounds.csv``; each gets a plot of its rounds.
    Returns {"html": path, "markdown": path, "plots": [paths]}.
    """
    run_dir = Path(run_dir)
    scores = _load_scores(run_dir) if scores is None else scores
    table = read_results(run_dir) if table is None else table
    failures = _load_failures(run_dir) if failures is None else failures

    models = sorted(set(table["model"]) | {m for b in scores["benchmarks"] for m in b["models"]})
    styles = _model_styles(models)
    by_key = {(b["task"], b["metric"]): b for b in scores["benchmarks"]}
    in_table = sorted(set(map(tuple, table[["task", "metric"]].drop_duplicates().to_numpy())))
    plot_blocks: list = []
    for run, log_path in (reward_logs or {}).items():
        plot_blocks.append(Heading(f"{run} — RL reward", 3))
        path = run_dir / PLOTS / f"rewards_{safe_name(run)}.png"
        caption = _plot_rewards(read_training_log(log_path), run, path)
        plot_blocks.append(Figure(path, f"{run} — reward per RL step", caption))
    for run, log_path in (round_logs or {}).items():
        plot_blocks.append(Heading(f"{run} — interaction rounds", 3))
        path = run_dir / PLOTS / f"rounds_{safe_name(run)}.png"
        caption = _plot_rounds(read_training_log(log_path), run, path)
        plot_blocks.append(Figure(path, f"{run} — losses and margin per interaction round", caption))
    for task, metric in [*by_key, *(k for k in in_table if k not in by_key)]:  # the score table's order first
        plot_blocks.append(Heading(f"{task} — {metric}", 3))
        name = f"{safe_name(task)}_{safe_name(metric)}"
        task_rows = table[table["task"] == task]
        rows = task_rows[task_rows["metric"] == metric]
        if len(rows):
            x, log = choose_x_axis(task_rows)
            path = run_dir / PLOTS / f"curve_{name}.png"
            caption = _plot_curve(rows, task, metric, x, log, styles, path)
            plot_blocks.append(Figure(path, f"{task} — {metric} curves", caption))
        if (task, metric) in by_key and by_key[(task, metric)]["models"]:
            path = run_dir / PLOTS / f"sq_{name}.png"
            caption = _plot_sq(by_key[(task, metric)], path)
            plot_blocks.append(Figure(path, f"{task} — {metric} signal quality", caption))

    blocks = _blocks(run_dir, table, scores, failures, plot_blocks)
    markdown = atomic_write_text(run_dir / "report.md", _to_markdown(blocks, run_dir))
    page = atomic_write_text(run_dir / "report.html", _to_html(blocks))
    return {"html": page, "markdown": markdown, "plots": [b.path for b in plot_blocks if isinstance(b, Figure)]}
