"""Baseline model folders that stock ``lm_eval --model hf`` loads: random logits and untrained weights."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from e2lm_bench.training.presets import config_from
from e2lm_bench.training.random_logits_model import RandomLogitsConfig, RandomLogitsForCausalLM


def save_random_logits_model(output_dir: str | Path, tokenizer, seed: int = 0) -> Path:
    """A model folder whose logits are seeded noise; load with ``trust_remote_code=True``."""
    config = RandomLogitsConfig(
        vocab_size=len(tokenizer), seed=seed, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    config.register_for_auto_class()
    RandomLogitsForCausalLM.register_for_auto_class("AutoModelForCausalLM")
    return _save(RandomLogitsForCausalLM(config), tokenizer, output_dir)


def save_untrained_model(output_dir: str | Path, tokenizer, preset: str = "llama-tiny", seed: int = 0) -> Path:
    """A randomly initialised model of a preset (or config file), seeded."""
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config_from(preset, tokenizer))
    return _save(model, tokenizer, output_dir)


def _save(model, tokenizer, output_dir: str | Path) -> Path:
    output_dir = Path(output_dir)
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return output_dir
