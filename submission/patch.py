"""``evaluation.patch``: our task folder as a git diff that adds ``lm_eval/tasks/<folder>/`` to the competition fork.

The diff is always made in a throwaway repository, so the user's fork checkout is only read: with
``--fork`` the throwaway repository borrows the fork's objects (git alternates) and diffs against its HEAD;
without it the diff adds new files, which applies to any checkout of the fork that lacks the folder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from e2lm_bench.submission.validate import SKIPPED, SubmissionError, is_hub_id

FORK_COMMIT = "ff249c33"  # tiiuae/lm-evaluation-harness-competition, the commit the organizers apply patches to
TASKS_PREFIX = "lm_eval/tasks"
DATASET_LINE = re.compile(r"^dataset_path:[ \t]*[^#\n]*?(?P<comment>[ \t]+#[^\n]*)?$", re.M)  # top level only
# Variables that would point git at another repository or index than the throwaway one.
_GIT_ENV_DROPPED = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES")


@dataclass(frozen=True)
class Patch:
    text: str
    files: tuple[str, ...]  # git's name-status lines, e.g. "A\tlm_eval/tasks/early_science/utils.py"
    base: str | None  # the fork commit diffed against, None for a new-files patch
    warnings: tuple[str, ...]


def _git(*args: str, cwd: Path) -> bytes:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_ENV_DROPPED}
    env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")  # the same patch whatever ~/.gitconfig says
    run = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True)
    if run.returncode:
        message = run.stderr.decode("utf-8", errors="replace").strip()
        raise SubmissionError(f"git {' '.join(args)} (in {cwd}) failed: {message}")
    return run.stdout


def stage_folder(task_dir: Path, dest_root: Path, task_yaml: Path, dataset: str | None = None) -> Path:
    """A copy of the task folder as it will be submitted: no caches, and ``dataset`` as its data source if given."""
    staged = dest_root / task_dir.name
    shutil.copytree(task_dir, staged, ignore=shutil.ignore_patterns(*SKIPPED))
    if dataset is not None:
        set_dataset_path(staged / task_yaml.relative_to(task_dir), dataset)
    return staged


def set_dataset_path(task_yaml: Path, hub_id: str) -> None:
    """Point the task at ``hub_id`` by editing its ``dataset_path:`` line (comments kept), or add the line.

    A value set only in an included template is overridden here, since the task's own keys win.
    """
    if not is_hub_id(hub_id):
        raise SubmissionError(f"--dataset {hub_id!r}: expected a Hugging Face Hub dataset id, owner/name")
    text = task_yaml.read_text(encoding="utf-8")
    lines = DATASET_LINE.findall(text)
    if len(lines) > 1:
        raise SubmissionError(f"{task_yaml}: {len(lines)} top-level dataset_path lines; keep one")
    if lines:
        text = DATASET_LINE.sub(lambda m: f"dataset_path: {hub_id}{m.group('comment') or ''}", text)
    else:
        text += ("" if text.endswith("\n") or not text else "\n") + f"dataset_path: {hub_id}\n"
    task_yaml.write_text(text, encoding="utf-8")


def build_patch(staged: Path, fork: str | Path | None = None) -> Patch:
    """The diff that makes ``lm_eval/tasks/<folder>/`` equal the staged folder, on top of ``fork``'s HEAD if given."""
    target = f"{TASKS_PREFIX}/{staged.name}"
    with tempfile.TemporaryDirectory(prefix="e2lm-patch-") as tmp:
        repo = Path(tmp)
        _git("init", "-q", cwd=repo)
        base, warnings = (None, ()) if fork is None else _borrow_fork(Path(fork), repo)
        if base is not None:
            _git("read-tree", base, cwd=repo)  # the fork's tree in the index, nothing checked out
        shutil.copytree(staged, repo / target)
        _git("add", "-A", "--", target, cwd=repo)
        against = [base] if base else []
        data = _git("diff", "--cached", "--binary", *against, cwd=repo)
        names = _git("diff", "--cached", "--name-status", *against, cwd=repo).decode("utf-8")
    if not data:
        raise SubmissionError(f"nothing to submit: {target} in the fork already equals the task folder")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SubmissionError(f"{staged}: a text file that is not UTF-8 (lm-eval reads task files as UTF-8): {err}") from err
    return Patch(text, tuple(names.splitlines()), base, warnings)


def _borrow_fork(fork: Path, repo: Path) -> tuple[str, tuple[str, ...]]:
    """Give the throwaway ``repo`` read access to the fork's objects; the fork's HEAD and any warning."""
    if not fork.is_dir():
        raise SubmissionError(f"--fork {fork}: not a directory")
    try:
        fork = Path(_git("rev-parse", "--show-toplevel", cwd=fork).decode().strip())
        head = _git("rev-parse", "--verify", "HEAD^{commit}", cwd=fork).decode().strip()
    except SubmissionError as err:
        raise SubmissionError(f"--fork {fork}: not a git checkout with a commit ({err})") from err
    if _git("ls-tree", head, "--", TASKS_PREFIX, cwd=fork).strip() == b"":
        raise SubmissionError(f"--fork {fork}: HEAD has no {TASKS_PREFIX}/; expected a checkout of lm-evaluation-harness")
    objects = _git("rev-parse", "--path-format=absolute", "--git-path", "objects", cwd=fork).decode().strip()
    (repo / ".git" / "objects" / "info" / "alternates").write_text(objects + "\n")
    warnings = ()
    if not head.startswith(FORK_COMMIT):
        warnings = (
            f"--fork {fork}: HEAD is {head[:12]}, not {FORK_COMMIT}; the patch is made against HEAD, "
            f"but the organizers apply it to {FORK_COMMIT}",
        )
    return head, warnings
