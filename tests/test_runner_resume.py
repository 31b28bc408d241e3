"""Resume that cannot mix settings, and run folders that score and report whatever tasks were asked for."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from e2lm_bench.cli import main
from e2lm_bench.evaluation import trajectory
from e2lm_bench.evaluation.results import ResultsError, read_results
from e2lm_bench.evaluation.trajectory import TrajectoryConfig, TrajectoryError, run_trajectory
from tests.conftest import DIALOGUE_ROWS, write_data_dir

TASK = "dialogue_minpairs_words"
KEY = ["model", "checkpoint", "task", "metric"]


def _config(series, out, **kwargs) -> TrajectoryConfig:
    return TrajectoryConfig(series=[str(series)], tasks=[TASK], output=out, batch_size=8, device="cpu", max_step=200,
                            **kwargs)


@pytest.fixture
def calls(monkeypatch) -> list[str]:
    """The checkpoints evaluated, in order."""
    seen, original = [], trajectory.evaluate_checkpoint_task

    def counting(lm, checkpoint, *args, **kwargs):
        seen.append(checkpoint.name)
        return original(lm, checkpoint, *args, **kwargs)

    monkeypatch.setattr(trajectory, "evaluate_checkpoint_task", counting)
    return seen


def test_rerun_with_other_settings_stops_before_evaluating(tiny_series, use_data_dir, tmp_path, calls):
    out = tmp_path / "run"
    run_trajectory(_config(tiny_series, out, limit=2))
    before = read_results(out)
    calls.clear()
    refusal = f"{out} was run with limit=2; this run has limit=3 (use --overwrite to re-evaluate)"
    with pytest.raises(TrajectoryError) as caught:
        run_trajectory(_config(tiny_series, out, limit=3))
    assert str(caught.value) == refusal and calls == []
    with pytest.raises(TrajectoryError, match="was run with dtype=auto; this run has dtype=float32"):
        run_trajectory(_config(tiny_series, out, limit=2, dtype="float32"))
    with pytest.raises(TrajectoryError, match=r"was run with seed=\[0, 1234, 1234, 1234\]; this run has seed=\[1, "):
        run_trajectory(_config(tiny_series, out, limit=2, seed=[1, 1, 1, 1]))
    assert calls == [] and read_results(out).equals(before)
    summary = run_trajectory(_config(tiny_series, out, limit=3, overwrite=True))
    assert calls == ["checkpoint-100", "checkpoint-200"] and summary.skipped == 0
    settings = json.loads((out / "parts" / "tiny" / "checkpoint-100" / f"{TASK}.json").read_text())
    assert settings["limit"] == 3
    calls.clear()
    assert run_trajectory(_config(tiny_series, out, limit=3, overwrite=True)).skipped == 2 and calls == []


def test_a_shard_cannot_mix_settings_into_the_other_shards_parts(tiny_series, use_data_dir, tmp_path, calls):
    out = tmp_path / "run"
    run_trajectory(_config(tiny_series, out, limit=2, shard=(0, 2)))
    calls.clear()
    with pytest.raises(TrajectoryError, match="was run with limit=2; this run has limit=3"):
        run_trajectory(_config(tiny_series, out, limit=3, shard=(1, 2)))
    assert calls == []
    assert run_trajectory(_config(tiny_series, out, limit=2, shard=(1, 2))).evaluated == [
        ("tiny", "checkpoint-200", TASK)]


def test_rerun_with_other_documents_names_the_data_folder(tiny_series, use_data_dir, tmp_path, monkeypatch, calls):
    out = tmp_path / "run"
    run_trajectory(_config(tiny_series, out))
    other = write_data_dir(tmp_path / "other")
    with open(other / "dialogue_minpairs" / "dialogue_eval_words.jsonl", "w") as f:
        f.writelines(json.dumps(row) + "\n" for row in DIALOGUE_ROWS[::-1])
    monkeypatch.setenv("E2LM_DATA_DIR", str(other))
    calls.clear()
    with pytest.raises(TrajectoryError, match=f"was run with data_dir={use_data_dir}; this run has data_dir={other}"):
        run_trajectory(_config(tiny_series, out))
    same = write_data_dir(tmp_path / "copy")  # the same documents elsewhere: nothing to re-evaluate
    monkeypatch.setenv("E2LM_DATA_DIR", str(same))
    assert run_trajectory(_config(tiny_series, out)).skipped == 2 and calls == []


def test_cli_refusal_is_one_line(tiny_series, use_data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    command = ["trajectory", str(tiny_series), "--tasks", TASK, "--output", str(out), "--device", "cpu",
               "--max-step", "100"]
    assert main([*command, "--limit", "2"]) == 0
    capsys.readouterr()
    assert main([*command, "--limit", "3"]) == 2
    err = capsys.readouterr().err
    assert err == (f"e2lm-bench trajectory: {out} was run with limit=2; this run has limit=3 "
                   "(use --overwrite to re-evaluate)\n")
    assert main([*command, "--limit", "3", "--overwrite"]) == 0
    assert "evaluated 1, already done 0" in capsys.readouterr().out


def test_parts_without_recorded_settings_are_kept_and_reported(tiny_series, use_data_dir, tmp_path, calls):
    out = tmp_path / "run"
    run_trajectory(_config(tiny_series, out))
    (out / "parts" / "tiny" / "checkpoint-100" / f"{TASK}.json").unlink()  # as written by an older version
    calls.clear()
    summary = run_trajectory(_config(tiny_series, out))
    assert summary.unverified == 1 and summary.skipped == 2 and calls == []
    summary = run_trajectory(_config(tiny_series, out, overwrite=True))
    assert summary.unverified == 0 and calls == ["checkpoint-100"]


def test_a_rerun_with_the_other_scorer_is_refused(tiny_series, use_data_dir, tmp_path, calls):
    """One scorer per curve: in bf16 the two scorers' log-likelihoods differ by more than near checkpoints do."""
    out = tmp_path / "run"
    run_trajectory(_config(tiny_series, out, limit=2))
    calls.clear()
    with pytest.raises(TrajectoryError, match="was run with scorer=hf-prefix; this run has scorer=hf"):
        run_trajectory(_config(tiny_series, out, limit=2, scorer="hf"))
    assert calls == []
    assert run_trajectory(_config(tiny_series, out, limit=2, scorer="hf", overwrite=True)).skipped == 0
    settings = out / "parts" / "tiny" / "checkpoint-100" / f"{TASK}.json"
    assert json.loads(settings.read_text())["scorer"] == "hf"
    recorded = json.loads(settings.read_text())
    del recorded["scorer"]  # as written before the scorer was recorded
    settings.write_text(json.dumps(recorded))
    calls.clear()
    summary = run_trajectory(_config(tiny_series, out, limit=2, scorer="hf"))
    assert summary.unverified == 1 and summary.skipped == 2 and calls == []
    summary = run_trajectory(_config(tiny_series, out, limit=2, scorer="hf", overwrite=True))
    assert summary.unverified == 0 and calls == ["checkpoint-100"]


def test_damaged_parts_are_named_and_re_evaluated(tiny_series, use_data_dir, tmp_path, calls, capsys):
    """A part cut short (a failed copy, a full disk), a garbled settings file or a cut samples file is never
    taken as done: read_results refuses the folder, the rerun re-evaluates those parts and names them, and
    results.csv ends as it was."""
    out = tmp_path / "run"
    command = ["trajectory", str(tiny_series), "--tasks", f"{TASK},dialogue_minpairs_tokens", "--output", str(out),
               "--device", "cpu", "--max-step", "200", "--batch-size", "8"]
    assert main(command) == 0
    before = (out / "results.csv").read_text()
    parts = out / "parts" / "tiny"
    cut = parts / "checkpoint-100" / f"{TASK}.csv"
    cut.write_bytes(cut.read_bytes()[:-20])
    (parts / "checkpoint-200" / f"{TASK}.json").write_text('{"limit": nu')
    samples = out / "samples" / "tiny" / "checkpoint-200" / "dialogue_minpairs_tokens.jsonl"
    samples.write_bytes(samples.read_bytes()[: samples.stat().st_size // 2])
    with pytest.raises(ResultsError, match=r"rows are cut short or changed .*\(and 2 more\); rerun"):
        read_results(out)
    capsys.readouterr()
    calls.clear()
    assert main(command) == 0
    captured = capsys.readouterr()
    assert sorted(calls) == ["checkpoint-100", "checkpoint-200", "checkpoint-200"]
    assert "evaluated 3, already done 1, by other processes 0, failed checkpoints 0, re-evaluated damaged parts 3" in captured.out
    for name, why in ((f"checkpoint-100/{TASK}.csv", "its rows are cut short or changed (1 of 2 rows)"),
                      (f"checkpoint-200/{TASK}.csv", f"its settings file {TASK}.json is unreadable"),
                      ("checkpoint-200/dialogue_minpairs_tokens.csv", "its samples file is cut short")):
        assert f"re-evaluating {parts / name}: {why}" in captured.out
    assert (out / "results.csv").read_text() == before
    assert len(read_results(out)) == len(pd.read_csv(out / "results.csv"))


def test_score_and_report_refuse_a_table_without_rows(tmp_path, capsys):
    empty = tmp_path / "results.csv"
    empty.write_text("model,checkpoint,step,tokens,words,task,metric,value,stderr\n")
    assert main(["score", str(empty)]) == 2
    assert capsys.readouterr().err == f"e2lm-bench score: {empty}: the results table has no rows (nothing was " \
                                      "evaluated, or every checkpoint failed)\n"
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.csv").write_text(empty.read_text())
    assert main(["report", str(tmp_path / "run")]) == 2
    assert "the results table has no rows" in capsys.readouterr().err


@pytest.mark.parametrize("max_step", [100, 200])
def test_group_and_its_subtask_score_and_report(tiny_series, use_data_dir, tmp_path, capsys, max_step):
    """A group and one of its subtasks in one run: one row each; score and report run on one or two checkpoints."""
    out = tmp_path / "run"
    assert main(["trajectory", str(tiny_series), "--tasks", f"dialogue_minpairs,{TASK}", "--output", str(out),
                 "--device", "cpu", "--max-step", str(max_step)]) == 0
    for table in (read_results(out), read_results(out / "results.csv")):
        assert not table.duplicated(KEY).any()
        assert {"dialogue_minpairs", TASK, "dialogue_minpairs_tokens"} <= set(table["task"])
    capsys.readouterr()
    assert main(["score", str(out)]) == 0
    assert main(["report", str(out)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert (out / "report.html").is_file()
    merged_by_older_versions = tmp_path / "old.csv"  # both parts' rows, as results.csv had them
    pd.concat(map(pd.read_csv, sorted(out.glob("parts/*/*/*.csv")))).to_csv(merged_by_older_versions, index=False)
    assert main(["score", str(merged_by_older_versions)]) == 2
    assert "several rows share the same step" in capsys.readouterr().err
