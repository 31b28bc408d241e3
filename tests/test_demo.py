"""The demo pipeline end to end on a budget a test affords (the README's run uses the defaults)."""

from __future__ import annotations

import json

import numpy as np
from matplotlib.image import imread

from e2lm_bench.cli import main
from e2lm_bench.demo.pipeline import STAGES, DemoSettings, run_demo
from e2lm_bench.demo.rl import reward_fifths
from e2lm_bench.evaluation.results import read_results
from e2lm_bench.report import read_training_log

# The --with rl test's budget: llama-tiny pretrained for 200 steps, then 40 RLOO steps on 8 prompts.
RL_STEPS, RL_LR, RISE = 40, 5e-4, 0.1


def test_demo_learns_the_grammar_on_a_small_budget(tmp_path):
    """What the README claims, at test scale: well above chance and above the first checkpoint.

    llama-tiny for 300 steps (about 25 s here); on seeds 0-5 the final Zorro-style mean was 0.80-0.87
    from 0.51-0.58 at step 1, its mean margin rose by 2.7-4.0 nats and dialogue reached 0.93-0.99. With
    token-matched lexical decision pairs and irregular-verb foils, seed 0 gave Zorro-style 0.49 -> 0.87
    (margin +3.7 nats), dialogue 0.965 (words) and 0.905 (tokens), and lexical decision 0.60 at step 1,
    0.85 at step 17 and 0.98 at step 300: near chance before training, so its rise is asserted too. The
    full demo's lexical decision peaks mid-training (0.54 -> 0.94 at step 18 -> 0.85 at step 800), hence
    the low final bar.
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
    assert len(summary["final_acc"]) == 15 and set(summary["mean_sq"]) == {"acc", "margin"}
    assert summary["final_zorro_mean_acc"] == round(zorro["acc"][300], 4)
    assert summary["final_zorro_mean_acc"] >= 0.72 and summary["final_zorro_mean_acc"] >= zorro["acc"][1] + 0.15
    assert zorro["margin"][300] >= zorro["margin"][1] + 2.0
    lexical = table[(table["task"] == "lexical_decision") & (table["metric"] == "acc")].set_index("step")["value"]
    assert summary["final_acc"]["lexical_decision"] == round(lexical[300], 4) >= 0.75
    assert lexical[1] <= 0.65 and lexical[300] >= lexical[1] + 0.2
    assert summary["final_acc"]["dialogue_minpairs_words"] >= 0.8
    assert summary["final_acc"]["dialogue_minpairs_tokens"] >= 0.8

    # the measures beyond SQ: intervals from the item bootstrap, and the AoA and item-slope figures rendered
    scores = json.loads((tmp_path / "demo" / "eval" / "scores.json").read_text())
    assert scores["settings"]["bootstrap"] == 200 and any(b["sq_ci"] for b in scores["benchmarks"])
    assert {"model"} == set(scores["acquisition"]) == set(scores["item_slopes"])
    report = (tmp_path / "demo" / "eval" / "report.md").read_text()
    plots = tmp_path / "demo" / "eval" / "plots"
    for pattern in ("aoa_zorro_*.png", "item_slopes_model_zorro_*.png"):
        (path,) = plots.glob(pattern)
        assert f"](plots/{path.name})" in report
        image = imread(path)
        assert image.shape[0] >= 150 and image.shape[1] >= 400
        assert np.ptp(image[..., :3]) > 0.5  # drawn on, not a blank canvas


def test_demo_with_rl_adds_an_rl_series_and_a_rising_reward(tmp_path):
    """``stages=("rl",)`` on a test budget: the RL series is evaluated beside the pretraining one and
    its reward log is finite and plotted into the report.

    The mean reward over the last fifth of the 40 steps rose by 0.21 over the first fifth here (0.28 to
    0.49), and by 0.19, 0.19 and 0.30 with RL seeds 1-3 on the same pretrained model; single steps are
    noisy (16 completions each), so RISE asks for half the smallest rise seen.
    """
    settings = DemoSettings(output=tmp_path / "demo", train_utterances=6_000, dev_utterances=200,
                            pairs_per_paradigm=10, preset="llama-tiny", learning_rate=5e-3, max_steps=200,
                            checkpoints=2, vocab_size=400, stages=("rl",), rl_prompts=8, rl_steps=RL_STEPS,
                            rl_learning_rate=RL_LR, rl_batch_size=2, rl_checkpoints=2)
    summary = run_demo(settings)

    table = read_results(tmp_path / "demo" / "eval")
    assert sorted(table["model"].unique()) == ["model", "rl"]
    assert sorted(table[table["model"] == "rl"]["step"].unique()) == [1, RL_STEPS]
    assert set(table[table["model"] == "rl"]["task"]) == set(table[table["model"] == "model"]["task"])
    assert summary["checkpoints"] == 2  # the pretraining series' own figures, as without RL

    log = read_training_log(tmp_path / "demo" / "rl" / "rewards.csv")
    assert list(log["step"]) == list(range(1, RL_STEPS + 1))
    assert np.isfinite(log[["reward", "bleu", "kl"]].to_numpy()).all()
    assert summary["rl"] == reward_fifths(log)
    assert summary["rl"]["last_fifth_reward"] >= summary["rl"]["first_fifth_reward"] + RISE
    assert summary["seconds"]["rl"] > 0

    report = (tmp_path / "demo" / "eval" / "report.md").read_text()
    assert "![rl — reward per RL step](plots/rewards_rl.png)" in report
    assert (tmp_path / "demo" / "eval" / "plots" / "rewards_rl.png").stat().st_size > 10_000


def test_an_unknown_stage_fails_before_any_work(tmp_path, capsys):
    assert main(["demo", "--with", "rl,interaktion", "--output", str(tmp_path / "demo")]) == 2
    assert capsys.readouterr().err == (
        f"e2lm-bench demo: --with interaktion: expected a comma-separated list of {', '.join(STAGES)}\n")
    assert not (tmp_path / "demo").exists()
