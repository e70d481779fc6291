"""Named dense and sparse vectors of the ``qdrant-edge`` index, and query plans as Qdrant queries.

A pipeline binds its vectors with ``bind_vectors`` (``embedspec.query.VectorSpec``): dense vectors
become Qdrant named vectors, sparse ones Qdrant sparse vectors, with ``Modifier.Idf`` when the
encoder asks for IDF (BM25: Qdrant keeps the document frequencies over the points it holds and uses
Lucene's IDF, so its scores equal the ``exact`` index's). The unnamed vector of a single sparse
encoder is Qdrant's sparse vector named ``""``. The shard's ``edge_config.json`` records what it
holds; opening it with a spec that writes other vectors is an error naming both.

Plans: ``Nearest(v)`` is ``Query.Nearest(vector, using=v)``; an ``rrf`` ``Fusion`` of ``Nearest``
plans is one Qdrant query, prefetches + ``Fusion.Rrf`` (Qdrant scores ``1 / (k + rank)`` with ranks
from 0, embedspec from 1, so Qdrant's constant is ``k + 1``); a ``weighted`` fusion, or an ``rrf``
with unequal weights (Qdrant's weighted RRF is another formula), runs each prefetch and fuses the
lists with ``embedspec.query.fuse``. The filter applies to every prefetch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from embedspec.base import BaseIndex
from embedspec.errors import EmbedspecError
from embedspec.protocols import Hit, PointId
from embedspec.query import (
    DEFAULT_VECTOR,
    Fusion,
    Nearest,
    Plan,
    VectorSpec,
    check_named_vectors,
    check_vector_name,
    fuse,
    plan_vectors,
)
from embedspec.representations import KIND_NOUNS, MultiVectors, SparseVectors, kind_of

_METRICS = {"Cosine": "cosine", "Dot": "dot", "Euclid": "euclidean"}


def describe_vectors(specs: Mapping[str, VectorSpec]) -> str:
    parts = []
    for name, spec in specs.items():
        extra = f"dim {spec.dim}" if spec.kind != "sparse" else ("idf" if spec.modifier else "no modifier")
        parts.append(f"{name or 'one unnamed vector'} ({spec.kind}, {extra})")
    return ", ".join(parts)


class EdgeNamedVectors:
    """Named/sparse vectors and plans for ``QdrantEdgeIndex`` (see the module docstring)."""

    path: str
    metric: str
    dim: int | None
    _shard: Any
    _qe: Any

    def _init_named(self) -> None:
        self._specs: dict[str, VectorSpec] = {}

    @property
    def _named(self) -> bool:
        """Whether the index holds anything but one unnamed dense vector."""
        return bool(self._specs) and not (set(self._specs) == {DEFAULT_VECTOR}
                                          and self._specs[DEFAULT_VECTOR].kind == "dense")

    def stored_vectors(self) -> dict[str, VectorSpec] | None:
        """What the shard at ``path`` holds, from its ``edge_config.json``; None when there is no shard."""
        file = Path(self.path) / "edge_config.json"
        if not file.is_file():
            return None
        config = json.loads(file.read_text(encoding="utf-8"))
        out = {name: VectorSpec("multi" if v.get("multivector_config") else "dense", int(v["size"]),
                                _METRICS.get(v.get("distance"), "cosine"))
               for name, v in (config.get("vectors") or {}).items()}
        for name, v in (config.get("sparse_vectors") or {}).items():
            out[name] = VectorSpec("sparse", 2**32, "dot", "idf" if (v or {}).get("modifier") == "idf" else None)
        return out

    def bind_vectors(self, specs: Mapping[str, VectorSpec]) -> None:
        specs = {check_vector_name(n): s for n, s in specs.items()}
        if not specs:
            raise EmbedspecError("bind_vectors needs at least one vector")
        if any(s.kind == "multi" for s in specs.values()):
            raise EmbedspecError(f"the qdrant-edge index stores dense and sparse vectors; asked for "
                                 f"{describe_vectors(specs)}")
        if set(specs) == {DEFAULT_VECTOR} and specs[DEFAULT_VECTOR].kind == "dense":
            self.bind_dim(specs[DEFAULT_VECTOR].dim)  # type: ignore[attr-defined]
            return
        stored = self.stored_vectors()
        if stored is not None and not _same(stored, specs):
            raise EmbedspecError(f"the qdrant-edge shard at {self.path} holds {describe_vectors(stored)}, but the "
                                 f"spec writes {describe_vectors(specs)}; use another path or the spec that built it")
        self._specs = dict(specs)

    def _named_config(self, hnsw: Any, quantization: Any, optimizers: Any) -> Any:
        """The shard's ``EdgeConfig`` for named dense and sparse vectors."""
        qe = self._qe
        memory = qe.Memory.Cold if getattr(self, "on_disk", False) else None
        maxsim = qe.MultiVectorConfig(comparator=qe.MultiVectorComparator.MaxSim)
        dense = {n: qe.EdgeVectorParams(size=s.dim, distance=getattr(qe.Distance, _distance(s.metric)), memory=memory,
                                        multivector_config=maxsim if s.kind == "multi" else None)
                 for n, s in self._specs.items() if s.kind != "sparse"}
        sparse = {n: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf if s.modifier == "idf" else None)
                  for n, s in self._specs.items() if s.kind == "sparse"}
        return qe.EdgeConfig(vectors=dense, sparse_vectors=sparse, hnsw_config=hnsw,
                             quantization_config=quantization, optimizers=optimizers)

    # ---- input checks ------------------------------------------------------------------------
    def check_vectors(self, vectors: Any, *, name: str = "vectors") -> Any:
        if not isinstance(vectors, Mapping) and self._named:
            kind = kind_of(vectors)
            if set(self._specs) != {DEFAULT_VECTOR} or self._specs[DEFAULT_VECTOR].kind != kind:
                raise TypeError(f"the qdrant-edge index at {self.path} holds {describe_vectors(self._specs)}; "
                                f"{name} are one unnamed batch of {KIND_NOUNS[kind]}")
            if kind == "sparse":
                return check_named_vectors(self._specs, {DEFAULT_VECTOR: vectors}, name=name)[DEFAULT_VECTOR]
        if isinstance(vectors, SparseVectors) and not self._named:
            raise TypeError(f"the qdrant-edge index at {self.path} holds dense vectors unless its pipeline binds a "
                            f"sparse vector (bind_vectors); {name} are sparse vectors")
        return BaseIndex.check_vectors(self, vectors, name=name)  # type: ignore[arg-type]

    def check_named(self, vectors: Mapping[str, Any], *, name: str = "vectors") -> dict[str, Any]:
        if not self._named or set(self._specs) == {DEFAULT_VECTOR}:
            raise TypeError(f"this qdrant-edge index holds one unnamed vector per point; {name} are named "
                            f"({', '.join(map(repr, vectors))}): bind the names first (bind_vectors)")
        return check_named_vectors(self._specs, vectors, name=name, complete=name == "vectors")

    def _named_points(self, ids: list[PointId], vectors: Any, payloads: list[Any]) -> list[Any]:
        """Points carrying every named vector, converted before anything is written."""
        qe = self._qe
        named = vectors if isinstance(vectors, Mapping) else {DEFAULT_VECTOR: vectors}
        columns: dict[str, list[Any]] = {}
        for name, value in named.items():
            if isinstance(value, SparseVectors):
                columns[name] = [qe.SparseVector(indices=idx.tolist(), values=val.tolist()) for idx, val in value]
            elif isinstance(value, MultiVectors):  # MUVERA's token vectors (edge_muvera.py)
                columns[name] = [v.tolist() for v in value]
            else:
                columns[name] = np.asarray(value, dtype=np.float32).tolist()
        qids, stored = self._qdrant_points(ids, payloads)  # type: ignore[attr-defined]
        points = []
        for i, (qid, payload) in enumerate(zip(qids, stored)):
            try:
                points.append(qe.Point(qid, {n: col[i] for n, col in columns.items()}, payload))
            except Exception as exc:
                raise ValueError(f"point at position {i} (id {ids[i]!r}) cannot be stored: {exc}") from exc
        return points

    # ---- search ------------------------------------------------------------------------------
    def _query_vector(self, value: Any, row: int) -> Any:
        if isinstance(value, SparseVectors):
            idx, val = value[row]
            return self._qe.SparseVector(indices=idx.tolist(), values=val.tolist())
        return value[row].tolist()

    def _search_plan(self, queries: Any, k: int, filter: Any, plan: Plan | None) -> list[list[Hit]]:
        named = dict(queries) if isinstance(queries, Mapping) else {DEFAULT_VECTOR: queries}
        if plan is None:
            if len(named) != 1:
                raise ValueError(f"queries name {len(named)} vectors: give a plan (Nearest or Fusion) to combine them")
            plan = Nearest(next(iter(named)))
        for vector in plan_vectors(plan):
            if vector not in named:
                raise ValueError(f"the plan reads vector {vector!r}, but the queries have "
                                 f"{', '.join(repr(n) for n in named) or 'none'}")
        m = len(next(iter(named.values())))
        if self._shard is None:
            return [[] for _ in range(m)]
        self._optimize_if_due()  # type: ignore[attr-defined]
        self._refresh_idf()  # type: ignore[attr-defined]
        qe, qfilter = self._qe, self._qdrant_filter(filter)  # type: ignore[attr-defined]
        if isinstance(plan, Nearest):
            return self._run_requests([
                qe.QueryRequest(limit=k, query=qe.Query.Nearest(self._query_vector(named[plan.vector], i),
                                                                using=plan.vector),
                                filter=qfilter, params=self._search_params(), with_payload=True)  # type: ignore[attr-defined]
                for i in range(m)])
        subs = plan.plans
        unweighted = plan.weights is None or all(w == 1.0 for w in plan.weights)
        if plan.method == "rrf" and unweighted and all(isinstance(p, Nearest) for p in subs):
            limit = plan.candidates(k)
            fusion = qe.Fusion.Rrf(k=plan.rrf_k + 1)
            return self._run_requests([
                qe.QueryRequest(limit=k, query=fusion, filter=qfilter, with_payload=True, prefetches=[
                    qe.Prefetch(limit, query=qe.Query.Nearest(self._query_vector(named[p.vector], i), using=p.vector),
                                filter=qfilter, params=self._search_params())  # type: ignore[attr-defined]
                    for p in subs])
                for i in range(m)])
        return self._fuse_here(plan, named, k, filter)

    def _fuse_here(self, plan: Fusion, named: dict[str, Any], k: int, filter: Any) -> list[list[Hit]]:
        """Each sub-plan's candidates from Qdrant, fused with ``embedspec.query.fuse``."""
        lists = [self._search_plan(named, plan.candidates(k), filter, sub) for sub in plan.plans]
        m = len(lists[0])
        out: list[list[Hit]] = []
        for qi in range(m):
            position: dict[Any, int] = {}
            held: list[Hit] = []
            arrays = []
            for hits in lists:
                rows = []
                for hit in hits[qi]:
                    if hit.id not in position:
                        position[hit.id] = len(held)
                        held.append(hit)
                    rows.append(position[hit.id])
                arrays.append((np.array(rows, dtype=np.int64).reshape(1, -1),
                               np.array([h.score for h in hits[qi]], dtype=np.float32).reshape(1, -1)))
            rows_out, scores = fuse(arrays, plan, k)
            out.append([Hit(held[r].id, float(s), held[r].payload)
                        for r, s in zip(rows_out[0].tolist(), scores[0].tolist()) if r >= 0])
        return out

    def _run_requests(self, requests: list[Any]) -> list[list[Hit]]:
        qe = self._qe
        with self._lock:  # type: ignore[attr-defined]
            rows = [self._shard.query(requests[0])] if len(requests) == 1 else \
                self._shard.query_batch(qe.QueryBatchRequest(requests))
        return [[self._hit(p.id, p.score, p.payload) for p in row] for row in rows]  # type: ignore[attr-defined]


def _distance(metric: str) -> str:
    return {"cosine": "Cosine", "dot": "Dot", "euclidean": "Euclid"}[metric]


def _same(stored: Mapping[str, VectorSpec], specs: Mapping[str, VectorSpec]) -> bool:
    if set(stored) != set(specs):
        return False
    for name, spec in specs.items():
        held = stored[name]
        if held.kind != spec.kind or held.modifier != spec.modifier:
            return False
        if spec.kind == "dense" and (held.dim != spec.dim or held.metric != spec.metric):
            return False
    return True
