"""The wheel as users install it: every task file ships, under one package, and all four task families run from it.

The editable install reads the task folder from the checkout, so only a built wheel shows a file the
package data rules leave out (the wheel once lacked early_science's template, so early_science vanished).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _git_files(*args: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z", *args], cwd=REPO, capture_output=True, text=True, check=True)
    return [name for name in out.stdout.split("\0") if name]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of the working tree's tracked and new (not ignored) files, built from a clean copy.

    A copy, because setuptools builds in the source folder and would ship whatever a stale build/ holds.
    """
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs the git checkout")
    source = tmp_path_factory.mktemp("source")
    for name in _git_files("--cached", "--others", "--exclude-standard"):
        if (REPO / name).is_file():  # not deleted in the working tree
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    # No build isolation: the installed setuptools meets [build-system] and the build needs no network.
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    return next(out.glob("e2lm_bench-*.whl"))


def test_wheel_ships_every_task_file_under_the_one_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = _git_files("lm_eval_tasks")
    assert "lm_eval_tasks/early_science/_early_science_template" in tracked
    assert [name for name in tracked if f"e2lm_bench/{name}" not in names] == []
    assert {name.split("/")[0] for name in names if ".dist-info/" not in name} == {"e2lm_bench"}
    assert "e2lm_bench/taskdata/sample_data/early_science/test.jsonl" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[lm_eval.tasks]\ne2lm_bench = e2lm_bench.lm_eval_tasks" in text
    assert "[lm_eval.models]\nhf-prefix = e2lm_bench.evaluation.prefix_lm:PrefixHFLM" in text


def test_hf_prefix_is_an_lm_eval_model_plugin():
    """lm-eval's model plugins (EleutherAI/lm-evaluation-harness PR #4013, docs/plugins.md) find a model by its name in
    the ``lm_eval.models`` entry-point group and load ``module:object``; the class's own ``@register_model`` then
    upgrades that placeholder only when the entry point names the class where it is defined."""
    from importlib.metadata import entry_points

    from lm_eval.api.registry import get_model

    [entry] = entry_points(group="lm_eval.models", name="hf-prefix")
    model = entry.load()
    assert entry.value == f"{model.__module__}:{model.__name__}" == "e2lm_bench.evaluation.prefix_lm:PrefixHFLM"
    assert get_model("hf-prefix") is model  # the import registered it under the same name


def test_unpacked_wheel_runs_every_task_family(wheel, llama_dir, tmp_path):
    """Run from the unpacked wheel alone, outside the checkout, on the sample data the wheel ships."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "work"
    work.mkdir()
    env = {
        **os.environ, "PYTHONPATH": str(site), "E2LM_DATA_DIR": str(site / "e2lm_bench" / "taskdata" / "sample_data"),
        "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
    }
    # PYTHONPATH comes before site-packages, where the editable install's finder is registered.
    where = subprocess.run(
        [sys.executable, "-c", "import e2lm_bench, e2lm_bench.lm_eval_tasks as t; print(e2lm_bench.__file__); print(t.TASKS_DIR)"],
        cwd=work, env=env, capture_output=True, text=True, check=True,
    ).stdout.split()
    assert [Path(p).is_relative_to(site) for p in where] == [True, True], where

    run = subprocess.run(
        [sys.executable, "-m", "e2lm_bench.cli", "eval", "--model", "hf", "--model_args", f"pretrained={llama_dir}",
         "--tasks", "dialogue_minpairs,lexical_decision,zorro,early_science,babylm_2025_fast", "--limit", "2",
         "--device", "cpu",
         "--output_path", str(work / "out")],
        cwd=work, env=env, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(next((work / "out").rglob("results_*.json")).read_text())["results"]
    expected = {"dialogue_minpairs_words", "dialogue_minpairs_tokens", "lexical_decision", "early_science",
                "zorro_binding_principle_a", "zorro_quantifiers_superlative"}
    assert expected <= set(results)
    assert sum(name.startswith("zorro_") for name in results) == 23
    assert all("acc,none" in results[name] for name in expected)
    assert "margin_max,none" in results["early_science"]  # metrics from the template the old wheel lacked
    assert sum(name.startswith("blimp_fast_") for name in results) == 67  # the suite's nested family folders
    assert {"ewok_fast", "entity_tracking_fast", "wug_adj_fast", "reading_fast"} <= set(results)


def test_lowest_constraints_pin_every_direct_dependency_to_its_floor(tmp_path):
    """.ci/lowest_constraints.py feeds CI's lowest-versions environment: a pin for each direct dependency, and
    a dependency without a floor is an error (its lowest version would go untested)."""
    import re
    import tomllib

    script = REPO / ".ci" / "lowest_constraints.py"
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    pins = dict(line.split("==", 1) for line in run.stdout.splitlines() if line and not line.startswith("#"))
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    direct = project["dependencies"] + project["optional-dependencies"]["test"]
    names = [re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", r).group()).lower() for r in direct]
    assert sorted(pins) == sorted(names)
    for name, requirement in zip(names, direct, strict=True):
        assert f">={pins[name]}" in requirement or f"=={pins[name]}" in requirement, (name, requirement)

    small = tmp_path / "pyproject.toml"
    small.write_text('[project]\nname = "x"\ndependencies = ["lm-eval[hf]>=0.4.13", "transformers>=5.23,<6"]\n'
                     '[project.optional-dependencies]\ntest = ["minicons==0.3.39"]\n')
    run = subprocess.run([sys.executable, str(script), str(small)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[1:] == ["lm-eval==0.4.13", "transformers==5.23", "minicons==0.3.39"]

    small.write_text('[project]\nname = "x"\ndependencies = ["numpy>=2", "tqdm"]\n'
                     '[project.optional-dependencies]\ntest = ["pytest<9"]\n')
    run = subprocess.run([sys.executable, str(script), str(small)], capture_output=True, text=True)
    assert run.returncode != 0
    assert "'tqdm'" in run.stderr and "'pytest<9'" in run.stderr and "numpy" not in run.stderr

    # --freeze picks the direct dependencies' lines out of `pip freeze` (CI prints them) and fails on a missing one
    freeze = "lm_eval==0.4.13\nnumpy==2.0.0\ntransformers==5.23.0\n-e git+https://example.org/x@1#egg=x\n"
    small.write_text('[project]\nname = "x"\ndependencies = ["lm-eval[hf]>=0.4.13", "transformers>=5.23,<6"]\n')
    run = subprocess.run([sys.executable, str(script), "--freeze", str(small)], input=freeze, capture_output=True, text=True)
    assert (run.returncode, run.stdout.split()) == (0, ["lm_eval==0.4.13", "transformers==5.23.0"])
    run = subprocess.run([sys.executable, str(script), "--freeze", str(small)], input="numpy==2.0.0\n", capture_output=True, text=True)
    assert run.returncode == 1 and "lm-eval, transformers" in run.stderr
