"""Evaluate lm-eval tasks over checkpoint series, resumably, into the shared results table.

What a shell loop of ``lm_eval`` calls pays once per checkpoint is paid once per run here: imports,
the task index, the task objects and their documents, and tokenising every request (as long as the
checkpoints share a tokenizer). Per checkpoint only the weights are loaded and the forward passes run.

Each checkpoint is loaded by lm-eval's ``HFLM`` (device, dtype, ``--model-args``), and every task is
seeded before it is evaluated exactly as ``simple_evaluate`` seeds it, so few-shot demonstrations are
the same at every checkpoint and equal to lm-eval's own.

Each (model, checkpoint, task) is written atomically as soon as it finishes (``results.write_part``),
with the settings that shaped its numbers (:mod:`~e2lm_bench.evaluation.resume`); a rerun skips what is
written with the same settings and refuses to mix in other ones, so a killed run loses at most the checkpoint
in flight. A checkpoint that fails to load is recorded and skipped (:mod:`~e2lm_bench.evaluation.records`).
Processes on one folder (a launch's, a SLURM array's, two terminals') share its parts through claim files
(:mod:`~e2lm_bench.evaluation.claims`); ``shard=(i, n)`` limits a process to the i-th of n disjoint parts.
While one checkpoint is evaluated, the next is fetched in the background (:mod:`~e2lm_bench.evaluation.fetching`).

The run's settings and plan are in :mod:`~e2lm_bench.evaluation.run_plan`; this module runs it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from e2lm_bench.atomic import remove_stale_temporaries
from e2lm_bench.devices import process_device
from e2lm_bench.errors import UserError
from e2lm_bench.evaluation import records
from e2lm_bench.evaluation import results as results_io
from e2lm_bench.evaluation.claims import Claims, SharedWork
from e2lm_bench.evaluation.fetching import CheckpointLoader, fetched
from e2lm_bench.evaluation.harness import NO_DOCS
from e2lm_bench.evaluation.resume import part_done, part_settings, pending, refuse_other_settings, settings_digest
from e2lm_bench.evaluation.run_plan import TrajectoryConfig, TrajectoryError, load_tasks, plan, work_order
from e2lm_bench.evaluation.series import Checkpoint
from e2lm_bench.launch import Launch, current_launch


@dataclass
class TrajectorySummary:
    evaluated: list[tuple[str, str, str]]
    skipped: int
    failed: list[dict]
    results_csv: Path
    unverified: int = 0  # parts kept although written without (all of) their settings (older versions)
    damaged: list[str] = field(default_factory=list)  # parts found damaged and re-evaluated
    still_damaged: list[str] = field(default_factory=list)  # damaged parts left out of results.csv
    unavailable: dict[str, str] = field(default_factory=dict)  # tasks not run: their data could not be read
    by_others: int = 0  # parts not written when the run started that other processes on the folder evaluated
    processes_per_checkpoint: int = 1  # processes among which each task's documents were split (--split requests)


def run_trajectory(config: TrajectoryConfig) -> TrajectorySummary:
    checkpoints = plan(config)
    launch = current_launch()
    together = config.split == "requests" and launch.launched
    if together:
        join_process_group()
    out = Path(config.output)
    remove_stale_temporaries(out)  # a killed run's half-written files
    with _quiet_libraries():
        task_dicts, unavailable = load_tasks(config.tasks, config.include_path, config.num_fewshot,
                                             skip_unavailable=True)
        if not task_dicts:  # nothing left to run: the causes are the error
            causes = list(unavailable.items())
            raise TrajectoryError(causes[0][1] if len(causes) == 1 else "; ".join(f"{n}: {why}" for n, why in causes))
        settings = {task: part_settings(config, task_dict) for task, task_dict in task_dicts.items()}
    if not config.overwrite:  # over every process's checkpoints: they share the folder
        refuse_other_settings(out, checkpoints, settings)
    mine = work_order(checkpoints, config.shard, Launch() if together else launch)
    todo = pending(out, mine, settings, config.overwrite)
    for damage in todo.damaged:
        tqdm.write(f"re-evaluating {damage}")
    skipped = sum(len(task_dicts) for _ in mine) - sum(len(t) for t in todo.parts.values())
    evaluated, failed, claimed, processes = [], [], 0, 1
    digests = {task: settings_digest(values) for task, values in settings.items()}
    with _quiet_libraries(), Claims(out, digests, label=launch.describe()) as claims:
        for checkpoint in mine:  # a process killed between writing a part and releasing its claim left the claim
            claims.clear_dead(checkpoint, [task for task in task_dicts if task not in todo.parts.get(checkpoint, ())])
        if todo.parts:
            work = SharedWork(todo.parts, claims, lambda c, t: part_done(out, c, t, settings[t]),
                              finisher=launch.launched and launch.is_main and config.shard is None and not together)
            loader = CheckpointLoader(config, device=process_device(config.device, launch), together=together)
            _evaluate_pending(config, out, work, loader, task_dicts, settings, evaluated, failed, unavailable, launch)
            claimed, processes = work.claimed, loader.processes_per_checkpoint
    out.mkdir(parents=True, exist_ok=True)
    records.write_failures_json(out)
    results_csv = results_io.write_results_csv(out)
    left = [f"{path}: {why}" for path, why in results_io.damaged_parts(out)]  # another shard's, or failed again
    by_others = sum(len(t) for t in todo.parts.values()) - claimed
    return TrajectorySummary(evaluated, skipped, failed, results_csv, todo.unverified, todo.damaged, left, unavailable,
                             by_others, processes)


def _evaluate_pending(config, out, work, loader, task_dicts, settings, evaluated, failed, unavailable, launch) -> None:
    together = loader.together
    progress = tqdm(total=sum(len(t) for t in work.parts.values()), desc="checkpoints x tasks", unit="task",
                    position=launch.rank if launch.launched else None, disable=together and not launch.is_main)
    take = work.take_together if together else work.take
    for checkpoint, folder in fetched(loader.fetch, take, ahead=config.prefetch):
        tasks = work.tasks[checkpoint]
        progress.set_postfix_str(f"{checkpoint.model}:{checkpoint.name}")
        lm, error = None, None  # the previous checkpoint's weights go before the next one's arrive
        try:
            lm = loader.lm_for(checkpoint, folder.result())
        except Exception as err:  # a broken checkpoint must not stop the series
            error = err
        if together:
            error = _any_process_failed(error, launch)
        if error is not None:
            lm = None
            failed.append(records.record_failure(out, checkpoint, error, config.hub_token))
            progress.update(len(tasks))
            for task in tasks:
                work.claims.release(checkpoint, task)
            loader.release(checkpoint)
            continue
        records.clear_failure(out, checkpoint)
        for task in tasks:
            progress.update(1)
            try:
                if task not in unavailable:
                    evaluate_checkpoint_task(lm, checkpoint, task, task_dicts[task], out, config, settings[task])
                    evaluated.append((checkpoint.model, checkpoint.name, task))
            except UserError as err:  # the task cannot be scored with this model (e.g. a slow tokenizer): the others can
                if not evaluated and sum(t in unavailable for t in task_dicts) + 1 == len(task_dicts):
                    raise  # nothing at all could be evaluated: that is the run's error
                unavailable[task] = f"{checkpoint.location}: {err}"
                tqdm.write(f"not run: {task}: {unavailable[task]}")
            finally:
                work.claims.release(checkpoint, task)
        results_io.write_results_csv(out)
        loader.release(checkpoint)
    progress.close()


@contextlib.contextmanager
def _quiet_libraries():
    """One progress bar for the run: silence per-document bars, weight-loading bars and per-checkpoint notices."""
    import lm_eval.api.task
    import transformers

    saved_tqdm = lm_eval.api.task.tqdm
    saved_verbosity = transformers.logging.get_verbosity()
    hf_logger = logging.getLogger("lm_eval.models.huggingface")
    saved_level = hf_logger.level
    lm_eval.api.task.tqdm = functools.partial(saved_tqdm, disable=True)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    hf_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        lm_eval.api.task.tqdm = saved_tqdm
        transformers.logging.set_verbosity(saved_verbosity)
        transformers.logging.enable_progress_bar()
        hf_logger.setLevel(saved_level)


def evaluate_checkpoint_task(lm, checkpoint: Checkpoint, task: str, task_dict: dict, out: Path,
                             config: TrajectoryConfig, settings: dict | None = None) -> None:
    """Run one task on one loaded checkpoint; write its samples, its settings, then its rows (the 'done' marker)."""
    from lm_eval.evaluator import evaluate

    seed_as_simple_evaluate(task_dict, config.seed)
    try:
        output = evaluate(lm, task_dict, limit=config.limit, log_samples=True, verbosity="WARNING")
    except ValueError as err:
        if NO_DOCS not in str(err):
            raise
        output = {}
    if output is None:  # a process of a launch evaluating this part together with the first one, which writes it
        return
    rows = records.result_rows(output, checkpoint)
    if not rows:  # nothing evaluated: nothing to record as done
        raise TrajectoryError(f"{task} on {checkpoint.location}: no documents evaluated, no metric returned "
                              "(the task's data is empty?)")
    where = (out, checkpoint.model, checkpoint.name, task)
    results_io.part_path(*where).unlink(missing_ok=True)  # overwriting: old rows must not stand beside new samples
    records.write_samples(out, checkpoint, task, output.get("samples", {}))
    results_io.write_part(*where, rows, settings=settings)


def _any_process_failed(error: Exception | None, launch: Launch) -> Exception | None:
    """With ``--split requests`` every process skips a checkpoint any of them failed to load (out of memory on one
    GPU, say): one going on alone would wait forever for the others at lm-eval's first gather."""
    import torch.distributed as dist

    errors = [None] * launch.world_size
    dist.all_gather_object(errors, None if error is None else f"{type(error).__name__}: {error}")
    if error is not None:
        return error
    rank, message = next(((r, m) for r, m in enumerate(errors) if m is not None), (None, None))
    return None if message is None else RuntimeError(f"process {rank} of the launch could not load it: {message}")


def join_process_group() -> None:
    """The launch's process group, which ``--split requests`` hands every process the same checkpoint through and
    lm-eval gathers each task's results with."""
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    from e2lm_bench.evaluation.prefix_lm import join_cpu_processes

    join_cpu_processes()
    PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))  # as the Accelerator HFLM builds reads it


def seed_as_simple_evaluate(task_dict: dict, seed: list[int | None]) -> None:
    """The seeding lm-eval's ``simple_evaluate`` does before evaluating, redone for every checkpoint and task:
    otherwise each checkpoint would draw other few-shot demonstrations."""
    import random

    import numpy as np
    from lm_eval.utils import set_torch_seed

    python_seed, numpy_seed, torch_seed, fewshot_seed = seed
    if python_seed is not None:
        random.seed(python_seed)
    if numpy_seed is not None:
        np.random.seed(numpy_seed)
    if torch_seed is not None:
        set_torch_seed(torch_seed)
    for task in task_dict["tasks"].values():
        task.set_fewshot_seed(seed=fewshot_seed)
