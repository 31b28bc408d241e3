"""The BabyLM 2025 corpus-level aggregations equal direct computations: WUG's Spearman rho (scipy) and the
reading regressions (statsmodels formulas written out here, and a numpy least-squares fit)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy.stats import spearmanr

from e2lm_bench.lm_eval_tasks.babylm_2025 import metrics

# -- WUG ------------------------------------------------------------------------------------------------


def test_wug_item_is_the_two_way_logistic_of_the_log_likelihood_difference():
    rng = np.random.default_rng(0)
    for ll0, ll1 in rng.normal(-40, 8, size=(50, 2)):
        q0, ratio = metrics.wug_item([ll0, ll1], "0.25")
        assert q0 == pytest.approx(1 / (1 + math.exp(ll1 - ll0)), rel=1e-12)
        assert ratio == 0.25


def test_wug_item_softmax_over_three_candidates_and_extreme_values():
    lls = [-3.0, -1.0, -2.5]
    expected = math.exp(-3.0) / sum(math.exp(v) for v in lls)
    assert metrics.wug_item(lls, 0.5)[0] == pytest.approx(expected, rel=1e-12)
    q0, _ = metrics.wug_item([-20_000.0, -20_001.0], 0.5)  # exp() of either alone underflows to 0
    assert q0 == pytest.approx(1 / (1 + math.exp(-1.0)), rel=1e-12)
    with pytest.raises(ValueError):
        metrics.wug_item([], 0.5)


def test_wug_spearman_is_scipy_over_all_items_at_once():
    rng = np.random.default_rng(1)
    lls = rng.normal(-30, 5, size=(60, 2))
    ratios = np.round(rng.uniform(0, 1, 60), 1)  # rounded: ties, averaged ranks
    items = [metrics.wug_item(list(pair), r) for pair, r in zip(lls, ratios)]
    q0 = 1 / (1 + np.exp(lls[:, 1] - lls[:, 0]))
    expected = spearmanr(q0, ratios).statistic
    assert metrics.wug_spearman(items) == pytest.approx(expected, abs=1e-12)
    assert abs(expected) > 0 and not math.isnan(expected)
    # a mean of per-chunk values would differ: the rho is over every item
    halves = np.mean([spearmanr(q0[:30], ratios[:30]).statistic, spearmanr(q0[30:], ratios[30:]).statistic])
    assert metrics.wug_spearman(items) != pytest.approx(halves, abs=1e-6)


def test_wug_spearman_is_nan_when_undefined():
    assert math.isnan(metrics.wug_spearman([(0.3, 0.5), (0.7, 0.5), (0.1, 0.5)]))  # constant ratio
    assert math.isnan(metrics.wug_spearman([(0.4, 0.1), (0.4, 0.9)]))  # constant q0
    assert math.isnan(metrics.wug_spearman([(0.4, 0.1)]))
    assert metrics.wug_spearman([(0.1, 0.2), (0.5, 0.3), (0.9, 0.1)]) == pytest.approx(-0.5)


# -- reading --------------------------------------------------------------------------------------------

ET_BASELINE = "{dv} ~ Subtlex_log10 + length + context_length + Subtlex_log10:length + Subtlex_log10:context_length" \
              " + length:context_length"
SPR_BASELINE = (
    "self_paced_reading_time ~ Subtlex_log10 + length + context_length + prev_length + prev_pred"
    " + Subtlex_log10:length + Subtlex_log10:context_length + Subtlex_log10:prev_length + Subtlex_log10:prev_pred"
    " + length:context_length + length:prev_length + length:prev_pred + context_length:prev_length"
    " + context_length:prev_pred + prev_length:prev_pred"
)
ET_DVS = ["RTfirstfix", "RTfirstpass", "RTgopast", "RTrightbound"]
MISSING_WORD_ROW = 17  # its "word" item is absent: pred NaN, so its baseline and model use different rows


def _synthetic_rows(n_rows=120, sentence_length=6, seed=3):
    """Rows of sentences: surprisal drives the reading times; NaN in some RT cells; no prev on sentence starts."""
    rng = np.random.default_rng(seed)
    rows = []
    for row in range(n_rows):
        position = row % sentence_length
        subtlex, length = rng.uniform(1, 5), float(rng.integers(2, 11))
        pred = 12 - 1.5 * subtlex + 0.3 * length + rng.normal(0, 1.5)
        prev_pred = None if position == 0 else 8 + rng.normal(0, 2)
        prev_length = None if position == 0 else float(rng.integers(2, 11))
        variables = {"Subtlex_log10": subtlex, "length": length, "context_length": float(position),
                     "prev_length": prev_length}
        for k, dv in enumerate(ET_DVS):
            value = 200 + 15 * length - 10 * subtlex + (4 + k) * pred + rng.normal(0, 20)
            variables[dv] = None if (row * (k + 3)) % 11 == 0 else value
        spr = 300 + 5 * length + 6 * pred + (0 if prev_pred is None else 3 * prev_pred) + rng.normal(0, 25)
        variables["self_paced_reading_time"] = None if row % 13 == 5 else spr
        rows.append((row, pred, prev_pred, variables))
    return rows


def _items(rows):
    items = []
    for row, pred, prev_pred, variables in rows:
        if row != MISSING_WORD_ROW:
            items.append((row, "word", pred, variables))
        if prev_pred is not None:
            items.append((row, "prev", prev_pred, variables))
    order = np.random.default_rng(7).permutation(len(items))  # lm-eval need not keep row order
    return [items[i] for i in order]


def _direct_frame(rows):
    records = []
    for row, pred, prev_pred, variables in rows:
        record = {k: (np.nan if v is None else v) for k, v in variables.items()}
        record.update(row=row, pred=np.nan if row == MISSING_WORD_ROW else pred,
                      prev_pred=np.nan if prev_pred is None else prev_pred)
        records.append(record)
    return pd.DataFrame(records)


def _gain(frame, baseline, dv, predictors):
    base = smf.ols(baseline, data=frame[[dv, *predictors]].dropna()).fit().rsquared
    model = smf.ols(baseline + " + pred", data=frame[["pred", dv, *predictors]].dropna()).fit().rsquared
    return 100 * (model - base) / (1 - base), base, model


def _lstsq_r2(frame, dv, predictors, with_pred):
    """R^2 of the same design built by hand (intercept, main effects, pairwise products, optionally pred)."""
    columns = [dv, *predictors] + (["pred"] if with_pred else [])
    data = frame[columns].dropna()
    names = list(predictors)
    design = [np.ones(len(data))] + [data[p].to_numpy() for p in names]
    design += [data[a].to_numpy() * data[b].to_numpy() for i, a in enumerate(names) for b in names[i + 1:]]
    if with_pred:
        design.append(data["pred"].to_numpy())
    x, y = np.column_stack(design), data[dv].to_numpy()
    residual = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    return 1 - residual @ residual / ((y - y.mean()) @ (y - y.mean()))


def test_reading_frame_one_row_per_id_with_pred_and_prev_pred():
    rows = _synthetic_rows()
    frame = metrics.reading_frame(_items(rows))
    assert list(frame["row"]) == list(range(len(rows)))
    assert math.isnan(frame.loc[MISSING_WORD_ROW, "pred"])
    assert frame.loc[1, "pred"] == rows[1][1] and frame.loc[1, "prev_pred"] == rows[1][2]
    starts = frame["context_length"] == 0
    assert frame.loc[starts, "prev_pred"].isna().all() and frame.loc[~starts, "prev_pred"].notna().all()
    assert frame["RTfirstfix"].isna().sum() > 0


def test_reading_scores_equal_statsmodels_fits_written_out():
    rows = _synthetic_rows()
    assert len(rows) >= 80
    items = _items(rows)
    direct = _direct_frame(rows)
    et = [_gain(direct, ET_BASELINE.format(dv=dv), dv, ["Subtlex_log10", "length", "context_length"]) for dv in ET_DVS]
    spr_predictors = ["Subtlex_log10", "length", "context_length", "prev_length", "prev_pred"]
    spr = _gain(direct, SPR_BASELINE, "self_paced_reading_time", spr_predictors)

    assert metrics.eye_tracking_score(items) == pytest.approx(np.mean([g for g, _, _ in et]), abs=1e-9)
    assert metrics.self_paced_reading_score(items) == pytest.approx(spr[0], abs=1e-9)
    assert 0 < spr[0] < 100 and all(0 < g < 100 for g, _, _ in et)

    report = metrics.reading_regressions(metrics.reading_frame(items))
    for dv, (gain, base, model) in zip(ET_DVS, et):
        assert report["dvs"][dv]["r2_baseline"] == pytest.approx(base, abs=1e-12)
        assert report["dvs"][dv]["r2_model"] == pytest.approx(model, abs=1e-12)
        assert report["dvs"][dv]["score"] == pytest.approx(gain, abs=1e-9)
        assert report["dvs"][dv]["normalized_delta_r2"] == pytest.approx(gain / 100, abs=1e-11)
    assert report["eye_tracking"] == pytest.approx(metrics.eye_tracking_score(items), abs=1e-12)
    assert report["self_paced_reading"] == pytest.approx(spr[0], abs=1e-9)

    # the baseline keeps the row whose pred is missing; the model does not
    assert report["dvs"]["RTfirstfix"]["n_baseline"] == report["dvs"]["RTfirstfix"]["n_model"] + 1
    # and the fits are the design written by hand
    spr_report = report["dvs"]["self_paced_reading_time"]
    assert spr_report["r2_baseline"] == pytest.approx(_lstsq_r2(direct, "self_paced_reading_time", spr_predictors, False), abs=1e-9)
    assert spr_report["r2_model"] == pytest.approx(_lstsq_r2(direct, "self_paced_reading_time", spr_predictors, True), abs=1e-9)


def test_joint_dropna_would_give_another_number():
    """Guards the per-model dropna: fitting both models on the rows complete for the model differs."""
    direct = _direct_frame(_synthetic_rows())
    predictors = ["Subtlex_log10", "length", "context_length"]
    joint = direct[["pred", "RTfirstfix", *predictors]].dropna()
    base = smf.ols(ET_BASELINE.format(dv="RTfirstfix"), data=joint).fit().rsquared
    score = metrics.reading_regressions(metrics.reading_frame(_items(_synthetic_rows())))["dvs"]["RTfirstfix"]
    assert score["r2_baseline"] != pytest.approx(base, abs=1e-9)


def test_reading_frame_rejects_bad_items():
    variables = {"Subtlex_log10": 1.0}
    with pytest.raises(ValueError, match="kind"):
        metrics.reading_frame([(0, "next", 1.0, variables)])
    with pytest.raises(ValueError, match="two different"):
        metrics.reading_frame([(0, "word", 1.0, variables), (0, "word", 2.0, variables)])
    assert len(metrics.reading_frame([(0, "word", 1.0, variables), (0, "word", 1.0, variables)])) == 1
