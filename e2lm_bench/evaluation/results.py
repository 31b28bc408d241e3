"""The results table every part shares: one row per (model, checkpoint, task, metric).

The trajectory runner writes one small CSV per (model, checkpoint, task) under ``DIR/parts/``, each
replaced atomically, so a killed run never leaves a half-written file and shards of a job array can
write into the same folder; beside each CSV, a JSON file holds the settings that shaped its numbers, and
the CSV's row count and checksum and its samples file's size, so a part damaged from outside (a failed
copy, a full disk) is recognised as such rather than taken as done. ``DIR/results.csv`` is the merged view;
scoring and reports read the merged table only. A group and one of its subtasks asked for in one run both
give the subtask's rows; the merged table keeps one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.errors import UserError

if TYPE_CHECKING:
    import pandas as pd


COLUMNS = ("model", "checkpoint", "step", "tokens", "words", "task", "metric", "value", "stderr")
KEY = ("model", "checkpoint", "task", "metric")
NUMERIC = ("step", "tokens", "words", "value", "stderr")
# The run folder's layout: every module that reads or writes a run folder takes these names from here.
PARTS = "parts"
RESULTS_CSV = "results.csv"
SAMPLES = "samples"  # per-item records, one JSONL per (model, checkpoint, task)
FAILURES = "failures"  # one JSON per checkpoint that failed to load
FAILURES_JSON = "failures.json"  # all of them, for the report
CLAIMS = "claims"  # a claim file per part being evaluated, while it is (claims.py)
DOWNLOADS = ".downloads"  # Hub checkpoints downloaded with --cleanup, each removed once its parts are written


class ResultsError(UserError):
    """A results file or folder that cannot be read as the results table; the message names it."""


def safe_name(name: str) -> str:
    """A file-name-safe, readable, collision-free form of a model, checkpoint or task name."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "_"
    return cleaned if cleaned == name else f"{cleaned}-{zlib.crc32(name.encode('utf-8')):08x}"


def part_path(out_dir: str | Path, model: str, checkpoint: str, task: str) -> Path:
    return Path(out_dir) / PARTS / safe_name(model) / safe_name(checkpoint) / f"{safe_name(task)}.csv"


def samples_path(out_dir: str | Path, model: str, checkpoint: str, task: str) -> Path:
    return Path(out_dir) / SAMPLES / safe_name(model) / safe_name(checkpoint) / f"{safe_name(task)}.jsonl"


def settings_path(out_dir: str | Path, model: str, checkpoint: str, task: str) -> Path:
    return part_path(out_dir, model, checkpoint, task).with_suffix(".json")


@dataclass(frozen=True)
class WrittenPart:
    """A part found in the run folder: the settings it was written with (None: written by a version that did
    not record them) and, when its files cannot be read whole, why (then it is not done)."""

    settings: dict | None
    damage: str | None = None


def written_part(out_dir: str | Path, model: str, checkpoint: str, task: str) -> WrittenPart | None:
    """The part of (model, checkpoint, task) as it stands in the run folder; None when it is not written."""
    path = part_path(out_dir, model, checkpoint, task)
    if not path.is_file():
        return None
    damage = part_damage(path)
    return WrittenPart(None if damage else _settings_of(path), damage)


def part_damage(path: Path) -> str | None:
    """Why the part whose CSV is ``path`` cannot be trusted whole (settings unreadable, rows or samples cut short
    or changed since they were written), or None. Parts written without settings have nothing to check against."""
    settings_file = path.with_suffix(".json")
    if not settings_file.exists():
        return None
    settings = _settings_of(path)
    if settings is None:
        return f"its settings file {settings_file.name} is unreadable"
    if "sha256" not in settings:  # written before parts recorded their checksum
        return None
    text = path.read_bytes()
    if hashlib.sha256(text).hexdigest() != settings["sha256"]:
        rows = max(text.count(b"\n") - 1, 0)
        return f"its rows are cut short or changed ({rows} of {settings.get('rows')} rows)"
    samples = path.parents[3] / SAMPLES / path.parent.parent.name / path.parent.name / f"{path.stem}.jsonl"
    size = samples.stat().st_size if samples.is_file() else None
    if settings.get("samples_bytes") is not None and size != settings["samples_bytes"]:
        return f"its samples file is cut short or missing ({size or 0} of {settings['samples_bytes']} bytes)"
    return None


def damaged_parts(out_dir: str | Path) -> list[tuple[Path, str]]:
    """Every part of a run folder that cannot be read whole, with why."""
    found = ((path, part_damage(path)) for path in sorted((Path(out_dir) / PARTS).glob("*/*/*.csv")))
    return [(path, damage) for path, damage in found if damage]


def _settings_of(path: Path) -> dict | None:
    try:
        settings = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return settings if isinstance(settings, dict) else None


def write_part(out_dir: str | Path, model: str, checkpoint: str, task: str, rows: list[dict],
               settings: dict | None = None) -> Path:
    """The rows of one (model, checkpoint, task), written atomically; their presence marks it done.

    The settings go first, with the rows' count and checksum and the samples file's size (written before),
    so rows never stand without the settings they were computed with, and damage can be told from a part.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="raise")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: row.get(column) for column in COLUMNS})
    text = buffer.getvalue()
    if settings is not None:
        samples = samples_path(out_dir, model, checkpoint, task)
        record = {**settings, "rows": len(rows), "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                  "samples_bytes": samples.stat().st_size if samples.is_file() else None}
        atomic_write_text(settings_path(out_dir, model, checkpoint, task), json.dumps(record, indent=1))
    return atomic_write_text(part_path(out_dir, model, checkpoint, task), text)


def _read_csv(path: Path) -> "pd.DataFrame":
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype={"model": str, "checkpoint": str, "task": str, "metric": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ResultsError(f"{path}: not a readable CSV ({err})") from None
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise ResultsError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
    for column in NUMERIC:
        try:
            frame[column] = pd.to_numeric(frame[column])
        except (ValueError, TypeError):
            bad = frame[column][pd.to_numeric(frame[column], errors="coerce").isna() & frame[column].notna()]
            raise ResultsError(
                f"{path}: line {bad.index[0] + 2}: column {column!r} is not a number ({bad.iloc[0]!r})"
            ) from None
    return frame[list(COLUMNS)]


def read_results(path: str | Path) -> "pd.DataFrame":
    """The merged table from a run folder (all its parts, whichever shard wrote them) or from one CSV file."""

    path = Path(path)
    table = _merged_table(path)
    if table.empty:
        raise ResultsError(f"{path}: the results table has no rows (nothing was evaluated, or every checkpoint failed)")
    return table


def _merged_table(path: Path) -> "pd.DataFrame":
    import pandas as pd

    if path.is_file():
        return _read_csv(path)
    if not path.is_dir():
        raise ResultsError(f"{path}: no such results file or folder")
    parts = sorted((path / PARTS).glob("*/*/*.csv"))
    if parts:
        damaged = damaged_parts(path)
        if damaged:
            where, why = damaged[0]
            more = f" (and {len(damaged) - 1} more)" if len(damaged) > 1 else ""
            raise ResultsError(f"{where}: {why}{more}; rerun the same `e2lm-bench trajectory` command to re-evaluate")
        return pd.concat([_read_csv(p) for p in parts], ignore_index=True).drop_duplicates(list(KEY), ignore_index=True)
    if (path / RESULTS_CSV).is_file():
        return _read_csv(path / RESULTS_CSV)
    raise ResultsError(f"{path}: no results in this folder (expected {PARTS}/ or {RESULTS_CSV})")


def write_results_csv(out_dir: str | Path) -> Path:
    """Merge every part under ``out_dir`` into ``out_dir/results.csv``, sorted, atomically; a part that cannot be
    read whole (:func:`damaged_parts`, which the runner re-evaluates and names) stays out until it is rewritten.

    Processes sharing a folder each write the merged table; one that merged before another's last part was written
    may rename its table into place after the other's, so the parts are listed again after the rename and the
    merge redone if they changed. Plain ``csv`` rather than pandas: the runner calls this after every checkpoint.
    """
    listing = _part_listing(out_dir)
    while True:
        path = _merge_parts(out_dir)
        now = _part_listing(out_dir)
        if now == listing:
            return path
        listing = now


def _part_listing(out_dir) -> list[tuple[str, int]]:
    found = []
    for part in sorted((Path(out_dir) / PARTS).glob("*/*/*.csv")):
        try:
            found.append((str(part), part.stat().st_mtime_ns))
        except FileNotFoundError:  # replaced right now: the next listing differs
            found.append((str(part), -1))
    return found


def _merge_parts(out_dir) -> Path:
    rows = {}
    damaged = {path for path, _ in damaged_parts(out_dir)}
    for part in sorted((Path(out_dir) / PARTS).glob("*/*/*.csv")):
        if part in damaged:
            continue
        with open(part, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                rows.setdefault(tuple(row[column] for column in KEY), row)
    rows = list(rows.values())
    number = lambda text: float(text) if text else float("inf")  # noqa: E731
    rows.sort(key=lambda r: (r["model"], r["task"], r["metric"], number(r["step"]), r["checkpoint"]))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_text(Path(out_dir) / RESULTS_CSV, buffer.getvalue())


def load_organizer_curves(
    path: str | Path,
    models: list[str] | None = None,
    benchmarks: list[str] | None = None,
    every: int | None = 4000,
    max_tokens: float | None = 206e9,
) -> "pd.DataFrame":
    """The organizers' public E2LM curves (``assets/data/plot-data-combined-all.json`` of the competition
    site, github.com/e2lmc/e2lmc.github.io) as a results table, so they score like our own runs.

    The defaults are the organizers' scoring notebook's selection (iterations divisible by 4000 up to ~206 GT: 4k..56k,
    14 points), which reproduces the published SQ values. Null values are missing and dropped. The file names no
    metric; the values are the benchmarks' accuracies, hence metric "acc".
    """
    import pandas as pd

    not_benchmarks = ("iteration", "gtokens", "model_type", "experiment")
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ResultsError(f"{path}: cannot read ({err.strerror or err})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ResultsError(f"{path}: not valid JSON ({err})") from None
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: missing key 'data' (an object of model -> curves)")
    unknown = [model for model in models or [] if model not in data]
    if unknown:
        raise ResultsError(f"{path}: no model(s) {', '.join(map(repr, unknown))} under 'data'")
    rows = []
    for model in models or sorted(data):
        entry = data[model]
        if not isinstance(entry, dict) or not isinstance(entry.get("iteration"), list):
            raise ResultsError(f"{path}: data[{model!r}] has no 'iteration' list")
        iterations = entry["iteration"]
        names = benchmarks or [key for key in entry if key not in not_benchmarks]
        for key in ("gtokens", *names):
            values = entry.get(key)
            if not isinstance(values, list):
                raise ResultsError(f"{path}: data[{model!r}] has no {key!r} list")
            if len(values) != len(iterations):
                raise ResultsError(
                    f"{path}: data[{model!r}][{key!r}] has {len(values)} values but 'iteration' has {len(iterations)}"
                )
        for position, (iteration, gtokens) in enumerate(zip(iterations, entry["gtokens"])):
            if not isinstance(iteration, (int, float)) or not isinstance(gtokens, (int, float, type(None))):
                raise ResultsError(f"{path}: data[{model!r}] position {position}: iteration/gtokens not a number")
            if gtokens is None:
                continue
            tokens = gtokens * 1e9
            if (every is not None and iteration % every) or (max_tokens is not None and tokens > max_tokens):
                continue
            for name in names:
                value = entry[name][position]
                if not isinstance(value, (int, float, type(None))):
                    raise ResultsError(f"{path}: data[{model!r}][{name!r}][{position}] is not a number ({value!r})")
                if pd.isna(value):
                    continue
                rows.append({
                    "model": model, "checkpoint": f"iter_{int(iteration):07d}", "step": int(iteration),
                    "tokens": tokens, "words": float("nan"), "task": name, "metric": "acc",
                    "value": float(value), "stderr": float("nan"),
                })
    return pd.DataFrame(rows, columns=list(COLUMNS))
