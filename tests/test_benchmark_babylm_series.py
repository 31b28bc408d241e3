"""benchmarks/babylm_series.py: reading both arms' outputs and the identical-numbers check (no model is run)."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "babylm_series.py"
sys.path.insert(0, str(PATH.parent))  # as when run as a script: its folder's common.py
spec = importlib.util.spec_from_file_location("babylm_series_benchmark", PATH)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

REVISIONS = ["chck_1M", "chck_2M"]


def headline(revision: int) -> dict[str, dict[str, float]]:
    """Family -> metric -> value, distinct per revision, with a subtask and a margin as lm-eval reports them."""
    values = {family: {metric: 0.1 * revision + 0.01 * i for metric in metrics}
              for i, (family, metrics) in enumerate(bench.FAMILIES.items())}
    values["blimp_fast"]["margin"] = -0.3 * revision
    values["blimp_fast_adjunct_island"] = {"acc": 1.0, "margin": 0.16}
    return values


def write_arms(root: Path, b_changes=None, drop_family=None) -> tuple[Path, Path]:
    a_csv, b_dir = root / "A" / "results.csv", root / "B"
    a_csv.parent.mkdir(parents=True)
    with a_csv.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["model", "checkpoint", "step", "tokens", "words", "task", "metric", "value", "stderr"])
        for r, revision in enumerate(REVISIONS, 1):
            for task, metrics in headline(r).items():
                for metric, value in metrics.items():
                    writer.writerow(["series", revision, "", "", r * 1e6, task, metric, repr(value), ""])
    for r, revision in enumerate(REVISIONS, 1):
        values = headline(r)
        for (rev, task, metric), value in (b_changes or {}).items():
            if rev == revision:
                values[task][metric] = value
        for family in bench.FAMILIES:
            if family == drop_family:
                continue
            tasks = {task: v for task, v in values.items() if task == family or (family == "blimp_fast" and task.startswith(family))}
            results = {task: {"alias": task, **{f"{m},none": v for m, v in metrics.items()},
                              **{f"{m}_stderr,none": "N/A" for m in metrics}} for task, metrics in tasks.items()}
            folder = b_dir / revision / family / "__series__model"
            folder.mkdir(parents=True)
            (folder / "results_2025-01-01T00-00-00.json").write_text(json.dumps({"results": results}))
    return a_csv, b_dir


def test_identical_arms_pass(tmp_path):
    a_csv, b_dir = write_arms(tmp_path)
    a, b = bench.read_arm_a(a_csv), bench.read_arm_b(b_dir)
    assert b[("chck_2M", "reading_fast", "self_paced_reading")] == a[("chck_2M", "reading_fast", "self_paced_reading")]
    result = bench.compare_arms(a, b, REVISIONS)
    assert result["compared"] == 2 * sum(map(len, bench.FAMILIES.values()))
    assert result["max_diff"] == 0.0 and result["differing"] == []
    assert result["shared"] == len(a) and result["shared_max_diff"] == 0.0


def test_rounding_passes_a_real_difference_fails(tmp_path):
    small = headline(1)["reading_fast"]["eye_tracking"] + 3e-7
    a_csv, b_dir = write_arms(tmp_path / "small", {("chck_1M", "reading_fast", "eye_tracking"): small})
    result = bench.compare_arms(bench.read_arm_a(a_csv), bench.read_arm_b(b_dir), REVISIONS)
    assert result["differing"] == [] and 0 < result["max_diff"] < bench.TOLERANCE

    a_csv, b_dir = write_arms(tmp_path / "big", {("chck_2M", "wug_adj_fast", "spearman"): 0.9})
    result = bench.compare_arms(bench.read_arm_a(a_csv), bench.read_arm_b(b_dir), REVISIONS)
    assert [d[:3] for d in result["differing"]] == [("chck_2M", "wug_adj_fast", "spearman")]
    assert result["max_diff"] == pytest.approx(0.9 - headline(2)["wug_adj_fast"]["spearman"])


def test_missing_family_or_nothing_evaluated_is_not_identical(tmp_path):
    a_csv, b_dir = write_arms(tmp_path, drop_family="ewok_fast")
    result = bench.compare_arms(bench.read_arm_a(a_csv), bench.read_arm_b(b_dir), REVISIONS)
    assert math.isinf(result["max_diff"]) and {d[1] for d in result["differing"]} == {"ewok_fast"}
    empty = bench.compare_arms(bench.read_arm_a(tmp_path / "none.csv"), bench.read_arm_b(tmp_path / "none"), REVISIONS)
    assert empty["compared"] == 0 and len(empty["differing"]) == 2 * sum(map(len, bench.FAMILIES.values()))


def test_nan_on_both_sides_counts_as_equal():
    assert bench.difference(float("nan"), float("nan")) == 0.0
    assert math.isinf(bench.difference(float("nan"), 0.5)) and math.isinf(bench.difference(None, 0.5))
