"""The demo pipeline end to end, on a toy budget (the README's run uses the defaults)."""

from __future__ import annotations

import json

from e2lm_bench.demo.pipeline import DemoSettings, run_demo


def test_demo_runs_end_to_end_on_a_toy_budget(tmp_path):
    settings = DemoSettings(output=tmp_path / "demo", train_utterances=3_000, dev_utterances=200,
                            pairs_per_paradigm=10, max_steps=12, checkpoints=3, vocab_size=400)
    summary = run_demo(settings)
    assert summary["checkpoints"] == 3
    assert json.loads((tmp_path / "demo" / "demo_summary.json").read_text())["final_acc"] == summary["final_acc"]
    assert 0.0 <= summary["final_zorro_mean_acc"] <= 1.0 and set(summary["mean_sq"]) == {"acc", "margin"}
    assert (tmp_path / "demo" / "eval" / "report.html").is_file()
    assert sorted(p.name for p in (tmp_path / "demo" / "model").glob("checkpoint-*")) == [
        "checkpoint-1", "checkpoint-12", "checkpoint-3"]
