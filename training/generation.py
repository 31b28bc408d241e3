"""Generation from a causal LM, one way for every caller: the judge reward, teacher answers and interaction.

:class:`Generator` continues prompts in left-padded batches with transformers' ``generate`` and returns the
new tokens only: texts in, texts out (``num_return_sequences`` grouped per prompt), or ids in, ids out.
:func:`vllm_engine` builds the vLLM engine of the commands that offer ``--backend vllm``, and
:func:`vllm_token_prompts` the token prompts it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm

from e2lm_bench.devices import resolve_device, torch_dtype
from e2lm_bench.errors import UserError


class VllmMissing(UserError):
    """``--backend vllm`` where vLLM is not installed."""


class Generator:
    """A causal LM and its tokenizer that continue prompts ``batch_size`` at a time.

    The tokenizer gets pad = EOS when it has no pad token; its padding side is left as it is (batches are
    padded on the left per call), so a tokenizer saved later is saved unchanged. Sampling settings go to
    ``generate`` as given (seed the RNG before a call for reproducible samples); ``pad_token_id`` is the
    tokenizer's unless given.
    """

    def __init__(self, model, tokenizer, batch_size: int = 16):
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | torch.device | None = None, dtype: str = "auto",
                        batch_size: int = 16) -> Generator:
        """A model folder or Hub id in ``dtype`` on ``device`` (the policy of ``e2lm_bench.devices``), in eval mode."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch_type = torch_dtype(dtype)
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_type).to(resolve_device(device)).eval()
        return cls(model, tokenizer, batch_size)

    @torch.no_grad()
    def texts(self, prompts: Sequence[str], add_special_tokens: bool = True, progress: str | None = None,
              **generate_kwargs) -> list[list[str]]:
        """Each prompt's ``num_return_sequences`` (default 1) continuations, decoded without special tokens.

        ``add_special_tokens=False`` for prompts that already hold them (a chat template's output).
        """
        groups = []
        for start in self._starts(len(prompts), progress):
            encoded = self.tokenizer(list(prompts[start:start + self.batch_size]), return_tensors="pt", padding=True,
                                     padding_side="left", add_special_tokens=add_special_tokens)
            new = self._generate(encoded["input_ids"], encoded["attention_mask"], generate_kwargs)
            decoded = self.tokenizer.batch_decode(new, skip_special_tokens=True)
            per_prompt = len(decoded) // len(encoded["input_ids"])
            groups += [decoded[i:i + per_prompt] for i in range(0, len(decoded), per_prompt)]
        return groups

    @torch.no_grad()
    def ids(self, prompts: Sequence[Sequence[int]], progress: str | None = None, **generate_kwargs) -> list[list[int]]:
        """The new token ids of one continuation per prompt of token ids (special tokens kept)."""
        pad = self.tokenizer.pad_token_id
        completions = []
        for start in self._starts(len(prompts), progress):
            batch = prompts[start:start + self.batch_size]
            width = max(len(p) for p in batch)
            input_ids = torch.tensor([[pad] * (width - len(p)) + list(p) for p in batch])
            mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch])
            completions += self._generate(input_ids, mask, generate_kwargs).tolist()
        return completions

    def _starts(self, count: int, progress: str | None):
        starts = range(0, count, self.batch_size)
        return tqdm(starts, desc=progress, leave=False) if progress else starts

    def _generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, generate_kwargs: dict) -> torch.Tensor:
        """The generated ids after the (left-padded) prompts."""
        device = self.model.device
        output = self.model.generate(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device),
                                     **{"pad_token_id": self.tokenizer.pad_token_id, **generate_kwargs})
        return output[:, input_ids.shape[1]:]


def vllm_engine(path: str | Path, seed: int, **options):
    """vLLM's ``LLM`` for the model at ``path``, seeded; ``options`` go to ``LLM`` as given."""
    try:
        from vllm import LLM
    except ImportError:
        raise VllmMissing("--backend vllm: vLLM is not installed (pip install vllm; it needs a GPU), "
                          "or use --backend transformers") from None
    return LLM(model=str(path), seed=seed, **options)


def vllm_token_prompts(tokenizer, texts: Sequence[str]) -> list[dict]:
    """vLLM token prompts (``{"prompt_token_ids": ...}``) for ``texts``, with one BOS where the tokenizer uses one.

    vLLM encodes a text prompt with the HF tokenizer's defaults, which add BOS (Llama's ``<s>``,
    ``<|begin_of_text|>``) even when the text already starts with one, as a chat template's
    ``{{ bos_token }}`` makes it: the model would then read two. These are the same default encodings
    (what the transformers backend runs) with such a doubled BOS made one.
    """
    bos = tokenizer.bos_token_id
    prompts = []
    for ids in tokenizer(list(texts))["input_ids"]:
        if bos is not None and ids[:2] == [bos, bos]:
            ids = ids[1:]
        prompts.append({"prompt_token_ids": ids})
    return prompts
