"""``exact``: brute-force numpy index (metrics cosine / dot / euclidean), persisted to a directory.

Search scores every stored vector (matrix product, ``argpartition``), block by block so memory
stays bounded whatever the index size; payload filters use the reference semantics of
``embedspec.filters``. Cosine vectors are stored L2-normalized.

With ``path`` set, the index lives in that directory as a snapshot (see ``snapshot.py``):
``vectors-<gen>.npy`` (float32), ``records-<gen>.json`` (ids, with their int/str types, and
payloads), ``codes-<gen>.npy`` and ``quantizer-<gen>/`` when quantized, and ``manifest.json``
naming them. Changes are kept in memory and written by ``flush()`` and ``close()`` (and on leaving
a ``with`` block); each write is atomic, so a crash loses at most the changes since the last
flush and never leaves a half-written index. ``ExactIndex(path=...)`` opens the directory when it
holds an index and creates it otherwise; ``ExactIndex.open(path)`` requires it to exist.

Quantized storage: after ``use_quantizer(q)`` the index stores ``q.transform(vectors)`` and scores
with ``q.similarity``; when ``q.rescore`` is set it also keeps the float vectors and re-ranks the
``q.candidates(k)`` best with exact scores.

Multi-vectors (``MultiVectors``: a set of vectors per point, late interaction) are stored flat
(``tokens-<gen>.npy`` + ``token_offsets-<gen>.npy``, ``kind: multi`` in the manifest) and searched by
exact MaxSim (``maxsim.py``; cosine normalizes each vector, dot keeps them). With a multi -> dense
"quantizer" (``muvera`` with ``rescore``) the index stores its codes (FDEs), finds ``candidates(k)``
by their dot product and re-ranks them by exact MaxSim on the kept multi-vectors.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from ..base import BaseIndex, Quantizer, l2_normalize
from ..component import read_state
from ..config_rules import MAX_DIM
from ..errors import DimensionMismatchError, EmbedspecError, NotFittedError
from ..filters import Filter
from ..locking import DirectoryLock
from ..protocols import Hit, PointId
from ..query import DEFAULT_VECTOR
from ..registry import ComponentConfig, PathField
from ..representations import KIND_NOUNS, MultiVectors, SparseVectors
from .exact_named import NamedVectors
from .maxsim import maxsim_rescore, maxsim_top_k
from .similarity import blockwise_top_k, pairwise_scores, rescore_top_k
from .snapshot import (
    MANIFEST,
    SnapshotChanged,
    foreign_entries,
    load_array,
    read_manifest,
    snapshot_file,
    write_snapshot,
)
from .sparse_store import SparseRows
from .token_store import TokenStore

FORMAT = "embedspec-exact"
FORMAT_VERSION = 1
_READ_ATTEMPTS = 5


class ExactIndexConfig(ComponentConfig):
    """Spec block of the ``exact`` index."""

    path: str | None = PathField(None, description="directory holding the index; null keeps it in memory")
    metric: Literal["cosine", "dot", "euclidean"] = "cosine"
    dim: int | None = Field(None, ge=1, le=MAX_DIM, description="vector dimension; learned from the first vectors when null")


def _serialized(method: Any) -> Any:
    """Run ``method`` holding the index's mutex: threads never see a half-applied change."""

    def wrapper(self: ExactIndex, *args: Any, **kwargs: Any) -> Any:
        with self._mutex:
            return method(self, *args, **kwargs)

    wrapper.__name__, wrapper.__doc__ = method.__name__, method.__doc__
    return wrapper


class ExactIndex(NamedVectors, BaseIndex):
    """Exact k-nearest-neighbour search over float vectors (or quantizer codes) in numpy; sparse and
    named vectors, and query plans, through ``NamedVectors`` (``exact_named.py``)."""

    Config = ExactIndexConfig
    accepts = frozenset({"dense", "multi", "sparse"})

    def _init_runtime(self) -> None:
        self._init_named()
        self._quantizer: Quantizer | None = None
        self._lock_file: DirectoryLock | None = None
        self._mutex = threading.RLock()  # reader and writer threads of one process take turns
        self._clear()


    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = True, quantizer: Quantizer | None = None) -> ExactIndex:
        """Open the existing index at ``path`` (metric and dim come from the directory).

        Read-only by default: it takes no lock, so it can inspect an index a writer holds (it sees
        the writer's last flushed snapshot). ``read_only=False`` opens it as the one writer. An index
        that stores quantizer codes needs its ``quantizer`` (any instance of the same class: it adopts
        the stored state), as its spec's chain provides it.
        """
        root = Path(path)
        manifest = read_manifest(root) if root.is_dir() else None
        if manifest is None:
            why = "does not exist" if not root.exists() else f"holds no exact index ({MANIFEST} is missing)"
            raise EmbedspecError(
                f"cannot open exact index: directory {root} {why}; "
                "create a new one with ExactIndex(path=...) (or an `index: {type: exact, path: ...}` spec block)"
            )
        index = cls(path=str(root), metric=manifest["metric"], dim=manifest["dim"])
        index.read_only = read_only
        index._kind = manifest.get("kind", "dense")
        index.warm_up()
        if quantizer is not None:
            index.use_quantizer(quantizer)
        return index

    # ---- in-memory state ---------------------------------------------------------------------
    def _clear(self) -> None:
        self._ids: list[PointId] = []
        self._rows: dict[PointId, int] = {}
        self._payloads: list[Any] = []
        self._vectors: np.ndarray | None = None  # (capacity, dim) float32, first count() rows used
        self._codes: np.ndarray | None = None  # (capacity, ...) quantizer codes
        self._tokens: TokenStore | None = None  # multi-vector sets by row (kind multi)
        #: what the index stores: "dense", "multi", or None until the chain or the first vectors say
        self._kind: str | None = getattr(self, "_kind", None)
        self._generation = 0
        self._dirty = False
        #: (class name, learned state) of the quantizer whose codes are stored, until one adopts it
        self._stored_quantizer: tuple[str, tuple[dict[str, Any], dict[str, Any]]] | None = None
        self._sparse = {name: SparseRows(spec.dim, spec.modifier) for name, spec in self._specs.items()
                        if spec.kind == "sparse"} if hasattr(self, "_specs") else {}

    @property
    def kind(self) -> str | None:
        """What the index stores: ``dense``, ``multi``, or None until the chain or the first vectors say."""
        return self._kind

    @property
    def _keeps_floats(self) -> bool:
        return self._quantizer is None or bool(self._quantizer.rescore)

    def exists(self) -> bool:
        return self.path is None or read_manifest(self.path) is not None

    def _warm_up(self) -> None:
        """Open the directory: a writer creates it and takes its lock first; a reader only reads."""
        if self.path is None:
            return
        root = Path(self.path)
        if root.exists() and not root.is_dir():
            raise EmbedspecError(f"exact index path {root} is a file, not a directory")
        if not self.read_only:
            root.mkdir(parents=True, exist_ok=True)
            self._lock_file = DirectoryLock(root, what="exact index")
            self._lock_file.acquire(writer=True)
        try:
            self._open(root)
        except BaseException:
            self._release_lock()
            raise

    def _open(self, root: Path) -> None:
        for attempt in range(_READ_ATTEMPTS):
            manifest = read_manifest(root) if root.is_dir() else None
            if manifest is None:
                foreign = foreign_entries(root)
                if foreign:
                    raise EmbedspecError(
                        f"directory {root} is not an exact index ({MANIFEST} is missing) and is not empty "
                        f"({', '.join(foreign[:5])}); choose an empty or new directory"
                    )
                return
            try:
                self._load(root, manifest)
                return
            except (SnapshotChanged, FileNotFoundError):  # a writer replaced the snapshot meanwhile
                if attempt == _READ_ATTEMPTS - 1:
                    raise
                self._clear()
                time.sleep(0.05 * (attempt + 1))

    def _release_lock(self) -> None:
        lock, self._lock_file = self._lock_file, None
        if lock is not None:
            lock.release()

    def _load(self, root: Path, manifest: Mapping[str, Any]) -> None:
        if manifest.get("format") != FORMAT:
            raise EmbedspecError(f"{root / MANIFEST} is not an exact index manifest")
        if manifest["metric"] != self.metric:
            raise EmbedspecError(
                f"the exact index at {root} was built with metric {manifest['metric']!r}, "
                f"but metric {self.metric!r} was requested"
            )
        if self.dim is not None and manifest["dim"] is not None and manifest["dim"] != self.dim:
            raise DimensionMismatchError(
                f"the exact index at {root} holds vectors of dimension {manifest['dim']}, expected {self.dim}"
            )
        stored_kind = manifest.get("kind", "dense")
        if self._kind is not None and stored_kind != self._kind:
            raise EmbedspecError(self._kind_message(root, stored_kind, manifest["dim"], self._kind))
        self._kind = stored_kind
        self.dim = manifest["dim"]
        records = json.loads(snapshot_file(root, manifest, "records").read_text(encoding="utf-8"))  # type: ignore[union-attr]
        self._ids = list(records["ids"])
        self._payloads = list(records["payloads"])
        self._rows = {pid: i for i, pid in enumerate(self._ids)}
        vectors, codes = snapshot_file(root, manifest, "vectors"), snapshot_file(root, manifest, "codes")
        self._vectors = load_array(vectors) if vectors else None
        self._codes = load_array(codes) if codes else None
        tokens, token_offsets = snapshot_file(root, manifest, "tokens"), snapshot_file(root, manifest, "token_offsets")
        if tokens is not None and token_offsets is not None:
            self._tokens = TokenStore.from_arrays(load_array(tokens), load_array(token_offsets))
        if "quantizer" in manifest:  # kept until the chain's quantizer adopts it (use_quantizer)
            state = read_state(snapshot_file(root, manifest, "quantizer"))  # type: ignore[arg-type]
            self._stored_quantizer = (manifest["quantizer"]["class"], state)
        sizes = [("vectors", self._vectors), ("codes", self._codes),
                 ("multi-vector sets", np.zeros(len(self._tokens)) if self._tokens is not None else None)]
        for name, arr in sizes:
            if arr is not None and arr.shape[0] != len(self._ids):
                raise EmbedspecError(
                    f"exact index at {root} is inconsistent: {arr.shape[0]} {name} for {len(self._ids)} ids"
                )
        self._load_named(root, manifest, snapshot_file(root, manifest, "sparse"))
        self._generation = int(manifest["generation"])

    # ---- writes ------------------------------------------------------------------------------
    def bind_dim(self, dim: int) -> None:
        self.warm_up()
        if self._kind != "multi":  # bind_kind came first: a multi-vector chain binds its token width
            self._check_dense_binding(dim)
        super().bind_dim(dim)

    @staticmethod
    def _kind_message(root: Any, stored: str, dim: Any, wanted: str) -> str:
        return (f"the exact index at {root} holds {KIND_NOUNS[stored]} (dimension {dim}), but the spec's chain "
                f"produces {KIND_NOUNS[wanted]}: use the spec that built it, or a new path")

    def bind_kind(self, kind: str) -> None:
        """Called by ``build`` with the output kind reaching the index; stored data must be of that kind."""
        self.warm_up()
        if kind == "sparse":  # sparse vectors are bound by name (bind_vectors), beside or instead of these
            return
        if kind not in self.accepts:
            raise EmbedspecError(f"the exact index stores dense vectors or multi-vectors, not {KIND_NOUNS[kind]}")
        if self._kind is not None and self._kind != kind:
            raise EmbedspecError(self._kind_message(self.path or "memory", self._kind, self.dim, kind))
        if kind == "multi" and self.metric == "euclidean":
            raise EmbedspecError("multi-vectors are scored by MaxSim over dot products: use metric cosine or dot")
        self._kind = kind

    def check_vectors(self, vectors: Any, *, name: str = "vectors") -> Any:
        """The base checks, and the kind this index holds (a multi-vector index takes no dense vectors)."""
        out = super().check_vectors(vectors, name=name)
        if isinstance(out, (Mapping, SparseVectors)):  # named and sparse batches: checked by NamedVectors
            return out
        kind = "multi" if isinstance(out, MultiVectors) else "dense"
        if self._kind is not None and kind != self._kind and (len(out) or name == "vectors"):
            raise TypeError(f"the exact index at {self.data_location()} holds {KIND_NOUNS[self._kind]}; "
                            f"{name} are {KIND_NOUNS[kind]}")
        if kind == "multi" and self.metric == "euclidean":
            raise ValueError("multi-vectors are scored by MaxSim over dot products: use metric cosine or dot")
        return out

    @_serialized
    def use_quantizer(self, quantizer: Quantizer) -> bool:
        """Store ``quantizer`` codes from now on (numpy quantization: returns False).

        An index that already holds codes adopts its stored quantizer state into ``quantizer``
        (so new codes match old ones); one that holds float vectors encodes them now, which needs
        ``quantizer`` fitted.
        """
        self.warm_up()
        stored = self._stored_quantizer
        if self._quantizer is not None and self._quantizer is not quantizer:
            stored = (type(self._quantizer).__name__, self._quantizer.get_state())
        if stored is not None:
            stored_class, state = stored
            if stored_class != type(quantizer).__name__:
                raise EmbedspecError(
                    f"the exact index at {self.path} stores {stored_class} codes; "
                    f"it cannot switch to {type(quantizer).__name__}"
                )
            quantizer.set_state(*state)
            self._stored_quantizer = None
        self._quantizer = quantizer
        n = self.count()
        if self._codes is None and n:
            self._require_fitted(quantizer)
            originals = self._tokens.take(np.arange(n)) if self._kind == "multi" else self._vectors[:n]  # type: ignore[index, union-attr]
            self._codes = quantizer.transform(originals)
            self._dirty = True
        if quantizer.rescore and n and self._vectors is None and self._tokens is None:
            raise EmbedspecError(
                f"{type(quantizer).__name__}(rescore=True) needs float vectors, but the exact index at "
                f"{self.path} stored codes only; rebuild it or set rescore: false"
            )
        if not self._keeps_floats and (self._vectors is not None or self._tokens is not None):
            self._vectors, self._tokens, self._dirty = None, None, True
        return False

    @staticmethod
    def _require_fitted(quantizer: Quantizer) -> None:
        if not quantizer.is_fitted:
            raise NotFittedError(
                f"{type(quantizer).__name__} must be fitted (or loaded) before vectors are added to the exact index"
            )


    @_serialized
    def _upsert(self, ids: list[PointId], vectors: Any, payloads: list[Any]) -> None:
        named = self._as_named(vectors)
        vectors = named.get(self._dense_name) if self._dense_name is not None else None
        multi = isinstance(vectors, MultiVectors)
        if vectors is not None and self._kind is None:
            self._kind = "multi" if multi else "dense"
        if vectors is not None and self.metric == "cosine":
            vectors = MultiVectors(l2_normalize(vectors.data), vectors.offsets) if multi else l2_normalize(vectors)
        codes = None
        if self._quantizer is not None and vectors is not None:  # encode first: a failure must write nothing
            self._require_fitted(self._quantizer)
            codes = self._quantizer.transform(vectors)
        rows = np.empty(len(ids), dtype=np.int64)
        n = len(self._ids)
        for i, pid in enumerate(ids):
            row = self._rows.get(pid)
            if row is None:
                row = n
                n += 1
                self._rows[pid] = row
                self._ids.append(pid)
                self._payloads.append(None)
            rows[i] = row
            self._payloads[row] = copy.deepcopy(payloads[i])
        if self._keeps_floats and vectors is not None and multi:
            if self._tokens is None:
                self._tokens = TokenStore(vectors.dim)
            self._tokens.put(rows, vectors, n)
        elif self._keeps_floats and vectors is not None:
            self._vectors = _store(self._vectors, rows, vectors, n)
        if codes is not None:
            self._codes = _store(self._codes, rows, codes, n)
        for name, store in self._sparse.items():
            store.set_rows(rows, named[name])
        self._dirty = True

    @_serialized
    def _delete(self, ids: list[PointId]) -> None:
        for pid in ids:
            row = self._rows.pop(pid, None)
            if row is None:
                continue
            last = len(self._ids) - 1
            if row != last:  # move the last point into the hole
                moved = self._ids[last]
                self._ids[row], self._payloads[row] = moved, self._payloads[last]
                self._rows[moved] = row
                for arr in (self._vectors, self._codes):
                    if arr is not None:
                        arr[row] = arr[last]
                if self._tokens is not None:
                    self._tokens.move(last, row)
            if self._tokens is not None:
                self._tokens.pop()
            for store in self._sparse.values():
                store.remove(row, last)
            self._ids.pop()
            self._payloads.pop()
            self._dirty = True

    @_serialized
    def _contains(self, ids: list[PointId]) -> list[bool]:
        return [pid in self._rows for pid in ids]

    @_serialized
    def count(self) -> int:
        self.warm_up()
        return len(self._ids)

    # ---- search ------------------------------------------------------------------------------
    @_serialized
    def _search(self, queries: Any, k: int, filter: Filter | None) -> list[list[Hit]]:
        if isinstance(queries, SparseVectors) or self._dense_name != DEFAULT_VECTOR:
            return self._search_plan(queries, k, filter, None)
        return self._hits(*self._dense_top(queries, k, filter))

    def _hits(self, idx: np.ndarray, scores: np.ndarray) -> list[list[Hit]]:
        """Hits of row indexes ``(m, k')`` (row -1: no hit) and their scores."""
        return [
            [Hit(self._ids[r], float(s), copy.deepcopy(self._payloads[r])) for r, s in zip(ri, si) if r >= 0]
            for ri, si in zip(idx.tolist(), scores.tolist())
        ]

    def _dense_top(self, queries: np.ndarray, k: int, filter: Filter | None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best rows by the dense vector: ``(rows (m, k'), scores (m, k'))``, best first."""
        n = len(self._ids)
        multi = isinstance(queries, MultiVectors)
        if self.metric == "cosine":
            queries = MultiVectors(l2_normalize(queries.data), queries.offsets) if multi else l2_normalize(queries)
        rows: np.ndarray | None = None
        if filter is not None:
            rows = np.flatnonzero(np.fromiter((filter.matches(p) for p in self._payloads), bool, count=n))
            n = rows.size
        if n == 0:
            return np.zeros((queries.shape[0], 0), dtype=np.int64), np.zeros((queries.shape[0], 0), dtype=np.float32)
        q = self._quantizer
        if q is None and self._stored_quantizer is not None:
            raise EmbedspecError(
                f"the exact index at {self.path} stores {self._stored_quantizer[0]} codes: open it through its "
                "spec, or pass quantizer= (a quantizer of that class) to ExactIndex.open"
            )
        if multi and q is None:
            return self._maxsim_search(queries, k, rows)
        original = queries
        if multi:  # a multi -> dense quantizer (MUVERA): its codes find candidates, MaxSim re-ranks them
            queries = q.transform_queries(queries)
        stored = self._codes if q is not None else self._vectors
        if stored is None:  # cannot happen through the public methods
            raise EmbedspecError("exact index holds points but neither vectors nor codes")

        def score_block(qb: np.ndarray, start: int, stop: int) -> np.ndarray:
            block = stored[start:stop] if rows is None else stored[rows[start:stop]]
            return q.similarity(qb, block, self.metric) if q is not None else pairwise_scores(qb, block, self.metric)

        wanted = q.candidates(k) if q is not None and q.rescore else k
        idx, scores = blockwise_top_k(score_block, queries, n, wanted)
        if rows is not None:
            idx = rows[idx]
        if q is not None and q.rescore and multi:
            data, offsets = self._tokens.compact()  # type: ignore[union-attr]
            idx, scores = maxsim_rescore(original, data, offsets, idx, k)
        elif q is not None and q.rescore:
            idx, scores = rescore_top_k(queries, self._vectors, idx, k, self.metric)  # type: ignore[arg-type]
        return idx, scores

    def _maxsim_search(self, queries: MultiVectors, k: int, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Exact MaxSim over every stored set (or the filtered ``rows``)."""
        data, offsets = self._tokens.compact()  # type: ignore[union-attr]
        if rows is not None:
            subset = MultiVectors(data, offsets).take(rows)
            idx, scores = maxsim_top_k(queries, subset.data, subset.offsets, k)
            return rows[idx], scores
        return maxsim_top_k(queries, data, offsets, k)

    # ---- persistence -------------------------------------------------------------------------
    @_serialized
    def flush(self) -> None:
        """Write the in-memory state to ``path`` atomically (no-op in memory, read-only or unchanged)."""
        if self.path is None or not self._warm or self.read_only:
            return
        if not self._dirty and read_manifest(self.path) is not None:
            return
        n = len(self._ids)
        arrays = {}
        if self._vectors is not None:
            arrays["vectors"] = self._vectors[:n]
        if self._tokens is not None:
            arrays["tokens"], arrays["token_offsets"] = self._tokens.compact()
        if self._codes is not None:
            arrays["codes"] = self._codes[:n]
        if self._specs:
            meta_named = self._named_meta()
        meta: dict[str, Any] = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "metric": self.metric,
            "dim": self.dim if self._dense_name is not None else None,  # dense/multi only (a sparse space may be 2**32)
            "kind": self._kind,
            "count": n,
        }
        subdirs: dict[str, Any] = {}
        if self._specs:
            meta["named"] = meta_named
        if self._sparse:
            subdirs["sparse"] = self._write_sparse
        if self._quantizer is not None and self._quantizer.is_fitted:
            meta["quantizer"] = {
                "type": getattr(self._quantizer, "_embedspec_type", None),
                "class": type(self._quantizer).__name__,
            }
            subdirs["quantizer"] = self._quantizer.save
        write_snapshot(
            self.path,
            self._generation + 1,
            arrays=arrays,
            documents={"records": {"ids": self._ids, "payloads": self._payloads}},
            subdirs=subdirs,
            meta=meta,
        )
        self._generation += 1
        self._dirty = False

    def close(self) -> None:
        """Flush and release the lock; an index with a ``path`` also frees its memory (a later call
        reopens it)."""
        try:
            self.flush()
        finally:
            if self.path is not None and self._warm:
                self._clear()
                self._warm = False
            self._release_lock()


def _store(buffer: np.ndarray | None, rows: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Write ``values`` at ``rows`` of a growable row buffer holding ``n`` rows afterwards."""
    if buffer is None or buffer.shape[0] < n:
        capacity = max(n, 2 * (0 if buffer is None else buffer.shape[0]), 16)
        grown = np.empty((capacity, *values.shape[1:]), dtype=values.dtype)
        if buffer is not None:
            grown[: buffer.shape[0]] = buffer
        buffer = grown
    buffer[rows] = values
    return buffer
