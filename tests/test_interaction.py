"""Interaction training: the baseline's SimPO + LM loss against a direct computation and trl, round series, exact resumption."""

from __future__ import annotations

import csv
import dataclasses
import math
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from e2lm_bench.errors import UserError
from e2lm_bench.training.corpus import CorpusStats, iter_lines
from e2lm_bench.training.interaction import STATE_FILE, InteractionTrainer
from e2lm_bench.training.interaction_config import InteractionConfig
from e2lm_bench.training.interaction_loss import interaction_loss
from e2lm_bench.training.interaction_teachers import ANSWER_LABEL, INSTRUCTIONS, correction_prompt
from e2lm_bench.training.presets import config_from

TEACHER_TEXT = " the dog runs to the ball . the cat sleeps on the bed ."
WORDS = "the a dog cat ball bed runs sleeps sees big red on to with and . ?".split()
ROUNDS, CONTEXT, COMPLETION = 3, 16, 8


def fixed_teacher(contexts: list[str], completions: list[str]) -> list[str]:
    """A rule teacher: every correction is the same grammatical text (importable as module:function)."""
    return [TEACHER_TEXT] * len(contexts)


def _corpus(folder):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, prefix in (("childes.train", "*MOT: "), ("bnc_spoken.train", "")):
        lines = [prefix + " ".join(rng.choice(WORDS, 6)) for _ in range(60)]
        (folder / name).write_text("\n".join(lines) + "\n")
    return folder


def _config(tmp_path, output, **changes):
    settings = dict(student="llama-tiny", teacher="tests.test_interaction:fixed_teacher", corpus=tmp_path / "corpus",
                    output=output, vocab_size=300, rounds=ROUNDS, context_tokens=CONTEXT, completion_tokens=COMPLETION,
                    batch_size=8, generation_batch_size=32, lm_epochs=1, po_epochs=1, learning_rate=3e-3,
                    warmup_steps=2, scheduler_steps=100, seed=5, device="cpu")
    return InteractionConfig(**{**settings, **changes})


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """An uninterrupted 3-round run from a random init, with the callable teacher given by name."""
    root = tmp_path_factory.mktemp("interact")
    _corpus(root / "corpus")
    config = _config(root, root / "full")
    InteractionTrainer(config).train()
    return root, config


def _datapoints_per_round(streams, used_chunks):
    """Full datapoints in each round's chunks (chunks of one file differ in size by at most one token)."""
    size = CONTEXT + COMPLETION
    return [sum(len(np.array_split(np.array(streams[name]), ROUNDS)[used[number]]) // size for name, used in used_chunks.items())
            for number in range(ROUNDS)]


def _logps_alone(model, sequence):
    """Next-token log-probabilities of one unpadded sequence (position j scores token j + 1)."""
    logits = model(torch.tensor([sequence])).logits[0, :-1]
    return logits.log_softmax(-1).gather(1, torch.tensor(sequence[1:])[:, None])[:, 0]


def test_loss_equals_direct_computation_and_trl_simpo(tmp_path, tokenizer_bos):
    from datasets import Dataset
    from trl.experimental.cpo import CPOConfig, CPOTrainer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config_from("llama-tiny", tokenizer_bos)).eval()
    config = _config(tmp_path, tmp_path / "out")
    eos = tokenizer_bos.eos_token_id
    prompts = [[1, 40, 41, 42], [1, 50, 51], [1, 60, 61, 62, 63, 64]]
    winning = [p + c + [eos] for p, c in zip(prompts, [[70, 71, 72], [80], [90, 91]])]
    losing = [p + c + [eos] for p, c in zip(prompts, [[73, 74, 75], [81, 82, 83, 84], [92, 93]])]
    prompt_lengths = [len(p) for p in prompts]
    with torch.no_grad():
        ours = interaction_loss(model, winning, losing, prompt_lengths, eos, config)
        logps_w = [_logps_alone(model, s) for s in winning]
        logps_l = [_logps_alone(model, s) for s in losing]
    sft = -torch.cat(logps_w).sum() / sum(len(s) - 1 for s in winning)
    avg_w = torch.stack([x[p - 1:].mean() for x, p in zip(logps_w, prompt_lengths)])
    avg_l = torch.stack([x[p - 1:].mean() for x, p in zip(logps_l, prompt_lengths)])
    simpo = -F.logsigmoid(config.beta * (avg_w - avg_l) - config.beta * config.gamma_ratio).mean()
    assert ours["sft"].item() == pytest.approx(sft.item(), abs=1e-5)
    assert ours["simpo"].item() == pytest.approx(simpo.item(), abs=1e-5)
    assert ours["loss"].item() == pytest.approx(simpo.item() + 0.2 * sft.item(), abs=1e-5)
    assert ours["margin"].item() == pytest.approx((config.beta * (avg_w - avg_l)).mean().item(), abs=1e-5)

    trl_config = CPOConfig(output_dir=str(tmp_path / "cpo"), loss_type="simpo", beta=config.beta, simpo_gamma=config.gamma,
                           cpo_alpha=config.lm_weight, bf16=False, report_to="none", gradient_checkpointing=False,
                           disable_dropout=False)
    rows = Dataset.from_dict({"prompt": ["the dog"], "chosen": [" runs ."], "rejected": [" ball ."]})
    trainer = CPOTrainer(model=model, args=trl_config, train_dataset=rows, processing_class=tokenizer_bos)

    def trl_average(sequences):
        """trl's own average completion log-probability: labels -100 on the prompt."""
        averages = []
        for sequence, prompt in zip(sequences, prompt_lengths):
            labels = torch.tensor([[-100] * prompt + sequence[prompt:]])
            with torch.no_grad():
                logits = model(torch.tensor([sequence])).logits
            averages.append(CPOTrainer.get_batch_logps(logits, labels, average_log_prob=True))
        return torch.cat(averages)

    trl_losses, _, _ = trainer.cpo_loss(trl_average(winning), trl_average(losing))
    assert ours["simpo"].item() == pytest.approx(trl_losses.mean().item(), abs=1e-5)
    print(f"\nsimpo ours {ours['simpo'].item():.7f} direct {simpo.item():.7f} trl {trl_losses.mean().item():.7f}; "
          f"sft ours {ours['sft'].item():.7f} direct {sft.item():.7f}")


def test_rounds_form_a_series_that_lm_eval_and_the_trajectory_runner_read(full_run, tmp_path, monkeypatch):
    from lm_eval.models.huggingface import HFLM

    from e2lm_bench.evaluation.series import discover
    from e2lm_bench.evaluation.trajectory import TrajectoryConfig, run_trajectory
    from e2lm_bench.taskdata.sample import SAMPLE_DATA_DIR

    root, config = full_run
    output = config.output
    assert [c.step for c in discover(str(output))] == [0, 1, 2, 3]
    with open(output / "rounds.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["round"]) for r in rows] == [1, 2, 3]
    assert all(math.isfinite(float(r[k])) for r in rows for k in ("sft_loss", "simpo_loss", "margin", "seconds"))

    tokenizer = AutoTokenizer.from_pretrained(output / "round_03")
    streams = {}
    for path in sorted(config.corpus.glob("*.train")):  # the id stream is the file's cleaned lines joined by spaces
        lines = list(iter_lines([path], CorpusStats()))
        streams[path.name] = tokenizer(" ".join(lines), add_special_tokens=False)["input_ids"]
        assert np.load(output / "corpus_ids" / f"{path.name}.npy").tolist() == streams[path.name]
    state = torch.load(output / STATE_FILE, weights_only=True)
    assert all(sorted(used) == [0, 1, 2] for used in state["used_chunks"].values())
    per_round = _datapoints_per_round(streams, state["used_chunks"])
    steps = sum((config.lm_epochs + config.po_epochs) * math.ceil(n / config.batch_size) for n in per_round)
    assert state["scheduler"]["last_epoch"] == steps

    # Training moved the student towards the teacher's text: its completion log-probability after a context rose.
    context = tokenizer(TEACHER_TEXT, add_special_tokens=True)["input_ids"]
    scores = []
    for name in ("round_00", "round_03"):
        model = AutoModelForCausalLM.from_pretrained(output / name).eval()
        with torch.no_grad():
            scores.append(_logps_alone(model, context + context[1:]).mean().item())
    assert scores[1] > scores[0] + 0.5, scores

    lm = HFLM(pretrained=str(output / "round_03"), batch_size=2, device="cpu")
    assert lm.tokenizer.eos_token_id == tokenizer.eos_token_id
    monkeypatch.setenv("E2LM_DATA_DIR", str(SAMPLE_DATA_DIR))
    summary = run_trajectory(TrajectoryConfig(series=[str(output)], tasks=["zorro_ellipsis_n_bar"], output=tmp_path / "run",
                                              limit=4, batch_size=4, device="cpu"))
    assert not summary.failed and len(summary.evaluated) == 4
    with open(summary.results_csv) as f:
        results = list(csv.DictReader(f))
    assert sorted({int(float(r["step"])) for r in results}) == [0, 1, 2, 3]


def test_a_killed_run_resumes_at_the_next_round_with_the_same_state(full_run):
    root, full = full_run
    config = dataclasses.replace(full, output=root / "killed")
    calls = []

    def failing_teacher(contexts, completions):
        calls.append(len(contexts))
        if len(calls) == 2:
            raise RuntimeError("killed in round 2")
        return fixed_teacher(contexts, completions)

    with pytest.raises(RuntimeError, match="round 2"):
        InteractionTrainer(config, teacher=failing_teacher).train()
    assert (config.output / "round_01").exists() and not (config.output / "round_02").exists()
    resumed = InteractionTrainer(config, teacher=fixed_teacher)
    assert resumed.done == 1 and len(resumed.rows) == 1
    resumed.train()

    ours, reference = (torch.load(c.output / STATE_FILE, weights_only=True) for c in (config, full))
    assert ours["scheduler"]["last_epoch"] == reference["scheduler"]["last_epoch"] > 0
    assert ours["used_chunks"] == reference["used_chunks"]
    for mine, theirs in zip(ours["optimizer"]["state"].values(), reference["optimizer"]["state"].values()):
        assert mine["step"] == theirs["step"]
        for key in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(mine[key], theirs[key], rtol=0, atol=1e-6)
    weights, expected = (load_file(c.output / "round_03" / "model.safetensors") for c in (config, full))
    assert weights.keys() == expected.keys()
    for name in weights:
        torch.testing.assert_close(weights[name], expected[name], rtol=0, atol=1e-6)
    for mine, theirs in zip(ours["rows"], reference["rows"]):
        assert mine["sft_loss"] == pytest.approx(theirs["sft_loss"], abs=1e-6)
        assert mine["margin"] == pytest.approx(theirs["margin"], abs=1e-6)


def _chat_teacher(tmp_path, llama_dir, start: str = ""):
    """A copy of the tiny Llama whose tokenizer has a small chat template (``start`` before the messages)."""
    teacher = tmp_path / "teacher"
    shutil.copytree(llama_dir, teacher)
    tokenizer = AutoTokenizer.from_pretrained(teacher)
    tokenizer.chat_template = (start + "{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }}\n{% endfor %}"
                               "{% if add_generation_prompt %}<assistant> {% endif %}")
    tokenizer.save_pretrained(teacher)
    return teacher, tokenizer


def test_a_local_chat_model_teaches(tmp_path, llama_dir):
    """The model-teacher path: a tiny chat model's corrections (chat template + answer label) train one round."""
    teacher, tokenizer = _chat_teacher(tmp_path, llama_dir)
    prompt = correction_prompt(tokenizer, "where is the", " ball ball ball")
    assert prompt.startswith(f"<system> {INSTRUCTIONS}\n<user> ") and prompt.endswith(f"<assistant> {ANSWER_LABEL}")
    assert correction_prompt(AutoTokenizer.from_pretrained(llama_dir), "a", "b").startswith(INSTRUCTIONS)

    _corpus(tmp_path / "corpus")
    config = _config(tmp_path, tmp_path / "out", teacher=str(teacher), rounds=1)
    output = InteractionTrainer(config).train()
    with open(output / "rounds.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and all(math.isfinite(float(rows[0][k])) for k in ("sft_loss", "simpo_loss", "margin"))
    assert (output / "round_01" / "model.safetensors").exists()


def test_student_sampling_left_pads_prompts_of_unequal_length(llama_dir):
    """Ids in, new ids out: each prompt's greedy continuation in a padded batch equals its own, unpadded."""
    from e2lm_bench.training.generation import Generator

    model = AutoModelForCausalLM.from_pretrained(llama_dir).eval()
    with torch.no_grad():  # sharper than untrained, so that greedy choices are clear-cut
        for weight in model.parameters():
            if weight.dim() > 1:
                weight.mul_(10)
    tokenizer = AutoTokenizer.from_pretrained(llama_dir)
    prompts = [[1, 40, 41, 42, 43, 44], [1, 50], [1, 60, 61]]
    batched = Generator(model, tokenizer, batch_size=2).ids(prompts, max_new_tokens=4, do_sample=False)
    for prompt, new in zip(prompts, batched, strict=True):
        alone = model.generate(torch.tensor([prompt]), max_new_tokens=4, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        assert new == alone[0, len(prompt):].tolist()


def test_cli_defaults_come_from_the_config():
    from e2lm_bench.cli import _build_parser

    args = _build_parser().parse_args(["interact", "llama-tiny", "--teacher", "m:f", "--corpus", "c", "--output", "o"])
    defaults = InteractionConfig(student="s", teacher="t", corpus="c", output="o")
    assert (args.rounds, args.context_tokens, args.lm_epochs, args.po_epochs, args.beta, args.gamma_ratio, args.lr) == (
        defaults.rounds, defaults.context_tokens, defaults.lm_epochs, defaults.po_epochs, defaults.beta,
        defaults.gamma_ratio, defaults.learning_rate)


def test_vllm_backend_without_vllm_is_a_one_line_error(tmp_path):
    try:
        import vllm  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("vLLM is installed")
    _corpus(tmp_path / "corpus")
    with pytest.raises(UserError, match="vLLM is not installed"):
        InteractionTrainer(_config(tmp_path, tmp_path / "out", backend="vllm", rounds=1)).train()


@pytest.mark.parametrize("changes, message", [
    ({"rounds": 0}, "--rounds 0"),
    ({"lm_epochs": 0, "po_epochs": 0}, "--lm-epochs 0 --po-epochs 0"),
])
def test_settings_that_train_no_step_are_refused(tmp_path, capsys, changes, message):
    from e2lm_bench.cli import main

    _corpus(tmp_path / "corpus")
    config = _config(tmp_path, tmp_path / "out", **changes)
    args = ["interact", config.student, "--teacher", config.teacher, "--corpus", str(config.corpus),
            "--output", str(config.output), "--vocab-size", "300", "--rounds", str(config.rounds),
            "--lm-epochs", str(config.lm_epochs), "--po-epochs", str(config.po_epochs), "--context-tokens", str(CONTEXT),
            "--completion-tokens", str(COMPLETION), "--device", "cpu"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not config.output.exists()


def test_a_finished_run_resumed_says_so_in_one_line(full_run, capsys):
    root, config = full_run
    before = (config.output / "round_03" / "model.safetensors").read_bytes()
    capsys.readouterr()
    assert InteractionTrainer(config).train() == config.output
    notes = [line for line in capsys.readouterr().err.splitlines() if "rounds" in line and "%|" not in line]
    assert len(notes) == 1 and "all 3 rounds" in notes[0] and "already done" in notes[0], notes
    assert (config.output / "round_03" / "model.safetensors").read_bytes() == before


def test_a_chat_teacher_on_vllm_gets_one_bos(tmp_path, llama_dir, monkeypatch):
    """A chat template that starts with ``{{ bos_token }}`` (Llama 3's does) puts BOS in the text; what vLLM
    runs must still hold one (checked through the tokenizer, with a stand-in vLLM)."""
    from e2lm_bench.training.interaction_teachers import ModelTeacher
    from tests.test_teacher import install_fake_vllm, vllm_input_ids

    sent = install_fake_vllm(monkeypatch)
    teacher, tokenizer = _chat_teacher(tmp_path, llama_dir, start="{{ bos_token }}")
    config = _config(tmp_path, tmp_path / "out", teacher=str(teacher), backend="vllm")
    assert ModelTeacher(str(teacher), config, torch.device("cpu"))(["where is the"], [" ball ball"]) == [" yes ."]
    (prompt,) = sent
    ids = vllm_input_ids(tokenizer, prompt)
    assert ids[0] == tokenizer.bos_token_id and ids.count(tokenizer.bos_token_id) == 1, ids
