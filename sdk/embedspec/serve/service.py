"""The pipeline behind the routes: batched encoding, searches and the single writer of the index.

Encoding for ``/v1/embeddings`` and ``/v1/search`` goes through the ``Batcher`` (its own thread). Index work (search, add, delete, count,
flush) runs in one index thread, so the server is the only writer of its index and never reads it
while a write is half applied. A write is acknowledged (HTTP 200) only after ``Pipeline.add`` /
``delete`` returned and the index was flushed: for a persistent index (``path`` or ``url``) the
answer says ``"durable": true`` and the write survives a crash of the server from then on.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ..protocols import Hit, PointId
from .batching import Batcher
from .config import ServeSettings
from .errors import APIError
from .metrics import ServerMetrics

_WORD = re.compile(r"\w+")
_CHARS_PER_TOKEN = 4  # for batch bounds only: usage counts come from the model's tokenizer


# ---- the pipeline calls, one place each (the pipeline API is moving: switch here) -------------
def _add(pipeline: Any, texts: list[str], ids: list[PointId] | None,
         payloads: list[Mapping[str, Any] | None] | None) -> list[PointId]:
    return list(pipeline.add(texts, ids=ids, payloads=payloads, progress=False))


def _delete(pipeline: Any, ids: list[PointId]) -> None:
    delete = getattr(pipeline, "delete", None)
    (delete if callable(delete) else pipeline.index.delete)(ids)


def _count(pipeline: Any) -> int:
    count = getattr(pipeline, "count", None)
    return int(count() if callable(count) else pipeline.index.count())


def _flush(pipeline: Any) -> None:
    flush = getattr(pipeline.index, "flush", None)
    if callable(flush):
        flush()


def _search_vectors(pipeline: Any, vectors: np.ndarray, k: int,
                    filter: Mapping[str, Any] | None) -> list[list[Hit]]:
    """``Pipeline.search`` after its encoding step (the queries were encoded by the batcher)."""
    return pipeline.index.search(pipeline.compress(vectors, role="query"), k=k, filter=filter)


def is_persistent(index: Any) -> bool:
    """Whether the index keeps its data outside this process (a directory or a server)."""
    return bool(getattr(index, "path", None) or getattr(index, "url", None))


def count_tokens(encoder: Any, texts: list[str], role: str) -> int:
    """The encoder's own count (``count_tokens``) or, for encoders without one, ``\\w+`` words."""
    count = getattr(encoder, "count_tokens", None)
    if callable(count):
        return int(count(texts, role=role))
    return sum(len(_WORD.findall(t)) for t in texts)


def model_id(pipeline: Any, name: str | None) -> str:
    """``name``, else the encoder's model directory name, else its registered type."""
    if name:
        return name
    model = getattr(pipeline.encoder, "model", None)
    if isinstance(model, str) and model:
        return Path(model.rstrip("/")).name or model
    return str(getattr(pipeline.encoder, "_embedspec_type", type(pipeline.encoder).__name__))


class PipelineService:
    """Owns the pipeline while the server runs; every method is called from the event loop."""

    def __init__(self, pipeline: Any, settings: ServeSettings, metrics: ServerMetrics | None = None) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.model = model_id(pipeline, settings.model_name)
        self.persistent = is_persistent(pipeline.index)
        self.ready = False
        card = getattr(pipeline.encoder, "card", None)
        self._max_tokens = int(getattr(card, "max_length", None) or 512)
        self.batcher = Batcher(
            self._encode, self._count_tokens, self._estimate_tokens,
            max_batch_items=settings.max_batch_items, max_batch_tokens=settings.max_batch_tokens,
            max_wait_ms=settings.max_wait_ms, max_queue_items=settings.max_queue_items,
            observe=metrics.observe_batch if metrics is not None else None,
        )
        self._index = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedspec-index")

    @property
    def dim(self) -> int:
        """Dimension of ``/v1/embeddings`` vectors (the encoder's, mapped by the aligner if any)."""
        dim = self.pipeline.encoder.dim
        aligner = self.pipeline.aligner
        return int(aligner.output_dim(dim) if aligner is not None else dim)

    # ---- in the encoder thread ----------------------------------------------------------------
    def _encode(self, texts: list[str], role: str) -> np.ndarray:
        return self.pipeline.encode(texts, role=role, batch_size=self.settings.encode_batch_size)

    def _count_tokens(self, texts: list[str], role: str) -> int:
        return count_tokens(self.pipeline.encoder, texts, role)

    def _estimate_tokens(self, text: str) -> int:
        return min(len(text) // _CHARS_PER_TOKEN + 2, self._max_tokens)

    # ---- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Load the model (one warm-up encode) and open the index; then ``ready`` is true."""
        self.batcher.start()
        await self.batcher.run_sync(self.pipeline.encode, ["warm up"], "query")
        await self._in_index(_count, self.pipeline)
        self.ready = True

    async def close(self) -> None:
        """Drain queued encodes, then flush and close the index (after the writes in flight)."""
        self.ready = False
        await self.batcher.close()
        try:
            await self._in_index(self.pipeline.close)
        finally:
            self._index.shutdown(wait=True)

    def _in_index(self, fn: Any, *args: Any) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().run_in_executor(self._index, fn, *args)

    # ---- operations ----------------------------------------------------------------------------
    def require_text(self, field: str) -> None:
        """400 naming ``field`` when the encoder does not take text (e.g. a records encoder)."""
        modalities = getattr(self.pipeline.encoder, "modalities", frozenset({"text"}))
        if "text" not in modalities:
            raise APIError(400, f"the served encoder takes {', '.join(sorted(modalities))}, not text; {field} "
                           "must be text", param=field, code="unsupported_input")

    async def embed(self, texts: Sequence[str], role: str) -> tuple[np.ndarray, int]:
        """``((n, dim) float32, tokens)`` through the batcher."""
        self.require_text("input")
        return await self.batcher.encode(texts, role, self.settings.request_timeout_s)

    async def search(self, queries: list[str], k: int, filter: Mapping[str, Any] | None) -> tuple[list[list[Hit]], int]:
        """Hits per query and the queries' tokens; 400 naming ``filter`` when it is invalid.

        The queries are encoded by the batcher (coalesced with other requests), then searched in the
        index thread."""
        if filter is not None:
            from ..filters import parse_filter

            try:
                parse_filter(filter)
            except ValueError as exc:
                raise APIError(400, str(exc), param="filter", code="invalid_filter") from None
        self.require_text("query")
        timeout = self.settings.request_timeout_s
        began = asyncio.get_running_loop().time()
        vectors, tokens = await self.batcher.encode(queries, "query", timeout)
        work = self._in_index(_search_vectors, self.pipeline, vectors, k, filter)
        left = max(timeout - (asyncio.get_running_loop().time() - began), 0.001)
        try:
            return await asyncio.wait_for(work, left), tokens
        except asyncio.TimeoutError:
            raise APIError(504, f"the search did not finish within {self.settings.request_timeout_s:g} s",
                           code="timeout") from None

    async def add(self, texts: list[str], ids: list[PointId] | None,
                  payloads: list[Mapping[str, Any] | None] | None) -> tuple[list[PointId], int]:
        """Encode, upsert and flush; returns (ids, tokens). No timeout: an answered write is applied."""
        return await self._in_index(self._add_counted, texts, ids, payloads)

    def _add_counted(self, texts: list[str], ids: list[PointId] | None,
                     payloads: list[Mapping[str, Any] | None] | None) -> tuple[list[PointId], int]:
        written = _add(self.pipeline, texts, ids, payloads)
        _flush(self.pipeline)  # Pipeline.add flushes today; again is a no-op, and keeps the promise
        return written, count_tokens(self.pipeline.encoder, texts, "document")

    async def delete(self, ids: list[PointId]) -> int:
        """Delete ``ids`` (unknown ids are ignored), flush; returns the count after."""
        return await self._in_index(self._delete_flushed, ids)

    def _delete_flushed(self, ids: list[PointId]) -> int:
        _delete(self.pipeline, ids)
        _flush(self.pipeline)
        return _count(self.pipeline)

    async def count(self) -> int:
        return await self._in_index(_count, self.pipeline)
