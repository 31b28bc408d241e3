"""Atomic file writing: a reader (or a killed run) never sees a half-written file.

Every file the package writes for later reading (results parts, samples, task data, submissions) goes
through :func:`atomic_write_text`, so a rerun can trust that any file it finds is complete. A process killed
between creating its temporary file and renaming it leaves the temporary behind; the name carries the
writer's host and process id so that :func:`remove_stale_temporaries` can tell such debris from a
temporary another live process is still writing.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
from pathlib import Path

_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<host>[^.]+)-(?P<pid>\d+)\.[^.]+\.tmp$")


def atomic_write_text(path: Path, text: str) -> Path:
    """Write through a temporary file in the same folder and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{host_name()}-{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete temporaries under ``folder`` whose writer, a process on this host, no longer runs.

    Temporaries from other hosts (a shared file system) are left alone: their writers cannot be checked.
    """
    removed = []
    for tmp in Path(folder).rglob(".*.tmp") if Path(folder).is_dir() else ():
        match = _TEMPORARY.match(tmp.name)
        if match and match["host"] == host_name() and not process_running(int(match["pid"])):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def host_name() -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "host"


def process_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
