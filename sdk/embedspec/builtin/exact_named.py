"""Named and sparse vectors of the ``exact`` index, and the query plans it runs (a mixin of ``ExactIndex``).

An ``exact`` index holds per point at most one dense vector (the index's float vectors or quantizer
codes, as before) and any number of sparse vectors (``SparseRows``, one per name). ``bind_vectors``
(from ``build``) says which; a single-encoder pipeline binds one unnamed vector. What an index holds
is written in its manifest (``named``), so opening it with a spec that writes other vectors is an
error naming both. Sparse vectors are saved per snapshot as CSR arrays, ``sparse-<gen>/<name>.npz``
(``_default.npz`` for the unnamed one), atomically with the rest of the snapshot.

Plans (``embedspec.query``): ``Nearest(vector)`` ranks by one vector; ``Fusion`` takes
``fusion.candidates(k)`` from each sub-plan and fuses them with ``embedspec.query.fuse``. A filter
applies to every sub-plan (the candidates are filtered points).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..base import BaseIndex
from ..errors import DimensionMismatchError, EmbedspecError
from ..query import (
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
from ..representations import KIND_NOUNS, SparseVectors, kind_of
from ..storage import read_npz, write_npz
from .sparse_store import SparseRows

_DEFAULT_FILE = "_default"


def describe_vectors(specs: Mapping[str, VectorSpec]) -> str:
    """``dense (dense, dim 384), sparse (sparse, idf)`` for messages."""
    parts = []
    for name, spec in specs.items():
        extra = f"dim {spec.dim}" if spec.kind != "sparse" else ("idf" if spec.modifier else "no modifier")
        parts.append(f"{name or 'one unnamed vector'} ({spec.kind}, {extra})")
    return ", ".join(parts)


class NamedVectors:
    """Named/sparse vectors and query plans for ``ExactIndex`` (see the module docstring)."""

    path: str | None
    dim: int | None
    _ids: list[Any]
    _payloads: list[Any]

    def _init_named(self) -> None:
        self._specs: dict[str, VectorSpec] = {}  # bound by bind_vectors (or read from the manifest)
        self._sparse: dict[str, SparseRows] = {}
        self._dense_name: str | None = DEFAULT_VECTOR

    # ---- binding -----------------------------------------------------------------------------
    def bind_vectors(self, specs: Mapping[str, VectorSpec]) -> None:
        self.warm_up()  # type: ignore[attr-defined]
        specs = {check_vector_name(n): s for n, s in specs.items()}
        if not specs:
            raise EmbedspecError("bind_vectors needs at least one vector")
        dense = [n for n, s in specs.items() if s.kind == "dense"]
        if len(dense) > 1 or any(s.kind == "multi" for s in specs.values()):
            raise EmbedspecError(f"the exact index holds at most one dense vector and any sparse vectors per point; "
                                 f"asked for {describe_vectors(specs)}")
        held = self._held_specs()
        if held is not None and (set(held) != set(specs) or any(held[n].kind != specs[n].kind for n in held)):
            raise EmbedspecError(f"the exact index at {self.path} holds {describe_vectors(held)}, but the spec "
                                 f"writes {describe_vectors(specs)}; use another path or the spec that built it")
        for name, spec in specs.items():
            if spec.kind == "sparse":
                store = self._sparse.get(name)
                if store is None or store.dim != spec.dim:
                    if store is not None and len(store):
                        raise DimensionMismatchError(f"the exact index at {self.path} holds sparse vector "
                                                     f"{name or '(unnamed)'} of a space of size {store.dim}, "
                                                     f"the spec's encoder emits size {spec.dim}")
                    self._sparse[name] = SparseRows(spec.dim, spec.modifier)
                self._sparse[name].modifier = spec.modifier
        self._dense_name = dense[0] if dense else None
        if dense:
            BaseIndex.bind_dim(self, specs[dense[0]].dim)  # type: ignore[arg-type]  # checks the dimension
        self._specs = specs

    def _held_specs(self) -> dict[str, VectorSpec] | None:
        """What the index holds (bound, loaded, or dense vectors written without binding); None if empty."""
        if self._specs:
            return self._specs
        if getattr(self, "_tokens", None) is not None:
            return {DEFAULT_VECTOR: VectorSpec("multi", int(self.dim or 0))}
        if getattr(self, "_vectors", None) is not None or getattr(self, "_codes", None) is not None:
            return {DEFAULT_VECTOR: VectorSpec("dense", int(self.dim or 0))}
        return None

    def _check_dense_binding(self, dim: int) -> None:
        """``bind_dim`` of a dense chain: refused when the index holds sparse or named vectors."""
        held = self._held_specs()
        if held is not None and set(held) != {DEFAULT_VECTOR} or (held and held[DEFAULT_VECTOR].kind != "dense"):
            raise EmbedspecError(f"the exact index at {self.path} holds {describe_vectors(held)}, but the spec's "  # type: ignore[arg-type]
                                 f"chain writes one unnamed dense vector of dimension {dim}")

    # ---- input checks ------------------------------------------------------------------------
    def check_vectors(self, vectors: Any, *, name: str = "vectors") -> Any:
        """As ``BaseIndex.check_vectors``; an unnamed batch of another kind than the one held is refused."""
        held = self._held_specs()
        if not isinstance(vectors, Mapping) and held is not None:
            kind = kind_of(vectors)
            if set(held) == {DEFAULT_VECTOR} and held[DEFAULT_VECTOR].kind != kind:
                raise TypeError(f"the exact index at {self.path or 'memory'} holds "
                                f"{KIND_NOUNS[held[DEFAULT_VECTOR].kind]}; {name} are {KIND_NOUNS[kind]}")
            if set(held) != {DEFAULT_VECTOR}:
                raise TypeError(f"the exact index at {self.path or 'memory'} holds {describe_vectors(held)}; "
                                f"{name} are one unnamed batch of {KIND_NOUNS[kind]}")
        return super().check_vectors(vectors, name=name)  # type: ignore[misc]

    def check_named(self, vectors: Mapping[str, Any], *, name: str = "vectors") -> dict[str, Any]:
        if not self._specs or set(self._specs) == {DEFAULT_VECTOR}:
            raise TypeError(f"this exact index holds one unnamed vector per point; {name} are named "
                            f"({', '.join(map(repr, vectors))}): bind the names first (bind_vectors)")
        return check_named_vectors(self._specs, vectors, name=name, complete=name == "vectors")

    def _as_named(self, vectors: Any) -> dict[str, Any]:
        """The vectors of an upsert by name; an unnamed sparse batch binds the unnamed sparse vector."""
        if isinstance(vectors, Mapping):
            return dict(vectors)
        if isinstance(vectors, SparseVectors):
            if not self._specs:
                if self._held_specs() is not None:
                    raise TypeError(f"the exact index at {self.path or 'memory'} holds dense vectors; vectors are sparse")
                self._specs = {DEFAULT_VECTOR: VectorSpec("sparse", vectors.dim)}
                self._sparse[DEFAULT_VECTOR] = SparseRows(vectors.dim)
                self._dense_name = None
            store = self._sparse.get(DEFAULT_VECTOR)
            if store is None:
                raise TypeError(f"the exact index holds {describe_vectors(self._specs)}; vectors are one unnamed sparse batch")
            if vectors.dim != store.dim:
                raise DimensionMismatchError(f"sparse vectors are in a space of size {vectors.dim}, the index holds "
                                             f"size {store.dim}")
            return {DEFAULT_VECTOR: vectors}
        if self._dense_name != DEFAULT_VECTOR:
            raise TypeError(f"the exact index holds {describe_vectors(self._specs)}; vectors are one unnamed dense batch")
        return {DEFAULT_VECTOR: vectors}

    # ---- search ------------------------------------------------------------------------------
    def _search_plan(self, queries: Any, k: int, filter: Any, plan: Plan | None) -> list[list[Any]]:
        with self._mutex:  # type: ignore[attr-defined]
            named = self._as_named(queries) if not isinstance(queries, Mapping) else dict(queries)
            if plan is None:
                if len(named) != 1:
                    raise ValueError(f"queries name {len(named)} vectors: give a plan (Nearest or Fusion) to combine them")
                plan = Nearest(next(iter(named)))
            for vector in plan_vectors(plan):
                if vector not in named:
                    raise ValueError(f"the plan reads vector {vector!r}, but the queries have "
                                     f"{', '.join(repr(n) for n in named) or 'none'}")
            allowed = None
            if filter is not None:
                allowed = np.fromiter((filter.matches(p) for p in self._payloads), bool, count=len(self._ids))
            idx, scores = self._run(plan, named, k, filter, allowed)
            return self._hits(idx, scores)  # type: ignore[attr-defined]

    def _run(self, plan: Plan, named: dict[str, Any], k: int, filter: Any, allowed: np.ndarray | None
             ) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(plan, Fusion):
            limit = plan.candidates(k)
            return fuse([self._run(sub, named, limit, filter, allowed) for sub in plan.plans], plan, k)
        queries = named[plan.vector]
        if plan.vector in self._sparse:
            return self._sparse[plan.vector].search(queries, k, allowed)
        if plan.vector != self._dense_name:
            raise ValueError(f"the exact index holds no vector {plan.vector!r}")
        return self._dense_top(queries, k, filter)  # type: ignore[attr-defined]

    def bytes_per_point(self) -> float:
        """Mean bytes held in memory per point: the dense row (floats and/or codes), the token vectors of
        multi-vectors, and every sparse vector's entries."""
        with self._mutex:  # type: ignore[attr-defined]
            n = len(self._ids)
            if n == 0:
                return 0.0
            dense = 0
            for arr in (getattr(self, "_codes", None), getattr(self, "_vectors", None)):
                if arr is not None:
                    dense += arr[0].nbytes
            tokens = getattr(self, "_tokens", None)  # multi-vectors: token rows + offsets
            held = sum(store.nbytes for store in self._sparse.values()) + (tokens.nbytes if tokens is not None else 0)
            return dense + held / n

    # ---- persistence -------------------------------------------------------------------------
    def _named_meta(self) -> dict[str, Any]:
        return {name: spec.describe() for name, spec in self._specs.items()}

    def _write_sparse(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name, store in self._sparse.items():
            csr = store.to_csr()
            write_npz(directory / f"{name or _DEFAULT_FILE}.npz",
                      {"indptr": csr.indptr, "indices": csr.indices, "values": csr.values})

    def _load_named(self, root: Path, manifest: Mapping[str, Any], sparse_dir: Path | None) -> None:
        named = manifest.get("named")
        if not named:
            return
        self._specs = {name: VectorSpec(**spec) for name, spec in named.items()}
        self._dense_name = next((n for n, s in self._specs.items() if s.kind == "dense"), None)
        for name, spec in self._specs.items():
            if spec.kind != "sparse":
                continue
            if sparse_dir is None:
                raise EmbedspecError(f"exact index at {root} is inconsistent: its manifest names sparse vectors "
                                     "but the snapshot has none")
            arrays = read_npz(sparse_dir / f"{name or _DEFAULT_FILE}.npz")
            csr = SparseVectors(arrays["indptr"], arrays["indices"], arrays["values"], spec.dim)
            if len(csr) != len(self._ids):
                raise EmbedspecError(f"exact index at {root} is inconsistent: {len(csr)} sparse vectors "
                                     f"{name or '(unnamed)'} for {len(self._ids)} ids")
            self._sparse[name] = SparseRows.from_csr(csr, spec.modifier)
