"""Claim files: processes started on one run folder share its parts instead of each evaluating all of them.

Before evaluating a part (model, checkpoint, task) a process creates its claim, ``DIR/claims/<model>/<checkpoint>/
<task>.<generation>.json``, with ``O_EXCL``, which one process alone can do, on a local disk as on NFS or Lustre.
The claim is removed once the part is written. A claim whose process is gone is taken over by creating the next
generation's file (again one process alone succeeds), so no claim is ever deleted under a live holder:

- on the same host, a claim's holder is gone when its process id no longer runs;
- from another host that cannot be checked, so each holder touches its claims every ``HEARTBEAT`` seconds and a
  claim untouched for ``STALE_AFTER`` seconds is taken over.

:class:`SharedWork` hands a process its parts through these claims. A claim also records the settings digest of its
task, so a second run with other settings on the same folder stops instead of writing numbers computed another
way beside the first run's.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from pathlib import Path

from e2lm_bench.atomic import host_name, process_running
from e2lm_bench.errors import UserError
from e2lm_bench.evaluation.results import CLAIMS, safe_name
from e2lm_bench.evaluation.series import Checkpoint

HEARTBEAT = 30.0  # seconds between touches of the claims a process holds
STALE_AFTER = 300.0  # seconds without a touch after which another host's claim is taken over
POLL = 5.0  # seconds between looks at the parts other processes hold, while waiting for them


class ClaimConflict(UserError):
    """A live claim on a part was made with other settings (the message names the part and its holder)."""


def claim_folder(out: Path, checkpoint: Checkpoint) -> Path:
    return Path(out) / CLAIMS / safe_name(checkpoint.model) / safe_name(checkpoint.name)


class Claims:
    """The claims one process holds on a run folder, kept alive by a heartbeat thread until :meth:`close`."""

    def __init__(self, out: Path, digests: dict[str, str], label: str = ""):
        self.out = Path(out)
        self.digests = digests  # task -> digest of the settings its parts are evaluated with
        self.holder = {"host": host_name(), "pid": os.getpid(), "token": uuid.uuid4().hex, "label": label}
        self.held: dict[tuple[str, str, str], Path] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name="e2lm-claims", daemon=True)
        self._beat.start()

    def claim(self, checkpoint: Checkpoint, task: str) -> bool:
        """Claim a part; False when another live process holds it."""
        folder = claim_folder(self.out, checkpoint)
        folder.mkdir(parents=True, exist_ok=True)
        stem = safe_name(task)
        while True:
            generations = _generations(folder, stem)
            if not generations:
                if self._create(folder / f"{stem}.0.json", checkpoint, task):
                    return True
                continue  # another process created it first: read its claim
            latest = max(generations)
            current = folder / f"{stem}.{latest}.json"
            holder = _read(current)
            if holder is None:
                if not current.exists():
                    continue  # released meanwhile
                if not _stale(current):
                    return False  # being written right now
            elif self._alive(holder, current):
                if holder.get("digest") != self.digests[task]:
                    raise ClaimConflict(
                        f"{current}: {task} of {checkpoint.model}:{checkpoint.name} is being evaluated by process "
                        f"{holder.get('pid')} on {holder.get('host')} with other settings; stop it, or give this run "
                        "another --output")
                return False
            if self._create(folder / f"{stem}.{latest + 1}.json", checkpoint, task):
                for old in generations:  # the taker of a generation alone removes the ones below it
                    (folder / f"{stem}.{old}.json").unlink(missing_ok=True)
                return True
            return False  # another process took it over first

    def holds(self, checkpoint: Checkpoint, task: str) -> bool:
        return (checkpoint.model, checkpoint.name, task) in self.held

    def live_elsewhere(self, checkpoint: Checkpoint, task: str) -> bool:
        """Another process holds a live claim on this part."""
        folder, stem = claim_folder(self.out, checkpoint), safe_name(task)
        generations = _generations(folder, stem)
        if not generations or self.holds(checkpoint, task):
            return False
        return self._live(folder / f"{stem}.{max(generations)}.json")

    def release(self, checkpoint: Checkpoint, task: str) -> None:
        self._release((checkpoint.model, checkpoint.name, task))

    def close(self) -> None:
        """Release every claim still held (a part not written is left for the next process) and stop the heartbeat."""
        self._stop.set()
        for key in list(self.held):
            self._release(key)

    def _release(self, key: tuple[str, str, str]) -> None:
        with self._lock:
            path = self.held.pop(key, None)
        if path is not None and (_read(path) or {}).get("token") == self.holder["token"]:
            path.unlink(missing_ok=True)

    def __enter__(self) -> Claims:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _create(self, path: Path, checkpoint: Checkpoint, task: str) -> bool:
        try:
            handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            return False
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            json.dump({**self.holder, "digest": self.digests[task], "since": time.time()}, f)
        with self._lock:
            self.held[(checkpoint.model, checkpoint.name, task)] = path
        return True

    def _live(self, path: Path) -> bool:
        """The claim's holder runs (a claim still being written counts as live until it is stale)."""
        holder = _read(path)
        return self._alive(holder, path) if holder is not None else not _stale(path)

    def _alive(self, holder: dict, path: Path) -> bool:
        if holder.get("token") == self.holder["token"]:
            return True
        if holder.get("host") == self.holder["host"]:
            return process_running(int(holder.get("pid", -1)))
        return not _stale(path)

    def clear_dead(self, checkpoint: Checkpoint, tasks) -> None:
        """Remove the claims a killed process left on parts it had written (killed between writing and releasing).
        Meant for written parts only: a process that claims one releases it at once, so no live work is lost."""
        folder = claim_folder(self.out, checkpoint)
        try:
            names = set(os.listdir(folder))  # one look per checkpoint: most were never claimed, or left clean
        except FileNotFoundError:
            return
        for task in tasks:
            stem = safe_name(task)
            for generation in _generations(folder, stem, names):
                path = folder / f"{stem}.{generation}.json"
                if not self._live(path):
                    path.unlink(missing_ok=True)

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT):
            with self._lock:
                paths = list(self.held.values())
            for path in paths:
                try:
                    os.utime(path)
                except FileNotFoundError:  # taken over after all (this host was unreachable): nothing to keep alive
                    pass


def _stale(path: Path) -> bool:
    """Untouched for ``STALE_AFTER`` seconds (or gone)."""
    try:
        return time.time() - path.stat().st_mtime > STALE_AFTER
    except FileNotFoundError:
        return True


def _generations(folder: Path, stem: str, names: set[str] | None = None) -> list[int]:
    """The generations of a part's claim files (``names``: the folder's listing, when already read)."""
    pattern = re.compile(re.escape(stem) + r"\.(\d+)\.json$")
    if names is None:
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return []
    return [int(m[1]) for m in map(pattern.match, names) if m]


def _read(path: Path) -> dict | None:
    """A claim's holder; None while it is being written, or when it is gone."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


class SharedWork:
    """The parts one process evaluates, handed out checkpoint by checkpoint with the tasks it claimed of each.

    ``parts`` are those not written when the run started, checkpoints in the order this process tries them
    (:func:`~e2lm_bench.evaluation.run_plan.work_order`). A part another process holds is left to it; the
    ``finisher`` (a launch's first process) then waits for those and takes over any whose process died, so that
    when it returns every part is written or has been tried.
    """

    def __init__(self, parts: dict[Checkpoint, list[str]], claims: Claims, done, finisher: bool = False,
                 poll: float = POLL):
        self.parts = parts
        self.claims = claims
        self.done = done  # (checkpoint, task) -> written by now, with this run's settings
        self.finisher = finisher
        self.poll = poll
        self.tasks: dict[Checkpoint, list[str]] = {}  # the tasks claimed of each checkpoint handed out
        self.claimed = 0  # parts this process claimed to evaluate
        self._settled: set[tuple[Checkpoint, str]] = set()  # claimed here, found written, or left to another process
        self._elsewhere: set[tuple[Checkpoint, str]] = set()

    def take(self, block: bool) -> Checkpoint | None:
        """The next checkpoint with parts claimed for this process; None when there is none (now, unless ``block``)."""
        while True:
            for checkpoint, tasks in self.parts.items():
                mine = [task for task in tasks if (checkpoint, task) not in self._settled and self._claim(checkpoint, task)]
                if mine:
                    self.tasks[checkpoint] = mine
                    self.claimed += len(mine)
                    return checkpoint
            if not (block and self.finisher and self._wait_for_others()):
                return None

    def take_together(self, block: bool) -> Checkpoint | None:
        """The first process's :meth:`take`, handed to every process of the launch (``--split requests``): all of
        them evaluate that checkpoint's claimed parts together, and they call this in the same sequence."""
        import torch.distributed as dist

        box = [(None, None)]
        if dist.get_rank() == 0:
            checkpoint = self.take(block)
            box = [(checkpoint, self.tasks.get(checkpoint))]
        dist.broadcast_object_list(box, src=0)
        checkpoint, tasks = box[0]
        if checkpoint is not None and dist.get_rank() != 0:
            self.tasks[checkpoint] = tasks
            self.claimed += len(tasks)
        return checkpoint

    def _claim(self, checkpoint: Checkpoint, task: str) -> bool:
        part = (checkpoint, task)
        self._settled.add(part)
        if not self.claims.claim(checkpoint, task):
            self._elsewhere.add(part)
            return False
        if self.done(checkpoint, task):  # another process wrote it since this run started
            self.claims.release(checkpoint, task)
            return False
        return True

    def _wait_for_others(self) -> bool:
        """Whether parts held elsewhere may still need this process: wait while their holders live; a part whose
        holder died without writing it is open again."""
        while self._elsewhere:
            live = {part for part in self._elsewhere if self.claims.live_elsewhere(*part)}
            reopened = {part for part in self._elsewhere - live if not self.done(*part)}
            self._elsewhere = live
            if reopened:
                self._settled -= reopened
                return True
            if live:
                time.sleep(self.poll)
        return False
