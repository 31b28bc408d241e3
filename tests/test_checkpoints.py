"""Checkpoint names -> step / tokens / words, and the E2LM batch-size ramp against the organizers' table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from e2lm_bench.evaluation.checkpoints import babylm_words, checkpoint_axes, e2lm_iteration_to_tokens, parse_step

ORGANIZER_CURVES = Path(__file__).resolve().parents[2] / "shared" / "data" / "e2lm" / "organizer_curves.json"


@pytest.mark.parametrize("name, step", [
    ("iter_0004000", 4000),
    ("checkpoint-500", 500),
    ("step_123", 123),
    ("step-123", 123),
    ("global_step123", 123),
    ("runs/model/iter_0054000", 54000),
    ("/abs/path/checkpoint-500/", 500),
    ("chck_10M", None),
    ("main", None),
    ("iter_12a", None),
    ("final", None),
])
def test_parse_step(name, step):
    assert parse_step(name) == step


@pytest.mark.parametrize("name, words", [
    ("chck_10M", 10_000_000),
    ("chck_1000M", 1_000_000_000),
    ("chck_500K", 500_000),
    ("chck_5m", 5_000_000),
    ("babylm/chck_100M", 100_000_000),
    ("iter_0004000", None),
    ("chck_10G", None),
    ("main", None),
])
def test_babylm_words(name, words):
    assert babylm_words(name) == words


# The organizers' conversion (starter-kit notebook 5_Scoring.ipynb, convert_iter_to_gt): iteration -> GT, to the shown precision.
@pytest.mark.parametrize("iteration, gt, digits", [
    (2000, 2.10, 2), (4000, 4.19, 2), (8000, 10.11, 2), (12000, 21.44, 2), (20000, 55.0, 1),
    (30000, 96.9, 1), (40000, 138.9, 1), (52000, 189.2, 1), (54000, 197.6, 1), (56000, 206.0, 1),
])
def test_e2lm_ramp_matches_reference_table(iteration, gt, digits):
    assert round(e2lm_iteration_to_tokens(iteration) / 1e9, digits) == pytest.approx(gt)


def test_e2lm_ramp_phases():
    # 4,882,812 ramp samples, three phases of 1,627,604; the first phase is exactly 256 sequences/iteration.
    assert e2lm_iteration_to_tokens(0) == 0.0
    assert e2lm_iteration_to_tokens(1000) == 1000 * 256 * 4096
    end_of_ramp = 1_627_604 / 256 + 1_627_604 / 512 + 1_627_604 / 768
    assert e2lm_iteration_to_tokens(end_of_ramp) == pytest.approx(4_882_812 * 4096)
    assert e2lm_iteration_to_tokens(end_of_ramp + 10) - e2lm_iteration_to_tokens(end_of_ramp) == pytest.approx(
        10 * 1024 * 4096)
    with pytest.raises(ValueError):
        e2lm_iteration_to_tokens(-1)


@pytest.mark.skipif(not ORGANIZER_CURVES.is_file(), reason="organizer curves not in the shared data folder")
def test_e2lm_ramp_matches_organizer_gtokens():
    data = json.loads(ORGANIZER_CURVES.read_text())["data"]
    deviation = max(
        abs(e2lm_iteration_to_tokens(iteration) / 1e9 - gtokens)
        for entry in data.values()
        for iteration, gtokens in zip(entry["iteration"], entry["gtokens"])
    )
    print(f"max |ours - organizer gtokens| = {deviation:.3g} GT")
    assert deviation < 1e-9


def test_checkpoint_axes():
    assert checkpoint_axes("chck_10M") == {"step": None, "tokens": None, "words": 10_000_000.0}
    assert checkpoint_axes("main") == {"step": None, "tokens": None, "words": None}
    assert checkpoint_axes("checkpoint-500", tokens_per_step=1000) == {"step": 500, "tokens": 500_000.0, "words": None}
    assert checkpoint_axes("step_10", words_per_step=3.5)["words"] == 35.0
    ramp = checkpoint_axes("iter_0008000", e2lm_ramp=True, tokens_per_step=1)
    assert ramp["step"] == 8000 and ramp["tokens"] == pytest.approx(10.110550016e9)
    # the ramp applies to the organizers' iter_* names only
    assert checkpoint_axes("checkpoint-8000", e2lm_ramp=True, tokens_per_step=2)["tokens"] == 16000.0
    assert checkpoint_axes("iter_0008000")["tokens"] is None
