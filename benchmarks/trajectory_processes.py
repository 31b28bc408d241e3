"""`trajectory` over a checkpoint series with K processes under torchrun against one process, side by side.

Builds a series of --checkpoints untrained Llama checkpoints (``checkpoint-100`` ... ; default preset
``babyllama-58m``; tokenizer: a byte-level BPE trained on the bundled sample) and evaluates --tasks on the bundled
sample data:

  A  one process:  e2lm-bench trajectory SERIES --tasks TASKS --data-dir sample --output A --device cpu
  B  K processes:  python -m torch.distributed.run --nproc-per-node K -m e2lm_bench trajectory SERIES ... --output B

Every process runs with --threads threads (OMP_NUM_THREADS / MKL_NUM_THREADS, which torch follows), so on a
machine with K cores side B uses them all and side A one. Each side is timed by the wall clock around its command,
start-up included; the sides alternate, --repeat times, each into a fresh folder, and the medians are compared.
The two sides' results tables must be identical, and each process of B must report its share ("evaluated N, ...,
by other processes M"), or the benchmark exits 1. Seconds move with the CPU and with whatever else the machine
runs; the ratio A/B is the figure.

    python benchmarks/trajectory_processes.py [--checkpoints 8] [--processes 2] [--preset babyllama-58m]
                                              [--tasks ...] [--repeat 3] [--threads 1] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import sys
import tempfile
from pathlib import Path

from common import run_timed

SUMMARY = re.compile(r"evaluated (\d+), already done (\d+), by other processes (\d+).*\[(process \d+ of \d+)")
TASKS = "zorro,dialogue_minpairs_words,lexical_decision"


def arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoints", type=int, default=8)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--preset", default="babyllama-58m")
    parser.add_argument("--tasks", default=TASKS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", type=Path, help="keep the series and the run folders here (default: a temporary one)")
    return parser.parse_args(argv)


def build_series(folder: Path, count: int, preset: str) -> None:
    from e2lm_bench.taskdata.sample import sample_texts
    from e2lm_bench.training.baselines import save_untrained_model
    from e2lm_bench.training.tokenizer import train_bpe_tokenizer

    tokenizer = train_bpe_tokenizer(sample_texts(), vocab_size=2000, add_bos=True)
    for k in range(1, count + 1):
        save_untrained_model(folder / f"checkpoint-{100 * k}", tokenizer, preset=preset, seed=k)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None) -> int:
    args = arguments(argv)
    from e2lm_bench.evaluation.results import read_results

    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        series = work / "series"
        if not series.is_dir():
            build_series(series, args.checkpoints, args.preset)
        env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
        env |= {"OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
        common = ["trajectory", str(series), "--tasks", args.tasks, "--data-dir", "sample", "--device", "cpu"]
        seconds = {"A": [], "B": []}
        tables = {}
        for round_ in range(args.repeat):
            for side in ("A", "B") if round_ % 2 == 0 else ("B", "A"):
                out = work / f"{side}{round_}"
                launcher = ["-m", "torch.distributed.run", "--nproc-per-node", str(args.processes),
                            "--master-port", str(free_port())] if side == "B" else []
                log = work / f"{side}{round_}.log"
                seconds[side].append(run_timed([sys.executable, *launcher, "-m", "e2lm_bench", *common,
                                                "--output", str(out)], env, log))
                tables[side] = read_results(out).sort_values(["model", "checkpoint", "task", "metric"])
                if side == "B":
                    shares = SUMMARY.findall(log.read_text(errors="replace"))
                    print(f"  round {round_ + 1}, B: " + "; ".join(f"{who}: evaluated {n}, by other processes {o}"
                                                                  for n, _, o, who in sorted(shares, key=lambda s: s[3])))
                    if len(shares) != args.processes or any(int(n) == 0 for n, *_ in shares):
                        print("B: not every process evaluated a share", file=sys.stderr)
                        return 1
            if not tables["A"].reset_index(drop=True).equals(tables["B"].reset_index(drop=True)):
                print("the results of A and B differ", file=sys.stderr)
                return 1
        parts = len(tables["A"][["checkpoint", "task"]].drop_duplicates())
        if parts == 0:
            print("nothing was evaluated", file=sys.stderr)
            return 1
        a, b = statistics.median(seconds["A"]), statistics.median(seconds["B"])
        print(f"{args.checkpoints} checkpoints x {args.tasks}: {parts} (checkpoint, task or subtask) results, {args.preset}, "
              f"{args.threads} thread(s) per process, median of {args.repeat}")
        print(f"  A  1 process:  {a:7.1f} s   ({', '.join(f'{s:.1f}' for s in seconds['A'])})")
        print(f"  B  {args.processes} processes: {b:7.1f} s   ({', '.join(f'{s:.1f}' for s in seconds['B'])})")
        print(f"  A/B = {a / b:.2f}x; results identical ({len(tables['A'])} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
