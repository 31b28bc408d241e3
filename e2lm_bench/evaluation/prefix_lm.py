"""``hf-prefix``: lm-eval's HFLM that runs each distinct context once and scores its continuations from the KV cache.

lm-eval's ``hf`` model runs the whole context again for every continuation, so a 5-shot multiple-choice
item pays for its prompt once per choice. Here a batch of distinct contexts is run once, its key/value
cache kept, and the continuations are run in batches against the cache rows of their contexts. Requests
reach ``_loglikelihood_tokens`` already tokenised by lm-eval (its context/continuation split and its BOS
rule for empty contexts); contexts are grouped as lm-eval's left truncation at ``max_length`` leaves
them, so a cut context is shared only by continuations that see the same tokens.

``e2lm-bench eval --model hf-prefix ...`` registers it. lm-eval 0.4.13 discovers no models from other packages, so
with lm-eval itself import this module first: ``lm_eval.simple_evaluate(model="hf-prefix", ...)`` after the import,
or on the command line ``python -c "import e2lm_bench.evaluation.prefix_lm, lm_eval.__main__ as m; m.cli_evaluate()" run
--model hf-prefix --include_path ...``.
"""

from __future__ import annotations

import inspect
import logging
from functools import cached_property

import torch
import torch.nn.functional as F
from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM
from tqdm import tqdm
from transformers.cache_utils import DynamicCache, DynamicLayer

logger = logging.getLogger(__name__)


class PrefixSharingMixin:
    """Put before an HFLM subclass: ``class PrefixSeriesLM(PrefixSharingMixin, SeriesLM)``."""

    # Rule: a context is cached when at least two requests share it and it is at least this many tokens long;
    # anything else costs less to run whole, and goes through HFLM unchanged.
    min_shared_context = 4

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs: int | None = None):
        if self._cache_argument is None:
            return super()._loglikelihood_tokens(requests, disable_tqdm=disable_tqdm, override_bs=override_bs)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, (_, context, continuation) in enumerate(requests):
            window = (context + continuation)[-(self.max_length + 1) :]
            groups.setdefault(tuple(window[: max(len(window) - len(continuation), 0)]), []).append(i)
        shared = {ctx: rows for ctx, rows in groups.items() if len(rows) > 1 and len(ctx) >= self.min_shared_context}
        truncated = sum(len(requests[i][1]) + len(requests[i][2]) > self.max_length + 1 for rows in shared.values() for i in rows)
        if truncated:
            logger.warning("%d requests exceed max_length %d: their contexts are cut from the left, as lm-eval does",
                           truncated, self.max_length)
        results: list[tuple[float, bool] | None] = [None] * len(requests)
        plain = sorted(i for ctx, rows in groups.items() if ctx not in shared for i in rows)
        if plain:
            answers = super()._loglikelihood_tokens([requests[i] for i in plain], disable_tqdm=disable_tqdm,
                                                    override_bs=override_bs)
            for i, answer in zip(plain, answers, strict=True):
                results[i] = answer
        if shared:
            self._score_shared(requests, shared, results, disable_tqdm, override_bs)
        return results

    @cached_property
    def _cache_argument(self) -> str | None:
        """The forward argument that takes a DynamicCache ("cache" in transformers 5, once "past_key_values"), or
        None when the model cannot continue from one (seq2seq, wrapped forwards, sliding-window or recurrent layers,
        whose masks or states would not survive the padding between a context and its continuation)."""
        if self.backend != "causal":
            return None
        parameters = inspect.signature(self.model.forward).parameters
        name = next((n for n in ("cache", "past_key_values") if n in parameters), None)
        if name is None or not {"position_ids", "logits_to_keep"} <= parameters.keys():
            return None
        probe = torch.full((1, 2), self.prefix_token_id, dtype=torch.long, device=self.device)
        try:
            with torch.no_grad(), self._forward_context():
                out = self.model(input_ids=probe, use_cache=True, **{name: DynamicCache(config=self.model.config)})
        except (TypeError, ValueError, NotImplementedError):
            return None
        cache = getattr(out, name, None)
        usable = isinstance(cache, DynamicCache) and all(type(layer) is DynamicLayer for layer in cache.layers)
        return name if usable and cache.get_seq_length() == 2 else None

    def _forward_context(self):
        return torch.autocast(device_type=self.device.type, dtype=self.mixed_precision_dtype,
                              enabled=self.mixed_precision_dtype is not None)

    def _shared_batch_size(self, requests, override_bs: int | None) -> int:
        """The user's batch size; for "auto", lm-eval's OOM probe on an accelerator, its cap on CPU (no OOM to find)."""
        if self.batch_size != "auto":
            return int(self.batch_size)
        if override_bs:
            return override_bs
        if self.device.type == "cpu":
            return self.max_batch_size
        return self._detect_batch_size(requests, 0)

    @torch.no_grad()
    def _score_shared(self, requests, shared: dict, results: list, disable_tqdm: bool, override_bs: int | None):
        # Longest contexts first, as HFLM orders its batches: similar widths pad less, and OOM shows up at once.
        contexts = sorted(shared, key=len, reverse=True)
        longest = max((requests[i] for rows in shared.values() for i in rows), key=lambda r: len(r[1]) + len(r[2]))
        batch_size = self._shared_batch_size([longest], override_bs)
        pbar = tqdm(total=sum(map(len, shared.values())), disable=disable_tqdm or self.rank != 0,
                    desc="Running loglikelihood requests (shared contexts)")
        for start in range(0, len(contexts), batch_size):
            chunk = contexts[start : start + batch_size]
            encoded = self._encode_contexts(chunk)
            rows = [(i, c) for c, ctx in enumerate(chunk) for i in shared[ctx]]
            rows.sort(key=lambda row: -len(requests[row[0]][2]))
            for b in range(0, len(rows), batch_size):
                batch = rows[b : b + batch_size]
                for (i, _), answer in zip(batch, self._score_continuations(requests, batch, *encoded), strict=True):
                    results[i] = answer
                    if requests[i][0] is not None:
                        self.cache_hook.add_partial("loglikelihood", requests[i][0], answer)
                    pbar.update(1)
        pbar.close()

    def _encode_contexts(self, contexts: list[tuple[int, ...]]):
        """Run right-padded contexts once: per-layer keys/values, their padding mask, lengths, last-token log-probs."""
        lengths = torch.tensor([len(c) for c in contexts], device=self.device)
        width = int(lengths.max())
        ids = torch.zeros((len(contexts), width), dtype=torch.long, device=self.device)
        for row, context in enumerate(contexts):
            ids[row, : len(context)] = torch.tensor(context, dtype=torch.long)
        positions = torch.arange(width, device=self.device).expand(len(contexts), -1)
        mask = (positions < lengths[:, None]).long()
        with self._forward_context():
            out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                             logits_to_keep=(lengths - 1)[:, None],
                             **{self._cache_argument: DynamicCache(config=self.model.config)})
        cache = getattr(out, self._cache_argument)
        layers = [(layer.keys, layer.values) for layer in cache.layers]
        last = F.log_softmax(out.logits[:, -1], dim=-1, dtype=self.softmax_dtype)
        return layers, mask, lengths, last

    def _score_continuations(self, requests, batch, layers, mask, lengths, last):
        """(log-likelihood, is_greedy) of each continuation: its first token from the context's last logits, the
        others from one forward of the continuations (without their last token) on copies of the cache rows.
        Padding gets position 0: a short continuation after a long context must not index past the model's positions."""
        owners = torch.tensor([c for _, c in batch], device=self.device)
        inputs = [requests[i][2][:-1] for i, _ in batch]
        width = max(map(len, inputs))
        if width:
            ids = torch.zeros((len(batch), width), dtype=torch.long, device=self.device)
            for row, tokens in enumerate(inputs):
                ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
            steps = torch.arange(width, device=self.device)
            filled = (steps < torch.tensor([len(t) for t in inputs], device=self.device)[:, None]).long()
            cache = DynamicCache([(k.index_select(0, owners), v.index_select(0, owners)) for k, v in layers])
            with self._forward_context():
                logits = self.model(input_ids=ids, attention_mask=torch.cat([mask[owners], filled], dim=1),
                                    position_ids=(lengths[owners, None] + steps) * filled, use_cache=True,
                                    **{self._cache_argument: cache}).logits
            logprobs = F.log_softmax(logits, dim=-1, dtype=self.softmax_dtype)
        for row, ((i, c), tokens) in enumerate(zip(batch, inputs, strict=True)):
            scored = last[c, None] if not tokens else torch.cat([last[c, None], logprobs[row, : len(tokens)]])
            target = torch.tensor(requests[i][2], dtype=torch.long, device=self.device)
            picked = scored.gather(1, target[:, None])
            yield float(picked.sum()), bool((scored.argmax(dim=-1) == target).all())


@register_model("hf-prefix")
class PrefixHFLM(PrefixSharingMixin, HFLM):
    """lm-eval's ``hf`` model with contexts shared across continuations."""
