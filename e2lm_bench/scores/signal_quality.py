"""Signal Quality, the E2LM competition's measure of how smoothly a benchmark tracks training.

The formula is the organizers' (the competition paper, arXiv 2506.07731, and their scoring notebook
``5_Scoring.ipynb`` of the starter kit), reproduced exactly so local numbers match the published ones; the
places where their code returns NaN get explicit, documented values instead.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_POINTS_FOR_LAG = 8  # range(1, n // 4) is empty below this


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
    """Benchmark SQ as the mean over models: reproduces the paper's MMLU-var 0.959 (arXiv 2506.07731)."""
    if not per_model:
        raise ValueError("benchmark_sq needs at least one model")
    return float(np.mean([quality.sq for quality in per_model.values()]))
