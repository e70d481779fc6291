"""``qdrant``: a Qdrant server or distributed cluster through qdrant-client (or its local mode).

``url`` (+ ``api_key``) targets a server or cluster: the collection is created with the spec's
shard_number / replication_factor / HNSW / quantization, and points are uploaded in batches, in
parallel processes, with retries, waiting for each batch to be applied. ``path`` or
``location: ":memory:"`` use qdrant-client's local mode: a pure-Python brute force meant for tests
and small data (it ignores HNSW, quantization and sharding).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from embedspec.errors import DimensionMismatchError, EmbedspecError, PluginError
from embedspec.filters import Filter
from embedspec.protocols import Hit, PointId

from .config import QdrantIndexConfig
from .filter_translation import FilterVocabulary, translate_filter
from .index_base import NativeQuantization, QdrantIndexBase
from .point_ids import to_qdrant_ids

_DISTANCES = {"cosine": "COSINE", "dot": "DOT", "euclidean": "EUCLID"}
_SCHEMAS = {"keyword": "KEYWORD", "integer": "INTEGER", "float": "FLOAT", "bool": "BOOL"}


def import_qdrant_client() -> Any:
    try:
        import qdrant_client
    except ImportError as exc:
        raise PluginError(
            "the qdrant index needs the qdrant-client package: pip install 'embedspec-qdrant[client]'",
            plugin="qdrant",
            distribution="embedspec-qdrant",
        ) from exc
    return qdrant_client


class QdrantIndex(QdrantIndexBase):
    """A Qdrant collection reached through qdrant-client (see ``QdrantIndexConfig``)."""

    Config = QdrantIndexConfig

    def _init_runtime(self) -> None:
        super()._init_runtime()
        self._client: Any = None
        self._models: Any = None
        self._ready = False  # the collection exists
        self._lock = threading.RLock()

    def _types(self) -> Any:
        return self._models

    @property
    def is_local(self) -> bool:
        return self.url is None

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Local mode is plain Python objects: serialize access. Servers handle concurrency."""
        if self.is_local:
            with self._lock:
                yield
        else:
            yield

    # ---- life cycle -------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Open (or prepare to create) the store once, even when several threads call at the same time."""
        if not self._warm:
            with self._lock:
                super().warm_up()

    def _warm_up(self) -> None:
        qc = import_qdrant_client()
        self._models = qc.models
        targets = [n for n in ("url", "path", "location") if getattr(self, n) is not None]
        if len(targets) != 1:
            raise EmbedspecError(f"qdrant index: set exactly one of url, path or location (got {targets or 'none'})")
        if self.url is not None:
            api_key = self.api_key.reveal() if self.api_key is not None else None
            kwargs: dict[str, Any] = {"url": self.url, "api_key": api_key, "prefer_grpc": self.prefer_grpc}
            if self.timeout is not None:
                kwargs["timeout"] = self.timeout
            self._client = qc.QdrantClient(**kwargs)
        elif self.path is not None:
            if self.read_only and not Path(self.path).is_dir():
                return  # nothing stored there; opening would create the directory
            self._client = qc.QdrantClient(path=self.path)
        else:
            self._client = qc.QdrantClient(location=self.location)
        if self._client.collection_exists(self.collection):
            self._check_existing()
            self._ready = True
        elif self.dim is not None and not self.read_only:
            self._create()

    def _check_existing(self) -> None:
        params = self._client.get_collection(self.collection).config.params.vectors
        if isinstance(params, Mapping):
            raise EmbedspecError(
                f"collection {self.collection!r} uses named vectors {sorted(params)}; embedspec needs one unnamed vector"
            )
        if self.dim is not None and params.size != self.dim:
            raise DimensionMismatchError(
                f"collection {self.collection!r} holds vectors of dimension {params.size}, not {self.dim}"
            )
        expected = getattr(self._models.Distance, _DISTANCES[self.metric])
        if params.distance != expected:
            raise EmbedspecError(
                f"collection {self.collection!r} uses distance {params.distance}, but metric is {self.metric!r}"
            )
        self.dim = int(params.size)

    def exists(self) -> bool:
        self.warm_up()
        return self._ready

    def bind_dim(self, dim: int) -> None:
        super().bind_dim(dim)
        self.warm_up()
        if self._ready:
            self._check_existing()

    def _create(self) -> None:
        self._check_writable()
        m = self._models
        self._client.create_collection(
            collection_name=self.collection,
            vectors_config=m.VectorParams(
                size=int(self.dim),  # type: ignore[arg-type]
                distance=getattr(m.Distance, _DISTANCES[self.metric]),
                on_disk=self.on_disk or None,
            ),
            hnsw_config=m.HnswConfigDiff(m=self.hnsw_m, ef_construct=self.hnsw_ef_construct),
            quantization_config=self._quantization_config(),
            shard_number=self.shard_number,
            replication_factor=self.replication_factor,
            write_consistency_factor=self.write_consistency_factor,
            on_disk_payload=self.on_disk or None,
        )
        for key, kind in self.payload_indexes.items():
            self._client.create_payload_index(
                self.collection, key, field_schema=getattr(m.PayloadSchemaType, _SCHEMAS[kind])
            )
        self._ready = True

    def _scalar_quantization(self, native: NativeQuantization) -> Any:
        m = self._models
        cfg = m.ScalarQuantizationConfig(type=m.ScalarType.INT8, quantile=0.99, always_ram=native.always_ram)
        return m.ScalarQuantization(scalar=cfg)

    def _binary_quantization(self, native: NativeQuantization) -> Any:
        m = self._models
        cfg = m.BinaryQuantizationConfig(
            always_ram=native.always_ram,
            encoding=m.BinaryQuantizationEncoding(native.binary_encoding),
            query_encoding=m.BinaryQuantizationQueryEncoding(native.binary_query_encoding),
        )
        return m.BinaryQuantization(binary=cfg)

    def _product_quantization(self, native: NativeQuantization) -> Any:
        m = self._models
        ratio = getattr(m.CompressionRatio, f"X{native.compression}")
        return m.ProductQuantization(
            product=m.ProductQuantizationConfig(compression=ratio, always_ram=native.always_ram)
        )

    def _ensure_collection(self) -> None:
        self.warm_up()
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self._create()

    def optimize(self, timeout_s: float = 600.0) -> bool:
        """Servers index in the background: wait until the collection is green. Local mode: nothing to do."""
        self.warm_up()
        if self.is_local or not self._ready:
            return False
        deadline = time.monotonic() + timeout_s
        waited = False
        while self._client.get_collection(self.collection).status != self._models.CollectionStatus.GREEN:
            if time.monotonic() > deadline:
                raise EmbedspecError(f"collection {self.collection!r} still optimizing after {timeout_s:.0f} s")
            waited = True
            time.sleep(0.5)
        return waited

    def flush(self) -> None:
        """Nothing to do: every upload waits until the server (or local mode) has applied it."""

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
            self._client = None
            self._ready = False
            self._warm = False

    # ---- data -------------------------------------------------------------------------------
    def _point(self, qid: int | str, vector: list[float], payload: dict[str, Any]) -> Any:
        return self._models.PointStruct(id=qid, vector=vector, payload=payload)

    def _write_points(self, points: list[Any]) -> None:
        """qdrant-client's uploader batches (``batch_size``), runs ``parallel`` processes, retries."""
        self._ensure_collection()
        with self._guard():
            self._client.upload_points(
                self.collection,
                points,
                batch_size=self.batch_size,
                parallel=self.parallel,
                max_retries=self.max_retries,
                wait=True,
            )

    def _search(self, queries: np.ndarray, k: int, filter: Filter | None) -> list[list[Hit]]:
        if not self._ready:
            return [[] for _ in range(len(queries))]
        m = self._models
        vocab = FilterVocabulary(m.Filter, m.FieldCondition, m.MatchValue, m.MatchAny, m.Range)
        qfilter = translate_filter(filter, vocab)
        params = self._search_params()
        requests = [
            m.QueryRequest(query=q, limit=k, filter=qfilter, params=params, with_payload=True) for q in queries.tolist()
        ]
        with self._guard():
            responses = self._client.query_batch_points(self.collection, requests=requests)
        return [[self._hit(p.id, p.score, p.payload) for p in r.points] for r in responses]

    def _delete(self, ids: list[PointId]) -> None:
        if not self._ready:
            return
        with self._guard():
            self._client.delete(
                self.collection, points_selector=self._models.PointIdsList(points=to_qdrant_ids(list(ids))), wait=True
            )

    def _contains(self, ids: list[PointId]) -> list[bool]:
        """One retrieve-by-ids request per ``batch_size`` ids (no payloads, no vectors)."""
        if not self._ready:
            return [False] * len(ids)
        held: list[bool] = []
        for start in range(0, len(ids), max(1, self.batch_size)):
            chunk = ids[start : start + max(1, self.batch_size)]
            qids = to_qdrant_ids(chunk)
            with self._guard():
                points = self._client.retrieve(self.collection, ids=qids, with_payload=False, with_vectors=False)
            held += self._held(chunk, qids, (p.id for p in points))
        return held

    def count(self) -> int:
        self.warm_up()
        if not self._ready:
            return 0
        with self._guard():
            return int(self._client.count(self.collection, exact=True).count)
