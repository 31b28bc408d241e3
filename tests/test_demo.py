"""The demo pipeline end to end on a budget a test affords (the README's run uses the defaults)."""

from __future__ import annotations

import json

from e2lm_bench.demo.pipeline import DemoSettings, run_demo
from e2lm_bench.results import read_results


def test_demo_learns_the_grammar_on_a_small_budget(tmp_path):
    """What the README claims, at test scale: well above chance and above the first checkpoint.

    llama-tiny for 300 steps (about 25 s here); on seeds 0-5 the final Zorro-style mean was 0.80-0.87
    from 0.51-0.58 at step 1, its mean margin rose by 2.7-4.0 nats, dialogue reached 0.93-0.99 and
    lexical decision 0.97-0.99, so the thresholds leave several standard errors of room.
    """
    settings = DemoSettings(output=tmp_path / "demo", train_utterances=6_000, dev_utterances=200,
                            pairs_per_paradigm=20, preset="llama-tiny", learning_rate=5e-3, max_steps=300,
                            checkpoints=3, vocab_size=400)
    summary = run_demo(settings)
    assert summary["checkpoints"] == 3
    assert json.loads((tmp_path / "demo" / "demo_summary.json").read_text())["final_acc"] == summary["final_acc"]
    assert (tmp_path / "demo" / "eval" / "report.html").is_file()
    assert sorted(p.name for p in (tmp_path / "demo" / "model").glob("checkpoint-*")) == [
        "checkpoint-1", "checkpoint-17", "checkpoint-300"]

    table = read_results(tmp_path / "demo" / "eval")
    zorro = table[table["task"].str.startswith("zorro_")].groupby(["metric", "step"])["value"].mean()
    assert len(summary["final_acc"]) == 14 and set(summary["mean_sq"]) == {"acc", "margin"}
    assert summary["final_zorro_mean_acc"] == round(zorro["acc"][300], 4)
    assert summary["final_zorro_mean_acc"] >= 0.72 and summary["final_zorro_mean_acc"] >= zorro["acc"][1] + 0.15
    assert zorro["margin"][300] >= zorro["margin"][1] + 2.0
    assert summary["final_acc"]["lexical_decision"] >= 0.9
    assert summary["final_acc"]["dialogue_minpairs_words"] >= 0.8
