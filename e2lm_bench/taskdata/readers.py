"""Validated readers and the one writer of the line-based files task data and our outputs are kept in.

Every reader names the file, the line and the field of what it cannot use, in a :class:`DataError`, so a
bad row is found before a model spends time on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.errors import UserError


class DataError(UserError):
    """Task data that cannot be used as it is; the message names the file, line and field."""



def decoded_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 file without their line ends; a byte that is not UTF-8 is an error naming the line."""
    lines = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                lines.append(raw.decode("utf-8").rstrip("\r\n"))
            except UnicodeDecodeError as err:
                raise DataError(f"{path}:{number}: not valid UTF-8 ({err.reason} at byte {err.start})") from None
    return lines


def iter_json_objects(path: str | Path) -> Iterator[tuple[str, dict]]:
    """(``file:line``, object) for every non-blank line of a JSONL file; anything but a JSON object is an error."""
    path = Path(path)
    for number, line in enumerate(decoded_lines(path), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{where}: not valid JSON ({err.msg})") from None
        if not isinstance(record, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
        yield where, record


def read_jsonl(path: str | Path, fields: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a JSONL file, each keeping only ``fields``, which must be non-empty strings."""
    path = Path(path)
    rows = [checked_fields(record, fields, where) for where, record in iter_json_objects(path)]
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def write_jsonl(path: Path, rows: Iterable[dict]) -> Path:
    """Write ``rows`` one JSON object a line, UTF-8 text unescaped, atomically: the form every reader here takes."""
    return atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def checked_fields(record: dict, fields: tuple[str, ...], where: str) -> dict[str, str]:
    """``record`` reduced to ``fields``, each a non-empty string; ``where`` names the record in the error."""
    out = {}
    for field in fields:
        if field not in record:
            raise DataError(f"{where}: missing field {field!r}")
        value = record[field]
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"{where}: field {field!r} must be a non-empty string, got {value!r}")
        out[field] = value
    return out


def read_pair_lines(path: str | Path, bad_first: bool = False) -> list[dict[str, str]]:
    """Minimal pairs from a file of consecutive line pairs (lines 1-2, 3-4, ...), grammatical first."""
    path = Path(path)
    lines = decoded_lines(path)
    while lines and not lines[-1].strip():  # tolerate trailing newlines, nothing else
        lines.pop()
    if not lines:
        raise DataError(f"{path}: empty file (expected consecutive pairs of sentences)")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataError(f"{path}:{number}: blank line inside the file would misalign the sentence pairs")
    if len(lines) % 2:
        raise DataError(f"{path}: odd number of lines ({len(lines)}); line {len(lines)} has no partner")
    good, bad = (1, 0) if bad_first else (0, 1)
    return [
        {"sentence_good": lines[i + good], "sentence_bad": lines[i + bad], "pair_id": i // 2}
        for i in range(0, len(lines), 2)
    ]
