"""The report: plots exist and are PNGs, the HTML is one self-contained, escaped file, the Markdown links every plot."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from e2lm_bench.errors import UserError
from e2lm_bench.report import choose_x_axis, write_report
from e2lm_bench.results import COLUMNS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ODD_MODEL = "tiny<b>&co"
MODELS = ["llama-tiny", ODD_MODEL]
TASKS = ["zorro", "lexical_decision"]  # zorro has tokens (1e6..1e9), lexical_decision only steps
METRICS = ["acc", "margin"]


def make_table() -> pd.DataFrame:
    rows = []
    for m, model in enumerate(MODELS):
        for i, step in enumerate([0, 250, 500, 750, 1000]):
            for task in TASKS:
                for metric in METRICS:
                    rows.append({
                        "model": model, "checkpoint": f"checkpoint-{step}", "step": step,
                        "tokens": 10 ** (6 + 0.75 * i) if task == "zorro" else np.nan, "words": np.nan,
                        "task": task, "metric": metric, "value": 0.5 + 0.08 * i - 0.05 * m,
                        "stderr": 0.02 if metric == "acc" else np.nan,
                    })
    return pd.DataFrame(rows, columns=list(COLUMNS))


def make_scores() -> dict:
    benchmarks = []
    for t, task in enumerate(TASKS):
        for k, metric in enumerate(METRICS):
            models = {
                model: {"monotonicity": 0.9, "autocorrelation": 0.7 - 0.1 * j, "sq": 0.8 - 0.05 * j, "n": 5,
                        "warning": "only 5 points" if j else None}
                for j, model in enumerate(MODELS)
            }
            benchmarks.append({"task": task, "metric": metric, "sq": 0.9 - 0.1 * t - 0.01 * k - 0.0004,
                               "rc": None, "cs": 0.25 if metric == "acc" else None, "score": None, "models": models})
    return {
        "settings": {"x": "step", "weights": [0.5, 0.1, 0.4], "rc_pairs": None, "rc_reference": None,
                     "rc_variant": "agreement", "cs_pairs": [["sci", "web"]], "cs_variant": "win_rate",
                     "notes": ["RC and CS are reconstructions: test note."]},
        "benchmarks": benchmarks,
    }


FAILURES = [{"model": ODD_MODEL, "checkpoint": "checkpoint-300", "error": "CUDA out of memory"}]


@pytest.fixture
def report(tmp_path):
    return tmp_path, write_report(tmp_path, make_table(), make_scores(), FAILURES)


def test_every_plot_is_a_png(report):
    run_dir, out = report
    expected = {
        f"{kind}_{task}_{metric}.png" for kind in ("curve", "sq") for task in TASKS for metric in METRICS
    }
    assert {p.name for p in out["plots"]} == expected
    for path in out["plots"]:
        assert path.parent == run_dir / "plots"
        assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_html_is_self_contained_and_escaped(report):
    _, out = report
    page = out["html"].read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == len(out["plots"]) == 8
    assert 'src="plots/' not in page
    assert "<link" not in page and "<script" not in page and "http" not in page
    assert "&lt;b&gt;&amp;co" in page and "checkpoint-300" in page and "CUDA out of memory" in page
    assert "<b>&" not in page


def test_markdown_links_plots_and_shows_scores(report):
    run_dir, out = report
    text = out["markdown"].read_text(encoding="utf-8")
    for path in out["plots"]:
        assert f"]({path.relative_to(run_dir).as_posix()})" in text
    for task in TASKS:
        assert task in text
    assert "| zorro | acc | 0.900 | – | 0.250 | – |" in text  # 0.8996 rounds to 0.900; nulls are dashes
    assert "| lexical_decision | margin | 0.790 | – | – | – |" in text
    assert "RC and CS are reconstructions: test note." in text
    assert "only 5 points" in text and "checkpoint-300" in text
    assert "<b>" not in text  # raw HTML in a model name is escaped for Markdown renderers too


def test_no_failures_says_none(tmp_path):
    out = write_report(tmp_path, make_table(), make_scores(), [])
    text = out["markdown"].read_text(encoding="utf-8")
    assert "## Failed checkpoints\n\nnone" in text


def test_choose_x_axis():
    table = make_table()
    assert choose_x_axis(table[table.task == "zorro"]) == ("tokens", True)  # 1e6 .. 1e9
    assert choose_x_axis(table[table.task == "lexical_decision"]) == ("step", False)  # 250 .. 1000, 0 ignored
    words = table[table.task == "lexical_decision"].assign(words=1000.0 * (1 + table.step))
    assert choose_x_axis(words) == ("words", True)  # 1e3 .. 1e6
    partial = table[table.task == "zorro"].copy()
    partial.loc[partial.index[0], "tokens"] = np.nan
    assert choose_x_axis(partial) == ("step", False)  # one row without tokens: fall back to step
    exactly_two_decades = pd.DataFrame({"tokens": [np.nan] * 2, "words": [np.nan] * 2, "step": [10, 1000]})
    assert choose_x_axis(exactly_two_decades) == ("step", False)


def test_log_axis_notes_skipped_step_zero(tmp_path):
    table = make_table()
    table = table[table.task == "lexical_decision"].assign(step=lambda f: f.step.replace({1000: 100000}))
    out = write_report(tmp_path, table, make_scores(), [])
    text = out["markdown"].read_text(encoding="utf-8")
    assert "training step (log scale)" in text
    assert "2 point(s) at step ≤ 0 are not shown on the log axis." in text  # step 0 of each model


def test_reads_run_folder(tmp_path):
    make_table().to_csv(tmp_path / "results.csv", index=False)
    (tmp_path / "scores.json").write_text(json.dumps(make_scores()))
    (tmp_path / "failures.json").write_text(json.dumps(FAILURES))
    out = write_report(tmp_path)
    assert len(out["plots"]) == 8
    assert "&lt;b&gt;&amp;co" in out["html"].read_text(encoding="utf-8")


def test_missing_scores_says_what_to_run(tmp_path):
    make_table().to_csv(tmp_path / "results.csv", index=False)
    with pytest.raises(UserError, match=r"scores.json: no scores yet; run `e2lm-bench score .*` first"):
        write_report(tmp_path)
    assert not (tmp_path / "report.html").exists()


def test_import_has_no_side_effects():
    code = "import sys, e2lm_bench.report; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
