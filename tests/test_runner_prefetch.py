"""Fetching the next checkpoint while this one is evaluated: Hub series whose download alone is mocked.

The mocked ``snapshot_download`` sleeps, then copies what the real one would (its patterns, filtered by
huggingface_hub's own filter) from a local folder into a snapshot folder; the listing is mocked as in
test_trajectory.py, and everything else (loading, evaluating, writing) is the real code.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from e2lm_bench.evaluation import trajectory
from e2lm_bench.evaluation.results import read_results
from e2lm_bench.evaluation.trajectory import TrajectoryConfig, run_trajectory
from tests.conftest import write_series

TASK = "dialogue_minpairs_words"
TOKEN = "hf_not_a_real_token_123"


class FakeHub:
    """Repositories backed by local folders: ``{(repo, revision): folder}``, revision None for the main branch."""

    def __init__(self, tmp_path: Path, repos: dict, delay: float, broken: str | None = None):
        self.repos, self.delay, self.broken, self.cache = repos, delay, broken, tmp_path / "hub-cache"
        self.lock, self.active, self.peak = threading.Lock(), 0, 0
        self.downloads: list[tuple[str | None, float]] = []  # (subfolder or revision, start)
        self.tokens: set = set()

    def install(self, monkeypatch) -> None:
        import huggingface_hub

        hub = self

        class Api:
            def __init__(self, token=None):
                pass

            def list_repo_files(self, repo):
                root = hub.repos[repo, None]
                return [f.relative_to(root).as_posix() for f in root.rglob("*") if f.is_file()]

            def list_repo_refs(self, repo):
                names = ["main"] + [rev for r, rev in hub.repos if r == repo and rev]
                return type("Refs", (), {"branches": [type("Ref", (), {"name": n}) for n in names]})

        monkeypatch.setattr(huggingface_hub, "HfApi", Api)
        monkeypatch.setattr(huggingface_hub, "snapshot_download", self.snapshot_download)

    def snapshot_download(self, repo_id, *, revision=None, allow_patterns=None, ignore_patterns=None, token=None,
                          local_dir=None, **_):
        from huggingface_hub.utils import filter_repo_objects

        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.downloads.append((revision or allow_patterns[0].split("/")[0], time.monotonic()))
            self.tokens.add(token)
        try:
            time.sleep(self.delay)
            if revision is not None and revision == self.broken:
                raise OSError(f"503 Server Error for {repo_id}@{revision} (headers: Authorization: Bearer {token})")
            source = self.repos[repo_id, revision]
            snapshot = Path(local_dir) if local_dir else self.cache / repo_id.replace("/", "--") / (revision or "main")
            names = [f.relative_to(source).as_posix() for f in source.rglob("*") if f.is_file()]
            for name in filter_repo_objects(names, allow_patterns=allow_patterns, ignore_patterns=ignore_patterns):
                (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source / name, snapshot / name)
            return str(snapshot)
        finally:
            with self.lock:
                self.active -= 1


def _config(series: str, out: Path, **kwargs) -> TrajectoryConfig:
    return TrajectoryConfig(series=[series], tasks=[TASK], output=out, batch_size=8, device="cpu", hub_token=TOKEN,
                            **kwargs)


def _values(out: Path) -> pd.DataFrame:
    return read_results(out / "results.csv").sort_values(["checkpoint", "metric"]).reset_index(drop=True)


@pytest.fixture
def evaluations(monkeypatch):
    """(checkpoint, end) of every evaluation, each made to take ``delay[0]`` seconds more."""
    ends, delay, original = [], [0.0], trajectory.evaluate_checkpoint_task

    def slow(lm, checkpoint, *args, **kwargs):
        time.sleep(delay[0])
        original(lm, checkpoint, *args, **kwargs)
        ends.append((checkpoint.name, time.monotonic()))

    monkeypatch.setattr(trajectory, "evaluate_checkpoint_task", slow)
    return ends, delay


def test_hub_download_overlaps_evaluation(tokenizer_bos, use_data_dir, tmp_path, monkeypatch, evaluations):
    """Acceptance: N checkpoints cost about D + N·max(D, E), not N·(D + E); results are those of a sequential run."""
    download, evaluation = 1.5, 1.5
    repo = write_series(tmp_path / "repo", tokenizer_bos)
    for folder in repo.iterdir():
        (folder / "optimizer.pt").write_bytes(b"\0" * 1024)  # in the repository, not needed to load
    hub = FakeHub(tmp_path, {("org/tiny", None): repo}, delay=download)
    hub.install(monkeypatch)
    ends, evaluation_delay = evaluations
    evaluation_delay[0] = evaluation
    walls = {}
    for name, prefetch in (("prefetched", True), ("sequential", False)):
        hub.downloads.clear()
        ends.clear()
        summary = run_trajectory(_config("org/tiny", tmp_path / name, prefetch=prefetch))
        assert not summary.failed and len(summary.evaluated) == 4
        starts = [start for _, start in hub.downloads]
        assert [name for name, _ in hub.downloads] == [name for name, _ in ends] == [f"checkpoint-{s}" for s in
                                                                                      (100, 200, 300, 400)]
        walls[name] = ends[-1][1] - starts[0]
        overlapped = [starts[k + 1] < ends[k][1] for k in range(3)]
        assert all(overlapped) if prefetch else not any(overlapped)
    n, sequential_sum = 4, 4 * (download + evaluation)
    print(f"\nD={download}s E={evaluation}s N={n}: prefetched {walls['prefetched']:.2f}s, sequential "
          f"{walls['sequential']:.2f}s; D+N*max(D,E)={download + n * max(download, evaluation):.1f}s, "
          f"N*(D+E)={sequential_sum:.1f}s")
    assert walls["sequential"] >= sequential_sum  # no sequential run beats the sum of the sleeps alone
    assert walls["prefetched"] < walls["sequential"] - (n - 1) * min(download, evaluation) / 2  # half the saving
    assert hub.peak == 1 and hub.tokens == {TOKEN}
    assert not list(hub.cache.rglob("optimizer.pt"))  # only what loading reads is downloaded
    pd.testing.assert_frame_equal(_values(tmp_path / "prefetched"), _values(tmp_path / "sequential"))


def test_cleanup_keeps_at_most_the_current_and_the_prefetched_checkpoint_on_disk(tokenizer_bos, use_data_dir, tmp_path,
                                                                                 monkeypatch, evaluations):
    """--cleanup: each Hub checkpoint is downloaded into the run folder and removed once its parts are written."""
    from e2lm_bench.evaluation.results import DOWNLOADS

    repo = write_series(tmp_path / "repo", tokenizer_bos)
    hub = FakeHub(tmp_path, {("org/tiny", None): repo}, delay=0.3)
    hub.install(monkeypatch)
    out = tmp_path / "run"
    on_disk, original = [], trajectory.evaluate_checkpoint_task

    def counting(lm, checkpoint, *args, **kwargs):
        on_disk.append(sorted(p.name for p in (out / DOWNLOADS).glob("*/*")))
        return original(lm, checkpoint, *args, **kwargs)

    monkeypatch.setattr(trajectory, "evaluate_checkpoint_task", counting)
    summary = run_trajectory(_config("org/tiny", out, cleanup=True))
    assert not summary.failed and len(summary.evaluated) == 4
    assert on_disk[0] and max(map(len, on_disk)) <= 2 and all(f"checkpoint-{s}" in on_disk[k] for k, s in
                                                               enumerate((100, 200, 300, 400)))
    assert not list((out / DOWNLOADS).rglob("*.safetensors")) and not list(hub.cache.rglob("*"))
    without = tmp_path / "without"
    run_trajectory(_config("org/tiny", without))
    pd.testing.assert_frame_equal(_values(out), _values(without))
    assert len(list(hub.cache.rglob("*.safetensors"))) == 4  # without --cleanup the cache keeps every checkpoint


def test_failed_prefetch_is_recorded_and_the_series_continues(tiny_series, use_data_dir, tmp_path, monkeypatch,
                                                              evaluations, capsys):
    """BabyLM-like revisions: one fails to download, one has no weights; the others are evaluated as without prefetching."""
    without_weights = tmp_path / "without-weights"
    shutil.copytree(tiny_series / "checkpoint-300", without_weights)
    (without_weights / "model.safetensors").unlink()
    repos = {("org/babylm", None): tiny_series / "checkpoint-400", ("org/babylm", "chck_1M"): tiny_series / "checkpoint-100",
             ("org/babylm", "chck_2M"): tiny_series / "checkpoint-200", ("org/babylm", "chck_3M"): without_weights,
             ("org/babylm", "chck_4M"): tiny_series / "checkpoint-400"}
    hub = FakeHub(tmp_path, repos, delay=0.2, broken="chck_2M")
    hub.install(monkeypatch)
    runs = {}
    for name, prefetch in (("prefetched", True), ("sequential", False)):
        runs[name] = run_trajectory(_config("org/babylm", tmp_path / name, prefetch=prefetch))
    summary = runs["prefetched"]
    assert [(f["checkpoint"], f["error"].split(":")[0]) for f in summary.failed] == [
        ("chck_2M", "OSError"), ("chck_3M", "FileNotFoundError")]
    assert "no weight file" in summary.failed[1]["error"]
    assert [c for _, c, _ in summary.evaluated] == ["chck_1M", "chck_4M"]
    assert summary.failed == runs["sequential"].failed and summary.evaluated == runs["sequential"].evaluated
    pd.testing.assert_frame_equal(_values(tmp_path / "prefetched"), _values(tmp_path / "sequential"))
    failures = (tmp_path / "prefetched" / "failures.json").read_text()
    assert [f["checkpoint"] for f in json.loads(failures)] == ["chck_2M", "chck_3M"]
    shown = capsys.readouterr()
    assert TOKEN not in failures + shown.out + shown.err and "Bearer ***" in failures
    assert hub.peak == 1
    hub.downloads.clear()  # a rerun fetches only what is still to do
    rerun = run_trajectory(_config("org/babylm", tmp_path / "prefetched"))
    assert rerun.skipped == 2  # chck_3M is asked twice: for safetensors, then for PyTorch .bin weights
    assert [name for name, _ in hub.downloads] == ["chck_2M", "chck_3M", "chck_3M"]
