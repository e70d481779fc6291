"""``qdrant-edge``: the Qdrant engine in-process (qdrant-edge-py), one shard in a local directory.

Life cycle: the shard is created on first use with the dimension the pipeline binds (or the first
upsert's), or loaded when ``path`` already holds one (its dimension and metric must agree). Writes
go to Qdrant's write-ahead log; ``flush()`` makes them durable in the segments. Qdrant Edge runs no
background optimizer: points land in an appendable, brute-force segment until ``optimize()`` builds
the HNSW graph, payload indexes and quantized vectors. With ``optimize_after`` set (the default),
that happens automatically before a search once that many points were written since the last
optimization, and on ``close()`` after any write.

Multi-vectors (``MultiVectors``, late interaction) are stored with Qdrant's multivector config and
the MaxSim comparator (``kind`` multi, fixed when the shard is created and read back from it); queries
are then sets of vectors too. Filters, payloads, ids and deletes work as for dense vectors.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from embedspec.base import BaseIndex, batched
from embedspec.errors import DimensionMismatchError, EmbedspecError, PluginError
from embedspec.filters import Filter
from embedspec.locking import DirectoryLock
from embedspec.protocols import Hit, PointId
from embedspec.representations import KIND_NOUNS, MultiVectors, SparseVectors

from .config import QdrantEdgeIndexConfig
from .edge_muvera import EdgeMuvera, is_muvera_layout
from .edge_named import EdgeNamedVectors, describe_vectors
from .filter_translation import FilterVocabulary, translate_filter
from .index_base import NativeQuantization, QdrantIndexBase
from .point_ids import to_qdrant_ids

CONFIG_FILE = "edge_config.json"
_DISTANCES = {"cosine": "Cosine", "dot": "Dot", "euclidean": "Euclid"}
_SCHEMAS = {"keyword": "Keyword", "integer": "Integer", "float": "Float", "bool": "Bool"}
_EDGE_ENUM = {
    "one_bit": "OneBit",
    "one_and_half_bits": "OneAndHalfBits",
    "two_bits": "TwoBits",
    "default": "Default",
    "binary": "Binary",
    "scalar4bits": "Scalar4Bits",
    "scalar8bits": "Scalar8Bits",
}
UPDATE_BATCH = 2048


def import_qdrant_edge() -> Any:
    try:
        import qdrant_edge
    except ImportError as exc:
        raise PluginError(
            "the qdrant-edge index needs the qdrant-edge-py package: pip install 'embedspec-qdrant[edge]'",
            plugin="qdrant",
            distribution="embedspec-qdrant",
        ) from exc
    return qdrant_edge


class QdrantEdgeIndex(EdgeMuvera, EdgeNamedVectors, QdrantIndexBase):
    """An embedded Qdrant shard at ``path`` (see ``QdrantEdgeIndexConfig`` for the parameters); named
    and sparse vectors and fusion plans through ``EdgeNamedVectors`` (``edge_named.py``), MUVERA
    two-stage search through ``EdgeMuvera`` (``edge_muvera.py``)."""

    Config = QdrantEdgeIndexConfig
    accepts = frozenset({"dense", "multi", "sparse"})

    def _init_runtime(self) -> None:
        super()._init_runtime()
        self._init_named()
        self._init_muvera()
        self._kind: str | None = None  # dense / multi: from the chain, the stored shard or the first upsert
        self._shard: Any = None
        self._qe: Any = None
        self._unoptimized = 0
        self._lock = threading.RLock()
        self._dir_lock: DirectoryLock | None = None
        self._written = False  # since the shard was opened
        self._idf_stale = False  # deleted points still count in the engine's IDF statistics until reloaded

    def _types(self) -> Any:
        return self._qe

    # ---- life cycle -------------------------------------------------------------------------
    def stored_params(self) -> dict[str, Any] | None:
        """``{"size": int, "distance": str}`` of the shard at ``path``, or None when there is none."""
        file = Path(self.path) / CONFIG_FILE
        if not file.is_file():
            return None
        vectors = json.loads(file.read_text(encoding="utf-8")).get("vectors", {})
        return vectors.get("")

    def warm_up(self) -> None:
        """Open (or prepare to create) the store once, even when several threads call at the same time."""
        if not self._warm:
            with self._lock:
                super().warm_up()

    def bind_dim(self, dim: int) -> None:
        held = self.stored_vectors()
        if self._kind == "multi" and is_muvera_layout(held):  # use_quantizer (muvera) comes next and checks it
            super().bind_dim(dim)
            return
        if held is not None and (set(held) != {""} or held[""].kind not in ("dense", "multi")):
            raise EmbedspecError(f"the qdrant-edge shard at {self.path} holds {describe_vectors(held)}, but the "
                                 f"spec's chain writes one unnamed dense vector of dimension {dim}")
        stored = self.stored_params()
        if stored is not None and int(stored["size"]) != dim:
            raise DimensionMismatchError(
                f"the qdrant-edge shard at {self.path} holds vectors of dimension {stored['size']}, "
                f"the chain produces {dim}"
            )
        super().bind_dim(dim)

    def exists(self) -> bool:
        return self.stored_vectors() is not None

    # ---- kinds: dense vectors or multi-vectors (MaxSim) --------------------------------------
    @property
    def kind(self) -> str | None:
        """``dense`` or ``multi`` (MaxSim); None until the chain, the stored shard or an upsert says."""
        stored = self.stored_params()
        return self._stored_kind(stored) if stored is not None else self._kind

    @staticmethod
    def _stored_kind(stored: Mapping[str, Any]) -> str:
        return "multi" if stored.get("multivector_config") else "dense"

    def bind_kind(self, kind: str) -> None:
        """Called by ``build`` with the kind reaching the index: a stored shard must hold that kind."""
        if kind == "sparse":  # sparse vectors are bound by name (bind_vectors)
            return
        stored = self.stored_params()
        if stored is not None and self._stored_kind(stored) != kind:
            raise EmbedspecError(
                f"the qdrant-edge shard at {self.path} holds {KIND_NOUNS[self._stored_kind(stored)]} "
                f"(dimension {stored['size']}), but the spec's chain produces {KIND_NOUNS[kind]}: use the spec "
                "that built it, or a new path")
        if kind == "multi" and self.metric == "euclidean":
            raise EmbedspecError("multi-vectors are scored by MaxSim over dot products: use metric cosine or dot")
        self._kind = kind

    def check_vectors(self, vectors: Any, *, name: str = "vectors") -> Any:
        """The base checks, and the kind the shard holds (a multi-vector shard takes no dense vectors)."""
        if self._muvera is not None:
            return self._check_muvera_vectors(BaseIndex.check_vectors(self, vectors, name=name), name)
        self._refuse_unbound_muvera()
        out = super().check_vectors(vectors, name=name)
        if isinstance(out, (Mapping, SparseVectors)):  # named and sparse batches: checked by EdgeNamedVectors
            return out
        kind, held = ("multi" if isinstance(out, MultiVectors) else "dense"), self.kind
        if held is not None and kind != held and (len(out) or name == "vectors"):
            raise TypeError(f"the qdrant-edge shard at {self.path} holds {KIND_NOUNS[held]}; {name} are {KIND_NOUNS[kind]}")
        if kind == "multi" and self.metric == "euclidean":
            raise ValueError("multi-vectors are scored by MaxSim over dot products: use metric cosine or dot")
        return out


    def _take_lock(self) -> None:
        """The engine cannot share a shard between processes: every opener, reader or writer, takes
        the directory's lock first, so a second process is refused before it can harm the first."""
        if self._dir_lock is None:
            lock = DirectoryLock(self.path, what="qdrant-edge shard")
            lock.acquire(writer=not self.read_only)
            self._dir_lock = lock

    def _release_lock(self) -> None:
        lock, self._dir_lock = self._dir_lock, None
        if lock is not None:
            lock.release()

    def _warm_up(self) -> None:
        self._qe = import_qdrant_edge()
        held = self.stored_vectors()
        if held is None:
            if Path(self.path).exists() and not Path(self.path).is_dir():
                raise EmbedspecError(f"qdrant-edge path {self.path} is a file, not a directory")
            if (self.dim is not None or self._named) and not self.read_only:
                self._create()
            return
        self._take_lock()
        try:
            if self._named or set(held) != {""} or held[""].kind not in ("dense", "multi"):
                self._open_named(held)
            else:
                self._open_existing(self.stored_params())  # type: ignore[arg-type]
        except BaseException:
            self._shard = None
            self._release_lock()
            raise

    def _open_existing(self, stored: Mapping[str, Any]) -> None:
        size, distance = int(stored["size"]), stored["distance"]
        if self.dim is not None and self.dim != size:
            raise DimensionMismatchError(
                f"the qdrant-edge shard at {self.path} holds vectors of dimension {size}, not {self.dim}"
            )
        if distance != _DISTANCES[self.metric]:
            raise EmbedspecError(
                f"the qdrant-edge shard at {self.path} uses distance {distance}, but metric is {self.metric!r}"
            )
        self.dim = size
        self._kind = self._stored_kind(stored)
        try:
            # Read-only: the stored configuration as it is (passing ours would rewrite edge_config.json).
            config = None if self.read_only else self._edge_config()
            self._shard = self._qe.EdgeShard.load(self.path, config)
        except Exception as exc:
            raise EmbedspecError(f"cannot open the qdrant-edge shard at {self.path}: {exc}") from exc
        info = self._shard.info()
        self._unoptimized = max(0, info.points_count - info.indexed_vectors_count)
        self._create_payload_indexes()

    def _open_named(self, held: dict[str, Any]) -> None:
        self._specs = self._specs or dict(held)
        try:
            config = None if self.read_only else self._edge_config()
            self._shard = self._qe.EdgeShard.load(self.path, config)
        except Exception as exc:
            raise EmbedspecError(f"cannot open the qdrant-edge shard at {self.path}: {exc}") from exc
        info = self._shard.info()
        self._unoptimized = max(0, info.points_count - info.indexed_vectors_count)
        self._create_payload_indexes()

    def _create(self) -> None:
        self._check_writable()
        Path(self.path).mkdir(parents=True, exist_ok=True)
        self._take_lock()
        try:
            self._shard = self._qe.EdgeShard.create(self.path, self._edge_config())
            self._save_muvera_state()
            self._create_payload_indexes()
        except BaseException:
            self._shard = None
            self._release_lock()
            raise

    def _edge_config(self) -> Any:
        qe = self._qe
        hnsw = qe.HnswIndexConfig(m=self.hnsw_m, ef_construct=self.hnsw_ef_construct, full_scan_threshold=10_000)
        optimizers = None
        if self.indexing_threshold_kb is not None:
            optimizers = qe.EdgeOptimizersConfig(indexing_threshold=self.indexing_threshold_kb)
        if self._named:
            return self._named_config(hnsw, self._quantization_config(), optimizers)
        memory = qe.Memory.Cold if self.on_disk else None
        multi = qe.MultiVectorConfig(comparator=qe.MultiVectorComparator.MaxSim) if self._kind == "multi" else None
        vectors = qe.EdgeVectorParams(
            size=int(self.dim),  # type: ignore[arg-type]
            distance=getattr(qe.Distance, _DISTANCES[self.metric]),
            memory=memory,
            multivector_config=multi,
        )
        return qe.EdgeConfig(
            vectors=vectors,
            hnsw_config=hnsw,
            quantization_config=self._quantization_config(),
            optimizers=optimizers,
        )

    def _scalar_quantization(self, native: NativeQuantization) -> Any:
        qe = self._qe
        return qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=0.99, memory=self._quantized_memory(native))

    def _binary_quantization(self, native: NativeQuantization) -> Any:
        qe = self._qe
        return qe.BinaryQuantizationConfig(
            memory=self._quantized_memory(native),
            encoding=getattr(qe.BinaryQuantizationEncoding, _EDGE_ENUM[native.binary_encoding]),
            query_encoding=getattr(qe.BinaryQuantizationQueryEncoding, _EDGE_ENUM[native.binary_query_encoding]),
        )

    def _product_quantization(self, native: NativeQuantization) -> Any:
        qe = self._qe
        ratio = getattr(qe.CompressionRatio, f"X{native.compression}")
        return qe.ProductQuantizationConfig(compression=ratio, memory=self._quantized_memory(native))

    def _quantized_memory(self, native: NativeQuantization) -> Any:
        return self._qe.Memory.Pinned if native.always_ram else None

    def _create_payload_indexes(self) -> None:
        if not self.payload_indexes or self.read_only:
            return
        existing = set(self._shard.info().payload_schema)
        for key, kind in self.payload_indexes.items():
            if key not in existing:
                schema = getattr(self._qe.PayloadSchemaType, _SCHEMAS[kind])
                self._shard.update(self._qe.UpdateOperation.create_field_index(key, schema))

    def _ensure_shard(self) -> Any:
        self.warm_up()
        if self._shard is None:
            with self._lock:
                if self._shard is None:
                    self._create()
        return self._shard

    def optimize(self) -> bool:
        """Build HNSW / payload indexes / quantized vectors now (blocking); True if anything changed."""
        self.warm_up()
        if self._shard is None:
            return False
        with self._lock:
            changed = bool(self._shard.optimize())
            self._unoptimized = 0
        return changed

    def flush(self) -> None:
        """Write pending changes to the segments on disk (nothing to do read-only)."""
        if self._shard is not None and not self.read_only:
            with self._lock:
                self._shard.flush()

    def close(self) -> None:
        """Optimize (if automatic and anything was written), flush, release the shard and its lock."""
        with self._lock:
            try:
                if self._shard is not None:
                    try:
                        if not self.read_only:
                            if self.optimize_after is not None and self._unoptimized:
                                self._shard.optimize()
                            self._shard.flush()
                    finally:
                        self._shard.close()
                    if self._written:
                        self._settle()
            finally:
                self._written = False
                self._shard = None
                self._unoptimized = 0
                self._warm = False
                self._release_lock()

    def _settle(self) -> None:
        """Open and close the shard once more, as a reader would: the engine normalizes its files on
        the first load after writes (configuration defaults, payload journal compaction); doing it
        here, while the writer still holds the lock, lets later read-only opens change nothing."""
        shard = self._qe.EdgeShard.load(self.path, None)
        shard.close()

    # ---- data -------------------------------------------------------------------------------
    def _point(self, qid: int | str, vector: list[float], payload: dict[str, Any]) -> Any:
        return self._qe.Point(qid, vector, payload)

    def _write_points(self, points: list[Any]) -> None:
        shard = self._ensure_shard()
        with self._lock:
            for chunk in batched(points, UPDATE_BATCH):
                shard.update(self._qe.UpdateOperation.upsert_points(list(chunk)))
                self._written = True
                self._unoptimized += len(chunk)

    def _upsert(self, ids: list[PointId], vectors: Any, payloads: list[Any]) -> None:
        self._refuse_unbound_muvera()
        if self._muvera is not None:
            self._write_points(self._muvera_points(ids, vectors, payloads))
            return
        if self._named:
            self._write_points(self._named_points(ids, vectors, payloads))
            return
        if self._kind is None and self.stored_params() is None:
            self._kind = "multi" if isinstance(vectors, MultiVectors) else "dense"
        super()._upsert(ids, vectors, payloads)

    def _optimize_if_due(self) -> None:
        if (
            not self.read_only
            and self.optimize_after is not None
            and self._unoptimized >= max(1, self.optimize_after)
        ):
            with self._lock:
                if self._unoptimized >= max(1, self.optimize_after):
                    self.optimize()

    def _qdrant_filter(self, filter: Filter | None) -> Any:
        return translate_filter(filter, self._vocabulary())

    def _search(self, queries: Any, k: int, filter: Filter | None) -> list[list[Hit]]:
        self._refuse_unbound_muvera()
        if self._muvera is not None:
            return self._muvera_search(queries, k, filter)
        if self._named:
            return self._search_plan(queries, k, filter, None)
        if self._shard is None:
            return [[] for _ in range(len(queries))]
        self._optimize_if_due()
        qe = self._qe
        qfilter = self._qdrant_filter(filter)
        params = self._search_params()
        requests = [
            qe.QueryRequest(limit=k, query=qe.Query.Nearest(q), filter=qfilter, params=params, with_payload=True)
            for q in (queries.tolist() if isinstance(queries, np.ndarray) else [v.tolist() for v in queries])
        ]
        if len(requests) == 1:
            rows = [self._shard.query(requests[0])]
        else:
            rows = self._shard.query_batch(qe.QueryBatchRequest(requests))
        return [[self._hit(p.id, p.score, p.payload) for p in row] for row in rows]

    def _vocabulary(self) -> FilterVocabulary:
        qe = self._qe
        # qdrant-edge-py reads a Python bool given to MatchValue as the integer 1/0; numpy's bool_
        # reaches its Bool variant, so True matches only true.
        return FilterVocabulary(
            qe.Filter, qe.FieldCondition, qe.MatchValue, qe.MatchAny, qe.RangeFloat, boolean=np.bool_
        )

    def _delete(self, ids: list[PointId]) -> None:
        if self._shard is None:
            return
        with self._lock:
            self._shard.update(self._qe.UpdateOperation.delete_points(to_qdrant_ids(list(ids))))
            self._written = True
            self._idf_stale = any(s.modifier == "idf" for s in self._specs.values())

    def _refresh_idf(self) -> None:
        """qdrant-edge keeps counting deleted points in its IDF statistics until the shard is loaded
        again: after a delete, the next search flushes and reloads it, so BM25 scores count live points."""
        if not self._idf_stale or self._shard is None:
            return
        with self._lock:
            if self._idf_stale:
                self._shard.flush()
                self._shard.close()
                self._shard = self._qe.EdgeShard.load(self.path, None)
                self._idf_stale = False

    def _contains(self, ids: list[PointId]) -> list[bool]:
        """One retrieve-by-ids per ``UPDATE_BATCH`` ids (no payloads, no vectors)."""
        if self._shard is None:
            return [False] * len(ids)
        held: list[bool] = []
        with self._lock:
            for chunk in batched(ids, UPDATE_BATCH):
                qids = to_qdrant_ids(list(chunk))
                held += self._held(chunk, qids, (p.id for p in self._shard.retrieve(qids, False, False)))
        return held

    def count(self) -> int:
        self.warm_up()
        if self._shard is None:
            return 0
        return int(self._shard.count(self._qe.CountRequest(exact=True)))
