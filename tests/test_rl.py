"""RL fine-tuning: a checkpoint series that lm-eval and the trajectory runner load, rewards that see their columns."""

from __future__ import annotations

import csv
import json
import math
from collections import Counter

import pytest
import torch

from e2lm_bench.cli import main
from e2lm_bench.taskdata.readers import DataError
from e2lm_bench.training.rewards import make_reward
from e2lm_bench.training.rl import RLConfig, child_turn_prompt, load_prompts, save_steps, train_rl
from e2lm_bench.training.rl_config import seed_beta_lr
from tests.conftest import DIALOGUE_ROWS

# The teacher's answer to each mother utterance, keyed by the query trl sees.
TEACHER = {row["prompt"] + " *CHI:": row["chosen"].removeprefix("*CHI: ") for row in DIALOGUE_ROWS}


def _prompts_file(path):
    path.write_text("".join(json.dumps({"prompt": query.removesuffix(" *CHI:"), "teacher_response": answer}) + "\n"
                            for query, answer in TEACHER.items()))
    return path


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def rloo_run(tmp_path_factory, llama_dir):
    """Four RLOO steps with bleu and a reward that records what trl passes it (and varies, so the policy moves)."""
    root = tmp_path_factory.mktemp("rl")
    calls = []

    def recording(prompts, completions, teacher_response, **_):
        calls.append((list(prompts), list(completions), list(teacher_response)))
        return [len(c) / 20 for c in completions]

    config = RLConfig(policy=str(llama_dir), prompts=_prompts_file(root / "prompts.jsonl"), rewards=["bleu", "recording"],
                      output=root / "out", reward_weights=[1.0, 0.5], max_steps=4, save="steps:2", batch_size=2,
                      learning_rate=1e-3)
    output = train_rl(config, reward_funcs=[make_reward("bleu"), recording])
    return output, calls


def test_checkpoints_form_a_series_that_lm_eval_and_the_trajectory_runner_load(rloo_run, llama_dir, monkeypatch, tmp_path):
    from lm_eval.models.huggingface import HFLM

    from e2lm_bench.evaluation.results import read_results
    from e2lm_bench.evaluation.trajectory import TrajectoryConfig, run_trajectory
    from e2lm_bench.taskdata.sample import SAMPLE_DATA_DIR

    output, _ = rloo_run
    assert sorted(p.name for p in output.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    trained = HFLM(pretrained=str(output / "checkpoint-4"), device="cpu", batch_size=4)
    policy = HFLM(pretrained=str(llama_dir), device="cpu", batch_size=4)
    assert trained.tokenizer.get_vocab() == policy.tokenizer.get_vocab()
    moved = [name for name, weight in trained.model.state_dict().items()
             if not torch.equal(weight, policy.model.state_dict()[name])]
    assert moved, "four steps with varying rewards left every weight unchanged"

    monkeypatch.setenv("E2LM_DATA_DIR", str(SAMPLE_DATA_DIR))
    summary = run_trajectory(TrajectoryConfig(series=[str(output)], tasks=["dialogue_minpairs_words"],
                                              output=tmp_path / "trajectory", limit=4, device="cpu", batch_size=4))
    assert not summary.failed
    assert {checkpoint for _, checkpoint, _ in summary.evaluated} == {"checkpoint-2", "checkpoint-4"}
    table = read_results(tmp_path / "trajectory")
    assert sorted(table["step"].unique()) == [2, 4] and table["value"].notna().all()


def test_rewards_csv_has_a_finite_row_per_step_with_the_weighted_total(rloo_run):
    output, _ = rloo_run
    rows = _rows(output / "rewards.csv")
    assert list(rows[0]) == ["step", "reward", "bleu", "recording", "kl", "completion_length"]
    assert [int(row["step"]) for row in rows] == [1, 2, 3, 4]
    for row in rows:
        values = {key: float(value) for key, value in row.items()}
        assert all(math.isfinite(v) for v in values.values()), row
        assert values["reward"] == pytest.approx(values["bleu"] + 0.5 * values["recording"], abs=1e-5)
        assert 0 < values["completion_length"] <= 20
    settings = json.loads((output / "rl_settings.json").read_text())
    assert (settings["beta"], settings["learning_rate"]) == (0.2, 1e-3)  # the seed's β for bleu; lr as given


def test_rewards_receive_the_extra_column_aligned_with_each_completion(rloo_run):
    _, calls = rloo_run
    assert len(calls) == 4
    for prompts, completions, answers in calls:
        assert len(prompts) == len(completions) == len(answers) == 4  # 2 prompts x 2 generations
        assert set(Counter(prompts).values()) == {2}
        assert [TEACHER[p] for p in prompts] == answers


def test_grpo_from_the_command_line_with_a_model_scored_reward(llama_dir, tmp_path, capsys):
    """The tiny policy doubles as the judge: --reward-model reaches the reward that needs a model. Without
    --max-steps, one pass over the 4 prompts at 2 a step."""
    code = main(["rl", str(llama_dir), "--prompts", str(_prompts_file(tmp_path / "p.jsonl")), "--reward", "bleu,judge",
                 "--reward-model", str(llama_dir), "--reward-weights", "1,0.1", "--algorithm", "grpo",
                 "--output", str(tmp_path / "out"), "--save", "steps:1", "--batch-size", "2", "--num-generations", "2"])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "out").glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    assert (tmp_path / "out" / "checkpoint-2" / "tokenizer.json").is_file()
    rows = _rows(tmp_path / "out" / "rewards.csv")
    assert [row["step"] for row in rows] == ["1", "2"]
    assert all(math.isfinite(float(row[key])) for row in rows for key in ("bleu", "judge", "kl"))
    settings = json.loads((tmp_path / "out" / "rl_settings.json").read_text())
    assert settings["config"]["algorithm"] == "grpo" and settings["config"]["reward_weights"] == [1.0, 0.1]
    assert (settings["beta"], settings["learning_rate"]) == (0.2, 1.41e-5)


@pytest.mark.parametrize("lines, message", [
    (['{"text": "*MOT: hello ."}'], "field 'prompt'"),
    (['{"prompt": "*MOT: "}'], "field 'prompt'"),
    (['{"prompt": "*MOT: hi", "teacher_response": "hi"}', '{"prompt": "*MOT: ho"}'], "differ from the first row"),
    ([], "no rows"),
])
def test_bad_prompts_file_is_one_line(llama_dir, tmp_path, capsys, lines, message):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=message):
        load_prompts(prompts)
    code = main(["rl", str(llama_dir), "--prompts", str(prompts), "--reward", "bleu", "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_bad_options_fail_before_training(llama_dir, tmp_path, capsys):
    prompts = str(_prompts_file(tmp_path / "p.jsonl"))
    for extra, message in [(["--reward", "bleu", "--save", "words"], "--save"),
                           (["--reward", "bleu,bleu"], "distinct"),
                           (["--reward", "rouge"], "unknown reward"),
                           (["--reward", "bleu", "--reward-weights", "1,2"], "2 weights for 1 rewards"),
                           (["--reward", "bleu", "--reward-weights", "1;2"], "comma-separated numbers"),
                           (["--reward", "bleu", "--reward-model", "m"], "bleu scores without a model"),
                           (["--reward", "judge"], "model")]:
        code = main(["rl", str(llama_dir), "--prompts", prompts, "--output", str(tmp_path / "o"), *extra])
        err = capsys.readouterr().err
        assert code == 2 and message in err, err
    assert not (tmp_path / "o").exists()


def test_prompts_end_with_the_child_tag_and_settings_follow_the_seed():
    assert child_turn_prompt("*MOT: you are green ?") == "*MOT: you are green ? *CHI:"
    assert child_turn_prompt("  where is it ?") == "*MOT: where is it ? *CHI:"
    assert child_turn_prompt("*MOT: hi *CHI:") == "*MOT: hi *CHI:"
    assert save_steps("steps:2", 5) == [2, 4, 5] and save_steps("log:3", 100) == [1, 10, 100]
    assert seed_beta_lr(["bleu"]) == (0.2, 1.41e-5) and seed_beta_lr(["bleu", "confidence"]) == (0.02, 5e-6)


def _eight_prompts_file(path):
    """8 mother prompts with teacher answers: fewer than the default --batch-size of 16."""
    rows = [(row["prompt"], row["chosen"].removeprefix("*CHI: ")) for row in DIALOGUE_ROWS]
    rows += [("*MOT: where is the ball ?", "there !"), ("*MOT: look at this purple thing .", "I am blue ."),
             ("*MOT: what did you see ?", "a big doggy ."), ("*MOT: is it green ?", "no !")]
    path.write_text("".join(json.dumps({"prompt": p, "teacher_response": a}) + "\n" for p, a in rows))
    return path


def test_eight_prompts_at_the_default_batch_size_train_a_step_and_save_it(llama_dir, tmp_path, capsys):
    """trl's sampler drops a partial batch, so 8 prompts at --batch-size 16 used to train no step and save nothing."""
    out = tmp_path / "out"
    code = main(["rl", str(llama_dir), "--prompts", str(_eight_prompts_file(tmp_path / "p.jsonl")), "--reward", "bleu",
                 "--output", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    notes = [line for line in captured.err.splitlines() if "--batch-size" in line]
    assert len(notes) == 1 and "8 prompts" in notes[0] and "16" in notes[0], captured.err
    assert f"checkpoints: {out}" in captured.out
    assert [p.name for p in out.glob("checkpoint-*")] == ["checkpoint-1"]
    assert (out / "checkpoint-1" / "config.json").is_file()
    assert [row["step"] for row in _rows(out / "rewards.csv")] == ["1"]
    assert json.loads((out / "rl_settings.json").read_text())["config"]["batch_size"] == 8


@pytest.mark.parametrize("extra, message", [
    (["--max-steps", "0"], "--max-steps 0"),
    (["--batch-size", "0"], "--batch-size 0"),
])
def test_options_that_train_no_step_are_refused(llama_dir, tmp_path, capsys, extra, message):
    code = main(["rl", str(llama_dir), "--prompts", str(_prompts_file(tmp_path / "p.jsonl")), "--reward", "bleu",
                 "--output", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not any((tmp_path / "o").glob("checkpoint-*"))


def test_a_run_that_takes_no_optimizer_step_is_an_error(llama_dir, tmp_path, capsys, monkeypatch):
    """Whatever trl skips, a run that ends at step 0 or without a checkpoint does not exit 0."""
    from trl import RLOOTrainer

    monkeypatch.setattr(RLOOTrainer, "train", lambda self, *args, **kwargs: None)
    code = main(["rl", str(llama_dir), "--prompts", str(_prompts_file(tmp_path / "p.jsonl")), "--reward", "bleu",
                 "--output", str(tmp_path / "o"), "--batch-size", "2"])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("e2lm-bench rl:")]
    assert code == 2 and len(errors) == 1 and "no optimizer step" in errors[0], errors
    assert not any((tmp_path / "o").glob("checkpoint-*"))


def test_reward_model_takes_one_model_for_all_or_one_per_reward(monkeypatch, tmp_path):
    """The seed paired a 7B judge with a 3B mother: ``judge=M1,confidence=M2``; a plain ``M`` serves every
    reward that scores with a model."""
    from e2lm_bench.training import rl

    built = {}
    monkeypatch.setattr(rl, "make_rewards", lambda names, **options: built.update(names=names, options=options) or [])

    def options(spec, rewards=("bleu", "judge", "confidence")):
        rl.build_rewards(RLConfig(policy="p", prompts=tmp_path, rewards=list(rewards), output=tmp_path,
                                  reward_model=spec))
        return built["options"]

    assert options("judge=org/judge-7b, confidence=org/mother-3b") == {
        "judge": {"model": "org/judge-7b"}, "confidence": {"model": "org/mother-3b"}}
    assert options("org/mother-3b") == {"judge": {"model": "org/mother-3b"}, "confidence": {"model": "org/mother-3b"}}
    assert options({"confidence": "m3"}, ["confidence", "semsim"]) == {"confidence": {"model": "m3"}}
    assert options(None) == {} and built["names"] == "bleu,judge,confidence"
    folder = tmp_path / "lr=1e-3"  # an existing folder whose name holds '=' is one model
    folder.mkdir()
    assert options(str(folder), ["judge"]) == {"judge": {"model": str(folder)}}


@pytest.mark.parametrize("spec, message", [
    ("bleu=m", "bleu scores without a model"),
    ("jduge=m", "'jduge' is not among the rewards"),
    ("semsim=m", "'semsim' is not among the rewards"),
    ("judge=", "NAME=MODEL"),
    ("judge=a,judge=b", "NAME=MODEL"),
])
def test_a_bad_per_reward_model_is_one_line(llama_dir, tmp_path, capsys, spec, message):
    code = main(["rl", str(llama_dir), "--prompts", str(_prompts_file(tmp_path / "p.jsonl")), "--reward", "bleu,judge",
                 "--reward-model", spec, "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()
