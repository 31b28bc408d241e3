"""The BabyLM 2025 pipeline's tokenisation, inside lm-eval's models, for the tasks that ask for it.

lm-eval scores a request ``(context, continuation)`` by encoding the context alone and taking the rest
of the encoded whole as the continuation, and conditions an empty context on a BOS (or EOS) token. The
BabyLM 2025 pipeline (babylm/evaluation-pipeline-2025) does otherwise, and its official numbers depend
on it:

offsets (``babylm-2025``)
    The candidate ``S = context + continuation`` is encoded once, with the tokenizer's default special
    tokens and character offsets; a token is scored when its span ends after ``len(S) - len(C)`` (C, the
    continuation: a token straddling the boundary counts), and token 0 never is, so a tokenizer that adds
    no BOS leaves a sentence's first word-piece unscored.
reading (``babylm-2025-reading``)
    The surprisal of a bare ``word`` after ``item``: the first piece of ``tokenizer(word)`` after the
    encoded ``item``; each later piece, decoded, after the re-encoded string ``item + pieces so far``, at
    the first id of its own re-encoding.
BOS word (``babylm-2025-bos-word``)
    Word age of acquisition: ``bos_token + word`` under the offset rule; the word's contexts go unused.

A task marks its documents with ``task_hooks.SCORING_RULE``; every other request goes through lm-eval's
own encoding unchanged. Each rule yields plain ``(context tokens, continuation tokens)`` pieces, so the
``hf`` and ``hf-prefix`` models score them with the same code they score anything else with.
"""

from __future__ import annotations

import math

from e2lm_bench.errors import UserError
from e2lm_bench.task_hooks import BABYLM_BOS_WORD, BABYLM_OFFSETS, BABYLM_READING, SCORING_RULE

RULES = (BABYLM_OFFSETS, BABYLM_READING, BABYLM_BOS_WORD)

Piece = tuple[tuple[str, str], list[int], list[int]]  # a request as lm-eval's _loglikelihood_tokens takes it


def rule_of(request) -> str | None:
    doc = getattr(request, "doc", None)
    rule = doc.get(SCORING_RULE) if isinstance(doc, dict) else None
    if rule is not None and rule not in RULES:
        raise UserError(f"task {request.task_name}: unknown {SCORING_RULE} {rule!r}; expected one of {', '.join(RULES)}")
    return rule


def _offsets(tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    if not getattr(tokenizer, "is_fast", False):
        raise UserError(f"the BabyLM 2025 scoring rule needs character offsets, which {type(tokenizer).__name__} "
                        "(a slow tokenizer) does not give: load the model's fast tokenizer (use_fast=True)")
    encoded = tokenizer(text, return_offsets_mapping=True)
    return list(encoded["input_ids"]), [tuple(span) for span in encoded["offset_mapping"]]


def offset_pieces(tokenizer, text: str, completion: str) -> list[Piece]:
    """The scored tokens of ``completion`` at the end of ``text``, as runs of (context, continuation) tokens."""
    ids, spans = _offsets(tokenizer, text)
    start = len(text) - len(completion)
    scored = [t for t in range(1, len(ids)) if spans[t][1] > start]
    pieces, run = [], []
    for t in scored:  # contiguous in practice; a special token inside the span would split it
        if run and t != run[-1] + 1:
            pieces.append(((text, completion), ids[: run[0]], ids[run[0] : run[-1] + 1]))
            run = []
        run.append(t)
    if run:
        pieces.append(((text, completion), ids[: run[0]], ids[run[0] : run[-1] + 1]))
    return pieces


def reading_pieces(tokenizer, item: str, word: str) -> list[Piece]:
    """One single-token request per word piece, as the pipeline's reading surprisal re-tokenises them."""
    targets = tokenizer(word, add_special_tokens=False)["input_ids"]
    if not targets:
        raise UserError(f"reading: the word {word!r} encodes to no tokens")
    pieces = [((item, word), list(tokenizer(item)["input_ids"]), [targets[0]])]
    context = item + tokenizer.decode(targets[0])
    for token in targets[1:]:
        piece = tokenizer.decode(token)
        pieces.append(((context, piece), list(tokenizer(context)["input_ids"]),
                       [tokenizer(piece, add_special_tokens=False)["input_ids"][0]]))
        context += piece
    return pieces


def pieces_for(tokenizer, rule: str, context: str, continuation: str) -> list[Piece] | None:
    """The pieces one ruled request is scored from; None when the rule cannot apply (no BOS token)."""
    if rule == BABYLM_OFFSETS:
        return offset_pieces(tokenizer, context + continuation, continuation)
    if rule == BABYLM_READING:
        return reading_pieces(tokenizer, context, continuation)
    if tokenizer.bos_token is None:  # the pipeline's own call fails here and records NaN
        return None
    word = continuation.strip()
    return offset_pieces(tokenizer, tokenizer.bos_token + word, word)


class PipelineRuleMixin:
    """Put before an HFLM subclass: requests of ruled tasks are encoded by their rule, the rest by lm-eval."""

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        ruled = [(i, rule) for i, request in enumerate(requests) if (rule := rule_of(request)) is not None]
        if not ruled:
            return super().loglikelihood(requests, disable_tqdm=disable_tqdm)
        results: list = [None] * len(requests)
        taken = {i for i, _ in ruled}
        plain = [i for i in range(len(requests)) if i not in taken]
        for i, answer in zip(plain, super().loglikelihood([requests[i] for i in plain], disable_tqdm=disable_tqdm)
                             if plain else []):
            results[i] = answer
        memo = getattr(self, "_encoded", None)
        memo = {} if memo is None else memo
        owners, flat = [], []
        for i, rule in ruled:
            key = (rule, *requests[i].args)
            if key not in memo:
                memo[key] = pieces_for(self.tokenizer, rule, *requests[i].args)
            pieces = memo[key]
            if pieces is None:
                results[i] = (math.nan, False)
            elif not pieces:  # nothing left to score (a one-token sentence without BOS): the pipeline's sum is 0
                results[i] = (0.0, True)
            else:
                for piece in pieces:
                    owners.append(i)
                    flat.append(piece)
        answers = self._loglikelihood_tokens(flat, disable_tqdm=disable_tqdm) if flat else []
        totals: dict[int, list] = {}
        for i, (logprob, greedy) in zip(owners, answers):
            total = totals.setdefault(i, [0.0, True])
            total[0] += logprob
            total[1] = total[1] and greedy
        for i, (logprob, greedy) in totals.items():
            results[i] = (logprob, greedy)
        return results


FLOAT32 = ("float32", "fp32", "torch.float32")


def pipeline_settings(tasks: list[str], model: str | None, dtype: str | None) -> tuple[str | None, list[str]]:
    """The dtype to run BabyLM 2025 tasks with, and notes on what keeps a run from the official numbers.

    The pipeline loads every model in float32, so an unset (or ``auto``) dtype becomes float32 for these
    tasks; a dtype the user chose is kept, with a note, as is a model without the pipeline's rule."""
    from e2lm_bench.lm_eval_tasks.babylm_2025.catalog import NAMES

    if not NAMES.intersection(tasks):
        return dtype, []
    notes = []
    if model not in (None, "hf-prefix"):
        notes.append(f"--model {model} tokenises the BabyLM 2025 tasks its own way; the pipeline's numbers need "
                     "--model hf-prefix")
    if dtype in (None, "auto"):
        return "float32", [*notes, "BabyLM 2025 tasks: dtype float32, the pipeline's precision (set a dtype to "
                                   "choose another)"]
    if dtype not in FLOAT32:
        notes.append(f"the BabyLM 2025 pipeline scores in float32; this run uses dtype={dtype}")
    return dtype, notes
