"""SimPO interaction training (the BabyLM 2025 interaction-track baseline) as a small torch loop.

Every round the student continues contexts cut from the corpus, a teacher corrects the continuations, and the
student learns from the pairs: first plain language modelling on the corrected ("winning") sequences, then SimPO +
LM on (winning, student's own "losing") pairs (the baseline's code,
github.com/momergul/babylm-interaction-simpo-baseline). One AdamW optimizer and one cosine schedule run across all
rounds, so the round checkpoints ``DIR/round_NN`` are points of one training curve (``round_00`` is the starting
model). ``DIR/resume_state.pt`` holds what a killed run needs to continue at the next round exactly: optimizer and
scheduler state, RNG states and the corpus chunks already used; a finished run resumed says so and trains nothing.
A custom loop rather than trl's ``CPOTrainer`` because the baseline's LM term also covers the context and its
schedule spans rounds and phases; the SimPO term equals trl's. The loss is in ``interaction_loss``, the teachers
and sampling settings in ``interaction_teachers``. Under ``accelerate launch`` or ``torchrun`` the processes share
every round (accelerate's ``Accelerator``, DDP) and the main process alone writes files.
"""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator, PartialState
from accelerate.utils import gather_object, synchronize_rng_states
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer, get_cosine_schedule_with_warmup

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.devices import autocast, resolve_device
from e2lm_bench.errors import UserError
from e2lm_bench.training.corpus import BATCH_LINES, CorpusStats, iter_lines, line_start_token_id, split_files
from e2lm_bench.training.generation import Generator, vllm_engine
from e2lm_bench.training.interaction_config import BACKENDS, InteractionConfig, check_steps
from e2lm_bench.training.interaction_loss import collate, interaction_loss, sft_loss, token_logps
from e2lm_bench.training.interaction_teachers import VLLM_MEMORY, ModelTeacher, Teacher, load_callable, sampling, vllm_sampling
from e2lm_bench.training.presets import config_from
from e2lm_bench.training.tokenizer import train_bpe_tokenizer

__all__ = ["InteractionConfig", "InteractionTrainer", "ROUNDS_CSV", "STATE_FILE"]

STATE_FILE = "resume_state.pt"
ROUNDS_CSV = "rounds.csv"
CSV_COLUMNS = ("round", "sft_loss", "simpo_loss", "margin", "seconds")
# Settings that may change when a run resumes: they choose how to compute, not what is learnt.
RESUMABLE_CHANGES = {"teacher", "backend", "device", "generation_batch_size", "output"}


def round_name(number: int) -> str:
    return f"round_{number:02d}"


# -- corpus -------------------------------------------------------------------------------------------


def file_stream(path: Path, tokenizer) -> np.ndarray:
    """A ``*.train`` file's cleaned lines joined by spaces, as one id stream (as the baseline read its files).

    Lines are tokenised in batches, each after a space, which byte-level BPE splits exactly as the joined text.
    """
    pieces, batch = [], []

    def flush():
        texts = [line if not pieces and i == 0 else " " + line for i, line in enumerate(batch)]
        pieces.extend(np.asarray(ids, dtype=np.int32) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"])
        batch.clear()

    for line in tqdm(iter_lines([path], CorpusStats()), desc=f"tokenising {path.name}", unit=" lines", leave=False):
        batch.append(line)
        if len(batch) >= BATCH_LINES:
            flush()
    if batch:
        flush()
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)


def pick_chunks(used: dict[str, list[int]], files: list[str], rounds: int, rng: np.random.Generator) -> dict[str, int]:
    """One not yet used chunk per file, drawn at random; ``used`` records it."""
    picks = {}
    for name in files:
        taken = used.setdefault(name, [])
        picks[name] = int(rng.choice([i for i in range(rounds) if i not in taken]))
        taken.append(picks[name])
    return picks


def round_contexts(streams: dict[str, np.ndarray], picks: dict[str, int], rounds: int, context_tokens: int,
                   completion_tokens: int) -> list[list[int]]:
    """The first ``context_tokens`` of every full datapoint (context + completion tokens) of the picked chunks."""
    size = context_tokens + completion_tokens
    contexts = []
    for name, index in picks.items():
        chunk = np.array_split(streams[name], rounds)[index]
        contexts += [chunk[start:start + context_tokens].tolist() for start in range(0, len(chunk) - size + 1, size)]
    return contexts


# -- the trainer --------------------------------------------------------------------------------------


class InteractionTrainer:
    """Runs (or resumes) the rounds of ``config``; ``teacher`` overrides ``config.teacher`` with a callable."""

    def __init__(self, config: InteractionConfig, teacher: Teacher | None = None):
        if config.backend not in BACKENDS:
            raise UserError(f"--backend {config.backend!r}: expected one of {', '.join(BACKENDS)}")
        check_steps(config)
        self.config, self.output, self.steps = config, Path(config.output), 0
        device = resolve_device(config.device)
        # Alone, one process does everything on the device asked for. Under a launcher each process takes a share of
        # every round's contexts and batches on its own device, DDP averages the gradients, and the main process
        # writes every file.
        self.process = PartialState(cpu=device.type == "cpu")
        launched = self.process.num_processes > 1
        self.device = self.process.device if launched else device
        torch.manual_seed(config.seed)
        self.chunk_rng = np.random.default_rng(config.seed)
        self.used: dict[str, list[int]] = {}
        self.rows: list[dict] = []
        with self.process.main_process_first():  # a fresh student is made once, by the main process, as round_00
            state = self._read_state()
            self.done = state["round"] if state else 0
            start = self.output / round_name(self.done)
            fresh = not (state or (start / "config.json").exists())
            if fresh:
                self.tokenizer, self.model = self._initial_student()
            else:
                self.tokenizer, self.model = AutoTokenizer.from_pretrained(start), AutoModelForCausalLM.from_pretrained(start)
            if self.tokenizer.pad_token is None:
                self.tokenizer.pad_token = self.tokenizer.eos_token
            self._check_positions()
            if fresh:
                self._save_model(0)
        self.model.to(self.device)
        torch.manual_seed(config.seed)  # a fresh model and one reloaded from round_00 then sample alike
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.learning_rate, betas=(0.9, 0.999),
                                           eps=1e-8, weight_decay=0.0)
        self.scheduler = get_cosine_schedule_with_warmup(self.optimizer, config.warmup_steps, config.scheduler_steps)
        # The model as trained: under a launcher wrapped by accelerate in DDP, whose backward averages the gradients
        # (precision stays ours, devices.autocast); alone, the model itself, with nothing of accelerate's in the way.
        self.learner = self.model
        if launched:
            accelerator = Accelerator(cpu=device.type == "cpu", mixed_precision="no", device_placement=False)
            self.learner = accelerator.prepare_model(self.model)
        if state:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.chunk_rng.bit_generator.state = state["chunk_rng"]
            self.used, self.rows = state["used_chunks"], state["rows"]
            torch.set_rng_state(state["torch_rng"])
            if self.device.type == "cuda" and state["cuda_rng"]:
                torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.teacher = teacher
        if teacher is None and self.done < config.rounds:
            self.teacher = self._load_teacher()

    def _settings(self) -> dict:
        return {key: str(value) for key, value in asdict(self.config).items() if key not in RESUMABLE_CHANGES}

    def _read_state(self) -> dict | None:
        path = self.output / STATE_FILE
        if not path.exists():
            return None
        state = torch.load(path, weights_only=True)
        changed = sorted(k for k, v in self._settings().items() if state["settings"].get(k) != v)
        if changed:
            raise UserError(f"{self.output} holds a run with other settings ({', '.join(changed)}): "
                            "use a new --output or the same settings to resume")
        return state

    def _initial_student(self):
        """The student folder as given, or a random init from a preset/config (tokenizer given or trained)."""
        config = self.config
        folder = Path(config.student)
        if folder.is_dir() and any(any(folder.glob(p)) for p in ("*.safetensors", "*.bin")):
            tokenizer = AutoTokenizer.from_pretrained(config.tokenizer or folder)
            return tokenizer, AutoModelForCausalLM.from_pretrained(folder)
        if config.tokenizer:
            tokenizer = AutoTokenizer.from_pretrained(config.tokenizer)
        else:
            tokenizer = train_bpe_tokenizer(iter_lines(split_files(config.corpus, "train"), CorpusStats()),
                                            vocab_size=config.vocab_size)
        model_config = config_from(config.student, tokenizer)
        needed = 1 + config.context_tokens + config.completion_tokens
        if getattr(model_config, "max_position_embeddings", 0) < needed:  # a fresh model is sized for the data
            model_config.max_position_embeddings = needed
        return tokenizer, AutoModelForCausalLM.from_config(model_config)

    def _check_positions(self) -> None:
        positions = getattr(self.model.config, "max_position_embeddings", None)
        needed = 1 + self.config.context_tokens + self.config.completion_tokens
        if positions is not None and positions < needed:
            raise UserError(f"the student takes {positions} positions but a datapoint needs {needed} "
                            "(start token + context + completion): lower --context-tokens/--completion-tokens")

    def _load_teacher(self) -> Teacher:
        spec = self.config.teacher
        if ":" in spec and not Path(spec).exists():
            return load_callable(spec)
        if not Path(spec).is_dir():
            raise UserError(f"--teacher {spec!r}: not a model folder nor a module:function callable")
        return ModelTeacher(spec, self.config, self.device, progress=self.process.is_main_process)

    def train(self) -> Path:
        """Run the remaining rounds; returns the output folder (a checkpoint series plus rounds.csv)."""
        config = self.config
        if self.done >= config.rounds:  # its checkpoints exist: nothing to do, and not an error
            if self.process.is_main_process:
                print(f"{self.output}: all {config.rounds} rounds already done, nothing to train", file=sys.stderr)
            return self.output
        files = [path.name for path in split_files(config.corpus, "train")]
        with self.process.main_process_first():  # the main process tokenises and caches; the others read the cache
            streams = {name: self._stream(Path(config.corpus) / name) for name in files}
        for number in tqdm(range(self.done + 1, config.rounds + 1), desc="rounds", initial=self.done,
                           total=config.rounds, disable=not self.process.is_main_process):
            self._round(number, streams)
        last = self.output / round_name(config.rounds) / "config.json"
        if self.steps == 0 or not last.is_file():  # never a silent success
            raise UserError(f"{self.output}: rounds {self.done + 1}-{config.rounds} took {self.steps} optimizer steps and "
                            f"{'saved' if last.is_file() else 'did not save'} {last.parent.name}")
        return self.output

    def _stream(self, path: Path) -> np.ndarray:
        """The file's id stream, cached in the output folder so that a resumed run does not tokenise again."""
        cached = self.output / "corpus_ids" / f"{path.name}.npy"
        if not cached.exists():
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(".tmp.npy")
            np.save(partial, file_stream(path, self.tokenizer))
            os.replace(partial, cached)
        return np.load(cached)

    def _round(self, number: int, streams: dict[str, np.ndarray]) -> None:
        config, started = self.config, time.perf_counter()
        picks = pick_chunks(self.used, sorted(streams), config.rounds, self.chunk_rng)
        contexts = round_contexts(streams, picks, config.rounds, config.context_tokens, config.completion_tokens)
        if not contexts:
            raise UserError(f"round {number}: the corpus chunks hold no datapoint of "
                            f"{config.context_tokens + config.completion_tokens} tokens; use fewer --rounds or tokens")
        prompts = [[line_start_token_id(self.tokenizer)] + context for context in contexts]
        completions, corrections = self._pairs(contexts, prompts, number)
        encoded = self.tokenizer(list(corrections), add_special_tokens=False)["input_ids"]
        eos = self.tokenizer.eos_token_id
        winning = [p + ids[:len(c)] + [eos] for p, ids, c in zip(prompts, encoded, completions)]
        losing = [p + c + [eos] for p, c in zip(prompts, completions)]
        prompt_lengths = [len(p) for p in prompts]

        self.learner.train()
        main = self.process.is_main_process
        lm_losses, po = [], []
        for _ in range(config.lm_epochs):
            for rows in tqdm(self._batches(len(winning)), desc=f"round {number} LM", leave=False, disable=not main):
                batch = collate([winning[i] for i in rows], [prompt_lengths[i] for i in rows], eos)
                batch = {key: value.to(self.device) for key, value in batch.items()}
                with autocast(self.device):
                    loss = sft_loss(token_logps(self.learner, batch), batch["sft_mask"])
                self._step(loss)
                lm_losses.append(loss.item())
        for _ in range(config.po_epochs):
            for rows in tqdm(self._batches(len(winning)), desc=f"round {number} SimPO", leave=False, disable=not main):
                with autocast(self.device):
                    losses = interaction_loss(self.learner, [winning[i] for i in rows], [losing[i] for i in rows],
                                              [prompt_lengths[i] for i in rows], eos, config)
                self._step(losses["loss"])
                po.append((losses["simpo"].item(), losses["margin"].item()))
        lm_losses, po = gather_object(lm_losses), gather_object(po)  # every process's batches
        self.rows.append({"round": number, "sft_loss": _mean(lm_losses), "simpo_loss": _mean([p[0] for p in po]),
                          "margin": _mean([p[1] for p in po]), "seconds": time.perf_counter() - started})
        if main:
            self._save_model(number)
            self._save_state(number)
            tqdm.write(f"round {number}: " + ", ".join(f"{k} {v:.4g}" for k, v in self.rows[-1].items() if k != "round"))
        self.process.wait_for_everyone()  # the round is saved before any process goes on

    def _pairs(self, contexts: list[list[int]], prompts: list[list[int]], number: int) -> tuple[list, list[str]]:
        """The student's completions of all prompts and the teacher's corrections of them, in order.

        Under a launcher each process makes those of its share of the prompts, from a random stream of its own
        (seeded from the main process's, so a seed gives the same series), and all receive all of them; the shared
        stream is left as it was, for the batch orders. Alone, the one stream goes on as it is.
        """
        shared = self._share_random_stream()
        forked = [self.device] if self.device.type == "cuda" else []
        with self.process.split_between_processes(list(range(len(prompts)))) as mine, \
                torch.random.fork_rng(devices=forked, enabled=shared):
            if shared:
                torch.manual_seed(int(torch.randint(2**62, ())) + self.process.process_index)
            completions = self._sample([prompts[i] for i in mine], number)
            corrections = self.teacher(self.tokenizer.batch_decode([contexts[i] for i in mine]),
                                       self.tokenizer.batch_decode(completions))
        if len(corrections) != len(mine) or not all(isinstance(text, str) for text in corrections):
            raise UserError(f"the teacher returned {len(corrections)} items for {len(mine)} contexts "
                            "(expected one string each)")
        return gather_object(completions), gather_object(list(corrections))

    def _batches(self, count: int) -> list[list[int]]:
        """This process's batches of an epoch: every process draws the same order from the main process's stream and
        takes a contiguous share of the batches; a share one short repeats the last batch, since every process must
        take as many steps (DDP). Alone: every batch, in the order drawn."""
        self._share_random_stream()
        batches = [rows.tolist() for rows in torch.randperm(count).split(self.config.batch_size)]
        with self.process.split_between_processes(batches, apply_padding=True) as mine:
            return mine

    def _share_random_stream(self) -> bool:
        """Under a launcher, every process continues the main process's torch stream (which a resumed run restores
        from the main process's state) and True; alone, nothing changes and False."""
        if self.process.num_processes == 1:
            return False
        synchronize_rng_states(["torch"])
        return True

    def _step(self, loss: torch.Tensor) -> None:
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.steps += 1

    def _sample(self, prompts: list[list[int]], number: int) -> list[list[int]]:
        """The student's completions: exactly ``completion_tokens`` new tokens per prompt (prompts are equally long)."""
        config = self.config
        if config.backend == "vllm":  # the engine loads the student as saved after the previous round
            engine = vllm_engine(self.output / round_name(number - 1), config.seed + number,
                                 gpu_memory_utilization=VLLM_MEMORY)
            outputs = engine.generate([{"prompt_token_ids": p} for p in prompts], vllm_sampling(config))
            del engine
            return [list(output.outputs[0].token_ids) for output in outputs]
        self.model.eval()
        student = Generator(self.model, self.tokenizer, config.generation_batch_size)
        progress = f"round {number} student completions" if self.process.is_main_process else None
        return student.ids(prompts, progress=progress, **sampling(config))

    def _save_model(self, number: int) -> None:
        """A complete model folder, written beside and renamed into place, so a found folder is whole."""
        target, partial = self.output / round_name(number), self.output / f".{round_name(number)}.tmp"
        shutil.rmtree(partial, ignore_errors=True)
        self.model.save_pretrained(partial)
        self.tokenizer.save_pretrained(partial)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(partial, target)

    def _save_state(self, number: int) -> None:
        state = {
            "round": number, "settings": self._settings(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "chunk_rng": self.chunk_rng.bit_generator.state,
            "used_chunks": self.used, "rows": self.rows, "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else [],
        }
        partial = self.output / f".{STATE_FILE}.tmp"
        torch.save(state, partial)
        os.replace(partial, self.output / STATE_FILE)
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.output / ROUNDS_CSV, text.getvalue())


def _mean(values: list[float]) -> float:
    """NaN for a phase with no steps (``--lm-epochs 0`` or ``--po-epochs 0``)."""
    return sum(values) / len(values) if values else math.nan
