"""Every score of every benchmark of a results table, gathered into one JSON-ready dict (``scores.json``).

Per (task, metric): SQ (:mod:`~e2lm_bench.scores.signal_quality`), RC, CS and the global score
(:mod:`~e2lm_bench.scores.competition`), signal-to-noise (:mod:`~e2lm_bench.scores.snr`), decision accuracy
(:mod:`~e2lm_bench.scores.decision`) and item-bootstrap intervals (:mod:`~e2lm_bench.scores.bootstrap`);
per model and task, ages of acquisition and item slopes (:mod:`~e2lm_bench.scores.acquisition`).
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import asdict

import numpy as np
import pandas as pd

from e2lm_bench.evaluation.results import COLUMNS, ResultsError
from e2lm_bench.scores.acquisition import DEFAULT_CHANCE, acquisition_json, age_of_acquisition, item_slopes
from e2lm_bench.scores.bootstrap import ItemValues, interval, resampled_curves, resampling_weights
from e2lm_bench.scores.competition import (
    CS_VARIANTS,
    DEFAULT_WEIGHTS,
    RC_VARIANTS,
    RECONSTRUCTION_NOTE,
    global_score,
    mean_cs,
    ranking_consistency,
)
from e2lm_bench.scores.decision import Decision, accuracy, decision_curve, final_values
from e2lm_bench.scores.signal_quality import SignalQualityWarning, benchmark_sq, signal_quality, signal_quality_batch
from e2lm_bench.scores.snr import DEFAULT_LAST_K, last_points, relative_spread, signal_to_noise


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
    if table.empty:
        raise ResultsError("results table: no rows to score")
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
            cs = _optional(lambda: mean_cs(curves, cs_pairs, cs_variant), notes, label, "CS")
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
