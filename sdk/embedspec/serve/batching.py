"""Dynamic batching: concurrent requests' texts are coalesced into encoder batches.

Requests queue their texts (a bounded queue: past ``max_queue_items`` waiting texts the server
answers 429). One loop takes texts first-come first-served into a batch of one role, bounded by
``max_batch_items`` and by padded tokens (``rows * longest row <= max_batch_tokens``, with token
counts estimated from characters), waits at most ``max_wait_ms`` for more when the encoder is idle
and the batch is not full, and runs the encoder in a worker thread, so the event loop (health
checks, parsing, other routes) stays responsive. A request larger than a batch is split across
batches; each request gets its own rows back in its own order, with its exact token count.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import APIError

logger = logging.getLogger("embedspec.serve")

#: ``encode(texts, role) -> (n, dim) float32``, run in the encoder thread.
EncodeFn = Callable[[list[str], str], np.ndarray]
#: ``count(texts, role) -> tokens``, run in the encoder thread after each batch.
CountFn = Callable[[list[str], str], int]


@dataclass(eq=False)
class _Job:
    texts: Sequence[str]
    role: str
    weights: list[int]
    future: asyncio.Future[tuple[np.ndarray, int]]
    out: np.ndarray | None = None
    next_row: int = 0  # first row not yet taken into a batch
    filled: int = 0  # rows encoded
    tokens: int = 0
    cancelled: bool = False


@dataclass
class BatchStats:
    """What the last batches looked like (read by /metrics and Retry-After)."""

    items_per_second: float = 0.0
    batches: int = 0
    last_sizes: deque[int] = field(default_factory=lambda: deque(maxlen=256))


class Batcher:
    """Coalesces ``encode`` calls from many requests into encoder batches (see the module doc)."""

    def __init__(self, encode: EncodeFn, count_tokens: CountFn, estimate_tokens: Callable[[str], int], *,
                 max_batch_items: int, max_batch_tokens: int, max_wait_ms: float, max_queue_items: int,
                 observe: Callable[[int, int, int], None] | None = None) -> None:
        self._encode = encode
        self._count = count_tokens
        self._estimate = estimate_tokens
        self.max_batch_items = max_batch_items
        self.max_batch_tokens = max_batch_tokens
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue_items = max_queue_items
        self._observe = observe  # (batch items, padded tokens, exact tokens) after each batch
        self._jobs: deque[_Job] = deque()
        self._waiting = 0  # texts queued and not yet taken into a batch
        self._wakeup: asyncio.Event | None = None
        self._full: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedspec-encoder")
        self._closing = False
        self.stats = BatchStats()

    @property
    def queue_depth(self) -> int:
        """Texts waiting for the encoder."""
        return self._waiting

    def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._full = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="embedspec-batcher")

    async def encode(self, texts: Sequence[str], role: str, timeout: float) -> tuple[np.ndarray, int]:
        """``((n, dim) float32, tokens)`` for ``texts``; 429 when the queue is full, 504 past ``timeout``."""
        if self._closing or self._wakeup is None:
            raise APIError(503, "the server is shutting down", code="shutting_down")
        n = len(texts)
        if n == 0:
            return np.zeros((0, 0), dtype=np.float32), 0
        if n > self.max_queue_items:
            raise APIError(413, f"the request holds {n} texts, more than the server queues at once "
                           f"({self.max_queue_items}); split it", param="input", code="request_too_large")
        if self._waiting + n > self.max_queue_items:
            wait = self._waiting / self.stats.items_per_second if self.stats.items_per_second else 1.0
            retry = max(1, math.ceil(wait))
            raise APIError(429, f"the encoder queue is full ({self._waiting} texts waiting); retry in {retry} s",
                           code="queue_full", headers={"Retry-After": str(retry)})
        future: asyncio.Future[tuple[np.ndarray, int]] = asyncio.get_running_loop().create_future()
        job = _Job(texts, role, [self._estimate(t) for t in texts], future)
        self._jobs.append(job)
        self._waiting += n
        self._wakeup.set()
        if self._waiting >= self.max_batch_items and self._full is not None:
            self._full.set()
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            self._cancel(job)
            raise APIError(504, f"the request was not encoded within {timeout:g} s", code="timeout") from None
        except asyncio.CancelledError:
            self._cancel(job)
            raise

    def _cancel(self, job: _Job) -> None:
        if not job.cancelled:
            job.cancelled = True
            self._waiting -= len(job.texts) - job.next_row
            job.next_row = len(job.texts)

    # ---- the batching loop ----------------------------------------------------------------
    async def _run(self) -> None:
        try:
            await self._loop()
        except Exception:  # a bug here must not leave requests hanging until their timeout
            logger.exception("the batching loop failed")
            for job in self._jobs:
                if not job.future.done():
                    job.future.set_exception(APIError(500, "the batching loop failed", code="server_error"))
            raise

    async def _fill(self) -> None:
        """Wait up to ``max_wait`` for the batch to fill (returns at once when it is full)."""
        if not self.max_wait or self._waiting >= self.max_batch_items or self._closing or self._full is None:
            return
        self._full.clear()
        try:
            await asyncio.wait_for(self._full.wait(), self.max_wait)
        except asyncio.TimeoutError:
            pass

    async def _loop(self) -> None:
        wakeup = self._wakeup
        if wakeup is None:
            raise RuntimeError("Batcher.start() was not called")
        loop = asyncio.get_running_loop()
        while True:
            await wakeup.wait()
            await self._fill()
            role, parts = self._take()
            if not parts:
                wakeup.clear()
                if self._closing:
                    return
                continue
            texts = [t for job, start, stop in parts for t in job.texts[start:stop]]
            padded = len(texts) * max(w for job, start, stop in parts for w in job.weights[start:stop])
            began = time.perf_counter()
            try:
                vectors, counts = await loop.run_in_executor(self._executor, self._work, texts, role, parts)
            except Exception as exc:  # the encoder failed: every request in the batch hears it
                error = APIError(500, f"the encoder failed: {type(exc).__name__}: {exc}", code="encoder_error")
                for job, _, _ in parts:
                    if not job.future.done():
                        job.future.set_exception(error)
                continue
            self._record(len(texts), time.perf_counter() - began, padded, sum(counts))
            self._dispatch(parts, vectors, counts)

    def _take(self) -> tuple[str, list[tuple[_Job, int, int]]]:
        """The next batch: ``(role, [(job, first row, stop row)])``, first come first served."""
        while self._jobs and self._jobs[0].next_row >= len(self._jobs[0].texts):
            self._jobs.popleft()  # fully taken or cancelled
        if not self._jobs:
            return "", []
        role = self._jobs[0].role
        parts: list[tuple[_Job, int, int]] = []
        rows, longest = 0, 0
        for job in self._jobs:
            if job.role != role or job.next_row >= len(job.texts):
                continue
            start = stop = job.next_row
            while stop < len(job.texts) and rows < self.max_batch_items:
                width = max(longest, job.weights[stop])
                if rows and (rows + 1) * width > self.max_batch_tokens:
                    break
                longest, rows, stop = width, rows + 1, stop + 1
            if stop > start:
                parts.append((job, start, stop))
                job.next_row = stop
                self._waiting -= stop - start
            if rows >= self.max_batch_items or stop < len(job.texts):
                break
        return role, parts

    def _work(self, texts: list[str], role: str, parts: list[tuple[_Job, int, int]]) -> tuple[np.ndarray, list[int]]:
        """In the encoder thread: the batch's vectors and each part's exact token count."""
        vectors = self._encode(texts, role)
        counts = [self._count(list(job.texts[start:stop]), role) for job, start, stop in parts]
        return vectors, counts

    def _dispatch(self, parts: list[tuple[_Job, int, int]], vectors: np.ndarray, counts: list[int]) -> None:
        offset = 0
        for (job, start, stop), tokens in zip(parts, counts):
            rows = vectors[offset: offset + stop - start]
            offset += stop - start
            if job.cancelled or job.future.done():
                continue
            if job.out is None:
                job.out = np.empty((len(job.texts), vectors.shape[1]), dtype=np.float32)
            job.out[start:stop] = rows
            job.filled += stop - start
            job.tokens += tokens
            if job.filled == len(job.texts):
                job.future.set_result((job.out, job.tokens))

    def _record(self, items: int, seconds: float, padded: int, tokens: int) -> None:
        rate = items / seconds if seconds > 0 else 0.0
        stats = self.stats
        stats.items_per_second = rate if not stats.batches else 0.8 * stats.items_per_second + 0.2 * rate
        stats.batches += 1
        stats.last_sizes.append(items)
        if self._observe is not None:
            self._observe(items, padded, tokens)

    async def close(self) -> None:
        """Finish every queued request, then stop the loop and the encoder thread."""
        self._closing = True
        if self._wakeup is not None:
            self._wakeup.set()
        if self._task is not None:
            await self._task
        self._executor.shutdown(wait=True)

    def run_sync(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Run ``fn`` in the encoder thread (e.g. warm-up), after the batches already submitted."""
        return asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
