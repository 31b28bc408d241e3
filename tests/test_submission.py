"""./submission.sh: what the zip holds, what the validator refuses, the fork diff, lm-eval 0.4.9, token hygiene."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

from e2lm_bench.lm_eval_tasks import TASKS_DIR
from e2lm_bench.submission.__main__ import main
from e2lm_bench.submission.package import PLACEHOLDER_DATASET, build_submission, data_warnings, summary
from e2lm_bench.submission.patch import FORK_COMMIT, set_dataset_path
from e2lm_bench.submission.validate import SubmissionError, Validation, check_lm_eval_049, leaking_docs, validate_task
from e2lm_bench.taskdata.sample import SAMPLE_DATA_DIR

REPO = Path(__file__).resolve().parents[1]
TASK_DIR = TASKS_DIR / "early_science"
TOKEN = "dummy-secret-token-123"
TASK_FILES = {"early_science.yaml", "_early_science_template", "utils.py", "README.md"}
GIT_IDENTITY = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
SDIST_CACHE = Path.home() / ".cache" / "e2lm-bench-test"


def git(*args, cwd) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CEILING_DIRECTORIES": str(Path(cwd).parent)}
    run = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.parts}


def applied(patch: Path, root: Path) -> dict[str, bytes]:
    """The files a patch creates in an empty plain folder."""
    root.mkdir(parents=True)
    git("apply", str(patch), cwd=root)
    return tree(root)


def sample_rows() -> list[dict]:
    return [json.loads(line) for line in (SAMPLE_DATA_DIR / "early_science" / "test.jsonl").read_text().splitlines()]


def make_task(root: Path, name: str, rows: list[dict] | None = None) -> tuple[Path, Path]:
    """A copy of early_science named ``name`` and an E2LM_DATA_DIR with its data: (task folder, data dir)."""
    folder = root / "tasks" / name
    shutil.copytree(TASK_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    text = (folder / "early_science.yaml").read_text().replace("task: early_science", f"task: {name}")
    (folder / "early_science.yaml").unlink()
    (folder / f"{name}.yaml").write_text(text)
    data = root / "data" / name
    data.mkdir(parents=True)
    shutil.copy(SAMPLE_DATA_DIR / "early_science" / "dev.jsonl", data)
    rows = sample_rows() if rows is None else rows
    (data / "test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder, root / "data"


@pytest.fixture
def sample_env(monkeypatch):
    monkeypatch.setenv("E2LM_DATA_DIR", str(SAMPLE_DATA_DIR))
    monkeypatch.setenv("HF_TOKEN", TOKEN)


@pytest.fixture
def built(sample_env, tmp_path):
    return build_submission("early_science", "margin", tmp_path / "out")


# --- the zip ------------------------------------------------------------------------------------------


def test_zip_holds_patch_and_metadata_with_the_token(built):
    with zipfile.ZipFile(built.zip_path) as archive:
        assert archive.namelist() == ["evaluation.patch", "metadata.yaml"]
        assert archive.read("evaluation.patch") == built.patch_path.read_bytes()
        metadata = yaml.safe_load(archive.read("metadata.yaml"))
    assert metadata == {"task_name": "early_science", "task_metric": "margin,none", "hf_token": TOKEN}
    assert yaml.safe_load(built.metadata_path.read_text()) == metadata
    assert stat.S_IMODE(built.zip_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(built.metadata_path.stat().st_mode) == 0o600
    patch = built.patch_path.read_text()
    added = {line.split(" b/")[-1] for line in patch.splitlines() if line.startswith("diff --git ")}
    assert added == {f"lm_eval/tasks/early_science/{name}" for name in TASK_FILES}
    assert patch.count("new file mode") == len(TASK_FILES)
    assert built.validation.doc_count == 106 and built.validation.result_key == "margin,none"


def test_patch_recreates_the_task_folder_and_the_zip_is_reproducible(built, tmp_path):
    files = applied(built.patch_path, tmp_path / "applied")
    assert files == {f"lm_eval/tasks/early_science/{k}": v for k, v in tree(TASK_DIR).items() if "__pycache__" not in k}
    first = built.zip_path.read_bytes()
    assert build_submission("early_science", "margin", built.output_dir).zip_path.read_bytes() == first


@pytest.mark.parametrize("metric", ["acc_norm", "acc_norm,none"])
def test_metric_is_written_as_the_results_key_and_without_token_is_empty(sample_env, monkeypatch, tmp_path, metric):
    """The organizers read results[task][task_metric], and lm-eval's key carries the filter: acc_norm,none."""
    monkeypatch.delenv("HF_TOKEN")
    result = build_submission("early_science", metric, tmp_path / "out")
    metadata = yaml.safe_load(result.metadata_path.read_text())
    assert metadata == {"task_name": "early_science", "task_metric": "acc_norm,none", "hf_token": ""}
    assert result.validation.result_key == "acc_norm,none" and result.token_chars == 0
    assert "task_metric: acc_norm,none" in summary(result)


def test_warns_about_the_placeholder_dataset_and_the_unopened_hub_dataset(sample_env, tmp_path, capsys):
    assert main(["--task", "early_science", "--metric", "margin", "--output", str(tmp_path / "a")]) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"warning: the patch names the placeholder Hub dataset {PLACEHOLDER_DATASET}; push the data and pass "
        "--dataset owner/name, or the organizers cannot load it",
        f"warning: E2LM_DATA_DIR is set, so the task was checked on the local copy in {SAMPLE_DATA_DIR / 'early_science'} "
        f"and the Hub dataset {PLACEHOLDER_DATASET} was never opened; unset it to check what the organizers will load",
    ]
    assert main(["--task", "early_science", "--metric", "margin", "--output", str(tmp_path / "b"),
                 "--dataset", "someone/science-items"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("warning: E2LM_DATA_DIR is set") and "someone/science-items was never opened" in err[0]


def test_no_data_warning_for_a_real_dataset_read_from_the_hub():
    assert f"dataset_path: {PLACEHOLDER_DATASET}\n" in (TASK_DIR / "early_science.yaml").read_text()
    opened = Validation("early_science", "someone/science-items", 120, "test", "margin", "margin,none", None)
    assert data_warnings(opened) == ()
    placeholder = Validation("early_science", PLACEHOLDER_DATASET, 120, "test", "margin", "margin,none", None)
    assert len(data_warnings(placeholder)) == 1


def test_dataset_option_changes_only_the_dataset_path_line(sample_env, tmp_path):
    plain = build_submission("early_science", "margin", tmp_path / "plain")
    moved = build_submission("early_science", "margin", tmp_path / "moved", dataset="someone/science-items")
    before, after = applied(plain.patch_path, tmp_path / "a"), applied(moved.patch_path, tmp_path / "b")
    task_yaml = "lm_eval/tasks/early_science/early_science.yaml"
    assert {k: v for k, v in before.items() if k != task_yaml} == {k: v for k, v in after.items() if k != task_yaml}
    changed = [(x, y) for x, y in zip(before[task_yaml].decode().splitlines(), after[task_yaml].decode().splitlines()) if x != y]
    assert changed == [("dataset_path: e2lm-bench/early-science", "dataset_path: someone/science-items")]
    assert moved.validation.hub_dataset == "someone/science-items"
    assert "someone/science-items" not in (TASK_DIR / "early_science.yaml").read_text()  # the source is untouched


def test_set_dataset_path_keeps_comments_or_adds_the_key(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("include: _t\ntask: t\ndataset_path: a/b  # where\nnested:\n  dataset_path: keep\n")
    set_dataset_path(path, "c/d")
    assert path.read_text() == "include: _t\ntask: t\ndataset_path: c/d  # where\nnested:\n  dataset_path: keep\n"
    path.write_text("include: _t\ntask: t")  # set in the template only: the task's own key wins
    set_dataset_path(path, "c/d")
    assert yaml.safe_load(path.read_text()) == {"include": "_t", "task": "t", "dataset_path": "c/d"}
    with pytest.raises(SubmissionError, match="owner/name"):
        set_dataset_path(path, "json")


# --- refusals -----------------------------------------------------------------------------------------


def test_refuses_a_prompt_that_contains_its_answer(tmp_path, monkeypatch):
    rows = sample_rows()
    gold = rows[7]["choices"][rows[7]["answer"]]
    rows[7]["question"] += f" Hint: it is {gold.upper()}."
    folder, data = make_task(tmp_path, "leaky", rows)
    monkeypatch.setenv("E2LM_DATA_DIR", str(data))
    with pytest.raises(SubmissionError, match=r"gold answer occurs in the prompt of 1 of 106 documents \(indices 7\)"):
        validate_task(folder, "leaky", "margin")


def test_leak_check_matches_whole_words_in_any_case():
    class Task:
        OUTPUT_TYPE = "multiple_choice"
        eval_docs = [{"q": "Which planet follows Neptune?", "c": ["Ne", "x"], "a": 0},
                     {"q": "What does THE HEART do?", "c": ["x", "the heart"], "a": 1},
                     {"q": "Is neon's symbol ne?", "c": ["x", "Ne"], "a": 1}]

        def doc_to_text(self, doc):
            return doc["q"]

        def doc_to_choice(self, doc):
            return doc["c"]

        def doc_to_target(self, doc):
            return doc["a"]

    assert leaking_docs(Task()) == [1, 2]


def test_refuses_too_few_documents(tmp_path, monkeypatch):
    folder, data = make_task(tmp_path, "small", sample_rows()[:50])
    monkeypatch.setenv("E2LM_DATA_DIR", str(data))
    with pytest.raises(SubmissionError, match=r"50 documents in split 'test'; E2LM accepts 100 to 15,000"):
        validate_task(folder, "small", "margin")


def test_refusal_names_the_users_folder_not_the_staged_copy(tmp_path, monkeypatch):
    folder, data = make_task(tmp_path, "small", sample_rows()[:50])
    monkeypatch.setenv("E2LM_DATA_DIR", str(data))
    monkeypatch.setattr("e2lm_bench.evaluation.harness.tasks_dir", lambda: tmp_path / "tasks")
    (folder / "defaults.yaml").write_text("num_fewshot: 0\n")
    with pytest.raises(SubmissionError) as refused:
        build_submission("small", "margin", tmp_path / "out")
    assert str(refused.value).startswith(f"{folder / 'defaults.yaml'}: a .yaml file without `task:`")
    assert not (tmp_path / "out").exists()


def test_refuses_an_unknown_metric(tmp_path, monkeypatch):
    folder, data = make_task(tmp_path, "science", None)
    monkeypatch.setenv("E2LM_DATA_DIR", str(data))
    with pytest.raises(SubmissionError, match=r"does not report metric 'bleu'; it reports acc \(acc,none\)"):
        validate_task(folder, "science", "bleu")
    for wrong_filter in ("margin,strict", "margin,"):
        with pytest.raises(SubmissionError, match=f"does not report metric '{wrong_filter}'"):
            validate_task(folder, "science", wrong_filter)
    assert validate_task(folder, "science", "margin,none").result_key == "margin,none"


def _yaml_template(folder: Path, name: str) -> None:
    (folder / "_early_science_template").rename(folder / "_early_science_template.yaml")
    path = folder / f"{name}.yaml"
    path.write_text(path.read_text().replace("include: _early_science_template", "include: _early_science_template.yaml"))


def _append(text: str):
    return lambda folder, name: (folder / f"{name}.yaml").write_text((folder / f"{name}.yaml").read_text() + text)


def _dataset_path(value: str):
    def change(folder, name):
        path = folder / f"{name}.yaml"
        path.write_text(path.read_text().replace("dataset_path: e2lm-bench/early-science", f"dataset_path: {value}"))

    return change


@pytest.mark.parametrize("change, message", [
    (_yaml_template, r"_early_science_template\.yaml` ends in \.yaml; the organizers' scanner would load the template as a task"),
    (_append("custom_dataset: !function utils.doc_to_text\n"), "`custom_dataset` loads the data with code of ours"),
    (_dataset_path("json"), "dataset_path 'json' is not a Hugging Face Hub dataset"),
    (_dataset_path("/data/science"), "dataset_path '/data/science' is not a Hugging Face Hub dataset"),
    (lambda folder, name: (folder / "items" / "science").mkdir(parents=True) or _dataset_path("items/science")(folder, name),
     "dataset_path 'items/science' is not a Hugging Face Hub dataset"),
    (lambda folder, name: (folder / "utils.py").write_text("import os\nROOT = os.environ['E2LM_DATA_DIR']\n"),
     "mentions E2LM_DATA_DIR"),
    (lambda folder, name: (folder / "utils.py").write_text("from e2lm_bench.taskdata.sources import read_jsonl\n"),
     "needs e2lm-bench, but the organizers run the folder with only lm-eval installed"),
    (lambda folder, name: (folder / "defaults.yaml").write_text("num_fewshot: 0\n"), "defaults.yaml: a .yaml file without `task:`"),
    (_append("include: ../elsewhere\n"), "is not a file inside"),
], ids=["yaml-template", "custom-dataset", "json", "absolute-path", "folder-path", "data-dir", "import", "stray-yaml",
        "include-outside"])
def test_refuses_what_cannot_run_on_the_organizers_side(tmp_path, monkeypatch, change, message):
    folder, data = make_task(tmp_path, "science", None)
    monkeypatch.setenv("E2LM_DATA_DIR", str(data))
    validate_task(folder, "science", "margin")  # the unchanged copy passes
    change(folder, "science")
    with pytest.raises(SubmissionError, match=message):
        validate_task(folder, "science", "margin")


def test_refuses_an_unknown_task(sample_env, tmp_path):
    with pytest.raises(SubmissionError, match="did you mean early_science"):
        build_submission("early_sciense", "margin", tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- --fork -------------------------------------------------------------------------------------------


def make_fork(root: Path, existing: dict[str, str] | None = None) -> Path:
    """A small git repository shaped like lm-evaluation-harness, with one commit."""
    fork = root / "fork"
    files = {"lm_eval/__init__.py": "", "lm_eval/tasks/mmlu/mmlu.yaml": "task: mmlu\n", **(existing or {})}
    for name, text in files.items():
        (fork / name).parent.mkdir(parents=True, exist_ok=True)
        (fork / name).write_text(text)
    git("init", "-q", cwd=fork)
    git("add", "-A", cwd=fork)
    git(*GIT_IDENTITY, "commit", "-q", "-m", "base", cwd=fork)
    return fork


def test_fork_patch_is_a_diff_against_its_head_and_leaves_it_untouched(sample_env, tmp_path, capsys):
    fork = make_fork(tmp_path)
    head = git("rev-parse", "HEAD", cwd=fork).strip()
    (fork / "notes.txt").write_text("uncommitted\n")
    before = git("status", "--porcelain", cwd=fork)
    assert main(["--task", "early_science", "--metric", "margin", "--fork", str(fork), "--output", str(tmp_path / "out")]) == 0
    out, err = capsys.readouterr()
    assert f"warning: --fork {fork}: HEAD is {head[:12]}, not {FORK_COMMIT}" in err
    assert f"against fork commit {head[:12]}" in out
    assert git("status", "--porcelain", cwd=fork) == before and git("rev-parse", "HEAD", cwd=fork).strip() == head
    assert git("worktree", "list", "--porcelain", cwd=fork).count("worktree ") == 1
    patch = tmp_path / "out" / "evaluation.patch"
    git("apply", "--check", "--index", str(patch), cwd=fork)  # applies to the fork's HEAD and index
    assert "diff --git a/lm_eval/tasks/early_science/utils.py b/lm_eval/tasks/early_science/utils.py" in patch.read_text()


def test_fork_patch_replaces_an_older_copy_of_the_folder(sample_env, tmp_path):
    fork = make_fork(tmp_path, {"lm_eval/tasks/early_science/early_science.yaml": "task: early_science\n",
                                "lm_eval/tasks/early_science/stale.yaml": "task: stale\n"})
    result = build_submission("early_science", "margin", tmp_path / "out", fork=fork)
    assert sorted(result.patch_files) == ["A\tlm_eval/tasks/early_science/README.md",
                                          "A\tlm_eval/tasks/early_science/_early_science_template",
                                          "A\tlm_eval/tasks/early_science/utils.py",
                                          "D\tlm_eval/tasks/early_science/stale.yaml",
                                          "M\tlm_eval/tasks/early_science/early_science.yaml"]
    clone = tmp_path / "clone"
    git("clone", "-q", str(fork), str(clone), cwd=tmp_path)
    git("apply", str(result.patch_path), cwd=clone)
    assert tree(clone / "lm_eval/tasks/early_science") == {k: v for k, v in tree(TASK_DIR).items() if "__pycache__" not in k}


def test_fork_must_be_a_git_checkout_of_lm_eval(sample_env, tmp_path):
    with pytest.raises(SubmissionError, match="not a git checkout"):
        build_submission("early_science", "margin", tmp_path / "out", fork=tmp_path)
    other = tmp_path / "other"
    (other / "src").mkdir(parents=True)
    (other / "src" / "a.py").write_text("")
    git("init", "-q", cwd=other)
    git("add", "-A", cwd=other)
    git(*GIT_IDENTITY, "commit", "-q", "-m", "base", cwd=other)
    with pytest.raises(SubmissionError, match="HEAD has no lm_eval/tasks/"):
        build_submission("early_science", "margin", tmp_path / "out", fork=other)


# --- lm-eval 0.4.9, the fork's base -----------------------------------------------------------------


@pytest.fixture(scope="session")
def lm_eval_049(tmp_path_factory) -> Path:
    """lm-eval 0.4.9's source tree from PyPI's sdist, downloaded once into ~/.cache/e2lm-bench-test/."""
    sdist = SDIST_CACHE / "lm_eval-0.4.9.tar.gz"
    if not sdist.is_file():
        SDIST_CACHE.mkdir(parents=True, exist_ok=True)
        run = subprocess.run([sys.executable, "-m", "pip", "download", "lm_eval==0.4.9", "--no-deps", "--no-binary", ":all:",
                              "-d", str(SDIST_CACHE)], capture_output=True, text=True)
        if run.returncode or not sdist.is_file():
            pytest.skip(f"cannot download the lm_eval 0.4.9 sdist: {run.stderr.strip()[-300:]}")
    dest = tmp_path_factory.mktemp("lm_eval_049")
    with tarfile.open(sdist) as archive:
        archive.extractall(dest, filter="data")
    return dest / "lm_eval-0.4.9"


def test_patch_applies_to_lm_eval_049_and_the_task_runs_there(built, lm_eval_049):
    git("apply", "--check", str(built.patch_path), cwd=lm_eval_049)
    report = check_lm_eval_049(built.patch_path, lm_eval_049, built.validation)
    assert report["lm_eval_file"] == "lm_eval/__init__.py" and report["version"] == "0.4.9"
    assert report["listed"] and report["docs"] == 106
    assert {"acc,none", "acc_norm,none", "margin,none", "margin_max,none"} <= set(report["metrics"])
    assert 0 <= report["metrics"]["acc,none"] <= 1
    assert not (lm_eval_049 / "lm_eval" / "tasks" / "early_science").exists()  # the check works on a copy


def test_check_049_refuses_a_patch_that_does_not_apply(built, lm_eval_049, tmp_path):
    bad = tmp_path / "bad.patch"
    bad.write_text("diff --git a/lm_eval/tasks/early_science/early_science.yaml b/lm_eval/tasks/early_science/early_science.yaml\n"
                   "--- a/lm_eval/tasks/early_science/early_science.yaml\n+++ b/lm_eval/tasks/early_science/early_science.yaml\n"
                   "@@ -1 +1 @@\n-task: old\n+task: early_science\n")
    with pytest.raises(SubmissionError, match="does not apply to the lm-eval tree"):
        check_lm_eval_049(bad, lm_eval_049, built.validation)


# --- token hygiene ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [[sys.executable, "-m", "e2lm_bench.submission"], [str(REPO / "submission.sh")]], ids=["python-m", "script"]
)
def test_token_appears_only_in_metadata(tmp_path, command):
    env = {**os.environ, "HF_TOKEN": TOKEN, "E2LM_DATA_DIR": str(SAMPLE_DATA_DIR), "PYTHONPATH": str(REPO)}
    run = subprocess.run([*command, "--task", "early_science", "--metric", "margin"], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert TOKEN not in run.stdout + run.stderr
    assert f"hf_token: '<hidden: {len(TOKEN)} characters>'" in run.stdout and "readable only by you" in run.stdout
    out = tmp_path / "build" / "submission"  # the default output, relative to the current directory
    assert sorted(p.name for p in out.iterdir()) == ["evaluation.patch", "metadata.yaml", "submission.zip"]
    assert TOKEN in (out / "metadata.yaml").read_text()
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name not in ("metadata.yaml", "submission.zip"):
            assert TOKEN.encode() not in path.read_bytes(), path
    with zipfile.ZipFile(out / "submission.zip") as archive:
        assert [n for n in archive.namelist() if TOKEN.encode() in archive.read(n)] == ["metadata.yaml"]

    failing = subprocess.run([*command, "--task", "early_science", "--metric", "no_such_metric"], cwd=tmp_path, env=env,
                             capture_output=True, text=True)
    assert failing.returncode == 2
    assert TOKEN not in failing.stdout + failing.stderr
    last_line = failing.stderr.strip().splitlines()[-1]
    assert last_line.startswith("submission: task 'early_science' does not report metric 'no_such_metric'")
    assert "Traceback" not in failing.stderr
