"""``e2lm-bench``: the lm-eval pass-through and the baseline command, called as users call them."""

from __future__ import annotations

import json

import lm_eval.tasks
import pytest

from e2lm_bench.cli import main
from e2lm_bench.evaluation import harness


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


@pytest.fixture
def broken_tasks_dir(tmp_path, monkeypatch):
    """A copy of our task folder without early_science's template, standing in for the installed one."""
    import shutil

    copy = tmp_path / "tasks"
    shutil.copytree(harness.tasks_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "early_science" / "_early_science_template").unlink()
    monkeypatch.setattr(harness, "tasks_dir", lambda: copy)
    harness.own_task_manager.cache_clear()
    yield copy
    harness.own_task_manager.cache_clear()


def test_a_task_of_ours_that_fails_to_load_says_why(llama_dir, broken_tasks_dir, monkeypatch, capsys, restore_task_manager):
    """lm-eval's index drops a YAML that fails to load with a debug log only; "not found" alone hides the cause."""
    monkeypatch.delenv("E2LM_DATA_DIR", raising=False)
    status = main(["eval", "--model", "hf", "--model_args", f"pretrained={llama_dir}", "--tasks", "early_science,zoro"])
    assert status == 2
    err = capsys.readouterr().err
    yaml_file = broken_tasks_dir / "early_science" / "early_science.yaml"
    assert f"e2lm-bench eval: task early_science could not be loaded: {yaml_file}: " in err
    assert "_early_science_template" in err.split("could not be loaded")[1].splitlines()[0]
    not_found = next(line for line in err.splitlines() if "Tasks not found" in line)
    assert "Tasks not found: zoro." in not_found and "Did you mean: zorro" in not_found
    assert "early_science" in not_found.split("Our tasks:")[1]  # the list of ours names every family
    assert "Traceback" not in err


def test_broken_tasks_names_each_unloadable_yaml(broken_tasks_dir):
    """A YAML that does not even parse is named by its file stem."""
    (broken_tasks_dir / "zorro" / "zorro_extra.yaml").write_text("task: [unclosed\n")
    broken = harness.broken_tasks()
    assert set(broken) == {"early_science", "zorro_extra"}
    assert broken["zorro_extra"].startswith(f"{broken_tasks_dir / 'zorro' / 'zorro_extra.yaml'}: ")
    assert "\n" not in broken["zorro_extra"]


# --- conventions ------------------------------------------------------------------------------------------------


def _spy_model_kwargs(monkeypatch) -> list[dict]:
    """The keyword arguments every AutoModelForCausalLM.from_pretrained call receives (the call still happens)."""
    from transformers import AutoModelForCausalLM

    calls, original = [], AutoModelForCausalLM.from_pretrained.__func__

    def spy(cls, *args, **kwargs):
        calls.append(kwargs)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", classmethod(spy))
    return calls


def test_conventions_counts_pairs_per_subtask_and_passes_model_options(llama_dir, data_dir, monkeypatch, capsys):
    import torch

    from e2lm_bench.taskdata.sources import ZORRO_PARADIGMS, zorro_task_name

    monkeypatch.setenv("E2LM_DATA_DIR", "")  # --data-dir sets it; monkeypatch restores it afterwards
    calls = _spy_model_kwargs(monkeypatch)
    status = main(["conventions", str(llama_dir), "--task", "zorro", "--limit", "2", "--data-dir", str(data_dir),
                   "--device", "cpu", "--dtype", "bfloat16",
                   "--model-args", "revision=main,trust_remote_code=True,attn_implementation=eager"])
    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:23] == [f"{zorro_task_name(p)}: 2 pairs from data folder {data_dir}" for p in ZORRO_PARADIGMS]
    assert lines[23].split() == ["convention", "acc", "margin"]
    assert [line.split()[0] for line in lines[24:]] == ["lm-eval", "minicons", "babylm-2025"]
    assert calls == [{"dtype": torch.bfloat16, "revision": "main", "trust_remote_code": True, "attn_implementation": "eager"}]


def test_conventions_names_the_hub_dataset_it_read(llama_dir, monkeypatch, capsys):
    import datasets

    from tests.conftest import DIALOGUE_ROWS

    monkeypatch.delenv("E2LM_DATA_DIR", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", lambda hub_id, split: DIALOGUE_ROWS)
    assert main(["conventions", str(llama_dir), "--task", "dialogue_minpairs_words", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "dialogue_minpairs_words: 4 pairs from Hub dataset fpadovani/dialogue_eval_words"


def test_conventions_refuses_model_args_that_have_their_own_option(llama_dir, data_dir, capsys):
    assert main(["conventions", str(llama_dir), "--task", "lexical_decision", "--data-dir", str(data_dir),
                 "--model-args", "pretrained=gpt2,dtype=float16"]) == 2
    assert capsys.readouterr().err.strip() == (
        "e2lm-bench conventions: --model-args dtype, pretrained: give the dtype with --dtype, the model as MODEL")


@pytest.mark.parametrize("task, patched, named", [
    ("zorro", "datasets.DownloadManager.download", "the Zorro paradigm agreement_determiner_noun-across_1_adjective "
                                                   "(zorro/agreement_determiner_noun-across_1_adjective.txt in a data folder)"),
    ("lexical_decision", "datasets.load_dataset", "the Hub dataset bbunzeck/lexical-decision "
                                                  "(lexical_decision/lexical_decision.jsonl in a data folder)"),
    ("dialogue_minpairs_tokens", "datasets.load_dataset", "the Hub dataset fpadovani/dialogue_eval_tokens "
                                                          "(dialogue_minpairs/dialogue_eval_tokens.jsonl in a data folder)"),
])
def test_offline_download_says_what_failed_and_how_to_use_local_data(llama_dir, monkeypatch, capsys, task, patched, named):
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach the server")

    monkeypatch.delenv("E2LM_DATA_DIR", raising=False)
    monkeypatch.setattr(patched, offline)
    assert main(["conventions", str(llama_dir), "--task", task]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"e2lm-bench conventions: could not download {named}: ConnectionError: Couldn't reach the server. "
        "To use local data, pass --data-dir DIR (--data-dir sample: the bundled sample) or set E2LM_DATA_DIR=DIR, "
        "a folder in the layout `e2lm-bench sample-data` prints"
    ]


def test_offline_hub_task_says_which_task_and_how_to_use_local_data(tiny_series, tmp_path, monkeypatch, capsys):
    """early_science reads its Hub dataset through lm-eval; offline that was a traceback ending in a bare Hub id."""
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'e2lm-bench/early-science' on the Hub")

    monkeypatch.delenv("E2LM_DATA_DIR", raising=False)
    monkeypatch.setattr("datasets.load_dataset", offline)
    code = main(["trajectory", str(tiny_series), "--tasks", "early_science", "--output", str(tmp_path / "run"),
                 "--device", "cpu"])
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        "e2lm-bench trajectory: could not download the data of early_science (early_science/test.jsonl and dev.jsonl "
        "in a data folder): ConnectionError: Couldn't reach 'e2lm-bench/early-science' on the Hub. To use local data, "
        "pass --data-dir DIR (--data-dir sample: the bundled sample) or set E2LM_DATA_DIR=DIR, a folder in the layout "
        "`e2lm-bench sample-data` prints"
    ]
    assert not (tmp_path / "run").exists()


# --- score ------------------------------------------------------------------------------------------------------


def test_score_prints_one_note_per_short_series_and_no_python_warning(tmp_path, capsys):
    import warnings

    import pandas as pd

    from e2lm_bench.scores.signal_quality import SignalQualityWarning

    rows = [{"model": model, "checkpoint": f"step_{step}", "step": step, "tokens": None, "words": None, "task": "zorro_x",
             "metric": "acc", "value": 0.5 + step / 1000 * (1 if model == "model-a" else -1), "stderr": None}
            for model in ("model-a", "model-b") for step in (100, 200, 300, 400)]
    pd.DataFrame(rows).to_csv(tmp_path / "results.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SignalQualityWarning)
        assert main(["score", str(tmp_path / "results.csv")]) == 0
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if line.startswith("note: zorro_x")]
    assert notes == [f"note: zorro_x acc {model}: series of n=4 < 8 points has no lag; autocorrelation set to 0"
                     for model in ("model-a", "model-b")]
