"""RL fine-tuning of a child-like policy on mother prompts, with trl's RLOO or GRPO trainer.

``train_rl(RLConfig(...))`` turns each ``*MOT: …`` prompt into ``*MOT: … *CHI:`` so that sampled
completions start with the child's reply, scores them with Python rewards (``training.rewards``) that
receive the file's other columns (teacher answers, mother log-probabilities) aligned with every
completion, and trains with ``RLOOTrainer`` (default) or ``GRPOTrainer``. Checkpoints are complete model
folders ``checkpoint-<step>`` (the last step always among them), a series that ``e2lm-bench trajectory``
and ``lm_eval --model hf`` load; ``rewards.csv`` follows the rewards, KL and completion length per step.
A prompts file smaller than a batch trains on batches of all its prompts (trl drops a partial batch), and a
run that ends without an optimizer step or a checkpoint is an error, never a silent success.
How this differs from the seed's PPO: see ``RLConfig``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import datasets
from accelerate import PartialState
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.devices import resolve_device, trainer_precision
from e2lm_bench.errors import UserError
from e2lm_bench.taskdata.readers import DataError, iter_json_objects
from e2lm_bench.training.dialogue_text import mother_utterance
from e2lm_bench.training.rewards import make_rewards
from e2lm_bench.training.rl_config import RLConfig, seed_beta_lr
from e2lm_bench.training.schedule import SaveAtCallback, log_uniform_steps

__all__ = ["RLConfig", "train_rl", "load_prompts", "child_turn_prompt"]

TRAINERS = {"rloo": (RLOOConfig, RLOOTrainer), "grpo": (GRPOConfig, GRPOTrainer)}


def child_turn_prompt(prompt: str) -> str:
    """``*MOT: m`` as ``*MOT: m *CHI:`` (the seed's query), so that completions start with the child's reply."""
    utterance = mother_utterance(prompt)
    return f"*MOT: {utterance} *CHI:" if utterance else ""


def load_prompts(path: str | Path) -> datasets.Dataset:
    """The prompts file as trl's dataset: ``prompt`` in the child-turn form, every other column unchanged.

    All rows must have the same columns, since a reward reading a column must find it in every row.
    """
    rows, columns = [], None
    for where, record in iter_json_objects(path):
        prompt = record.get("prompt")
        query = child_turn_prompt(prompt) if isinstance(prompt, str) else ""
        if not query:
            raise DataError(f"{where}: field 'prompt' must be a mother utterance ('*MOT: ...'), got {prompt!r}")
        if columns is None:
            columns = sorted(record)
        elif sorted(record) != columns:
            raise DataError(f"{where}: columns {sorted(record)} differ from the first row's {columns}")
        rows.append({**record, "prompt": query})
    if not rows:
        raise DataError(f"{path}: no rows (expected JSON objects with a 'prompt' field)")
    return datasets.Dataset.from_list(rows)


def save_steps(save: str, max_steps: int) -> list[int]:
    """Steps to save at for ``steps:N`` or ``log:N``; the last step is always one of them."""
    kind, _, value = save.partition(":")
    if not (kind in ("steps", "log") and value.isdigit() and int(value) > 0):
        raise UserError(f"--save {save!r}: expected steps:N or log:N")
    steps = range(int(value), max_steps + 1, int(value)) if kind == "steps" else log_uniform_steps(max_steps, int(value))
    return sorted({*steps, max_steps})


class _SaveSeries(SaveAtCallback):
    """``SaveAtCallback`` on a schedule fixed when training starts, once the trainer knows its step count."""

    def __init__(self, output_dir: Path, save: str, tokenizer):
        super().__init__(output_dir, {}, tokenizer)
        self.save = save

    def on_train_begin(self, args, state, control, **kwargs):
        self.steps_to_names = {step: f"checkpoint-{step}" for step in save_steps(self.save, state.max_steps)}


class _RewardLog(TrainerCallback):
    """Appends trl's logged reward metrics to a CSV, one row per log step, for plotting while a run goes on.

    Each row is one ``write`` to a file opened for appending, so a reader never sees half a row; an empty
    cell is a metric trl did not log (``kl`` with β = 0) or logged as missing (all rewards None).
    """

    def __init__(self, path: Path, reward_names: list[str]):
        self.path = path
        # rewards.csv column -> the key trl 1.16 logs it under (RLOO and GRPO alike)
        self.keys = {"reward": "reward", **{name: f"rewards/{name}/mean" for name in reward_names},
                     "kl": "kl", "completion_length": "completions/mean_length"}

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            atomic_write_text(self.path, _csv_line(["step", *self.keys]))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs and "reward" in logs:
            row = [state.global_step] + ["" if logs.get(key) is None else logs[key] for key in self.keys.values()]
            handle = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(handle, _csv_line(row).encode("utf-8"))
            finally:
                os.close(handle)


def _csv_line(values: list) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def reward_models(spec: str | dict[str, str] | None, rewards: list[str]) -> dict[str, str]:
    """``--reward-model`` as reward name -> model: ``M`` for every reward but bleu, or one per reward
    (``judge=M1,confidence=M2`` or a dict), since the seed paired a 7B judge with a 3B mother.

    A text is one model when it is an existing path or does not start with ``NAME=``.
    """
    if not spec:
        return {}
    if isinstance(spec, str) and (Path(spec).exists() or not re.match(r"\s*\w+\s*=", spec)):
        models = {name: spec for name in rewards if name != "bleu"}
        if not models:
            raise UserError("--reward-model: bleu scores without a model")
        return models
    shown = spec if isinstance(spec, str) else ",".join(f"{k}={v}" for k, v in spec.items())
    pairs = spec.items() if isinstance(spec, dict) else [part.partition("=")[::2] for part in spec.split(",")]
    models = {}
    for name, model in ((str(n).strip(), str(m).strip()) for n, m in pairs):
        if name == "bleu":
            raise UserError(f"--reward-model {shown}: bleu scores without a model")
        if name not in rewards:
            raise UserError(f"--reward-model {shown}: {name!r} is not among the rewards ({','.join(rewards)})")
        if not model or name in models:
            raise UserError(f"--reward-model {shown}: expected NAME=MODEL,... with a model for each reward, once")
        models[name] = model
    return models


def build_rewards(config: RLConfig) -> list[Callable]:
    """The named rewards, each that scores with a model given its model from ``config.reward_model``."""
    models = reward_models(config.reward_model, config.rewards)
    return make_rewards(",".join(config.rewards), **{name: {"model": model} for name, model in models.items()})


def _check_steps(config: RLConfig) -> None:
    """Settings that would train no step, refused before anything loads."""
    if config.max_steps == 0:
        raise UserError("--max-steps 0: no step to train (a positive number, or -1 for one pass over the prompts)")
    if config.batch_size < 1 or config.num_generations < 1:
        raise UserError(f"--batch-size {config.batch_size}, --num-generations {config.num_generations}: "
                        "both must be at least 1")


def _check_trained(trainer, output: Path, save: str) -> None:
    """A run that took no optimizer step or saved no checkpoint fails loudly instead of looking finished."""
    step = trainer.state.global_step
    if step == 0:
        raise UserError(f"{output}: training took no optimizer step and saved no checkpoint")
    if trainer.is_world_process_zero() and not any(output.glob("checkpoint-*/config.json")):
        raise UserError(f"{output}: training stopped at step {step} without saving a checkpoint (--save {save})")


def train_rl(config: RLConfig, reward_funcs: list[Callable] | None = None) -> Path:
    """Train and return the output folder, whose ``checkpoint-<step>`` subfolders form a series.

    ``reward_funcs`` replaces the rewards named in the config with callables of the same shape
    (``f(prompts, completions, **columns) -> list[float]``, named by ``__name__``), e.g. a scorer already
    in memory.
    """
    if config.algorithm not in TRAINERS:
        raise UserError(f"--algorithm {config.algorithm!r}: expected one of {', '.join(TRAINERS)}")
    output = Path(config.output)
    if any(output.glob("checkpoint-*")):
        raise UserError(f"{output} already holds checkpoints: give a new --output")
    save_steps(config.save, 1)  # a bad --save fails before any model loads
    _check_steps(config)
    dataset = load_prompts(config.prompts)
    device = resolve_device()
    # Set up before the reward models load: under a launcher CUDA's current device, where they go, is then this
    # process's own GPU, and on CPU the processes join (trl's config below shares this state).
    process = PartialState(cpu=device.type == "cpu")
    rewards = reward_funcs if reward_funcs is not None else build_rewards(config)
    names = [reward.__name__ for reward in rewards]
    if len(set(names)) != len(names):
        raise UserError(f"--reward {','.join(names)}: each reward once (trl logs them by name)")
    if config.reward_weights is not None and len(config.reward_weights) != len(rewards):
        raise UserError(f"--reward-weights: {len(config.reward_weights)} weights for {len(rewards)} rewards")
    seed_beta, seed_lr = seed_beta_lr(names)
    beta = seed_beta if config.beta is None else config.beta
    learning_rate = seed_lr if config.learning_rate is None else config.learning_rate

    tokenizer = AutoTokenizer.from_pretrained(config.policy)
    if tokenizer.pad_token is None:  # prompts are left-padded in a batch
        tokenizer.pad_token = tokenizer.eos_token
    # Loaded from its folder: trl rejects a model without a name_or_path.
    model = AutoModelForCausalLM.from_pretrained(config.policy)
    config_class, trainer_class = TRAINERS[config.algorithm]

    def trainer_args(batch_size: int):
        return config_class(
            output_dir=str(output / "trainer_state"), seed=config.seed, learning_rate=learning_rate, beta=beta,
            num_generations=config.num_generations, per_device_train_batch_size=batch_size * config.num_generations,
            max_completion_length=config.max_completion_length, top_p=config.top_p, temperature=config.temperature,
            reward_weights=config.reward_weights, max_steps=config.max_steps, num_train_epochs=1,
            # trl's bf16 default fails without a bf16 GPU; small policies gain nothing from activation checkpointing.
            **trainer_precision(device), use_cpu=device.type == "cpu", activation_checkpointing=False,
            lr_scheduler_type="constant",  # the seed's Adam had no schedule
            logging_steps=1, save_strategy="no", report_to="none",
        )

    args = trainer_args(config.batch_size)
    # trl's sampler keeps whole generation batches only: a smaller file would give no batch, hence no step.
    processes = args.generation_batch_size // config.num_generations // config.batch_size  # 1 on one device
    if len(dataset) < config.batch_size * processes:
        fitted = len(dataset) // processes
        each = f" on each of {processes} processes" if processes > 1 else ""
        if fitted < 1:
            raise UserError(f"{config.prompts}: {len(dataset)} prompts cannot fill a batch{each}; give more prompts")
        if process.is_main_process:
            print(f"note: {config.prompts} has {len(dataset)} prompts, fewer than --batch-size {config.batch_size}{each}: "
                  f"training on batches of {fitted} prompts", file=sys.stderr)
        config = dataclasses.replace(config, batch_size=fitted)
        args = trainer_args(fitted)
    if process.is_main_process:
        output.mkdir(parents=True, exist_ok=True)
        atomic_write_text(output / "rl_settings.json", json.dumps(
            {"config": dataclasses.asdict(config), "rewards": names, "beta": beta, "learning_rate": learning_rate},
            indent=1, default=str))
    callbacks = [_SaveSeries(output, config.save, tokenizer), _RewardLog(output / "rewards.csv", names)]
    trainer = trainer_class(model=model, reward_funcs=rewards, args=args, train_dataset=dataset,
                            processing_class=tokenizer, callbacks=callbacks)
    trainer.train()
    trainer.accelerator.wait_for_everyone()  # every process returns a folder as complete as the main one's
    _check_trained(trainer, output, config.save)
    return output
