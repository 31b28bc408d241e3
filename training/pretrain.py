"""BabyLlama-style pretraining with checkpoint series, on Hugging Face ``Trainer``.

``pretrain(PretrainConfig(...))`` trains a tokenizer (or loads one), tokenises the corpus once into id
streams (validated: see ``training.corpus``), builds a model from a preset or config file, and trains
with a cosine schedule, warmup, weight decay and gradient clipping, optionally distilling from teacher
models. Checkpoints are complete model folders that ``lm_eval --model hf`` loads: on the BabyLM schedule
by words seen (``chck_<N>M``), log-uniformly over steps (``checkpoint-<step>``), or every N steps.
Several processes (GPUs, nodes, or CPU processes over gloo) use the same entry point under ``accelerate
launch`` or ``torchrun``. Settings or a corpus that would train no step are refused before any work, and a
run that ends without an optimizer step or a checkpoint is an error, never a silent success.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import torch
from accelerate.utils import broadcast_object_list
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainerCallback, TrainingArguments

from e2lm_bench.devices import resolve_device, trainer_precision
from e2lm_bench.errors import UserError
from e2lm_bench.training.corpus import BlockDataset, CorpusError, CorpusStats, iter_lines, split_files, tokenize_split
from e2lm_bench.training.distill import DistillationTrainer
from e2lm_bench.training.presets import config_from
from e2lm_bench.training.pretrain_config import PretrainConfig
from e2lm_bench.training.schedule import SaveAtCallback, babylm_word_schedule, checkpoint_name_for_words, log_uniform_steps
from e2lm_bench.training.tokenizer import train_bpe_tokenizer


class _EpochOffsets(TrainerCallback):
    """Gives the training blocks a new random offset at the start of every epoch."""

    def __init__(self, dataset: BlockDataset):
        self.dataset = dataset

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.dataset.set_epoch(int(state.epoch or 0))


def prepare_tokenizer(config: PretrainConfig):
    """The given tokenizer, or a BPE trained on the corpus that starts every encoding with ``<s>``.

    Training puts ``<s>`` before every line; lm-eval encodes a non-empty context with the tokenizer's
    defaults, so prepending ``<s>`` there too makes contexts start as training lines do.
    """
    if config.tokenizer:
        tokenizer = AutoTokenizer.from_pretrained(config.tokenizer)
    else:
        tokenizer = train_bpe_tokenizer(iter_lines(split_files(config.corpus, "train"), CorpusStats()),
                                        vocab_size=config.vocab_size)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def save_schedule(config: PretrainConfig, max_steps: int, tokens_per_step: int, words_per_token: float) -> dict[int, str]:
    """Optimizer step -> checkpoint folder name."""
    kind, _, value = config.save.partition(":")
    if kind == "words":
        words_per_step = tokens_per_step * words_per_token
        total_words = max_steps * words_per_step
        return {max(1, math.ceil(words / words_per_step)): checkpoint_name_for_words(words)
                for words in babylm_word_schedule(total_words)}
    if kind == "log" and value.isdigit():
        return {step: f"checkpoint-{step}" for step in log_uniform_steps(max_steps, int(value))}
    if kind == "steps" and value.isdigit() and int(value) > 0:
        return {step: f"checkpoint-{step}" for step in range(int(value), max_steps + 1, int(value))}
    raise UserError(f"--save {config.save!r}: expected words, log:N or steps:N")


def check_steps(config: PretrainConfig) -> None:
    """Settings that would train no step (``Trainer`` reads ``max_steps`` <= 0 as "use the epochs")."""
    if config.max_steps == 0:
        raise UserError("--max-steps 0: no step to train (a positive number, or -1 to train for --epochs)")
    if config.max_steps < 0 and config.epochs <= 0:
        raise UserError(f"--epochs {config.epochs:g}: no step to train (give a positive --epochs or --max-steps)")


def training_blocks(ids, files: list[Path], config: PretrainConfig, vocab_size: int) -> BlockDataset:
    """The training blocks, refused with the files and numbers when the corpus holds none."""
    needed = 2 * config.block_size  # a block, plus a block's room for the random offset
    if ids.size < needed:
        raise CorpusError(f"{', '.join(str(f) for f in files)}: {ids.size} tokens, fewer than the {needed} that one "
                          f"training block of --block-size {config.block_size} needs (with room for its random offset)")
    return BlockDataset(ids, config.block_size, vocab_size, random_offset=True, seed=config.seed)


def pretrain(config: PretrainConfig) -> Path:
    """Train and return the output folder; its checkpoint subfolders form a series for the trajectory runner.

    Under a launcher every process trains on its share of each step's blocks; the main process alone trains the
    tokenizer (the others receive it, so that every process reads the same ids) and writes every file.
    """
    check_steps(config)
    torch.manual_seed(config.seed)
    output = Path(config.output)
    args = TrainingArguments(
        output_dir=str(output / "trainer_state"), per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size, gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=config.learning_rate, weight_decay=config.weight_decay, warmup_steps=config.warmup_steps,
        lr_scheduler_type="cosine", max_grad_norm=config.max_grad_norm, seed=config.seed,
        # Without use_cpu, processes on a machine without a GPU do not join (accelerate's PartialState): each would
        # train alone, write every file and count only its own tokens.
        **trainer_precision(), use_cpu=resolve_device().type == "cpu", report_to=config.report_to,
        save_strategy="steps", save_total_limit=1, eval_strategy="no",
        dataloader_num_workers=config.dataloader_workers, disable_tqdm=False,
    )
    tokenizer = broadcast_object_list([prepare_tokenizer(config) if args.process_index == 0 else None])[0]
    model_config = config_from(config.preset, tokenizer)
    if model_config.vocab_size < len(tokenizer):
        raise UserError(f"tokenizer has {len(tokenizer)} entries but the model only {model_config.vocab_size}")
    stats = CorpusStats()
    train_files = split_files(config.corpus, "train")
    train_ids = tokenize_split(train_files, tokenizer, model_config.vocab_size, stats)
    dev_files = split_files(config.corpus, "dev")
    dev_ids = tokenize_split(dev_files, tokenizer, model_config.vocab_size) if dev_files else None
    train = training_blocks(train_ids, train_files, config, model_config.vocab_size)
    dev = BlockDataset(dev_ids, config.block_size, model_config.vocab_size, random_offset=False) if dev_ids is not None else None

    # One optimizer step consumes a batch on every process (and every GPU of a single process).
    blocks_per_step = args.train_batch_size * args.gradient_accumulation_steps * args.world_size
    tokens_per_step = config.block_size * blocks_per_step
    steps_per_epoch = max(1, len(train) // blocks_per_step)
    max_steps = config.max_steps if config.max_steps > 0 else math.ceil(config.epochs * steps_per_epoch)
    args.max_steps, args.logging_steps, args.save_steps = max_steps, max(1, min(50, max_steps // 20)), max(1, max_steps // 10)
    schedule = save_schedule(config, max_steps, tokens_per_step, stats.words_per_token)
    if args.should_save:
        output.mkdir(parents=True, exist_ok=True)
        tokenizer.save_pretrained(output / "tokenizer")
        (output / "corpus_stats.json").write_text(json.dumps(
            {"lines": stats.lines, "empty_lines": stats.empty_lines, "words": stats.words, "tokens": stats.tokens,
             "words_per_token": stats.words_per_token, "tokens_per_step": tokens_per_step, "max_steps": max_steps,
             "checkpoints": {name: step for step, name in sorted(schedule.items())}, "config": asdict(config)},
            indent=1, default=str))

    model = AutoModelForCausalLM.from_config(model_config)
    callbacks = [_EpochOffsets(train), SaveAtCallback(output, schedule, tokenizer)]
    common = dict(model=model, args=args, train_dataset=train, eval_dataset=dev, callbacks=callbacks)
    if config.teachers:
        teachers = [AutoModelForCausalLM.from_pretrained(path) for path in config.teachers]
        trainer = DistillationTrainer(**common, teachers=teachers, alpha=config.alpha, temperature=config.temperature)
    else:
        trainer = Trainer(**common)
    resume = config.resume and any((output / "trainer_state").glob("checkpoint-*"))
    trainer.train(resume_from_checkpoint=True if resume else None)
    if trainer.state.global_step == 0:
        raise UserError(f"{output}: training took no optimizer step (max_steps {max_steps}); no checkpoint saved")
    if dev is not None:
        metrics = trainer.evaluate()  # every process scores its share of the dev blocks
        if args.should_save:
            (output / "dev_metrics.json").write_text(json.dumps(metrics, indent=1))
    if max_steps not in schedule:  # otherwise the last scheduled checkpoint already is the final model
        trainer.save_model(str(output / "final"))
        if args.should_save:
            tokenizer.save_pretrained(output / "final")
    trainer.accelerator.wait_for_everyone()  # every process returns a folder as complete as the main one's
    saved = [output / name / "config.json" for name in [*schedule.values(), "final"]]
    if args.should_save and not any(path.is_file() for path in saved):
        raise UserError(f"{output}: training stopped at step {trainer.state.global_step} without saving a checkpoint "
                        f"(--save {config.save})")
    return output
