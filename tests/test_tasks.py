"""The lm-eval tasks: registration, data switch, and metrics equal to an independent computation."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from e2lm_bench.evaluation.conventions import LMScorer, task_pairs
from e2lm_bench.lm_eval_tasks import TASKS_DIR
from e2lm_bench.taskdata.sources import ZORRO_PARADIGMS, zorro_task_name
from tests.conftest import DIALOGUE_ROWS, SHARED_DATA

OUR_LEAF_TASKS = ["dialogue_minpairs_words", "dialogue_minpairs_tokens", "lexical_decision"] + [
    zorro_task_name(p) for p in ZORRO_PARADIGMS
]


def _evaluate(model_dir, tasks, limit=None, **model_kwargs):
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=str(model_dir), batch_size=8, device="cpu", **model_kwargs)
    manager = TaskManager(include_defaults=False, include_path=str(TASKS_DIR))
    return simple_evaluate(model=lm, tasks=tasks, task_manager=manager, limit=limit, log_samples=True)


def test_every_task_is_registered():
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_defaults=False, include_path=str(TASKS_DIR))
    assert set(OUR_LEAF_TASKS) <= set(manager.all_subtasks)
    assert {"dialogue_minpairs", "zorro"} <= set(manager.all_groups)
    assert len([t for t in manager.all_subtasks if t.startswith("zorro_")]) == 23


def test_zorro_configs_match_their_generator():
    from e2lm_bench.lm_eval_tasks.zorro.generate_configs import configs

    for name, text in configs().items():
        assert (TASKS_DIR / "zorro" / name).read_text() == text, f"{name} is stale: rerun generate_configs.py"


def test_metrics_equal_direct_transformers_computation(llama_dir, use_data_dir):
    """Acceptance 1 on a small sample: acc and margin per item equal an independent scorer of the same convention."""
    tasks = ["dialogue_minpairs_words", "lexical_decision", zorro_task_name(ZORRO_PARADIGMS[0])]
    out = _evaluate(llama_dir, tasks)
    scorer = LMScorer(AutoModelForCausalLM.from_pretrained(llama_dir), AutoTokenizer.from_pretrained(llama_dir))
    for task in tasks:
        family = "zorro" if task.startswith("zorro_") else task
        prefixes, good, bad = task_pairs(family)[task]
        expected = scorer.score_pairs(good, bad, prefixes, convention="lm-eval")
        samples = sorted(out["samples"][task], key=lambda s: s["doc_id"])
        loglikelihoods = np.array([[float(r[0][0]) for r in s["resps"]] for s in samples])
        np.testing.assert_allclose(loglikelihoods[:, 0], expected.good, atol=1e-4)
        np.testing.assert_allclose(loglikelihoods[:, 1], expected.bad, atol=1e-4)
        result = out["results"][task]
        assert result["acc,none"] == pytest.approx(expected.accuracy)
        assert result["margin,none"] == pytest.approx(expected.margin.mean(), abs=1e-4)
        assert result["margin_stderr,none"] > 0


def test_groups_are_unweighted_means(llama_dir, use_data_dir):
    out = _evaluate(llama_dir, ["zorro", "dialogue_minpairs"], limit=2)
    for group, members in (("zorro", [zorro_task_name(p) for p in ZORRO_PARADIGMS]),
                           ("dialogue_minpairs", ["dialogue_minpairs_words", "dialogue_minpairs_tokens"])):
        for metric in ("acc", "margin"):
            mean = np.mean([out["results"][m][f"{metric},none"] for m in members])
            assert out["results"][group][f"{metric},none"] == pytest.approx(mean)


def test_random_logits_baseline_is_reproducible_and_loads_in_lm_eval(random_logits_dir, use_data_dir):
    first = _evaluate(random_logits_dir, ["dialogue_minpairs_words"], trust_remote_code=True)
    again = _evaluate(random_logits_dir, ["dialogue_minpairs_words"], trust_remote_code=True)
    assert first["results"]["dialogue_minpairs_words"]["margin,none"] == again["results"]["dialogue_minpairs_words"]["margin,none"]


def test_data_dir_switch_reads_local_files(use_data_dir):
    prefixes, good, bad = task_pairs("dialogue_minpairs_tokens")["dialogue_minpairs_tokens"]
    assert prefixes == [row["prompt"] for row in DIALOGUE_ROWS]
    assert good == [row["chosen"] for row in DIALOGUE_ROWS]


def test_data_dir_is_independent_of_working_directory(monkeypatch, data_dir, tmp_path):
    """A relative E2LM_DATA_DIR is resolved once; a task loaded later from elsewhere still finds it."""
    from e2lm_bench.taskdata.sources import local_data_dir

    monkeypatch.chdir(data_dir.parent)
    monkeypatch.setenv("E2LM_DATA_DIR", data_dir.name)
    resolved = local_data_dir()
    assert resolved == data_dir.resolve()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("E2LM_DATA_DIR", str(resolved))
    assert task_pairs("lexical_decision")["lexical_decision"][1][0] == "dog"


@pytest.mark.skipif(not (SHARED_DATA / "zorro").is_dir(), reason="../shared/data is absent")
def test_shared_data_has_the_published_sizes(monkeypatch):
    monkeypatch.setenv("E2LM_DATA_DIR", str(SHARED_DATA))
    assert len(task_pairs("dialogue_minpairs_words")["dialogue_minpairs_words"][1]) == 7548
    assert len(task_pairs("dialogue_minpairs_tokens")["dialogue_minpairs_tokens"][1]) == 7520
    zorro = task_pairs("zorro")
    assert len(zorro) == 23 and all(len(good) == 2000 for _, good, _ in zorro.values())
    first = zorro[zorro_task_name("agreement_determiner_noun-across_1_adjective")]
    assert (first[1][0], first[2][0]) == ("look at this purple thing .", "look at this purple things .")
