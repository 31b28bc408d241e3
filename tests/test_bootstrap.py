"""Item bootstrap: resampled means are means of resampled items, intervals narrow with more items and cover
planted Bernoulli accuracies, the batch SQ equals the scalar SQ, and `e2lm-bench score --bootstrap --decision`
on a run folder in the runner's format writes every new key."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from e2lm_bench.cli import main
from e2lm_bench.evaluation.results import COLUMNS, RESULTS_CSV, samples_path
from e2lm_bench.scores.benchmarks import score_results
from e2lm_bench.scores.bootstrap import interval, read_item_values, resampled_curves, resampling_weights
from e2lm_bench.scores.signal_quality import SignalQualityWarning, signal_quality, signal_quality_batch

STEPS = [100, 200, 300, 400, 500, 600, 700, 800]
SUBTASKS = ("zorro_x", "zorro_y")
# skill: how fast margins grow with log tokens; the "big" models end above the "small" ones in the same order
MODELS = {"small-a": 1.2, "small-b": 0.8, "big-a": 2.0, "big-b": 1.5}


def write_run(folder, n_items: int = 60, seed: int = 0):
    """A run folder as the trajectory runner leaves it: results.csv, and per (model, checkpoint) the group's
    samples file holding both subtasks' records (margins only as log-likelihoods, as lm-eval gives them)."""
    rng = np.random.default_rng(seed)
    offsets = {task: rng.normal(-1.0, 1.0, n_items) for task in SUBTASKS}
    rows = []
    for model, skill in MODELS.items():
        for step in STEPS:
            tokens = step * 1e6
            records, accs = [], []
            for task in SUBTASKS:
                margin = skill * (np.log10(tokens) - 8) + offsets[task] + rng.normal(0, 0.3, n_items)
                acc = (margin > 0).astype(float)
                accs.append(acc)
                records += [{"task": task, "doc_id": i, "target": 0, "requests_hash": "h",
                             "loglikelihoods": [-5.0 + m / 2, -5.0 - m / 2], "acc": a}
                            for i, (m, a) in enumerate(zip(margin, acc))]
                rows.append({"task": task, "value": acc.mean()})
            rows.append({"task": "zorro", "value": np.concatenate(accs).mean()})  # the group: no records of its own
            for row in rows[-3:]:
                row.update(model=model, checkpoint=f"step_{step}", step=step, tokens=tokens, words=np.nan,
                           metric="acc", stderr=np.nan)
            path = samples_path(folder, model, f"step_{step}", "zorro")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(record) + "\n" for record in records))
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table.to_csv(folder / RESULTS_CSV, index=False)
    return table


# --- resampling -----------------------------------------------------------------------------------------------

def test_resampled_curves_are_means_of_drawn_items():
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(30, 4))
    weights = resampling_weights(30, 7, np.random.default_rng(2))
    assert weights.shape == (7, 30) and (weights.sum(axis=1) == 30).all()
    curves = resampled_curves(matrix, weights)
    for b in range(7):
        drawn = np.repeat(np.arange(30), weights[b].astype(int))
        assert curves[b] == pytest.approx(matrix[drawn].mean(axis=0), abs=1e-12)


def _bernoulli_interval(n_items: int, seed: int, p: float = 0.7) -> list[float]:
    rng = np.random.default_rng(seed)
    items = rng.binomial(1, p, n_items).astype(float)[:, None]
    return interval(resampled_curves(items, resampling_weights(n_items, 400, rng))[:, 0])


def test_intervals_narrow_as_items_are_added_and_cover_the_true_accuracy():
    widths = {}
    for n_items in (50, 200, 800):
        intervals = [_bernoulli_interval(n_items, seed) for seed in range(40)]
        widths[n_items] = np.mean([hi - lo for lo, hi in intervals])
        covered = sum(lo <= 0.7 <= hi for lo, hi in intervals)
        assert covered >= 34, (n_items, covered)  # nominal 95%: 38 of 40
    assert widths[50] > widths[200] > widths[800]
    assert 3 < widths[50] / widths[800] < 5  # about sqrt(16)


def test_interval_skips_undefined_replicates():
    assert interval([None, np.nan, 1.0, 2.0, 3.0]) == pytest.approx([1.05, 2.95])
    assert interval([None, np.nan]) is None


# --- batch SQ -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 5, 8, 9, 14, 27])
def test_batch_sq_is_the_scalar_sq(n):
    rng = np.random.default_rng(n)
    rows = np.round(rng.normal(size=(20, n)).cumsum(axis=1), 1)  # rounded: ties, as in real curves
    rows[0] = 0.3  # constant
    if n >= 12:
        rows[1, : n - 2] = 0.0  # constant lagged window
    monotonicity, autocorrelation = signal_quality_batch(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SignalQualityWarning)
        expected = [signal_quality(row) for row in rows]
    assert monotonicity == pytest.approx([q.monotonicity for q in expected], abs=1e-12)
    assert autocorrelation == pytest.approx([q.autocorrelation for q in expected], abs=1e-12)


# --- run folders ----------------------------------------------------------------------------------------------

def test_read_item_values_finds_subtasks_in_the_group_file(tmp_path):
    table = write_run(tmp_path)
    items = read_item_values(tmp_path, table)
    frame = items.frame("zorro_x", "acc", "big-a")
    assert frame.shape == (60, len(STEPS)) and list(frame.columns) == [f"step_{s}" for s in STEPS]
    assert frame.mean().to_numpy() == pytest.approx(
        table.query("task == 'zorro_x' and model == 'big-a'").sort_values("step")["value"].to_numpy())
    assert items.frame("zorro_x", "margin", "big-a") is not None  # derived from the log-likelihoods
    assert items.frame("zorro", "acc", "big-a") is None
    assert items.choices == {"zorro_x": 2, "zorro_y": 2}


def test_bootstrap_intervals_in_score_results(tmp_path):
    table = write_run(tmp_path)
    items = read_item_values(tmp_path, table)
    scores = score_results(table, x="tokens", items=items, bootstrap=200, seed=3)
    zorro, zorro_x = scores["benchmarks"][0], scores["benchmarks"][1]
    assert zorro_x["bootstrap"] == {"replicates": 200, "items": 60}
    lo, hi = zorro_x["sq_ci"]
    assert 0 <= lo <= hi <= 1
    for model, entry in zorro_x["models"].items():
        for key in ("monotonicity", "autocorrelation", "sq", "noise"):
            low, high = entry[f"{key}_ci"]
            assert low <= high, (model, key)
    assert zorro_x["snr"]["snr_ci"][0] <= zorro_x["snr"]["snr"] * 1.5
    assert zorro["bootstrap"] is None and zorro["sq_ci"] is None
    assert any(note.startswith("bootstrap: no per-item 'acc' samples") for note in zorro["notes"])
    again = score_results(table, x="tokens", items=items, bootstrap=200, seed=3)
    other = score_results(table, x="tokens", items=items, bootstrap=200, seed=4)
    assert again == scores and other["benchmarks"][1]["sq_ci"] != zorro_x["sq_ci"]
    json.dumps(scores, allow_nan=False)


def test_values_that_are_not_item_means_get_no_interval(tmp_path):
    table = write_run(tmp_path)
    items = read_item_values(tmp_path, table)
    table.loc[table.task == "zorro_y", "value"] += 0.01  # e.g. a perplexity: not the mean of the items' values
    bench = score_results(table, items=items, bootstrap=20)["benchmarks"][2]
    assert bench["task"] == "zorro_y" and bench["sq_ci"] is None
    assert any("does not reproduce the 'acc' values" in note for note in bench["notes"])


def test_no_samples_is_a_note_and_the_rest_still_works(tmp_path):
    table = write_run(tmp_path)
    scores = score_results(table, bootstrap=20)
    assert any(note.startswith("bootstrap: no per-item samples") for note in scores["settings"]["notes"])
    assert scores["benchmarks"][1]["sq"] > 0 and scores["benchmarks"][1]["sq_ci"] is None


def test_cli_score_with_bootstrap_and_decision(tmp_path, capsys):
    write_run(tmp_path)
    decision = "small-a,small-b=big-a,big-b"
    assert main(["score", str(tmp_path), "--bootstrap", "50", "--decision", decision, "--x", "tokens",
                 "--item-slopes"]) == 0
    out = capsys.readouterr().out
    assert "SNR" in out and "SQ 95%" in out and "dec" in out
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["settings"]["bootstrap"] == 50 and scores["settings"]["seed"] == 0
    assert scores["settings"]["decision"] == {"small": ["small-a", "small-b"], "target": ["big-a", "big-b"]}
    zorro_x = scores["benchmarks"][1]
    assert zorro_x["task"] == "zorro_x" and zorro_x["bootstrap"]["replicates"] == 50
    assert zorro_x["decision"]["pairs"] == 1 and len(zorro_x["decision"]["curve"]) == len(STEPS)
    assert zorro_x["decision"]["curve"][-1] == [800e6, 1.0]  # small-a learns faster, as big-a does
    assert zorro_x["decision"]["final_ci"] is not None
    assert zorro_x["snr"]["snr"] is not None and zorro_x["snr"]["snr_ci"] is not None
    assert all(zorro_x["models"][m]["sq_ci"] is not None for m in MODELS)
    acquisition = scores["acquisition"]["big-a"]["zorro_x"]
    assert acquisition["chance"] == 0.5 and acquisition["axis"] == "tokens"
    slopes = scores["item_slopes"]["big-a"]["zorro_x"]
    assert slopes["n_items"] == 60 and slopes["rising_share"] > 0.5


def test_cli_bootstrap_without_samples_says_so_once_on_stderr(tmp_path, capsys):
    write_run(tmp_path)
    assert main(["score", str(tmp_path / RESULTS_CSV), "--bootstrap", "10"]) == 0
    err = capsys.readouterr().err
    assert err.count("no per-item samples") == 1
    assert json.loads((tmp_path / "scores.json").read_text())["benchmarks"][1]["sq_ci"] is None


def test_one_draw_of_items_serves_every_model(tmp_path):
    """Two models with the same items' values stay identical in every replicate: the draw is paired."""
    table = write_run(tmp_path)
    for step in STEPS:
        twin = samples_path(tmp_path, "small-b", f"step_{step}", "zorro")
        twin.write_text(samples_path(tmp_path, "small-a", f"step_{step}", "zorro").read_text())
    table = table[table.model.isin(["small-a", "small-b"])].copy()
    table.loc[table.model == "small-b", "value"] = table.loc[table.model == "small-a", "value"].to_numpy()
    bench = score_results(table, items=read_item_values(tmp_path, table), bootstrap=50)["benchmarks"][1]
    assert bench["snr"]["signal"] == 0.0 and bench["snr"]["signal_ci"] == [0.0, 0.0]
    assert bench["models"]["small-a"]["sq_ci"] == bench["models"]["small-b"]["sq_ci"]
