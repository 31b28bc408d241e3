"""Minimal-pair suites from text files into the layout the ``zorro`` task reads.

Sources: Zorro's or BLiMP's text distributions (consecutive line pairs; grammatical first, or
``bad_first`` for copies such as phueb/Zorro's own that put the ungrammatical line first) and BLiMP's
JSONL (``sentence_good``, ``sentence_bad``). The output is written to a temporary folder and moved into
place only when every file converted, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.taskdata.readers import DataError, iter_json_objects, read_pair_lines
from e2lm_bench.taskdata.sources import ZORRO_PARADIGMS

SUITES = ("zorro", "blimp")


@dataclass
class SuiteSummary:
    folder: Path
    pairs: dict[str, int] = field(default_factory=dict)
    duplicated_pairs: dict[str, int] = field(default_factory=dict)
    unknown_paradigms: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{len(self.pairs)} paradigms, {sum(self.pairs.values())} pairs -> {self.folder}"]
        out += [f"  {stem}: {count} duplicated pair(s)" for stem, count in sorted(self.duplicated_pairs.items())]
        if self.unknown_paradigms:
            out.append(f"  not Zorro paradigm names (the zorro task will not read them): {', '.join(self.unknown_paradigms)}")
        return out


def _read_source(path: Path, bad_first: bool) -> list[tuple[str, str]]:
    if path.suffix == ".jsonl":
        pairs = []
        for where, record in iter_json_objects(path):
            for key in ("sentence_good", "sentence_bad"):
                if not isinstance(record.get(key), str) or not record[key].strip():
                    raise DataError(f"{where}: field {key!r} must be a non-empty string")
            pairs.append((record["sentence_good"], record["sentence_bad"]))
        if not pairs:
            raise DataError(f"{path}: no rows")
        return pairs
    return [(p["sentence_good"], p["sentence_bad"]) for p in read_pair_lines(path, bad_first=bad_first)]


def convert_suite(source: str | Path, output: str | Path, suite: str = "zorro", bad_first: bool = False) -> SuiteSummary:
    """Every ``*.txt`` / ``*.jsonl`` of ``source`` as ``output/<suite>/<stem>.txt``, grammatical first."""
    if suite not in SUITES:
        raise DataError(f"unknown suite {suite!r}; expected one of {', '.join(SUITES)}")
    source = Path(source)
    files = sorted(p for p in source.glob("*") if p.suffix in (".txt", ".jsonl"))
    if not files:
        raise DataError(f"{source}: no *.txt or *.jsonl files")
    target = Path(output) / suite
    summary = SuiteSummary(folder=target)
    staging = Path(tempfile.mkdtemp(dir=Path(output).parent if Path(output).parent.exists() else None,
                                    prefix=".minpairs-"))
    try:
        for path in files:
            pairs = _read_source(path, bad_first)
            summary.pairs[path.stem] = len(pairs)
            repeated = sum(count - 1 for count in Counter(pairs).values() if count > 1)
            if repeated:
                summary.duplicated_pairs[path.stem] = repeated
            atomic_write_text(staging / f"{path.stem}.txt", "\n".join(line for pair in pairs for line in pair))
        if suite == "zorro":
            summary.unknown_paradigms = sorted(set(summary.pairs) - set(ZORRO_PARADIGMS))
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(staging), str(target))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summary
