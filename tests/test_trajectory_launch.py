"""`trajectory` with several processes on one run folder: under torchrun, as srun's tasks, and as two plain
processes started at once. Each process evaluates its share; the results equal one process's."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys

import pandas as pd
import pytest

from e2lm_bench.evaluation.results import read_results

TASKS = "dialogue_minpairs_words,zorro_ellipsis_n_bar"
SUMMARY = re.compile(r"evaluated (\d+), already done (\d+), by other processes (\d+)")


def _command(series, out) -> list[str]:
    return ["-m", "e2lm_bench", "trajectory", str(series), "--tasks", TASKS, "--output", str(out),
            "--batch-size", "8", "--device", "cpu"]


def _env(data_dir) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID")}
    return {**env, "E2LM_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": "1"}


def _table(out) -> pd.DataFrame:
    return read_results(out).sort_values(["model", "checkpoint", "task", "metric"]).reset_index(drop=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def single(tiny_series, data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("single") / "run"
    subprocess.run([sys.executable, *_command(tiny_series, out)], env=_env(data_dir), check=True, capture_output=True)
    return _table(out)


def _check_split(outputs: list[str], out, single: pd.DataFrame) -> None:
    counts = [tuple(map(int, SUMMARY.search(text).groups())) for text in outputs]
    assert len(counts) == 2, outputs
    assert sum(evaluated for evaluated, _, _ in counts) == 8, counts  # 4 checkpoints x 2 tasks, each part once
    assert all(evaluated > 0 and done == 0 and evaluated + others == 8 for evaluated, done, others in counts), counts
    pd.testing.assert_frame_equal(_table(out), single)
    assert len(read_results(out / "results.csv")) == len(single)
    assert not [p for p in (out / "claims").rglob("*") if p.is_file()], "every claim is released"


def test_torchrun_processes_split_the_parts(tiny_series, data_dir, tmp_path, single):
    out = tmp_path / "run"
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                          "--master-port", str(_free_port()), *_command(tiny_series, out)],
                         env=_env(data_dir), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [line for line in run.stdout.splitlines() if SUMMARY.search(line)]
    assert sorted(line.split("[")[-1] for line in lines) == ["process 0 of 2 (torchrun)]", "process 1 of 2 (torchrun)]"]
    _check_split(lines, out, single)


@pytest.mark.parametrize("launcher", ["plain", "srun"])
def test_processes_started_at_once_share_the_folder(tiny_series, data_dir, tmp_path, single, launcher):
    """Two terminals (or a SLURM array) on one --output, or srun's two tasks: each part is evaluated once."""
    out = tmp_path / "run"
    processes = []
    for rank in range(2):
        env = _env(data_dir)
        if launcher == "srun":
            env |= {"SLURM_PROCID": str(rank), "SLURM_STEP_NUM_TASKS": "2", "SLURM_LOCALID": str(rank)}
        processes.append(subprocess.Popen([sys.executable, *_command(tiny_series, out)], env=env, text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
        outputs.append(stdout)
    _check_split(outputs, out, single)


def _torchrun(series, out, data_dir, *options, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--master-port", str(_free_port()), *_command(series, out), *options],
                          env=env or _env(data_dir), capture_output=True, text=True, timeout=600)


def test_requests_split_evaluates_each_part_with_both_processes(tiny_series, data_dir, tmp_path, single):
    """--split requests: one checkpoint at a time, lm-eval splitting each task's documents between the processes
    (the model reports a world of 2); the first process writes, the numbers are one process's."""
    out = tmp_path / "run"
    run = _torchrun(tiny_series, out, data_dir, "--split", "requests")
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [line for line in run.stdout.splitlines() if SUMMARY.search(line)]
    assert len(lines) == 2 and all("evaluated 8, already done 0, by other processes 0" in line for line in lines), lines
    assert all("each task's documents split among 2 processes" in line for line in lines), lines
    # other batches than one process's (each holds half the documents): accuracies exact, margins to float rounding
    table = _table(out)
    accuracy = table["metric"] == "acc"
    pd.testing.assert_frame_equal(table[accuracy], single[accuracy])
    pd.testing.assert_frame_equal(table, single, check_exact=False, atol=1e-5, rtol=0)


def test_a_process_with_no_part_does_not_hold_the_others(tiny_series, data_dir, tmp_path):
    """One checkpoint, two processes, the group-forming path taken (ACCELERATE_USE_CPU stands for GPUs here): the
    parts split builds every model outside any process group, so the process left without work cannot hang the
    other at a rendezvous, and no task's documents are split between processes evaluating different parts."""
    out = tmp_path / "run"
    run = _torchrun(tiny_series, out, data_dir, "--max-step", "100", env=_env(data_dir) | {"ACCELERATE_USE_CPU": "true"})
    assert run.returncode == 0, run.stderr[-3000:]
    counts = [tuple(map(int, SUMMARY.search(line).groups())) for line in run.stdout.splitlines() if SUMMARY.search(line)]
    assert sorted(evaluated for evaluated, _, _ in counts)[-1] >= 1 and sum(e for e, _, _ in counts) == 2, counts
    assert "split among" not in run.stdout


FAILS_ON_ONE_PROCESS = '''
import os, sys
from e2lm_bench.evaluation.fetching import CheckpointLoader
from e2lm_bench.cli import main

load = CheckpointLoader.lm_for

def lm_for(self, checkpoint, folder=None):
    if os.environ["RANK"] == "1" and checkpoint.name == "checkpoint-200":
        raise MemoryError("CUDA out of memory on this process alone")
    return load(self, checkpoint, folder)

CheckpointLoader.lm_for = lm_for
sys.exit(main())
'''


def test_a_checkpoint_one_process_cannot_load_is_skipped_by_all(tiny_series, data_dir, tmp_path, single):
    """--split requests: a load failing on one process only (one GPU out of memory) must not leave the other
    waiting at a gather; both skip that checkpoint, record why, and evaluate the rest together."""
    script = tmp_path / "fails_on_one_process.py"
    script.write_text(FAILS_ON_ONE_PROCESS)
    out = tmp_path / "run"
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                          "--master-port", str(_free_port()), str(script), *_command(tiny_series, out)[2:],
                          "--split", "requests"], env=_env(data_dir), capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stderr[-3000:]  # a failed checkpoint: the run says so
    lines = [line for line in run.stdout.splitlines() if SUMMARY.search(line)]
    assert len(lines) == 2 and all("evaluated 6," in line and "failed checkpoints 1" in line for line in lines), lines
    failures = json.loads((out / "failures.json").read_text())
    assert [f["checkpoint"] for f in failures] == ["checkpoint-200"]
    assert "CUDA out of memory on this process alone" in failures[0]["error"], failures  # either process's record
    table, expected = _table(out), single[single["checkpoint"] != "checkpoint-200"].reset_index(drop=True)
    pd.testing.assert_frame_equal(table, expected, check_exact=False, atol=1e-5, rtol=0)
