"""A killed writer's temporary is removed on the next run; a live writer's, or another host's, is kept."""

import os
import subprocess
import sys

from e2lm_bench import atomic
from e2lm_bench.atomic import atomic_write_text, remove_stale_temporaries


def _temporary(folder, name, host, pid):
    path = folder / f".{name}.{host}-{pid}.abc_123.tmp"
    path.write_text("half a table")
    return path


def test_only_a_dead_local_writers_temporaries_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    (tmp_path / "parts").mkdir()
    killed = _temporary(tmp_path / "parts", "zorro.csv", atomic.host_name(), dead_pid)
    live = _temporary(tmp_path, "results.csv", atomic.host_name(), os.getpid())
    elsewhere = _temporary(tmp_path, "results.csv", "other_node", dead_pid)
    unrelated = tmp_path / ".notes.tmp"
    unrelated.write_text("not ours")
    assert remove_stale_temporaries(tmp_path) == [killed]
    assert not killed.exists() and live.exists() and elsewhere.exists() and unrelated.exists()


def test_the_writers_temporary_carries_its_host_and_pid(tmp_path, monkeypatch):
    seen = []
    replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: seen.append(src) or replace(src, dst))
    atomic_write_text(tmp_path / "results.csv", "a,b\n")
    match = atomic._TEMPORARY.match(os.path.basename(seen[0]))
    assert match and match["name"] == "results.csv" and int(match["pid"]) == os.getpid()
    assert (tmp_path / "results.csv").read_text() == "a,b\n" and not list(tmp_path.glob(".*.tmp"))


def test_a_missing_folder_is_nothing_to_clean(tmp_path):
    assert remove_stale_temporaries(tmp_path / "absent") == []
