"""Item selection on a fake trajectory run with planted per-item curves, and the submission checks."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from e2lm_bench.early_science.docs import leaking_items, load_docs
from e2lm_bench.early_science.domain_judge import judge_domain, openai_judge
from e2lm_bench.early_science.hub_dataset import push_to_hub
from e2lm_bench.early_science.item_selection import select_items, write_selection
from e2lm_bench.errors import UserError
from e2lm_bench.evaluation.results import safe_name, write_part
from e2lm_bench.scores.item_curves import item_curves
from e2lm_bench.taskdata.readers import DataError

TASK = "early_science"
MODELS = ("org/model-a", "model-b")  # model-a's safe name carries a hash, as the runner's does
# checkpoint names that sort differently as text and by step: the order must come from the step
CHECKPOINTS = {f"checkpoint-{step}": step for step in (500, 1000, 1500, 2000, 2500, 3000)}
RISING, FLAT, FALLING = range(0, 10), range(10, 15), range(15, 20)
WRONG_LLS = [-1.0, -2.0, -3.0]  # mean -2: a gold log-likelihood of value - 2 gives margin = value


def planted_value(doc_id: int, position: int, rng) -> float:
    base = 0.1 * doc_id
    if doc_id in RISING:
        return base + 1.0 * position + rng.normal(0, 0.1)
    if doc_id in FLAT:
        return base + rng.normal(0, 0.05)
    return base - 1.0 * position + rng.normal(0, 0.1)


def make_docs(n: int = 20) -> list[dict]:
    return [
        {"id": f"t/{i}", "question": f"Which gas is item number {i}?", "choices": [f"gas {i}", "argon", "neon", "xenon"],
         "answer": 0, "subject": "physics" if i % 2 == 0 else "history", "source": "test"}
        for i in range(n)
    ]


@pytest.fixture
def run_dir(tmp_path):
    """2 models x 6 checkpoints; model-b's samples lack 'margin' so it is derived from the log-likelihoods."""
    rng = np.random.default_rng(0)
    run = tmp_path / "run"
    for model in MODELS:
        for position, (checkpoint, step) in enumerate(CHECKPOINTS.items()):
            lines = []
            for doc_id in range(20):
                value = planted_value(doc_id, position, rng)
                record = {"task": TASK, "doc_id": doc_id, "target": doc_id % 4, "acc": 1.0, "acc_norm": 0.0}
                lls = list(WRONG_LLS)
                lls.insert(doc_id % 4, value - 2.0)
                record["loglikelihoods"] = lls
                if model != "model-b":
                    record["margin"] = value
                lines.append(json.dumps(record))
            path = run / "samples" / safe_name(model) / safe_name(checkpoint) / f"{TASK}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + "\n")
            write_part(run, model, checkpoint, TASK, [{
                "model": model, "checkpoint": checkpoint, "step": step, "tokens": None, "words": None,
                "task": TASK, "metric": "margin", "value": 0.0, "stderr": None,
            }])
    return run


def test_item_curves_reads_every_item_in_step_order(run_dir):
    curves = item_curves(run_dir, TASK, metric="margin")
    assert len(curves) == 2 * 6 * 20
    assert set(curves.columns) >= {"model", "checkpoint", "step", "doc_id", "value"}
    item = curves[(curves["model"] == "model-b") & (curves["doc_id"] == 3)]
    assert item["step"].tolist() == sorted(CHECKPOINTS.values())
    # derived margin (model-b has no 'margin' key) follows the planted rise
    assert np.all(np.diff(item["value"].to_numpy()) > 0.5)
    only_a = item_curves(run_dir, TASK, models=["org/model-a"])
    assert set(only_a["model"]) == {"org/model-a"}
    with pytest.raises(UserError, match="model-c"):
        item_curves(run_dir, TASK, models=["model-c"])


def test_derived_margin_max_matches_definition(run_dir):
    curves = item_curves(run_dir, TASK, metric="margin_max")
    margin = item_curves(run_dir, TASK, metric="margin")
    b = curves["model"] == "model-b"
    # gold = value - 2, best wrong = -1: margin_max = margin - 1
    np.testing.assert_allclose(curves.loc[b, "value"].to_numpy(), margin.loc[b, "value"].to_numpy() - 1.0)


def test_select_items_keeps_the_rising_items(run_dir):
    curves = item_curves(run_dir, TASK)
    selection = select_items(curves, min_slope=0.2, min_sq=0.4)
    assert selection.kept == list(RISING)
    assert selection.removed_by == {"subject": 0, "slope": 10, "sq": 0}
    table = selection.table.set_index("doc_id")
    assert (table.loc[list(FALLING), "slope"] < -0.5).all()
    assert table.loc[list(RISING), "sq"].tolist() == pytest.approx([0.5] * 10)  # monotone, below 8 checkpoints: Mono / 2
    assert set(table.loc[list(FLAT) + list(FALLING), "reason"]) == {"slope"}


def test_sq_rule_catches_what_the_slope_rule_lets_through(run_dir):
    curves = item_curves(run_dir, TASK)
    selection = select_items(curves, min_slope=float("-inf"), min_sq=0.45)
    assert selection.kept == list(RISING)
    assert selection.removed_by == {"subject": 0, "slope": 0, "sq": 10}


def test_subject_filter_counts_first(run_dir):
    curves = item_curves(run_dir, TASK)
    selection = select_items(curves, min_slope=0.2, min_sq=0.4, subjects={"physics"}, docs=make_docs())
    assert selection.kept == [0, 2, 4, 6, 8]
    assert selection.removed_by == {"subject": 10, "slope": 5, "sq": 0}
    assert selection.table.set_index("doc_id").loc[1, "subject"] == "history"
    with pytest.raises(UserError, match="docs"):
        select_items(curves, subjects={"physics"})
    with pytest.raises(UserError, match="'physcs'"):
        select_items(curves, subjects={"physics", "physcs"}, docs=make_docs())
    with pytest.raises(UserError, match="doc_id 19"):
        select_items(curves, docs=make_docs(10))


def test_malformed_sample_line_names_file_and_line(run_dir):
    path = run_dir / "samples" / "model-b" / "checkpoint-1500" / f"{TASK}.jsonl"
    lines = path.read_text().splitlines()
    lines[1] = '{"task": "early_science", "doc_id": 1, '
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=rf"{path}:2: not valid JSON"):
        item_curves(run_dir, TASK)
    lines[1] = json.dumps({"task": TASK, "doc_id": 1, "target": 0, "loglikelihoods": None, "acc": 1.0})
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=rf"{path}:2: no 'margin'"):
        item_curves(run_dir, TASK)


def test_missing_samples_point_to_the_trajectory_command(tmp_path, run_dir):
    with pytest.raises(UserError, match=rf"{tmp_path / 'empty'}.*e2lm-bench trajectory"):
        item_curves(tmp_path / "empty", TASK)
    with pytest.raises(UserError, match="e2lm-bench trajectory"):
        item_curves(run_dir, "other_task")
    for path in (run_dir / "samples").rglob("*.jsonl"):
        path.unlink()
    with pytest.raises(UserError, match=rf"{run_dir}: no per-item samples"):
        item_curves(run_dir, TASK)


def leak_doc(question: str, gold: str) -> dict:
    return {"id": question, "question": question, "choices": [gold, "something else"], "answer": 0,
            "subject": "s", "source": "t"}


def test_leaking_items():
    docs = [
        leak_doc("What is the chemical symbol of oxygen?", "O"),  # 0: "O" is not a word of "oxygen"
        leak_doc("Plants make sugar from light by a process called photosynthesis?", "photosynthesis"),  # 1
        leak_doc("Which letter, O or X, stands for oxygen?", "O"),  # 2: a whole word
        leak_doc("What does the  CELL\nwall do?", "cell wall"),  # 3: case and spacing ignored
        leak_doc("What is a sunflower?", "sun"),  # 4: inside a word
        leak_doc("What is 12 + 1?", "2"),  # 5: inside a number
        leak_doc("Which is heavier?", "lead (Pb)"),  # 6: punctuation in the gold, absent
        leak_doc("Is lead (Pb) heavier than tin?", "lead (Pb)"),  # 7: present
    ]
    assert leaking_items(docs) == [(1, "photosynthesis"), (2, "O"), (3, "cell wall"), (7, "lead (Pb)")]


def test_judge_domain_with_a_stub():
    docs = make_docs(10)
    for i in (2, 5, 7):
        docs[i]["question"] = f"What is the capital of country {i}?"
    seen = []

    def judge(text):
        seen.append(text)
        return "Reject" if "capital" in text else " accept.\n"

    out = judge_domain(docs, judge, sample=50, seed=0)
    assert out == {"sampled": 10, "accepted": 7, "fraction": 0.7, "rejected": ["t/2", "t/5", "t/7"]}
    assert seen[0] == "Which gas is item number 0?\nA) gas 0\nB) argon\nC) neon\nD) xenon\nAnswer: A"
    small = judge_domain(docs, judge, sample=4, seed=3)
    assert small["sampled"] == 4 and small == judge_domain(docs, judge, sample=4, seed=3)
    with pytest.raises(UserError, match="Accept"):
        judge_domain(docs, lambda text: "maybe", sample=2)


def test_openai_judge_without_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(UserError, match="pip install openai"):
        openai_judge()


def test_openai_judge_settings_and_key_kept_out_of_errors(monkeypatch):
    key = "sk-test-secret-123"
    calls = []

    class OpenAIError(Exception):
        pass

    class Completions:
        def create(self, **kwargs):
            calls.append(kwargs)
            if "fail" in kwargs["messages"][1]["content"]:
                raise OpenAIError(f"401 bad key {key}")
            message = types.SimpleNamespace(content=json.dumps({"verdict": "Accept"}))
            return types.SimpleNamespace(choices=[types.SimpleNamespace(message=message)])

    class OpenAI:
        def __init__(self, api_key):
            assert api_key == key
            self.chat = types.SimpleNamespace(completions=Completions())

    monkeypatch.setitem(sys.modules, "openai", types.SimpleNamespace(OpenAI=OpenAI, OpenAIError=OpenAIError))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(UserError, match="OPENAI_API_KEY"):
        openai_judge()
    monkeypatch.setenv("OPENAI_API_KEY", key)
    judge = openai_judge()
    assert judge("What is a quark?") == "Accept"
    assert calls[0]["temperature"] == 0 and calls[0]["model"] == "gpt-4o-2024-08-06"
    assert calls[0]["response_format"]["json_schema"]["schema"]["properties"]["verdict"]["enum"] == ["Accept", "Reject"]
    with pytest.raises(UserError) as err:
        judge("fail")
    assert key not in str(err.value) and "401" in str(err.value)


def test_write_selection_reads_back_and_enforces_the_size_rule(run_dir, tmp_path):
    docs, dev = make_docs(), make_docs(3)
    curves = item_curves(run_dir, TASK)
    everything = select_items(curves, min_slope=float("-inf"), min_sq=-1.0, docs=docs)
    assert len(everything.kept) == 20
    with pytest.raises(UserError, match="20 items kept.*100-15,000"):
        write_selection(docs, dev, everything, tmp_path / "out")
    assert not (tmp_path / "out").exists()

    rising = select_items(curves, min_slope=0.2, min_sq=0.4, docs=docs)
    folder = write_selection(docs, dev, rising, tmp_path / "out", allow_any_size=True)
    assert folder == tmp_path / "out" / TASK
    test_back, dev_back = load_docs(tmp_path / "out")
    assert test_back == [docs[i] for i in RISING] and dev_back == dev
    report = (folder / "selection_report.md").read_text()
    assert "Kept: 10." in report and "| slope | 10 |" in report and "| physics | 10 | 5 |" in report
    table = pd.read_csv(folder / "selection.csv")
    assert len(table) == 20 and table["kept"].sum() == 10


def test_load_docs_validation(tmp_path, monkeypatch):
    folder = tmp_path / TASK
    folder.mkdir()
    good = make_docs(2)
    (folder / "dev.jsonl").write_text("".join(json.dumps(d) + "\n" for d in good))
    bad = dict(good[1], answer=4)
    (folder / "test.jsonl").write_text(json.dumps(good[0]) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(DataError, match=rf"{folder / 'test.jsonl'}:2: field 'answer'"):
        load_docs(tmp_path)
    (folder / "test.jsonl").write_text(json.dumps(dict(good[0], choices=["only one"])) + "\n")
    with pytest.raises(DataError, match=r"test\.jsonl:1: field 'choices'"):
        load_docs(tmp_path)
    (folder / "test.jsonl").write_text(json.dumps(dict(good[0], subject=" ")) + "\n")
    with pytest.raises(DataError, match=r"test\.jsonl:1: field 'subject'"):
        load_docs(tmp_path)
    (folder / "test.jsonl").write_text(json.dumps(good[0]) + "\n")
    monkeypatch.setenv("E2LM_DATA_DIR", str(tmp_path))
    assert load_docs() == ([good[0]], good)


class FakeHfApi:
    calls: list = []
    fail_with: str | None = None

    def __init__(self, token=None):
        FakeHfApi.calls.append(("init", token))

    def create_repo(self, repo_id, **kwargs):
        if FakeHfApi.fail_with:
            raise RuntimeError(FakeHfApi.fail_with)
        FakeHfApi.calls.append(("create_repo", repo_id, kwargs))
        return f"https://huggingface.co/datasets/{repo_id}"

    def upload_folder(self, **kwargs):
        root = Path(kwargs["folder_path"])
        files = {str(path.relative_to(root)): path.read_text() for path in root.rglob("*") if path.is_file()}
        FakeHfApi.calls.append(("upload_folder", kwargs, files))


@pytest.fixture
def selection_dir(run_dir, tmp_path):
    docs = make_docs()
    selection = select_items(item_curves(run_dir, TASK), min_slope=0.2, min_sq=0.4, docs=docs)
    write_selection(docs, make_docs(3), selection, tmp_path / "out", allow_any_size=True)
    return tmp_path / "out"


def test_push_to_hub_uploads_a_loadable_dataset_without_the_token(selection_dir, monkeypatch, tmp_path):
    import huggingface_hub

    token = "hf_secret_token_value"
    FakeHfApi.calls, FakeHfApi.fail_with = [], None
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHfApi)
    url = push_to_hub(selection_dir, "me/early-science", token=token)
    assert url == "https://huggingface.co/datasets/me/early-science"
    (_, init_token), (_, repo, create_kwargs), (_, upload_kwargs, files) = FakeHfApi.calls
    assert init_token == token and repo == "me/early-science"
    assert create_kwargs == {"repo_type": "dataset", "private": True, "exist_ok": True}
    assert upload_kwargs["repo_type"] == "dataset" and upload_kwargs["repo_id"] == "me/early-science"
    assert {"README.md", f"{TASK}/test.jsonl", f"{TASK}/dev.jsonl"} <= set(files)
    assert all(token not in text for text in files.values())
    assert "split: test" in files["README.md"] and f"path: {TASK}/dev.jsonl" in files["README.md"]

    import datasets

    loaded = datasets.load_dataset(str(selection_dir), cache_dir=str(tmp_path / "cache"))
    assert loaded["test"].num_rows == 10 and loaded["dev"].num_rows == 3

    FakeHfApi.calls = []
    monkeypatch.setenv("HF_TOKEN", "hf_from_env_value")
    push_to_hub(selection_dir, "me/early-science", private=False)
    assert FakeHfApi.calls[0] == ("init", "hf_from_env_value") and FakeHfApi.calls[1][2]["private"] is False

    FakeHfApi.fail_with = f"401 Unauthorized: token {token} is invalid"
    with pytest.raises(UserError) as err:
        push_to_hub(selection_dir, "me/early-science", token=token)
    assert token not in str(err.value) and "401 Unauthorized" in str(err.value)
    FakeHfApi.fail_with = None


def test_push_to_hub_needs_written_selection(tmp_path):
    with pytest.raises(DataError, match="test.jsonl: file not found"):
        push_to_hub(tmp_path, "me/x", token="hf_x")
