"""Scoring minimal pairs under the named conventions behind published BabyLM-style figures.

Published numbers for the same task and model were computed three ways, and the differences move
accuracy by points, not decimals:

``lm-eval``
    lm-evaluation-harness ``multiple_choice`` (our tasks; BabyLM 2024). Each candidate is scored as the
    continuation ``target_delimiter + candidate`` of its context; an empty context becomes the BOS token
    (EOS when there is no BOS). Every candidate token counts. A tie counts as correct.
``minicons``
    The seed scripts (minicons ``sequence_score``, sum reduction, ``bow_correction=True``): the whole
    text ``prefix + " " + candidate`` is encoded with the tokenizer's own special tokens and every token
    but the first is scored, so without an automatic BOS the first subword is never scored. The
    beginning-of-word correction scores whole words, including the probability that a new word follows
    the last one. A tie counts as wrong.
``babylm-2025``
    The BabyLM 2025 pipeline (causal backend): the same encoding as ``minicons``, the tokens overlapping
    the candidate's characters are summed, no word correction, optional temperature. A tie counts as
    correct.

All three run on one batched, length-sorted forward pass engine, so the choice of convention changes
the numbers and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from e2lm_bench.devices import resolve_device, torch_dtype
from e2lm_bench.errors import UserError

CONVENTIONS = ("lm-eval", "minicons", "babylm-2025")
TOKENIZER_KWARGS = ("revision", "trust_remote_code")  # the model options that also select the tokenizer


@dataclass(frozen=True)
class _Request:
    ids: tuple[int, ...]
    first_scored: int  # tokens ids[first_scored:] are scored, each given all tokens before it


@dataclass
class PairScores:
    """Per-pair log-probabilities (nats) of the correct and incorrect candidate under one convention."""

    convention: str
    good: np.ndarray
    bad: np.ndarray

    @property
    def margin(self) -> np.ndarray:
        return self.good - self.bad

    @property
    def correct(self) -> np.ndarray:
        if self.convention == "minicons":
            return self.good > self.bad
        return self.good >= self.bad

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean())


class LMScorer:
    """Sums token log-probabilities of a causal LM under a named convention (see the module docstring)."""

    def __init__(self, model, tokenizer, batch_size: int = 64, device: str | None = None):
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self._bow_ids = _word_start_ids(tokenizer)

    @classmethod
    def from_pretrained(cls, path: str, batch_size: int = 64, device: str | None = None, dtype: str = "auto",
                        **model_kwargs):
        """Load a model folder or Hub id in ``dtype`` ("auto": as saved) onto ``device`` (default: CUDA when available).

        ``model_kwargs`` (``revision``, ``trust_remote_code``, ``attn_implementation``, ...) go to the model's
        ``from_pretrained``; ``revision`` and ``trust_remote_code`` also to the tokenizer's.
        """
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch_type = torch_dtype(dtype)
        tokenizer = AutoTokenizer.from_pretrained(path, **{k: v for k, v in model_kwargs.items() if k in TOKENIZER_KWARGS})
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_type, **model_kwargs)
        return cls(model, tokenizer, batch_size=batch_size, device=device)

    # -- conventions -------------------------------------------------------------------------------

    def candidate_logprobs(
        self,
        candidates: Sequence[str],
        prefixes: Sequence[str] | None = None,
        convention: str = "lm-eval",
        target_delimiter: str = " ",
        temperature: float = 1.0,
    ) -> np.ndarray:
        """log P(candidate | prefix) for each candidate (an empty or missing prefix means none)."""
        if convention not in CONVENTIONS:
            raise ValueError(f"unknown convention {convention!r}; expected one of {', '.join(CONVENTIONS)}")
        prefixes = list(prefixes) if prefixes is not None else [""] * len(candidates)
        if len(prefixes) != len(candidates):
            raise ValueError(f"{len(prefixes)} prefixes for {len(candidates)} candidates")
        if convention == "lm-eval":
            requests = [self._lm_eval_request(p, target_delimiter + c) for p, c in zip(prefixes, candidates)]
            return self._score(requests)
        if convention == "minicons":  # the seed compares whole texts; the shared prefix nearly cancels
            requests = [self._whole_text_request(p, c, score_prefix=True) for p, c in zip(prefixes, candidates)]
            return self._score(requests, bow_correction=True)
        requests = [self._whole_text_request(p, c, score_prefix=False) for p, c in zip(prefixes, candidates)]
        return self._score(requests, temperature=temperature)

    def score_pairs(
        self,
        good: Sequence[str],
        bad: Sequence[str],
        prefixes: Sequence[str] | None = None,
        convention: str = "lm-eval",
        **options,
    ) -> PairScores:
        if len(good) != len(bad):
            raise ValueError(f"{len(good)} correct candidates for {len(bad)} incorrect ones")
        both_prefixes = None if prefixes is None else list(prefixes) * 2
        scores = self.candidate_logprobs(list(good) + list(bad), both_prefixes, convention, **options)
        return PairScores(convention, scores[: len(good)], scores[len(good) :])

    def _encode(self, text: str, special_tokens: bool) -> list[int]:
        return self.tokenizer(text, add_special_tokens=special_tokens)["input_ids"]

    def _lm_eval_request(self, context: str, continuation: str) -> _Request:
        """Tokenisation of lm-eval's ``TemplateLM.loglikelihood`` for a causal HF model."""
        if not context:
            prefix = self.tokenizer.bos_token_id
            if prefix is None:
                prefix = self.tokenizer.eos_token_id
            cont = self._encode(continuation, special_tokens=False)
            ids = cont if cont[0] == prefix else [prefix] + cont
            return _Request(tuple(ids), 1)
        stripped = context.rstrip()
        if len(stripped) < len(context):  # trailing spaces belong to the continuation
            continuation = context[len(stripped) :] + continuation
            context = stripped
        whole = self._encode(context + continuation, special_tokens=True)
        n_context = len(self._encode(context, special_tokens=True))
        return _Request(tuple(whole), n_context)

    def _whole_text_request(self, prefix: str, candidate: str, score_prefix: bool) -> _Request:
        """Encode ``prefix + " " + candidate`` with default special tokens; position 0 is never scored."""
        text = prefix + " " + candidate if prefix else candidate
        if score_prefix or not prefix:
            return _Request(tuple(self._encode(text, special_tokens=True)), 1)
        encoded = self.tokenizer(text, return_offsets_mapping=True)
        start = len(text) - len(candidate)
        first = next(
            (i for i, (_, end) in enumerate(encoded["offset_mapping"]) if end > start and i > 0),
            len(encoded["input_ids"]),
        )
        return _Request(tuple(encoded["input_ids"]), first)

    # -- engine ------------------------------------------------------------------------------------

    def sequence_logprobs(self, sequences: Sequence[Sequence[int]], first_scored: Sequence[int]) -> np.ndarray:
        """Σ log P(ids[t] | ids[:t]) over t >= start, for each already tokenised ``ids`` and its ``start``.

        The engine behind every convention, for scores tokenised elsewhere; ``start`` is at least 1 (the
        first token has nothing before it) and at most ``len(ids)`` (nothing scored: 0.0).
        """
        if len(sequences) != len(first_scored):
            raise ValueError(f"{len(sequences)} sequences for {len(first_scored)} start positions")
        requests = [_Request(tuple(ids), start) for ids, start in zip(sequences, first_scored)]
        if any(not 1 <= r.first_scored <= len(r.ids) for r in requests):
            raise ValueError("each start position must lie in 1..len(ids)")
        return self._score(requests)

    @torch.inference_mode()
    def _score(self, requests: list[_Request], bow_correction: bool = False, temperature: float = 1.0) -> np.ndarray:
        bow = self._bow_ids if bow_correction else None
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = self.tokenizer.eos_token_id or 0
        order = sorted(range(len(requests)), key=lambda i: -len(requests[i].ids))
        out = np.zeros(len(requests), dtype=np.float64)
        for start in range(0, len(order), self.batch_size):
            batch = [requests[i] for i in order[start : start + self.batch_size]]
            width = len(batch[0].ids)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, request in enumerate(batch):
                ids[row, : len(request.ids)] = torch.tensor(request.ids)
                mask[row, : len(request.ids)] = 1
            logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
            logprobs = torch.log_softmax(logits.float() / temperature, dim=-1)
            bow_mass = None if bow is None else torch.logsumexp(logprobs[..., bow], dim=-1)
            for row, request in enumerate(batch):
                out[order[start + row]] = _sum_request(logprobs[row], bow_mass, row, request, bow)
        return out


def _sum_request(logprobs: torch.Tensor, bow_mass, row: int, request: _Request, bow) -> float:
    n = len(request.ids)
    targets = torch.tensor(request.ids[request.first_scored :], device=logprobs.device)
    positions = torch.arange(request.first_scored - 1, n - 1, device=logprobs.device)
    total = logprobs[positions, targets].sum().item()
    if bow is None or n <= request.first_scored:
        return total
    # Word correction: + log P(some word starts next) where a scored token ends a word,
    # - the same quantity at the position of a scored token that starts a word (except the first).
    is_start = bow.is_start
    for t in range(request.first_scored, n):
        if t == n - 1 or is_start[request.ids[t + 1]]:
            total += bow_mass[row, t].item()
        if t > request.first_scored and is_start[request.ids[t]]:
            total -= bow_mass[row, t - 1].item()
    return total


class _WordStarts(list):
    """Vocabulary ids whose token begins a word, with a fast membership table ``is_start``."""

    def __init__(self, ids: list[int], vocab_size: int):
        super().__init__(ids)
        table = np.zeros(vocab_size, dtype=bool)
        table[ids] = True
        self.is_start = table


def _word_start_ids(tokenizer) -> _WordStarts | None:
    """Ids of word-initial tokens, found from the marker the tokenizer puts on a space (``Ġ``, ``▁``).

    None for tokenizers that mark no word starts; the word correction is then a no-op, as in minicons.
    """
    try:
        marker = tokenizer.convert_ids_to_tokens(tokenizer(" ", add_special_tokens=False)["input_ids"][0])[0]
    except (IndexError, TypeError):
        return None
    if marker in (tokenizer.bos_token, tokenizer.eos_token):
        return None
    vocab = tokenizer.get_vocab()
    ids = {i for token, i in vocab.items() if token.startswith(marker)}
    ids |= {i for i, added in tokenizer.added_tokens_decoder.items() if added.lstrip}
    return _WordStarts(sorted(ids), max(len(tokenizer), max(vocab.values()) + 1))


def task_pairs(task: str, limit: int | None = None) -> dict[str, tuple[list[str] | None, list[str], list[str]]]:
    """(prefixes, correct, incorrect) per subtask of one of our task families, from the configured data."""
    from e2lm_bench.taskdata import sources as data

    if limit is not None and limit < 1:
        raise UserError(f"--limit {limit}: scores no pairs; give a positive number")

    if task in ("dialogue_minpairs_words", "dialogue_minpairs_tokens"):
        rows = data.dialogue_minpairs_rows(task.rsplit("_", 1)[1])[:limit]
        return {task: ([r["prompt"] for r in rows], [r["chosen"] for r in rows], [r["rejected"] for r in rows])}
    if task == "lexical_decision":
        rows = data.lexical_decision_rows()[:limit]
        return {task: (None, [r["lexeme"] for r in rows], [r["wug"] for r in rows])}
    if task == "zorro":
        subtasks = {}
        for paradigm in data.ZORRO_PARADIGMS:
            rows = data.zorro_rows(paradigm)[:limit]
            subtasks[data.zorro_task_name(paradigm)] = (
                None, [r["sentence_good"] for r in rows], [r["sentence_bad"] for r in rows]
            )
        return subtasks
    raise ValueError(
        f"unknown task {task!r}: expected dialogue_minpairs_words, dialogue_minpairs_tokens, lexical_decision or zorro"
    )


def pair_sources(task: str) -> dict[str, str]:
    """Where :func:`task_pairs` reads each subtask: the E2LM_DATA_DIR folder when it is set, else the public source."""
    from e2lm_bench.taskdata import sources as data

    if task == "zorro":
        public = {data.zorro_task_name(p): data.ZORRO_URL.format(paradigm=p) for p in data.ZORRO_PARADIGMS}
    elif task == "lexical_decision":
        public = {task: f"Hub dataset {data.LEXICAL_DECISION_HUB_ID}"}
    else:
        public = {task: f"Hub dataset {data.DIALOGUE_HUB_IDS[task.rsplit('_', 1)[1]]}"}
    root = data.local_data_dir()
    return {name: f"data folder {root}" if root else source for name, source in public.items()}


def compare_conventions(
    scorer: LMScorer, subtasks: dict[str, tuple[list[str] | None, list[str], list[str]]], lowercase: bool = False,
    conventions: Sequence[str] = CONVENTIONS,
) -> dict[str, dict[str, float]]:
    """Accuracy and mean margin of one task's ``subtasks`` (from :func:`task_pairs`) under each convention;
    several subtasks are macro-averaged.

    ``lowercase`` lower-cases every sentence first, as the seed's Zorro script did.
    """
    table = {}
    for convention in conventions:
        per_subtask = []
        for prefixes, good, bad in subtasks.values():
            if lowercase:
                good, bad = [s.lower() for s in good], [s.lower() for s in bad]
            per_subtask.append(scorer.score_pairs(good, bad, prefixes, convention=convention))
        table[convention] = {
            "acc": float(np.mean([s.accuracy for s in per_subtask])),
            "margin": float(np.mean([s.margin.mean() for s in per_subtask])),
        }
    return table
