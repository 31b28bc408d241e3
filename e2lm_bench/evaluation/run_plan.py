"""What a trajectory run is: its settings, and the checkpoints and task objects they name.

Kept apart from the runner so that the CLI reads the defaults (``TrajectoryConfig``, ``SCORERS``) without
importing lm-eval's evaluator or model code; lm-eval is imported inside the functions that need it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from e2lm_bench.errors import UserError
from e2lm_bench.evaluation.series import Checkpoint, SeriesError, discover, select
from e2lm_bench.launch import Launch
from e2lm_bench.taskdata.readers import DataError

SET_BY_THE_RUNNER = ("pretrained", "subfolder", "tokenizer", "device", "batch_size")


class TrajectoryError(UserError):
    """A run that cannot start (bad series, unknown task); nothing has been written."""


def lm_eval_default_seed() -> list[int | None]:
    """lm-eval's default seeds (python, numpy, torch, few-shot), read from lm-eval so they cannot drift."""
    from lm_eval.config.evaluate_config import DEFAULT_SEED

    return list(DEFAULT_SEED)


SCORERS = ("hf-prefix", "hf")
# parts: each process evaluates (checkpoint, task) parts of its own; requests: every process takes part in every
# part, lm-eval splitting each task's documents among them (a model too large to evaluate one checkpoint per process)
SPLITS = ("parts", "requests")


@dataclass
class TrajectoryConfig:
    series: list[str]
    tasks: list[str]
    output: Path
    limit: int | None = None
    batch_size: int = 64
    device: str | None = None
    shard: tuple[int, int] | None = None  # (I, N): only the I-th of N parts; None: the whole plan, shared by claims
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
    cleanup: bool = False  # remove a Hub checkpoint's downloaded files once its parts are written
    scorer: str = "hf-prefix"  # of SCORERS; equal log-likelihoods, hf-prefix runs a shared context once
    split: str = "parts"  # of SPLITS: how the processes of a launch share the work


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"I/N"`` with 0 <= I < N (SLURM: ``$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT``); None when not given."""
    if text is None:
        return None
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
    """All checkpoints of all series, in a fixed order (every process's, which :func:`work_order` then arranges)."""
    if not config.tasks:
        raise TrajectoryError("no tasks given")
    if config.limit is not None and config.limit <= 0:
        raise TrajectoryError(f"--limit {config.limit}: evaluates no documents; give a count, or a fraction in (0, 1)")
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


def work_order(checkpoints: list[Checkpoint], shard: tuple[int, int] | None, launch: Launch) -> list[Checkpoint]:
    """The checkpoints a process may evaluate, in the order it tries them.

    An explicit shard is the I-th of N disjoint parts, nothing else. Otherwise every checkpoint is open to every
    process and claims decide; a launched process starts with its rank's share, so processes of equal speed each
    take their own share, and then helps with the rest.
    """
    if shard is not None:
        index, count = shard
        return checkpoints[index::count]
    own = checkpoints[launch.rank::launch.world_size]
    return own + [c for c in checkpoints if c not in own]


def load_tasks(names: list[str], include_path: str | None = None, num_fewshot: int | None = None,
               skip_unavailable: bool = False):
    """Task objects per requested name, built once for the whole run; unknown names are an error.

    With ``skip_unavailable`` a task whose data cannot be read (a ``DataError``) is left out and the result is
    ``(task objects, {name: one-line cause})``; without it the error is raised.

    ``num_fewshot`` overrides each task's as ``simple_evaluate`` does (not where a task fixes it at 0).
    """
    from e2lm_bench.evaluation.harness import only_own_tasks, silence_custom_dataset_hint, task_manager_class

    silence_custom_dataset_hint()
    manager = task_manager_class(skip_builtin=only_own_tasks(names) and not include_path)(include_path=include_path)
    unknown = [name for name in names if not manager.match_tasks([name])]
    if unknown:
        raise TrajectoryError(f"unknown task(s): {', '.join(unknown)} (see `e2lm-bench eval ls tasks`)")
    from e2lm_bench.lm_eval_tasks.babylm_2025.catalog import suite_families

    task_dicts, unavailable = {}, {}
    pending = list(names)
    while pending:
        name = pending.pop(0)
        try:
            task_dicts[name] = manager.load([name])
        except DataError as err:  # one task's missing or bad data must not stop the others
            if not skip_unavailable:
                raise
            families = suite_families(name)
            if families and name not in unavailable:  # the suite's readable families still run
                unavailable[name] = f"{err} (its other families run on their own)"
                pending[:0] = [f for f in families if f not in names]
            else:
                unavailable[name] = str(err)
    for task_dict in task_dicts.values():
        for task in task_dict["tasks"].values():
            if num_fewshot is not None and task.get_config("num_fewshot") != 0:
                task.set_config(key="num_fewshot", value=num_fewshot)
            elif task.get_config("num_fewshot") is None:
                task.set_config(key="num_fewshot", value=0)
    return (task_dicts, unavailable) if skip_unavailable else task_dicts
