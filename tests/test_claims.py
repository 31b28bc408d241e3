"""Claim files and the launch a process belongs to: what lets several processes share one run folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from e2lm_bench.errors import UserError
from e2lm_bench.evaluation import claims as claims_module
from e2lm_bench.evaluation.claims import ClaimConflict, Claims, SharedWork, claim_folder
from e2lm_bench.evaluation.run_plan import work_order
from e2lm_bench.evaluation.series import Checkpoint
from e2lm_bench.launch import Launch, current_launch

CHECKPOINT = Checkpoint(model="tiny", name="checkpoint-100", pretrained="/nowhere")


@pytest.fixture
def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _plant(tmp_path, generation: int, **holder) -> None:
    folder = claim_folder(tmp_path, CHECKPOINT)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"zorro.{generation}.json").write_text(json.dumps({"token": "other", "digest": "d", **holder}))


def test_a_part_is_claimed_by_one_process_and_free_again_once_released(tmp_path):
    with Claims(tmp_path, {"zorro": "d"}) as first, Claims(tmp_path, {"zorro": "d"}) as second:
        assert first.claim(CHECKPOINT, "zorro") and first.holds(CHECKPOINT, "zorro")
        assert not second.claim(CHECKPOINT, "zorro")  # same host, and this process runs: a live claim
        assert second.live_elsewhere(CHECKPOINT, "zorro") and not first.live_elsewhere(CHECKPOINT, "zorro")
        first.release(CHECKPOINT, "zorro")
        assert not second.live_elsewhere(CHECKPOINT, "zorro")
        assert second.claim(CHECKPOINT, "zorro")
    assert not list(claim_folder(tmp_path, CHECKPOINT).iterdir()), "close() releases what is still held"


def test_a_dead_process_claim_is_taken_over_by_the_next_generation(tmp_path, dead_pid):
    from e2lm_bench.atomic import host_name

    _plant(tmp_path, 0, host=host_name(), pid=dead_pid)
    with Claims(tmp_path, {"zorro": "d"}) as claims:
        assert claims.claim(CHECKPOINT, "zorro")
        assert [p.name for p in claim_folder(tmp_path, CHECKPOINT).iterdir()] == ["zorro.1.json"]


def test_a_killed_writers_leftover_claim_is_cleared_and_a_live_one_kept(tmp_path, dead_pid):
    from e2lm_bench.atomic import host_name

    _plant(tmp_path, 0, host=host_name(), pid=dead_pid)  # killed after writing its part, before releasing
    _plant(tmp_path, 1, host="elsewhere", pid=1)  # touched just now: live
    with Claims(tmp_path, {"zorro": "d"}) as claims:
        claims.clear_dead(CHECKPOINT, ["zorro"])
        assert [p.name for p in claim_folder(tmp_path, CHECKPOINT).iterdir()] == ["zorro.1.json"]


def test_another_hosts_claim_lives_while_it_is_touched(tmp_path, monkeypatch):
    _plant(tmp_path, 3, host="elsewhere", pid=1)
    with Claims(tmp_path, {"zorro": "d"}) as claims:
        assert not claims.claim(CHECKPOINT, "zorro")
        path = claim_folder(tmp_path, CHECKPOINT) / "zorro.3.json"
        old = time.time() - claims_module.STALE_AFTER - 5
        os.utime(path, (old, old))
        assert claims.claim(CHECKPOINT, "zorro")
        assert [p.name for p in claim_folder(tmp_path, CHECKPOINT).iterdir()] == ["zorro.4.json"]


def test_the_heartbeat_keeps_a_held_claim_fresh(tmp_path, monkeypatch):
    monkeypatch.setattr(claims_module, "HEARTBEAT", 0.05)
    with Claims(tmp_path, {"zorro": "d"}) as claims:
        claims.claim(CHECKPOINT, "zorro")
        path = claim_folder(tmp_path, CHECKPOINT) / "zorro.0.json"
        os.utime(path, (0, 0))
        time.sleep(0.3)
        assert time.time() - path.stat().st_mtime < 5


def test_a_live_claim_with_other_settings_stops_the_run(tmp_path):
    with Claims(tmp_path, {"zorro": "d"}) as first, Claims(tmp_path, {"zorro": "other"}) as second:
        first.claim(CHECKPOINT, "zorro")
        with pytest.raises(ClaimConflict, match="zorro of tiny:checkpoint-100 is being evaluated by process .* with other "
                                                "settings"):
            second.claim(CHECKPOINT, "zorro")


def test_shared_work_leaves_held_parts_and_the_finisher_takes_over_a_dead_holders(tmp_path, dead_pid, monkeypatch):
    from e2lm_bench.atomic import host_name

    other = Checkpoint(model="tiny", name="checkpoint-200", pretrained="/nowhere")
    parts = {CHECKPOINT: ["zorro"], other: ["zorro"]}
    with Claims(tmp_path, {"zorro": "d"}) as held_elsewhere, Claims(tmp_path, {"zorro": "d"}) as claims:
        held_elsewhere.claim(CHECKPOINT, "zorro")
        work = SharedWork(parts, claims, done=lambda c, t: False)
        assert work.take(True) == other and work.tasks[other] == ["zorro"]
        assert work.take(True) is None and work.claimed == 1  # not the finisher: the held part is left to its holder

        finisher = SharedWork(parts, claims, done=lambda c, t: False, finisher=True, poll=0.01)
        claims.release(other, "zorro")
        assert finisher.take(False) == other and finisher.take(False) is None
        # the holder dies without writing its part: the finisher, waiting for it, takes it over
        held_elsewhere.held.clear()
        path = next(claim_folder(tmp_path, CHECKPOINT).iterdir())
        path.write_text(json.dumps({"token": "gone", "host": host_name(), "pid": dead_pid, "digest": "d"}))
        assert finisher.take(True) == CHECKPOINT and finisher.claimed == 2


def test_work_order_starts_with_the_ranks_share_and_an_explicit_shard_wins():
    checkpoints = [Checkpoint(model="m", name=f"c{k}", pretrained="/x") for k in range(5)]
    names = lambda order: [c.name for c in order]  # noqa: E731
    assert names(work_order(checkpoints, None, Launch())) == ["c0", "c1", "c2", "c3", "c4"]
    assert names(work_order(checkpoints, None, Launch(1, 2))) == ["c1", "c3", "c0", "c2", "c4"]
    assert names(work_order(checkpoints, (1, 2), Launch(0, 2))) == ["c1", "c3"]


@pytest.mark.parametrize("environ, expected", [
    ({}, Launch()),
    ({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}, Launch(1, 4, 1, "torchrun")),
    ({"SLURM_PROCID": "5", "SLURM_STEP_NUM_TASKS": "8", "SLURM_LOCALID": "1"}, Launch(5, 8, 1, "srun")),
    # a batch script sees its allocation's task count without being one of the tasks
    ({"SLURM_PROCID": "0", "SLURM_NTASKS": "8"}, Launch()),
    # torchrun started by srun: torchrun's ranks are the processes'
    ({"SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "2", "RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"},
     Launch(3, 4, 1, "torchrun")),
])
def test_the_launch_is_read_from_the_launchers_variables(environ, expected):
    assert current_launch(environ) == expected


def test_a_malformed_launch_variable_is_named():
    with pytest.raises(UserError, match="RANK='x'"):
        current_launch({"RANK": "x", "WORLD_SIZE": "2"})
    with pytest.raises(UserError, match="RANK=2 with WORLD_SIZE=2"):
        current_launch({"RANK": "2", "WORLD_SIZE": "2"})


def test_each_process_takes_the_gpu_its_local_rank_names(monkeypatch):
    import torch

    from e2lm_bench.devices import process_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert process_device(None, Launch(5, 8, 1, "srun")) == "cuda:1"
    assert process_device("cuda", Launch(2, 4, 2, "torchrun")) == "cuda:2"
    assert process_device("cuda:3", Launch(2, 4, 2, "torchrun")) == "cuda:3"  # given with its index: kept
    assert process_device("cpu", Launch(2, 4, 2, "torchrun")) == "cpu"
    assert process_device(None, Launch()) == "cuda"
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # srun --gpus-per-task=1: each sees its own as 0
    assert process_device(None, Launch(5, 8, 1, "srun")) == "cuda:0"
