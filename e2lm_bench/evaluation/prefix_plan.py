"""What ``hf-prefix`` runs, as plain functions of lm-eval's token requests: no model, no torch.

A request is lm-eval's ``(args, context tokens, continuation tokens)``. lm-eval cuts a request that does not fit
from the left, keeping the last ``max_length + 1`` tokens of context + continuation and running all but the
last; the functions here see requests as that cut leaves them.

``hf-prefix`` runs in three levels: a token prefix shared by a chunk of contexts, each context's remainder
against the prefix's cache, then each continuation (without its last token) against its context's cache.
``shared_chunks`` decides the chunks and their prefixes, and the model follows it step by step, so the token
counts below are what the model runs (``tests/test_prefix_lm.py`` counts the tokens reaching its forward).

The floor: a causal model must run each distinct token prefix of the requests' inputs at least once, so no
scorer runs fewer tokens than a trie over those inputs has nodes (``trie_floor``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

Tokens = tuple[int, ...]

# How many shared prefixes a call keeps cached (one row each): the latest, and the one before for a chunk that
# goes back to it. A prefix every chunk shares stays in them, so it runs once per call.
HELD_PREFIXES = 2


def window(context: Sequence[int], continuation: Sequence[int], max_length: int) -> list[int]:
    """The tokens of a request lm-eval keeps: the last ``max_length + 1`` of context + continuation."""
    return (list(context) + list(continuation))[-(max_length + 1) :]


def group_contexts(requests, max_length: int, min_shared_context: int) -> tuple[dict[Tokens, list[int]], list[int]]:
    """({context as truncation leaves it: indices of its requests}, indices of the other requests). A context is
    shared when at least two requests have it and it is at least ``min_shared_context`` tokens long."""
    groups: dict[Tokens, list[int]] = {}
    for i, (_, context, continuation) in enumerate(requests):
        kept = window(context, continuation, max_length)
        groups.setdefault(tuple(kept[: max(len(kept) - len(continuation), 0)]), []).append(i)
    shared = {ctx: rows for ctx, rows in groups.items() if len(rows) > 1 and len(ctx) >= min_shared_context}
    plain = sorted(i for ctx, rows in groups.items() if ctx not in shared for i in rows)
    return shared, plain


def common_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


@dataclass(frozen=True)
class Chunk:
    """One batch of shared contexts and how it runs.

    Each context runs from token ``len(prefix)`` on, against the cache of ``prefix`` (when not empty). That cache
    starts from the first ``reused`` tokens of the held prefix ``base`` (none when ``reused`` is 0), and
    ``prefix[reused:]``, when not empty, runs once for the chunk. ``held`` are the prefixes whose caches are kept
    after the chunk."""

    contexts: list[Tokens]
    prefix: Tokens = ()
    base: Tokens = ()
    reused: int = 0
    held: tuple[Tokens, ...] = ()


def shared_chunks(contexts, per_batch: int, min_shared_prefix: int | None) -> Iterator[Chunk]:
    """The shared contexts in the order and chunks they run in.

    With ``min_shared_prefix`` None, longest first (similar widths pad less), ``per_batch`` to a chunk, each context
    whole. Otherwise, a chunk's contexts share a prefix, run once: contexts are sorted by their tokens, so that those
    sharing a prefix are adjacent, and a chunk's prefix is its longest common one, less at least the last token of
    its shortest context (whose log-probabilities that context's own forward gives). One rule decides what runs
    apart: a forward is spent only where it saves at least ``min_shared_prefix`` tokens. So a prefix shorter than
    that is not shared; a chunk ends early (it holds at most ``per_batch``) where the next context would shrink the
    prefix by more than that many tokens over its contexts. A prefix starts from the held prefix it shares most with,
    when that is at least ``min_shared_prefix`` tokens, so that a preamble common to every chunk runs once."""
    if min_shared_prefix is None:
        ordered = sorted(contexts, key=len, reverse=True)
        for start in range(0, len(ordered), per_batch):
            yield Chunk(ordered[start : start + per_batch])
        return
    held: tuple[Tokens, ...] = ()
    for chunk in _prefix_runs(sorted(contexts), per_batch, min_shared_prefix):
        prefix = chunk[0][: _worth_sharing(_shared_length(chunk), min_shared_prefix)]
        base, reused = max(((q, common_length(q, prefix)) for q in held), key=lambda pair: pair[1], default=((), 0))
        if reused < min_shared_prefix:
            base, reused = (), 0
        if len(prefix) > reused:  # a new prefix runs: held from now on, in place of the oldest
            held = (*held, prefix)[-HELD_PREFIXES:]
        yield Chunk(chunk, prefix, base, reused, held)


def _shared_length(chunk: list[Tokens]) -> int:
    """The tokens every context of a sorted chunk shares (its first and last share least), less at least one."""
    return min(common_length(chunk[0], chunk[-1]), min(map(len, chunk)) - 1)


def _worth_sharing(length: int, min_shared_prefix: int) -> int:
    return length if length >= min_shared_prefix else 0


def _prefix_runs(ordered: list[Tokens], per_batch: int, min_shared_prefix: int) -> Iterator[list[Tokens]]:
    """Sorted contexts cut into chunks of at most ``per_batch``, a chunk ending early where the next context would
    shrink its shared prefix by more than ``min_shared_prefix`` tokens over its contexts beyond the first (the
    prefix runs once in place of the first's)."""
    chunk: list[Tokens] = []
    shared = 0
    for context in ordered:
        after = _worth_sharing(_shared_length([*chunk, context]), min_shared_prefix)
        if chunk and (len(chunk) == per_batch or (len(chunk) - 1) * (shared - after) > min_shared_prefix):
            yield chunk
            chunk, after = [], _worth_sharing(_shared_length([context]), min_shared_prefix)
        chunk.append(context)
        shared = after
    if chunk:
        yield chunk


def width_batches(widths: Sequence[int], batch_size: int) -> Iterator[slice]:
    """Batches of rows sorted widest first: at most ``batch_size`` rows, and a batch ends early where the next row is
    at most half as wide as its first, so that padding stays below half of a batch (every row runs at its width)."""
    start = 0
    for end in range(1, len(widths) + 1):
        if end == len(widths) or end - start == batch_size or 2 * widths[end] <= widths[start]:
            yield slice(start, end)
            start = end


def hf_tokens(requests, max_length: int, logits_cache: bool = True) -> int:
    """Tokens lm-eval's ``hf`` runs: each request's kept window less its last token; with its logits cache (the
    default), once per distinct context + continuation[:-1], the group its one-token continuations share."""
    if not logits_cache:
        return sum(len(window(c, x, max_length)) - 1 for _, c, x in requests)
    inputs = {tuple(c) + tuple(x[:-1]) for _, c, x in requests}
    return sum(min(len(tokens), max_length) for tokens in inputs)


def prefix_tokens(requests, max_length: int, min_shared_context: int, per_batch: int,
                  min_shared_prefix: int | None, logits_cache: bool = True) -> int:
    """Tokens ``hf-prefix`` runs: the requests it hands to ``hf`` as ``hf`` runs them; per chunk of shared contexts
    the part of its prefix not reused and each context's remainder; each continuation less its last token.
    ``min_shared_prefix`` None: each shared context whole (two levels)."""
    shared, plain = group_contexts(requests, max_length, min_shared_context)
    total = hf_tokens([requests[i] for i in plain], max_length, logits_cache)
    for chunk in shared_chunks(shared, per_batch, min_shared_prefix):
        total += len(chunk.prefix) - chunk.reused + sum(len(c) - len(chunk.prefix) for c in chunk.contexts)
    return total + sum(len(requests[i][2]) - 1 for rows in shared.values() for i in rows)


def trie_floor(requests, max_length: int) -> int:
    """The nodes of a trie over every request's input (its kept window less the last token): the fewest tokens a
    causal model can run to score them all. In sorted order, each input adds the tokens it does not share with the
    one before it."""
    inputs = sorted({tuple(window(c, x, max_length)[:-1]) for _, c, x in requests})
    return sum(len(b) - common_length(a, b) for a, b in zip([(), *inputs], inputs))


def token_requests(lm, requests) -> list:
    """The (args, context tokens, continuation tokens) an lm-eval model hands its ``_loglikelihood_tokens`` for
    ``requests``, without running the model: what the counts above take."""
    handed = []
    lm._loglikelihood_tokens = lambda batch, **_: handed.extend(batch) or [(0.0, False)] * len(batch)
    try:
        lm.loglikelihood(requests, disable_tqdm=True)
    finally:
        del lm._loglikelihood_tokens
    return handed
