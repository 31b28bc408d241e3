"""Signal-to-noise: the definition recomputed independently on the organizers' curves, planted toy cases, and
the undefined cases reported as null with a note instead of crashing."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from e2lm_bench.evaluation.results import load_organizer_curves
from e2lm_bench.scores.benchmarks import score_results
from e2lm_bench.scores.snr import last_points, signal_to_noise
from tests.test_scoring import ORGANIZER_CURVES, needs_curves


def _table(curves: dict[str, list[float]], task: str = "t") -> pd.DataFrame:
    rows = [{"model": model, "checkpoint": f"step_{i}", "step": (i + 1) * 100, "tokens": (i + 1) * 1e8,
             "words": np.nan, "task": task, "metric": "acc", "value": value, "stderr": np.nan}
            for model, values in curves.items() for i, value in enumerate(values)]
    return pd.DataFrame(rows)


@needs_curves
def test_organizer_curves_snr_is_the_definition():
    """Six models, the organizers' scoring-notebook selection (iterations divisible by 4000 up to ~206 GT), last 5 points."""
    table = load_organizer_curves(ORGANIZER_CURVES)
    scores = score_results(table, last_k=5)
    checked = 0
    for bench in scores["benchmarks"]:
        rows = table[table.task == bench["task"]].sort_values("step")
        tails = rows.groupby("model")["value"].apply(lambda v: v.to_numpy()[-5:])
        means = np.array([tail.mean() for tail in tails])
        pooled = np.concatenate(tails.to_list())
        signal = (means.max() - means.min()) / means.mean()
        noise = pooled.std() / pooled.mean()
        assert len(tails) == 6 and all(len(tail) == 5 for tail in tails)
        assert bench["snr"]["signal"] == pytest.approx(signal, rel=1e-12)
        assert bench["snr"]["noise"] == pytest.approx(noise, rel=1e-12)
        assert bench["snr"]["snr"] == pytest.approx(signal / noise, rel=1e-12)
        for model, tail in tails.items():
            assert bench["models"][model]["noise"] == pytest.approx(tail.std() / tail.mean(), rel=1e-12)
        assert bench["snr"]["noise_within"] == pytest.approx(np.mean([t.std() / t.mean() for t in tails]), rel=1e-12)
        checked += 1
    assert checked >= 13


def test_planted_two_models():
    wobble = [-0.02, -0.01, 0.0, 0.01, 0.02]
    # earlier points are far off and must not count: only the last 5 do
    curves = {"low": [0.0, 9.0] + [0.5 + w for w in wobble], "high": [3.0] + [0.7 + w for w in wobble]}
    result = signal_to_noise(last_points({m: pd.Series(v, index=range(len(v))) for m, v in curves.items()}), 5)
    within = math.sqrt(2e-4)  # std of the wobble
    assert result.signal == pytest.approx(0.2 / 0.6)
    assert result.noise == pytest.approx(math.sqrt(0.1**2 + within**2) / 0.6)  # pooled: between + within spread
    assert result.snr == pytest.approx(result.signal / result.noise)
    assert result.model_noise == pytest.approx({"low": within / 0.5, "high": within / 0.7})
    assert result.noise_within == pytest.approx((within / 0.5 + within / 0.7) / 2)
    assert result.snr_within == pytest.approx(result.signal / result.noise_within)
    assert result.notes == []


def test_noisier_models_give_a_lower_snr():
    rng = np.random.default_rng(0)
    quiet = signal_to_noise({"a": 0.5 + rng.normal(0, 0.001, 5), "b": 0.6 + rng.normal(0, 0.001, 5)})
    loud = signal_to_noise({"a": 0.5 + rng.normal(0, 0.05, 5), "b": 0.6 + rng.normal(0, 0.05, 5)})
    assert loud.snr_within < quiet.snr_within and loud.snr < quiet.snr


def test_last_points_follow_x_not_row_order():
    series = pd.Series([0.9, 0.1, 0.2], index=[300.0, 100.0, 200.0])
    assert last_points({"m": series}, 2)["m"].tolist() == [0.2, 0.9]


@pytest.mark.parametrize("curves, message, defined", [
    ({"only": [0.5, 0.6, 0.7]}, "one model: no signal, SNR undefined", ("noise",)),
    ({"a": [0.0, 0.0], "b": [0.0, 0.0]}, "mean score 0", ()),
    ({"a": [0.5, 0.5], "b": [0.5, 0.5]}, "constant scores: no noise, SNR undefined", ("signal", "noise")),
    ({"a": [0.5, 0.6], "b": [0.4, 0.5, 0.6, 0.7, 0.8, 0.9]}, "fewer than last_k=5 points, all used: a (2)",
     ("signal", "noise", "snr")),
])
def test_undefined_cases_are_null_with_a_note(curves, message, defined):
    result = signal_to_noise({m: np.asarray(v)[-5:] for m, v in curves.items()}, 5)
    assert any(message in note for note in result.notes)
    for key in ("signal", "noise", "snr"):
        assert (getattr(result, key) is not None) == (key in defined), key
    scores = score_results(_table(curves))
    bench = scores["benchmarks"][0]
    assert any(message in note for note in bench["notes"])
    json.dumps(scores, allow_nan=False)


def test_fewer_points_use_what_exists():
    result = signal_to_noise({"a": np.array([0.5, 0.7]), "b": np.array([0.2, 0.4, 0.6])}, 5)
    assert result.signal == pytest.approx((0.6 - 0.4) / 0.5)
    pooled = np.array([0.5, 0.7, 0.2, 0.4, 0.6])
    assert result.noise == pytest.approx(pooled.std() / pooled.mean())


def test_last_k_is_a_setting():
    scores = score_results(_table({"a": [0.1, 0.2, 0.3, 0.4], "b": [0.4, 0.3, 0.2, 0.1]}), last_k=2)
    snr = scores["benchmarks"][0]["snr"]
    assert snr["last_k"] == 2 and scores["settings"]["last_k"] == 2
    assert snr["signal"] == pytest.approx((0.35 - 0.15) / 0.25)
    with pytest.raises(ValueError, match="last_k"):
        score_results(_table({"a": [0.1, 0.2]}), last_k=0)
