"""Teacher answers and mother scores (Padovani et al. 2025's recipe) on a tiny Llama built in the session."""

from __future__ import annotations

import importlib.util
import json
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

from e2lm_bench.cli import main
from e2lm_bench.evaluation.conventions import LMScorer
from e2lm_bench.training.dialogue_text import mother_utterance
from e2lm_bench.training.mother_scores import mother_logprobs
from e2lm_bench.training.teacher import child_persona_prompt, clean_answer, read_prompts

# Written out here, not imported, so a changed constant fails the test.
SYSTEM = (
    "You are a young child having a conversation with your mother. When your mother says something, you should "
    "answer as a typical and natural-sounding child. Do NOT repeat her words. Instead, give a new, relevant answer "
    "that shows understanding. Keep it short and child-like."
)
PROMPTS = [
    "*MOT: where is the ball ?", "*MOT: do you want some more juice ?", "*MOT: shall we read a book ?",
    "*MOT: you are green ?", "*MOT: look at this purple thing .",
]
N = 3
OPTIONS = ["--n", str(N), "--batch-size", "2", "--max-new-tokens", "6", "--device", "cpu", "--seed", "3"]


def _write_prompts(path, extra=()):
    path.write_text("\n".join(["@Begin", *PROMPTS[:2], "*CHI: ball .", "", *PROMPTS[2:], PROMPTS[0], *extra]) + "\n")
    return path


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def generate_calls(monkeypatch):
    """Every (input ids, attention mask, output ids) that reaches the teacher's generate."""
    calls = []
    original = LlamaForCausalLM.generate

    def recording(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        calls.append((kwargs["input_ids"], kwargs["attention_mask"], out))
        return out

    monkeypatch.setattr(LlamaForCausalLM, "generate", recording)
    return calls


def test_child_persona_prompt_keeps_the_space_after_the_tag():
    expected = SYSTEM + "\nMother says: where is the ball ?\n Child answers:"
    assert child_persona_prompt("*MOT: where is the ball ?") == expected
    assert child_persona_prompt("where is the ball ?") == expected  # untagged JSONL prompt
    assert child_persona_prompt("*MOT:\twhere") == SYSTEM + "\nMother says:\twhere\n Child answers:"
    assert mother_utterance("*MOT: where is the ball ?") == "where is the ball ?"  # the scorer's form is stripped


@pytest.mark.parametrize("raw, answer", [
    ("yes.\nMother: no", "yes."),
    (" I want ball! more", "I want ball!"),
    ("Child: hi", ""),
    (" no\nChild: yes", "no"),
    (" where is it? there.", "where is it?"),
    (" dolly Mother: go", "dolly"),
    (" more juice", "more juice"),
    ("\nyes.", ""),
    (" that... ok", "that."),
    (" Mother says hi", "Mother says hi"),
])
def test_clean_answer(raw, answer):
    assert clean_answer(raw) == answer


def test_read_prompts_skips_and_counts_other_lines(tmp_path):
    prompts, skipped = read_prompts(_write_prompts(tmp_path / "p.txt"))
    assert prompts == PROMPTS + [PROMPTS[0]]
    assert skipped == 2  # @Begin and the *CHI: line; blank lines are not counted


def test_teacher_answers_rows_and_the_text_that_reaches_generate(tmp_path, llama_dir, generate_calls, capsys):
    out = tmp_path / "answers.jsonl"
    assert main(["data", "teacher-answers", str(_write_prompts(tmp_path / "p.txt")), "--teacher", str(llama_dir),
                 "--output", str(out), *OPTIONS]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary | {"output": None} == {"output": None, "prompts": 5, "already_done": 0, "written": 5,
                                          "skipped_lines": 2, "duplicate_prompts": 1}
    rows = _rows(out)
    assert [r["prompt"] for r in rows] == PROMPTS

    tokenizer = AutoTokenizer.from_pretrained(llama_dir)
    assert len(generate_calls) == 3  # 5 prompts, 2 a batch
    seen_prompts, raw_answers = [], []
    for input_ids, mask, output in generate_calls:
        assert output.shape[0] == N * input_ids.shape[0]
        for ids, row_mask in zip(input_ids, mask):
            assert row_mask[-1] == 1  # padded on the left
            seen_prompts.append(tokenizer.decode(ids[row_mask.bool()], skip_special_tokens=True))
        raw_answers += tokenizer.batch_decode(output[:, input_ids.shape[1]:], skip_special_tokens=True)
    assert any((mask == 0).any() for _, mask, _ in generate_calls)
    assert seen_prompts == [f"{SYSTEM}\nMother says:{p[len('*MOT:'):]}\n Child answers:" for p in PROMPTS]
    for i, row in enumerate(rows):
        assert row["teacher_responses"] == [clean_answer(a) for a in raw_answers[i * N : (i + 1) * N]]
        assert row["teacher_response"] == row["teacher_responses"][1]
    assert any(row["teacher_responses"] for row in rows)


def test_resume_after_a_kill_repeats_the_uninterrupted_run(tmp_path, llama_dir, capsys):
    prompts = _write_prompts(tmp_path / "p.txt")
    full, resumed = tmp_path / "full.jsonl", tmp_path / "resumed.jsonl"
    command = ["data", "teacher-answers", str(prompts), "--teacher", str(llama_dir), *OPTIONS]
    assert main([*command, "--output", str(full)]) == 0
    lines = full.read_text().splitlines(keepends=True)
    resumed.write_text("".join(lines[:2]) + lines[2][: len(lines[2]) // 2])  # batch 0 done, a torn line of batch 1
    capsys.readouterr()

    assert main([*command, "--output", str(resumed)]) == 0
    assert json.loads(capsys.readouterr().out)["already_done"] == 2
    assert resumed.read_text().splitlines(keepends=True)[:2] == lines[:2]
    assert resumed.read_text() == full.read_text()  # whole batches redone with the same seed

    torn_mid_batch = tmp_path / "torn.jsonl"
    torn_mid_batch.write_text("".join(lines[:3]) + lines[3][:7])
    assert main([*command, "--output", str(torn_mid_batch)]) == 0
    rows = _rows(torn_mid_batch)
    assert torn_mid_batch.read_text().startswith("".join(lines[:3]))
    assert sorted(r["prompt"] for r in rows) == sorted(PROMPTS)  # all there, none twice

    before = full.read_text()
    capsys.readouterr()
    assert main([*command, "--output", str(full)]) == 0
    assert json.loads(capsys.readouterr().out)["written"] == 0
    assert full.read_text() == before


def test_mom_scores_equal_the_scorer_given_the_mother_utterance(tmp_path, llama_dir, capsys):
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps(row) + "\n" for row in [
        {"prompt": "*MOT: where is the ball ?", "teacher_responses": ["the ball .", "no !", ""], "teacher_response": "no !"},
        {"prompt": "*MOT: shall we read a book ? *CHI:", "teacher_responses": ["yes .", "a book ?", "I am blue ."]},
        {"prompt": "*MOT: you are green ?", "teacher_responses": ["I am blue ."]},
    ]))
    out = tmp_path / "scores.jsonl"
    command = ["data", "mom-scores", str(answers), "--model", str(llama_dir), "--device", "cpu", "--batch-size", "2"]
    assert main([*command, "--output", str(out)]) == 0
    rows = _rows(out)
    scorer = LMScorer.from_pretrained(str(llama_dir), device="cpu")
    for source, row in zip(_rows(answers), rows, strict=True):
        assert row == {**source, "mom_logps": row["mom_logps"]}
        n = len(source["teacher_responses"])
        expected = mother_logprobs(scorer, [mother_utterance(source["prompt"])] * n, source["teacher_responses"])
        np.testing.assert_allclose(row["mom_logps"], expected, rtol=1e-5)
        raw_context = mother_logprobs(scorer, [source["prompt"]] * n, source["teacher_responses"])
        assert not np.allclose(row["mom_logps"], raw_context)

    lines = out.read_text().splitlines(keepends=True)
    out.write_text(lines[0] + lines[1][:10])
    assert main([*command, "--output", str(out)]) == 0
    assert out.read_text().startswith(lines[0])
    assert [r["prompt"] for r in _rows(out)] == [r["prompt"] for r in rows]
    np.testing.assert_allclose([x for r in _rows(out) for x in r["mom_logps"]], [x for r in rows for x in r["mom_logps"]],
                               rtol=1e-5)


@pytest.mark.parametrize("model_fixture", ["llama_dir", "gpt2_dir"])
def test_mother_logprobs_equal_the_summed_cross_entropy_of_the_answer(request, model_fixture):
    """The RL recipe's mother score: -(mean CE over answer tokens) x their number, context tokens masked."""
    path = request.getfixturevalue(model_fixture)
    model, tokenizer = AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    contexts, answers = ["where is the ball", "look at that", ""], ["there", "a big doggy !", "yes"]
    ours = mother_logprobs(LMScorer(model, tokenizer, batch_size=2, device="cpu"), contexts, answers)
    for context, answer, value in zip(contexts, answers, ours):
        context_ids = tokenizer(context + " ", add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(" " + answer, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([context_ids + answer_ids])
        labels = ids.clone()
        labels[0, : len(context_ids)] = -100
        with torch.no_grad():
            loss = model(input_ids=ids, labels=labels).loss.item()
        scored = len(answer_ids) - (0 if context_ids else 1)  # a first token without context has no prediction
        assert value == pytest.approx(-loss * scored, abs=1e-4)


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


def _existing_output(path):
    path.write_text(json.dumps({"prompt": "*MOT: hi", "teacher_responses": ["a", "b", "c"], "mom_logps": [0, 0, 0]})
                    + "\n" + '{"prompt": "*MOT: to')  # a torn line stays until the input is good
    return path.read_bytes()


def test_bad_inputs_are_one_line_errors_and_leave_the_output_alone(tmp_path, llama_dir, capsys):
    out = tmp_path / "out.jsonl"
    before = _existing_output(out)
    teacher = ["--teacher", str(llama_dir), "--output", str(out), *OPTIONS]

    no_mot = tmp_path / "chat.txt"
    no_mot.write_text("@Begin\n*CHI: ball .\n*FAT: yes .\n")
    assert main(["data", "teacher-answers", str(no_mot), *teacher]) == 2
    _one_line_error(capsys, str(no_mot), "*MOT:")

    no_prompt = tmp_path / "prompts.jsonl"
    no_prompt.write_text('{"prompt": "*MOT: hi"}\n{"text": "*MOT: there"}\n')
    assert main(["data", "teacher-answers", str(no_prompt), *teacher]) == 2
    _one_line_error(capsys, f"{no_prompt}:2", "'prompt'")

    no_answers = tmp_path / "answers.jsonl"
    no_answers.write_text('{"prompt": "*MOT: hi", "teacher_responses": ["a"]}\n{"prompt": "*MOT: there"}\n')
    assert main(["data", "mom-scores", str(no_answers), "--model", str(llama_dir), "--output", str(out)]) == 2
    _one_line_error(capsys, f"{no_answers}:2", "'teacher_responses'")
    assert out.read_bytes() == before

    fresh = tmp_path / "never.jsonl"
    assert main(["data", "teacher-answers", str(no_mot), "--teacher", str(llama_dir), "--output", str(fresh)]) == 2
    capsys.readouterr()
    assert not fresh.exists()


def test_other_settings_than_the_output_holds_are_refused(tmp_path, llama_dir, capsys):
    out = tmp_path / "out.jsonl"
    before = _existing_output(out)
    prompts = _write_prompts(tmp_path / "p.txt")
    assert main(["data", "teacher-answers", str(prompts), "--teacher", str(llama_dir), "--output", str(out),
                 *OPTIONS, "--n", "4"]) == 2
    _one_line_error(capsys, f"{out}:1", "--n")
    assert out.read_bytes() == before[: before.rindex(b"\n") + 1]  # only the torn line is gone


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
def test_vllm_backend_without_vllm(tmp_path, llama_dir, capsys):
    out = tmp_path / "out.jsonl"
    assert main(["data", "teacher-answers", str(_write_prompts(tmp_path / "p.txt")), "--teacher", str(llama_dir),
                 "--output", str(out), "--backend", "vllm"]) == 2
    _one_line_error(capsys, "vLLM is not installed")
    assert not out.exists()


def install_fake_vllm(monkeypatch) -> list:
    """A stand-in ``vllm`` module (no GPU, no vLLM): ``LLM.generate`` records the prompts it is handed and
    answers each with ``n`` canned completions."""
    sent = []

    class SamplingParams:
        def __init__(self, n=1, **settings):
            self.n, self.settings = n, settings

    class LLM:
        def __init__(self, model, seed, **options):
            self.model = model

        def generate(self, prompts, params, use_tqdm=True):
            sent.extend(prompts)
            params = params if isinstance(params, list) else [params] * len(prompts)
            return [SimpleNamespace(outputs=[SimpleNamespace(text=" yes .", token_ids=[5])] * p.n) for p in params]

    monkeypatch.setitem(sys.modules, "vllm", SimpleNamespace(LLM=LLM, SamplingParams=SamplingParams))
    return sent


def vllm_input_ids(tokenizer, prompt) -> list[int]:
    """The ids vLLM runs for a prompt: token ids as given, a text encoded with the HF tokenizer's defaults."""
    if isinstance(prompt, dict) and "prompt_token_ids" in prompt:
        return list(prompt["prompt_token_ids"])
    text = prompt["prompt"] if isinstance(prompt, dict) else prompt
    return tokenizer.encode(text)


def test_vllm_prompts_carry_one_bos_even_when_the_text_has_one(llama_dir, gpt2_dir):
    """A chat template's ``{{ bos_token }}`` puts BOS in the text, and vLLM's encoding adds its own: two."""
    from e2lm_bench.training.generation import vllm_token_prompts

    tokenizer = AutoTokenizer.from_pretrained(llama_dir)
    bos = tokenizer.bos_token_id
    chat_text = tokenizer.bos_token + "<user> where is the ball ?\n<assistant> "
    assert vllm_input_ids(tokenizer, chat_text)[:2] == [bos, bos]  # the text as vLLM would encode it
    for text in (child_persona_prompt(PROMPTS[0]), chat_text):
        ids = vllm_input_ids(tokenizer, vllm_token_prompts(tokenizer, [text])[0])
        assert ids[0] == bos and ids.count(bos) == 1, ids
        assert tokenizer.decode(ids, skip_special_tokens=True) == text.removeprefix(tokenizer.bos_token)
    no_bos = AutoTokenizer.from_pretrained(gpt2_dir)  # a tokenizer that adds none gets none, as with transformers
    text = child_persona_prompt(PROMPTS[0])
    assert vllm_input_ids(no_bos, vllm_token_prompts(no_bos, [text])[0]) == no_bos(text)["input_ids"]


def test_teacher_answers_with_vllm_send_the_transformers_ids(tmp_path, llama_dir, monkeypatch, capsys):
    """What vLLM receives equals what the transformers backend encodes: the persona text after one BOS."""
    sent = install_fake_vllm(monkeypatch)
    out = tmp_path / "answers.jsonl"
    assert main(["data", "teacher-answers", str(_write_prompts(tmp_path / "p.txt")), "--teacher", str(llama_dir),
                 "--output", str(out), "--backend", "vllm", "--n", str(N), "--batch-size", "2"]) == 0, capsys.readouterr().err
    tokenizer = AutoTokenizer.from_pretrained(llama_dir)
    assert len(sent) == len(PROMPTS)
    for prompt, sent_prompt in zip(PROMPTS, sent, strict=True):
        ids = vllm_input_ids(tokenizer, sent_prompt)
        assert ids == tokenizer(child_persona_prompt(prompt))["input_ids"]
        assert ids.count(tokenizer.bos_token_id) == 1 and ids[0] == tokenizer.bos_token_id
    assert [row["teacher_responses"] for row in _rows(out)] == [["yes ."] * N] * len(PROMPTS)
