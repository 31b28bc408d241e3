"""``e2lm-bench register``: plain ``lm_eval`` finds our tasks while registered, and ``--undo`` leaves no trace."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from e2lm_bench.cli import main
from e2lm_bench.errors import UserError
from e2lm_bench.evaluation import registration
from e2lm_bench.lm_eval_tasks import TASKS_DIR
from e2lm_bench.taskdata.sample import SAMPLE_DATA_DIR


def _tree(root: Path) -> dict[str, str]:
    """Every path under root, with a symlink's target, to compare a folder before and after."""
    return {p.relative_to(root).as_posix(): os.readlink(p) if p.is_symlink() else "" for p in sorted(root.rglob("*"))}


@pytest.fixture
def fake_lm_eval(tmp_path) -> Path:
    """A stand-in for lm-eval's task folder, with one built-in task of its own."""
    root = tmp_path / "lm_eval_tasks"
    (root / "builtin").mkdir(parents=True)
    (root / "builtin" / "builtin.yaml").write_text("task: builtin_task\n")
    return root


def test_lm_eval_loads_our_tasks_through_the_links(fake_lm_eval, monkeypatch):
    """lm-eval's index finds the mirrored YAMLs, and `include:` and `!function` resolve beside our real files."""
    from lm_eval.tasks.manager import TaskManager

    done = registration.register(fake_lm_eval)
    assert done.changed and done.files == registration.task_files(TASKS_DIR)
    assert "early_science/_early_science_template" in done.files and "__init__.py" not in done.files
    for name in done.files:
        assert os.readlink(done.folder / name) == str(TASKS_DIR / name)
    ours = TaskManager(include_defaults=False, include_path=str(TASKS_DIR)).all_tasks
    found = TaskManager(include_defaults=False, include_path=str(fake_lm_eval)).all_tasks
    assert set(found) == set(ours) | {"builtin_task"}
    assert {"dialogue_minpairs", "early_science", "lexical_decision", "zorro"} <= set(found)
    monkeypatch.setenv("E2LM_DATA_DIR", str(SAMPLE_DATA_DIR))
    task = TaskManager(include_defaults=False, include_path=str(fake_lm_eval)).load(["dialogue_minpairs_words"])
    task = task["tasks"]["dialogue_minpairs_words"]
    assert task.config.target_delimiter == " "  # from the included _template_yaml
    assert len(list(task.test_docs())) == 40  # utils.load, a !function, read the sample data


def test_register_twice_changes_nothing_and_undo_restores_the_folder(fake_lm_eval):
    before = _tree(fake_lm_eval)
    registration.register(fake_lm_eval)
    manifest = fake_lm_eval / registration.FOLDER_NAME / registration.MANIFEST_NAME
    written = manifest.stat().st_mtime_ns
    again = registration.register(fake_lm_eval)
    assert not again.changed and manifest.stat().st_mtime_ns == written
    undone = registration.unregister(fake_lm_eval)
    assert undone is not None and not undone.kept
    assert _tree(fake_lm_eval) == before
    assert registration.unregister(fake_lm_eval) is None


def test_register_again_follows_added_and_removed_task_files(fake_lm_eval, tmp_path):
    source = tmp_path / "ours"
    shutil.copytree(TASKS_DIR, source, ignore=shutil.ignore_patterns("__pycache__"))
    registration.register(fake_lm_eval, source)
    folder = fake_lm_eval / registration.FOLDER_NAME
    (source / "zorro" / "zorro_new.yaml").write_text("include: _template_yaml\ntask: zorro_new\n")
    (source / "lexical_decision" / "README.md").unlink()
    assert registration.register(fake_lm_eval, source).changed
    assert (folder / "zorro" / "zorro_new.yaml").is_symlink()
    assert not (folder / "lexical_decision" / "README.md").is_symlink()


def test_undo_keeps_files_it_did_not_make(fake_lm_eval):
    done = registration.register(fake_lm_eval)
    mine = done.folder / "zorro" / "my_task.yaml"
    mine.write_text("task: my_task\n")
    undone = registration.unregister(fake_lm_eval)
    assert mine.read_text() == "task: my_task\n"
    assert undone.kept == [done.folder / "zorro", done.folder]
    assert not (done.folder / "zorro" / "_zorro.yaml").exists() and not (done.folder / "early_science").exists()


def test_foreign_or_unwritable_folder_is_refused_in_one_line(fake_lm_eval, monkeypatch, capsys):
    monkeypatch.setattr(registration, "lm_eval_tasks_dir", lambda: fake_lm_eval)
    foreign = fake_lm_eval / registration.FOLDER_NAME
    foreign.mkdir()
    (foreign / "their.yaml").write_text("task: theirs\n")
    for argv in (["register"], ["register", "--undo"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "was not made by `e2lm-bench register`" in err
    assert _tree(foreign) == {"their.yaml": ""}

    shutil.rmtree(foreign)
    monkeypatch.setattr(os, "access", lambda *_: False)  # running as root, permissions cannot say no
    assert main(["register"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write to lm-eval's task folder" in err and "--include_path" in err
    assert not foreign.exists()


@pytest.fixture
def real_lm_eval():
    """lm-eval's own task folder, left as the test found it (an earlier registration is put back)."""
    root = registration.lm_eval_tasks_dir()
    manifest = root / registration.FOLDER_NAME / registration.MANIFEST_NAME
    if (root / registration.FOLDER_NAME).exists() and not manifest.is_file():
        pytest.skip(f"{root / registration.FOLDER_NAME} is not ours")
    if not os.access(root, os.W_OK):
        pytest.skip(f"{root} is not writable")
    earlier = json.loads(manifest.read_text())["source"] if manifest.is_file() else None
    try:
        yield root
    finally:
        if earlier is None:
            registration.unregister(root)
        else:
            registration.register(root, Path(earlier))


def _plain_lm_eval(model: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "E2LM_DATA_DIR": str(SAMPLE_DATA_DIR), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={model}",
         "--tasks", "dialogue_minpairs_words", "--limit", "4", "--device", "cpu", "--output_path", str(cwd / "out")],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )


def test_plain_lm_eval_finds_our_tasks_only_while_registered(real_lm_eval, llama_dir, tmp_path, capsys):
    from lm_eval.tasks.manager import TaskManager  # lm-eval's own class, whatever `e2lm-bench eval` installed

    registration.unregister(real_lm_eval)
    assert main(["register"]) == 0
    printed = capsys.readouterr().out
    assert str(real_lm_eval / "e2lm_bench") in printed and "e2lm-bench register --undo" in printed
    assert {"dialogue_minpairs", "dialogue_minpairs_words", "early_science", "lexical_decision", "zorro"} <= set(
        TaskManager().all_tasks
    )
    registered = _plain_lm_eval(llama_dir, tmp_path)
    assert registered.returncode == 0, registered.stderr[-3000:]
    results = json.loads(next((tmp_path / "out").rglob("results_*.json")).read_text())["results"]
    assert "margin,none" in results["dialogue_minpairs_words"]

    assert main(["register", "--undo"]) == 0
    assert not (real_lm_eval / "e2lm_bench").exists()
    unregistered = _plain_lm_eval(llama_dir, tmp_path)
    assert unregistered.returncode != 0
    assert "Tasks not found: dialogue_minpairs_words" in unregistered.stdout + unregistered.stderr


def test_a_registration_that_fails_half_way_is_rolled_back(fake_lm_eval, monkeypatch):
    before = _tree(fake_lm_eval)
    real_symlink_to = Path.symlink_to

    def symlink_to(self, target, *args):
        if self.name == "_zorro.yaml":
            raise PermissionError(13, "Permission denied", str(self))
        return real_symlink_to(self, target, *args)

    monkeypatch.setattr(Path, "symlink_to", symlink_to)
    with pytest.raises(UserError, match="could not register in .*Permission denied"):
        registration.register(fake_lm_eval)
    assert _tree(fake_lm_eval) == before


def test_eval_does_not_index_our_tasks_twice_when_registered(fake_lm_eval, monkeypatch):
    """With the built-ins indexed and our tasks among them, `e2lm-bench eval` must not add our folder again."""
    import lm_eval.tasks.manager

    from e2lm_bench.evaluation.harness import task_manager_class

    registration.register(fake_lm_eval)
    monkeypatch.setattr(registration, "lm_eval_tasks_dir", lambda: fake_lm_eval)
    scanned = []
    monkeypatch.setattr(lm_eval.tasks.manager.TaskIndex, "build", lambda self, paths: scanned.append(paths) or {})
    task_manager_class(skip_builtin=False)(include_path="/extra")
    assert [str(p) for p in scanned[0]][1:] == ["/extra"]  # lm-eval's own folder, then only the extra one
    registration.unregister(fake_lm_eval)
    task_manager_class(skip_builtin=False)()
    assert [str(p) for p in scanned[1]][1:] == [str(TASKS_DIR)]


def test_a_task_file_added_after_register_is_noticed_and_the_registration_refreshed(fake_lm_eval, tmp_path,
                                                                                     monkeypatch, capsys):
    """`eval` and `trajectory` build their TaskManager through task_manager_class: a stale registration of ours is
    refreshed with one line, or, where lm-eval's folder is read-only, named while our folder is indexed directly."""
    import lm_eval.tasks.manager

    from e2lm_bench.evaluation import harness

    source = tmp_path / "tasks"
    shutil.copytree(TASKS_DIR, source, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(harness, "tasks_dir", lambda: source)
    monkeypatch.setattr(registration, "lm_eval_tasks_dir", lambda: fake_lm_eval)
    registration.register(fake_lm_eval, source)
    assert registration.stale_registration(fake_lm_eval, source) is None
    (source / "zorro" / "zorro_extra.yaml").write_text("include: _template_yaml\ntask: zorro_extra\n")
    stale = registration.stale_registration(fake_lm_eval, source)
    assert stale == "our tasks' registration with lm-eval is stale: 1 task file(s) added (e.g. zorro/zorro_extra.yaml)"
    scanned = []
    monkeypatch.setattr(lm_eval.tasks.manager.TaskIndex, "build", lambda self, paths: scanned.append(paths) or {})
    harness.task_manager_class(skip_builtin=False)()
    assert capsys.readouterr().err == f"e2lm-bench: {stale}; refreshed it.\n"
    assert os.readlink(fake_lm_eval / "e2lm_bench" / "zorro" / "zorro_extra.yaml") == str(source / "zorro" / "zorro_extra.yaml")
    assert registration.stale_registration(fake_lm_eval, source) is None and len(scanned[0]) == 1  # lm-eval's folder
    (source / "zorro" / "zorro_extra.yaml").unlink()
    monkeypatch.setattr(os, "access", lambda *_: False)  # lm-eval's folder read-only
    harness.task_manager_class(skip_builtin=False)()
    err = capsys.readouterr().err
    assert "1 task file(s) removed (e.g. zorro/zorro_extra.yaml)" in err and "Run `e2lm-bench register`" in err
    assert [str(p) for p in scanned[1]][1:] == [str(source)]  # our folder indexed itself, so nothing is missed
