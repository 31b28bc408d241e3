"""Signal-to-noise ratio of a benchmark (Heineman et al. 2025, "Signal and Noise: A Framework for Reducing
Uncertainty in Language Model Evaluation").

A benchmark is useful for choosing between models when the models' scores are far apart (signal) compared
with how much one model's score moves between neighbouring final checkpoints (noise). Both are relative to
the mean score, so benchmarks on different scales compare.

Definitions used here, on each model's last ``k`` checkpoints:
- signal = (largest pairwise gap between the models' means) / (mean of those means);
- noise = std (ddof 0) of all those scores pooled / their mean. The pooled spread includes the gaps between
  models, so SNR is bounded (about 2 for two models); ``noise_within`` (the mean of each model's own relative
  std) and ``snr_within`` = signal / noise_within give the paper's within-run reading beside it.
Undefined values are None with a note: one model (no signal), a zero mean, no noise (a constant pool).
A model with fewer than ``k`` points uses all it has, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

DEFAULT_LAST_K = 5


@dataclass(frozen=True)
class SNR:
    """One benchmark's figures; None where the definition does not apply (``notes`` says why)."""

    signal: float | None
    noise: float | None
    snr: float | None
    noise_within: float | None
    snr_within: float | None
    last_k: int
    model_noise: dict[str, float | None]
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"signal": self.signal, "noise": self.noise, "snr": self.snr, "noise_within": self.noise_within,
                "snr_within": self.snr_within, "last_k": self.last_k}


def last_points(curves: dict[str, pd.Series], k: int = DEFAULT_LAST_K) -> dict[str, np.ndarray]:
    """Each model's last ``k`` finite values in x order (the input series are indexed by x)."""
    return {model: series.dropna().sort_index().to_numpy(dtype=float)[-k:] for model, series in curves.items()}


def _relative_std(values: np.ndarray) -> np.ndarray:
    mean = np.abs(values.mean(axis=-1))
    return np.divide(values.std(axis=-1), mean, out=np.full(mean.shape, np.nan), where=mean != 0)


def relative_spread(tails: dict[str, np.ndarray]) -> dict:
    """signal, noise, snr, noise_within, snr_within (NaN where undefined) and ``models`` (each one's noise) over
    the last axis of each model's values; leading axes broadcast, so all bootstrap replicates go in one call."""
    values = list(tails.values())
    means = np.stack([v.mean(axis=-1) for v in values])
    grand = np.abs(means.mean(axis=0))
    nan = np.full(grand.shape, np.nan)
    signal = np.divide(np.ptp(means, axis=0), grand, out=nan.copy(), where=grand != 0) if len(values) > 1 else nan
    noise = _relative_std(np.concatenate(values, axis=-1))
    models = {model: _relative_std(v) for model, v in tails.items()}
    within = np.mean(list(models.values()), axis=0)
    return {
        "signal": signal, "noise": noise, "snr": np.divide(signal, noise, out=nan.copy(), where=noise > 0),
        "noise_within": within, "snr_within": np.divide(signal, within, out=nan.copy(), where=within > 0),
        "models": models,
    }


def _number(value) -> float | None:
    return float(value) if np.isfinite(value) else None


def signal_to_noise(tails: dict[str, np.ndarray], last_k: int = DEFAULT_LAST_K) -> SNR:
    """SNR from each model's last values (``last_points``), with a note for every undefined figure."""
    if last_k < 1:
        raise ValueError(f"last_k must be >= 1, got {last_k}")
    notes = []
    tails = {model: np.asarray(values, dtype=float) for model, values in tails.items() if len(values)}
    short = {model: len(values) for model, values in tails.items() if len(values) < last_k}
    if short:
        notes.append("fewer than last_k={} points, all used: {}".format(
            last_k, ", ".join(f"{model} ({n})" for model, n in sorted(short.items()))))
    if not tails:
        return SNR(None, None, None, None, None, last_k, {}, notes + ["no values"])
    figures = relative_spread(tails)
    if len(tails) < 2:
        notes.append("one model: no signal, SNR undefined")
    elif np.isnan(figures["signal"]):
        notes.append("mean score 0: relative signal undefined")
    if not np.isfinite(figures["noise"]):
        notes.append("mean score 0: relative noise undefined")
    elif figures["noise"] == 0:
        notes.append("constant scores: no noise, SNR undefined")
    return SNR(*(_number(figures[key]) for key in ("signal", "noise", "snr", "noise_within", "snr_within")),
               last_k, {model: _number(value) for model, value in figures["models"].items()}, notes)
