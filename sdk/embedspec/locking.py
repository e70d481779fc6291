"""One writer per index directory: an advisory inter-process lock taken before the engine opens.

The lock is ``flock(LOCK_EX | LOCK_NB)`` on the index directory itself, so taking it creates no file
and a reader can take it without modifying anything. A writer also records who it is in
``WRITER_FILE`` (pid, host, start time) so that a refused process can name the holder. The lock
belongs to the open file description: it is released by ``release()``, by ``close()`` of the
component, or by the kernel when the process dies (even under SIGKILL), never left stale.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from .errors import IndexLockedError

WRITER_FILE = ".embedspec-writer.json"

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory directory locks
    fcntl = None  # type: ignore[assignment]


def _holders(directory: Path) -> list[int]:
    """Pids holding a flock on ``directory`` (Linux ``/proc/locks``; empty elsewhere)."""
    try:
        st = directory.stat()
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    pids = []
    for line in lines:
        parts = line.split()
        if "FLOCK" in parts and wanted in parts:
            try:
                pids.append(int(parts[parts.index(wanted) - 1]))
            except (ValueError, IndexError):
                continue
    return pids


def describe_holder(directory: Path) -> str:
    """A phrase naming the process that holds the lock on ``directory``, as well as it is known."""
    recorded: dict[str, Any] = {}
    try:
        recorded = json.loads((directory / WRITER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    holders = _holders(directory)
    others = [p for p in holders if p != os.getpid()]
    if others:
        pid = others[0]
        role = "a writer" if recorded.get("pid") == pid else "another process"
        return f"{role} (pid {pid})"
    if os.getpid() in holders or recorded.get("pid") == os.getpid():
        return f"another open index object in this process (pid {os.getpid()}); close it first"
    if recorded:
        return f"a writer (pid {recorded.get('pid')} on {recorded.get('host')})"
    return "another process"


class DirectoryLock:
    """``flock`` on a directory: exclusive, non-blocking, released on ``release()`` or process exit."""

    def __init__(self, directory: str | os.PathLike[str], *, what: str = "index") -> None:
        self.directory = Path(directory)
        self.what = what
        self._fd: int | None = None
        self._writer = False

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, *, writer: bool) -> None:
        """Take the lock (the directory must exist); a writer also records its pid.

        Raises ``IndexLockedError`` naming the directory and the holder when another process (or
        another open index object in this one) holds it.
        """
        if self._fd is not None:
            return
        if fcntl is None:  # pragma: no cover
            return
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise IndexLockedError(
                f"the {self.what} at {self.directory} is in use by {describe_holder(self.directory)}: "
                "one process at a time may open it for writing (and, for qdrant-edge, at all); "
                "wait for it to finish, or serve the index from that process (`embedspec serve`)",
                path=str(self.directory),
            ) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        if writer:
            record = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
            tmp = self.directory / f".{WRITER_FILE}.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(record), encoding="utf-8")
            os.replace(tmp, self.directory / WRITER_FILE)
            self._writer = True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if self._writer:
            self._writer = False
            try:
                (self.directory / WRITER_FILE).unlink(missing_ok=True)
            except OSError:
                pass
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __del__(self) -> None:  # an index dropped without close() must not keep its lock
        try:
            self.release()
        except Exception:
            pass
