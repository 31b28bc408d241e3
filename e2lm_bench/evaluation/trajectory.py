"""Evaluate lm-eval tasks over checkpoint series, resumably, into the shared results table.

What a shell loop of ``lm_eval`` calls pays once per checkpoint is paid once per run here: imports,
the task index, the task objects and their documents, and tokenising every request (as long as the
checkpoints share a tokenizer). Per checkpoint only the weights are loaded and the forward passes run.

Each checkpoint is loaded by lm-eval's ``HFLM`` (device, dtype, ``--model-args``), and every task is
seeded before it is evaluated exactly as ``simple_evaluate`` seeds it, so few-shot demonstrations are
the same at every checkpoint and equal to lm-eval's own.

Each (model, checkpoint, task) is written atomically as soon as it finishes (``results.write_part``),
with the settings that shaped its numbers; a rerun skips what is written with the same settings and
refuses to mix in other ones, so a killed run loses at most the checkpoint in flight. A checkpoint
that fails to load is recorded and skipped. ``shard=(i, n)`` runs the i-th of n disjoint parts of the
work (a SLURM job array); shards write into the same folder and merge by it.

While one checkpoint is evaluated, the next is fetched in the background (downloaded from the Hub, its
weights read into memory), so a Hub series costs about max(download, evaluation) per checkpoint rather
than their sum.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import os
import threading
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.devices import default_device
from e2lm_bench.errors import UserError
from e2lm_bench.evaluation import results as results_io
from e2lm_bench.evaluation.series import Checkpoint, SeriesError, discover, has_weights, local_folder, select, warm
from e2lm_bench.redaction import redacted
from e2lm_bench.taskdata.sources import DATA_DIR_ENV

log = logging.getLogger(__name__)

SET_BY_THE_RUNNER = ("pretrained", "subfolder", "tokenizer", "device", "batch_size")


class TrajectoryError(UserError):
    """A run that cannot start (bad series, unknown task); nothing has been written."""


def lm_eval_default_seed() -> list[int | None]:
    """lm-eval's default seeds (python, numpy, torch, few-shot), read from lm-eval so they cannot drift."""
    from lm_eval.config.evaluate_config import DEFAULT_SEED

    return list(DEFAULT_SEED)


SCORERS = ("hf-prefix", "hf")


@dataclass
class TrajectoryConfig:
    series: list[str]
    tasks: list[str]
    output: Path
    limit: int | None = None
    batch_size: int = 64
    device: str | None = None
    shard: tuple[int, int] = (0, 1)
    dtype: str | None = None
    model_args: dict = field(default_factory=dict)  # for HFLM and from_pretrained, as lm-eval's --model_args
    num_fewshot: int | None = None
    seed: list[int | None] = field(default_factory=lm_eval_default_seed)
    overwrite: bool = False
    include_path: str | None = None
    every: int | None = None
    max_step: int | None = None
    tokens_per_step: float | None = None
    hub_token: str | None = field(default=None, repr=False)
    prefetch: bool = True  # fetch the next checkpoint while this one is evaluated
    scorer: str = "hf-prefix"  # of SCORERS; equal log-likelihoods, hf-prefix runs a shared context once


@dataclass
class TrajectorySummary:
    evaluated: list[tuple[str, str, str]]
    skipped: int
    failed: list[dict]
    results_csv: Path
    unverified: int = 0  # parts kept although written without their settings (older versions)


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` with 0 <= I < N (SLURM: ``$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT``)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise TrajectoryError(f"--shard {text!r}: expected I/N, e.g. 0/4") from None
    if not 0 <= index < count:
        raise TrajectoryError(f"--shard {text!r}: I must be in 0..N-1")
    return index, count


def parse_seed(text: str | None) -> list[int | None]:
    """lm-eval's ``--seed``: one int for all four generators, or python,numpy,torch,fewshot ('None': unset)."""
    from lm_eval._cli.utils import _int_or_none_list_arg_type

    if text is None:
        return lm_eval_default_seed()
    try:
        return _int_or_none_list_arg_type(3, 4, ",".join(map(str, lm_eval_default_seed())), text)
    except ValueError as err:
        raise TrajectoryError(f"--seed {text!r}: {err}") from None


def model_arguments(config: TrajectoryConfig) -> dict:
    """How every checkpoint is loaded besides where it is: --model-args with --dtype folded in."""
    args = dict(config.model_args)
    taken = [key for key in SET_BY_THE_RUNNER if key in args]
    if taken:
        raise TrajectoryError(f"--model-args {taken[0]}={args[taken[0]]}: set by the series or the runner's options")
    if config.dtype and args.setdefault("dtype", config.dtype) != config.dtype:
        raise TrajectoryError(f"--dtype {config.dtype} and --model-args dtype={args['dtype']}: give one of them")
    args.setdefault("dtype", "auto")
    return args


def plan(config: TrajectoryConfig) -> list[Checkpoint]:
    """All checkpoints of all series, in a fixed order (every shard's, which ``config.shard`` then cuts)."""
    checkpoints = []
    for spec in config.series:
        try:
            found = discover(spec, tokens_per_step=config.tokens_per_step, token=config.hub_token)
        except SeriesError as err:
            raise TrajectoryError(str(err)) from None
        checkpoints += select(found, every=config.every, max_step=config.max_step)
    names = [(c.model, c.name) for c in checkpoints]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise TrajectoryError(f"two series share a name: {sorted(duplicates)[0][0]} (rename one folder)")
    revisions = sorted({c.model for c in checkpoints if c.revision})
    if "revision" in config.model_args and revisions:
        raise TrajectoryError(f"--model-args revision=...: the checkpoints of {revisions[0]} are revisions themselves")
    return checkpoints


def load_tasks(names: list[str], include_path: str | None = None, num_fewshot: int | None = None) -> dict[str, dict]:
    """Task objects per requested name, built once for the whole run; unknown names are an error.

    ``num_fewshot`` overrides each task's as ``simple_evaluate`` does (not where a task fixes it at 0).
    """
    from e2lm_bench.evaluation.harness import only_own_tasks, silence_custom_dataset_hint, task_manager_class

    silence_custom_dataset_hint()
    manager = task_manager_class(skip_builtin=only_own_tasks(names) and not include_path)(include_path=include_path)
    unknown = [name for name in names if not manager.match_tasks([name])]
    if unknown:
        raise TrajectoryError(f"unknown task(s): {', '.join(unknown)} (see `e2lm-bench eval ls tasks`)")
    task_dicts = {name: manager.load([name]) for name in names}
    for task_dict in task_dicts.values():
        for task in task_dict["tasks"].values():
            if num_fewshot is not None and task.get_config("num_fewshot") != 0:
                task.set_config(key="num_fewshot", value=num_fewshot)
            elif task.get_config("num_fewshot") is None:
                task.set_config(key="num_fewshot", value=0)
    return task_dicts


def part_settings(config: TrajectoryConfig, task_dict: dict) -> dict:
    """What shapes a part's numbers besides the weights, written beside it so that a rerun cannot mix settings."""
    from lm_eval.evaluator_utils import get_sample_size
    from lm_eval.utils import handle_non_serializable, hash_string

    def documents(task) -> str:
        docs = [doc for _, doc in task.doc_iterator(limit=get_sample_size(task, config.limit))]
        return hash_string(json.dumps(docs, default=handle_non_serializable, sort_keys=True, ensure_ascii=False))

    settings = {
        "limit": config.limit, "seed": list(config.seed), "model_args": model_arguments(config),
        "data_dir": os.environ.get(DATA_DIR_ENV),
        "tasks": {name: {"version": task.VERSION, "num_fewshot": task.get_config("num_fewshot"),
                         "documents": documents(task)} for name, task in sorted(task_dict["tasks"].items())},
    }
    return json.loads(json.dumps(settings, default=str))  # as it reads back from the file


def settings_difference(recorded: dict, current: dict) -> tuple[str, object, object] | None:
    """The first setting that differs, named as the user sets it; other documents are named by their folder."""
    def flat(settings: dict) -> dict:
        named = {"limit": settings.get("limit"), "seed": settings.get("seed"), **settings.get("model_args", {})}
        for task, values in settings.get("tasks", {}).items():
            named |= {f"num_fewshot[{task}]": values.get("num_fewshot"), f"version[{task}]": values.get("version")}
        return named

    old, new = flat(recorded), flat(current)
    for name in {**new, **old}:
        if old.get(name) != new.get(name):
            return name, old.get(name), new.get(name)
    old_tasks, new_tasks = recorded.get("tasks", {}), current["tasks"]
    if sorted(old_tasks) != sorted(new_tasks):
        return "subtasks", ",".join(sorted(old_tasks)), ",".join(sorted(new_tasks))
    for task, values in new_tasks.items():
        if old_tasks[task].get("documents") != values["documents"]:
            if recorded.get("data_dir") != current["data_dir"]:
                return "data_dir", recorded.get("data_dir"), current["data_dir"]
            return f"documents[{task}]", str(old_tasks[task].get("documents"))[:12], values["documents"][:12]
    return None


def run_trajectory(config: TrajectoryConfig) -> TrajectorySummary:
    checkpoints = plan(config)
    index, count = config.shard
    if not config.tasks:
        raise TrajectoryError("no tasks given")
    out = Path(config.output)
    with _quiet_libraries():
        task_dicts = load_tasks(config.tasks, config.include_path, config.num_fewshot)
        settings = {task: part_settings(config, task_dict) for task, task_dict in task_dicts.items()}
    if not config.overwrite:  # over every shard's checkpoints: shards share the folder
        _refuse_other_settings(out, checkpoints, settings)
    mine = checkpoints[index::count]
    pending, unverified = _pending(out, mine, settings, config.overwrite)
    skipped = sum(len(config.tasks) for _ in mine) - sum(len(t) for t in pending.values())
    evaluated, failed = [], []
    if pending:
        with _quiet_libraries():
            _evaluate_pending(config, out, pending, task_dicts, settings, evaluated, failed)
    out.mkdir(parents=True, exist_ok=True)
    _write_failures_json(out)
    return TrajectorySummary(evaluated, skipped, failed, results_io.write_results_csv(out), unverified)


def _done_parts(out: Path, checkpoints, settings: dict):
    """(checkpoint, task, recorded settings or None, difference or None) for every part already written."""
    for checkpoint in checkpoints:
        for task, current in settings.items():
            where = (out, checkpoint.model, checkpoint.name, task)
            if results_io.is_done(*where):
                recorded = results_io.read_settings(*where)
                yield checkpoint, task, recorded, settings_difference(recorded, current) if recorded else None


def _refuse_other_settings(out: Path, checkpoints, settings: dict) -> None:
    """Stop before anything is evaluated if a part was written with other settings."""
    for *_, difference in _done_parts(out, checkpoints, settings):
        if difference:
            name, old, new = difference
            raise TrajectoryError(f"{out} was run with {name}={old}; this run has {name}={new} "
                                  "(use --overwrite to re-evaluate)")


def _pending(out: Path, checkpoints, settings: dict, overwrite: bool) -> tuple[dict, int]:
    """The parts to evaluate, and how many done parts without recorded settings are kept (unless overwriting)."""
    pending, unverified = {c: list(settings) for c in checkpoints}, 0
    for checkpoint, task, recorded, difference in _done_parts(out, checkpoints, settings):
        if not overwrite or (recorded is not None and not difference):  # without --overwrite, differences stopped the run
            pending[checkpoint].remove(task)
            unverified += recorded is None
    return {c: tasks for c, tasks in pending.items() if tasks}, unverified


def _evaluate_pending(config, out, pending, task_dicts, settings, evaluated, failed) -> None:
    runner = _Runner(config)
    progress = tqdm(total=sum(len(t) for t in pending.values()), desc="checkpoints x tasks", unit="task")
    order = list(pending)
    for k, (checkpoint, folder) in enumerate(_fetched(runner.fetch, order, ahead=config.prefetch)):
        tasks = pending[checkpoint]
        following = f", prefetching {order[k + 1].name}" if config.prefetch and k + 1 < len(order) else ""
        progress.set_postfix_str(f"{checkpoint.model}:{checkpoint.name}{following}")
        lm = None  # the previous checkpoint's weights go before the next one's arrive
        try:
            lm = runner.lm_for(checkpoint, folder.result())
        except Exception as err:  # a broken checkpoint must not stop the series
            failed.append(_record_failure(out, checkpoint, err, config.hub_token))
            progress.update(len(tasks))
            continue
        _clear_failure(out, checkpoint)
        for task in tasks:
            evaluate_checkpoint_task(lm, checkpoint, task, task_dicts[task], out, config, settings[task])
            evaluated.append((checkpoint.model, checkpoint.name, task))
            progress.update(1)
        results_io.write_results_csv(out)
    progress.close()


def _fetched(fetch, checkpoints: list[Checkpoint], ahead: bool):
    """Each checkpoint with the future of its fetch, done; with ``ahead``, the next one's fetch is already running.

    Only one fetch runs at a time and the next starts when this one is handed over, so at most one checkpoint
    waits ahead of the one evaluated: neither downloads nor memory pile up. A fetch's error is kept in its
    future and raised when that checkpoint's turn comes.
    """
    following = None
    for k, checkpoint in enumerate(checkpoints):
        current = following or _in_background(fetch, checkpoint)
        wait([current])
        following = _in_background(fetch, checkpoints[k + 1]) if ahead and k + 1 < len(checkpoints) else None
        yield checkpoint, current


def _in_background(function, *args) -> Future:
    """A daemon thread rather than an executor's: an interrupted run exits without waiting for a download."""
    future = Future()
    future.set_running_or_notify_cancel()

    def run():
        try:
            future.set_result(function(*args))
        except BaseException as err:  # kept for the main thread, which records it
            future.set_exception(err)

    threading.Thread(target=run, name="e2lm-prefetch", daemon=True).start()
    return future


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
    output = evaluate(lm, task_dict, limit=config.limit, log_samples=True, verbosity="WARNING")
    where = (out, checkpoint.model, checkpoint.name, task)
    results_io.part_path(*where).unlink(missing_ok=True)  # overwriting: old rows must not stand beside new samples
    _write_samples(out, checkpoint, task, output.get("samples", {}))
    results_io.write_part(*where, result_rows(output, checkpoint), settings=settings)


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


def result_rows(output: dict, checkpoint: Checkpoint) -> list[dict]:
    """Tidy rows from lm-eval's results dict: one per (task or group, metric)."""
    rows = []
    for task_name, metrics in {**output.get("results", {}), **output.get("groups", {})}.items():
        for key, value in metrics.items():
            if "," not in key or "_stderr," in key or not isinstance(value, (int, float)):
                continue
            metric, filter_name = key.split(",", 1)
            stderr = metrics.get(f"{metric}_stderr,{filter_name}")
            rows.append({
                "model": checkpoint.model, "checkpoint": checkpoint.name, "step": checkpoint.step,
                "tokens": checkpoint.tokens, "words": checkpoint.words, "task": task_name,
                "metric": metric if filter_name == "none" else key, "value": float(value),
                "stderr": float(stderr) if isinstance(stderr, (int, float)) and math.isfinite(stderr) else None,
            })
    return rows


def _write_samples(out: Path, checkpoint: Checkpoint, task: str, samples: dict) -> None:
    """Per-item log-likelihoods and metrics, for item analysis (one JSON object per line).

    ``requests_hash`` covers every request of the item (contexts with their few-shot demonstrations, and
    continuations), so a user can check that every checkpoint saw the same prompts.
    """
    from lm_eval.utils import hash_string

    lines = []
    for subtask, items in sorted(samples.items()):
        for item in items:
            record = {"task": subtask, "doc_id": item["doc_id"], "target": item.get("target"),
                      "requests_hash": hash_string(json.dumps(item["arguments"], default=str, ensure_ascii=False))}
            record["loglikelihoods"] = [
                float(resp[0][0]) if isinstance(resp[0], (tuple, list)) else resp[0] for resp in item["resps"]
            ] if item.get("resps") and isinstance(item["resps"][0], list) else None
            for metric in item.get("metrics", []):
                if metric in item:
                    record[metric] = item[metric]
            lines.append(json.dumps(record, default=str))
    atomic_write_text(results_io.samples_path(out, checkpoint.model, checkpoint.name, task), "\n".join(lines) + "\n")


def _failure_path(out: Path, checkpoint: Checkpoint) -> Path:
    return out / results_io.FAILURES / results_io.safe_name(checkpoint.model) / f"{results_io.safe_name(checkpoint.name)}.json"


def _record_failure(out: Path, checkpoint: Checkpoint, err: Exception, secret: str | None = None) -> dict:
    """A Hub client's error may echo the request's token: it is redacted before it is written or shown."""
    text = redacted(str(err), secret).strip()
    message = text.splitlines()[0] if text else type(err).__name__
    record = {"model": checkpoint.model, "checkpoint": checkpoint.name, "location": checkpoint.location,
              "error": f"{type(err).__name__}: {message}"}
    atomic_write_text(_failure_path(out, checkpoint), json.dumps(record))
    tqdm.write(f"skipped {checkpoint.location}: {record['error']}")
    return record


def _clear_failure(out: Path, checkpoint: Checkpoint) -> None:
    _failure_path(out, checkpoint).unlink(missing_ok=True)


def read_failures(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((Path(out) / results_io.FAILURES).glob("*/*.json"))]


def _write_failures_json(out: Path) -> None:
    atomic_write_text(out / results_io.FAILURES_JSON, json.dumps(read_failures(out), indent=1))


class _Runner:
    """Loads checkpoints one by one, keeping the tokenizer and the tokenised requests while they fit.

    HFLM loads each checkpoint from its local folder (a Hub checkpoint's is the fetched snapshot), so device,
    dtype and model arguments (``parallelize``, ``device_map``, ``attn_implementation``, ...) take the path they
    take in lm-eval, and nothing is downloaded twice.
    """

    def __init__(self, config: TrajectoryConfig):
        self.config = config
        self.model_args = model_arguments(config)
        self.device = config.device or default_device()
        self.tokenizer = None
        self.fingerprint = None
        self.encoded: dict = {}

    def fetch(self, checkpoint: Checkpoint) -> Path:
        """The checkpoint's folder with its files on this machine and its weights in memory; safe off the main thread."""
        gguf = self.model_args.get("gguf_file")
        folder = local_folder(checkpoint, revision=self.model_args.get("revision"), token=self.config.hub_token,
                              **({"weights": (gguf,)} if gguf else {}))
        warm(folder)
        return folder

    def lm_for(self, checkpoint: Checkpoint, folder: Path | None = None):
        from transformers import AutoTokenizer

        from e2lm_bench.evaluation.series_lm import PrefixSeriesLM, SeriesLM, tokenizer_fingerprint

        folder = self.fetch(checkpoint) if folder is None else folder
        if not has_weights(folder):
            raise FileNotFoundError(f"no weight file (*.safetensors, *.bin, ...) in {checkpoint.location}")
        tokenizer = AutoTokenizer.from_pretrained(
            str(folder), revision=self.model_args.get("revision"),
            trust_remote_code=self.model_args.get("trust_remote_code", False),
        )
        fingerprint = tokenizer_fingerprint(tokenizer)
        if fingerprint != self.fingerprint:  # a new tokenizer: earlier tokenisations do not apply
            self.tokenizer, self.fingerprint, self.encoded = tokenizer, fingerprint, {}
        model = PrefixSeriesLM if self.config.scorer == "hf-prefix" else SeriesLM
        return model(
            pretrained=str(folder), tokenizer=self.tokenizer, batch_size=self.config.batch_size,
            device=self.device, encoded=self.encoded, **self.model_args,
        )
