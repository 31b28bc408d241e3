"""The trajectory runner: resumable, shardable, failure-tolerant, and equal to lm-eval run per checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from e2lm_bench.atomic import host_name
from e2lm_bench.evaluation import fetching, run_plan, trajectory
from e2lm_bench.evaluation.results import ResultsError, read_results
from e2lm_bench.evaluation.series import SeriesError, discover
from e2lm_bench.evaluation.trajectory import TrajectoryConfig, TrajectoryError, run_trajectory
from tests.conftest import write_series

TASKS = ["dialogue_minpairs_words", "zorro_ellipsis_n_bar"]


def _config(series, out, **kwargs) -> TrajectoryConfig:
    return TrajectoryConfig(series=[str(s) for s in series], tasks=TASKS, output=out, batch_size=8, device="cpu", **kwargs)


def _values(out) -> pd.DataFrame:
    table = read_results(out)
    return table.sort_values(["model", "checkpoint", "task", "metric"]).reset_index(drop=True)


@pytest.mark.parametrize("scorer, tolerance", [("hf", 1e-6), ("hf-prefix", 1e-5)])
def test_runner_equals_lm_eval_per_checkpoint(tiny_series, use_data_dir, tmp_path, scorer, tolerance):
    """lm-eval's own scorer gives its numbers; the default, which runs each dialogue prompt once, differs only in
    float rounding (a mean margin to 1e-5; the accuracies exactly)."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from e2lm_bench.lm_eval_tasks import TASKS_DIR

    summary = run_trajectory(_config([tiny_series], tmp_path / "run", scorer=scorer))
    assert len(summary.evaluated) == 8 and not summary.failed
    table = _values(tmp_path / "run")
    assert list(table["step"].drop_duplicates()) == [100, 200, 300, 400]
    manager = TaskManager(include_defaults=False, include_path=str(TASKS_DIR))
    for step in (100, 400):
        reference = simple_evaluate(model="hf", model_args=f"pretrained={tiny_series}/checkpoint-{step}",
                                    tasks=TASKS, task_manager=manager, batch_size=8, device="cpu")
        for task in TASKS:
            for metric in ("acc", "margin"):
                ours = table.query("step == @step and task == @task and metric == @metric")["value"].item()
                expected = reference["results"][task][f"{metric},none"]
                assert ours == (expected if metric == "acc" else pytest.approx(expected, abs=tolerance))
    samples = (tmp_path / "run" / "samples" / "tiny" / "checkpoint-100" / "dialogue_minpairs_words.jsonl").read_text()
    first = json.loads(samples.splitlines()[0])
    assert len(first["loglikelihoods"]) == 2 and first["margin"] == pytest.approx(
        first["loglikelihoods"][0] - first["loglikelihoods"][1])


class Killed(BaseException):
    """Stands for the run being killed (not an Exception: nothing may catch it)."""


def test_interrupted_run_resumes_without_reevaluating(tiny_series, use_data_dir, tmp_path, monkeypatch):
    calls, kill_at = [], [3]
    original = trajectory.evaluate_checkpoint_task

    def counting(*args, **kwargs):
        calls.append(args[1].name)
        if len(calls) == kill_at[0]:  # the first checkpoint's two tasks are written; die on the next
            raise Killed
        return original(*args, **kwargs)

    monkeypatch.setattr(trajectory, "evaluate_checkpoint_task", counting)
    with pytest.raises(Killed):
        run_trajectory(_config([tiny_series], tmp_path / "run"))
    calls.clear()
    kill_at[0] = None
    summary = run_trajectory(_config([tiny_series], tmp_path / "run"))
    assert summary.skipped == 2 and "checkpoint-100" not in calls and len(calls) == 6
    run_trajectory(_config([tiny_series], tmp_path / "fresh"))
    pd.testing.assert_frame_equal(_values(tmp_path / "run"), _values(tmp_path / "fresh"))


def test_killed_process_resumes(tiny_series, data_dir, tmp_path):
    """Acceptance: SIGKILL after the first checkpoint; the rerun finishes without re-evaluating it."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "e2lm_bench.cli", "trajectory", str(tiny_series), "--tasks", ",".join(TASKS),
               "--output", str(out), "--batch-size", "1", "--device", "cpu"]
    env = {**os.environ, "E2LM_DATA_DIR": str(data_dir)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = [out / "parts" / "tiny" / "checkpoint-100" / f"{task}.csv" for task in TASKS]
    deadline = time.time() + 120
    while not all(p.exists() for p in first) and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = len(list((out / "parts").glob("*/*/*.csv")))
    assert 2 <= done_before < 8, "the run must be killed part-way for this test to mean anything"
    leftover = out / "claims" / "tiny" / "checkpoint-100" / f"{TASKS[-1]}.0.json"  # as if killed before releasing
    if not leftover.exists():
        leftover.write_text(json.dumps({"host": host_name(), "pid": process.pid, "token": "killed", "digest": "?"}))
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"evaluated {8 - done_before}, already done {done_before}" in rerun.stdout
    assert not list(out.rglob("*.tmp"))
    assert not [p for p in (out / "claims").rglob("*") if p.is_file()], "the killed process's claims are cleared"
    fresh = tmp_path / "fresh"
    subprocess.run([*command[:-6], "--output", str(fresh), "--batch-size", "1", "--device", "cpu"], env=env,
                   check=True, capture_output=True)
    pd.testing.assert_frame_equal(_values(out), _values(fresh))


def test_shards_partition_the_work_and_merge_by_folder(tiny_series, use_data_dir, tmp_path):
    first = run_trajectory(_config([tiny_series], tmp_path / "run", shard=(0, 2)))
    second = run_trajectory(_config([tiny_series], tmp_path / "run", shard=(1, 2)))
    names = lambda summary: {checkpoint for _, checkpoint, _ in summary.evaluated}  # noqa: E731
    assert names(first) == {"checkpoint-100", "checkpoint-300"} and names(second) == {"checkpoint-200", "checkpoint-400"}
    assert len(read_results(tmp_path / "run" / "results.csv")) == len(read_results(tmp_path / "run"))
    assert set(read_results(tmp_path / "run")["checkpoint"]) == {f"checkpoint-{s}" for s in (100, 200, 300, 400)}


def test_checkpoint_without_weights_is_reported_and_skipped(tokenizer_bos, use_data_dir, tmp_path):
    series = write_series(tmp_path / "broken", tokenizer_bos, steps=(10, 20, 30))
    (series / "checkpoint-20" / "model.safetensors").unlink()
    summary = run_trajectory(_config([series], tmp_path / "run"))
    assert [f["checkpoint"] for f in summary.failed] == ["checkpoint-20"]
    assert "no weight file" in summary.failed[0]["error"]
    assert {c for _, c, _ in summary.evaluated} == {"checkpoint-10", "checkpoint-30"}
    assert json.loads((tmp_path / "run" / "failures.json").read_text())[0]["checkpoint"] == "checkpoint-20"
    write_series(tmp_path / "fixed", tokenizer_bos, steps=(20,))
    (tmp_path / "fixed" / "checkpoint-20" / "model.safetensors").rename(series / "checkpoint-20" / "model.safetensors")
    summary = run_trajectory(_config([series], tmp_path / "run"))
    assert summary.skipped == 4 and not summary.failed
    assert json.loads((tmp_path / "run" / "failures.json").read_text()) == []


def test_tokenizer_and_requests_are_shared_across_checkpoints(tiny_series, tokenizer_nobos, use_data_dir, tmp_path):
    config = _config([tiny_series], tmp_path)
    runner = fetching.CheckpointLoader(config)
    checkpoints = discover(str(tiny_series))
    first = runner.lm_for(checkpoints[0])
    tokenizer, encoded = runner.tokenizer, runner.encoded
    task = trajectory.load_tasks(["zorro_ellipsis_n_bar"])["zorro_ellipsis_n_bar"]
    trajectory.evaluate_checkpoint_task(first, checkpoints[0], "zorro_ellipsis_n_bar", task, tmp_path, config)
    assert len(encoded) == 6  # 3 pairs x 2 choices, tokenised once
    runner.lm_for(checkpoints[1])
    assert runner.tokenizer is tokenizer and runner.encoded is encoded
    other = discover(str(write_series(tmp_path / "other", tokenizer_nobos, steps=(5,))))[0]
    runner.lm_for(other)  # another tokenizer: its requests must be tokenised afresh
    assert runner.tokenizer is not tokenizer and runner.encoded == {}


def test_bad_inputs_are_clear(tmp_path, tiny_series, use_data_dir):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SeriesError, match="no checkpoints found"):
        discover(str(tmp_path / "empty"))
    with pytest.raises(TrajectoryError, match="unknown task.*zorro_nonsense"):
        run_trajectory(TrajectoryConfig(series=[str(tiny_series)], tasks=["zorro_nonsense"], output=tmp_path / "o"))
    assert not (tmp_path / "o" / "parts").exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("model,checkpoint,step,task,metric,value\nm,c,1,t,acc,0.5\n")
    with pytest.raises(ResultsError, match=r"bad\.csv: missing column\(s\) tokens, words, stderr"):
        read_results(bad)
    with pytest.raises(TrajectoryError, match="--shard '3/2'"):
        run_plan.parse_shard("3/2")


def test_cli_user_errors_have_no_traceback(tmp_path, capsys):
    from e2lm_bench.cli import main

    (tmp_path / "empty").mkdir()
    assert main(["trajectory", str(tmp_path / "empty"), "--tasks", "zorro", "--output", str(tmp_path / "o")]) == 2
    assert "no checkpoints found" in capsys.readouterr().err
    bad = tmp_path / "r.csv"
    bad.write_text("model,value\nm,1\n")
    assert main(["score", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "missing column(s)" in err and "Traceback" not in err


def test_hub_series_discovery_uses_the_listing(monkeypatch):
    """Hub repositories: iter_* subfolders (E2LM) or chck_* revisions (BabyLM); only the listing is mocked."""
    import huggingface_hub

    class FakeApi:
        def __init__(self, token=None):
            pass

        def list_repo_files(self, repo):
            if repo == "org/e2lm":
                return ["iter_0004000/config.json", "iter_0002000/config.json", "iter_0002000/model.safetensors",
                        "README.md", "notes/config.json"]
            return ["config.json", "model.safetensors"]

        def list_repo_refs(self, repo):
            branches = ["main", "chck_10M", "chck_2M", "chck_100M"] if repo == "org/babylm" else ["main"]
            return type("Refs", (), {"branches": [type("Ref", (), {"name": b}) for b in branches]})

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    e2lm = discover("org/e2lm")
    assert [(c.name, c.subfolder, c.step) for c in e2lm] == [("iter_0002000", "iter_0002000", 2000),
                                                              ("iter_0004000", "iter_0004000", 4000)]
    assert e2lm[0].tokens == pytest.approx(2.10e9, rel=5e-3)
    babylm = discover("org/babylm")
    assert [(c.revision, c.words) for c in babylm] == [("chck_2M", 2e6), ("chck_10M", 1e7), ("chck_100M", 1e8)]
    assert [c.name for c in discover("org/plain")] == ["final"]


def test_trajectory_then_score_then_report(tiny_series, use_data_dir, tmp_path, capsys):
    """Acceptance: the three commands produce results, scores and a self-contained report."""
    from e2lm_bench.cli import main

    out = tmp_path / "run"
    assert main(["trajectory", str(tiny_series), "--tasks", "dialogue_minpairs,lexical_decision", "--output", str(out),
                 "--batch-size", "8", "--device", "cpu"]) == 0
    assert (out / "results.csv").is_file() and (out / "samples" / "tiny" / "checkpoint-400").is_dir()
    assert main(["score", str(out)]) == 0
    scores = json.loads((out / "scores.json").read_text())
    benchmarks = {(b["task"], b["metric"]) for b in scores["benchmarks"]}
    assert {("dialogue_minpairs", "margin"), ("lexical_decision", "acc")} <= benchmarks
    for benchmark in scores["benchmarks"]:
        assert set(benchmark["models"]) == {"tiny"} and benchmark["models"]["tiny"]["n"] == 4
        assert benchmark["models"]["tiny"]["warning"]  # 4 points: no lag for the autocorrelation
    assert "dialogue_minpairs" in capsys.readouterr().out
    assert main(["report", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and (out / "report.md").is_file()
    assert list((out / "plots").glob("curve_*.png"))
