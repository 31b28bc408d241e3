"""The E2LM competition's other two scores and its global score.

Ranking Consistency (does an early ordering of models last?) and Scientific Compliance (does the model
trained on more science beat its control?) are reconstructions: the organizers' formulas (the competition
paper, arXiv 2506.07731, Appendix E) are not public, so both take a ``variant`` and are proxies only. The
global score's weights are the competition site's (e2lmc.github.io, evaluations page).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_WEIGHTS = (0.5, 0.1, 0.4)
RC_VARIANTS = ("agreement", "kendall")
CS_VARIANTS = ("win_rate", "gap")
RECONSTRUCTION_NOTE = (
    "RC and CS are reconstructions: the organizers' formulas are not public (arXiv 2506.07731); "
    "treat them as proxies, not leaderboard values."
)

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
    """Reconstructed RC (NOT the organizers' confirmed formula): does an early ordering last?

    For each pair (a, b), the reference point is the last common x <= ``reference_step``; every common x
    strictly after ``reference_step`` is compared with it, and the result is averaged over pairs.
    - "agreement": fraction of later points where sign(a - b) equals the sign at the reference point
      (the local proxy of the morai team's competition fork; 14/47 reproduces the published mmlu 0.2979 with 47 later checkpoints).
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
    """Reconstructed CS (NOT the organizers' confirmed formula): does the science-mixture model
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
    """The competition's weighted sum (0.5 SQ + 0.1 RC + 0.4 CS on the site's evaluation page); the weights are
    a parameter, as the organizers may change them."""
    w_sq, w_rc, w_cs = weights
    return float(w_sq * sq + w_rc * rc + w_cs * cs)


def mean_cs(curves: dict[str, pd.Series], pairs: list[tuple[str, str]], variant: str) -> float:
    values = []
    for science, control in pairs:
        missing = [model for model in (science, control) if model not in curves]
        if missing:
            raise ValueError(f"CS pair ({science!r}, {control!r}): no curve for {', '.join(map(repr, missing))}")
        values.append(scientific_compliance(curves[science], curves[control], variant=variant))
    return float(np.mean(values))
