"""What evaluating a part leaves in the run folder besides its settings: result rows, per-item samples, failures."""

from __future__ import annotations

import json
import math
from pathlib import Path

from tqdm.auto import tqdm

from e2lm_bench.atomic import atomic_write_text
from e2lm_bench.evaluation import results as results_io
from e2lm_bench.evaluation.series import Checkpoint
from e2lm_bench.redaction import redacted


def result_rows(output: dict, checkpoint: Checkpoint) -> list[dict]:
    """Tidy rows from lm-eval's results dict: one per (task or group, metric)."""
    rows = []
    for task_name, metrics in {**output.get("results", {}), **output.get("groups", {})}.items():
        for key, value in metrics.items():
            if "," not in key or "_stderr," in key or not isinstance(value, (int, float)):
                continue
            metric, filter_name = key.split(",", 1)
            stderr = metrics.get(f"{metric}_stderr,{filter_name}")
            rows.append({
                "model": checkpoint.model, "checkpoint": checkpoint.name, "step": checkpoint.step,
                "tokens": checkpoint.tokens, "words": checkpoint.words, "task": task_name,
                "metric": metric if filter_name == "none" else key, "value": float(value),
                "stderr": float(stderr) if isinstance(stderr, (int, float)) and math.isfinite(stderr) else None,
            })
    return rows


def write_samples(out: Path, checkpoint: Checkpoint, task: str, samples: dict) -> None:
    """Per-item log-likelihoods and metrics, for item analysis (one JSON object per line).

    ``requests_hash`` covers every request of the item (contexts with their few-shot demonstrations, and
    continuations), so a user can check that every checkpoint saw the same prompts.
    """
    from lm_eval.utils import hash_string

    lines = []
    for subtask, items in sorted(samples.items()):
        for item in items:
            record = {"task": subtask, "doc_id": item["doc_id"], "target": item.get("target"),
                      "requests_hash": hash_string(json.dumps(item["arguments"], default=str, ensure_ascii=False))}
            record["loglikelihoods"] = [
                float(resp[0][0]) if isinstance(resp[0], (tuple, list)) else resp[0] for resp in item["resps"]
            ] if item.get("resps") and isinstance(item["resps"][0], list) else None
            for metric in item.get("metrics", []):
                if metric in item:
                    record[metric] = item[metric]
            lines.append(json.dumps(record, default=str))
    atomic_write_text(results_io.samples_path(out, checkpoint.model, checkpoint.name, task), "\n".join(lines) + "\n")


def failure_path(out: Path, checkpoint: Checkpoint) -> Path:
    return out / results_io.FAILURES / results_io.safe_name(checkpoint.model) / f"{results_io.safe_name(checkpoint.name)}.json"


def record_failure(out: Path, checkpoint: Checkpoint, err: Exception, secret: str | None = None) -> dict:
    """A Hub client's error may echo the request's token: it is redacted before it is written or shown."""
    text = redacted(str(err), secret).strip()
    message = text.splitlines()[0] if text else type(err).__name__
    record = {"model": checkpoint.model, "checkpoint": checkpoint.name, "location": checkpoint.location,
              "error": f"{type(err).__name__}: {message}"}
    atomic_write_text(failure_path(out, checkpoint), json.dumps(record))
    tqdm.write(f"skipped {checkpoint.location}: {record['error']}")
    return record


def clear_failure(out: Path, checkpoint: Checkpoint) -> None:
    failure_path(out, checkpoint).unlink(missing_ok=True)


def read_failures(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((Path(out) / results_io.FAILURES).glob("*/*.json"))]


def write_failures_json(out: Path) -> None:
    atomic_write_text(out / results_io.FAILURES_JSON, json.dumps(read_failures(out), indent=1))
