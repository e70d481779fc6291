"""``EncodeActor``: the callable class Ray Data runs on each actor of the pool.

The constructor builds the spec's chain once per actor (an encoder session, tokenizer, aligner and
compressors); ``__call__`` handles one batch of document rows (``rows.py``). Three modes:

- ``encode``: ``pipeline.encode`` (encoder, then aligner); the driver compresses and writes (an
  embedded index has exactly one writer, the driver).
- ``compress``: also applies the float compressors (fitted): the rows go to Parquet files.
- ``upsert``: the actor writes into a server index itself (``qdrant`` with ``url``), skipping the
  ids the index already holds; it returns counts instead of vectors.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import numpy as np

from ..embedding_cache import EmbeddingCache
from .rows import CONTENT, ID, PAYLOAD, drop_ids, id_column, payloads_of

MODES = ("encode", "compress", "upsert")
#: The stand-in index of actors that only encode: in memory, never locked, never written.
NO_INDEX = {"type": "exact"}


def encoding_spec(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with its index replaced by an in-memory one (the actor must not open the real index)."""
    spec = copy.deepcopy(raw)
    spec["index"] = dict(NO_INDEX, metric=raw.get("index", {}).get("metric", "cosine"))
    return spec


def vector_column(vectors: np.ndarray) -> Any:
    """``(n, dim) float32`` as an Arrow ``fixed_size_list<float32>[dim]`` column."""
    import pyarrow as pa

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), vectors.shape[1])


def vectors_of(batch: Any) -> np.ndarray:
    """The ``vector`` column of a batch as ``(n, dim) float32``."""
    column = batch.column("vector").combine_chunks()
    dim = column.type.list_size
    return np.asarray(column.flatten().to_numpy(zero_copy_only=False), dtype=np.float32).reshape(-1, dim)


class EncodeActor:
    """Builds the chain once; encodes (and compresses, or upserts) each batch it is given."""

    def __init__(self, spec: dict[str, Any], *, mode: str = "encode", cache: EmbeddingCache | None = None,
                 cwd: str | None = None, skip: frozenset[Any] | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if cwd and os.path.isdir(cwd):
            os.chdir(cwd)  # relative paths of the spec resolve as on the driver (same machine or shared disk)
        from ..pipeline import build

        self.mode = mode
        self.skip = skip or frozenset()
        self.pipeline = build(spec if mode == "upsert" else encoding_spec(spec),
                              cache=cache if cache is not None else False)
        warm_up = getattr(self.pipeline.encoder, "warm_up", None)
        if callable(warm_up):
            warm_up()  # load the model now, not inside the first batch

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        batch, dropped = drop_ids(batch, self.skip)
        cache = self.pipeline.cache
        hits, misses = (cache.hits, cache.misses) if cache is not None else (0, 0)
        if self.mode == "upsert":
            return self._upsert(batch, dropped)
        vectors = self.pipeline.encode(batch.column(CONTENT).to_pylist(), role="document")
        if self.mode == "compress":
            vectors = self.pipeline.compress(vectors)
        n = batch.num_rows
        counts = [0] * n
        out = {ID: batch.column(ID), "vector": vector_column(vectors), PAYLOAD: batch.column(PAYLOAD)}
        if self.mode == "encode" and n:
            first = lambda value: pa.array([value] + counts[1:], pa.int64())  # noqa: E731 - batch totals on row 0
            out["cache_hits"] = first((cache.hits - hits) if cache is not None else 0)
            out["cache_misses"] = first((cache.misses - misses) if cache is not None else 0)
        return pa.table(out)

    def _upsert(self, batch: Any, dropped: int) -> Any:
        import pyarrow as pa

        ids = batch.column(ID).to_pylist()
        seen: set[Any] = set()
        rows = [i for i, pid in enumerate(ids) if not (pid in seen or seen.add(pid))]  # first of each id
        duplicates = len(ids) - len(rows)
        held = self.pipeline.index.contains([ids[i] for i in rows]) if rows else []
        rows = [i for i, there in zip(rows, held) if not there]
        skipped = dropped + sum(held)
        if rows:
            contents = batch.column(CONTENT).to_pylist()
            payloads = payloads_of(batch)
            vectors = self.pipeline.compress(self.pipeline.encode([contents[i] for i in rows], role="document"))
            self.pipeline.index.upsert([ids[i] for i in rows], vectors, [payloads[i] for i in rows])
        return pa.table({"written": pa.array([len(rows)], pa.int64()), "skipped": pa.array([skipped], pa.int64()),
                         "duplicates": pa.array([duplicates], pa.int64())})


__all__ = ["EncodeActor", "encoding_spec", "vector_column", "vectors_of", "id_column"]
