"""Signal, noise, SNR and SQ of the E2LM organizers' benchmark curves (six models, the organizers' scoring-notebook selection:
iterations divisible by 4000 up to ~206 GT, 14 points), to set our own benchmarks' figures beside.

    python benchmarks/organizer_snr.py --curves CURVES.json [--last-k 5]
        [--tasks arc_challenge,hellaswag,mmlu,piqa]   (all: --tasks all)
"""

from __future__ import annotations

import argparse

from e2lm_bench.evaluation.results import load_organizer_curves
from e2lm_bench.scores.benchmarks import score_results

DEFAULT_TASKS = "arc_challenge,hellaswag,mmlu,mmluvar,piqa,sciq,winogrande"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--curves", required=True, help="the organizers' public curves: assets/data/plot-data-combined-all.json "
                        "of the competition site (github.com/e2lmc/e2lmc.github.io)")
    parser.add_argument("--last-k", type=int, default=5)
    parser.add_argument("--tasks", default=DEFAULT_TASKS)
    args = parser.parse_args()
    table = load_organizer_curves(args.curves)
    if args.tasks != "all":
        table = table[table["task"].isin(args.tasks.split(","))]
    scores = score_results(table, last_k=args.last_k)
    columns = ("SQ", "signal", "noise", "SNR", "noise_in", "SNR_in")
    print(f"{len(set(table['model']))} models, {table['step'].nunique()} checkpoints, last {args.last_k}; "
          "noise = pooled relative std, noise_in = mean of each model's own")
    print(f"{'task':<18}" + "".join(f"{name:>10}" for name in columns))
    for bench in scores["benchmarks"]:
        snr = bench["snr"]
        values = (bench["sq"], snr["signal"], snr["noise"], snr["snr"], snr["noise_within"], snr["snr_within"])
        print(f"{bench['task']:<18}" + "".join("         -" if v is None else f"{v:>10.4f}" for v in values))


if __name__ == "__main__":
    main()
