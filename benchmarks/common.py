"""What every benchmark here shares: its arguments and where it finds the shared data."""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def task_arguments(doc: str, limit: int) -> argparse.Namespace:
    """--data-dir (default ../shared/data), --task, --limit, --batch-size."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--task", default="dialogue_minpairs_words")
    parser.add_argument("--limit", type=int, default=limit)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=1, help="measure N times, alternating the two sides")
    args = parser.parse_args()
    args.data_dir = str(Path(args.data_dir).resolve())
    return args
