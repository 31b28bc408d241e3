"""Byte-level BPE tokenizers trained offline, in the BabyLlama style."""

from __future__ import annotations

from typing import Iterable

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ("<pad>", "<s>", "</s>")


def train_bpe_tokenizer(
    texts: Iterable[str], vocab_size: int = 16_000, min_frequency: int = 2, add_bos: bool = True
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE (NFKC, specials ``<pad> <s> </s>``).

    ``add_bos`` makes the tokenizer prepend ``<s>`` to every encoding, as Llama tokenizers do; this
    decides whether seed-style scoring (which never scores position 0) sees the first word.
    """
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    if add_bos:
        bos = tokenizer.token_to_id("<s>")
        tokenizer.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)]
        )
    else:
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token=None
    )


def sample_tokenizer(vocab_size: int = 1000) -> PreTrainedTokenizerFast:
    """A byte-level BPE trained on the bundled sample: a tokenizer for offline baselines, in seconds."""
    from e2lm_bench.taskdata.sample import sample_texts

    return train_bpe_tokenizer(sample_texts(), vocab_size=vocab_size, min_frequency=1)
