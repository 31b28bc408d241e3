"""The BabyLM 2025 suite end to end: a chck_*M series through the runner, scores, report and the pipeline's files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from e2lm_bench.cli import main
from e2lm_bench.evaluation.results import read_results
from e2lm_bench.lm_eval_tasks import TASKS_DIR
from e2lm_bench.lm_eval_tasks.babylm_2025.catalog import SUBTASKS, suite_families
from e2lm_bench.report.babylm_pipeline import read_pipeline_outputs
from e2lm_bench.taskdata import babylm
from e2lm_bench.taskdata.sample import SAMPLE_DATA_DIR
from e2lm_bench.training.baselines import save_untrained_model

SUITE = TASKS_DIR / "babylm_2025"
WORDS = (1, 2, 5, 10)


def test_generated_configs_are_current():
    from e2lm_bench.lm_eval_tasks.babylm_2025.generate_configs import configs

    files = configs()
    for relative, text in files.items():
        assert (SUITE / relative).read_text() == text, f"{relative} is stale: rerun generate_configs.py"
    on_disk = {p.relative_to(SUITE).as_posix() for p in SUITE.rglob("*.yaml")} - {"aoa_word/aoa_word.yaml"}
    assert on_disk == set(files)
    assert len([t for t in SUBTASKS.values() if t.eval_set == "full"]) == 67 + 5 + 11 + 18 + 4 + 2 + 1


def test_every_family_folder_has_its_template_hooks_and_readme():
    for folder in {t.folder for t in SUBTASKS.values()} | {"aoa_word"}:
        names = {p.name for p in (SUITE / folder).iterdir()}
        assert {"utils.py", "README.md"} <= names, folder
        assert folder == "aoa_word" or "_template_yaml" in names, folder
    assert (SUITE / "README.md").is_file()


@pytest.fixture(scope="module")
def babylm_run(tmp_path_factory, tokenizer_bos):
    series = tmp_path_factory.mktemp("babylm") / "baby"
    for seed, words in enumerate(WORDS):
        save_untrained_model(series / f"chck_{words}M", tokenizer_bos, preset="llama-tiny", seed=seed)
    out = series.parent / "run"
    code = main(["trajectory", str(series), "--tasks", "babylm_2025_fast,comps,aoa_word", "--data-dir", "sample",
                 "--output", str(out), "--device", "cpu", "--dtype", "float32"])
    assert code == 0
    return out


def test_a_revision_series_runs_the_suite_and_writes_the_pipelines_files(babylm_run, monkeypatch):
    monkeypatch.setenv("E2LM_DATA_DIR", str(SAMPLE_DATA_DIR))
    table = read_results(babylm_run)
    assert sorted(table["words"].dropna().unique()) == [w * 1_000_000 for w in WORDS]
    wanted = {"blimp_fast", "blimp_supplement_fast", "ewok_fast", "entity_tracking_fast", "wug_adj_fast",
              "wug_past_fast", "reading_fast", "comps", "aoa_word"}
    assert wanted <= set(table["task"])
    value = lambda task, metric, checkpoint: float(table[(table.task == task) & (table.metric == metric)  # noqa: E731
                                                         & (table.checkpoint == checkpoint)]["value"].iloc[0])
    files = read_pipeline_outputs(babylm_run / "babylm_pipeline")
    for words in WORDS:
        checkpoint = f"chck_{words}M"
        blimp = files[("baby", checkpoint, "blimp", "blimp_fast")]
        assert blimp["average"] == pytest.approx(round(100 * value("blimp_fast", "acc", checkpoint), 2), abs=0.006)
        assert len(blimp["predictions"]) == 67 and all(len(p["predictions"]) == 3 for p in blimp["predictions"].values())
        assert blimp["sections"]["uid"]["adjunct_island"] == pytest.approx(
            100 * value("blimp_fast_adjunct_island", "acc", checkpoint), abs=0.006)
        entity = files[("baby", checkpoint, "entity_tracking", "entity_tracking_fast")]
        buckets = [entity["sections"]["uid"][f"regular_{n}_ops"] for n in range(6)]
        assert entity["average"] == pytest.approx(np.mean(buckets), abs=0.01)
        assert entity["average"] == pytest.approx(100 * value("entity_tracking_fast", "acc", checkpoint), abs=0.006)
        wug = files[("baby", checkpoint, "wug", "wug_adj_nominalization")]
        assert wug["average"] == pytest.approx(value("wug_adj_fast", "spearman", checkpoint), abs=0.006)
        reading = files[("baby", checkpoint, "reading", "reading")]
        assert reading["eye_tracking"] == pytest.approx(value("reading_fast", "eye_tracking", checkpoint), abs=0.006)
        assert len(reading["predictions"]["reading"]["predictions"]) == 90
        comps = files[("baby", checkpoint, "comps", "comps")]
        first = babylm.comps_rows("comps_base")[0]
        assert comps["predictions"]["base"]["predictions"][0]["pred"] in {
            first[p] + " " + first["property_phrase"] for p in ("prefix_acceptable", "prefix_unacceptable")}


def test_scores_and_report_include_the_suite(babylm_run, monkeypatch):
    monkeypatch.setenv("E2LM_DATA_DIR", str(SAMPLE_DATA_DIR))
    assert main(["score", str(babylm_run), "--word-aoa"]) == 0
    scores = json.loads((babylm_run / "scores.json").read_text())
    text = json.dumps(scores)
    for task in ("blimp_fast", "ewok_fast", "reading_fast", "wug_adj_fast"):
        assert task in text
    assert set(scores["word_aoa"]["baby"]) == {"curve_fitness", "p_value", "n_words"}
    surprisal = babylm_run / "babylm_pipeline" / "baby" / "main" / "zero_shot" / "causal" / "AoA_word" / "surprisal.json"
    results = json.loads(surprisal.read_text())["results"]
    assert {r["step"] for r in results} == {f"chck_{w}M" for w in WORDS} and results[0]["context"] == "BOS_ONLY"
    assert main(["report", str(babylm_run)]) == 0
    html = (babylm_run / "report.html").read_text()
    assert "blimp_fast" in html and "reading_fast" in html


def test_a_bad_file_stops_only_its_family(tmp_path, tiny_series, capsys):
    data = tmp_path / "data"
    shutil.copytree(SAMPLE_DATA_DIR, data)
    bad = data / "evaluation_data" / "fast_eval" / "blimp_fast" / "wh_island.jsonl"
    lines = bad.read_text().splitlines()
    record = json.loads(lines[1])
    del record["sentence_bad"]
    bad.write_text("\n".join([lines[0], json.dumps(record), *lines[2:]]) + "\n")
    reading = data / "evaluation_data" / "fast_eval" / "reading" / "reading_data.csv"
    pd.read_csv(reading, index_col=0).drop(columns=["RTgopast"]).to_csv(reading)
    out = tmp_path / "run"
    code = main(["trajectory", str(tiny_series), "--tasks", "babylm_2025_fast,zorro", "--data-dir", str(data),
                 "--output", str(out), "--device", "cpu", "--max-step", "100"])
    printed = capsys.readouterr().out
    assert code == 1
    assert f"not run: blimp_fast: {bad}:2: " in printed and "sentence_bad" in printed
    assert f"not run: reading_fast: {reading}" in printed and "RTgopast" in printed
    ran = set(read_results(out)["task"])
    assert {"zorro", "ewok_fast", "entity_tracking_fast", "wug_adj_fast"} <= ran
    assert not {"blimp_fast", "reading_fast"} & ran
    assert suite_families("babylm_2025_fast")[0] == "blimp_fast"


def test_a_missing_data_folder_is_one_line_naming_it_and_the_download(tmp_path, tiny_series, capsys):
    code = main(["trajectory", str(tiny_series), "--tasks", "ewok_fast", "--data-dir", str(tmp_path),
                 "--output", str(tmp_path / "run"), "--device", "cpu", "--max-step", "100", "--dtype", "float32"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert str(tmp_path / "evaluation_data") in err[0] and "https://osf.io/ryjfm/" in err[0]


def test_a_slow_tokenizer_is_refused_with_the_reason():
    from types import SimpleNamespace

    from e2lm_bench.errors import UserError
    from e2lm_bench.evaluation.pipeline_rule import offset_pieces

    with pytest.raises(UserError, match="character offsets.*use_fast=True"):
        offset_pieces(SimpleNamespace(is_fast=False), "a b", "b")
