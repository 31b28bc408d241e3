"""The runner's default scorer (hf-prefix) against lm-eval's own (hf): the same series, tasks and data, two runs.

Prints, per task and metric, the largest difference between the two results tables and whether every
accuracy is identical, and the two runs' wall times. Without --series, the series is the demo's pretraining
checkpoints (run `e2lm-bench demo` first).

    python benchmarks/scorer_equivalence.py [--series runs/demo/model] [--tasks dialogue_minpairs,zorro,early_science]
        --data-dir DATA [--limit 300]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import ROOT, data_dir_argument

from e2lm_bench.evaluation.results import read_results
from e2lm_bench.evaluation.trajectory import TrajectoryConfig, run_trajectory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", default=str(ROOT / "runs" / "demo" / "model"))
    parser.add_argument("--tasks", default="dialogue_minpairs,zorro")
    data_dir_argument(parser)
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    os.environ["E2LM_DATA_DIR"] = str(Path(args.data_dir).resolve())
    tables, seconds = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for scorer in ("hf", "hf-prefix"):
            start = time.perf_counter()
            run_trajectory(TrajectoryConfig(series=[args.series], tasks=args.tasks.split(","), output=Path(tmp) / scorer,
                                            limit=args.limit, batch_size=args.batch_size, device="cpu", scorer=scorer))
            seconds[scorer] = time.perf_counter() - start
            tables[scorer] = read_results(Path(tmp) / scorer).set_index(["model", "checkpoint", "task", "metric"])["value"]
    hf, prefix = tables["hf"].sort_index(), tables["hf-prefix"].sort_index()
    assert hf.index.equals(prefix.index), "the two runs wrote different rows"
    difference = (hf - prefix).abs()
    print(f"series {args.series}, tasks {args.tasks}, data {args.data_dir}, --limit {args.limit}: "
          f"{len(hf)} values over {hf.index.get_level_values('checkpoint').nunique()} checkpoints")
    for (task, metric), values in difference.groupby(level=["task", "metric"]):
        print(f"  {task:<55} {metric:<7} max |hf - hf-prefix| {values.max():.1e}")
    accuracies = difference[difference.index.get_level_values("metric") == "acc"]
    print(f"every acc identical: {bool((accuracies == 0).all())}; largest difference of any value {difference.max():.1e}")
    print(f"wall: hf {seconds['hf']:.1f} s, hf-prefix {seconds['hf-prefix']:.1f} s")


if __name__ == "__main__":
    main()
