"""Resume that cannot mix settings, and run folders that score and report whatever tasks were asked for."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from e2lm_bench.cli import main
from e2lm_bench.evaluation import trajectory
from e2lm_bench.evaluation.results import read_results
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
