"""A command that would evaluate, score or select nothing says so in one line and exits non-zero."""

from __future__ import annotations

import pandas as pd
import pytest

from e2lm_bench.cli import main
from e2lm_bench.early_science.item_selection import Selection, write_selection
from e2lm_bench.errors import UserError


def _one_line(capsys, needle: str) -> None:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err


def test_eval_with_no_documents(llama_dir, capsys):
    assert main(["eval", "--data-dir", "sample", "--model", "hf", "--model_args", f"pretrained={llama_dir}",
                 "--tasks", "lexical_decision", "--limit", "0", "--device", "cpu"]) == 2
    assert "e2lm-bench eval: a task has no documents to evaluate" in capsys.readouterr().err


def test_trajectory_with_no_documents_writes_nothing(tiny_series, use_data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["trajectory", str(tiny_series), "--tasks", "lexical_decision", "--output", str(out), "--device", "cpu",
                 "--limit", "0"]) == 2
    _one_line(capsys, "--limit 0: evaluates no documents")
    assert not out.exists()


def test_trajectory_on_a_task_whose_data_yields_no_documents(tiny_series, use_data_dir, tmp_path, monkeypatch, capsys):
    """lm-eval finds no documents (here: every document filtered out); the part is not recorded as done."""
    from lm_eval.api.task import ConfigurableTask

    monkeypatch.setattr(ConfigurableTask, "doc_iterator", lambda self, **kwargs: iter(()))
    out = tmp_path / "run"
    assert main(["trajectory", str(tiny_series), "--tasks", "lexical_decision", "--output", str(out), "--device", "cpu",
                 "--max-step", "100"]) == 2
    assert "e2lm-bench trajectory: lexical_decision on " in capsys.readouterr().err  # after the progress bar
    assert not list(out.glob("parts/*/*/*.csv"))


def test_conventions_with_no_pairs(llama_dir, capsys):
    assert main(["conventions", str(llama_dir), "--task", "lexical_decision", "--data-dir", "sample",
                 "--limit", "0", "--device", "cpu"]) == 2
    _one_line(capsys, "--limit 0: scores no pairs")


def test_a_selection_that_keeps_no_item_is_not_written(tmp_path):
    empty = Selection(kept=[], table=pd.DataFrame({"doc_id": []}), removed_by={"slope": 3})
    with pytest.raises(UserError, match=r"no item kept \(removed by rule: \{'slope': 3\}\)"):
        write_selection([], [], empty, tmp_path / "out", allow_any_size=True)
    assert not (tmp_path / "out").exists()
