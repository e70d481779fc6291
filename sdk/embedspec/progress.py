"""Progress of long runs, with or without a terminal, and the summary a run ends with.

``Progress`` draws a tqdm bar when stderr is a terminal; otherwise (a log file, a batch job, CI) it
writes a line every ``interval`` seconds (``EMBEDSPEC_PROGRESS_INTERVAL``, default 30)::

    encoding: 1,200/5,183 documents (23.2%), 31.4 documents/s, ETA 2m07s

``EMBEDSPEC_PROGRESS=0`` turns both off. A run shorter than the interval writes no line.
``IngestReport`` is what an ingestion did: documents read, written, skipped because the index
already held them, duplicates, failed, seconds; ``str(report)`` is the one-line summary.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from .protocols import PointId

_OFF = {"0", "false", "off", "no"}


def progress_mode(progress: bool | None, stream: TextIO | None = None) -> str:
    """``"bar"`` (tqdm, a terminal), ``"log"`` (periodic lines) or ``"off"``.

    ``progress=False`` is off; ``True`` or ``None`` follow the terminal, and ``None`` also obeys
    ``EMBEDSPEC_PROGRESS=0``.
    """
    if progress is False:
        return "off"
    if progress is None and os.environ.get("EMBEDSPEC_PROGRESS", "").lower() in _OFF:
        return "off"
    stream = stream if stream is not None else sys.stderr
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return "bar" if tty else "log"


def _interval() -> float:
    try:
        return max(0.1, float(os.environ.get("EMBEDSPEC_PROGRESS_INTERVAL", "30")))
    except ValueError:
        return 30.0


def format_duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """Counts documents as they are done; shows a bar or log lines (see the module docstring)."""

    def __init__(self, total: int | None = None, *, desc: str = "encoding", unit: str = "document",
                 mode: str = "log", stream: TextIO | None = None, interval: float | None = None) -> None:
        if mode not in ("bar", "log", "off"):
            raise ValueError(f"mode must be 'bar', 'log' or 'off', not {mode!r}")
        self.total, self.desc, self.unit, self.mode = total, desc, unit, mode
        self.stream = stream
        self.interval = _interval() if interval is None else interval
        self.done = 0
        self.start = time.monotonic()
        self._last_line = self.start
        self._bar: Any = None
        if mode == "bar":
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit[:3], file=stream)

    def update(self, n: int) -> None:
        """``n`` more documents done (written or skipped)."""
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.mode == "log":
            now = time.monotonic()
            if now - self._last_line >= self.interval:
                self._last_line = now
                self._write(self.line(now))

    def line(self, now: float | None = None) -> str:
        """The progress line: done / total, percentage, rate, ETA."""
        elapsed = max(1e-9, (now or time.monotonic()) - self.start)
        rate = self.done / elapsed
        units = f"{self.unit}s"
        if self.total:
            left = max(0, self.total - self.done)
            eta = format_duration(left / rate) if rate > 0 else "?"
            return (f"{self.desc}: {self.done:,}/{self.total:,} {units} ({100 * self.done / self.total:.1f}%), "
                    f"{rate:,.1f} {units}/s, ETA {eta}")
        return f"{self.desc}: {self.done:,} {units}, {rate:,.1f} {units}/s, {format_duration(elapsed)} elapsed"

    def _write(self, text: str) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        print(text, file=stream, flush=True)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.start

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Phase:
    """A step with no count to show (flushing or optimising an index, loading a model). When it runs
    longer than ``min_seconds``, a line says it is under way and another how long it took — on a
    terminal and in logs alike, unless progress is off; quick steps say nothing."""

    def __init__(self, desc: str, *, mode: str = "log", stream: TextIO | None = None, min_seconds: float = 2.0) -> None:
        self.desc, self.mode, self.stream, self.min_seconds = desc, mode, stream, min_seconds
        self.start = time.monotonic()
        self._timer: threading.Timer | None = None
        self._announced = False

    def _write(self, text: str) -> None:
        print(text, file=self.stream if self.stream is not None else sys.stderr, flush=True)

    def _announce(self) -> None:
        self._announced = True
        self._write(f"{self.desc}...")

    def __enter__(self) -> Phase:
        self.start = time.monotonic()
        if self.mode != "off":
            self._timer = threading.Timer(self.min_seconds, self._announce)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._announced and exc_type is None:
            self._write(f"{self.desc}: done in {format_duration(time.monotonic() - self.start)}")


@dataclass
class IngestReport:
    """What one ingestion did. ``ids`` (in-process runs) holds one id per input document, in order."""

    documents: int = 0  # read from the input
    written: int = 0  # upserted into the index (or written to Parquet)
    skipped: int = 0  # already in the index: not encoded again
    duplicates: int = 0  # the same document again within this run: written once
    failed: int = 0  # read but not written because the run stopped on an error
    seconds: float = 0.0
    cache_hits: int = 0
    cache_misses: int = 0
    ids: list[PointId] = field(default_factory=list, repr=False)

    @property
    def rate(self) -> float:
        """Documents handled (written or skipped) per second."""
        return (self.written + self.skipped + self.duplicates) / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        parts = [f"{self.documents:,} documents", f"{self.written:,} written", f"{self.skipped:,} skipped (already indexed)"]
        if self.duplicates:
            parts.append(f"{self.duplicates:,} duplicates")
        parts.append(f"{self.failed:,} failed")
        if self.cache_hits or self.cache_misses:
            parts.append(f"cache {self.cache_hits:,} hits / {self.cache_misses:,} misses")
        parts.append(f"{format_duration(self.seconds)} ({self.seconds:.1f} s), {self.rate:,.1f} documents/s")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("documents", "written", "skipped", "duplicates", "failed", "seconds",
                                              "cache_hits", "cache_misses")} | {"documents_per_s": self.rate}
