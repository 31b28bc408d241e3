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
