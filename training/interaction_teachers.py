"""The interaction loop's teachers and its sampling settings (the baseline's code,
github.com/momergul/babylm-interaction-simpo-baseline).

A teacher takes the decoded contexts and the student's completions and returns one corrected completion
each: a local causal or chat model (:class:`ModelTeacher`), or any Python callable named ``module:function``
(grammars, rules, API clients).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import torch

from e2lm_bench.errors import UserError
from e2lm_bench.training.generation import Generator, vllm_engine, vllm_token_prompts
from e2lm_bench.training.interaction_config import InteractionConfig

# Our wording of the baseline's system prompt to its teacher.
INSTRUCTIONS = (
    "You help a student learn to write English. You get the beginning of a text and the student's continuation "
    "of it. Rewrite the continuation so that it is grammatical, coherent and fits the beginning of the text, "
    "changing as little as needed. If the continuation is gibberish, write a new continuation of the text "
    "yourself. Reply with the continuation only: no comments, explanations or quotation marks."
)
ANSWER_LABEL = "Corrected continuation:"
VLLM_MEMORY = 0.4  # share of GPU memory for each of the two vLLM engines (student and teacher)

Teacher = Callable[[list[str], list[str]], list[str]]


def correction_prompt(tokenizer, context: str, completion: str) -> str:
    """The correction request a teacher model continues: its chat template when the tokenizer has one, else plain text."""
    task = f"Beginning of the text: {context}\n\nStudent's continuation: {completion}"
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": task}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) + ANSWER_LABEL
    return f"{INSTRUCTIONS}\n\n{task}\n\n{ANSWER_LABEL}"


def load_callable(spec: str) -> Teacher:
    """``module:function`` -> the function (grammars, rules or API clients as teachers)."""
    module, _, name = spec.partition(":")
    try:
        function = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise UserError(f"--teacher {spec!r}: cannot import {name!r} from {module!r} ({err})") from None
    if not callable(function):
        raise UserError(f"--teacher {spec!r} is not callable")
    return function


class ModelTeacher:
    """A local causal or chat model that corrects completions, sampled as the baseline's teacher was.

    ``progress``: show a progress bar (one process of a launch shows it).
    """

    def __init__(self, path: str, config: InteractionConfig, device: torch.device, progress: bool = True):
        self.config, self.progress = config, progress
        if config.backend == "vllm":
            from transformers import AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.engine = vllm_engine(path, config.seed, gpu_memory_utilization=VLLM_MEMORY)
        else:
            self.generator = Generator.from_pretrained(path, device=device, batch_size=config.generation_batch_size)
            self.tokenizer = self.generator.tokenizer
        self.chat = bool(getattr(self.tokenizer, "chat_template", None))

    def __call__(self, contexts: list[str], completions: list[str]) -> list[str]:
        prompts = [correction_prompt(self.tokenizer, c, s) for c, s in zip(contexts, completions)]
        if self.config.backend == "vllm":
            outputs = self.engine.generate(vllm_token_prompts(self.tokenizer, prompts), vllm_sampling(self.config))
            return [output.outputs[0].text for output in outputs]
        corrections = self.generator.texts(prompts, add_special_tokens=not self.chat,
                                           progress="teacher corrections" if self.progress else None, **sampling(self.config))
        return [texts[0] for texts in corrections]


def sampling(config: InteractionConfig) -> dict:
    """Exactly ``completion_tokens`` new tokens at temperature/top-p, no top-k (vLLM's default, the baseline's)."""
    return dict(do_sample=True, temperature=config.temperature, top_p=config.top_p, top_k=0,
                min_new_tokens=config.completion_tokens, max_new_tokens=config.completion_tokens)


def vllm_sampling(config: InteractionConfig):
    """:func:`sampling` as vLLM's ``SamplingParams``."""
    from vllm import SamplingParams

    return SamplingParams(n=1, temperature=config.temperature, top_p=config.top_p,
                          min_tokens=config.completion_tokens, max_tokens=config.completion_tokens)
