"""Training-progress axes of a checkpoint: step, tokens seen and words seen, read from its name.

Scoring orders a series and aligns models on one of these axes, so every name convention the project
meets (Megatron ``iter_*``, HF Trainer ``checkpoint-*``, ``step*``, interaction ``round_NN``, BabyLM
``chck_<words>``) maps here.
"""

from __future__ import annotations

import re

_STEP = re.compile(r"(?:iter|checkpoint|global_step|step|round)[_-]?(\d+)", re.IGNORECASE)
_WORDS = re.compile(r"chck_(\d+)([MK])", re.IGNORECASE)
_WORD_UNITS = {"M": 1_000_000, "K": 1_000}

# E2LM organizers' batch-size ramp (their starter-kit notebook 5_Scoring.ipynb, `convert_iter_to_gt`): the first 20 GT are split into
# three phases of equal sample counts at 256, 512 and 768 sequences per iteration; then 1024 per iteration.
E2LM_SEQ_LEN = 4096
E2LM_RAMP_SAMPLES = int(20e9 // E2LM_SEQ_LEN)  # 4,882,812 sequences
E2LM_RAMP_BATCHES = (256, 512, 768)
E2LM_FINAL_BATCH = 1024


def _last_component(name: str) -> str:
    """Checkpoints are often given as paths; only the folder name carries the convention."""
    return re.split(r"[\\/]", name.rstrip("/\\"))[-1]


def parse_step(name: str) -> int | None:
    """The training step in a checkpoint name; None for names without one (``main``, BabyLM word counts)."""
    match = _STEP.fullmatch(_last_component(name))
    return int(match.group(1)) if match else None


def babylm_words(name: str) -> int | None:
    """Words seen by a BabyLM ``chck_<N>M`` / ``chck_<N>K`` checkpoint; the name counts words, not steps."""
    match = _WORDS.fullmatch(_last_component(name))
    return int(match.group(1)) * _WORD_UNITS[match.group(2).upper()] if match else None


def e2lm_iteration_to_tokens(iteration: int | float) -> float:
    """Tokens seen by the organizers' models at an iteration; the ramp makes it non-linear below ~11,656."""
    if iteration < 0:
        raise ValueError(f"iteration must be >= 0, got {iteration}")
    phase_samples = E2LM_RAMP_SAMPLES // 3
    samples, remaining = 0.0, float(iteration)
    for batch in E2LM_RAMP_BATCHES:
        phase_iterations = phase_samples / batch
        if remaining <= phase_iterations:
            return (samples + remaining * batch) * E2LM_SEQ_LEN
        samples += phase_samples
        remaining -= phase_iterations
    return (samples + remaining * E2LM_FINAL_BATCH) * E2LM_SEQ_LEN


def checkpoint_axes(
    name: str,
    words_per_step: float | None = None,
    tokens_per_step: float | None = None,
    e2lm_ramp: bool = False,
) -> dict:
    """Step, tokens and words for the results table; an axis that the name cannot give is None."""
    step = parse_step(name)
    words = babylm_words(name)
    if words is None and step is not None and words_per_step is not None:
        words = step * words_per_step
    tokens = None
    if e2lm_ramp and step is not None and _last_component(name).lower().startswith("iter_"):
        tokens = e2lm_iteration_to_tokens(step)
    elif step is not None and tokens_per_step is not None:
        tokens = step * tokens_per_step
    return {
        "step": step,
        "tokens": None if tokens is None else float(tokens),
        "words": None if words is None else float(words),
    }
