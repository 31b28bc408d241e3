"""What every benchmark here shares: its arguments and where it finds the public task data."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


DATA_HELP = ("a folder in the tasks' data layout with the public sets (README, 'Where the data comes from'); "
             "default: $E2LM_DATA_DIR")


def data_dir_argument(parser: argparse.ArgumentParser) -> None:
    """--data-dir, required unless E2LM_DATA_DIR names the folder: the figures are measured on the public sets."""
    default = os.environ.get("E2LM_DATA_DIR") or None
    parser.add_argument("--data-dir", default=default, required=default is None, help=DATA_HELP)


def task_arguments(doc: str, limit: int) -> argparse.Namespace:
    """--data-dir, --task, --limit, --batch-size, --repeat."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    data_dir_argument(parser)
    parser.add_argument("--task", default="dialogue_minpairs_words")
    parser.add_argument("--limit", type=int, default=limit)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=1, help="measure N times, alternating the two sides")
    args = parser.parse_args()
    args.data_dir = str(Path(args.data_dir).resolve())
    return args


def run_timed(command: list[str], env: dict, log: Path) -> float:
    """Wall seconds of one command, start-up included; its output goes to ``log``. Exits 1 if it fails."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as sink:
        start = time.perf_counter()
        done = subprocess.run(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
        elapsed = time.perf_counter() - start
    if done.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        print(f"failed (exit {done.returncode}): {' '.join(command)}\n  " + "\n  ".join(tail), file=sys.stderr)
        sys.exit(1)
    return elapsed
