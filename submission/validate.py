"""The checks a task folder must pass before it goes to E2LM; each refusal names the check and the place.

The organizers apply the patch to their fork (lm-eval 0.4.9), install nothing else, load the data from
the Hugging Face Hub, accept 100 to 15,000 items and reject prompts that contain their answer
(the competition's rules page and announcement, and its fork
tiiuae/lm-evaluation-harness-competition). Every check below stands for one of these facts, so a
submission fails here, in seconds, rather than on their side.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from e2lm_bench.errors import UserError
from e2lm_bench.taskdata.e2lm_rules import MAX_DOCS, MIN_DOCS, answer_in_prompt
from e2lm_bench.taskdata.sources import DATA_DIR_ENV, HUB_TASK_FOLDERS, local_split_overrides

LEAK_EXAMPLES = 5
# A Hub repository id; datasets' own builders (json, csv, parquet, ...) have no owner part.
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")
# Hooks that need this package would fail on the organizers' side, where only lm-eval is installed.
OWN_CODE = re.compile(r"^\s*(?:from|import)\s+(?:e2lm_bench|lm_eval_tasks)\b|!function\s+(?:e2lm_bench|lm_eval_tasks)\.", re.M)
SKIPPED = ("__pycache__", "*.pyc")
FORK_BASE_VERSION = "0.4.9"
PACKAGE_PARENT = Path(__file__).resolve().parents[1]


class SubmissionError(UserError):
    """The task cannot be submitted as it is; the message says which check failed and where."""


@dataclass(frozen=True)
class Validation:
    task_name: str
    hub_dataset: str
    doc_count: int
    split: str
    metric: str  # as the user gave it
    result_key: str  # the key lm-eval's results use for it, e.g. ``margin,none``
    local_data: dict | None  # the json override used for the local copy under E2LM_DATA_DIR, else None


class _FunctionAsText(yaml.SafeLoader):
    """Reads task YAML without importing hooks: ``!function utils.fn`` stays the text ``utils.fn``."""


_FunctionAsText.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))


def _read_yaml(path: Path):
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_FunctionAsText)
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise SubmissionError(f"{path}: not readable YAML ({err}); lm-eval would skip it without a word") from err


def _yaml_files(root: Path) -> list[Path]:
    """The files lm-eval's scanner reads as tasks: every ``*.yaml`` below ``root``."""
    return sorted(p for p in root.rglob("*.yaml") if "__pycache__" not in p.relative_to(root).parts)


def is_hub_id(value) -> bool:
    return isinstance(value, str) and HUB_ID.fullmatch(value) is not None


def find_task_yaml(task_name: str, root: Path | None = None) -> Path:
    """The YAML below ``root`` (default: our task folder) whose ``task:`` is ``task_name``."""
    if root is None:
        from e2lm_bench.evaluation.harness import tasks_dir

        root = tasks_dir()
    found, names = [], set()
    for path in _yaml_files(root):
        try:
            config = yaml.load(path.read_text(encoding="utf-8"), Loader=_FunctionAsText)
        except (yaml.YAMLError, UnicodeDecodeError):
            continue  # another task's problem; the chosen folder is checked in full later
        name = config.get("task") if isinstance(config, dict) else None
        if isinstance(name, str):
            names.add(name)
            if name == task_name:
                found.append(path)
    if not found:
        close = difflib.get_close_matches(task_name, sorted(names), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; tasks there: {', '.join(sorted(names)) or 'none'}"
        raise SubmissionError(f"no YAML with `task: {task_name}` under {root}{hint}")
    if len(found) > 1:
        raise SubmissionError(f"task {task_name!r} is defined twice: {', '.join(map(str, found))}")
    return found[0]


def check_files(task_dir: Path) -> None:
    """Every ``*.yaml`` is a task or group, includes stay inside the folder under non-.yaml names, no file needs our package."""
    for path in sorted(p for p in task_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        text = path.read_bytes().decode("utf-8", errors="replace")
        if DATA_DIR_ENV in text:
            raise SubmissionError(f"{path}: mentions {DATA_DIR_ENV}, which exists only here; the organizers read the Hub dataset")
        match = OWN_CODE.search(text)
        if match:
            raise SubmissionError(
                f"{path}: {match.group(0).strip()!r} needs e2lm-bench, but the organizers run the folder with only lm-eval installed"
            )
    configs = {path: _read_yaml(path) for path in _yaml_files(task_dir)}
    seen: set[Path] = set()
    for path, config in configs.items():
        if isinstance(config, dict) and {"task", "group"} & set(config):
            _check_includes(path, config, task_dir, seen)
    for path, config in configs.items():
        if not isinstance(config, dict) or not {"task", "group"} & set(config):
            raise SubmissionError(
                f"{path}: a .yaml file without `task:` or `group:`; lm-eval's scanner loads every *.yaml as a task, "
                f"so a template must not end in .yaml (e.g. {path.stem})"
            )


def _check_includes(path: Path, config: dict, task_dir: Path, seen: set[Path]) -> None:
    includes = config.get("include") or []
    for include in [includes] if isinstance(includes, str) else includes:
        if str(include).endswith((".yaml", ".yml")):
            raise SubmissionError(
                f"{path}: `include: {include}` ends in .yaml; the organizers' scanner would load the template as a task "
                f"(rename it without the ending, e.g. {Path(include).stem})"
            )
        target = (path.parent / include).resolve()
        if not target.is_relative_to(task_dir.resolve()) or not target.is_file():
            raise SubmissionError(f"{path}: `include: {include}` is not a file inside {task_dir}; the patch carries only that folder")
        if target not in seen:
            seen.add(target)
            included = _read_yaml(target)
            if isinstance(included, dict):
                _check_includes(target, included, task_dir, seen)


def check_data_source(config: dict, task_yaml: Path) -> str:
    """The Hub dataset the task declares; a custom loader or a local path cannot run on the organizers' side."""
    if "custom_dataset" in config:
        raise SubmissionError(
            f"{task_yaml}: `custom_dataset` loads the data with code of ours; the organizers load `dataset_path` "
            "from the Hugging Face Hub with only lm-eval installed"
        )
    path = config.get("dataset_path")
    if not is_hub_id(path) or (task_yaml.parent / path).exists() or Path(path).expanduser().exists():
        raise SubmissionError(
            f"{task_yaml}: dataset_path {path!r} is not a Hugging Face Hub dataset (owner/name); the organizers load the "
            "data from the Hub (push it there, then name it with --dataset owner/name)"
        )
    return path


def local_data_overrides(config: dict, task_yaml: Path, task_name: str) -> dict | None:
    """json data files for the task's splits from E2LM_DATA_DIR (any folder: a staged copy, a test fixture)."""
    return local_split_overrides(config, HUB_TASK_FOLDERS.get(task_name, task_yaml.parent.name))


class _DropShadowingWarning(logging.Filter):
    """The folder under check is meant to shadow our own copy of the task; lm-eval's warning about that is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "overrides existing task" not in record.getMessage()


def load_task(task_dir: Path, task_yaml: Path, task_name: str, local_data: dict | None):
    """The task as lm-eval's TaskManager indexes and builds it from ``task_dir`` (on the local copy if given)."""
    from lm_eval.tasks._yaml_loader import load_yaml

    from e2lm_bench.evaluation.harness import task_manager_class

    index_log = logging.getLogger("lm_eval.tasks._index")
    drop = _DropShadowingWarning()
    index_log.addFilter(drop)
    try:
        manager = task_manager_class(skip_builtin=True)(include_path=str(task_dir))
    finally:
        index_log.removeFilter(drop)
    entry = manager.task_index.get(task_name)
    if entry is None or entry.yaml_path is None or Path(entry.yaml_path).resolve() != task_yaml.resolve():
        raise SubmissionError(f"lm-eval's TaskManager does not find task {task_name!r} in {task_dir}")
    spec = task_name if local_data is None else {**load_yaml(task_yaml, resolve_func=True), **local_data}
    try:
        return manager.load(spec)["tasks"][task_name]
    except UserError:
        raise
    except Exception as err:
        hint = "" if local_data else f" (offline? set {DATA_DIR_ENV} to check a local copy of the data)"
        raise SubmissionError(f"lm-eval cannot load task {task_name!r} from {task_dir}: {type(err).__name__}: {err}{hint}") from err


def gold_texts(task, doc) -> list[str]:
    """The answer text(s) of a document: the gold choice for multiple choice, else the target itself."""
    target = task.doc_to_target(doc)
    targets = target if isinstance(target, list) else [target]
    if task.OUTPUT_TYPE == "multiple_choice":
        choices = task.doc_to_choice(doc)
        targets = [choices[t] if isinstance(t, int) else t for t in targets]
    return [str(t).strip() for t in targets if str(t).strip()]


def leaking_docs(task) -> list[int]:
    """Indices of evaluation documents whose prompt contains a gold answer as a whole word (any case)."""
    found = []
    for index, doc in enumerate(task.eval_docs):
        prompt = str(task.doc_to_text(doc))
        if any(answer_in_prompt(gold, prompt) for gold in gold_texts(task, doc)):
            found.append(index)
    return found


def metric_key(task, metric: str) -> str:
    """The results key (``name,filter``) of a metric the task reports, given as ``name`` or ``name,filter``."""
    name, _, filter_name = metric.partition(",")
    filters = [f["name"] for f in task.config.filter_list or []] or ["none"]
    reported = sorted(task.aggregation())
    if name not in reported or ("," in metric and filter_name not in filters):
        choices = ", ".join(f"{m} ({m},{f})" for m in reported for f in filters)
        raise SubmissionError(f"task {task.config.task!r} does not report metric {metric!r}; it reports {choices}")
    return f"{name},{filter_name or filters[0]}"


def validate_task(task_dir: str | Path, task_name: str, metric: str) -> Validation:
    """Run every check on the folder that will be submitted; refuse at the first that fails."""
    from lm_eval.tasks._yaml_loader import load_yaml

    task_dir = Path(task_dir).resolve()
    task_yaml = find_task_yaml(task_name, task_dir)
    check_files(task_dir)
    config = load_yaml(task_yaml, resolve_func=False)
    hub_dataset = check_data_source(config, task_yaml)
    local_data = local_data_overrides(config, task_yaml, task_name)
    task = load_task(task_dir, task_yaml, task_name, local_data)
    split = task.config.test_split or task.config.validation_split
    count = len(task.eval_docs)
    if not MIN_DOCS <= count <= MAX_DOCS:
        raise SubmissionError(f"task {task_name!r}: {count} documents in split {split!r}; E2LM accepts {MIN_DOCS} to {MAX_DOCS:,}")
    leaks = leaking_docs(task)
    if leaks:
        shown = ", ".join(map(str, leaks[:LEAK_EXAMPLES])) + (", ..." if len(leaks) > LEAK_EXAMPLES else "")
        raise SubmissionError(
            f"task {task_name!r}: the gold answer occurs in the prompt of {len(leaks)} of {count} documents "
            f"(indices {shown}); the organizers' leakage check rejects such items"
        )
    return Validation(task_name, hub_dataset, count, split, metric, metric_key(task, metric), local_data)


def check_lm_eval_049(patch: str | Path, sdist_dir: str | Path, validation: Validation) -> dict:
    """Apply the patch to a copy of lm-eval 0.4.9 (the fork's base) and list and run the task there.

    The run happens in a subprocess whose ``lm_eval`` is the patched copy, with a fixed-score model, so a
    YAML key or hook that 0.4.9 lacks shows up here. Returns what the subprocess saw.
    """
    sdist_dir = Path(sdist_dir).resolve()
    if not (sdist_dir / "lm_eval" / "__init__.py").is_file():
        raise SubmissionError(f"{sdist_dir}: not an extracted lm-eval source tree (no lm_eval/__init__.py)")
    with tempfile.TemporaryDirectory(prefix="e2lm-lm-eval-049-") as tmp:
        root = Path(tmp).resolve() / "src"
        shutil.copytree(sdist_dir / "lm_eval", root / "lm_eval", ignore=shutil.ignore_patterns(*SKIPPED))
        env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(root.parent)}  # a plain tree: never a repository above it
        for check in (["--check"], []):
            applied = subprocess.run(["git", "apply", *check, str(Path(patch).resolve())], cwd=root, env=env,
                                     capture_output=True, text=True)
            if applied.returncode:
                raise SubmissionError(f"the patch does not apply to the lm-eval tree in {sdist_dir}: {applied.stderr.strip()}")
        report_path = root.parent / "report.json"
        code = (f"import sys; sys.path.append({str(PACKAGE_PARENT)!r}); "
                "from e2lm_bench.submission.validate import smoke_run; smoke_run(*sys.argv[1:])")
        args = [validation.task_name, json.dumps(validation.local_data), str(report_path)]
        run = subprocess.run([sys.executable, "-c", code, *args], cwd=root, env={**env, "PYTHONPATH": str(root)},
                             capture_output=True, text=True)
        if run.returncode:
            tail = "\n".join(run.stderr.strip().splitlines()[-15:])
            raise SubmissionError(f"task {validation.task_name!r} fails under the lm-eval in {sdist_dir}:\n{tail}")
        report = json.loads(report_path.read_text())
        lm_eval_file = Path(report["lm_eval_file"]).resolve()
        if not lm_eval_file.is_relative_to(root):
            raise SubmissionError(f"the check imported lm_eval from {lm_eval_file}, not from the patched copy of {sdist_dir}")
        report["lm_eval_file"] = lm_eval_file.relative_to(root).as_posix()
    if report["version"] != FORK_BASE_VERSION:
        raise SubmissionError(f"{sdist_dir} holds lm-eval {report['version']}, not {FORK_BASE_VERSION} (the fork's base)")
    if not report["listed"]:
        raise SubmissionError(f"lm-eval {FORK_BASE_VERSION}'s TaskManager does not list task {validation.task_name!r} after the patch")
    if report["docs"] != validation.doc_count:
        raise SubmissionError(
            f"lm-eval {FORK_BASE_VERSION} evaluated {report['docs']} documents; the check here counted {validation.doc_count}"
        )
    if validation.result_key not in report["metrics"]:
        reported = sorted(report["metrics"])
        raise SubmissionError(f"under lm-eval {FORK_BASE_VERSION} the task reports {reported}, not {validation.result_key!r}")
    return report


def _alias_renamed_transformers_class() -> None:
    """lm-eval 0.4.9 reads ``transformers.AutoModelForVision2Seq`` at import; transformers 5 calls it AutoModelForImageTextToText.

    Importing ``transformers.processing_utils`` re-executes the package and replaces ``sys.modules["transformers"]``,
    so it comes first and the alias goes on the module lm-eval will see. The model class itself is never used here.
    """
    import transformers.processing_utils  # noqa: F401

    module = sys.modules["transformers"]
    if not hasattr(module, "AutoModelForVision2Seq"):
        module.AutoModelForVision2Seq = module.AutoModelForImageTextToText


def smoke_run(task_name: str, local_data_json: str, report_path: str) -> None:
    """The subprocess side of :func:`check_lm_eval_049`, written against lm-eval 0.4.9's API.

    Lists the task with 0.4.9's TaskManager, builds it from its YAML (on the local copy of the data when
    given) and evaluates it with a model whose log-likelihoods depend only on the continuation's text.
    """
    _alias_renamed_transformers_class()
    import lm_eval
    from lm_eval.api.model import LM
    from lm_eval.evaluator import evaluate
    from lm_eval.tasks import TaskManager, get_task_dict
    from lm_eval.utils import load_yaml_config

    class FixedScores(LM):
        def loglikelihood(self, requests):
            return [(-len(r.args[1]) / 10 - sum(map(ord, r.args[1])) % 7 / 100, False) for r in requests]

        def loglikelihood_rolling(self, requests):
            raise NotImplementedError

        def generate_until(self, requests):
            raise NotImplementedError

    manager = TaskManager()
    report = {"lm_eval_file": lm_eval.__file__, "version": lm_eval.__version__, "listed": task_name in manager.all_tasks,
              "metrics": {}, "docs": 0}
    if report["listed"]:
        config = load_yaml_config(manager.task_index[task_name]["yaml_path"], mode="full")
        config.update(json.loads(local_data_json) or {})
        out = evaluate(lm=FixedScores(), task_dict=get_task_dict([config], manager), bootstrap_iters=0, log_samples=False)
        report["metrics"] = {k: v for k, v in out["results"][task_name].items() if k != "alias"}
        report["docs"] = out["n-samples"][task_name]["effective"]
    Path(report_path).write_text(json.dumps(report))
