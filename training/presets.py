"""Model shapes by name. Any Llama or GPT-2 config file works too (``config_from``)."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoConfig, GPT2Config, LlamaConfig, PretrainedConfig

from e2lm_bench.errors import UserError

PRESETS: dict[str, dict] = {
    # The shape of the BabyLM 2024 BabyLlama baseline (58M parameters with a 16k vocabulary).
    "babyllama-58m": dict(
        model_type="llama", hidden_size=512, intermediate_size=1024, num_hidden_layers=16,
        num_attention_heads=8, max_position_embeddings=256, vocab_size=16_000, tie_word_embeddings=False,
    ),
    # CPU-sized shapes for tests and demos.
    "llama-tiny": dict(
        model_type="llama", hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=256, tie_word_embeddings=False,
    ),
    "gpt2-tiny": dict(model_type="gpt2", n_embd=64, n_layer=2, n_head=4, n_positions=256),
    # The offline demo's shape: big enough to learn the demo grammar in a few CPU minutes.
    "llama-demo": dict(
        model_type="llama", hidden_size=128, intermediate_size=384, num_hidden_layers=4,
        num_attention_heads=4, max_position_embeddings=128, tie_word_embeddings=True,
    ),
}


def config_from(preset_or_file: str, tokenizer=None) -> PretrainedConfig:
    """A model config from a preset name or a config file/folder; vocabulary and special ids follow the tokenizer."""
    if preset_or_file in PRESETS:
        fields = dict(PRESETS[preset_or_file])
        kind = fields.pop("model_type")
        config = (LlamaConfig if kind == "llama" else GPT2Config)(**fields)
    elif Path(preset_or_file).exists():
        config = AutoConfig.from_pretrained(preset_or_file)
    else:
        raise UserError(f"unknown preset {preset_or_file!r}: expected one of {', '.join(PRESETS)} or a config file")
    if tokenizer is not None:
        config.vocab_size = len(tokenizer)
        for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
            setattr(config, name, getattr(tokenizer, name))
    return config
