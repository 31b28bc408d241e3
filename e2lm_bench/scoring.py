"""E2LM scores of a benchmark from checkpoint series: Signal Quality, Ranking Consistency, Scientific Compliance.

SQ follows the organizers' KIT5 code exactly (reference §2), so local numbers match the published ones; the
places where their code returns NaN get explicit, documented values instead. RC and CS are reconstructions
(reference §3, §4): the organizers' formulas are not public, so both take a ``variant`` and are proxies only.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from e2lm_bench.results import COLUMNS, ResultsError

DEFAULT_WEIGHTS = (0.5, 0.1, 0.4)
RC_VARIANTS = ("agreement", "kendall")
CS_VARIANTS = ("win_rate", "gap")
MIN_POINTS_FOR_LAG = 8  # range(1, n // 4) is empty below this
RECONSTRUCTION_NOTE = (
    "RC and CS are reconstructions: the organizers' formulas are not public (reference §3, §4); "
    "treat them as proxies, not leaderboard values."
)


class SignalQualityWarning(UserWarning):
    """A series for which the organizers' code would give NaN; the replacement value is in the message.

    Emitted by :func:`signal_quality` only: ``score_results`` keeps each note in its output instead, and
    ``format_scores`` prints it once as ``note: TASK METRIC MODEL: ...``, with no Python source line.
    """


@dataclass(frozen=True)
class SignalQuality:
    """SQ of one model's series; ``warning`` carries any degenerate-case rule applied, for reports."""

    monotonicity: float
    autocorrelation: float
    sq: float
    n: int
    warning: str | None = None


def signal_quality(values) -> SignalQuality:
    """The organizers' per-model SQ of values in training order, with defined results where theirs is NaN.

    Monotonicity: Spearman between position 0..n-1 and the ordinal ranks ``argsort(argsort(y))``, clipped below
    at 0. Tied values rank in order of appearance (a stable sort; scipy's ``rankdata(method="ordinal")``): numpy's
    default sort orders ties by CPU (AVX2 machines differ), and only the stable order reproduces the organizers'
    published arc_challenge example (Mono 0.8198). Average ranks (scipy's spearmanr) would differ. Autocorrelation:
    mean over lags ``range(1, n // 4)`` of ``|corrcoef(y[k:], y[:n-k])|``. SQ = (Mono + AC) / 2.

    Degenerate input (each rule is also warned and stored in ``.warning``):
    - missing values (None, NaN, ±inf) are dropped; Mono uses the positions of the remaining points;
    - fewer than 2 points, or a constant series: Mono = AC = SQ = 0 (no signal; their code gives NaN);
    - fewer than 8 points: no lag exists, AC = 0, so SQ = Mono / 2;
    - a constant lagged window: that lag contributes 0 to the mean.
    """
    y = pd.Series(list(values), dtype="float64").to_numpy()
    notes = []
    finite = np.isfinite(y)
    if not finite.all():
        notes.append(f"{int((~finite).sum())} missing or non-finite value(s) dropped")
        y = y[finite]
    n = len(y)
    if n < 2 or np.ptp(y) == 0:
        notes.append(f"series of {n} point(s) has no signal" if n < 2 else "constant series has no signal")
        return _signal_quality(0.0, 0.0, n, notes)

    ranks = np.argsort(np.argsort(y, kind="stable"))
    d2 = int(((np.arange(n) - ranks) ** 2).sum())
    monotonicity = max(1.0 - 6.0 * d2 / (n * (n * n - 1)), 0.0)

    if n < MIN_POINTS_FOR_LAG:
        notes.append(f"series of n={n} < {MIN_POINTS_FOR_LAG} points has no lag; autocorrelation set to 0")
        return _signal_quality(monotonicity, 0.0, n, notes)
    lags, flat_lags = [], []
    for k in range(1, n // 4):
        later, earlier = y[k:], y[: n - k]
        if np.ptp(later) == 0 or np.ptp(earlier) == 0:
            flat_lags.append(k)
            lags.append(0.0)
        else:
            lags.append(abs(float(np.corrcoef(later, earlier)[0, 1])))
    if flat_lags:
        notes.append(f"constant window at lag(s) {', '.join(map(str, flat_lags))}; those lags count as 0")
    return _signal_quality(monotonicity, float(np.mean(lags)), n, notes)


def _signal_quality(monotonicity: float, autocorrelation: float, n: int, notes: list[str]) -> SignalQuality:
    warning = "; ".join(notes) or None
    if warning:
        warnings.warn(warning, SignalQualityWarning, stacklevel=3)
    return SignalQuality(
        monotonicity=float(monotonicity),
        autocorrelation=float(autocorrelation),
        sq=float((monotonicity + autocorrelation) / 2),
        n=n,
        warning=warning,
    )


def benchmark_sq(per_model: dict[str, SignalQuality]) -> float:
    """Benchmark SQ as the mean over models: reproduces the paper's MMLU-var 0.959 (reference §2)."""
    if not per_model:
        raise ValueError("benchmark_sq needs at least one model")
    return float(np.mean([quality.sq for quality in per_model.values()]))


def _clean(series: pd.Series, name: str) -> pd.Series:
    """A series indexed by x without missing values; duplicate x values would make alignment ambiguous."""
    series = series.dropna()
    if series.index.has_duplicates:
        duplicated = series.index[series.index.duplicated()].unique().tolist()
        raise ValueError(f"series {name!r} has duplicate x value(s) {duplicated[:5]}")
    return series.sort_index()


def ranking_consistency(
    curves: dict[str, pd.Series],
    pairs: list[tuple[str, str]],
    reference_step: float,
    variant: str = "agreement",
) -> float:
    """Reconstructed RC (reference §3; NOT the organizers' confirmed formula): does an early ordering last?

    For each pair (a, b), the reference point is the last common x <= ``reference_step``; every common x
    strictly after ``reference_step`` is compared with it, and the result is averaged over pairs.
    - "agreement": fraction of later points where sign(a - b) equals the sign at the reference point
      (MRAI's local proxy; 14/47 reproduces the published mmlu 0.2979 with 47 later checkpoints).
    - "kendall": the two-model Kendall tau between the reference and each later ordering, rescaled to
      [0, 1] as (tau + 1) / 2; it equals "agreement" without ties, and a tie on either side counts 0.5.
    Unknown: the organizers' reference point, whether all models are ranked jointly, any rescaling.
    """
    if variant not in RC_VARIANTS:
        raise ValueError(f"unknown RC variant {variant!r}; expected one of {RC_VARIANTS}")
    if not pairs:
        raise ValueError("ranking_consistency needs at least one pair")
    per_pair = []
    for a, b in pairs:
        missing = [model for model in (a, b) if model not in curves]
        if missing:
            raise ValueError(f"RC pair ({a!r}, {b!r}): no curve for {', '.join(map(repr, missing))}")
        diff = (_clean(curves[a], a) - _clean(curves[b], b)).dropna()
        early, later = diff[diff.index <= reference_step], diff[diff.index > reference_step]
        if early.empty:
            raise ValueError(f"RC pair ({a!r}, {b!r}): no common checkpoint at or before {reference_step}")
        if later.empty:
            raise ValueError(f"RC pair ({a!r}, {b!r}): no common checkpoint after {reference_step}")
        reference_sign = np.sign(early.iloc[-1])
        later_signs = np.sign(later.to_numpy())
        if variant == "agreement":
            per_pair.append(float(np.mean(later_signs == reference_sign)))
        else:
            per_pair.append(float(np.mean((reference_sign * later_signs + 1) / 2)))
    return float(np.mean(per_pair))


def scientific_compliance(
    science: pd.Series,
    control: pd.Series,
    variant: str = "win_rate",
    up_to: float | None = None,
    scale: float | None = None,
) -> float:
    """Reconstructed CS (reference §4; NOT the organizers' confirmed formula): does the science-mixture model
    beat the web-only control of the same size?

    Uses the common x values (<= ``up_to`` if given).
    - "win_rate": fraction of those checkpoints where science > control (ties lose).
    - "gap": mean(science - control) / ``scale``, clipped to [0, 1]; ``scale`` defaults to the pooled range
      (max - min) of both series over those checkpoints, and a zero range gives 0.
    """
    if variant not in CS_VARIANTS:
        raise ValueError(f"unknown CS variant {variant!r}; expected one of {CS_VARIANTS}")
    joined = pd.concat([_clean(science, "science"), _clean(control, "control")], axis=1, join="inner").dropna()
    if up_to is not None:
        joined = joined[joined.index <= up_to]
    if joined.empty:
        where = "" if up_to is None else f" at or before {up_to}"
        raise ValueError(f"CS: science and control series have no common checkpoint{where}")
    sci, ctrl = joined.iloc[:, 0].to_numpy(), joined.iloc[:, 1].to_numpy()
    if variant == "win_rate":
        return float(np.mean(sci > ctrl))
    if scale is None:
        scale = float(np.ptp(np.concatenate([sci, ctrl])))
        if scale == 0:
            return 0.0
    elif scale <= 0:
        raise ValueError(f"CS gap scale must be > 0, got {scale}")
    return float(np.clip(np.mean(sci - ctrl) / scale, 0.0, 1.0))


def global_score(sq: float, rc: float, cs: float, weights=DEFAULT_WEIGHTS) -> float:
    """The competition's weighted sum (reference §1); weights are a parameter as the organizers may change them."""
    w_sq, w_rc, w_cs = weights
    return float(w_sq * sq + w_rc * rc + w_cs * cs)


def _model_curves(group: pd.DataFrame, x: str, notes: list[str], label: str) -> dict[str, pd.Series]:
    """One value series per model indexed by ``x``; a model missing ``x`` anywhere falls back to step whole,
    so one series never mixes units."""
    curves = {}
    for model, rows in sorted(group.groupby("model", sort=False), key=lambda item: item[0]):
        axis = x
        if x != "step" and rows[x].isna().any():
            axis = "step"
            notes.append(f"{label} {model}: {x} missing for some checkpoints; ordered by step instead")
        placed = rows[rows[axis].notna()]
        if len(placed) < len(rows):
            notes.append(f"{label} {model}: {len(rows) - len(placed)} row(s) without {axis} ignored")
        if placed[axis].duplicated().any():
            raise ResultsError(f"{label} {model}: several rows share the same {axis}; cannot order the series")
        values = pd.Series(placed["value"].to_numpy(dtype=float), index=placed[axis].to_numpy(dtype=float))
        curves[str(model)] = values.sort_index()
    return curves


def _optional(compute, notes: list[str], label: str, what: str) -> float | None:
    """RC/CS for one benchmark, or None with a note when that benchmark lacks the models or checkpoints."""
    try:
        return compute()
    except ValueError as err:
        notes.append(f"{label}: {what} not computed ({err})")
        return None


def _as_float(value) -> float | None:
    return None if value is None else float(value)


def score_results(
    table: pd.DataFrame,
    x: str = "step",
    rc_pairs=None,
    rc_reference=None,
    cs_pairs=None,
    cs_variant: str = "win_rate",
    rc_variant: str = "agreement",
    weights=DEFAULT_WEIGHTS,
) -> dict:
    """Scores of every (task, metric) in a results table, as JSON-ready plain Python (no NaN, null instead).

    ``rc_pairs`` are (model_a, model_b) pairs compared after ``rc_reference`` (in ``x`` units); ``cs_pairs`` are
    (science_model, control_model) pairs, CS averaged over them. A benchmark that cannot get RC or CS (a model or
    checkpoint missing) gets null and a line in ``settings.notes``; ``score`` is set only when SQ, RC and CS are.
    """
    missing = [column for column in COLUMNS if column not in table.columns]
    if missing:
        raise ResultsError(f"results table: missing column(s) {', '.join(missing)}")
    if x not in ("step", "tokens", "words"):
        raise ValueError(f"x must be 'step', 'tokens' or 'words', got {x!r}")
    if rc_pairs and rc_reference is None:
        raise ValueError("rc_pairs given without rc_reference")
    # checked here, since a ValueError inside one benchmark only nulls that benchmark's RC or CS
    if rc_variant not in RC_VARIANTS:
        raise ValueError(f"unknown RC variant {rc_variant!r}; expected one of {RC_VARIANTS}")
    if cs_variant not in CS_VARIANTS:
        raise ValueError(f"unknown CS variant {cs_variant!r}; expected one of {CS_VARIANTS}")
    rc_pairs = [tuple(pair) for pair in rc_pairs] if rc_pairs else None
    cs_pairs = [tuple(pair) for pair in cs_pairs] if cs_pairs else None
    notes = [RECONSTRUCTION_NOTE]
    benchmarks = []
    for (task, metric), group in sorted(table.groupby(["task", "metric"], sort=False), key=lambda item: item[0]):
        label = f"{task}/{metric}"
        curves = _model_curves(group, x, notes, label)
        with warnings.catch_warnings():  # each series' note is in the output; format_scores prints it once, named
            warnings.simplefilter("ignore", SignalQualityWarning)
            per_model = {model: signal_quality(series.to_numpy()) for model, series in curves.items()}
        sq = benchmark_sq(per_model)
        rc = cs = None
        if rc_pairs:
            rc = _optional(
                lambda: ranking_consistency(curves, rc_pairs, rc_reference, rc_variant), notes, label, "RC"
            )
        if cs_pairs:
            cs = _optional(lambda: _mean_cs(curves, cs_pairs, cs_variant), notes, label, "CS")
        score = global_score(sq, rc, cs, weights) if rc is not None and cs is not None else None
        benchmarks.append({
            "task": str(task),
            "metric": str(metric),
            "sq": sq,
            "rc": rc,
            "cs": cs,
            "score": score,
            "models": {model: asdict(quality) for model, quality in per_model.items()},
        })
    return {
        "settings": {
            "x": x,
            "weights": [float(w) for w in weights],
            "rc_pairs": [list(pair) for pair in rc_pairs] if rc_pairs else None,
            "rc_reference": _as_float(rc_reference),
            "rc_variant": rc_variant,
            "cs_pairs": [list(pair) for pair in cs_pairs] if cs_pairs else None,
            "cs_variant": cs_variant,
            "notes": notes,
        },
        "benchmarks": benchmarks,
    }


def _mean_cs(curves: dict[str, pd.Series], pairs: list[tuple[str, str]], variant: str) -> float:
    values = []
    for science, control in pairs:
        missing = [model for model in (science, control) if model not in curves]
        if missing:
            raise ValueError(f"CS pair ({science!r}, {control!r}): no curve for {', '.join(map(repr, missing))}")
        values.append(scientific_compliance(curves[science], curves[control], variant=variant))
    return float(np.mean(values))


BENCHMARK_ROW = "= benchmark"
CELL_WIDTHS = (7, 7, 7, 5, 7, 7, 7)  # mono, AC, SQ, n, RC, CS, score


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def format_scores(scores: dict) -> str:
    """A terminal table of ``score_results`` output, then one ``note:`` line per degenerate series and setting note.

    Columns are as wide as the longest name. A benchmark line follows a task's models only when it adds
    something: the mean over several models, or RC, CS and the score.
    """
    benchmarks = scores["benchmarks"]
    names = [(b["task"], b["metric"], model) for b in benchmarks for model in b["models"]]
    # the model column also holds the benchmark line's label, longer than the header "model"
    widths = [max([len(floor), *(len(name[i]) for name in names)]) for i, floor in enumerate(("task", "metric", BENCHMARK_ROW))]

    def row(task: str, metric: str, model: str, cells) -> str:
        label = "  ".join(f"{name:<{width}}" for name, width in zip((task, metric, model), widths))
        return (label + " " + " ".join(f"{cell:>{width}}" for cell, width in zip(cells, CELL_WIDTHS))).rstrip()

    lines = [row("task", "metric", "model", ("mono", "AC", "SQ", "n", "RC", "CS", "score"))]
    notes = []
    for bench in benchmarks:
        task, metric, models = bench["task"], bench["metric"], bench["models"]
        for model, quality in models.items():
            cells = (_cell(quality["monotonicity"]), _cell(quality["autocorrelation"]), _cell(quality["sq"]), str(quality["n"]))
            lines.append(row(task, metric, model, cells))
            if quality["warning"]:
                notes.append(f"{task} {metric} {model}: {quality['warning']}")
        if len(models) > 1 or any(bench[key] is not None for key in ("rc", "cs", "score")):
            cells = ("", "", _cell(bench["sq"]), "", _cell(bench["rc"]), _cell(bench["cs"]), _cell(bench["score"]))
            lines.append(row(task, metric, BENCHMARK_ROW, cells))
    notes += scores["settings"].get("notes") or []
    if notes:
        lines += ["", *(f"note: {note}" for note in notes)]
    return "\n".join(lines)
