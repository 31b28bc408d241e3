"""``hf-prefix``: lm-eval's HFLM that runs each distinct context once and scores its continuations from the KV cache.

lm-eval's ``hf`` model runs the whole context again for every continuation, so a 5-shot multiple-choice
item pays for its prompt once per choice, and every item for the few-shot preamble all items share. Here
the work runs in three levels: a token prefix shared by a chunk of distinct contexts runs once (one row,
its cache held for the next chunks, so a preamble every item shares runs once per call), each context's
rest runs against it, its key/value cache kept, and the continuations run in batches against the cache
rows of their contexts. Which chunks and prefixes run is decided by ``prefix_plan.shared_chunks`` from the
tokens alone. A chunk holds fewer contexts than the batch size, so that peak memory stays within hf's at
that size. Requests reach ``_loglikelihood_tokens`` already tokenised by lm-eval (its context/continuation
split and its BOS rule for empty contexts); contexts are grouped as lm-eval's left truncation at
``max_length`` leaves them, so a cut context is shared only by continuations that see the same tokens.

``e2lm-bench eval --model hf-prefix ...`` registers it. lm-eval 0.4.13 discovers no models from other packages, so
with lm-eval itself import this module first: ``lm_eval.simple_evaluate(model="hf-prefix", ...)`` after the import,
or on the command line ``python -c "import e2lm_bench.evaluation.prefix_lm, lm_eval.__main__ as m; m.cli_evaluate()" run
--model hf-prefix --include_path ...``. The package also declares it in the ``lm_eval.models`` entry-point group
(pyproject.toml), which lm-eval's model plugins read from EleutherAI/lm-evaluation-harness PR #4013 on.
"""

from __future__ import annotations

import inspect
import logging
import os
from functools import cached_property
from itertools import zip_longest

import torch
import torch.nn.functional as F
from accelerate import find_executable_batch_size
from accelerate.utils import get_torch_accelerator_backend
from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM
from lm_eval.models.utils_hf import clear_torch_cache
from tqdm import tqdm
from transformers.cache_utils import Cache, DynamicCache, DynamicLayer

from e2lm_bench.evaluation.pipeline_rule import PipelineRuleMixin
from e2lm_bench.evaluation.prefix_plan import HELD_PREFIXES, group_contexts, shared_chunks, width_batches
from e2lm_bench.launch import current_launch

logger = logging.getLogger(__name__)


def in_document_order(parts: list):
    """Per-process dicts (of dicts) of lists merged into one, each list interleaved: the first item of each process's
    list in process order, then the second, ..., as lm-eval's split (document i to process i mod W) took them apart."""
    if isinstance(parts[0], dict):
        return {key: in_document_order([part[key] for part in parts if key in part]) for key in parts[0]}
    gap = object()
    return [item for row in zip_longest(*parts, fillvalue=gap) for item in row if item is not gap]


def rows_then(cached: torch.Tensor, owners: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """``cat([cached.index_select(0, owners), new], dim=-2)`` in one allocation: the two copies of the plain form cost
    more than the forward of a short continuation batch on CPU."""
    out = new.new_empty((*new.shape[:2], cached.shape[-2] + new.shape[-2], new.shape[-1]))
    torch.index_select(cached, 0, owners, out=out[:, :, : cached.shape[-2]])
    out[:, :, cached.shape[-2] :] = new
    return out


class ContextRows(DynamicLayer):
    """One layer of a batch of contexts' cache (or of one shared prefix's, first ``start`` tokens), as read by a batch
    of rows continuing them, row ``b`` from cached row ``owners[b]``. Each row's copy of its owner's keys/values is
    made when the layer runs and dropped after it, so one layer's copies exist at a time rather than every layer's
    for the whole forward."""

    def __init__(self, layer: DynamicLayer, owners: torch.Tensor, start: int | None = None):
        super().__init__()
        self.keys, self.values = layer.keys[:, :, :start], layer.values[:, :, :start]
        self.owners, self.device, self.is_initialized = owners, layer.device, True

    def update(self, key_states, value_states, *args, **kwargs):
        return rows_then(self.keys, self.owners, key_states), rows_then(self.values, self.owners, value_states)


class ExtendedRows(ContextRows):
    """As ContextRows, but the rows are kept: after the forward, the layer holds each row's whole cache (its owner's
    then its own), as a DynamicLayer would have, had the rows run from their first token."""

    def update(self, key_states, value_states, *args, **kwargs):
        self.keys, self.values = super().update(key_states, value_states)
        return self.keys, self.values


class PrefixSharingMixin:
    """Put before an HFLM subclass: ``class PrefixSeriesLM(PrefixSharingMixin, SeriesLM)``."""

    # Rule: a context is cached when at least two requests share it and it is at least this many tokens long;
    # anything else costs less to run whole, and goes through HFLM unchanged.
    min_shared_context = 4
    # Rule: a prefix of at least this many tokens shared by a chunk of contexts runs once for the chunk (a preamble
    # every chunk shares: once per call), then each context's rest against it (prefix_plan.shared_chunks, where it
    # is also what a forward must save to be run apart); None runs each context whole.
    min_shared_prefix: int | None = 16

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs: int | None = None):
        if self._cache_argument is None:
            return super()._loglikelihood_tokens(requests, disable_tqdm=disable_tqdm, override_bs=override_bs)
        shared, plain = group_contexts(requests, self.max_length, self.min_shared_context)
        truncated = sum(len(requests[i][1]) + len(requests[i][2]) > self.max_length + 1 for rows in shared.values() for i in rows)
        if truncated:
            logger.warning("%d requests exceed max_length %d: their contexts are cut from the left, as lm-eval does",
                           truncated, self.max_length)
        results: list[tuple[float, bool] | None] = [None] * len(requests)
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
        None, noted once, when the model cannot continue from one: HFLM's own path then scores every request."""
        try:
            name, reason = self._probe_cache()
        except Exception as error:  # whatever breaks the probe would break the shared path; HFLM's path may not
            name, reason = None, f"made the cache probe raise {type(error).__name__}: {error}"
        if name is None:
            logger.warning("hf-prefix: %s %s; scoring every request as hf does", type(self.model).__name__, reason)
        return name

    def _probe_cache(self) -> tuple[str | None, str]:
        """(argument, "") or (None, why): seq2seq, a model over several devices (its cache rows would be spread too),
        wrapped forwards, sliding-window or recurrent layers (their masks or states would not survive the padding
        between a context and its continuation)."""
        if self.backend != "causal":
            return None, "is not a causal LM"
        placed = {str(device) for device in (getattr(self.model, "hf_device_map", None) or {}).values()}
        placed = placed if len(placed) > 1 else {str(parameter.device) for parameter in self.model.parameters()}
        if len(placed) > 1:
            return None, f"is spread over several devices ({', '.join(sorted(placed))})"
        parameters = inspect.signature(self.model.forward).parameters
        name = next((n for n in ("cache", "past_key_values") if n in parameters), None)
        if name is None or not {"position_ids", "logits_to_keep"} <= parameters.keys():
            return None, "takes no cache, position_ids or logits_to_keep"
        out = self._probe(name)
        if out.logits.shape[:-1] != (1, 1):  # transformers before 5.21 indexes with the tensor: (B, B, 1, V) logits
            return None, "does not read logits_to_keep as positions (transformers < 5.21)"
        cache = getattr(out, name, None)
        if isinstance(cache, DynamicCache) and all(type(layer) is DynamicLayer for layer in cache.layers) \
                and cache.get_seq_length() == 2:
            return name, ""
        return None, "keeps a cache other than full-attention DynamicLayers"

    def _probe(self, name: str):
        """Two tokens through the forward as the shared path calls it: a fresh cache, the last position's logits."""
        ids = torch.full((1, 2), self.prefix_token_id, dtype=torch.long, device=self.device)
        last = torch.ones((1, 1), dtype=torch.long, device=self.device)
        with torch.no_grad(), self._forward_context():
            return self.model(input_ids=ids, use_cache=True, logits_to_keep=last,
                              **{name: DynamicCache(config=self.model.config)})

    @cached_property
    def _context_share(self) -> float:
        """The share of a batch size that may be contexts, so that peak memory stays within hf's at that batch size.
        The contexts' cache (all layers) sits beside their forward's activations, where hf holds its batch's logits and
        log-probs instead. With r = hf's bytes per token for those over the cache's, contexts of r/(1+r) of hf's tokens
        hold a cache of at most 1/(1+r) of hf's logits, and at most r/(1+r) of its activations: within hf's peak."""
        out = self._probe(self._cache_argument)
        cache = getattr(out, self._cache_argument)
        cached = sum(layer.keys.nbytes + layer.values.nbytes for layer in cache.layers) / cache.get_seq_length()
        held = out.logits.shape[-1] * (out.logits.dtype.itemsize + (self.softmax_dtype or out.logits.dtype).itemsize)
        return held / (held + cached)

    def _contexts_per_batch(self, batch_size: int) -> int:
        return max(1, int(batch_size * self._context_share))

    def _forward_context(self):
        return torch.autocast(device_type=self.device.type, dtype=self.mixed_precision_dtype,
                              enabled=self.mixed_precision_dtype is not None)

    def _shared_batch_size(self, context_length: int, input_length: int, override_bs: int | None) -> int:
        if self.batch_size != "auto":
            return int(self.batch_size)
        return override_bs or self._detect_shared_batch_size(context_length, input_length)

    def _detect_shared_batch_size(self, context_length: int, input_length: int) -> int:
        """"auto" for the shared path: the largest batch size, shrunk from max_batch_size on OOM as lm-eval's probe does,
        at which its own two forwards fit (its contexts kept as cache, then continuations against them); on CPU, the cap
        (no OOM to find)."""
        if self.device.type == "cpu":
            return self.max_batch_size
        try:
            return find_executable_batch_size(self._try_shared_batch, starting_batch_size=self.max_batch_size)(
                context_length, input_length)
        except RuntimeError as error:
            if "No executable batch size found" not in str(error):
                raise
            return 1
        finally:
            clear_torch_cache()

    @torch.no_grad()
    def _try_shared_batch(self, batch_size: int, context_length: int, input_length: int) -> int:
        """What the shared path holds at most at this batch size: the held shared prefixes' caches (a row each), its
        share of contexts run whole (more activations than their rests after a prefix), then a batch of continuations
        against them."""
        contexts = [(self.prefix_token_id,) * context_length] * self._contexts_per_batch(batch_size)
        held = [] if self.min_shared_prefix is None else [self._encode_contexts(contexts[:1] * HELD_PREFIXES)]
        request = (None, contexts[0], [self.prefix_token_id] * (input_length + 1))
        batch = [(0, row % len(contexts)) for row in range(batch_size)]
        list(self._score_continuations([request], batch, *self._encode_contexts(contexts)))
        del held
        return batch_size

    @torch.no_grad()
    def _score_shared(self, requests, shared: dict, results: list, disable_tqdm: bool, override_bs: int | None):
        widest = max(len(requests[i][2]) for rows in shared.values() for i in rows) - 1
        batch_size = self._shared_batch_size(max(map(len, shared)), widest, override_bs)
        pbar = tqdm(total=sum(map(len, shared.values())), disable=disable_tqdm or self.rank != 0,
                    desc="Running loglikelihood requests (shared contexts)")
        held: dict[tuple[int, ...], list] = {}  # shared prefix -> its cache layers, one row
        for chunk in shared_chunks(shared, self._contexts_per_batch(batch_size), self.min_shared_prefix):
            # The chunk's prefix cache: a held one (its first chunk.reused tokens), extended by the rest of the prefix.
            layers = held[chunk.base] if chunk.reused else None
            if len(chunk.prefix) > chunk.reused:
                layers = self._encode_contexts([chunk.prefix], chunk.reused, layers)[0]
                held = {prefix: layers if prefix == chunk.prefix else held[prefix] for prefix in chunk.held}
            encoded = self._encode_contexts(chunk.contexts, len(chunk.prefix), layers)
            rows = sorted(((i, c) for c, ctx in enumerate(chunk.contexts) for i in shared[ctx]),
                          key=lambda row: -len(requests[row[0]][2]))
            for part in width_batches([len(requests[i][2]) - 1 for i, _ in rows], batch_size):
                batch = rows[part]
                for (i, _), answer in zip(batch, self._score_continuations(requests, batch, *encoded), strict=True):
                    results[i] = answer
                    if requests[i][0] is not None:
                        self.cache_hook.add_partial("loglikelihood", requests[i][0], answer)
                    pbar.update(1)
            del encoded  # before the next chunk's cache is built
        pbar.close()

    @property
    def _logprob_dtype(self) -> torch.dtype:
        """float32 unless softmax_dtype says otherwise: only the needed rows are normalised, so it costs little, and
        bf16/fp16 log-probs would put hf-prefix as far from float32 as hf."""
        return self.softmax_dtype or torch.float32

    def _encode_contexts(self, contexts: list[tuple[int, ...]], start: int = 0, prefix: list | None = None):
        """Run right-padded contexts once: their cache layers, padding mask, lengths, last-token log-probs. With
        ``prefix``, the cache layers (one row) of the contexts' first ``start`` tokens or more, only the rest of each
        context runs, against the prefix's keys and values shared by every row; the layers returned hold the whole
        contexts, as if they had run from their first token."""
        lengths = torch.tensor([len(c) for c in contexts], device=self.device)
        rest = lengths - start
        width = int(rest.max())
        ids = torch.zeros((len(contexts), width), dtype=torch.long, device=self.device)
        for row, context in enumerate(contexts):
            ids[row, : len(context) - start] = torch.tensor(context[start:], dtype=torch.long)
        steps = torch.arange(width, device=self.device)
        mask = torch.cat([torch.ones((len(contexts), start), dtype=torch.long, device=self.device),
                          (steps < rest[:, None]).long()], dim=1)
        if prefix is None:
            cache = DynamicCache(config=self.model.config)
        else:
            owners = torch.zeros(len(contexts), dtype=torch.long, device=self.device)
            cache = Cache(layers=[ExtendedRows(layer, owners, start) for layer in prefix])
        with self._forward_context():
            out = self.model(input_ids=ids, attention_mask=mask, position_ids=(start + steps).expand(len(contexts), -1),
                             use_cache=True, logits_to_keep=(rest - 1)[:, None], **{self._cache_argument: cache})
        last = F.log_softmax(out.logits[:, -1], dim=-1, dtype=self._logprob_dtype)
        return getattr(out, self._cache_argument).layers, mask, lengths, last

    def _score_continuations(self, requests, batch, layers, mask, lengths, last):
        """(log-likelihood, is_greedy) of each continuation: its first token from the context's last logits, the
        others from one forward of the continuations (without their last token) against their contexts' cache rows.
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
            cache = Cache(layers=[ContextRows(layer, owners) for layer in layers])
            with self._forward_context():
                logits = self.model(input_ids=ids, attention_mask=torch.cat([mask[owners], filled], dim=1),
                                    position_ids=(lengths[owners, None] + steps) * filled, use_cache=True,
                                    **{self._cache_argument: cache}).logits
            logprobs = F.log_softmax(logits[filled.bool()], dim=-1, dtype=self._logprob_dtype).split(list(map(len, inputs)))
            del logits, cache  # this generator lives on while its answers are taken
        for row, ((i, c), tokens) in enumerate(zip(batch, inputs, strict=True)):
            scored = torch.cat([last[c, None], logprobs[row]]) if tokens else last[c, None]
            target = torch.tensor(requests[i][2], dtype=torch.long, device=self.device)
            picked = scored.gather(1, target[:, None])
            yield float(picked.sum()), bool((scored.argmax(dim=-1) == target).all())


class DataParallelMixin:
    """Data-parallel under a launch (``torchrun``, ``accelerate launch``, ``srun``) as lm-eval's ``hf`` is on a machine
    with several GPUs: lm-eval gives each process its share of the documents and gathers the results to the first.
    Also where lm-eval 0.4.13's ``hf`` leaves every process to evaluate everything: on CPUs, and with one GPU per
    process."""

    def __init__(self, *args, **kwargs):
        join_cpu_processes()
        super().__init__(*args, **kwargs)
        accelerator = getattr(self, "accelerator", None)  # HFLM keeps one when accelerate runs several processes
        if accelerator is not None and self.world_size == 1:
            self._rank, self._world_size = accelerator.process_index, accelerator.num_processes

    def _detect_batch_size(self, requests=None, pos: int = 0) -> int:
        """Each process's own "auto" batch size. HFLM detects one per call of its ``_loglikelihood_tokens`` and, with
        several processes, gathers them all (taking the smallest), so every process must call it as often; which
        requests take that path here (``PrefixSharingMixin``, ``PipelineRuleMixin``) depends on each process's
        documents, and a gather one process never joins waits forever. No other collective depends on a batch size."""
        world_size, self._world_size = self._world_size, 1
        try:
            return super()._detect_batch_size(requests, pos)
        finally:
            self._world_size = world_size

    def gather_object(self, obj, dst: int = 0):
        """HFLM's gather to ``dst``, as one object whose lists are in document order. lm-eval hands process r the
        documents r, r + W, r + 2W, ... and chains the gathered lists (each document's metric values, its logged
        samples) one process after another, so float sums over them (``mean``, its stderr) would add in an order one
        process does not, and differ from its results in the last bits."""
        gathered = super().gather_object(obj, dst)
        return gathered if gathered is None or len(gathered) == 1 else [in_document_order(gathered)]


def join_cpu_processes() -> None:
    """accelerate joins launched CPU processes (gloo) only when asked for the CPU, as ``accelerate launch --cpu``
    asks; on GPUs it joins them anyway. HFLM's ``Accelerator`` and the runner's process group read this."""
    if current_launch().launched and get_torch_accelerator_backend()[0] is None:
        os.environ.setdefault("ACCELERATE_USE_CPU", "true")


@register_model("hf-prefix")
class PrefixHFLM(PipelineRuleMixin, PrefixSharingMixin, DataParallelMixin, HFLM):
    """lm-eval's ``hf`` model with contexts shared across continuations; data-parallel under a launch."""
