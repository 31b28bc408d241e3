"""The report: plots exist and are PNGs, the HTML is one self-contained, escaped file, the Markdown links every plot;
the measures beyond SQ (SNR, decision accuracy, ages of acquisition, item slopes) appear when scored, and only then."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from e2lm_bench.cli import main
from e2lm_bench.errors import UserError
from e2lm_bench.evaluation.results import COLUMNS
from e2lm_bench.report import write_report, write_runs_report
from e2lm_bench.report.build import FOLD_OPEN_MAX
from e2lm_bench.report.plots import choose_x_axis
from e2lm_bench.report.runs import run_names
from tests.test_bootstrap import MODELS as BOOTSTRAP_MODELS
from tests.test_bootstrap import write_run

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


HEATMAPS = {f"heatmap_{name}_{metric}.png" for name in ("llama-tiny", "tiny_b_co-7fda4f8c") for metric in METRICS}


def test_every_plot_is_a_png(report):
    run_dir, out = report
    expected = {
        f"{kind}_{task}_{metric}.png" for kind in ("curve", "sq") for task in TASKS for metric in METRICS
    }
    assert {p.name for p in out["plots"]} == expected | HEATMAPS
    assert {p.name for p in out["plots"][:4]} == HEATMAPS  # the overview comes first
    for path in out["plots"]:
        assert path.parent == run_dir / "plots"
        assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_html_is_self_contained_and_escaped(report):
    _, out = report
    page = out["html"].read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == len(out["plots"]) == 12
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
    assert len(out["plots"]) == 12
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


def test_overview_heatmaps_come_before_the_curves(report):
    _, out = report
    text = out["markdown"].read_text(encoding="utf-8")
    assert text.index("## Overview") < text.index("(plots/heatmap_llama-tiny_acc.png)") < text.index("## Scores")
    assert text.index("## Scores") < text.index("## Plots") < text.index("(plots/curve_zorro_acc.png)")
    assert "each cell is the change in acc from the task's first checkpoint" in text
    page = out["html"].read_text(encoding="utf-8")
    assert page.index('alt="llama-tiny — acc: change since the first checkpoint, per task"') < page.index(
        'alt="zorro — acc curves"')


def test_curves_fold_in_html_and_stay_plain_in_markdown(report, tmp_path):
    _, out = report
    page = out["html"].read_text(encoding="utf-8")
    assert "<details open><summary>zorro: 1 task(s), 4 plot(s)</summary>" in page  # few curves: open
    assert "<details open><summary>lexical: 1 task(s), 4 plot(s)</summary>" in page
    assert page.index("<details") > page.index("<h2>Plots</h2>")
    text = out["markdown"].read_text(encoding="utf-8")
    assert "<details" not in text and "### zorro: 1 task(s), 4 plot(s)\n\n#### zorro — acc" in text

    table = make_table()
    many = pd.concat([table[table.task == "zorro"].assign(task=f"zorro_paradigm_{i}") for i in range(5)])
    assert many[["task", "metric"]].drop_duplicates().shape[0] > FOLD_OPEN_MAX
    page = write_report(tmp_path, many, make_scores() | {"benchmarks": []}, [])["html"].read_text(encoding="utf-8")
    assert page.count("<details>") == 1 and "<details><summary>zorro: 5 task(s), 10 plot(s)</summary>" in page


def _run_folder(path, shift: float = 0.0):
    path.mkdir(parents=True)
    make_table().assign(value=lambda f: f.value + shift).to_csv(path / "results.csv", index=False)
    (path / "scores.json").write_text(json.dumps(make_scores()))
    (path / "failures.json").write_text(json.dumps(FAILURES if shift else []))
    return path


def test_several_runs_share_one_curve_per_task(tmp_path):
    runs = [_run_folder(tmp_path / "a" / "eval"), _run_folder(tmp_path / "b" / "eval", shift=0.1)]
    out = write_runs_report(runs, tmp_path / "both")
    assert {p.parent for p in out["plots"]} == {tmp_path / "both" / "plots"}
    assert len(out["plots"]) == 8 + 2 * len(HEATMAPS)  # one curve and SQ plot per task metric, overlaid
    text = out["markdown"].read_text(encoding="utf-8")
    assert text.startswith("# E2LM benchmark report: a/eval, b/eval\n")
    series = "a/eval: llama-tiny, a/eval: tiny\\<b\\>\\&co, b/eval: llama-tiny, b/eval: tiny\\<b\\>\\&co"
    assert f"zorro / acc over tokens (log scale). Shaded band: ±1 standard error. Lines (run: series): {series}." in text
    assert "| a/eval | zorro | acc | 0.900 | – | 0.250 | – |" in text and "| b/eval | zorro | acc | 0.900 |" in text
    assert "| zorro | acc | b/eval: llama-tiny | 5 | 0.900 | 0.700 | 0.800 |" in text
    assert "| b/eval: tiny\\<b\\>\\&co | checkpoint-300 | CUDA out of memory |" in text
    assert "![b/eval: llama-tiny — margin: change since the first checkpoint, per task]" in text
    assert "- a/eval: RC and CS are reconstructions: test note." in text


def test_run_names_tell_equal_folder_names_apart(tmp_path):
    assert run_names([tmp_path / "x" / "a" / "eval", tmp_path / "y" / "b" / "eval"]) == ["a/eval", "b/eval"]
    assert run_names([tmp_path / "a" / "eval", tmp_path / "b" / "demo"]) == ["eval", "demo"]
    assert run_names([tmp_path / "eval", tmp_path / "eval"]) == ["eval (1)", "eval (2)"]


def test_report_command_with_several_runs_needs_output(tmp_path, capsys):
    a, b = _run_folder(tmp_path / "a" / "eval"), _run_folder(tmp_path / "b" / "eval")
    assert main(["report", str(a), str(b)]) == 2
    assert capsys.readouterr().err == (
        "e2lm-bench report: 2 run folders need --output DIR, the folder to write their report into\n")
    assert not (a / "report.html").exists() and not (b / "report.html").exists()
    assert main(["report", str(a), str(b), "--output", str(tmp_path / "both")]) == 0
    assert (tmp_path / "both" / "report.html").is_file()
    assert main(["report", str(a)]) == 0 and (a / "report.md").is_file()  # one run: into its folder, as before
    assert main(["report", str(a), "--output", str(tmp_path / "one")]) == 0
    assert "](plots/curve_zorro_acc.png)" in (tmp_path / "one" / "report.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory):
    """A run folder in the trajectory runner's format, scored with every new measure: SNR, 50 bootstrap
    replicates, decision accuracy of two small models for two big ones, ages of acquisition and item slopes."""
    run_dir = tmp_path_factory.mktemp("scored") / "run"
    run_dir.mkdir()
    write_run(run_dir)
    assert main(["score", str(run_dir), "--bootstrap", "50", "--decision", "small-a,small-b=big-a,big-b",
                 "--x", "tokens", "--item-slopes"]) == 0
    return run_dir


NEW_FIGURES = {"decision_run.png", "aoa_zorro_tokens.png",
               *(f"item_slopes_{model}_zorro_tokens.png" for model in BOOTSTRAP_MODELS)}


def test_new_measures_render_in_markdown_and_html(scored_run, tmp_path):
    out = write_report(scored_run, output=tmp_path)
    scores = json.loads((scored_run / "scores.json").read_text())
    assert NEW_FIGURES <= {p.name for p in out["plots"]}
    text = out["markdown"].read_text(encoding="utf-8")
    page = out["html"].read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == len(out["plots"])
    for path in out["plots"]:
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        assert f"]({path.relative_to(tmp_path).as_posix()})" in text
    for heading in ("Decision accuracy", "Age of acquisition", "Item slopes"):
        assert f"\n## {heading}\n" in text and f"<h2>{heading}</h2>" in page
    for alt in ("decision accuracy of small-a, small-b for big-a, big-b", "zorro — age of acquisition per task",
                "big-a — zorro: item slopes"):
        assert f"![{alt}](plots/" in text and f'alt="{alt}"' in page

    # 1. SNR and noise beside SQ, intervals where bootstrapped, and the definitions with their sources
    assert "| task | metric | SQ | SNR | SNR within | noise | decision acc. | RC | CS | score |" in text
    bench = scores["benchmarks"][1]
    snr, low, high = bench["snr"]["snr"], *bench["snr"]["snr_ci"]
    assert f"| {snr:.3f} \\[{low:.3f}, {high:.3f}\\] |" in text and f"<td>{snr:.3f} [{low:.3f}, {high:.3f}]</td>" in page
    assert "| zorro | acc | 0.964 | 2.491 |" in text  # the group has no items of its own: no interval
    assert "| series | n | monotonicity | autocorrelation | SQ | noise |" in text
    for source in ("Heineman et al. 2025", "Magnusson et al. 2025", "DataDecide"):
        assert source in text and source in page
    assert "bootstrap: no per-item 'acc' samples for big-a, big-b, small-a, small-b (zorro / acc)" in text
    # 2. the decision curve, with the final interval
    assert "dashed: chance. Bars at the last point: 95% item-bootstrap interval" in text
    # 3. AoA: a number only where learned, every status in the table
    learned = sum(e["status"] == "learned" for tasks in scores["acquisition"].values() for e in tasks.values())
    assert f"earliest on top; {learned} of 12 curve(s) learned" in text
    assert "| zorro_x | big-a | learned | 628M | 0.956 | 0.5 |  |" in text
    assert "| zorro_x | small-b | not learned | – | – | 0.5 | no checkpoint scores above chance 0.5 |" in text
    assert "<td>not learned</td>" in page
    # 4. item slopes: the share of rising items of the family in the caption
    slopes = scores["item_slopes"]["small-b"]
    rising = sum(e["rising_share"] * e["n_items"] for e in slopes.values()) / 120
    caption = "Series small-b, zorro: per task, how many items' margins"
    assert caption in text and f"{rising:.0%} of 120 items rise significantly" in text
    assert f"{rising:.0%} of 120 items rise significantly" in page


def test_old_scores_render_without_the_new_measures(report):
    run_dir, out = report
    text = out["markdown"].read_text(encoding="utf-8")
    page = out["html"].read_text(encoding="utf-8")
    for absent in ("## Decision accuracy", "## Age of acquisition", "## Item slopes", "SNR", "Heineman",
                   "| noise", "Why a figure is missing"):
        assert absent not in text
    assert "Heineman" not in page and "<h2>Age of acquisition</h2>" not in page
    assert "| task | metric | SQ | RC | CS | score |" in text
    assert not {p.name for p in (run_dir / "plots").iterdir()} & NEW_FIGURES


def test_legends_name_series_and_runs_never_model(tmp_path, monkeypatch, scored_run):
    from matplotlib.axes import Axes

    titles, legend = [], Axes.legend

    def spy(self, *args, **kwargs):
        made = legend(self, *args, **kwargs)
        titles.append(made.get_title().get_text())
        return made

    monkeypatch.setattr(Axes, "legend", spy)
    pd.DataFrame({"step": [1, 2], "reward": [0.1, 0.3], "kl": [0.0, 0.01], "completion_length": [5, 6],
                  "bleu": [0.1, 0.3]}).to_csv(tmp_path / "rewards.csv", index=False)
    pd.DataFrame({"round": [1, 2], "sft_loss": [3.0, 2.5], "simpo_loss": [0.7, 0.6], "margin": [0.0, 0.1]}).to_csv(
        tmp_path / "rounds.csv", index=False)
    out = write_report(tmp_path, make_table(), make_scores(), [], reward_logs={"rl": tmp_path / "rewards.csv"},
                       round_logs={"interaction": tmp_path / "rounds.csv"})
    assert len(titles) == 11  # reward, 2 of rounds, 4 curves, 4 SQ plots: every legend of the report
    assert set(titles) == {"run", "", "series", "SQ part"}
    text = out["markdown"].read_text(encoding="utf-8")
    assert "Lines (series): llama-tiny, tiny\\<b\\>\\&co." in text

    titles.clear()
    write_report(scored_run, output=tmp_path / "new")
    assert len(titles) == 8  # 3 curves, 3 SQ plots, decision accuracy, AoA; item slope panels have none
    assert set(titles) == {"series", "SQ part", "benchmark"}
