"""Decision accuracy (Magnusson et al. 2025, "DataDecide: How to Predict Best Pretraining Data with Small
Experiments"): how often small models order a design choice as the target-scale models end up ordering it.

Small model i and target model i share a design choice (data, architecture, ...). Every pair (i, j) of the
small list is compared with the same pair of the target list: at each small-scale checkpoint, the pair counts
1 when the small models are ordered as the targets are at their final checkpoint, 0 when reversed, and 0.5 when
either side is tied (a tie predicts neither order). Accuracy is the mean over pairs, giving a curve over the
small models' common x values. The metric's direction does not matter: both sides are compared in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from e2lm_bench.errors import UserError


@dataclass(frozen=True)
class Decision:
    """Small models and the target models whose final ordering they should predict, in corresponding order."""

    small: tuple[str, ...]
    target: tuple[str, ...]

    @property
    def pairs(self) -> list[tuple[int, int]]:
        return list(combinations(range(len(self.small)), 2))


def parse_decision(text: str, known: set[str] | None = None) -> Decision:
    """``SMALL1,SMALL2,...=TARGET1,TARGET2,...``; a malformed spec is one error naming the problem."""
    if text.count("=") != 1:
        raise UserError(f"--decision {text!r}: expected SMALL1,SMALL2,...=TARGET1,TARGET2,...")
    small, target = (tuple(name.strip() for name in side.split(",")) for side in text.split("="))
    if any(not name for name in small + target):
        raise UserError(f"--decision {text!r}: empty model name")
    if len(small) != len(target):
        raise UserError(f"--decision {text!r}: {len(small)} small model(s) but {len(target)} target model(s); "
                        "the lists must correspond one to one")
    if len(small) < 2:
        raise UserError(f"--decision {text!r}: needs at least two models per side to form a pair")
    for side, names in (("small", small), ("target", target)):
        if len(set(names)) < len(names):
            raise UserError(f"--decision {text!r}: a {side} model is listed twice")
    unknown = [name for name in dict.fromkeys(small + target) if known is not None and name not in known]
    if unknown:
        raise UserError(f"--decision {text!r}: unknown model(s) {', '.join(unknown)}; "
                        f"the results have {', '.join(sorted(known))}")
    return Decision(small, target)


def accuracy(small: dict[str, np.ndarray], target: dict[str, np.ndarray], decision: Decision) -> np.ndarray:
    """Mean over pairs of 1 (same order), 0 (reversed) or 0.5 (either side tied); arrays broadcast, so one call
    scores a whole curve or every bootstrap replicate."""
    total = 0.0
    for i, j in decision.pairs:
        small_gap = np.sign(np.asarray(small[decision.small[i]]) - np.asarray(small[decision.small[j]]))
        target_gap = np.sign(np.asarray(target[decision.target[i]]) - np.asarray(target[decision.target[j]]))
        total = total + np.where(target_gap == 0, 0.5, (small_gap * target_gap + 1) / 2)
    return np.asarray(total / len(decision.pairs), dtype=float)


def decision_curve(small: dict[str, pd.Series], target_final: dict[str, float], decision: Decision) -> pd.Series:
    """Decision accuracy at each x the small models share (series indexed by x); empty when they share none."""
    joined = pd.concat([small[name].rename(name) for name in decision.small], axis=1, join="inner").dropna()
    values = accuracy({name: joined[name].to_numpy() for name in decision.small}, target_final, decision)
    return pd.Series(values, index=joined.index, name="decision_accuracy")


def final_values(curves: dict[str, pd.Series], names) -> dict[str, float]:
    """Each model's value at its largest x (its final checkpoint)."""
    return {name: float(curves[name].dropna().sort_index().iloc[-1]) for name in names}
