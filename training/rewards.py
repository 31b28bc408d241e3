"""Python rewards for RL fine-tuning on mother prompts (Padovani et al. 2025, arXiv 2510.20358;
github.com/fpadovani/communicative_baby_ppo).

Each reward is a trl reward function ``f(prompts, completions, **columns) -> list[float]``, one value per
completion in completion order, named (``__name__``) after its reward because trl names its logs so.
trl passes every extra dataset column as a keyword, repeated per generation, plus its own keywords
(``trainer_state``, ``log_extra``, ``completion_ids``, ...); unknown keywords are ignored.

``bleu``
    Unigram BLEU (NLTK, smoothing ``method1``) of the child's utterance against ``teacher_response``.
``semsim``
    Cosine similarity of sentence-transformers embeddings of the utterance and ``teacher_response``.
``judge``
    An instruct LM rates the exchange 0-5 through the seed's hand-written prompt (:func:`judge_prompt`,
    :func:`judge_score`).
``confidence``
    Where the mother model's log-probability of the reply ranks among its scores of the ten teacher
    answers (column ``mom_logps``), mapped to [-1, 1]. The reply is scored as written (case and
    punctuation kept), since ``mom_logps`` scored the answers so; with no child words (the completion
    starts with another speaker's tag) the whole completion is scored, as the seed's
    ``extract_first_chi_utterance(text) or text``.

An empty utterance gets 0.0 (``bleu``, ``semsim``, ``judge``) and a blank completion -0.5 (``confidence``,
the seed's) without being scored. The seed's semsim has no such guard; an empty string still embeds close
to many short answers, which would pay the policy for saying nothing, so ``semsim`` follows ``bleu`` here.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence

from e2lm_bench.errors import UserError
from e2lm_bench.evaluation.conventions import LMScorer
from e2lm_bench.training.dialogue_text import child_utterance, child_words, mother_utterance
from e2lm_bench.training.generation import Generator
from e2lm_bench.training.mother_scores import mother_logprobs

DEFAULT_SEMSIM_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
JUDGE_MAX_NEW_TOKENS = 10
EMPTY_CONFIDENCE = -0.5  # the seed's reward for an empty reply (or an unknown prompt)
TEACHER_FILE = "the teacher-answers file"
MOM_FILE = "the mom-scores file"


class RewardError(UserError):
    """An unknown reward, a bad option or a dataset column the reward needs but does not get."""


RewardFunction = Callable[..., list[float]]


def make_reward(name: str, **options) -> RewardFunction:
    """The trl reward function ``name`` built with its ``options`` (models are loaded here, once)."""
    factory = _FACTORIES.get(name)
    if factory is None:
        raise RewardError(f"unknown reward {name!r}: expected one of {', '.join(_FACTORIES)}")
    try:
        inspect.signature(factory).bind(**options)
    except TypeError as err:
        raise RewardError(f"reward {name}: {err}") from None
    reward = factory(**options)
    reward.__name__ = reward.__qualname__ = name
    return reward


def make_rewards(names: str, **options_by_name: dict) -> list[RewardFunction]:
    """The rewards of a comma-separated list (``"bleu,semsim"``), each built with ``options_by_name[name]``.

    Weights are trl's own ``reward_weights`` in the trainer config, in the same order.
    """
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    if not wanted or len(set(wanted)) < len(wanted):
        raise RewardError(f"rewards {names!r}: expected distinct names from {', '.join(_FACTORIES)}")
    stray = sorted(set(options_by_name) - set(wanted))
    if stray:
        raise RewardError(f"options for {', '.join(stray)}, which is not among the rewards {names!r}")
    return [make_reward(name, **options_by_name.get(name, {})) for name in wanted]


# -- bleu ------------------------------------------------------------------------------------------


def bleu_tokens(text: str) -> list[str]:
    """The seed's BLEU tokens: lower-cased, non-word non-space characters removed, split on whitespace."""
    return re.sub(r"[^\w\s]", "", text.lower()).split()


def _bleu() -> RewardFunction:
    """No options: NLTK's unigram BLEU with smoothing ``method1``, as the seed."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    smoothing = SmoothingFunction().method1

    def reward(prompts, completions, **columns):
        references = _column(columns, "teacher_response", "bleu", TEACHER_FILE)
        utterances = [child_utterance(c) for c in completions]
        return [
            sentence_bleu([bleu_tokens(r)], bleu_tokens(u), weights=(1, 0, 0, 0), smoothing_function=smoothing)
            if u else 0.0
            for u, r in zip(utterances, references, strict=True)
        ]

    return reward


# -- semsim ----------------------------------------------------------------------------------------


def _semsim(model: str = DEFAULT_SEMSIM_MODEL, device: str | None = None, batch_size: int = 32) -> RewardFunction:
    """``model``: a sentence-transformers folder or Hub name, loaded once; each call encodes in one batch."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.util import pairwise_cos_sim

    encoder = SentenceTransformer(str(model), device=device)

    def reward(prompts, completions, **columns):
        references = _column(columns, "teacher_response", "semsim", TEACHER_FILE)

        def cosines(kept: list[int], utterances: list[str]) -> list[float]:
            texts = [utterances[i] for i in kept] + [references[i] for i in kept]
            embeddings = encoder.encode(texts, batch_size=batch_size, convert_to_tensor=True)
            return pairwise_cos_sim(embeddings[: len(kept)], embeddings[len(kept) :]).tolist()

        return _score_utterances(completions, cosines, empty=0.0)

    return reward


# -- judge -----------------------------------------------------------------------------------------


def judge_prompt(mot: str, chi: str) -> str:
    """The seed's hand-written judge prompt (not the model's chat template), verbatim."""
    return (
        "<|system|>\nYou are presented with a dialogue between a mother (MOT) and a child (CHI). "
        "Please rate how contextually appropriate and fluent the child's response is, on a scale from 0 "
        "(completely unfitting) to 5 (perfectly fine answer). If CHI answer is too short rate it low.\n<|end|>\n"
        f"<|user|>\nMOT: {mot}\nCHI: {chi}\n<|end|>\n<|assistant|>\n"
    )


def judge_score(reply: str) -> float:
    """The first number from 1 to 5 (decimals allowed) in the judge's reply, else 0.0.

    Numbers are read whole: "10" or "0.5" is a number outside 1-5 and is skipped, so "10" gives 0.0 (the
    seed's regex matched a bare digit and read "10" as 1 and "0.5" as 5); "0" gives 0.0 like no number.
    """
    for match in re.finditer(r"\d+(?:\.\d+)?", reply):
        if 1 <= float(match.group()) <= 5:
            return float(match.group())
    return 0.0


def _judge(model: str | Callable[[list[str]], list[str]], device: str | None = None, dtype: str = "auto",
           batch_size: int = 8) -> RewardFunction:
    """``model``: a local instruct causal LM (folder or Hub id, run greedily here) or a callable from prompts
    to replies (an API client, a test); the raw replies go to trl's ``log_extra`` as ``judge_reply``."""
    generate = model if callable(model) else _greedy_replies(model, device, dtype, batch_size)

    def reward(prompts, completions, log_extra=None, **columns):
        replies: dict[int, str] = {}

        def scores(kept: list[int], utterances: list[str]) -> list[float]:
            texts = [judge_prompt(mother_utterance(prompts[i]), utterances[i]) for i in kept]
            got = list(generate(texts))
            if len(got) != len(texts):
                raise RewardError(f"judge: {len(got)} replies for {len(texts)} prompts")
            replies.update(zip(kept, got))
            return [judge_score(r) for r in got]

        values = _score_utterances(completions, scores, empty=0.0)
        if log_extra is not None:  # trl's completions table gets the raw replies, as the seed's CSV did
            log_extra("judge_reply", [replies.get(i, "") for i in range(len(completions))])
        return values

    return reward


def _greedy_replies(path: str, device: str | None, dtype: str, batch_size: int) -> Callable[[list[str]], list[str]]:
    """Greedy continuations (new tokens only, specials skipped) of a local causal LM, left-padded batches."""
    generator = Generator.from_pretrained(path, device=device, dtype=dtype, batch_size=batch_size)

    def generate(texts: list[str]) -> list[str]:
        return [group[0] for group in generator.texts(texts, max_new_tokens=JUDGE_MAX_NEW_TOKENS, do_sample=False)]

    return generate


# -- confidence ------------------------------------------------------------------------------------


def confidence_text(completion: str) -> str:
    """What the mother model scores: the child's words as written, else the whole completion, stripped.

    Not lower-cased, unlike the seed's extraction: the seed scored its teacher answers with their case, and
    a cased mother model gives 'I want milk.' and 'i want milk.' different scores.
    """
    return child_words(completion) or completion.strip()


def _confidence(model: str | LMScorer, device: str | None = None, dtype: str = "auto",
                batch_size: int = 16) -> RewardFunction:
    """``model``: the mother scorer LM (folder or Hub id) or a ready ``LMScorer``, whose own device and batch
    size then apply."""
    scorer = model if isinstance(model, LMScorer) else LMScorer.from_pretrained(
        model, batch_size=batch_size, device=device, dtype=dtype)

    def reward(prompts, completions, **columns):
        mom_logps = _column(columns, "mom_logps", "confidence", MOM_FILE)

        def ranks(kept: list[int], utterances: list[str]) -> list[float]:
            logps = mother_logprobs(scorer, [mother_utterance(prompts[i]) for i in kept], [utterances[i] for i in kept])
            values = []
            for i, logp in zip(kept, logps):
                if not mom_logps[i]:
                    raise RewardError(f"reward confidence: row {i} has no mom_logps")
                values.append(2 * sum(s <= logp for s in mom_logps[i]) / len(mom_logps[i]) - 1)
            return values

        return _score_utterances(completions, ranks, empty=EMPTY_CONFIDENCE, extract=confidence_text)

    return reward


# -- shared ----------------------------------------------------------------------------------------


def _column(columns: dict, name: str, reward: str, source: str) -> Sequence:
    if name not in columns:
        raise RewardError(f"reward {reward} needs the dataset column {name!r}: --prompts must be {source}")
    return columns[name]


def _score_utterances(completions: Sequence[str], score: Callable[[list[int], list[str]], list[float]],
                      empty: float, extract: Callable[[str], str] = child_utterance) -> list[float]:
    """Scores in completion order: ``score(kept, utterances)`` rates the non-empty utterances in one batch."""
    utterances = [extract(c) for c in completions]
    kept = [i for i, u in enumerate(utterances) if u]
    values = [empty] * len(utterances)
    for i, value in zip(kept, score(kept, utterances) if kept else [], strict=True):
        values[i] = float(value)
    return values


_FACTORIES = {"bleu": _bleu, "semsim": _semsim, "judge": _judge, "confidence": _confidence}
