"""``e2lm-bench register``: let the installed lm-eval find our tasks without ``--include_path``.

lm-eval 0.4.13 reads no plugin entry points for tasks: a default ``TaskManager`` scans only its own
``lm_eval/tasks/`` folder, with ``glob("**/*.yaml")``, which on Python 3.11 does not descend into a
symlinked directory. So registering makes a real folder ``lm_eval/tasks/e2lm_bench/`` whose files are
symlinks to ours. An editable install's edits show through at once, and lm-eval resolves a YAML's
symlink before reading it, so ``include:`` and ``!function utils.x`` are looked up beside our real
files. A manifest in that folder records what was made, so undoing removes exactly that.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from e2lm_bench.errors import UserError

FOLDER_NAME = "e2lm_bench"
MANIFEST_NAME = ".e2lm_bench_registration.json"  # not *.yaml, so lm-eval's index never reads it
_SKIPPED_PARTS = {"__pycache__"}


@dataclass
class Registration:
    """What ``register`` or ``unregister`` did in lm-eval's task folder."""

    folder: Path
    source: Path
    files: list[str]
    changed: bool = True
    kept: list[Path] = field(default_factory=list)  # left in place by unregister: not ours to remove


def lm_eval_tasks_dir() -> Path:
    """lm-eval's own task folder, found without importing lm-eval (which takes seconds)."""
    spec = importlib.util.find_spec("lm_eval.tasks")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("lm-eval is not installed in this environment")
    return Path(list(spec.submodule_search_locations)[0])


def _our_tasks_dir() -> Path:
    from e2lm_bench.lm_eval_tasks import TASKS_DIR

    return TASKS_DIR


def task_files(source: Path) -> list[str]:
    """Every file of our task folders, relative to ``source`` (not the package's own ``__init__.py``)."""
    return sorted(
        path.relative_to(source).as_posix()
        for path in source.glob("*/**/*")
        if path.is_file() and path.suffix != ".pyc" and not _SKIPPED_PARTS & set(path.relative_to(source).parts)
    )


def _read_manifest(folder: Path) -> dict | None:
    """The manifest of an earlier registration; None when the folder does not exist; an error when it is foreign."""
    if not folder.exists() and not folder.is_symlink():
        return None
    manifest = folder / MANIFEST_NAME
    if folder.is_symlink() or not manifest.is_file():
        raise UserError(f"{folder} exists but was not made by `e2lm-bench register`; leaving it alone")
    try:
        return json.loads(manifest.read_text(encoding="utf-8"))
    except ValueError as err:
        raise UserError(f"{manifest} is unreadable ({err}); remove {folder} yourself") from None


def _require_writable(source: Path, *paths: Path) -> None:
    for path in paths:
        if not os.access(path, os.W_OK | os.X_OK):
            raise UserError(
                f"cannot write to lm-eval's task folder {path}; run as a user who can, "
                f"or use `e2lm-bench eval` or `lm_eval --include_path {source}` instead"
            )


def _is_current(folder: Path, manifest: dict, source: Path, files: list[str]) -> bool:
    return (
        manifest.get("source") == str(source) and manifest.get("files") == files
        and all((folder / f).is_symlink() and os.readlink(folder / f) == str(source / f) for f in files)
    )


def registered_source(lm_eval_dir: Path | None = None) -> Path | None:
    """The task folder lm-eval's own index already holds through ``register``, if any."""
    try:
        manifest = (Path(lm_eval_dir) if lm_eval_dir else lm_eval_tasks_dir()) / FOLDER_NAME / MANIFEST_NAME
        return Path(json.loads(manifest.read_text(encoding="utf-8"))["source"])
    except (OSError, ValueError, KeyError, TypeError, UserError):
        return None


def stale_registration(lm_eval_dir: Path | None = None, source: Path | None = None) -> str | None:
    """What changed in our task folder since it was registered (task files added or removed, the package moved),
    or None when the registration mirrors it, is absent, or belongs to another install."""
    root = Path(lm_eval_dir) if lm_eval_dir else lm_eval_tasks_dir()
    source = Path(source) if source else _our_tasks_dir()
    folder = root / FOLDER_NAME
    try:
        manifest = _read_manifest(folder)
    except UserError:  # a folder we did not make: not ours to judge
        return None
    if manifest is None or manifest.get("source") != str(source):
        return None
    files = task_files(source)
    if _is_current(folder, manifest, source, files):
        return None
    added, removed = sorted(set(files) - set(manifest["files"])), sorted(set(manifest["files"]) - set(files))
    changes = [f"{len(names)} task file(s) {what} (e.g. {names[0]})" for names, what in ((added, "added"), (removed, "removed"))
               if names]
    return f"our tasks' registration with lm-eval is stale: {', '.join(changes) or 'its links moved'}"


def register(lm_eval_dir: Path | None = None, source: Path | None = None) -> Registration:
    """Mirror our task tree into ``lm_eval_dir/e2lm_bench`` as symlinks; running it again changes nothing."""
    root = Path(lm_eval_dir) if lm_eval_dir else lm_eval_tasks_dir()
    source = Path(source) if source else _our_tasks_dir()
    folder = root / FOLDER_NAME
    files = task_files(source)
    manifest = _read_manifest(folder)
    if manifest is not None and _is_current(folder, manifest, source, files):
        return Registration(folder, source, files, changed=False)
    _require_writable(source, root, *([folder] if manifest is not None else []))
    if manifest is not None:  # an older registration (other source or files): replace it
        unregister(root)
    dirs = sorted({d.as_posix() for f in files for d in Path(f).parents} - {"."}, key=lambda d: (d.count("/"), d))
    try:
        folder.mkdir()
        # Written before the links, so --undo can clean up after a registration that failed half-way.
        (folder / MANIFEST_NAME).write_text(
            json.dumps({"source": str(source), "dirs": dirs, "files": files}, indent=1), encoding="utf-8"
        )
        for d in dirs:
            (folder / d).mkdir()
        for f in files:
            (folder / f).symlink_to(source / f)
    except OSError as err:
        if (folder / MANIFEST_NAME).is_file():
            unregister(root)
        elif folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        raise UserError(f"could not register in {folder}: {err}") from None
    return Registration(folder, source, files)


def unregister(lm_eval_dir: Path | None = None) -> Registration | None:
    """Remove what ``register`` made, and nothing else; None when there is no registration."""
    root = Path(lm_eval_dir) if lm_eval_dir else lm_eval_tasks_dir()
    folder = root / FOLDER_NAME
    manifest = _read_manifest(folder)
    if manifest is None:
        return None
    source = Path(manifest.get("source", ""))
    _require_writable(source, root, folder)
    kept = []
    for f in manifest.get("files", []):
        path = folder / f
        if path.is_symlink():
            path.unlink()
        elif path.exists():  # replaced by someone since: not ours any more
            kept.append(path)
    (folder / MANIFEST_NAME).unlink()
    for d in [*reversed(manifest.get("dirs", [])), "."]:
        try:
            (folder / d).rmdir()
        except FileNotFoundError:
            pass
        except OSError:  # holds files we did not make
            kept.append(folder / d)
    return Registration(folder, source, manifest.get("files", []), kept=kept)
