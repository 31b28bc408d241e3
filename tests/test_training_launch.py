"""train, rl and interact under torchrun with 2 CPU processes (gloo): one run, not two copies of it.

Each test starts ``python -m torch.distributed.run --nproc-per-node 2 -m e2lm_bench ...`` as a user would, with
one thread per process, on models small enough that a launch costs mostly its start-up.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

from tests.conftest import DIALOGUE_ROWS

pytestmark = pytest.mark.skipif(not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
                                reason="torch.distributed with the gloo backend is unavailable")

REPO = Path(__file__).resolve().parents[1]
PROCESSES = 2
WORDS = "the a dog cat ball bed runs sleeps sees big red on to with and look at where is you want more milk".split()
TEACHER_TEXT = " the dog runs to the ball . the cat sleeps on the bed ."


def recording_teacher(contexts: list[str], completions: list[str]) -> list[str]:
    """A rule teacher (``module:function``) that notes how many contexts each process gave it, one line a call."""
    with open(Path(os.environ["TEACHER_LOG"]) / f"rank{os.environ['RANK']}.txt", "a") as log:
        log.write(f"{len(contexts)}\n")
    return [TEACHER_TEXT] * len(contexts)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(*command, **env) -> subprocess.Popen:
    """``e2lm-bench COMMAND`` started in 2 processes under torchrun, one thread each; output to files, so that
    launches running at once never wait on a full pipe."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **env,
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    logs = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    launch = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(PROCESSES),
                               "--master-port", str(_free_port()), "-m", "e2lm_bench", *map(str, command)],
                              cwd=REPO, env=environment, stdout=logs[0], stderr=logs[1])
    launch.logs = logs
    return launch


def _finish(launch: subprocess.Popen) -> subprocess.CompletedProcess:
    """The launch's output once it ended; fails with the end of it unless it exited 0."""
    launch.wait(timeout=600)
    stdout, stderr = (_read(log) for log in launch.logs)
    assert launch.returncode == 0, f"exit {launch.returncode}\n{stdout[-2000:]}\n{stderr[-4000:]}"
    return subprocess.CompletedProcess(launch.args, launch.returncode, stdout, stderr)


def _read(log) -> str:
    log.seek(0)
    with log:
        return log.read().decode("utf-8", errors="replace")


def _launch(*command, **env) -> subprocess.CompletedProcess:
    return _finish(_start(*command, **env))


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


def test_train_saves_one_series_on_a_word_schedule_that_counts_both_processes(tmp_path):
    """70 steps of 32 blocks on each process see ~1.1M words: chck_1M exists only if the schedule counts both
    processes' tokens (one process's count stays under 1M and would save no chck_ at all)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rng = np.random.default_rng(0)
    (corpus / "childes.train").write_text("\n".join(" ".join(rng.choice(WORDS, 30)) for _ in range(1200)) + "\n")
    LlamaConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                max_position_embeddings=256).to_json_file(tmp_path / "micro.json")  # ~10k parameters
    block, batch, steps = 256, 32, 70
    run = _launch("train", corpus, "--output", tmp_path / "run", "--preset", tmp_path / "micro.json", "--vocab-size", 512,
                  "--block-size", block, "--batch-size", batch, "--max-steps", steps, "--warmup-steps", 2, "--save", "words")
    out = tmp_path / "run"
    stats = json.loads((out / "corpus_stats.json").read_text())
    assert stats["tokens_per_step"] == block * batch * 1 * PROCESSES  # block size x per-device batch x accumulation x processes
    words_per_step = stats["tokens_per_step"] * stats["words_per_token"]
    assert steps * words_per_step / PROCESSES < 1_000_000 <= steps * words_per_step
    assert stats["checkpoints"] == {"chck_1M": math.ceil(1_000_000 / words_per_step)}
    assert sorted(p.name for p in out.iterdir()) == ["chck_1M", "corpus_stats.json", "final", "tokenizer", "trainer_state"]
    for name in ("chck_1M", "final"):
        model = AutoModelForCausalLM.from_pretrained(out / name)
        assert model.config.vocab_size == len(AutoTokenizer.from_pretrained(out / name))
    assert not any(torch.equal(a, b) for a, b in zip(_weights(out / "chck_1M").values(), _weights(out / "final").values())
                   if a.ndim == 2)
    # Both processes took every step together: Trainer's own checkpoint holds each one's RNG state and the last step.
    state = out / "trainer_state" / f"checkpoint-{steps}"
    assert {p.name for p in state.glob("rng_state_*.pth")} == {"rng_state_0.pth", "rng_state_1.pth"}
    assert json.loads((state / "trainer_state.json").read_text())["global_step"] == steps
    # One process logs and prints.
    assert len(re.findall(r"'loss': ", run.stdout)) == steps // max(1, min(50, steps // 20))
    assert run.stdout.count("checkpoints: ") == 1


def test_rl_writes_its_checkpoints_and_rewards_once_and_shares_the_prompts(tmp_path, llama_dir):
    """8 prompts at --batch-size 16 over 2 processes: 4 prompts on each, so a step takes all 8 (epoch 1 a step)."""
    rows = [(row["prompt"], row["chosen"].removeprefix("*CHI: ")) for row in DIALOGUE_ROWS]
    rows += [("*MOT: where is the ball ?", "there !"), ("*MOT: look at this purple thing .", "I am blue ."),
             ("*MOT: what did you see ?", "a big doggy ."), ("*MOT: is it green ?", "no !")]
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": p, "teacher_response": a}) + "\n" for p, a in rows))
    run = _launch("rl", llama_dir, "--prompts", prompts, "--reward", "bleu", "--output", tmp_path / "out",
                  "--max-steps", 2, "--save", "steps:1", "--lr", "1e-3", "--seed", 3)
    out = tmp_path / "out"
    notes = [line for line in run.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "on each of 2 processes: training on batches of 4 prompts" in notes[0], notes
    assert [float(e) for e in re.findall(r"'epoch': '([\d.]+)'", run.stdout)][:2] == [1.0, 2.0]
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    for name in ("checkpoint-1", "checkpoint-2"):
        assert AutoModelForCausalLM.from_pretrained(out / name).config.vocab_size == len(AutoTokenizer.from_pretrained(out / name))
    with open(out / "rewards.csv", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["step", "reward", "bleu", "kl", "completion_length"]
    assert [row[0] for row in table[1:]] == ["1", "2"] and all(math.isfinite(float(v)) for row in table[1:] for v in row)
    assert json.loads((out / "rl_settings.json").read_text())["config"]["batch_size"] == 4
    assert run.stdout.count("checkpoints: ") == 1


def test_interact_shares_each_round_between_processes_and_a_seed_gives_the_same_series(tmp_path):
    """Each process samples and has corrected its half of a round's contexts; two runs with one seed save the same
    weights in every round; the main process alone writes the rounds and rounds.csv."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rng = np.random.default_rng(0)
    for name, prefix in (("childes.train", "*MOT: "), ("bnc_spoken.train", "")):
        (corpus / name).write_text("\n".join(prefix + " ".join(rng.choice(WORDS[:17], 6)) for _ in range(60)) + "\n")
    launches = {}
    for attempt in ("a", "b"):  # at once: the launches mostly start up
        (tmp_path / f"teacher-{attempt}").mkdir()
        launches[attempt] = _start(
            "interact", "llama-tiny", "--teacher", "tests.test_training_launch:recording_teacher", "--corpus", corpus,
            "--output", tmp_path / attempt, "--vocab-size", 300, "--rounds", 3, "--context-tokens", 16, "--completion-tokens", 8,
            "--batch-size", 4, "--generation-batch-size", 32, "--lm-epochs", 1, "--po-epochs", 1, "--lr", "3e-3", "--warmup", 2,
            "--scheduler-steps", 100, "--seed", 5, "--device", "cpu", TEACHER_LOG=str(tmp_path / f"teacher-{attempt}"))
    for attempt, launch in launches.items():
        run = _finish(launch)
        logs = tmp_path / f"teacher-{attempt}"
        calls = [[int(n) for n in (logs / f"rank{rank}.txt").read_text().split()] for rank in range(PROCESSES)]
        assert len(calls[0]) == len(calls[1]) == 3  # one call a round in each process
        assert all(a > 0 and abs(a - b) <= 1 for a, b in zip(*calls)), calls
        assert run.stdout.count("checkpoints: ") == 1 and run.stdout.count("round 1: ") == 1
    first, second = tmp_path / "a", tmp_path / "b"
    assert sorted(p.name for p in first.iterdir()) == ["corpus_ids", "resume_state.pt", "round_00", "round_01", "round_02",
                                                      "round_03", "rounds.csv"]
    with open(first / "rounds.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(row["round"]) for row in rows] == [1, 2, 3]
    assert all(math.isfinite(float(row[key])) for row in rows for key in ("sft_loss", "simpo_loss", "margin"))
    for number in range(4):
        a, b = _weights(first / f"round_{number:02d}"), _weights(second / f"round_{number:02d}")
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), f"round {number} differs"
    assert not torch.equal(_weights(first / "round_00")["lm_head.weight"], _weights(first / "round_03")["lm_head.weight"])
