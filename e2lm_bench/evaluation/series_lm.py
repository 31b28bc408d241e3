"""``SeriesLM``: lm-eval's HFLM that tokenises each request once for a whole checkpoint series.

The checkpoints of one run share a tokenizer, so the runner keeps the tokenised requests of the first
checkpoint and hands them to every later one; a checkpoint whose tokenizer differs (by fingerprint)
starts afresh. Kept apart from ``trajectory`` so that importing the runner's configuration (the CLI
does, for its defaults) does not import lm-eval's model code.
"""

from __future__ import annotations

import hashlib
import json

from lm_eval.models.huggingface import HFLM

from e2lm_bench.evaluation.pipeline_rule import PipelineRuleMixin
from e2lm_bench.evaluation.prefix_lm import DataParallelMixin, PrefixSharingMixin


def tokenizer_fingerprint(tokenizer) -> str:
    """Equal for tokenizers that encode every text the same way (vocabulary, merges, normaliser, specials)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    state = backend.to_str() if backend is not None else json.dumps(sorted(tokenizer.get_vocab().items()))
    specials = json.dumps([tokenizer.__class__.__name__, tokenizer.all_special_tokens, tokenizer.padding_side])
    return hashlib.sha256((state + specials).encode("utf-8")).hexdigest()


class _SharedEncodingHFLM(DataParallelMixin, HFLM):
    """HFLM with the request tokenisation shared across the checkpoints of a series; data-parallel when the processes
    of a launch evaluate one checkpoint together (``--split requests``)."""

    def __init__(self, *, encoded: dict, **kwargs):
        super().__init__(**kwargs)
        self._encoded = encoded

    def loglikelihood(self, requests, disable_tqdm: bool = True):
        # The same dispatch as lm-eval's TemplateLM.loglikelihood, memoised per request.
        new_requests = []
        for request in requests:
            context, continuation = request.args
            encoded = self._encoded.get(request.args)
            if encoded is None:
                if context == "":
                    cont = self.tok_encode(continuation, add_special_tokens=False)
                    prefix = self.prefix_token_id
                    encoded = ([prefix], cont) if prefix != cont[0] else (cont[:1], cont[1:])
                else:
                    encoded = self._encode_pair(context, continuation)
                self._encoded[request.args] = encoded
            new_requests.append(((context, continuation), *encoded))
        return self._loglikelihood_tokens(new_requests, disable_tqdm=True)


class SeriesLM(PipelineRuleMixin, _SharedEncodingHFLM):
    """The runner's ``hf`` scorer: a series' shared tokenisation; BabyLM 2025 tasks under the pipeline's rule."""


class PrefixSeriesLM(PrefixSharingMixin, SeriesLM):
    """The runner's default: a series' shared tokenisation, and each shared prefix and context run once (``hf-prefix``)."""
