"""The report's text and tables, from scores.json and the failures: what was run, how to read the report, the
scores, signal quality per series, warnings and failed checkpoints, in the report's order around the figure
sections that build.py makes. Older scores.json files lack the newer measures: their columns are then left out."""

from __future__ import annotations

from e2lm_bench.report.blocks import Bullets, Heading, Paragraph, Table
from e2lm_bench.report.formatting import count, fmt, missing
from e2lm_bench.report.runs import Run, series_label


def report_blocks(runs: list[Run], overview: list, decision: list, dynamics: list, plot_blocks: list) -> list:
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
                [b["task"], b["metric"], series_label(run, model, several), count(m.get("n")),
                 *(_with_ci(m[key], m.get(f"{key}_ci")) for key in ("monotonicity", "autocorrelation", "sq")),
                 *_cells(m, series_columns)]
                for run in runs for b in run.scores["benchmarks"] for model, m in b["models"].items()
            ],
        ),
        Heading("Warnings"),
    ]
    warnings = [
        f"{b['task']} / {b['metric']}, {series_label(run, model, several)}: {m['warning']}"
        for run in runs for b in run.scores["benchmarks"] for model, m in b["models"].items() if m.get("warning")
    ]
    blocks.append(Bullets(warnings) if warnings else Paragraph("none"))
    blocks.append(Heading("Failed checkpoints"))
    failures = [[series_label(run, f["model"], several), f["checkpoint"], f["error"]] for run in runs for f in run.failures]
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
    return [column for column in figures if any(not missing(_dig(e, column[1])) for e in entries)]


def _cells(entry: dict, columns: list[tuple]) -> list[str]:
    return [_with_ci(_dig(entry, value), _dig(entry, ci)) for _, value, ci in columns]


def _with_ci(value: float | None, ci: list | None) -> str:
    """A figure with its 95% interval where one was bootstrapped: 0.810 [0.740, 0.860]."""
    return fmt(value) if not ci else f"{fmt(value)} [{fmt(ci[0])}, {fmt(ci[1])}]"


def _pairs(pairs: list | None) -> str:
    return "none" if not pairs else ", ".join(f"{a} vs {b}" for a, b in pairs)
