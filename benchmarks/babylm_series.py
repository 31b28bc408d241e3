"""A BabyLM series evaluated the official pipeline's way (one process per revision and task) and ours (one process).

The BabyLM 2025 pipeline's ``eval_zero_shot_fast_all_revisions.sh`` loops over a model's ``chck_*M`` revisions
and starts one evaluation process per zero-shot family at each: 7 processes per revision. This benchmark
builds a series of --revisions untrained Llama revisions (``chck_1M``, ``chck_2M``, ...; default preset
``babyllama-58m``, the BabyLM 2024 baseline's shape; tokenizer: a byte-level BPE trained on the bundled sample)
and evaluates the ``babylm_2025_fast`` suite on the bundled sample data both ways:

  A  one process:  e2lm-bench trajectory SERIES --tasks babylm_2025_fast --data-dir sample --output A
                   --device cpu --batch-size 16
  B  revisions x 7 processes, one per (revision, family), as the pipeline runs them:
                   e2lm-bench eval --data-dir sample --model hf-prefix --model_args pretrained=REV,dtype=float32
                   --tasks FAMILY --device cpu --batch_size 16 --output_path B/REV/FAMILY

Both arms score with ``hf-prefix`` (the BabyLM pipeline's scoring rule for these tasks). Each arm is timed by
the wall clock around its processes, start-up (imports, task index, data, weights) included, with the same
thread settings (OMP_NUM_THREADS / MKL_NUM_THREADS = --threads, which torch follows); the median of --repeat.
Every family's headline metric (acc; spearman for wug; eye_tracking and self_paced_reading for reading) at
every revision must be identical in both arms (to 1e-6), or the benchmark exits 1; it also exits 1 when
nothing was evaluated. The seconds move with the CPU and with whatever else the machine is running; the
ratio B/A is the figure to compare.

    python benchmarks/babylm_series.py [--revisions 4] [--preset babyllama-58m] [--repeat 1] [--threads 1]
                                       [--work DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import run_timed

ROOT = Path(__file__).resolve().parents[1]
SUITE = "babylm_2025_fast"
FAMILIES = {  # family task -> its headline metrics, as the BabyLM 2025 pipeline reports them
    "blimp_fast": ("acc",),
    "blimp_supplement_fast": ("acc",),
    "ewok_fast": ("acc",),
    "entity_tracking_fast": ("acc",),
    "wug_adj_fast": ("spearman",),
    "wug_past_fast": ("spearman",),
    "reading_fast": ("eye_tracking", "self_paced_reading"),
}
# The BabyLM 2024 baseline's shape: the smallest llama preset that is not a CPU toy (llama-tiny, llama-demo).
DEFAULT_PRESET = "babyllama-58m"
TOLERANCE = 1e-6
BATCH_SIZE = 16


def arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--revisions", type=int, default=4, help="revisions in the series: chck_1M ... chck_<N>M")
    parser.add_argument("--preset", default=DEFAULT_PRESET, help="model preset (training/presets.py) or config file")
    parser.add_argument("--vocab-size", type=int, default=16_000,
                        help="BPE vocabulary asked for (the sample's text caps what is learned)")
    parser.add_argument("--repeat", type=int, default=1, help="measure N times, alternating which arm goes first; median")
    parser.add_argument("--threads", type=int, default=1, help="OMP/MKL (hence torch) threads in every process of both arms")
    parser.add_argument("--work", type=Path, help="keep the series, outputs and logs here (must be empty or new; "
                                                  "default: a temporary folder, removed)")
    args = parser.parse_args(argv)
    if args.revisions < 1 or args.repeat < 1 or args.threads < 1:
        parser.error("--revisions, --repeat and --threads must be at least 1")
    from e2lm_bench.training.presets import PRESETS

    if args.preset not in PRESETS and not Path(args.preset).exists():
        parser.error(f"unknown preset {args.preset!r}: one of {', '.join(PRESETS)} or a config file")
    if args.work is not None and args.work.exists() and any(args.work.iterdir()):
        parser.error(f"--work {args.work} is not empty (a trajectory output there would be resumed, not re-run)")
    return args


def check_suite() -> None:
    """The families here are those the suite's group file lists (the group file is the source of truth)."""
    import yaml

    group = yaml.safe_load((ROOT / "lm_eval_tasks" / "babylm_2025" / f"_{SUITE}.yaml").read_text())
    if list(group["task"]) != list(FAMILIES):
        sys.exit(f"{SUITE} lists {group['task']}; this benchmark knows {list(FAMILIES)}: update FAMILIES")


def build_series(folder: Path, revisions: int, preset: str, vocab_size: int) -> tuple[list[str], int, int]:
    """chck_1M ... chck_<N>M of an untrained ``preset`` (seed = revision number); names, parameters, vocabulary."""
    from e2lm_bench.taskdata.sample import sample_texts
    from e2lm_bench.training.baselines import save_untrained_model
    from e2lm_bench.training.tokenizer import train_bpe_tokenizer

    tokenizer = train_bpe_tokenizer(sample_texts(), vocab_size=vocab_size, add_bos=True)
    names = []
    for i in range(1, revisions + 1):
        name = f"chck_{i}M"
        save_untrained_model(folder / name, tokenizer, preset=preset, seed=i)
        names.append(name)
    from safetensors import safe_open

    parameters = 0
    for shard in (folder / names[0]).glob("*.safetensors"):
        with safe_open(str(shard), "pt") as weights:
            parameters += sum(math.prod(weights.get_slice(key).get_shape()) for key in weights.keys())
    return names, parameters, len(tokenizer)


def arm_a(series: Path, out: Path, env: dict, logs: Path) -> float:
    command = ["e2lm-bench", "trajectory", str(series), "--tasks", SUITE, "--data-dir", "sample", "--output", str(out),
               "--device", "cpu", "--batch-size", str(BATCH_SIZE)]
    return run_timed(command, env, logs / "A.log")


def arm_b(series: Path, revisions: list[str], out: Path, env: dict, logs: Path) -> tuple[float, int]:
    seconds, processes = 0.0, 0
    for revision in revisions:
        for family in FAMILIES:
            command = ["e2lm-bench", "eval", "--data-dir", "sample", "--model", "hf-prefix",
                       "--model_args", f"pretrained={series / revision},dtype=float32", "--tasks", family,
                       "--device", "cpu", "--batch_size", str(BATCH_SIZE), "--output_path", str(out / revision / family)]
            seconds += run_timed(command, env, logs / f"B_{revision}_{family}.log")
            processes += 1
    return seconds, processes


def read_arm_a(results_csv: Path) -> dict[tuple[str, str, str], float]:
    """(checkpoint, task, metric) -> value from a trajectory ``results.csv`` (one series)."""
    values = {}
    if not results_csv.exists():
        return values
    with results_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            try:
                values[row["checkpoint"], row["task"], row["metric"]] = float(row["value"])
            except ValueError:
                continue
    return values


def read_arm_b(out: Path) -> dict[tuple[str, str, str], float]:
    """(revision, task, metric) -> value from ``out/<revision>/<family>/**/results_*.json`` (lm-eval's own files)."""
    values = {}
    for revision_dir in sorted(p for p in out.iterdir() if p.is_dir()) if out.exists() else []:
        for family_dir in sorted(p for p in revision_dir.iterdir() if p.is_dir()):
            found = sorted(family_dir.rglob("results_*.json"), key=lambda p: p.stat().st_mtime)
            if not found:
                continue
            for task, metrics in json.loads(found[-1].read_text())["results"].items():
                for key, value in metrics.items():
                    metric, _, filter_name = key.partition(",")
                    if filter_name != "none" or metric.endswith("_stderr") or not isinstance(value, (int, float)):
                        continue
                    values[revision_dir.name, task, metric] = float(value)
    return values


def difference(a: float | None, b: float | None) -> float:
    """|a - b|; 0 for two NaNs, inf when one side is missing or only one is NaN."""
    if a is None or b is None:
        return math.inf
    if math.isnan(a) or math.isnan(b):
        return 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    return abs(a - b)


def compare_arms(a: dict, b: dict, revisions: list[str]) -> dict:
    """Every family's headline metric at every revision, arm A against arm B.

    Returns ``compared`` (values found in both arms), ``max_diff`` over them (inf if any is missing in
    either arm), ``differing`` (the (revision, family, metric, A, B) beyond the tolerance or missing),
    and, for information, the count and largest difference over every (revision, task, metric) both
    arms report (subtasks, margins, ties).
    """
    compared, largest, differing = 0, 0.0, []
    for revision in revisions:
        for family, metrics in FAMILIES.items():
            for metric in metrics:
                key = (revision, family, metric)
                gap = difference(a.get(key), b.get(key))
                if a.get(key) is not None and b.get(key) is not None:
                    compared += 1
                largest = max(largest, gap)
                if gap > TOLERANCE:
                    differing.append((revision, family, metric, a.get(key), b.get(key)))
    shared = [key for key in a if key in b and key[0] in revisions]
    return dict(compared=compared, max_diff=largest, differing=differing, shared=len(shared),
                shared_max_diff=max((difference(a[k], b[k]) for k in shared), default=0.0))


def child_torch_threads(env: dict) -> str:
    probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"], env=env,
                           capture_output=True, text=True)
    return probe.stdout.strip() or "?"


def main(argv=None) -> None:
    args = arguments(argv)
    check_suite()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
           "TOKENIZERS_PARALLELISM": "false"}
    env.pop("E2LM_DATA_DIR", None)  # both arms get --data-dir sample
    load = os.getloadavg()[0]
    timings = {"A": [], "B": []}
    comparisons, processes_b = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work.resolve() if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        series = work / "series"
        revisions, parameters, vocab = build_series(series, args.revisions, args.preset, args.vocab_size)
        for attempt in range(args.repeat):
            run = work / f"run{attempt}"
            order = ("A", "B") if attempt % 2 == 0 else ("B", "A")
            for arm in order:
                if arm == "A":
                    timings["A"].append(arm_a(series, run / "A", env, run / "logs"))
                else:
                    seconds, processes_b = arm_b(series, revisions, run / "B", env, run / "logs")
                    timings["B"].append(seconds)
            comparisons.append(compare_arms(read_arm_a(run / "A" / "results.csv"), read_arm_b(run / "B"), revisions))
        threads = child_torch_threads(env)
    a, b = statistics.median(timings["A"]), statistics.median(timings["B"])
    n = len(revisions)
    print(f"command: {' '.join([Path(sys.argv[0]).name, *(sys.argv[1:] if argv is None else argv)])}")
    print(f"series: {n} revisions ({revisions[0]} ... {revisions[-1]}) of untrained {args.preset}, "
          f"{parameters / 1e6:.1f}M parameters, vocabulary {vocab}; {SUITE} ({len(FAMILIES)} families) on the "
          f"bundled sample; hf-prefix, float32, batch size {BATCH_SIZE}, CPU")
    print(f"machine: {os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable), {threads} torch thread(s) per "
          f"process (OMP/MKL_NUM_THREADS={args.threads}), load average {load:.2f} at start; median of {args.repeat}")
    print(f"{'arm':<44}{'processes':>10}{'wall s':>10}{'s/revision':>12}{'s/process':>11}")
    rows = [("A  e2lm-bench trajectory, all revisions", 1, a), ("B  e2lm-bench eval, per revision x family", processes_b, b)]
    for label, processes, seconds in rows:
        print(f"{label:<44}{processes:>10}{seconds:>10.1f}{seconds / n:>12.2f}{seconds / max(processes, 1):>11.2f}")
    print(f"{'ratio B / A':<44}{processes_b:>9}x{b / a:>9.2f}x{b / a:>11.2f}x{b / max(processes_b, 1) / a:>10.2f}x")
    if args.repeat > 1:
        print("each repeat, A / B wall s: " + ", ".join(f"{x:.1f} / {y:.1f}" for x, y in zip(timings["A"], timings["B"])))
    compared = sum(c["compared"] for c in comparisons)
    worst = max(c["max_diff"] for c in comparisons)
    shared = sum(c["shared"] for c in comparisons)
    shared_worst = max(c["shared_max_diff"] for c in comparisons)
    print(f"identical numbers: {compared} family headline values compared ({n} revisions x "
          f"{sum(map(len, FAMILIES.values()))} metrics x {args.repeat} repeat(s)), max |A - B| = {worst:.1e} "
          f"(tolerance {TOLERANCE:.0e}); every shared value (subtasks, margins, ties): {shared}, max |A - B| = "
          f"{shared_worst:.1e}")
    differing = [d for c in comparisons for d in c["differing"]]
    for revision, family, metric, x, y in differing[:20]:
        print(f"  DIFFERS {revision} {family} {metric}: A {x}  B {y}")
    if not compared:
        print("nothing was evaluated", file=sys.stderr)
        sys.exit(1)
    if differing:
        sys.exit(1)


if __name__ == "__main__":
    main()
