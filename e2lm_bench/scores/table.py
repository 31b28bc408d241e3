"""``score_results`` output as the table ``e2lm-bench score`` prints, with its notes."""

from __future__ import annotations

from e2lm_bench.scores.acquisition import BEFORE_FIRST, NO_FIT, NOT_LEARNED

BENCHMARK_ROW = "= benchmark"
CELL_WIDTHS = (7, 7, 7, 5, 7, 7, 7)  # mono, AC, SQ, n, RC, CS, score
AOA_CELLS = {NO_FIT: "no fit", NOT_LEARNED: "not", BEFORE_FIRST: "<first"}
NOTE_TASKS_SHOWN = 3


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _interval_cell(ci) -> str:
    return "" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _optional_columns(scores: dict) -> list[tuple[str, int, object, object]]:
    """(header, width, model cell, benchmark cell) of the figures beyond SQ/RC/CS; "" where one does not apply."""
    acquisition, slopes = scores.get("acquisition") or {}, scores.get("item_slopes") or {}

    def aoa(bench, model, quality):
        entry = acquisition.get(model, {}).get(bench["task"]) if bench["metric"] == "acc" else None
        if entry is None:
            return ""
        return f"{entry['aoa']:.3g}" if entry["aoa"] is not None else AOA_CELLS.get(entry["status"], "-")

    def rise(bench, model, quality):
        entry = slopes.get(model, {}).get(bench["task"]) if bench["metric"] == "acc" else None
        return "" if entry is None or entry["rising_share"] is None else f"{entry['rising_share']:.0%}"

    snr = lambda bench, key: _cell(bench["snr"][key]) if bench.get("snr") else ""  # noqa: E731
    return [
        ("noise", 7, lambda b, m, q: _cell(q["noise"]) if "noise" in q else "", lambda b: snr(b, "noise")),
        ("SNR", 7, lambda b, m, q: "", lambda b: snr(b, "snr")),
        ("dec", 7, lambda b, m, q: "", lambda b: _cell(b["decision"]["final"]) if b.get("decision") else ""),
        ("AoA", 8, aoa, lambda b: ""),
        ("rise", 5, rise, lambda b: ""),
        ("SQ 95%", 16, lambda b, m, q: _interval_cell(q.get("sq_ci")), lambda b: _interval_cell(b.get("sq_ci"))),
        ("SNR 95%", 16, lambda b, m, q: "", lambda b: _interval_cell((b.get("snr") or {}).get("snr_ci"))),
    ]


def format_scores(scores: dict) -> str:
    """A terminal table of ``score_results`` output, then one ``note:`` line per degenerate series and setting note.

    Columns are as wide as the longest name. A benchmark line follows a task's models only when it adds
    something: the mean over several models, or RC, CS and the score. Columns beyond SQ/RC/CS/score (noise,
    SNR, decision accuracy, age of acquisition, rising items, intervals) appear only when some row has a value.
    A benchmark note shared by many benchmarks is printed once, naming the first few.
    """
    benchmarks = scores["benchmarks"]
    names = [(b["task"], b["metric"], model) for b in benchmarks for model in b["models"]]
    # the model column also holds the benchmark line's label, longer than the header "model"
    widths = [max([len(floor), *(len(name[i]) for name in names)]) for i, floor in enumerate(("task", "metric", BENCHMARK_ROW))]
    optional = _optional_columns(scores)
    rows, notes, shared = [], [], {}
    for bench in benchmarks:
        task, metric, models = bench["task"], bench["metric"], bench["models"]
        for model, quality in models.items():
            cells = (_cell(quality["monotonicity"]), _cell(quality["autocorrelation"]), _cell(quality["sq"]), str(quality["n"]))
            rows.append(((task, metric, model), cells + ("", "", ""), [cell(bench, model, quality) for _, _, cell, _ in optional]))
            if quality["warning"]:
                notes.append(f"{task} {metric} {model}: {quality['warning']}")
        if len(models) > 1 or any(bench[key] is not None for key in ("rc", "cs", "score")):
            cells = ("", "", _cell(bench["sq"]), "", _cell(bench["rc"]), _cell(bench["cs"]), _cell(bench["score"]))
            rows.append(((task, metric, BENCHMARK_ROW), cells, [cell(bench) for _, _, _, cell in optional]))
        for note in bench.get("notes") or []:
            shared.setdefault(note, []).append(f"{task} {metric}")
    shown = [i for i in range(len(optional)) if any(extra[i] not in ("", "-") for _, _, extra in rows)]
    cell_widths = CELL_WIDTHS + tuple(optional[i][1] for i in shown)

    def line(label, cells) -> str:
        text = "  ".join(f"{name:<{width}}" for name, width in zip(label, widths))
        return (text + " " + " ".join(f"{cell:>{width}}" for cell, width in zip(cells, cell_widths))).rstrip()

    header = ("mono", "AC", "SQ", "n", "RC", "CS", "score", *(optional[i][0] for i in shown))
    lines = [line(("task", "metric", "model"), header)]
    lines += [line(label, (*cells, *(extra[i] for i in shown))) for label, cells, extra in rows]
    for note, where in shared.items():
        more = f" and {len(where) - NOTE_TASKS_SHOWN} more" if len(where) > NOTE_TASKS_SHOWN else ""
        notes.append(f"{note} ({', '.join(where[:NOTE_TASKS_SHOWN])}{more})")
    notes += scores["settings"].get("notes") or []
    if notes:
        lines += ["", *(f"note: {note}" for note in notes)]
    return "\n".join(lines)
