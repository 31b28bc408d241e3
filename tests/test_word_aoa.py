"""Word AoA as the BabyLM 2025 pipeline scores it: planted child and model crossings are recovered, flat and
short curves give no age, the score is scipy's Pearson r over the recovered ages, and surprisal.json round-trips."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import pearsonr

from e2lm_bench.scores.word_aoa import (
    child_aoa,
    model_aoa,
    pipeline_surprisal_json,
    read_cdi_human,
    read_surprisal_json,
    word_aoa_score,
    words_from_checkpoint_name,
)

AGES = np.arange(16, 31)
M = 1_000_000
# the pipeline's non-strict-small checkpoints: 1..9M, 10..100M by 10, 200..1000M by 100
STEPS = [i * M for i in range(1, 10)] + [10 * i * M for i in range(1, 11)] + [100 * i * M for i in range(2, 11)]
CHANCE = math.log2(300_000)


def _logistic(x, a, b, c, d):
    return a / (1 + np.exp(-b * (np.asarray(x, dtype=float) - c))) + d


def _surprisals(midpoint, steps=STEPS, a=10.0, b=3.0, floor=16.0):
    """Surprisal falling from ``floor`` by ``a`` along a sigmoid in log10(words + 1): -surprisal = sigmoid(a, b, c, -floor)."""
    return floor - _logistic(np.log10(np.asarray(steps, dtype=float) + 1), a, b, midpoint, 0.0)


def _expected_log_aoa(midpoint, a=10.0, b=3.0, floor=16.0):
    """The crossing written out: halfway between log2(300,000) and the lowest surprisal seen."""
    lowest = _surprisals(midpoint, a=a, b=b, floor=floor).min()
    level = -(CHANCE - 0.5 * (CHANCE - lowest))
    return midpoint - math.log(a / (level + floor) - 1) / b


def test_child_aoa_recovers_the_midpoint_of_a_noiseless_curve():
    assert child_aoa(AGES, _logistic(AGES, 1.0, 0.5, 22.0, 0.0)) == pytest.approx(22.0, abs=1e-4)
    # a=0.8, d=0.1: 0.5 is still the midpoint; a=1, d=-0.1: the crossing is later, at c + ln(1/0.6 - 1)/-b
    assert child_aoa(AGES, _logistic(AGES, 0.8, 0.6, 19.5, 0.1)) == pytest.approx(19.5, abs=1e-4)
    assert child_aoa(AGES, _logistic(AGES, 1.0, 0.5, 22.0, -0.1)) == pytest.approx(22 - math.log(1 / 0.6 - 1) / 0.5, abs=1e-4)


def test_child_aoa_drops_missing_shares_and_refuses_flat_or_short_curves():
    shares = _logistic(AGES, 1.0, 0.5, 24.0, 0.0)
    shares[[0, 3, 9]] = np.nan
    assert child_aoa(AGES, shares) == pytest.approx(24.0, abs=1e-4)
    assert child_aoa(AGES, np.full(len(AGES), 0.3)) is None  # never reaches 0.5
    assert child_aoa(AGES, np.full(len(AGES), 0.9)) is None  # above 0.5 throughout
    two = np.full(len(AGES), np.nan)
    two[[4, 8]] = [0.2, 0.8]
    assert child_aoa(AGES, two) is None


def test_model_aoa_recovers_the_crossing_of_a_sigmoid_in_log_words():
    for midpoint in (6.8, 7.5, 8.2):
        assert model_aoa(STEPS, _surprisals(midpoint)) == pytest.approx(_expected_log_aoa(midpoint), abs=1e-5)
    # pooled contexts (each checkpoint three times) and a NaN surprisal change nothing
    pooled_steps = [s for s in STEPS for _ in range(3)]
    pooled = np.repeat(_surprisals(7.5), 3)
    pooled[4] = np.nan
    assert model_aoa(pooled_steps, pooled) == pytest.approx(_expected_log_aoa(7.5), abs=1e-5)


def test_model_aoa_returns_none_without_a_crossing_in_range():
    assert model_aoa(STEPS, np.full(len(STEPS), 12.0)) is None  # flat
    assert model_aoa(STEPS[:2], _surprisals(7.5, STEPS[:2])) is None  # fewer than three points
    assert model_aoa(STEPS[:3], [np.nan, np.nan, np.nan]) is None
    assert model_aoa(STEPS, _surprisals(7.5)[::-1]) is None  # rising surprisal: a negative slope
    # the pipeline's range check uses the first and last steps as given: descending steps never pass it
    assert model_aoa(STEPS[::-1], _surprisals(7.5)[::-1]) is None
    with pytest.raises(ValueError):
        model_aoa(STEPS, [1.0, 2.0])


def test_words_from_checkpoint_name():
    assert words_from_checkpoint_name("chck_10M") == 10_000_000
    assert words_from_checkpoint_name("runs/model/chck_500K") == 500_000
    assert words_from_checkpoint_name("chck_2B") == 2_000_000_000
    assert words_from_checkpoint_name("main") is None


# five words, child and model midpoints in the same order but not on a line; one word outside the CDI, one flat
CHILD_MIDPOINTS = {"ball": 18.0, "dog": 20.5, "cup": 21.0, "shoe": 24.0, "bath": 27.5}
MODEL_MIDPOINTS = {"ball": 6.6, "dog": 6.9, "cup": 7.6, "shoe": 7.8, "bath": 8.5}


def _cdi_csv(path, words):
    lines = ["word,lexical_class," + ",".join(str(a) for a in AGES)]
    for word in words:
        shares = _logistic(AGES, 1.0, 0.5, CHILD_MIDPOINTS[word], 0.0) if word in CHILD_MIDPOINTS else np.full(15, 0.2)
        lines.append(f"{word},nouns," + ",".join(f"{v:.12f}" for v in shares))
    lines.append("ball,nouns," + ",".join("0.9" for _ in AGES))  # a second row of a word: ignored
    path.write_text("\n".join(lines) + "\n")
    return path


def _points(words, contexts=2):
    points = []
    for step_index, steps in enumerate(STEPS):
        for word in words:
            surprisal = _surprisals(MODEL_MIDPOINTS.get(word, 7.0))[step_index]
            points += [(word, steps, float(surprisal))] * contexts
    return points


def test_word_aoa_score_is_pearson_r_over_the_recovered_ages(tmp_path):
    cdi = _cdi_csv(tmp_path / "cdi_human.csv", [*CHILD_MIDPOINTS, "flatword"])
    result = word_aoa_score(_points([*CHILD_MIDPOINTS, "flatword", "notincdi"]), cdi)
    assert result["words"] == list(CHILD_MIDPOINTS) and result["n_words"] == 5
    np.testing.assert_allclose(result["child_aoa"], list(CHILD_MIDPOINTS.values()), atol=1e-4)
    np.testing.assert_allclose(result["model_aoa"], [_expected_log_aoa(m) for m in MODEL_MIDPOINTS.values()], atol=1e-5)
    direct = pearsonr(result["model_aoa"], result["child_aoa"])
    assert result["curve_fitness"] == pytest.approx(direct.statistic, abs=1e-12)
    assert result["p_value"] == pytest.approx(direct.pvalue, abs=1e-12)
    expected = pearsonr([_expected_log_aoa(m) for m in MODEL_MIDPOINTS.values()], list(CHILD_MIDPOINTS.values())).statistic
    assert result["curve_fitness"] == pytest.approx(expected, abs=1e-4)
    assert 0.8 < result["curve_fitness"] < 0.999


def test_word_aoa_score_is_zero_with_fewer_than_three_words(tmp_path):
    cdi = _cdi_csv(tmp_path / "cdi_human.csv", ["ball", "dog"])
    result = word_aoa_score(_points(list(CHILD_MIDPOINTS)), cdi)
    assert result["curve_fitness"] == 0.0 and result["n_words"] == 2 and result["p_value"] is None


def test_read_cdi_human_keeps_the_first_row_and_the_age_columns(tmp_path):
    words, ages, table = read_cdi_human(_cdi_csv(tmp_path / "cdi_human.csv", ["ball", "dog"]))
    assert words == ["ball", "dog"] and ages == list(range(16, 31))
    assert table.loc["ball", 22] == pytest.approx(_logistic(22, 1.0, 0.5, 18.0, 0.0))


def test_surprisal_json_round_trip(tmp_path):
    points = _points(["ball", "dog"], contexts=3)
    points[5] = ("dog", points[5][1], float("nan"))  # the pipeline writes NaN for a failed word
    data = pipeline_surprisal_json(points, "org/baby-model")
    assert data["metadata"] == {"model_name": "org/baby-model", "use_bos_only": True,
                                "total_steps": len(STEPS), "completed_steps": len(STEPS)}
    first = data["results"][:4]
    assert [r["context_id"] for r in first] == [0, 1, 2, 0]
    assert first[0] == {"step": "chck_1M", "word_count": 1_000_000, "target_word": "ball", "context_id": 0,
                        "context": "BOS_ONLY", "surprisal": points[0][2]}
    assert {r["step"] for r in data["results"]} >= {"chck_10M", "chck_1000M"}
    path = tmp_path / "surprisal.json"
    path.write_text(json.dumps(data, indent=2))
    back = read_surprisal_json(path)
    assert len(back) == len(points)
    for (word, steps, surprisal), (word2, steps2, surprisal2) in zip(points, back):
        assert (word, steps) == (word2, steps2)
        assert surprisal == surprisal2 or (math.isnan(surprisal) and math.isnan(surprisal2))
    cdi = _cdi_csv(tmp_path / "cdi_human.csv", list(CHILD_MIDPOINTS))
    assert word_aoa_score(back, cdi)["model_aoa"] == word_aoa_score(points, cdi)["model_aoa"]
