"""``e2lm-bench``: the lm-eval pass-through and the baseline command, called as users call them."""

from __future__ import annotations

import json

import lm_eval.tasks
import pytest

from e2lm_bench import harness
from e2lm_bench.cli import main


@pytest.fixture
def restore_task_manager(monkeypatch):
    monkeypatch.setattr(lm_eval.tasks, "TaskManager", lm_eval.tasks.TaskManager)


def test_prepare_argv_adds_batch_size_and_skips_builtins_only_for_our_tasks():
    argv, skip = harness.prepare_argv(["--model", "hf", "--tasks", "zorro,dialogue_minpairs_words"])
    assert argv[-2:] == ["--batch_size", "auto"] and skip
    argv, skip = harness.prepare_argv(["run", "--tasks=zorro,hellaswag", "--batch_size", "8"])
    assert "auto" not in argv and not skip
    _, skip = harness.prepare_argv(["--tasks", "zorro", "--include_path", "/elsewhere"])
    assert not skip


def test_our_task_manager_without_builtins(restore_task_manager):
    harness._install_task_manager(skip_builtin=True)
    names = lm_eval.tasks.TaskManager().all_tasks
    assert "zorro" in names and "hellaswag" not in names
    harness._install_task_manager(skip_builtin=False)  # re-installing wraps the original, not the wrapper
    assert lm_eval.tasks.TaskManager.__bases__[0].__name__ == "TaskManager"


def test_eval_passes_through_to_lm_eval(llama_dir, use_data_dir, tmp_path, restore_task_manager):
    out = tmp_path / "out"
    status = main(["eval", "--model", "hf", "--model_args", f"pretrained={llama_dir}", "--tasks",
                   "dialogue_minpairs", "--limit", "3", "--output_path", str(out), "--device", "cpu"])
    assert status == 0
    results = json.loads(next(out.rglob("results_*.json")).read_text())
    assert {"dialogue_minpairs_words", "dialogue_minpairs_tokens"} <= set(results["results"])
    assert "margin,none" in results["results"]["dialogue_minpairs_words"]
    assert results["config"]["batch_size"] == "auto"


def test_unknown_task_is_one_clear_line(llama_dir, capsys, restore_task_manager):
    status = main(["eval", "--model", "hf", "--model_args", f"pretrained={llama_dir}", "--tasks", "zoro"])
    assert status == 2
    err = capsys.readouterr().err
    assert "Tasks not found: zoro" in err and "Did you mean: zorro" in err and "Traceback" not in err


def test_bad_data_is_one_clear_line(llama_dir, tmp_path, monkeypatch, capsys, restore_task_manager):
    from tests.conftest import write_data_dir

    root = write_data_dir(tmp_path / "data")
    (root / "zorro" / "ellipsis-n_bar.txt").write_text("one .\ntwo .\nthree .")
    monkeypatch.setenv("E2LM_DATA_DIR", str(root))
    status = main(["eval", "--model", "hf", "--model_args", f"pretrained={llama_dir}", "--tasks", "zorro_ellipsis_n_bar"])
    assert status == 2
    assert "ellipsis-n_bar.txt: odd number of lines (3)" in capsys.readouterr().err


def test_data_dir_option_sets_the_environment(monkeypatch, data_dir):
    monkeypatch.delenv("E2LM_DATA_DIR", raising=False)
    argv, _ = harness.prepare_argv(["--data-dir", str(data_dir), "--tasks", "zorro"])
    assert "--data-dir" not in argv and str(data_dir) not in argv
    import os

    assert os.environ["E2LM_DATA_DIR"] == str(data_dir.resolve())


@pytest.mark.parametrize("kind", ["random-logits", "untrained"])
def test_baseline_command_writes_a_loadable_model(tmp_path, kind):
    from transformers import AutoModelForCausalLM

    assert main(["baseline", kind, "--output", str(tmp_path / kind), "--seed", "3"]) == 0
    model = AutoModelForCausalLM.from_pretrained(tmp_path / kind, trust_remote_code=True)
    assert model.config.vocab_size > 100


def test_baseline_with_unknown_preset_is_refused(tmp_path, capsys):
    assert main(["baseline", "untrained", "--preset", "llama-huge", "--output", str(tmp_path / "m")]) == 2
    assert "unknown preset 'llama-huge'" in capsys.readouterr().err


def test_score_organizer_curves_writes_in_the_working_directory(tmp_path, monkeypatch, capsys):
    """Organizer-format curves score like a run folder, and nothing is written beside the source file."""
    iterations = list(range(4000, 60000, 4000))
    curves = {"metadata": {}, "data": {
        name: {"iteration": iterations, "gtokens": [i * 4e-3 for i in iterations],
               "sciq": [0.3 + slope * k for k in range(len(iterations))]}
        for name, slope in (("up", 0.01), ("flat", 0.0))}}
    source = tmp_path / "data" / "curves.json"
    source.parent.mkdir()
    source.write_text(json.dumps(curves))
    monkeypatch.chdir(tmp_path)
    assert main(["score", str(source), "--models", "up"]) == 0
    assert not (source.parent / "scores.json").exists()
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["benchmarks"][0]["models"]["up"]["monotonicity"] == 1.0
    assert list(scores["benchmarks"][0]["models"]) == ["up"]
    assert main(["score", str(source), "--models", "up,nobody"]) == 2
    assert "not in the results: nobody" in capsys.readouterr().err
