"""E2LM scores of a benchmark from checkpoint series: Signal Quality, Ranking Consistency, Scientific Compliance.

SQ follows the organizers' KIT5 code exactly (reference §2), so local numbers match the published ones; the
places where their code returns NaN get explicit, documented values instead. RC and CS are reconstructions
(reference §3, §4): the organizers' formulas are not public, so both take a ``variant`` and are proxies only.
Beside them: signal-to-noise (:mod:`e2lm_bench.snr`), decision accuracy (:mod:`e2lm_bench.decision`), item
bootstrap intervals (:mod:`e2lm_bench.bootstrap`) and ages of acquisition (:mod:`e2lm_bench.acquisition`).
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from e2lm_bench.acquisition import (
    BEFORE_FIRST,
    DEFAULT_CHANCE,
    NO_FIT,
    NOT_LEARNED,
    acquisition_json,
    age_of_acquisition,
    item_slopes,
)
from e2lm_bench.bootstrap import ItemValues, interval, resampled_curves, resampling_weights
from e2lm_bench.decision import Decision, accuracy, decision_curve, final_values
from e2lm_bench.results import COLUMNS, ResultsError
from e2lm_bench.snr import DEFAULT_LAST_K, last_points, relative_spread, signal_to_noise

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


def signal_quality_batch(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Mono, AC) of many finite series at once (rows of ``values``), by the rules of :func:`signal_quality`,
    which is too slow to call for every bootstrap replicate."""
    values = np.asarray(values, dtype=float)
    rows, n = values.shape
    if n < 2:
        return np.zeros(rows), np.zeros(rows)
    ranks = np.argsort(np.argsort(values, axis=1, kind="stable"), axis=1)
    d2 = ((np.arange(n) - ranks) ** 2).sum(axis=1)
    flat = np.ptp(values, axis=1) == 0
    monotonicity = np.where(flat, 0.0, np.maximum(1.0 - 6.0 * d2 / (n * (n * n - 1)), 0.0))
    lags = []
    for k in range(1, n // 4):
        later, earlier = values[:, k:], values[:, : n - k]
        defined = (np.ptp(later, axis=1) > 0) & (np.ptp(earlier, axis=1) > 0)
        later = later - later.mean(axis=1, keepdims=True)
        earlier = earlier - earlier.mean(axis=1, keepdims=True)
        scale = np.sqrt((later**2).sum(axis=1) * (earlier**2).sum(axis=1))
        lags.append(np.where(defined, np.abs((later * earlier).sum(axis=1)) / np.where(defined, scale, 1.0), 0.0))
    autocorrelation = np.mean(lags, axis=0) if lags and n >= MIN_POINTS_FOR_LAG else np.zeros(rows)
    return monotonicity, np.where(flat, 0.0, autocorrelation)


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


def _model_curves(group: pd.DataFrame, x: str, notes: list[str], label: str) -> tuple[dict, dict]:
    """One value series per model indexed by ``x``, and its checkpoint names in the same order; a model missing
    ``x`` anywhere falls back to step whole, so one series never mixes units."""
    curves, checkpoints = {}, {}
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
        index = placed[axis].to_numpy(dtype=float)
        curves[str(model)] = pd.Series(placed["value"].to_numpy(dtype=float), index=index).sort_index()
        checkpoints[str(model)] = pd.Series(placed["checkpoint"].to_numpy(dtype=str), index=index).sort_index()
    return curves, checkpoints


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
    last_k: int = DEFAULT_LAST_K,
    decision: Decision | None = None,
    items: ItemValues | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    chance: float | None = None,
) -> dict:
    """Scores of every (task, metric) in a results table, as JSON-ready plain Python (no NaN, null instead).

    ``rc_pairs`` are (model_a, model_b) pairs compared after ``rc_reference`` (in ``x`` units); ``cs_pairs`` are
    (science_model, control_model) pairs, CS averaged over them. A benchmark that cannot get RC or CS (a model or
    checkpoint missing) gets null and a line in ``settings.notes``; ``score`` is set only when SQ, RC and CS are.
    SNR uses each model's ``last_k`` points; ``decision`` adds decision accuracy; ``items`` (per-item samples)
    allow ``bootstrap`` replicates (95% intervals, ``*_ci`` keys, null otherwise) and item slopes. Ages of
    acquisition are fitted to every "acc" curve, with ``chance`` (default: 1 / answer options from the samples,
    else 0.5). Why a new figure is null is in the benchmark's ``notes``.
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
    if last_k < 1 or bootstrap < 0:
        raise ValueError(f"last_k must be >= 1 and bootstrap >= 0, got {last_k} and {bootstrap}")
    rc_pairs = [tuple(pair) for pair in rc_pairs] if rc_pairs else None
    cs_pairs = [tuple(pair) for pair in cs_pairs] if cs_pairs else None
    notes = [RECONSTRUCTION_NOTE]
    if bootstrap and not items:
        notes.append("bootstrap: no per-item samples (a run folder written by `e2lm-bench trajectory` has them); "
                     "no intervals")
    benchmarks = []
    for (task, metric), group in sorted(table.groupby(["task", "metric"], sort=False), key=lambda item: item[0]):
        label = f"{task}/{metric}"
        curves, checkpoints = _model_curves(group, x, notes, label)
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
        bench_notes: list[str] = []
        snr = signal_to_noise(last_points(curves, last_k), last_k)
        bench_notes += [f"SNR: {note}" for note in snr.notes]
        bench = {
            "task": str(task),
            "metric": str(metric),
            "sq": sq,
            "sq_ci": None,
            "rc": rc,
            "cs": cs,
            "score": score,
            "snr": {**snr.as_json(), "signal_ci": None, "noise_ci": None, "snr_ci": None},
            "decision": _decision(curves, decision, bench_notes) if decision else None,
            "bootstrap": None,
            "models": {
                model: {**asdict(quality), "noise": snr.model_noise.get(model),
                        **{f"{key}_ci": None for key in ("monotonicity", "autocorrelation", "sq", "noise")}}
                for model, quality in per_model.items()
            },
            "notes": bench_notes,
        }
        if bootstrap and items:
            rng = np.random.default_rng([seed, zlib.crc32(str(task).encode("utf-8"))])  # paired across metrics
            _bootstrap(bench, curves, checkpoints, items, bootstrap, rng, last_k, decision)
        benchmarks.append(bench)
    acquisition, slopes = _acquisition(table, items, chance)
    return {
        "settings": {
            "x": x,
            "weights": [float(w) for w in weights],
            "rc_pairs": [list(pair) for pair in rc_pairs] if rc_pairs else None,
            "rc_reference": _as_float(rc_reference),
            "rc_variant": rc_variant,
            "cs_pairs": [list(pair) for pair in cs_pairs] if cs_pairs else None,
            "cs_variant": cs_variant,
            "last_k": last_k,
            "decision": {"small": list(decision.small), "target": list(decision.target)} if decision else None,
            "bootstrap": bootstrap,
            "seed": seed,
            "chance": _as_float(chance),
            "notes": notes,
        },
        "benchmarks": benchmarks,
        "acquisition": acquisition,
        "item_slopes": slopes,
    }


def _decision(curves: dict[str, pd.Series], decision: Decision, notes: list[str]) -> dict | None:
    missing = [model for model in decision.small + decision.target if model not in curves]
    if missing:
        notes.append(f"decision: no curve for {', '.join(missing)}")
        return None
    curve = decision_curve(curves, final_values(curves, decision.target), decision)
    if curve.empty:
        notes.append("decision: the small models share no checkpoint")
        return None
    return {"curve": [[float(x), float(acc)] for x, acc in curve.items()], "final": float(curve.iloc[-1]),
            "final_ci": None, "pairs": len(decision.pairs)}


def _bootstrap(bench: dict, curves: dict, checkpoints: dict, items: ItemValues, replicates: int,
               rng: np.random.Generator, last_k: int, decision: Decision | None) -> None:
    """Fill the benchmark's ``*_ci`` keys from item-resampled curves, or say in its notes why not."""
    task, metric, notes = bench["task"], bench["metric"], bench["notes"]
    frames = {model: items.frame(task, metric, model) for model in curves}
    lacking = [model for model, frame in frames.items() if frame is None]
    if lacking:
        notes.append(f"bootstrap: no per-item {metric!r} samples for {', '.join(lacking)}")
        return
    frames = {model: frame.reindex(columns=checkpoints[model].to_numpy()) for model, frame in frames.items()}
    common = sorted(set.intersection(*(set(frame.dropna().index) for frame in frames.values())))
    matrices = {model: frame.loc[common].to_numpy(dtype=float) for model, frame in frames.items()}
    if not common or not all(np.allclose(matrix.mean(axis=0), curves[model].to_numpy(), rtol=1e-6, atol=1e-9)
                             for model, matrix in matrices.items()):
        notes.append(f"bootstrap: the mean over the {len(common)} items every checkpoint has does not reproduce "
                     f"the {metric!r} values (not an item mean, or items missing); no intervals")
        return
    weights = resampling_weights(len(common), replicates, rng)
    resampled = {model: resampled_curves(matrix, weights) for model, matrix in matrices.items()}
    parts = {model: signal_quality_batch(values) for model, values in resampled.items()}
    spread = relative_spread({model: values[:, -last_k:] for model, values in resampled.items()})
    for model, (monotonicity, autocorrelation) in parts.items():
        entry = bench["models"][model]
        entry["monotonicity_ci"], entry["autocorrelation_ci"] = interval(monotonicity), interval(autocorrelation)
        entry["sq_ci"] = interval((monotonicity + autocorrelation) / 2)
        entry["noise_ci"] = interval(spread["models"][model])
    bench["sq_ci"] = interval(np.mean([(mono + ac) / 2 for mono, ac in parts.values()], axis=0))
    for key in ("signal", "noise", "snr"):
        bench["snr"][f"{key}_ci"] = interval(spread[key])
    if bench["decision"]:
        final_x = bench["decision"]["curve"][-1][0]
        small = {m: resampled[m][:, curves[m].index.get_loc(final_x)] for m in decision.small}
        target = {m: resampled[m][:, -1] for m in decision.target}
        bench["decision"]["final_ci"] = interval(accuracy(small, target, decision))
    bench["bootstrap"] = {"replicates": replicates, "items": len(common)}


def _acquisition_axis(rows: pd.DataFrame) -> str:
    """Tokens when every checkpoint has them, else words, else steps (Chang & Bergen use training amount)."""
    return next((axis for axis in ("tokens", "words") if rows[axis].notna().all()), "step")


def _acquisition(table: pd.DataFrame, items: ItemValues | None, chance: float | None) -> tuple[dict, dict]:
    """Age of acquisition of every model's "acc" curve per task; slopes of item margins where samples exist."""
    acquisition: dict = {}
    slopes: dict = {}
    for (model, task), rows in sorted(table[table["metric"] == "acc"].groupby(["model", "task"]), key=lambda i: i[0]):
        axis = _acquisition_axis(rows)
        rows = rows.sort_values(axis)
        options = items.choices.get(task) if items else None
        level = chance if chance is not None else (1.0 / options if options else DEFAULT_CHANCE)
        result = age_of_acquisition(rows[axis].to_numpy(dtype=float), rows["value"].to_numpy(dtype=float), level)
        acquisition.setdefault(str(model), {})[str(task)] = acquisition_json(result, axis)
        frame = items.frame(task, "margin", model) if items else None
        if frame is not None:
            where = dict(zip(rows["checkpoint"], rows[axis]))
            frame = frame[[checkpoint for checkpoint in rows["checkpoint"] if checkpoint in frame]].dropna()
            slopes.setdefault(str(model), {})[str(task)] = {
                **item_slopes([where[c] for c in frame.columns], frame.to_numpy(dtype=float)), "axis": axis}
    return acquisition, slopes


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
