"""Scoring: SQ exactly as the organizers compute it, defined values where their code gives NaN, the RC and CS
reconstructions on planted curves, and the published SQ values reproduced from the organizers' curves."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr, rankdata, spearmanr

from e2lm_bench.evaluation.results import ResultsError, load_organizer_curves
from e2lm_bench.scores.benchmarks import score_results
from e2lm_bench.scores.competition import RECONSTRUCTION_NOTE, global_score, ranking_consistency, scientific_compliance
from e2lm_bench.scores.signal_quality import SignalQuality, SignalQualityWarning, benchmark_sq, signal_quality
from e2lm_bench.scores.table import format_scores

ORGANIZER_CURVES = Path(__file__).resolve().parents[2] / "shared" / "data" / "e2lm" / "organizer_curves.json"
needs_curves = pytest.mark.skipif(not ORGANIZER_CURVES.is_file(), reason="organizer curves not in the shared data folder")


def _scipy_sq(y) -> tuple[float, float, float]:
    """(Mono, AC, SQ) by the organizers' definition (arXiv 2506.07731, their scoring notebook), built from scipy rather
    than from the implementation's formula: Spearman of position against ordinal ranks (ties ranked in order of
    appearance), clipped at 0, and the mean |Pearson| of the series against itself lagged by k = 1 .. n//4 - 1."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    mono = max(float(spearmanr(np.arange(n), rankdata(y, method="ordinal")).statistic), 0.0)
    ac = float(np.mean([abs(pearsonr(y[k:], y[: n - k]).statistic) for k in range(1, n // 4)]))
    return mono, ac, (mono + ac) / 2


def _tied_accuracy_curve(seed: int, n: int) -> np.ndarray:
    """A rising accuracy curve reported to 2 decimals, so values repeat, as real lm-eval curves do."""
    rng = np.random.default_rng(seed)
    return np.round(np.linspace(0.30, 0.36, n) + rng.normal(0, 0.01, n), 2)


def _all_finite(quality: SignalQuality) -> bool:
    return all(math.isfinite(v) for v in (quality.monotonicity, quality.autocorrelation, quality.sq))


# --- signal quality -------------------------------------------------------------------------------------------

def test_strictly_increasing_series():
    y = [0.1, 0.15, 0.3, 0.31, 0.5, 0.52, 0.6, 0.8, 0.81, 0.9, 0.95, 1.4]
    quality = signal_quality(y)
    assert quality.monotonicity == 1.0
    assert quality.n == 12 and quality.warning is None
    # n = 12 -> lags 1 and 2
    lag1 = abs(np.corrcoef(y[1:], y[:11])[0, 1])
    lag2 = abs(np.corrcoef(y[2:], y[:10])[0, 1])
    assert quality.autocorrelation == pytest.approx((lag1 + lag2) / 2, abs=1e-15)
    assert quality.sq == pytest.approx((1.0 + quality.autocorrelation) / 2, abs=1e-15)


def test_hand_computed_monotonicity():
    # one swapped pair in 8 points: ranks [1,0,2,...,7], sum d^2 = 2, rho = 1 - 12/504
    y = [2.0, 1.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.5]
    quality = signal_quality(y)
    assert quality.monotonicity == pytest.approx(1 - 12 / 504, abs=1e-15)
    assert quality.autocorrelation == pytest.approx(abs(np.corrcoef(y[1:], y[:7])[0, 1]), abs=1e-15)


def test_decreasing_series_has_zero_monotonicity():
    y = np.linspace(1.0, 0.0, 12) + np.array([0, 0.01] * 6)
    quality = signal_quality(y)
    assert spearmanr(np.arange(12), y).statistic < 0  # clipped to 0, not negative
    assert (quality.monotonicity, quality.autocorrelation, quality.sq) == pytest.approx(_scipy_sq(y), abs=1e-12)
    assert quality.monotonicity == 0.0


@pytest.mark.parametrize("n", [8, 14, 27])
@pytest.mark.parametrize("seed", range(5))
def test_series_without_ties_match_scipy(seed, n):
    y = np.random.default_rng(seed).normal(size=n).cumsum()
    assert len(np.unique(y)) == n
    quality = signal_quality(y)
    assert (quality.monotonicity, quality.autocorrelation, quality.sq) == pytest.approx(_scipy_sq(y), abs=1e-12)


@pytest.mark.parametrize("n", [9, 14, 27])
@pytest.mark.parametrize("seed", range(5))
def test_series_with_ties_match_scipy_ordinal_ranks(seed, n):
    """Tied values rank in order of appearance whatever sorting algorithm numpy picks on this CPU."""
    y = _tied_accuracy_curve(seed, n)
    assert len(np.unique(y)) < n
    quality = signal_quality(y)
    assert (quality.monotonicity, quality.autocorrelation, quality.sq) == pytest.approx(_scipy_sq(y), abs=1e-12)


def test_ties_use_ordinal_ranks_not_scipy_average_ranks():
    y = _tied_accuracy_curve(0, 27)
    ours = signal_quality(y).monotonicity
    average_rank_rho = spearmanr(np.arange(len(y)), y).statistic
    assert ours == pytest.approx(_scipy_sq(y)[0], abs=1e-12)
    assert abs(ours - average_rank_rho) > 1e-3


def test_missing_values_are_dropped_with_a_warning():
    clean = [0.1, 0.2, 0.25, 0.3, 0.45, 0.5, 0.55, 0.6, 0.7]
    with pytest.warns(SignalQualityWarning, match="2 missing or non-finite value"):
        quality = signal_quality([0.1, None, 0.2, 0.25, 0.3, float("nan"), 0.45, 0.5, 0.55, 0.6, 0.7])
    assert quality.n == 9
    assert "2 missing" in quality.warning
    reference = signal_quality(clean)
    assert (quality.monotonicity, quality.autocorrelation) == (reference.monotonicity, reference.autocorrelation)


def test_short_series_gets_zero_autocorrelation():
    with pytest.warns(SignalQualityWarning, match="n=5 < 8 points has no lag; autocorrelation set to 0"):
        quality = signal_quality([0.1, 0.2, 0.3, 0.4, 0.5])
    assert (quality.monotonicity, quality.autocorrelation, quality.sq) == (1.0, 0.0, 0.5)
    assert quality.warning.startswith("series of n=5")


@pytest.mark.parametrize("values, message", [
    ([0.3] * 12, "constant series"),
    ([], "0 point"),
    ([0.7], "1 point"),
    ([None, float("nan")], "1 point|0 point"),
])
def test_no_signal_series_score_zero(values, message):
    with pytest.warns(SignalQualityWarning, match=message):
        quality = signal_quality(values)
    assert (quality.monotonicity, quality.autocorrelation, quality.sq) == (0.0, 0.0, 0.0)
    assert quality.warning


def test_constant_lag_window_counts_zero():
    y = [0.0] * 10 + [1.0, 2.0]  # n = 12, lags 1, 2; y[:10] is constant, so lag 2 is undefined
    with pytest.warns(SignalQualityWarning, match=r"constant window at lag\(s\) 2"):
        quality = signal_quality(y)
    assert quality.autocorrelation == pytest.approx(abs(np.corrcoef(y[1:], y[:11])[0, 1]) / 2, abs=1e-15)
    assert _all_finite(quality)


def test_benchmark_sq_is_the_mean():
    per_model = {"a": SignalQuality(1, 0.8, 0.9, 12), "b": SignalQuality(0.5, 0.5, 0.5, 12)}
    assert benchmark_sq(per_model) == pytest.approx(0.7)
    with pytest.raises(ValueError):
        benchmark_sq({})


# --- ranking consistency --------------------------------------------------------------------------------------

X = list(range(10))


def _curve(values, x=X) -> pd.Series:
    return pd.Series(values, index=x, dtype=float)


PLANTED = {
    "stay_hi": _curve([0.5, 0.6, 0.6, 0.7, 0.7, 0.8, 0.8, 0.9, 0.9, 1.0]),
    "stay_lo": _curve([0.4, 0.5, 0.5, 0.6, 0.6, 0.7, 0.7, 0.8, 0.8, 0.9]),
    "flip_a": _curve([0.5, 0.5, 0.5, 0.5, 0.5, 0.6, 0.5, 0.5, 0.5, 0.5]),
    "flip_b": _curve([0.4, 0.4, 0.4, 0.4, 0.4, 0.5, 0.6, 0.6, 0.6, 0.6]),
    "half_a": _curve([0.5, 0.5, 0.5, 0.5, 0.5, 0.6, 0.7, 0.7, 0.5, 0.5]),
    "half_b": _curve([0.4, 0.4, 0.4, 0.4, 0.4, 0.5, 0.6, 0.6, 0.6, 0.6]),
}


@pytest.mark.parametrize("variant", ["agreement", "kendall"])
@pytest.mark.parametrize("pair, expected", [
    (("stay_hi", "stay_lo"), 1.0),
    (("flip_a", "flip_b"), 0.0),
    (("half_a", "half_b"), 0.5),
])
def test_rc_planted_pairs(variant, pair, expected):
    assert ranking_consistency(PLANTED, [pair], reference_step=5, variant=variant) == expected


def test_rc_averages_pairs_and_uses_the_last_checkpoint_before_the_reference():
    pairs = [("stay_hi", "stay_lo"), ("flip_a", "flip_b"), ("half_a", "half_b")]
    assert ranking_consistency(PLANTED, pairs, reference_step=5) == pytest.approx(0.5)
    # 5.5 is not a checkpoint: the reference ordering is the one at x = 5, later points are 6..9
    assert ranking_consistency(PLANTED, pairs, reference_step=5.5) == pytest.approx(0.5)


def test_rc_ties_and_common_checkpoints_only():
    curves = {
        "a": _curve([0.5, 0.6, 0.7, 0.7, 0.8], x=[0, 1, 2, 3, 4]),
        "b": _curve([0.4, 0.5, 0.7, 0.6, 0.9, 0.1], x=[0, 1, 2, 3, 5, 6]),
    }
    # reference x = 1 (a > b); later common x = 2 (tie), 3 (a > b); x = 4, 5, 6 are not common
    assert ranking_consistency(curves, [("a", "b")], 1, "agreement") == 0.5
    assert ranking_consistency(curves, [("a", "b")], 1, "kendall") == 0.75


def test_rc_errors():
    with pytest.raises(ValueError, match=r"no curve for 'nope'"):
        ranking_consistency(PLANTED, [("stay_hi", "nope")], 5)
    with pytest.raises(ValueError, match="no common checkpoint after 9"):
        ranking_consistency(PLANTED, [("stay_hi", "stay_lo")], 9)
    with pytest.raises(ValueError, match="at or before -1"):
        ranking_consistency(PLANTED, [("stay_hi", "stay_lo")], -1)
    with pytest.raises(ValueError, match="unknown RC variant"):
        ranking_consistency(PLANTED, [("stay_hi", "stay_lo")], 5, variant="spearman")


# --- scientific compliance ------------------------------------------------------------------------------------

def test_cs_win_rate():
    science = _curve([0.30, 0.32, 0.35, 0.40], x=[0, 1, 2, 3])
    control = _curve([0.31, 0.32, 0.33, 0.35, 0.99], x=[0, 1, 2, 3, 4])
    assert scientific_compliance(science, control) == 0.5  # ties lose; x = 4 is not common
    assert scientific_compliance(science, control, up_to=2) == pytest.approx(1 / 3)


def test_cs_gap():
    science = _curve([0.30, 0.35, 0.40, 0.45], x=[0, 1, 2, 3])
    control = _curve([0.25, 0.30, 0.35, 0.40], x=[0, 1, 2, 3])
    # mean gap 0.05; pooled range 0.45 - 0.25 = 0.20
    assert scientific_compliance(science, control, "gap") == pytest.approx(0.25)
    assert scientific_compliance(science, control, "gap", scale=0.1) == pytest.approx(0.5)
    assert scientific_compliance(science, control, "gap", scale=0.01) == 1.0
    assert scientific_compliance(control, science, "gap") == 0.0
    same = _curve([0.3] * 4, x=[0, 1, 2, 3])
    assert scientific_compliance(same, same, "gap") == 0.0


def test_cs_errors():
    science = _curve([0.3, 0.4], x=[0, 1])
    with pytest.raises(ValueError, match="no common checkpoint"):
        scientific_compliance(science, _curve([0.3, 0.4], x=[2, 3]))
    with pytest.raises(ValueError, match="no common checkpoint at or before -1"):
        scientific_compliance(science, science, up_to=-1)
    with pytest.raises(ValueError, match="unknown CS variant"):
        scientific_compliance(science, science, variant="ratio")


def test_global_score():
    assert global_score(1.0, 0.5, 0.25) == pytest.approx(0.5 + 0.05 + 0.1)
    assert global_score(1.0, 1.0, 1.0, weights=(1, 0, 0)) == 1.0


# --- score_results --------------------------------------------------------------------------------------------

CURVES = {
    ("sciq", "acc"): {
        "sci": [0.30, 0.33, 0.35, 0.40, 0.42, 0.45, 0.47, 0.50, 0.52, 0.55],
        "web": [0.30, 0.31, 0.33, 0.36, 0.37, 0.40, 0.41, 0.43, 0.45, 0.46],
    },
    ("blimp", "acc"): {
        "sci": [0.50, 0.52, 0.51, 0.55, 0.56, 0.58, 0.60, 0.59, 0.62, 0.63],
        "web": [0.55] * 10,
    },
}


def _table() -> pd.DataFrame:
    rows = []
    for (task, metric), models in CURVES.items():
        for model, values in models.items():
            for i, value in enumerate(values):
                step = (i + 1) * 100
                rows.append({"model": model, "checkpoint": f"step_{step}", "step": step, "tokens": step * 1e6,
                             "words": np.nan, "task": task, "metric": metric, "value": value, "stderr": np.nan})
    rows.append({"model": "short", "checkpoint": "step_100", "step": 100, "tokens": np.nan, "words": np.nan,
                 "task": "sciq", "metric": "acc", "value": 0.2, "stderr": np.nan})
    return pd.DataFrame(rows)


def test_score_results_shape_and_values():
    table = _table()
    scores = score_results(table, rc_pairs=[("sci", "web")], rc_reference=300, cs_pairs=[("sci", "web")])
    text = json.dumps(scores, allow_nan=False)
    assert json.loads(text) == scores
    assert set(scores) == {"settings", "benchmarks", "acquisition", "item_slopes"}
    settings = scores["settings"]
    assert settings["x"] == "step" and settings["weights"] == [0.5, 0.1, 0.4]
    assert settings["rc_pairs"] == [["sci", "web"]] and settings["rc_reference"] == 300.0
    assert settings["cs_pairs"] == [["sci", "web"]]
    assert (settings["rc_variant"], settings["cs_variant"]) == ("agreement", "win_rate")
    assert settings["notes"][0].startswith("RC and CS are reconstructions")
    assert (settings["last_k"], settings["decision"], settings["bootstrap"], settings["seed"]) == (5, None, 0, 0)

    blimp, sciq = scores["benchmarks"]
    assert (blimp["task"], sciq["task"]) == ("blimp", "sciq")  # sorted by (task, metric)
    assert set(sciq) == {"task", "metric", "sq", "sq_ci", "rc", "cs", "score", "snr", "decision", "bootstrap",
                         "models", "notes"}
    assert set(sciq["models"]) == {"sci", "web", "short"}
    assert set(sciq["models"]["sci"]) == {"monotonicity", "autocorrelation", "sq", "n", "warning", "noise",
                                          "monotonicity_ci", "autocorrelation_ci", "sq_ci", "noise_ci"}
    assert (sciq["sq_ci"], sciq["decision"], sciq["bootstrap"]) == (None, None, None)
    for bench in (sciq, blimp):
        for model in ("sci", "web") if bench is sciq else ("sci",):
            quality = bench["models"][model]
            expected = _scipy_sq(CURVES[(bench["task"], "acc")][model])
            assert (quality["monotonicity"], quality["autocorrelation"], quality["sq"]) == pytest.approx(expected, abs=1e-12)
            assert quality["n"] == 10 and quality["warning"] is None
    assert sciq["models"]["sci"]["monotonicity"] == 1.0
    short = {key: sciq["models"]["short"][key] for key in ("monotonicity", "autocorrelation", "sq", "n", "warning")}
    assert short == {"monotonicity": 0.0, "autocorrelation": 0.0, "sq": 0.0, "n": 1,
                     "warning": "series of 1 point(s) has no signal"}
    assert sciq["snr"]["last_k"] == 5 and sciq["notes"] == ["SNR: fewer than last_k=5 points, all used: short (1)"]
    assert sciq["sq"] == pytest.approx(np.mean([m["sq"] for m in sciq["models"].values()]))
    assert blimp["models"]["web"]["warning"] == "constant series has no signal"
    assert blimp["sq"] == pytest.approx(_scipy_sq(CURVES[("blimp", "acc")]["sci"])[2] / 2, abs=1e-12)  # web scores 0
    # sciq: tie at step 100, sci > web from 200 on; blimp: sci < web at the reference 300, tie at 400, above after
    assert sciq["rc"] == 1.0 and sciq["cs"] == 0.9
    assert sciq["score"] == pytest.approx(0.5 * sciq["sq"] + 0.1 * 1.0 + 0.4 * 0.9)
    assert blimp["rc"] == 0.0 and blimp["cs"] == 0.6


def test_score_results_keeps_series_notes_in_its_output_not_python_warnings():
    """The CLI prints each note once, naming the series; Python's warnings would add source lines and repeats."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", SignalQualityWarning)
        scores = score_results(_table())
    assert scores["benchmarks"][1]["models"]["short"]["warning"] == "series of 1 point(s) has no signal"


def test_score_results_nulls_and_notes():
    table = _table()
    scores = score_results(table, x="tokens", rc_pairs=[("sci", "short")], rc_reference=500e6)
    sciq = scores["benchmarks"][1]
    assert sciq["rc"] is None and sciq["cs"] is None and sciq["score"] is None
    notes = "\n".join(scores["settings"]["notes"])
    assert "sciq/acc short: tokens missing for some checkpoints; ordered by step instead" in notes
    assert "sciq/acc: RC not computed" in notes and "blimp/acc: RC not computed" in notes
    json.dumps(scores, allow_nan=False)
    with pytest.raises(ValueError, match="rc_reference"):
        score_results(table, rc_pairs=[("sci", "web")])
    with pytest.raises(ValueError, match="same step"):
        score_results(pd.concat([table, table.iloc[:1]]))
    with pytest.raises(ResultsError, match="missing column"):
        score_results(table.drop(columns="stderr"))
    with pytest.raises(ValueError, match="unknown RC variant 'kendal'"):
        score_results(table, rc_variant="kendal")
    with pytest.raises(ValueError, match="unknown CS variant"):
        score_results(table, cs_variant="ratio")


def _quality(mono, ac, n, warning=None) -> dict:
    return {"monotonicity": mono, "autocorrelation": ac, "sq": (mono + ac) / 2, "n": n, "warning": warning}


LONG_TASK = "zorro_agreement_subject_verb_in_question_aux"
SHORT = "series of n=4 < 8 points has no lag; autocorrelation set to 0"


def test_format_scores_aligns_long_names_and_notes_each_series_once():
    scores = {
        "settings": {"notes": ["RC and CS are reconstructions"]},
        "benchmarks": [
            {"task": LONG_TASK, "metric": "acc", "sq": 0.5, "rc": None, "cs": None, "score": None,
             "models": {"model-a": _quality(1.0, 0.0, 4, SHORT), "model-bb": _quality(0.0, 0.0, 4, SHORT)}},
            {"task": "sciq", "metric": "margin", "sq": 0.8, "rc": 1.0, "cs": 0.25, "score": 0.6,
             "models": {"model-a": _quality(1.0, 0.6, 12), "model-bb": _quality(0.8, 0.8, 12)}},
        ],
    }
    assert format_scores(scores).splitlines() == [
        "task                                          metric  model          mono      AC      SQ     n      RC      CS   score",
        "zorro_agreement_subject_verb_in_question_aux  acc     model-a      1.0000  0.0000  0.5000     4",
        "zorro_agreement_subject_verb_in_question_aux  acc     model-bb     0.0000  0.0000  0.0000     4",
        "zorro_agreement_subject_verb_in_question_aux  acc     = benchmark                  0.5000             -       -       -",
        "sciq                                          margin  model-a      1.0000  0.6000  0.8000    12",
        "sciq                                          margin  model-bb     0.8000  0.8000  0.8000    12",
        "sciq                                          margin  = benchmark                  0.8000        1.0000  0.2500  0.6000",
        "",
        f"note: {LONG_TASK} acc model-a: {SHORT}",
        f"note: {LONG_TASK} acc model-bb: {SHORT}",
        "note: RC and CS are reconstructions",
    ]


def test_format_scores_shows_the_new_figures_only_where_they_exist():
    def model(sq, noise, ci):
        return {**_quality(sq, sq, 12), "noise": noise, "sq_ci": ci}

    snr = {"signal": 0.3, "noise": 0.1, "snr": 3.0, "snr_ci": [2.5, 3.5]}
    scores = {
        "settings": {"notes": []},
        "benchmarks": [
            {"task": "zorro_x", "metric": "acc", "sq": 0.8, "sq_ci": [0.7, 0.9], "rc": None, "cs": None, "score": None,
             "snr": snr, "decision": {"final": 0.75}, "notes": ["SNR: fewer than last_k=5 points"],
             "models": {"a": model(0.9, 0.05, [0.85, 0.95]), "b": model(0.7, 0.02, None)}},
            {"task": "zorro_y", "metric": "acc", "sq": 0.5, "sq_ci": None, "rc": None, "cs": None, "score": None,
             "snr": {**snr, "snr": None, "snr_ci": None}, "decision": None,
             "notes": ["SNR: fewer than last_k=5 points"],
             "models": {"a": model(0.5, 0.01, None), "b": model(0.5, None, None)}},
        ],
        "acquisition": {"a": {"zorro_x": {"aoa": 1.234e8, "status": "learned"},
                              "zorro_y": {"aoa": None, "status": "not learned"}},
                        "b": {"zorro_x": {"aoa": None, "status": "no fit"}}},
        "item_slopes": {"a": {"zorro_x": {"rising_share": 0.42}}},
    }
    assert format_scores(scores).splitlines() == [
        "task     metric  model          mono      AC      SQ     n      RC      CS   score   noise     SNR     dec"
        "      AoA  rise           SQ 95%          SNR 95%",
        "zorro_x  acc     a            0.9000  0.9000  0.9000    12                          0.0500"
        "                 1.23e+08   42%   [0.850, 0.950]",
        "zorro_x  acc     b            0.7000  0.7000  0.7000    12                          0.0200                   no fit",
        "zorro_x  acc     = benchmark                  0.8000             -       -       -  0.1000  3.0000  0.7500"
        "                  [0.700, 0.900]   [2.500, 3.500]",
        "zorro_y  acc     a            0.5000  0.5000  0.5000    12                          0.0100                      not",
        "zorro_y  acc     b            0.5000  0.5000  0.5000    12                               -",
        "zorro_y  acc     = benchmark                  0.5000             -       -       -  0.1000       -",
        "",
        "note: SNR: fewer than last_k=5 points (zorro_x acc, zorro_y acc)",
    ]


def test_format_scores_has_no_benchmark_row_for_a_single_model_without_rc_or_cs():
    scores = score_results(_table()[lambda t: t.model == "sci"])
    lines = format_scores(scores).splitlines()
    assert [line.split()[:3] for line in lines[1:3]] == [["blimp", "acc", "sci"], ["sciq", "acc", "sci"]]
    assert not any("= benchmark" in line for line in lines)
    # the SNR note of both benchmarks is printed once, naming them
    assert lines[3:] == ["", "note: SNR: one model: no signal, SNR undefined (blimp acc, sciq acc)",
                         f"note: {RECONSTRUCTION_NOTE}"]


# --- organizer curves -----------------------------------------------------------------------------------------

def _write_curves(path: Path, document) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_load_organizer_curves_selection(tmp_path):
    iterations = [2000, 4000, 6000, 8000, 52000, 56000, 60000]
    gtokens = [2.1, 4.19, 6.29, 10.11, 189.2, 205.99, 222.8]
    path = _write_curves(tmp_path / "c.json", {"metadata": {}, "data": {"m": {
        "iteration": iterations, "gtokens": gtokens, "model_type": ["x"] * 7, "experiment": ["m"] * 7,
        "sciq": [0.1, 0.2, 0.3, None, 0.5, 0.6, 0.7], "piqa": [0.5] * 7,
    }}})
    table = load_organizer_curves(path)
    assert list(table.columns) == ["model", "checkpoint", "step", "tokens", "words", "task", "metric", "value", "stderr"]
    sciq = table[table.task == "sciq"]
    assert sciq.step.tolist() == [4000, 52000, 56000]  # 8000 is null, 60000 is past 206 GT
    assert sciq.checkpoint.tolist() == ["iter_0004000", "iter_0052000", "iter_0056000"]
    assert sciq.tokens.tolist() == pytest.approx([4.19e9, 189.2e9, 205.99e9])
    assert set(table.metric) == {"acc"} and table.words.isna().all() and table.stderr.isna().all()
    assert set(table.task) == {"sciq", "piqa"}
    assert len(load_organizer_curves(path, benchmarks=["piqa"], every=None, max_tokens=None)) == 7


@pytest.mark.parametrize("document, message", [
    ({"metadata": {}}, "missing key 'data'"),
    ({"data": {"m": {"gtokens": [1.0]}}}, r"data\['m'\] has no 'iteration' list"),
    ({"data": {"m": {"iteration": [4000], "gtokens": [4.2], "sciq": [0.1, 0.2]}}},
     r"data\['m'\]\['sciq'\] has 2 values but 'iteration' has 1"),
    ({"data": {"m": {"iteration": [4000], "sciq": [0.1]}}}, r"data\['m'\] has no 'gtokens' list"),
    ({"data": {"m": {"iteration": [4000], "gtokens": [4.2], "sciq": ["x"]}}}, r"data\['m'\]\['sciq'\]\[0\] is not a number"),
])
def test_load_organizer_curves_malformed(tmp_path, document, message):
    path = _write_curves(tmp_path / "bad.json", document)
    with pytest.raises(ResultsError, match=r"bad\.json: " + message):
        load_organizer_curves(path)


def test_load_organizer_curves_unknown_model_and_bad_json(tmp_path):
    path = _write_curves(tmp_path / "c.json", {"data": {"m": {"iteration": [4000], "gtokens": [4.2]}}})
    with pytest.raises(ResultsError, match="no model"):
        load_organizer_curves(path, models=["other"])
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ResultsError, match=r"broken\.json: not valid JSON"):
        load_organizer_curves(tmp_path / "broken.json")


# SQ of the organizers' public curves under their notebook's selection (14 points), rounded to 3 decimals, as an
# independent reproduction tabulated it, except that tied values rank here in order of appearance: that table was
# computed with numpy's AVX2 sort, which orders ties otherwise, and differs in the six entries marked "ties"
# (arc_challenge 1b-a1 is the organizers' published example below).
# 500m-a1, 1b-a1, 3b-a1, 500m-a2, 1b-a2, 3b-a2
REFERENCE_TABLE = {
    "mmluvar": (0.935, 0.981, 0.960, 0.810, 0.979, 0.945),
    "hellaswag": (0.982, 0.996, 0.998, 0.980, 0.993, 0.995),
    "lambada_standard": (0.893, 0.862, 0.927, 0.858, 0.902, 0.921),
    "piqa": (0.799, 0.803, 0.923, 0.917, 0.822, 0.845),  # ties
    "sciq": (0.670, 0.931, 0.937, 0.924, 0.778, 0.793),
    "arc_challenge": (0.813, 0.867, 0.815, 0.789, 0.875, 0.715),  # ties
    "race": (0.521, 0.832, 0.677, 0.358, 0.628, 0.639),  # ties
    "winogrande": (0.265, 0.803, 0.703, 0.197, 0.674, 0.572),  # ties
    "mmlu": (0.085, 0.115, 0.656, 0.078, 0.329, 0.374),
    "mmlu_pro": (0.444, 0.098, 0.484, 0.239, 0.217, 0.122),  # ties
    "bbh": (0.292, 0.083, 0.681, 0.121, 0.326, 0.336),
    "gpqa": (0.365, 0.077, 0.239, 0.087, 0.085, 0.176),  # ties
    "anli_r3": (0.341, 0.174, 0.157, 0.152, 0.561, 0.067),
}
MODELS = ("dense-500m-arch1", "dense-1b-arch1", "dense-3b-arch1", "dense-500m-arch2", "dense-1b-arch2", "dense-3b-arch2")
ARCH1 = MODELS[:3]


@pytest.fixture(scope="module")
def organizer_scores():
    table = load_organizer_curves(ORGANIZER_CURVES)
    assert sorted(table.step.unique().tolist()) == list(range(4000, 56001, 4000))
    return {(b["task"]): b for b in score_results(table)["benchmarks"]}


@needs_curves
def test_published_mmluvar_sq(organizer_scores):
    models = organizer_scores["mmluvar"]["models"]
    measured = [models[m]["sq"] for m in ARCH1]
    print("mmluvar SQ (500m/1b/3b arch1):", [round(v, 4) for v in measured], "mean", round(np.mean(measured), 4))
    assert all(models[m]["n"] == 14 for m in ARCH1)
    assert measured == pytest.approx([0.9354, 0.9814, 0.9601], abs=1e-3)
    fields = ("monotonicity", "autocorrelation", "sq", "n", "warning")
    per_model = {m: SignalQuality(**{key: models[m][key] for key in fields}) for m in ARCH1}
    assert benchmark_sq(per_model) == pytest.approx(0.959, abs=1e-3)


@needs_curves
@pytest.mark.parametrize("task, mono, ac, sq", [("anli_r3", 0.0, 0.3473, 0.1737), ("arc_challenge", 0.8198, 0.9139, 0.8669)])
def test_worked_examples_dense_1b(organizer_scores, task, mono, ac, sq):
    """The organizers' figures for dense-1b-arch1. arc_challenge has ties: ranked in order of appearance it gives
    the published Mono; numpy's default (SIMD) argsort on AVX2/AVX-512 machines gives 0.7934."""
    quality = organizer_scores[task]["models"]["dense-1b-arch1"]
    assert quality["monotonicity"] == pytest.approx(mono, abs=1e-4)
    assert quality["autocorrelation"] == pytest.approx(ac, abs=1e-4)
    assert quality["sq"] == pytest.approx(sq, abs=1e-4)


@needs_curves
@pytest.mark.parametrize("task", sorted(REFERENCE_TABLE))
def test_reference_table(organizer_scores, task):
    models = organizer_scores[task]["models"]
    assert [models[m]["sq"] for m in MODELS] == pytest.approx(REFERENCE_TABLE[task], abs=5.01e-4)
    assert all(models[m]["warning"] is None for m in MODELS)
