"""How much ``hf-prefix`` saves over lm-eval's ``hf`` when requests share contexts and few-shot preambles.

On one ~40M-parameter Llama, the same loglikelihood requests are scored, alternately, at each batch size of
--batch-sizes, by three sides; each keeps its fastest:

    hf              lm-eval's own model
    2 levels        hf-prefix in two levels (``min_shared_prefix = None``): each distinct context run once, its
                    continuations scored from its cache; what hf-prefix was before shared prefixes
    hf-prefix       hf-prefix as it runs by default, in three levels: a prefix shared by a chunk of contexts (a
                    few-shot preamble) run once, each context's rest against it, then its continuations

The tasks run on the packaged sample data: 5-shot early_science (four choices after a prompt whose five examples
every item shares, lm-eval's first_n sampler), dialogue_minpairs (two child replies after one caregiver line) and
Zorro (context-free, so hf-prefix hands it to hf's own path). Times are of ``loglikelihood`` alone (tokenising,
batching, forward passes, log-softmax), not of task loading. Beside them, the tokens each side runs (padding not
counted; ``e2lm_bench.evaluation.prefix_plan``, at the batch size the side's time was measured at) and the floor:
the nodes of a trie over every request's input, the fewest tokens any causal scorer can run.

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

SIDES = {"hf": None, "2 levels": None, "hf-prefix": 16}  # side: min_shared_prefix (None for hf: not ours)
# Targets, per task: (side, least speed-up of hf-prefix over that side); the most tokens over the trie floor.
TARGETS = {"early_science": ([("hf", 10.0), ("2 levels", 3.0)], 1.2),
           "dialogue_minpairs": ([("hf", 1.0)], None),
           "zorro": ([("hf", 1 / 1.05)], None)}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=20, help="documents per (sub)task")
    parser.add_argument("--repeat", type=int, default=1, help="measure N times, alternating the sides; median")
    parser.add_argument("--batch-sizes", default="1,4,8,16,32", help="batch sizes to try, the fastest is kept")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; on a shared machine, two threads waiting on each other make timings erratic")
    parser.add_argument("--memory-batch-sizes", default="8,32", help="batch sizes at which to compare peak memory")
    return parser.parse_args()


def make_side(side: str, **kwargs):
    from lm_eval.models.huggingface import HFLM

    from e2lm_bench.evaluation.prefix_lm import PrefixHFLM

    if side == "hf":
        return HFLM(**kwargs)
    lm = PrefixHFLM(**kwargs)
    lm.min_shared_prefix = SIDES[side]
    return lm


def timed(lm, requests) -> tuple[float, list]:
    start = time.perf_counter()
    answers = lm.loglikelihood(requests, disable_tqdm=True)
    return time.perf_counter() - start, answers


def tokens_run(side: str, lm, requests, batch_size: int) -> int:
    from e2lm_bench.evaluation.prefix_plan import hf_tokens, prefix_tokens

    if side == "hf":
        return hf_tokens(requests, lm.max_length, lm.logits_cache)
    return prefix_tokens(requests, lm.max_length, lm.min_shared_context, lm._contexts_per_batch(batch_size),
                         lm.min_shared_prefix, lm.logits_cache)


def rss_kib(field: str) -> int:
    status = Path("/proc/self/status").read_text().splitlines()
    return int(next(line.split()[1] for line in status if line.startswith(field + ":")))


def peak_memory(side: str, pretrained: str, limit: int, batch_size: int, threads: int) -> float:
    """MiB the RSS rises by while ``side`` scores 5-shot early_science; run in a fresh process."""
    torch.set_num_threads(threads)
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    from e2lm_bench.evaluation.harness import task_requests

    lm = make_side(side, pretrained=pretrained, batch_size=batch_size, device="cpu")
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
    from e2lm_bench.evaluation.harness import task_requests
    from e2lm_bench.evaluation.prefix_plan import token_requests, trie_floor

    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder, n_params = build_model(Path(tmp))
        common = dict(pretrained=str(folder / "checkpoint-1"), device="cpu")
        sides = {side: make_side(side, batch_size=batch_sizes[0], **common) for side in SIDES}
        for task in TARGETS:
            requests = task_requests([task], limit=args.limit)
            encoded = token_requests(sides["hf"], requests)
            best = {side: [] for side in sides}  # per repeat: (seconds, batch size)
            largest = 0.0
            for _ in range(args.repeat):
                per_size = {side: {} for side in sides}
                for size in batch_sizes:
                    answers = {}
                    for side, lm in sides.items():
                        lm.batch_size_per_gpu = size  # HFLM's own attribute behind batch_size
                        per_size[side][size], answers[side] = timed(lm, requests)
                    for side in sides:
                        largest = max(largest, *(abs(a[0] - b[0]) for a, b in zip(answers[side], answers["hf"], strict=True)))
                        assert [a[1] for a in answers[side]] == [b[1] for b in answers["hf"]], f"{task}: is_greedy differs"
                for side, times in per_size.items():
                    best[side].append(min((seconds, size) for size, seconds in times.items()))
            measured = {side: statistics.median_low(best[side]) for side in sides}
            tokens = {side: tokens_run(side, lm, encoded, measured[side][1]) for side, lm in sides.items()}
            rows.append((task, len(requests), measured, tokens, trie_floor(encoded, sides["hf"].max_length), largest))
        os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"  # read by the fresh processes' malloc
        peaks = {}
        for size in (int(b) for b in args.memory_batch_sizes.split(",")):
            for side in sides:
                with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                    peaks[side, size] = pool.submit(peak_memory, side, common["pretrained"], args.limit, size,
                                                    args.threads).result()
    print(f"command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    print(f"model: Llama, {n_params / 1e6:.1f}M parameters, CPU, {args.threads} torch thread(s); batch sizes tried "
          f"{args.batch_sizes}, each side's fastest kept (in brackets); median of {args.repeat}; --limit {args.limit} "
          "documents per task; tokens: run by the side at that batch size, padding not counted")
    print(f"{'task':<18}{'requests':>9}" + "".join(f"{side:>24}" for side in sides)
          + f"{'trie floor':>12}{'max |dloglik|':>15}  targets")
    for task, n, measured, tokens, floor, largest in rows:
        cells = "".join(f"{f'{seconds:.2f} s ({size}) {tokens[side]:>6} tok':>24}" for side, (seconds, size) in measured.items())
        speed_targets, token_target = TARGETS[task]
        notes = []
        for other, least in speed_targets:
            ratio = measured[other][0] / measured["hf-prefix"][0]
            notes.append(f"{ratio:.2f}x faster than {other} (>={least:.2f}x {'met' if ratio >= least else 'MISSED'})")
        ratio = tokens["hf-prefix"] / floor
        if token_target is not None:
            notes.append(f"tokens {ratio:.2f}x the floor (<={token_target}x {'met' if ratio <= token_target else 'MISSED'})")
        print(f"{task:<18}{n:>9}{cells}{floor:>12}{largest:>15.1e}  {'; '.join(notes)}")
    print("peak memory, 5-shot early_science (MiB of RSS above the loaded model):\n"
          f"{'batch size':>10}" + "".join(f"{side:>13}" for side in sides))
    for size in sorted({size for _, size in peaks}):
        above = [side for side in sides if peaks[side, size] > peaks["hf", size]]
        print(f"{size:>10}" + "".join(f"{peaks[side, size]:>13.1f}" for side in sides)
              + f"  {'ABOVE hf: ' + ', '.join(above) if above else 'ok'}")
    worst = max(row[5] for row in rows)
    assert worst <= 1e-4, f"log-likelihoods differ from hf by {worst:.1e}"


if __name__ == "__main__":
    main()
