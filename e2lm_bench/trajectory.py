"""Evaluate lm-eval tasks over checkpoint series, resumably, into the shared results table.

What a shell loop of ``lm_eval`` calls pays once per checkpoint is paid once per run here: imports,
the task index, the task objects and their documents, and tokenising every request (as long as the
checkpoints share a tokenizer). Per checkpoint only the weights are loaded and the forward passes run.

Each (model, checkpoint, task) is written atomically as soon as it finishes (``results.write_part``);
a rerun skips what is written, so a killed run loses at most the checkpoint in flight. A checkpoint
that fails to load is recorded and skipped. ``shard=(i, n)`` runs the i-th of n disjoint parts of the
work (a SLURM job array); shards write into the same folder and merge by it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from lm_eval.models.huggingface import HFLM
from tqdm.auto import tqdm

from e2lm_bench import results as results_io
from e2lm_bench.errors import UserError
from e2lm_bench.series import Checkpoint, SeriesError, discover, has_weights, select

log = logging.getLogger(__name__)

SAMPLES = "samples"
FAILURES = "failures"
FAILURES_JSON = "failures.json"


class TrajectoryError(UserError):
    """A run that cannot start (bad series, unknown task); nothing has been written."""


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
    trust_remote_code: bool = False
    include_path: str | None = None
    every: int | None = None
    max_step: int | None = None
    tokens_per_step: float | None = None
    hub_token: str | None = field(default=None, repr=False)


@dataclass
class TrajectorySummary:
    evaluated: list[tuple[str, str, str]]
    skipped: int
    failed: list[dict]
    results_csv: Path


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` with 0 <= I < N (SLURM: ``$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT``)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise TrajectoryError(f"--shard {text!r}: expected I/N, e.g. 0/4") from None
    if not 0 <= index < count:
        raise TrajectoryError(f"--shard {text!r}: I must be in 0..N-1")
    return index, count


def plan(config: TrajectoryConfig) -> list[Checkpoint]:
    """All checkpoints of all series, in a fixed order, cut to this shard."""
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
    index, count = config.shard
    return checkpoints[index::count]


def load_tasks(names: list[str], include_path: str | None = None) -> dict[str, dict]:
    """Task objects per requested name, built once for the whole run; unknown names are an error."""
    from e2lm_bench.harness import only_own_tasks, silence_custom_dataset_hint, task_manager_class

    silence_custom_dataset_hint()
    manager = task_manager_class(skip_builtin=only_own_tasks(names) and not include_path)(include_path=include_path)
    unknown = [name for name in names if not manager.match_tasks([name])]
    if unknown:
        raise TrajectoryError(f"unknown task(s): {', '.join(unknown)} (see `e2lm-bench eval ls tasks`)")
    return {name: manager.load([name]) for name in names}


def run_trajectory(config: TrajectoryConfig) -> TrajectorySummary:
    checkpoints = plan(config)
    if not config.tasks:
        raise TrajectoryError("no tasks given")
    out = Path(config.output)
    pending = {c: [t for t in config.tasks if not results_io.is_done(out, c.model, c.name, t)] for c in checkpoints}
    pending = {c: tasks for c, tasks in pending.items() if tasks}
    skipped = sum(len(config.tasks) for _ in checkpoints) - sum(len(t) for t in pending.values())
    evaluated, failed = [], []
    if pending:
        with _quiet_libraries():
            _evaluate_pending(config, out, pending, evaluated, failed)
    out.mkdir(parents=True, exist_ok=True)
    _write_failures_json(out)
    return TrajectorySummary(evaluated, skipped, failed, results_io.write_results_csv(out))


def _evaluate_pending(config, out, pending, evaluated, failed) -> None:
    task_dicts = load_tasks(config.tasks, config.include_path)
    runner = _Runner(config)
    progress = tqdm(total=sum(len(t) for t in pending.values()), desc="checkpoints x tasks", unit="task")
    for checkpoint, tasks in pending.items():
        progress.set_postfix_str(f"{checkpoint.model}:{checkpoint.name}")
        try:
            lm = runner.lm_for(checkpoint)
        except Exception as err:  # a broken checkpoint must not stop the series
            failed.append(_record_failure(out, checkpoint, err))
            progress.update(len(tasks))
            continue
        _clear_failure(out, checkpoint)
        for task in tasks:
            evaluate_checkpoint_task(lm, checkpoint, task, task_dicts[task], out, config.limit)
            evaluated.append((checkpoint.model, checkpoint.name, task))
            progress.update(1)
        results_io.write_results_csv(out)
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


def evaluate_checkpoint_task(lm, checkpoint: Checkpoint, task: str, task_dict: dict, out: Path, limit) -> None:
    """Run one task on one loaded checkpoint; write its samples, then its rows (the 'done' marker)."""
    from lm_eval.evaluator import evaluate

    output = evaluate(lm, task_dict, limit=limit, log_samples=True, verbosity="WARNING")
    _write_samples(out, checkpoint, task, output.get("samples", {}))
    results_io.write_part(out, checkpoint.model, checkpoint.name, task, result_rows(output, checkpoint))


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
    """Per-item log-likelihoods and metrics, for item analysis (one JSON object per line)."""
    lines = []
    for subtask, items in sorted(samples.items()):
        for item in items:
            record = {"task": subtask, "doc_id": item["doc_id"], "target": item.get("target")}
            record["loglikelihoods"] = [
                float(resp[0][0]) if isinstance(resp[0], (tuple, list)) else resp[0] for resp in item["resps"]
            ] if item.get("resps") and isinstance(item["resps"][0], list) else None
            for metric in item.get("metrics", []):
                if metric in item:
                    record[metric] = item[metric]
            lines.append(json.dumps(record, default=str))
    path = out / SAMPLES / results_io.safe_name(checkpoint.model) / results_io.safe_name(checkpoint.name)
    results_io.atomic_write_text(path / f"{results_io.safe_name(task)}.jsonl", "\n".join(lines) + "\n")


def _failure_path(out: Path, checkpoint: Checkpoint) -> Path:
    return out / FAILURES / results_io.safe_name(checkpoint.model) / f"{results_io.safe_name(checkpoint.name)}.json"


def _record_failure(out: Path, checkpoint: Checkpoint, err: Exception) -> dict:
    message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    record = {"model": checkpoint.model, "checkpoint": checkpoint.name, "location": checkpoint.location,
              "error": f"{type(err).__name__}: {message}"}
    results_io.atomic_write_text(_failure_path(out, checkpoint), json.dumps(record))
    tqdm.write(f"skipped {checkpoint.location}: {record['error']}")
    return record


def _clear_failure(out: Path, checkpoint: Checkpoint) -> None:
    _failure_path(out, checkpoint).unlink(missing_ok=True)


def read_failures(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((Path(out) / FAILURES).glob("*/*.json"))]


def _write_failures_json(out: Path) -> None:
    results_io.atomic_write_text(out / FAILURES_JSON, json.dumps(read_failures(out), indent=1))


class _Runner:
    """Loads checkpoints one by one, keeping the tokenizer and the tokenised requests while they fit."""

    def __init__(self, config: TrajectoryConfig):
        self.config = config
        self.tokenizer = None
        self.fingerprint = None
        self.encoded: dict = {}

    def lm_for(self, checkpoint: Checkpoint):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not has_weights(checkpoint):
            raise FileNotFoundError(f"no weight file (*.safetensors, *.bin, ...) in {checkpoint.location}")
        where = {"subfolder": checkpoint.subfolder or "", "revision": checkpoint.revision,
                 "trust_remote_code": self.config.trust_remote_code, "token": self.config.hub_token}
        tokenizer = AutoTokenizer.from_pretrained(checkpoint.pretrained, **where)
        fingerprint = _tokenizer_fingerprint(tokenizer)
        if fingerprint != self.fingerprint:  # a new tokenizer: earlier tokenisations do not apply
            self.tokenizer, self.fingerprint, self.encoded = tokenizer, fingerprint, {}
        model = AutoModelForCausalLM.from_pretrained(checkpoint.pretrained, dtype=self.config.dtype or "auto", **where)
        return SeriesLM(
            pretrained=model, tokenizer=self.tokenizer, batch_size=self.config.batch_size,
            device=self.config.device or ("cuda" if _cuda() else "cpu"), encoded=self.encoded,
        )


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _tokenizer_fingerprint(tokenizer) -> str:
    """Equal for tokenizers that encode every text the same way (vocabulary, merges, normaliser, specials)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    state = backend.to_str() if backend is not None else json.dumps(sorted(tokenizer.get_vocab().items()))
    specials = json.dumps([tokenizer.__class__.__name__, tokenizer.all_special_tokens, tokenizer.padding_side])
    return hashlib.sha256((state + specials).encode("utf-8")).hexdigest()


class SeriesLM(HFLM):
    """HFLM with the request tokenisation shared across the checkpoints of a series."""

    def __init__(self, *, encoded: dict, **kwargs):
        super().__init__(**kwargs)
        self._encoded = encoded

    def loglikelihood(self, requests, disable_tqdm: bool = True):
        # The same dispatch as lm-eval's TemplateLM.loglikelihood, memoised per request.
        new_requests = []
        for request in requests:
            context, continuation = request.args
            encoded = self._encoded.get(request.args)
            if encoded is None:
                if context == "":
                    cont = self.tok_encode(continuation, add_special_tokens=False)
                    prefix = self.prefix_token_id
                    encoded = ([prefix], cont) if prefix != cont[0] else (cont[:1], cont[1:])
                else:
                    encoded = self._encode_pair(context, continuation)
                self._encoded[request.args] = encoded
            new_requests.append(((context, continuation), *encoded))
        return self._loglikelihood_tokens(new_requests, disable_tqdm=True)
