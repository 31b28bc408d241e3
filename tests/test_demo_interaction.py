"""``demo --with interaction`` on a budget a test affords: the grammar teacher and the round series in the results."""

from __future__ import annotations

import json
import math

from e2lm_bench.demo.corpus import held_out
from e2lm_bench.demo.interaction import GrammarTeacher, InteractionSettings
from e2lm_bench.demo.pipeline import DemoSettings, run_demo
from e2lm_bench.evaluation.results import read_results
from e2lm_bench.report import read_training_log


def test_grammar_teacher_finishes_the_cut_utterance_then_goes_on():
    known = ["the horses did .", "*MOT: who broke the hat ? *CHI: the dog did .", "is the bird dirty ?"]
    teacher = GrammarTeacher(0, known, fresh=0)
    assert teacher.ending("grandpa is happy . the hor") == "ses did ."  # the cut may split a word
    assert teacher.ending("grandpa is happy . the") == " horses did ."
    # an answer continues its exchange: the start before "*CHI:" is the one that begins a line
    assert teacher.ending("uh oh ! *MOT: who broke the hat ? *CHI: the") == " dog did ."
    assert teacher.ending("grandpa is happy . is the bird dirty ?") == ""  # it ended with the context
    assert teacher.ending("happy . a zebra") == "" and teacher.ending("no utterance starts here") == ""

    completions = [" the dog is", " *CHI: yes he is . the cat", ""]
    contexts = ["grandpa is happy . the hor", "is it . is the", "ok"]
    corrections = GrammarTeacher(0, known, fresh=0)(contexts, completions)
    assert corrections[0].startswith("ses did . ") and corrections[1].startswith(" bird dirty ? ")
    assert corrections[2].startswith(" ") and corrections[2].split()[0] != ""
    for text, completion in zip(corrections, completions):
        assert len(text.split()) >= max(1, len(completion.split()))
    corrections = GrammarTeacher(0, known)(contexts, completions)  # with a pool of fresh utterances
    assert corrections == GrammarTeacher(0, known)(contexts, completions)  # seeded: a demo run repeats
    assert corrections != GrammarTeacher(1, known)(contexts, completions)
    teacher = GrammarTeacher(0, fresh=2_000)
    assert teacher.pool and not any(held_out(line) for line in teacher.pool)
    assert not any(held_out(" ".join(GrammarTeacher(seed, fresh=0).words(1))) for seed in range(50))


def test_demo_with_interaction_evaluates_the_round_series(tmp_path):
    """A toy pretraining (llama-tiny, 200 steps) then 3 rounds; round_00 is the final pretraining checkpoint,
    so its accuracies must equal that checkpoint's, and the rounds' log must be complete and finite."""
    rounds = InteractionSettings(rounds=3, utterances=600, context_tokens=16, completion_tokens=8, batch_size=16)
    settings = DemoSettings(output=tmp_path / "demo", train_utterances=4_000, dev_utterances=200,
                            pairs_per_paradigm=20, preset="llama-tiny", learning_rate=5e-3, max_steps=200,
                            checkpoints=3, vocab_size=400, stages=("interaction",), interaction=rounds)
    summary = run_demo(settings)

    out = tmp_path / "demo"
    assert sorted(p.name for p in (out / "interaction").glob("round_*")) == [f"round_{i:02d}" for i in range(4)]
    log = read_training_log(out / "interaction" / "rounds.csv")
    assert list(log["round"]) == [1, 2, 3]
    assert all(math.isfinite(v) for v in log[["sft_loss", "simpo_loss", "margin", "seconds"]].to_numpy().ravel())

    table = read_results(out / "eval")
    acc = table[table["metric"] == "acc"].set_index(["model", "step", "task"])["value"]
    assert sorted(acc.loc["interaction"].index.get_level_values("step").unique()) == [0, 1, 2, 3]
    assert acc.loc["interaction", 0].sort_index().equals(acc.loc["model", 200].sort_index())
    zorro = acc[acc.index.get_level_values("task").str.startswith("zorro_")].groupby(["model", "step"]).mean()

    written = json.loads((out / "demo_summary.json").read_text())
    assert written["interaction"] == summary["interaction"] == {
        "rounds": 3, "first_round_margin": round(log["margin"].iloc[0], 4),
        "last_round_margin": round(log["margin"].iloc[-1], 4),
        "zorro_mean_acc_round_00": round(zorro["interaction", 0], 4),
        "zorro_mean_acc_last_round": round(zorro["interaction", 3], 4)}
    assert summary["checkpoints"] == 3  # the pretraining figures are the pretraining series' alone
    assert summary["seconds"]["interaction"] > 0
    report = (out / "eval" / "report.md").read_text()
    assert "plots/rounds_interaction.png" in report and (out / "eval" / "plots" / "rounds_interaction.png").is_file()
