"""``e2lm-bench eval`` launched as 2 CPU processes (torchrun, accelerate launch) gives the 1-process results.

``hf-prefix`` splits the documents between the processes (gloo) and lm-eval gathers the results to rank 0. lm-eval
0.4.13's ``hf`` splits only over several GPUs, so on CPUs each of its processes evaluates everything. Either way rank 0
alone writes and prints the results, and every process exits 0.

``hf-prefix`` runs a token prefix shared by a chunk of contexts once, and which contexts share a chunk depends on the
requests a process holds, so its log-likelihoods match the 1-process ones to float32 rounding (as they match ``hf``'s),
not to the bit; what depends on them only through 0/1 decisions (``acc`` and its stderr) matches exactly.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed

pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()), reason="needs torch's gloo backend"
)

# A zero-shot minimal-pair task, the 5-shot multiple-choice task, a BabyLM 2025 task with a corpus-level aggregation.
TASKS = "dialogue_minpairs_words,early_science,wug_adj_fast"
LIMIT = "9"  # odd: lm-eval pads the process with fewer requests
# hf under accelerate launch is left out: on CPUs lm-eval's hf does not split, so it runs as under torchrun.
LAUNCHED = [("hf-prefix", "torchrun"), ("hf-prefix", "accelerate"), ("hf", "torchrun")]
EXACT = ("acc,", "acc_stderr,", "acc_norm,", "acc_norm_stderr,", "alias")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launcher(name: str) -> list[str]:
    if name == "one":
        return [sys.executable]
    if name == "torchrun":
        return [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(_free_port())]
    # accelerate's --cpu starts one process unless under mpirun; --multi_gpu starts them through torchrun's machinery
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
            "--main_process_port", str(_free_port())]


@pytest.fixture(scope="module")
def runs(llama_dir, tmp_path_factory):
    """(model, launcher) -> (completed process, output folder), every run started at once to share the cores."""
    root = tmp_path_factory.mktemp("launch")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1"}
    started = {}
    for model, launcher in [("hf-prefix", "one"), ("hf", "one"), *LAUNCHED]:
        out = root / f"{model}-{launcher}"
        command = [*_launcher(launcher), "-m", "e2lm_bench", "eval", "--data-dir", "sample", "--model", model,
                   "--model_args", f"pretrained={llama_dir}", "--tasks", TASKS, "--limit", LIMIT, "--device", "cpu",
                   "--log_samples", "--output_path", str(out)]
        started[model, launcher] = (subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE,
                                                     stderr=subprocess.PIPE, text=True), out)
    done = {}
    for key, (process, out) in started.items():
        try:
            stdout, stderr = process.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        done[key] = (subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), out)
    return done


def _read(out: Path) -> tuple[dict, dict]:
    """The results file's per-task results, and each task's logged samples in file order."""
    [results] = list(out.rglob("results_*.json"))  # one file: rank 0 alone writes
    samples = {re.sub(r"^samples_|_\d{4}-\d\d-\d\dT.*$", "", f.name): [json.loads(line) for line in f.read_text().splitlines()]
               for f in out.rglob("samples_*.jsonl")}
    return json.loads(results.read_text())["results"], samples


def _log_likelihoods(row: dict) -> list[float]:
    return [float(ll) for ll, _ in row["filtered_resps"]]


def _greedy(row: dict) -> list[str]:
    return [greedy for _, greedy in row["filtered_resps"]]


@pytest.mark.parametrize(("model", "launcher"), LAUNCHED)
def test_two_processes_give_the_one_process_results(runs, model, launcher):
    for key in ((model, "one"), (model, launcher)):
        run = runs[key][0]
        assert run.returncode == 0, f"{key}: {run.stderr[-3000:]}"
    launched = runs[model, launcher][0]
    assert sum(line.startswith(f"{model} (") for line in launched.stdout.splitlines()) == 1  # one results table
    assert launched.stderr.count("note: BabyLM 2025 tasks: dtype float32") == 1  # our notes: rank 0's
    assert "e2lm-bench eval:" not in launched.stderr  # no error line from our wrapper
    one, one_samples = _read(runs[model, "one"][1])
    two, two_samples = _read(runs[model, launcher][1])
    assert {"dialogue_minpairs_words", "early_science", "wug_adj_fast"} <= set(one)
    assert one_samples.keys() == two_samples.keys() == one.keys()
    if model == "hf":
        assert json.dumps(two, sort_keys=True) == json.dumps(one, sort_keys=True)
        assert two_samples == one_samples
        return
    assert re.search(r"Building contexts for \w+ on rank 1", launched.stderr)  # lm-eval split the documents
    for task, metrics in one.items():
        assert metrics.keys() == two[task].keys(), task
        for name, value in metrics.items():
            if name.startswith(EXACT) or not isinstance(value, float):
                assert two[task][name] == value, (task, name)
            else:
                # a margin and its stderr: differences of log-likelihoods, each within 1e-4
                assert two[task][name] == pytest.approx(value, abs=2e-4, nan_ok=True), (task, name)
    for task, rows in one_samples.items():
        assert [r["doc_id"] for r in two_samples[task]] == [r["doc_id"] for r in rows], task  # gathered in document order
        for ours, theirs in zip(two_samples[task], rows, strict=True):
            assert _log_likelihoods(ours) == pytest.approx(_log_likelihoods(theirs), abs=1e-4), (task, ours["doc_id"])
            assert _greedy(ours) == _greedy(theirs), (task, ours["doc_id"])


def test_auto_batch_size_is_each_process_own(llama_dir):
    """HFLM gathers the "auto" batch size of every process, once per call of its request path; hf-prefix takes that
    path on as many calls as a process's documents need, so a gather would wait for a process that never joins."""
    from e2lm_bench.evaluation.prefix_lm import PrefixHFLM

    lm = PrefixHFLM(pretrained=str(llama_dir), batch_size="auto", max_batch_size=4, device="cpu")
    lm._world_size = 2

    def no_gather(tensor):
        raise AssertionError("gathered the batch size")

    lm.all_gather = no_gather
    assert lm._detect_batch_size() == 4
    assert lm.world_size == 2


def test_gathered_lists_are_put_back_in_document_order():
    from e2lm_bench.evaluation.prefix_lm import in_document_order

    parts = [{"t": {("acc", "none"): [0, 2, 4], ("margin", "none"): [0.0, 0.2, 0.4]}, "u": [10]},
             {"t": {("acc", "none"): [1, 3], ("margin", "none"): [0.1, 0.3]}, "u": []}]
    assert in_document_order(parts) == {"t": {("acc", "none"): [0, 1, 2, 3, 4], ("margin", "none"): [0.0, 0.1, 0.2, 0.3, 0.4]},
                                        "u": [10]}
    assert in_document_order([[None, None], [None]]) == [None, None, None]  # None is an item, not a gap
