"""Decision accuracy on planted curves whose small-scale ordering turns right at a known checkpoint, ties as
half, and the CLI's one-line errors for a misspelled --decision."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from e2lm_bench.cli import main
from e2lm_bench.errors import UserError
from e2lm_bench.scores.benchmarks import score_results
from e2lm_bench.scores.decision import Decision, accuracy, decision_curve, final_values, parse_decision

X = [100.0, 200.0, 300.0, 400.0, 500.0, 600.0]
# targets end ordered t1 > t2 > t3; the small models are reversed until x = 300 and ordered from x = 400 on
SMALL = {"s1": [0.30, 0.31, 0.32, 0.50, 0.52, 0.55],
         "s2": [0.35, 0.36, 0.37, 0.45, 0.47, 0.50],
         "s3": [0.40, 0.41, 0.42, 0.40, 0.41, 0.42]}
TARGET = {"t1": [0.40, 0.60, 0.80, 0.90, 0.95, 0.97],
          "t2": [0.50, 0.60, 0.70, 0.80, 0.85, 0.87],
          "t3": [0.60, 0.60, 0.60, 0.70, 0.75, 0.77]}
DECISION = Decision(("s1", "s2", "s3"), ("t1", "t2", "t3"))


def _series(curves: dict) -> dict[str, pd.Series]:
    return {model: pd.Series(values, index=X[: len(values)]) for model, values in curves.items()}


def _table(curves: dict, task: str = "t") -> pd.DataFrame:
    return pd.DataFrame([
        {"model": model, "checkpoint": f"step_{int(x)}", "step": x, "tokens": x * 1e6, "words": np.nan,
         "task": task, "metric": "acc", "value": value, "stderr": np.nan}
        for model, values in curves.items() for x, value in zip(X, values)])


def test_planted_ordering_becomes_right_after_checkpoint_3():
    curves = _series({**SMALL, **TARGET})
    curve = decision_curve(curves, final_values(curves, DECISION.target), DECISION)
    assert curve.index.tolist() == X
    assert curve.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    assert len(DECISION.pairs) == 3


def test_partly_right_orderings_average_over_pairs():
    small = dict(SMALL, s3=[0.60] * 6)  # s3 above both: pairs (1,3) and (2,3) wrong throughout
    curves = _series({**small, **TARGET})
    curve = decision_curve(curves, final_values(curves, DECISION.target), DECISION)
    assert curve.tolist() == pytest.approx([0, 0, 0, 1 / 3, 1 / 3, 1 / 3])


def test_ties_count_half():
    decision = Decision(("a", "b"), ("c", "d"))
    assert accuracy({"a": 0.5, "b": 0.5}, {"c": 0.9, "d": 0.1}, decision) == 0.5  # small tie
    assert accuracy({"a": 0.6, "b": 0.5}, {"c": 0.5, "d": 0.5}, decision) == 0.5  # target tie
    assert accuracy({"a": 0.6, "b": 0.5}, {"c": 0.9, "d": 0.1}, decision) == 1.0
    assert accuracy({"a": 0.4, "b": 0.5}, {"c": 0.9, "d": 0.1}, decision) == 0.0
    # arrays broadcast: one call for a whole curve (or all bootstrap replicates)
    both = accuracy({"a": np.array([0.4, 0.5, 0.6]), "b": np.array([0.5, 0.5, 0.5])}, {"c": 0.9, "d": 0.1}, decision)
    assert both.tolist() == [0.0, 0.5, 1.0]


def test_targets_use_their_final_checkpoint_and_small_models_their_common_x():
    curves = _series({**SMALL, **TARGET})
    curves["t3"] = pd.Series([0.99, 0.10], index=[600.0, 50.0])  # row order is not x order: final is x = 600
    assert final_values(curves, ["t3"]) == {"t3": 0.99}
    curves["s3"] = curves["s3"].drop([200.0, 500.0])
    curve = decision_curve(curves, final_values(curves, DECISION.target), DECISION)
    assert curve.index.tolist() == [100.0, 300.0, 400.0, 600.0]


def test_score_results_decision_entry():
    scores = score_results(_table({**SMALL, **TARGET}), x="tokens", decision=DECISION)
    entry = scores["benchmarks"][0]["decision"]
    assert entry == {"curve": [[x * 1e6, acc] for x, acc in zip(X, [0, 0, 0, 1, 1, 1])], "final": 1.0,
                     "final_ci": None, "pairs": 3}
    assert scores["settings"]["decision"] == {"small": ["s1", "s2", "s3"], "target": ["t1", "t2", "t3"]}
    json.dumps(scores, allow_nan=False)


def test_a_benchmark_without_a_decision_model_gets_null_and_a_note():
    table = pd.concat([_table({**SMALL, **TARGET}), _table({"s1": SMALL["s1"], "s2": SMALL["s2"]}, task="u")])
    other = score_results(table, decision=DECISION)["benchmarks"][1]
    assert other["task"] == "u" and other["decision"] is None
    assert "decision: no curve for s3, t1, t2, t3" in other["notes"]


@pytest.mark.parametrize("text, message", [
    ("s1,s2=t1", "2 small model(s) but 1 target model(s)"),
    ("s1,s2=t1,nobody", "unknown model(s) nobody"),
    ("s1,s2", "expected SMALL1,SMALL2,...=TARGET1,TARGET2,..."),
    ("s1=t1", "at least two models"),
    ("s1,,s2=t1,t2,t3", "empty model name"),
    ("s1,s1=t1,t2", "listed twice"),
])
def test_parse_decision_errors(text, message):
    with pytest.raises(UserError, match=re.escape(message)):
        parse_decision(text, known={*SMALL, *TARGET})


def test_parse_decision():
    assert parse_decision(" s1, s2 = t1, t2 ", {"s1", "s2", "t1", "t2"}) == Decision(("s1", "s2"), ("t1", "t2"))


@pytest.mark.parametrize("spec, message", [
    ("s1,s2,s3=t1,t2", "3 small model(s) but 2 target model(s)"),
    ("s1,s2=t1,tx", "unknown model(s) tx"),
])
def test_cli_rejects_a_bad_decision_in_one_line(tmp_path, capsys, spec, message):
    _table({**SMALL, **TARGET}).to_csv(tmp_path / "results.csv", index=False)
    assert main(["score", str(tmp_path / "results.csv"), "--decision", spec]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("e2lm-bench score: --decision") and message in err
    assert not (tmp_path / "scores.json").exists()
