"""``e2lm-bench eval``: the lm-eval command line with this package's tasks already on the include path.

lm-eval 0.4.13 has no plugin discovery for tasks, so this wrapper hands lm-eval a ``TaskManager`` that
also scans our task folder. When every requested task is ours it skips lm-eval's built-in catalogue
(about 14,000 tasks, ~5 s per call). Everything else is lm-eval's own CLI, unchanged.
"""

from __future__ import annotations

import difflib
import logging
import os
import sys
from functools import lru_cache
from pathlib import Path

from e2lm_bench.errors import UserError
from e2lm_bench.evaluation.model_args import parse_model_args
from e2lm_bench.evaluation.pipeline_rule import pipeline_settings
from e2lm_bench.launch import current_launch
from e2lm_bench.taskdata.readers import DataError
from e2lm_bench.taskdata.sources import DATA_DIR_ENV

LM_EVAL_SUBCOMMANDS = {"run", "ls", "list", "validate"}
NO_DOCS = "did not find any docs"  # lm-eval's ValueError for a task with nothing to evaluate
DEFAULT_BATCH_SIZE = "auto"  # lm-eval's default of 1 is ~8x slower on minimal pairs; auto caps at 64


def tasks_dir() -> Path:
    from e2lm_bench.lm_eval_tasks import TASKS_DIR

    return TASKS_DIR


@lru_cache(maxsize=1)
def own_task_manager():
    """A TaskManager over our folder only (milliseconds, unlike the full catalogue)."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_defaults=False, include_path=str(tasks_dir()))


def own_task_names() -> list[str]:
    return sorted(own_task_manager().all_subtasks + own_task_manager().all_groups)


def only_own_tasks(names: list[str]) -> bool:
    """True when every requested name (or pattern) is one of our tasks or groups."""
    manager = own_task_manager()
    return bool(names) and all(not name.endswith(".yaml") and manager.match_tasks([name]) for name in names)


def _option_value(argv: list[str], *flags: str) -> str | None:
    for i, arg in enumerate(argv):
        for flag in flags:
            if arg == flag and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(flag + "="):
                return arg.split("=", 1)[1]
    return None


class _DropCustomDatasetHint(logging.Filter):
    """lm-eval logs a hint about ``--metadata`` for every task loaded through ``custom_dataset``; ours need none."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Custom kwargs can be passed" not in record.getMessage()


def silence_custom_dataset_hint() -> None:
    task_logger = logging.getLogger("lm_eval.api.task")
    if not any(isinstance(f, _DropCustomDatasetHint) for f in task_logger.filters):
        task_logger.addFilter(_DropCustomDatasetHint())


def task_requests(names: list[str], include_path: str | None = None, limit: int | None = None) -> list:
    """The Instances lm-eval's evaluator would hand a model for these tasks or groups of ours (few-shot seed 1234,
    lm-eval's default), for comparing and timing models on exactly those requests."""
    silence_custom_dataset_hint()
    instances = []
    for _, task in sorted(task_manager_class(skip_builtin=True)(include_path=include_path).load(names)["tasks"].items()):
        if task.get_config("num_fewshot") is None:
            task.set_config(key="num_fewshot", value=0)
        task.set_fewshot_seed(seed=1234)
        task.build_all_requests(limit=limit, rank=0, world_size=1)
        instances += task.instances
    return instances


def task_manager_class(skip_builtin: bool):
    """lm-eval's TaskManager, also scanning our folder (and maybe not the built-ins), reading local data.

    Hub-declared tasks of ours (early_science) are loaded from E2LM_DATA_DIR when it is set.
    """
    import lm_eval.tasks

    from e2lm_bench.evaluation.registration import registered_source

    base = lm_eval.tasks.TaskManager
    if getattr(base, "_e2lm_bench", False):
        base = base.__bases__[0]
    ours = str(tasks_dir())
    # After `e2lm-bench register` the built-in index already holds our tasks: adding our folder again
    # would index each task twice (one "overrides existing task" warning per task).
    ours_in_defaults = not skip_builtin and registered_source() == tasks_dir() and _registration_refreshed()

    class TaskManagerWithOurTasks(base):
        _e2lm_bench = True

        def __init__(self, *args, include_path=None, include_defaults=True, **kwargs):
            extra = [] if include_path is None else [include_path] if isinstance(include_path, (str, Path)) else list(include_path)
            defaults = include_defaults and not skip_builtin
            ours_needed = not (defaults and ours_in_defaults)
            super().__init__(
                *args, include_path=[ours, *extra] if ours_needed else extra or None, include_defaults=defaults, **kwargs
            )

        def load(self, tasks, *args, **kwargs):
            specs = [tasks] if isinstance(tasks, (str, dict)) else list(tasks)
            local = [(isinstance(s, str) and local_task_config(s)) or s for s in specs]
            try:
                return super().load(local, *args, **kwargs)
            except OSError as err:  # datasets' ConnectionError offline: lm-eval's own message is a bare Hub id
                raise _task_download_failed([s for s in specs if isinstance(s, str)], err) from err

    return TaskManagerWithOurTasks


def _registration_refreshed() -> bool:
    """Bring a stale registration of ours up to date (one line says so); False when it cannot be, so the caller
    adds our folder itself and no task file added since is missed. Of several launched processes only the first
    writes lm-eval's folder; the others read our folder directly."""
    from e2lm_bench.evaluation.registration import register, stale_registration

    stale = stale_registration(source=tasks_dir())
    if stale is None:
        return True
    if not current_launch().is_main:
        return False
    try:
        register(source=tasks_dir())
    except UserError as err:
        print(f"e2lm-bench: {stale}; {err}. Run `e2lm-bench register` where you can.", file=sys.stderr)
        return False
    print(f"e2lm-bench: {stale}; refreshed it.", file=sys.stderr)
    return True


def local_task_config(name: str) -> dict | None:
    """The config of a Hub-declared task of ours, pointed at E2LM_DATA_DIR; None when not applicable."""
    from e2lm_bench.taskdata.sources import HUB_TASK_FOLDERS, local_data_dir, local_split_overrides

    if name not in HUB_TASK_FOLDERS or local_data_dir() is None:
        return None
    from lm_eval.tasks._yaml_loader import load_yaml

    folder = HUB_TASK_FOLDERS[name]
    config = load_yaml(str(tasks_dir() / folder / f"{name}.yaml"), resolve_func=True)
    return {**config, **local_split_overrides(config, folder)}


def _task_download_failed(names: list[str], err: OSError) -> DataError:
    """Which tasks could not fetch their data, and, for ours, where local data would go."""
    from e2lm_bench.taskdata.sources import HUB_TASK_FOLDERS, download_failed

    ours = [name for name in names if name in HUB_TASK_FOLDERS]
    if ours:
        return download_failed(f"the data of {', '.join(ours)}", f"{HUB_TASK_FOLDERS[ours[0]]}/test.jsonl and dev.jsonl", err)
    return DataError(f"could not download the data of {', '.join(names) or 'the tasks'}: {type(err).__name__}: {err}")


def _install_task_manager(skip_builtin: bool) -> None:
    """Make lm-eval's CLI build our TaskManager."""
    import lm_eval.tasks

    lm_eval.tasks.TaskManager = task_manager_class(skip_builtin)


def prepare_argv(argv: list[str]) -> tuple[list[str], bool]:
    """lm-eval's argv with our defaults added, and whether the built-in catalogue can be skipped."""
    argv = list(argv)
    data_dir = _option_value(argv, "--data-dir")
    if data_dir is not None:
        index = next(i for i, a in enumerate(argv) if a == "--data-dir" or a.startswith("--data-dir="))
        del argv[index : index + (1 if "=" in argv[index] else 2)]
        os.environ[DATA_DIR_ENV] = str(resolve_data_dir(data_dir))
    subcommand = argv[0] if argv and argv[0] in LM_EVAL_SUBCOMMANDS else "run"
    if subcommand != "run" or any(a in ("-h", "--help") for a in argv):
        return argv, False
    if _option_value(argv, "--batch_size", "--batch-size", "-b") is None:
        argv += ["--batch_size", DEFAULT_BATCH_SIZE]
    tasks = _option_value(argv, "--tasks", "-t")
    names = [name.strip() for name in tasks.split(",") if name.strip()] if tasks else []
    include_path = _option_value(argv, "--include_path", "--include-path")
    given = _option_value(argv, "--model_args", "--model-args")
    model_args = parse_model_args(given or "")
    dtype, notes = pipeline_settings(names, _option_value(argv, "--model") or "hf", model_args.get("dtype"))
    for note in notes if current_launch().is_main else ():
        print(f"note: {note}", file=sys.stderr)
    if dtype != model_args.get("dtype"):  # the pipeline's float32 for BabyLM 2025 tasks
        argv = _with_model_arg(argv, given, f"dtype={dtype}")
    return argv, include_path is None and only_own_tasks(names)


def _with_model_arg(argv: list[str], given: str | None, extra: str) -> list[str]:
    """``argv`` with ``extra`` (k=v) added to its --model_args, or a --model_args of its own."""
    if given is None:
        return [*argv, "--model_args", extra]
    joined = f"{given},{extra}" if given else extra
    out = list(argv)
    for i, arg in enumerate(out):
        if arg in ("--model_args", "--model-args") and i + 1 < len(out):
            out[i + 1] = joined
            return out
        if arg.startswith(("--model_args=", "--model-args=")):
            out[i] = f"{arg.split('=', 1)[0]}={joined}"
            return out
    return out


def resolve_data_dir(value: str) -> Path:
    if value == "sample":
        from e2lm_bench.taskdata.sample import SAMPLE_DATA_DIR

        return SAMPLE_DATA_DIR
    return Path(value).expanduser().resolve()


def run(argv: list[str]) -> int:
    """Run lm-eval's CLI on ``argv``; user errors become one clear line and exit status 2."""
    from lm_eval.__main__ import cli_evaluate

    import e2lm_bench.evaluation.prefix_lm  # noqa: F401  (registers --model hf-prefix)

    try:
        argv, skip_builtin = prepare_argv(argv)
        _install_task_manager(skip_builtin)
        silence_custom_dataset_hint()
        sys.argv = ["e2lm-bench eval", *argv]
        cli_evaluate()
    except DataError as err:
        print(f"e2lm-bench eval: data error: {err}", file=sys.stderr)
        return 2
    except ValueError as err:
        if NO_DOCS in str(err):
            launch = current_launch()
            fewer = f", or fewer documents than the {launch.world_size} processes" if launch.launched else ""
            print(f"e2lm-bench eval: a task has no documents to evaluate (--limit 0, or empty data{fewer})", file=sys.stderr)
            return 2
        if not str(err).startswith("Tasks not found"):
            raise
        print(_not_found_report(str(err)), file=sys.stderr)
        return 2
    return 0


def _not_found_report(message: str) -> str:
    """lm-eval's "Tasks not found": why each task of ours failed to load, and close matches for the other names."""
    missing = [name.strip() for name in message.split(":", 1)[1].split(",")]
    broken = broken_tasks()
    lines = [f"e2lm-bench eval: task {name} could not be loaded: {broken[name]}" for name in missing if name in broken]
    unknown = [name for name in missing if name not in broken]
    if unknown:
        lines.append(f"e2lm-bench eval: Tasks not found: {', '.join(unknown)}.{_suggestions(unknown)}")
    return "\n".join(lines)


def _suggestions(missing: list[str]) -> str:
    close = sorted({m for name in missing for m in difflib.get_close_matches(name, own_task_names(), n=3)})
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    families = sorted(folder.name for folder in tasks_dir().iterdir() if any(folder.glob("*.yaml")))
    return hint + f" Our tasks: {', '.join(families)} (`e2lm-bench eval ls tasks` lists all)."


def broken_tasks() -> dict[str, str]:
    """Our task and group names whose YAML lm-eval's index skips, each with "<file>: <reason>".

    lm-eval's TaskIndex drops a YAML that fails to load with only a debug log, so such a task is just
    "not found"; this repeats the index's loading step on our folder to say why.
    """
    from lm_eval.tasks._index import TaskIndex
    from lm_eval.tasks._yaml_loader import load_yaml

    broken = {}
    for path in sorted(tasks_dir().glob("**/*.yaml")):
        try:
            TaskIndex.process_cfg(load_yaml(path, resolve_func=False), path, {})
        except Exception as err:  # whatever the index skips
            broken[_declared_name(path)] = f"{path}: {' '.join(str(err).split())}"
    return broken


def _declared_name(path: Path) -> str:
    """The task or group a YAML names itself (its includes unread), else its file stem."""
    from lm_eval.tasks._yaml_loader import load_yaml

    try:
        config = load_yaml(path, resolve_func=False, recursive=False)
    except Exception:  # unparsable: the file name is all there is
        return path.stem
    name = config.get("group", config.get("task"))
    return name if isinstance(name, str) else path.stem
