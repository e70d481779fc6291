"""Streaming ingestion: documents -> validated batches -> vectors -> index, with bounded memory.

``Ingestion.run(documents)`` holds one batch of inputs and vectors at a time. While a compressor or
quantizer of the chain still has to be fitted, it buffers up to ``FIT_SAMPLE`` vectors, fits on
them, then writes the buffer and streams on. Every batch is validated (ids, payloads, duplicates)
before it is encoded or written; a failure after some batches were written raises
``PartialWriteError`` saying exactly how many documents were committed (and flushed).

Resuming: with ``skip_existing``, each batch's ids are looked up in the index at once
(``index.contains``) and the documents it already holds are neither encoded nor written again.
Durability in steps: with ``flush_every=N`` the index is flushed each time N more documents were
written, so an interrupted run keeps what it finished. ``write``/``finish`` take vectors encoded
elsewhere (Ray actors) through the same buffered, flushed path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Protocol

import numpy as np

from .documents import Document, check_id, check_payload, content_id
from .errors import EmbedspecError, PartialWriteError
from .progress import Phase
from .protocols import PointId

#: How many vectors an unfitted compressor is fitted on when the pipeline fits it.
FIT_SAMPLE = 20_000


@dataclass
class _Batch:
    contents: list[Any] = field(default_factory=list)
    ids: list[PointId] = field(default_factory=list)
    payloads: list[Mapping[str, Any] | None] = field(default_factory=list)


def _payload_digest(payload: Mapping[str, Any] | None) -> bytes:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:8]


class Chain(Protocol):
    """What ingestion needs of a pipeline (``embedspec.pipeline.Pipeline`` provides it)."""

    encoder: Any
    index: Any

    def encode(self, items: list[Any], role: str = "document") -> np.ndarray: ...
    def compress(self, vectors: np.ndarray) -> np.ndarray: ...
    def needs_fit(self) -> bool: ...
    def fit_compressors(self, vectors: np.ndarray) -> None: ...
    def flush(self) -> None: ...


class Ingestion:
    """One ``add`` call: ids resolved and checked across the call, batches written in order."""

    def __init__(self, pipeline: Chain, batch_size: int, progress: Any = None, *, skip_existing: bool = False,
                 flush_every: int | None = None) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if flush_every is not None and (isinstance(flush_every, bool) or not isinstance(flush_every, int)
                                        or flush_every < 1):
            raise ValueError(f"flush_every must be a positive integer or None, got {flush_every!r}")
        self.pipeline = pipeline
        self.batch_size = batch_size
        self.progress = progress
        self.skip_existing = skip_existing
        self.flush_every = flush_every
        self.ids: list[PointId] = []  # one per document, in input order
        self.read = 0  # documents taken from the input
        self.committed = 0  # documents written to the index
        self.skipped = 0  # content duplicates within this call
        self.existing = 0  # already in the index (skip_existing): not encoded again
        self.contains_unsupported = False  # skip_existing asked, but the index cannot look ids up
        self._since_flush = 0
        self._seen: dict[PointId, tuple[int, bytes, bool]] = {}  # id -> (position, payload digest, derived)
        self._pending: list[tuple[list[PointId], np.ndarray, list[Any]]] = []
        self._pending_rows = 0
        self._needs_fit = pipeline.needs_fit()

    # ---- validation -------------------------------------------------------------------------
    def _prepare(self, documents: list[Document], start: int) -> _Batch:
        """Resolve ids, check ids and payloads, drop content duplicates; raise before any write."""
        batch = _Batch()
        self._validate_contents([d.content for d in documents], start)
        for offset, doc in enumerate(documents):
            position = start + offset
            if isinstance(doc.payload, (str, bytes)) or (doc.payload is not None and not isinstance(doc.payload, Mapping)):
                raise TypeError(f"payload of document {position} is {type(doc.payload).__name__}; payloads are mappings or None")
            check_payload(doc.payload, position)
            derived = doc.id is None
            pid = content_id(doc.content) if derived else check_id(doc.id, position)
            digest = _payload_digest(doc.payload)
            first = self._seen.get(pid)  # type: ignore[arg-type]
            if first is not None:
                where, first_digest, first_derived = first
                if derived and first_derived and first_digest == digest:
                    self.ids.append(pid)  # type: ignore[arg-type]
                    self.skipped += 1  # the same document again: idempotent
                    continue
                what = "the same content (derived id)" if derived else "the same id"
                raise ValueError(
                    f"documents {where} and {position} have {what} {pid!r}"
                    + (" with different payloads" if derived and first_derived else "")
                    + "; ids must be unique within one add"
                )
            self._seen[pid] = (position, digest, derived)  # type: ignore[index]
            self.ids.append(pid)  # type: ignore[arg-type]
            batch.contents.append(doc.content)
            batch.ids.append(pid)  # type: ignore[arg-type]
            batch.payloads.append(doc.payload)
        return batch

    def _validate_contents(self, contents: list[Any], start: int) -> None:
        """The encoder's own input check (types, by position), before any id is derived."""
        validate = getattr(self.pipeline.encoder, "validate_inputs", None)
        if not callable(validate):
            return
        try:
            validate(contents)
        except (TypeError, ValueError) as exc:
            if start == 0:
                raise
            cls = TypeError if isinstance(exc, TypeError) else ValueError
            raise cls(f"{exc} (positions counted from document {start}, the start of its batch)") from exc

    # ---- the run ------------------------------------------------------------------------------
    def run(self, documents: Iterable[Document]) -> list[PointId]:
        iterator: Iterator[Document] = iter(documents)
        with self.committing():
            while True:
                chunk = list(islice(iterator, self.batch_size))
                if not chunk:
                    break
                batch = self._prepare(chunk, self.read)
                self.read += len(chunk)
                if batch.contents and self.skip_existing:
                    batch = self._drop_existing(batch)
                if batch.contents:
                    vectors = self.pipeline.encode(batch.contents, role="document")
                    self._write_or_buffer(batch.ids, vectors, batch.payloads)
                if self.progress is not None:
                    self.progress.update(len(chunk))
            self.finish()
        return self.ids

    @contextmanager
    def committing(self) -> Iterator[None]:
        """On any failure after a write: flush what was written, raise ``PartialWriteError``."""
        try:
            yield
        except BaseException as exc:
            if self.committed:
                self._flush_quietly()
                raise PartialWriteError(
                    f"{exc} -- {self.committed} document(s) were committed (and flushed) before this "
                    "failure; the rest were not written",
                    committed=self.committed,
                ) from exc
            raise

    def present(self, ids: list[PointId]) -> list[bool]:
        """Which of ``ids`` the index holds (one lookup); all False when it cannot tell."""
        contains = getattr(self.pipeline.index, "contains", None)
        if self.contains_unsupported or not callable(contains):
            self.contains_unsupported = True
            return [False] * len(ids)
        try:
            return list(contains(ids))
        except NotImplementedError:
            self.contains_unsupported = True
            return [False] * len(ids)

    def _drop_existing(self, batch: _Batch) -> _Batch:
        held = self.present(batch.ids)
        if not any(held):
            return batch
        kept = _Batch()
        for content, pid, payload, there in zip(batch.contents, batch.ids, batch.payloads, held):
            if there:
                self.existing += 1
            else:
                kept.contents.append(content)
                kept.ids.append(pid)
                kept.payloads.append(payload)
        return kept

    def write(self, ids: list[PointId], vectors: np.ndarray, payloads: list[Any]) -> None:
        """Write vectors encoded elsewhere (compressed, fitted and flushed like ``run``'s)."""
        self._write_or_buffer(ids, vectors, payloads)

    def finish(self) -> None:
        """Write what is buffered and flush the index (a long flush, e.g. an index optimising, says so)."""
        self._drain()
        with Phase("index: writing to disk and optimising", mode=getattr(self.progress, "mode", "off")):
            self.pipeline.flush()

    def _write_or_buffer(self, ids: list[PointId], vectors: np.ndarray, payloads: list[Any]) -> None:
        if not self._needs_fit:
            self._write(ids, vectors, payloads)
            return
        self._pending.append((ids, vectors, payloads))
        self._pending_rows += len(ids)
        if self._pending_rows >= FIT_SAMPLE:
            self._drain()

    def _drain(self) -> None:
        """Fit what still needs fitting on the buffered vectors, then write them."""
        if not self._pending:
            return
        if self._needs_fit:
            self.pipeline.fit_compressors(np.concatenate([v for _, v, _ in self._pending]))
            self._needs_fit = False
        pending, self._pending, self._pending_rows = self._pending, [], 0
        for ids, vectors, payloads in pending:
            self._write(ids, vectors, payloads)

    def _write(self, ids: list[PointId], vectors: np.ndarray, payloads: list[Any]) -> None:
        compressed = self.pipeline.compress(vectors)
        self.pipeline.index.upsert(ids, compressed, payloads)
        self.committed += len(ids)
        self._since_flush += len(ids)
        if self.flush_every is not None and self._since_flush >= self.flush_every:
            self.pipeline.flush()  # durable in steps: an interrupted run keeps what it finished
            self._since_flush = 0

    def _flush_quietly(self) -> None:
        try:
            self.pipeline.flush()
        except (EmbedspecError, OSError):
            pass
