"""The early_science task: metrics, few-shot prompt, self-contained hooks, local data switch."""

from __future__ import annotations

import ast
import importlib.util
import json

import numpy as np
import pytest

from e2lm_bench.evaluation.harness import local_task_config
from e2lm_bench.lm_eval_tasks import TASKS_DIR
from e2lm_bench.taskdata.readers import DataError
from e2lm_bench.taskdata.sample import SAMPLE_DATA_DIR

TASK_DIR = TASKS_DIR / "early_science"


def _utils():
    spec = importlib.util.spec_from_file_location("early_science_utils", TASK_DIR / "utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_process_results_by_hand():
    doc = {"question": "q", "choices": ["aaaa", "b", "cc", "ddd"], "answer": 0}
    out = _utils().process_results(doc, [(-4.0, False), (-2.0, False), (-3.0, False), (-5.0, False)])
    assert out["acc"] == 0.0  # choice 1 has the highest log-likelihood
    assert out["acc_norm"] == 1.0  # per character: -1.0, -2.0, -1.5, -1.67
    assert out["margin"] == pytest.approx(-4.0 - np.mean([-2.0, -3.0, -5.0]))
    assert out["margin_max"] == pytest.approx(-2.0)


def test_hooks_are_self_contained():
    """The folder is submitted as an lm-eval patch: no import of this package, no E2LM_DATA_DIR."""
    tree = ast.parse((TASK_DIR / "utils.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"numpy", "math", "re"}
    for path in TASK_DIR.iterdir():
        assert "E2LM_DATA_DIR" not in path.read_text(), path
    assert not (TASK_DIR / "_early_science_template").name.endswith(".yaml")


def test_local_data_switch(monkeypatch, tmp_path):
    monkeypatch.delenv("E2LM_DATA_DIR", raising=False)
    assert local_task_config("early_science") is None
    monkeypatch.setenv("E2LM_DATA_DIR", str(SAMPLE_DATA_DIR))
    config = local_task_config("early_science")
    assert config["dataset_path"] == "json" and set(config["dataset_kwargs"]["data_files"]) == {"test", "dev"}
    assert local_task_config("zorro") is None  # read by its own loader
    (tmp_path / "early_science").mkdir()
    (tmp_path / "early_science" / "test.jsonl").write_text("{}\n")
    monkeypatch.setenv("E2LM_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=r"early_science/dev\.jsonl: file not found"):
        local_task_config("early_science")


def test_runs_five_shot_on_the_sample_and_metrics_match_the_log_likelihoods(llama_dir, monkeypatch):
    from lm_eval import simple_evaluate

    from e2lm_bench.evaluation.harness import task_manager_class

    monkeypatch.setenv("E2LM_DATA_DIR", str(SAMPLE_DATA_DIR))
    manager = task_manager_class(skip_builtin=True)()
    out = simple_evaluate(model="hf", model_args=f"pretrained={llama_dir}", tasks=["early_science"],
                          task_manager=manager, limit=6, batch_size=8, device="cpu", log_samples=True)
    dev = [json.loads(line) for line in (SAMPLE_DATA_DIR / "early_science" / "dev.jsonl").read_text().splitlines()]
    utils = _utils()
    for sample in out["samples"]["early_science"]:
        context = sample["arguments"][0][0]
        assert context.count("Question: ") == 6 and context.startswith(utils.doc_to_text(dev[0]))
        assert context.endswith(utils.doc_to_text(sample["doc"]))
        lls = [(float(r[0][0]), False) for r in sample["resps"]]
        expected = utils.process_results(sample["doc"], lls)
        for metric, value in expected.items():
            assert sample[metric] == pytest.approx(value)
    result = out["results"]["early_science"]
    assert {"acc,none", "acc_norm,none", "margin,none", "margin_max,none"} <= set(result)
