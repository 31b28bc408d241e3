"""When a task is learned: age of acquisition per subtask, and which items rise, from checkpoint series.

Age of acquisition follows Chang & Bergen 2022 ("Word acquisition in neural language models"), as the BabyLM 2025
evaluation pipeline uses it: a four-parameter sigmoid of accuracy against log10 training amount, and the point
where the fitted curve crosses halfway between chance and its fitted ceiling. A number is given only for a crossing
inside the observed range of a curve that rises (Spearman against log x, one-sided, or a fitted step of a quarter
of the way from chance to a perfect score or more): a curve that does not, a fit that fails, a sigmoid no better
than a constant (F-test), or a ceiling at or below chance are statuses, never numbers.

Item slopes: each item's margin against log10 training amount (the same t-test as ``scipy.stats.linregress``,
through ``pearsonr`` so all items go in one call); the share of items that rise significantly tells a task whose
items are learned one by one from one where most items never move.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, replace
from functools import partial

import numpy as np
from scipy import stats
from scipy.optimize import OptimizeWarning, curve_fit
from scipy.special import expit

DEFAULT_CHANCE = 0.5  # two-way minimal pairs
ALPHA = 0.05
STEP_RISE = 0.25
MIN_POINTS = 5  # four parameters and one residual degree of freedom for the F-test
HISTOGRAM_BINS = 10
MAX_STEEPNESS = 100.0  # slope bound, in units of 1 / (observed log10 range)
MAX_EVALUATIONS = 1000

LEARNED = "learned"
BEFORE_FIRST = "learned before the first checkpoint"
NOT_LEARNED = "not learned"
NO_FIT = "no fit"


@dataclass(frozen=True)
class Acquisition:
    """``aoa`` (in the x axis' units) is set only when ``status`` is "learned"; ``note`` says why otherwise."""

    aoa: float | None
    status: str
    ceiling: float | None
    floor: float | None
    slope: float | None
    chance: float
    note: str | None = None


def sigmoid(t, floor, ceiling, midpoint, slope):
    """Four-parameter logistic in log10 training amount ``t``."""
    return floor + (ceiling - floor) * expit(slope * (t - midpoint))


def _fit(t: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares from two starts, a gentle rise over the whole range and a steep one at the largest jump
    between neighbouring checkpoints, keeping the better: from the first alone, a curve that steps between
    two late checkpoints runs the optimiser out of evaluations."""
    span = np.ptp(t)
    order = np.argsort(t)
    jump = int(np.argmax(np.diff(y[order])))
    starts = ([y.min(), y.max(), float(np.median(t)), 4.0 / span],
              [y.min(), y.max(), float(t[order][jump:jump + 2].mean()), MAX_STEEPNESS / span / 4])
    # a steeper rise than MAX_STEEPNESS over the observed range is a step that checkpoints cannot place, and an
    # unbounded slope lets the optimiser chase one for thousands of evaluations
    bounds = ([y.min() - np.ptp(y), y.min() - np.ptp(y), t.min() - span, 0.0],
              [y.max() + np.ptp(y), y.max() + np.ptp(y), t.max() + span, MAX_STEEPNESS / span])
    fits, failure = [], None
    for p0 in starts:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)  # an unestimated covariance does not matter here
            try:
                fits.append(curve_fit(sigmoid, t, y, p0=p0, bounds=bounds, maxfev=MAX_EVALUATIONS)[0])
            except RuntimeError as err:
                failure = err
    if not fits:
        raise failure
    return min(fits, key=lambda params: float(np.sum((y - sigmoid(t, *params)) ** 2)))


def age_of_acquisition(x, y, chance: float = DEFAULT_CHANCE, alpha: float = ALPHA) -> Acquisition:
    """AoA of one accuracy curve; ``x`` is training amount (tokens, words or steps), x <= 0 points are dropped."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0)
    t, y = np.log10(x[keep]), y[keep]
    dropped = f"; {int((~keep).sum())} point(s) without a positive x dropped" if not keep.all() else ""

    status = partial(_status, chance=chance, dropped=dropped)
    if len(t) < MIN_POINTS or np.ptp(t) == 0:
        return status(NO_FIT, f"{len(t)} point(s); a sigmoid fit needs {MIN_POINTS} at distinct x")
    if np.ptp(y) == 0:
        return status(NOT_LEARNED, "flat curve")
    if y.max() <= chance:  # no fit needed: halfway above chance is never reached in the observed range
        return status(NOT_LEARNED, f"no checkpoint scores above chance {chance:g}")
    verdict = _sigmoid_verdict(t, y, chance, alpha, status)
    if verdict.status in (NOT_LEARNED, NO_FIT):  # a clear step needs no optimiser's luck to be dated
        return _step_verdict(t, y, chance, alpha, dropped) or verdict
    return verdict


def _status(name: str, note: str, params=None, *, chance: float, dropped: str) -> Acquisition:
    """A verdict without an age (or, for LEARNED, one the caller fills in), with the fitted parameters if any."""
    floor, ceiling, _, slope = (None,) * 4 if params is None else map(float, params)
    return Acquisition(None, name, ceiling, floor, slope, chance, (note + dropped).removeprefix("; ") or None)


def _sigmoid_verdict(t: np.ndarray, y: np.ndarray, chance: float, alpha: float, status) -> Acquisition:
    """The age where the fitted sigmoid crosses halfway from chance to its ceiling, or the status saying why not."""
    # A steep sigmoid fits a jump in noise as well as a step in learning, so a learned curve must also rise:
    # a rank trend, or, for a step late in few checkpoints (which a rank test misses), a fitted rise of at
    # least STEP_RISE of the way from chance to a perfect score.
    rising = stats.spearmanr(t, y, alternative="greater").pvalue
    try:
        params = _fit(t, y)
    except (RuntimeError, ValueError) as err:
        if not rising < alpha:
            return status(NOT_LEARNED, f"the curve does not rise (Spearman one-sided p={rising:.3g}; no sigmoid fit)")
        return status(NO_FIT, f"sigmoid fit did not converge ({err})")
    floor, ceiling, midpoint, slope = params
    if not rising < alpha and not ceiling - floor >= STEP_RISE * (1 - chance):
        return status(NOT_LEARNED, f"the curve does not rise (Spearman one-sided p={rising:.3g}; fitted rise "
                      f"{ceiling - floor:.3g} < {STEP_RISE:g} of the way from chance to 1)", params)
    rss = float(np.sum((y - sigmoid(t, *params)) ** 2))
    rss_flat = float(np.sum((y - y.mean()) ** 2))
    residual_df = len(t) - 4
    p_value = 0.0 if rss == 0 else float(stats.f.sf((rss_flat - rss) / 3 / (rss / residual_df), 3, residual_df))
    if p_value >= alpha:
        return status(NOT_LEARNED, f"the sigmoid fits no better than a flat line (F-test p={p_value:.3g})", params)
    if ceiling <= chance or slope == 0:
        return status(NOT_LEARNED, f"fitted ceiling {ceiling:.3g} does not exceed chance {chance:g}", params)
    halfway = (chance + ceiling) / 2
    if floor >= halfway:
        return status(BEFORE_FIRST, "the fitted curve starts above halfway", params)
    crossing = midpoint - np.log((ceiling - floor) / (halfway - floor) - 1) / slope
    if crossing < t.min():
        return status(BEFORE_FIRST, "halfway is crossed before the first checkpoint", params)
    if crossing > t.max():
        return status(NOT_LEARNED, "halfway is not crossed by the last checkpoint", params)
    return replace(status(LEARNED, "", params), aoa=float(10 ** crossing))


def _step_verdict(t: np.ndarray, y: np.ndarray, chance: float, alpha: float, dropped: str) -> Acquisition | None:
    """A curve that jumps from below halfway to a higher level between two checkpoints, dated between them.

    The best split of the curve (in training order) into two constant levels of two points or more (one point
    alone may be noise) is found exhaustively, so the verdict is the same on any machine. It counts as learned
    when the upper level comes second and is at least STEP_RISE of the way from chance to 1 above the lower one,
    every point before the step is below halfway from chance to the upper level and every point after it at or
    above, and two levels fit better than one (F-test at ``alpha``)."""
    order = np.argsort(t)
    t, y = t[order], y[order]
    n = len(y)
    sse = lambda part: float(np.sum((part - part.mean()) ** 2))  # noqa: E731
    k = min(range(2, n - 1), key=lambda split: sse(y[:split]) + sse(y[split:]))  # a level is two points or more
    low, high, rss = float(y[:k].mean()), float(y[k:].mean()), sse(y[:k]) + sse(y[k:])
    halfway = (chance + high) / 2
    if high - low < STEP_RISE * (1 - chance) or not (y[:k].max() < halfway <= y[k:].min()):
        return None
    p_value = 0.0 if rss == 0 else float(stats.f.sf((sse(y) - rss) / (rss / (n - 2)), 1, n - 2))
    if p_value >= alpha:
        return None
    note = (f"a step between the checkpoints at {10 ** t[k - 1]:.4g} and {10 ** t[k]:.4g} (two levels fit better than "
            f"one, F-test p={p_value:.3g}); dated halfway between them on the log axis")
    return Acquisition(float(10 ** ((t[k - 1] + t[k]) / 2)), LEARNED, high, low, None, chance, note + dropped)


def acquisition_json(result: Acquisition, axis: str) -> dict:
    return {**asdict(result), "axis": axis}


def item_slopes(x, values, alpha: float = ALPHA) -> dict:
    """Slopes of items' curves (``values``: items x checkpoints) against log10 ``x``, summarised compactly.

    Rising / falling: slope of that sign with p < ``alpha``. Constant items count as slope 0, p = 1.
    """
    x, values = np.asarray(x, dtype=float), np.asarray(values, dtype=float)
    keep = np.isfinite(x) & (x > 0)
    t, values = np.log10(x[keep]), values[:, keep]
    n_items = len(values)
    if n_items == 0 or len(t) < 3 or np.ptp(t) == 0:
        return {"n_items": n_items, "checkpoints": len(t), "rising_share": None, "falling_share": None,
                "median_slope": None, "histogram": None,
                "note": f"{len(t)} checkpoint(s) with a positive x; slopes need 3"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        result = stats.pearsonr(np.broadcast_to(t, values.shape), values, axis=1)
    constant = ~np.isfinite(result.statistic)
    slope = np.where(constant, 0.0, np.nan_to_num(result.statistic) * values.std(axis=1) / t.std())
    significant = ~constant & (np.nan_to_num(result.pvalue, nan=1.0) < alpha)
    counts, edges = np.histogram(slope, bins=HISTOGRAM_BINS)
    return {
        "n_items": n_items, "checkpoints": len(t),
        "rising_share": float(np.mean(significant & (slope > 0))),
        "falling_share": float(np.mean(significant & (slope < 0))),
        "median_slope": float(np.median(slope)),
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }
