"""When to save checkpoints: the BabyLM schedule by words seen, or log-uniformly by step."""

from __future__ import annotations

import math
from pathlib import Path

from transformers import TrainerCallback


def babylm_word_schedule(max_words: float) -> list[int]:
    """Every 1M words up to 10M, every 10M up to 100M, every 100M up to 1B (the BabyLM 2025 protocol)."""
    marks = [m * 1_000_000 for m in range(1, 10)] + [m * 10_000_000 for m in range(1, 10)]
    marks += [m * 100_000_000 for m in range(1, 11)]
    return [m for m in marks if m <= max_words]


def checkpoint_name_for_words(words: int) -> str:
    return f"chck_{words // 1_000_000}M"


def log_uniform_steps(max_steps: int, count: int, first: int = 1) -> list[int]:
    """``count`` distinct steps from ``first`` to ``max_steps``, evenly spaced in log(step)."""
    if count < 2 or max_steps <= first:
        return [max_steps]
    steps = {round(math.exp(math.log(first) + k * (math.log(max_steps) - math.log(first)) / (count - 1)))
             for k in range(count)}
    return sorted(steps)


class SaveAtCallback(TrainerCallback):
    """Saves a complete model folder (model + tokenizer) at given optimizer steps, named by ``name_for``.

    The BabyLM schedule is in words: the trainer converts it to steps with the measured words per token,
    since every step consumes the same number of tokens. Under a launcher every process holds the same
    schedule and only the main one writes.
    """

    def __init__(self, output_dir: str | Path, steps_to_names: dict[int, str], tokenizer):
        self.output_dir = Path(output_dir)
        self.steps_to_names = steps_to_names
        self.tokenizer = tokenizer

    def on_step_end(self, args, state, control, model=None, **kwargs):
        name = self.steps_to_names.get(state.global_step)
        if name and state.is_world_process_zero and not (self.output_dir / name / "config.json").exists():
            target = self.output_dir / name
            model.save_pretrained(target)
            self.tokenizer.save_pretrained(target)
        return control
