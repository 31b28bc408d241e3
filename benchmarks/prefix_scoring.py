"""How much ``hf-prefix`` saves over lm-eval's ``hf`` when answer choices share a context.

On one ~40M-parameter Llama, the same loglikelihood requests are scored by ``hf`` and ``hf-prefix``, alternately,
at each batch size of --batch-sizes; each side keeps its fastest. The tasks run on the packaged
sample data: 5-shot early_science (four choices after one long prompt), dialogue_minpairs (two child replies
after one caregiver line) and Zorro (context-free, so hf-prefix hands it to hf's own path). Times are of
``loglikelihood`` alone (tokenising, batching, forward passes, log-softmax), not of task loading.

Peak memory: each side scores 5-shot early_science at each of --memory-batch-sizes in a fresh process (Linux:
the RSS high-water mark, reset after loading and a warm-up, less the RSS then; allocations of 64 KiB and more are
mapped apart so that freed memory leaves the RSS at once).

    python benchmarks/prefix_scoring.py [--limit 20] [--repeat 3] [--batch-sizes 1,4,8,16,32] [--threads 1]
                                        [--memory-batch-sizes 8,32]
"""

from __future__ import annotations

import argparse
import gc
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
from trajectory_compute_floor import build_model

TASKS = {"early_science": 2.5, "dialogue_minpairs": 1.0, "zorro": 1 / 1.05}  # target: hf / hf-prefix at least


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=20, help="documents per (sub)task")
    parser.add_argument("--repeat", type=int, default=1, help="measure N times, alternating the two sides; median")
    parser.add_argument("--batch-sizes", default="1,4,8,16,32", help="batch sizes to try, the fastest is kept")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; on a shared machine, two threads waiting on each other make timings erratic")
    parser.add_argument("--memory-batch-sizes", default="8,32", help="batch sizes at which to compare peak memory")
    return parser.parse_args()


def timed(lm, requests) -> tuple[float, list]:
    start = time.perf_counter()
    answers = lm.loglikelihood(requests, disable_tqdm=True)
    return time.perf_counter() - start, answers


def rss_kib(field: str) -> int:
    status = Path("/proc/self/status").read_text().splitlines()
    return int(next(line.split()[1] for line in status if line.startswith(field + ":")))


def peak_memory(side: str, pretrained: str, limit: int, batch_size: int, threads: int) -> float:
    """MiB the RSS rises by while ``side`` scores 5-shot early_science; run in a fresh process."""
    torch.set_num_threads(threads)
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    from lm_eval.models.huggingface import HFLM

    from e2lm_bench.evaluation.harness import task_requests
    from e2lm_bench.evaluation.prefix_lm import PrefixHFLM

    lm = {"hf": HFLM, "hf-prefix": PrefixHFLM}[side](pretrained=pretrained, batch_size=batch_size, device="cpu")
    requests = task_requests(["early_science"], limit=limit)
    lm.loglikelihood(requests[:4], disable_tqdm=True)  # one item: lazy initialisations out of the figure
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    before = rss_kib("VmRSS")
    lm.loglikelihood(requests, disable_tqdm=True)
    return (rss_kib("VmHWM") - before) / 1024


def main() -> None:
    args = arguments()
    from e2lm_bench.taskdata.sample import SAMPLE_DATA_DIR

    os.environ["E2LM_DATA_DIR"] = str(SAMPLE_DATA_DIR)
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    torch.set_num_threads(args.threads)
    from lm_eval.models.huggingface import HFLM

    from e2lm_bench.evaluation.harness import task_requests
    from e2lm_bench.evaluation.prefix_lm import PrefixHFLM

    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder, n_params = build_model(Path(tmp))
        common = dict(pretrained=str(folder / "checkpoint-1"), device="cpu")
        sides = {"hf": HFLM(batch_size=batch_sizes[0], **common), "hf-prefix": PrefixHFLM(batch_size=batch_sizes[0], **common)}
        for task, target in TASKS.items():
            requests = task_requests([task], limit=args.limit)
            best = {side: [] for side in sides}  # per repeat: (seconds, batch size)
            largest = 0.0
            for _ in range(args.repeat):
                per_size = {side: {} for side in sides}
                for size in batch_sizes:
                    answers = {}
                    for side, lm in sides.items():
                        lm.batch_size_per_gpu = size  # HFLM's own attribute behind batch_size
                        per_size[side][size], answers[side] = timed(lm, requests)
                    largest = max(largest, *(abs(a[0] - b[0]) for a, b in zip(answers["hf-prefix"], answers["hf"], strict=True)))
                    assert [a[1] for a in answers["hf-prefix"]] == [b[1] for b in answers["hf"]], f"{task}: is_greedy differs"
                for side, times in per_size.items():
                    best[side].append(min((seconds, size) for size, seconds in times.items()))
            (hf_time, hf_size), (prefix_time, prefix_size) = (statistics.median_low(best[side]) for side in sides)
            rows.append((task, len(requests), hf_time, hf_size, prefix_time, prefix_size, hf_time / prefix_time, largest, target))
        os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"  # read by the fresh processes' malloc
        peaks = {}
        for size in (int(b) for b in args.memory_batch_sizes.split(",")):
            for side in sides:
                with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                    peaks[side, size] = pool.submit(peak_memory, side, common["pretrained"], args.limit, size,
                                                    args.threads).result()
    print(f"command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    print(f"model: Llama, {n_params / 1e6:.1f}M parameters, CPU, {args.threads} torch thread(s); batch sizes tried "
          f"{args.batch_sizes}, each side's fastest kept; median of {args.repeat}; --limit {args.limit} documents per task")
    print(f"{'task':<18}{'requests':>9}{'hf (bs)':>16}{'hf-prefix (bs)':>16}{'hf/hf-prefix':>14}{'max |dloglik|':>15}  target")
    for task, n, hf_time, hf_size, prefix_time, prefix_size, ratio, largest, target in rows:
        print(f"{task:<18}{n:>9}{hf_time:>9.2f} s ({hf_size:>2}){prefix_time:>9.2f} s ({prefix_size:>2}){ratio:>13.2f}x"
              f"{largest:>15.1e}  >={target:.2f}x {'met' if ratio >= target else 'MISSED'}")
    print(f"peak memory, 5-shot early_science (MiB of RSS above the loaded model):\n{'batch size':>10}{'hf':>10}{'hf-prefix':>11}")
    for size in sorted({size for _, size in peaks}):
        print(f"{size:>10}{peaks['hf', size]:>10.1f}{peaks['hf-prefix', size]:>11.1f}  "
              f"{'ok' if peaks['hf-prefix', size] <= peaks['hf', size] else 'ABOVE hf'}")
    worst = max(row[7] for row in rows)
    assert worst <= 1e-4, f"log-likelihoods differ from hf by {worst:.1e}"


if __name__ == "__main__":
    main()
