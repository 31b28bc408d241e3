"""The trajectory runner against a shell loop of the lm_eval CLI over the same checkpoints.

Builds a series of 4 tiny checkpoints (a few hundred thousand parameters), evaluates the same task,
limit and batch size both ways, checks that every metric value is identical, and prints both wall
times and their ratio. Both sides run as fresh processes, end to end, one after the other.

    python benchmarks/trajectory_vs_shell_loop.py --data-dir DATA [--task dialogue_minpairs_words] [--limit 200]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, task_arguments


def build_series(root: Path, steps=(1000, 2000, 3000, 4000)) -> Path:
    from e2lm_bench.training.baselines import save_untrained_model
    from e2lm_bench.training.tokenizer import sample_tokenizer

    tokenizer = sample_tokenizer()
    for seed, step in enumerate(steps):
        save_untrained_model(root / f"checkpoint-{step}", tokenizer, preset="llama-tiny", seed=seed)
    return root


def shell_loop(series: Path, task: str, limit: int, batch_size: int, out: Path, env: dict) -> tuple[float, dict]:
    values = {}
    start = time.perf_counter()
    for checkpoint in sorted(series.iterdir()):
        target = out / checkpoint.name
        subprocess.run(
            ["lm_eval", "--model", "hf", "--model_args", f"pretrained={checkpoint}", "--tasks", task,
             "--include_path", str(ROOT / "lm_eval_tasks"), "--limit", str(limit), "--batch_size", str(batch_size),
             "--device", "cpu", "--output_path", str(target)],
            check=True, env=env, capture_output=True,
        )
        values[checkpoint.name] = json.loads(next(target.rglob("results_*.json")).read_text())["results"][task]
    return time.perf_counter() - start, values


def runner(series: Path, task: str, limit: int, batch_size: int, out: Path, env: dict) -> tuple[float, dict]:
    start = time.perf_counter()
    subprocess.run(
        ["e2lm-bench", "trajectory", str(series), "--tasks", task, "--limit", str(limit), "--batch-size",
         str(batch_size), "--device", "cpu", "--output", str(out)],
        check=True, env=env, capture_output=True,
    )
    elapsed = time.perf_counter() - start
    import pandas as pd

    table = pd.read_csv(out / "results.csv")
    values = {}
    for row in table.itertuples():
        values.setdefault(row.checkpoint, {})[f"{row.metric},none"] = row.value
    return elapsed, values


def main() -> None:
    args = task_arguments(__doc__, limit=200)
    env = {**os.environ, "E2LM_DATA_DIR": args.data_dir}
    pairs, mismatches, compared = [], [], 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        series = build_series(tmp / "series")
        for attempt in range(args.repeat):
            loop_time, loop_values = shell_loop(series, args.task, args.limit, args.batch_size, tmp / f"loop{attempt}", env)
            run_time, run_values = runner(series, args.task, args.limit, args.batch_size, tmp / f"run{attempt}", env)
            pairs.append((loop_time, run_time))
            for checkpoint, result in loop_values.items():
                for key, value in result.items():
                    if key in run_values.get(checkpoint, {}):
                        compared += 1
                        if abs(value - run_values[checkpoint][key]) > 1e-9:
                            mismatches.append((checkpoint, key, value, run_values[checkpoint][key]))
    print(f"command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    print(f"series: 4 checkpoints of llama-tiny; task {args.task}, limit {args.limit}, batch size {args.batch_size}")
    for loop_time, run_time in pairs:
        print(f"shell loop of lm_eval: {loop_time:6.1f} s   e2lm-bench trajectory: {run_time:5.1f} s   "
              f"speed-up {loop_time / run_time:.1f}x")
    ratios = sorted(loop / run for loop, run in pairs)
    print(f"median speed-up over {len(pairs)} run(s): {statistics.median(ratios):.1f}x "
          f"(range {ratios[0]:.1f}-{ratios[-1]:.1f}x); metric values compared: {compared}, differing: {len(mismatches)}")
    for mismatch in mismatches:
        print("  differs:", mismatch)
    sys.exit(1 if mismatches or not compared else 0)


if __name__ == "__main__":
    main()
