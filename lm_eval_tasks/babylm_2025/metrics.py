"""Corpus-level aggregations of the BabyLM 2025 zero-shot tasks that lm-eval's per-item metrics cannot express.

lm-eval hands an aggregation the list of values that ``process_results`` gave, one per document, and takes one
number back. The functions here are pure over such lists, so they are usable (and tested) without lm-eval.

Both follow the BabyLM 2025 evaluation pipeline (babylm/evaluation-pipeline-2025, ``main`` at bf55c11):

- WUG (``wug_adj``, ``wug_past``): per item, q0 is the softmax over the candidates' log-likelihoods, taken at the
  first candidate; the score is Spearman's rho between q0 and the human ratio over all items at once (not a mean
  of per-item values), raw as in the pipeline's report.
- Reading (``reading/run.py``): ordinary least squares with an intercept (statsmodels' formula API), per dependent
  variable a baseline of lexical predictors and their pairwise interactions, and the baseline plus ``pred`` (the
  word's surprisal in nats). Each model drops the rows with a missing value in its own columns. The score is the
  normalised gain in R^2, 100 * (R2_model - R2_baseline) / (1 - R2_baseline); eye tracking is the mean over the
  four eye-tracking measures, self-paced reading has its own baseline with the previous word's length and
  surprisal (``prev_pred``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# The reading CSV's columns the regressions use, carried by every reading item.
READING_VARIABLES = (
    "Subtlex_log10", "length", "context_length", "prev_length",
    "RTfirstfix", "RTfirstpass", "RTgopast", "RTrightbound", "self_paced_reading_time",
)
EYE_TRACKING_DVS = ("RTfirstfix", "RTfirstpass", "RTgopast", "RTrightbound")
SELF_PACED_DV = "self_paced_reading_time"
_ET_PREDICTORS = ("Subtlex_log10", "length", "context_length")
_SPR_PREDICTORS = ("Subtlex_log10", "length", "context_length", "prev_length", "prev_pred")


# -- WUG ------------------------------------------------------------------------------------------------


def wug_item(loglikelihoods: list[float], ratio: float) -> tuple[float, float]:
    """``(q0, ratio)``: the first candidate's share of the softmax over the candidates' log-likelihoods.

    The maximum is subtracted before exponentiating, so log-likelihoods of any size give a finite share."""
    values = np.asarray(loglikelihoods, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"need a non-empty list of log-likelihoods, got {loglikelihoods!r}")
    weights = np.exp(values - values.max())
    return float(weights[0] / weights.sum()), float(ratio)


def wug_spearman(items: list) -> float:
    """Spearman's rho between q0 and the human ratio over all items; NaN with fewer than two items or when
    either list is constant (rho is undefined there)."""
    from scipy.stats import spearmanr

    pairs = [(float(q0), float(ratio)) for q0, ratio in items]
    if len(pairs) < 2:
        return math.nan
    q0s, ratios = (np.array(column) for column in zip(*pairs))
    if np.ptp(q0s) == 0 or np.ptp(ratios) == 0:
        return math.nan
    return float(spearmanr(q0s, ratios).statistic)


# -- reading --------------------------------------------------------------------------------------------


def _number(value) -> float:
    return math.nan if value is None else float(value)


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def reading_frame(items: list) -> pd.DataFrame:
    """One row per reading row id, sorted by it: the row's variables, ``pred`` (the surprisal of the item of
    kind "word") and ``prev_pred`` (of kind "prev"; NaN when the row has none, as at a sentence start).

    ``items`` are ``(row, kind, surprisal, variables)``. A (row, kind) given twice must carry one surprisal."""
    rows: dict = {}
    for row, kind, surprisal, variables in items:
        if kind not in ("word", "prev"):
            raise ValueError(f"reading item of row {row!r}: kind must be 'word' or 'prev', got {kind!r}")
        entry = rows.setdefault(row, {"pred": math.nan, "prev_pred": math.nan, "_seen": set()})
        for name, value in variables.items():
            entry.setdefault(name, _number(value))
        column = "pred" if kind == "word" else "prev_pred"
        value = _number(surprisal)
        if kind in entry["_seen"] and not _same(value, entry[column]):
            raise ValueError(f"reading row {row!r} has two different surprisals of kind {kind!r}")
        entry["_seen"].add(kind)
        entry[column] = value
    records = [{"row": row, **{k: v for k, v in entry.items() if k != "_seen"}} for row, entry in rows.items()]
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        return pd.DataFrame(columns=["row", *READING_VARIABLES, "pred", "prev_pred"])
    return frame.sort_values("row", kind="stable").reset_index(drop=True)


def _pairwise(names: tuple[str, ...]) -> list[str]:
    return [f"{a}:{b}" for i, a in enumerate(names) for b in names[i + 1:]]


def _formulas(dv: str, predictors: tuple[str, ...]) -> tuple[str, str]:
    """The pipeline's baseline (main effects and every pairwise interaction) and the model (baseline + pred)."""
    baseline = f"{dv} ~ " + " + ".join([*predictors, *_pairwise(predictors)])
    return baseline, baseline + " + pred"


def _r_squared(frame: pd.DataFrame, formula: str, columns: list[str]) -> tuple[float, int]:
    from statsmodels.formula.api import ols

    data = frame[columns].dropna()
    if data.empty:
        return math.nan, 0
    return float(ols(formula, data=data).fit().rsquared), len(data)


def _regression(frame: pd.DataFrame, dv: str, predictors: tuple[str, ...]) -> dict:
    if dv not in frame.columns or any(p not in frame.columns for p in predictors):
        missing = [c for c in (dv, *predictors) if c not in frame.columns]
        raise ValueError(f"reading frame lacks the column(s) {', '.join(missing)}")
    baseline_formula, model_formula = _formulas(dv, predictors)
    r2_baseline, n_baseline = _r_squared(frame, baseline_formula, [dv, *predictors])
    r2_model, n_model = _r_squared(frame, model_formula, ["pred", dv, *predictors])
    gain = (r2_model - r2_baseline) / (1 - r2_baseline) if r2_baseline != 1 else math.nan
    return {
        "r2_baseline": r2_baseline, "r2_model": r2_model, "n_baseline": n_baseline, "n_model": n_model,
        "normalized_delta_r2": gain, "score": 100 * gain,
        "baseline_formula": baseline_formula, "model_formula": model_formula,
    }


def reading_regressions(frame: pd.DataFrame) -> dict:
    """Per dependent variable: R^2 of the baseline and of the model, their row counts, the normalised gain
    (a fraction) and the score (x100); and the two reported scores, ``eye_tracking`` and ``self_paced_reading``."""
    per_dv = {dv: _regression(frame, dv, _ET_PREDICTORS) for dv in EYE_TRACKING_DVS}
    per_dv[SELF_PACED_DV] = _regression(frame, SELF_PACED_DV, _SPR_PREDICTORS)
    eye_tracking = float(np.mean([per_dv[dv]["score"] for dv in EYE_TRACKING_DVS]))  # NaN if one is NaN
    return {"dvs": per_dv, "eye_tracking": eye_tracking, "self_paced_reading": per_dv[SELF_PACED_DV]["score"]}


def eye_tracking_score(items: list) -> float:
    """The pipeline's EYE TRACKING SCORE: the mean normalised R^2 gain of ``pred`` over four measures, x100."""
    frame = reading_frame(items)
    scores = [_regression(frame, dv, _ET_PREDICTORS)["score"] for dv in EYE_TRACKING_DVS]
    return float(np.mean(scores))


def self_paced_reading_score(items: list) -> float:
    """The pipeline's SELF-PACED READING SCORE: the normalised R^2 gain of ``pred``, x100."""
    return float(_regression(reading_frame(items), SELF_PACED_DV, _SPR_PREDICTORS)["score"])
