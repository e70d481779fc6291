"""Base classes beside each protocol: implement one method, the conveniences are derived.

- ``BaseEncoder``: implement ``_encode_batch(inputs, role)``; batching, empty input, ``encode_one``.
- ``BaseIndex``: implement ``_upsert``/``_search``/``delete``/``count``; input checks are shared.
- ``BaseCompressor`` / ``Quantizer``: implement ``fit`` and ``transform``.
- ``BaseAligner``: implement ``fit`` and ``transform``.

Every component is a ``Component`` (``embedspec.component``): parameters declared once in its
``Config``, heavy work in the idempotent ``warm_up()``, learned state saved without pickle.
``as_matrix``, ``l2_normalize`` and ``batched`` (``embedspec.vectors``) are re-exported here for
plugins.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from .component import Component
from .documents import check_ids, check_payload
from .errors import DimensionMismatchError, EmbedspecError, ReadOnlyError
from .protocols import Hit, Metric, PointId, Role
from .query import DEFAULT_VECTOR, Plan, VectorSpec
from .representations import KIND_NOUNS, MultiVectors, OutputKind, SparseVectors, kind_of
from .vectors import as_matrix, batched, l2_normalize

__all__ = [
    "MAX_K", "BaseAligner", "BaseCompressor", "BaseEncoder", "BaseIndex", "Component", "Quantizer", "as_matrix",
    "batched", "check_k", "l2_normalize",
]


# ---- encoders ------------------------------------------------------------------------------
class BaseEncoder(Component):
    """Implement ``_encode_batch(inputs, role) -> (n, dim) float32``; set ``dim`` and ``modalities``."""

    modalities: frozenset[str] = frozenset({"text"})
    batch_size: int = 32
    #: Output dimension: a parameter, an attribute set when fitted, or a property of the subclass.
    #: For ``multi`` the width of each vector, for ``sparse`` the size of the space.
    dim: int
    #: What ``encode`` returns: ``dense`` an ``(n, dim)`` array, ``multi`` ``MultiVectors``, ``sparse``
    #: ``SparseVectors`` (``embedspec.representations``). A property where a parameter decides it.
    output_kind: OutputKind = "dense"

    def _encode_batch(self, inputs: Sequence[Any], role: Role) -> np.ndarray:
        raise NotImplementedError

    def validate_inputs(self, inputs: Sequence[Any]) -> None:
        """Raise ``TypeError`` naming the position of the first unsupported input."""
        if "text" in self.modalities and self.modalities == {"text"}:
            for i, item in enumerate(inputs):
                if not isinstance(item, str):
                    raise TypeError(
                        f"{type(self).__name__} encodes text: input at position {i} is "
                        f"{type(item).__name__}, not str"
                    )

    def encode(self, inputs: Sequence[Any], *, role: Role = "document", batch_size: int | None = None) -> Any:
        """One output per input, in input order: an ``(n, dim) float32`` array for ``dense`` encoders,
        ``MultiVectors`` / ``SparseVectors`` for ``multi`` / ``sparse`` ones (see ``output_kind``)."""
        if isinstance(inputs, (str, bytes)):
            raise TypeError("encode() takes a sequence of inputs; use encode_one() for a single one")
        if role not in ("query", "document"):
            raise ValueError(f"role must be 'query' or 'document', not {role!r}")
        inputs = list(inputs)
        self.check_fitted()
        kind = self.output_kind
        if not inputs:
            if kind == "multi":
                return MultiVectors.empty(self.dim)
            if kind == "sparse":
                return SparseVectors.empty(self.dim)
            return np.zeros((0, self.dim), dtype=np.float32)
        self.validate_inputs(inputs)
        self.warm_up()
        out = self._encode_all(inputs, role, batch_size or self.batch_size)
        if kind == "dense":
            return np.ascontiguousarray(out, dtype=np.float32)
        if kind_of(out) != kind:
            raise TypeError(f"{type(self).__name__} declares {KIND_NOUNS[kind]} but returned {KIND_NOUNS[kind_of(out)]}")
        return out

    def _encode_all(self, inputs: list[Any], role: Role, batch_size: int) -> Any:
        """Encode validated inputs in order. Default: consecutive chunks through ``_encode_batch``;
        override to batch across the whole call (e.g. sort by length, then restore the order)."""
        parts = [self._encode_batch(chunk, role) for chunk in batched(inputs, batch_size)]
        if len(parts) == 1:
            return parts[0]
        if isinstance(parts[0], MultiVectors):
            return MultiVectors.concat(parts)
        if isinstance(parts[0], SparseVectors):
            return SparseVectors.concat(parts)
        return np.concatenate(parts, axis=0)

    def encode_one(self, item: Any, *, role: Role = "document") -> Any:
        """The output of one input: a ``(dim,) float32`` vector, or for ``multi`` a ``(rows, dim)``
        array, for ``sparse`` an ``(indices, values)`` pair."""
        return self.encode([item], role=role)[0]


# ---- indexes -------------------------------------------------------------------------------
#: The most hits one query may ask for (a bound, so a typo cannot allocate terabytes).
MAX_K = 1_000_000


def check_k(k: Any) -> int:
    """``k`` as an int in ``1..MAX_K``; anything else is a ``ValueError``/``TypeError`` saying so."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an integer, got {type(k).__name__} {k!r}")
    if not 1 <= int(k) <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K:,}, got {k}")
    return int(k)


class BaseIndex(Component):
    """Shared input checks for indexes. Implement ``_upsert``, ``_search``, ``_delete``, ``count``.

    ``read_only`` (set by ``build(spec, read_only=True)`` before first use) opens stored data without
    creating, locking for writing or modifying anything; writes then raise ``ReadOnlyError``.
    """

    dim: int | None = None
    metric: Metric = "cosine"
    read_only: bool = False
    #: The output kinds this index stores and searches (``embedspec.representations``).
    accepts: ClassVar[frozenset[str]] = frozenset({"dense"})

    def check_vectors(self, vectors: Any, *, name: str = "vectors") -> Any:
        """``vectors`` checked for this index: a float32 matrix for dense vectors, the
        ``MultiVectors`` / ``SparseVectors`` as given otherwise; the kind must be one it ``accepts``."""
        if isinstance(vectors, Mapping):
            return self.check_named(vectors, name=name)
        kind = kind_of(vectors)
        if kind not in self.accepts:
            takes = " or ".join(KIND_NOUNS[k] for k in sorted(self.accepts))
            raise TypeError(f"{type(self).__name__} stores {takes}; {name} are {KIND_NOUNS[kind]}")
        if kind == "dense":
            return as_matrix(vectors, name=name, dim=self.dim)
        if self.dim is not None and len(vectors) and vectors.dim != self.dim:
            raise DimensionMismatchError(f"{name} have dimension {vectors.dim}, expected {self.dim}")
        return vectors

    def check_named(self, vectors: Mapping[str, Any], *, name: str = "vectors") -> dict[str, Any]:
        """Named vectors (``{name: representation}``, one row per point in each) checked for this
        index. Default: refused, the index holds one unnamed vector (see ``bind_vectors``)."""
        raise TypeError(f"{type(self).__name__} holds one unnamed vector per point; {name} are named "
                        f"({', '.join(map(repr, vectors))})")

    def bind_vectors(self, specs: Mapping[str, VectorSpec]) -> None:
        """Called by ``build`` with every vector the pipeline writes per point (``embedspec.query``).

        Default: one unnamed dense vector, bound by ``bind_dim``; anything else is refused.
        """
        if set(specs) == {DEFAULT_VECTOR} and specs[DEFAULT_VECTOR].kind == "dense":
            self.bind_dim(specs[DEFAULT_VECTOR].dim)
            return
        what = ", ".join(f"{n or 'the unnamed vector'} ({KIND_NOUNS[s.kind]})" for n, s in specs.items())
        raise EmbedspecError(f"{type(self).__name__} cannot hold {what}: it holds one unnamed dense vector")

    def bind_dim(self, dim: int) -> None:
        """Called by ``build`` with the dimension the chain produces; indexes may check stored data."""
        if self.dim is not None and self.dim != dim:
            raise DimensionMismatchError(f"index expects dimension {self.dim}, the chain produces {dim}")
        self.dim = dim

    def exists(self) -> bool:
        """Whether there is stored data to open (always True for in-memory indexes)."""
        return True

    def data_location(self) -> str:
        """Where the data lives, for messages (a path, a URL, or "memory")."""
        return str(getattr(self, "path", None) or getattr(self, "url", None) or "memory")

    def _check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyError(
                f"{type(self).__name__} at {self.data_location()} was opened read-only; "
                "build the pipeline without read_only=True to write"
            )

    def upsert(
        self,
        ids: Sequence[PointId],
        vectors: Any,
        payloads: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> None:
        """Insert or replace points. Every input is checked before anything is written."""
        self._check_writable()
        self.warm_up()  # stored data (an existing index) fixes the dimension before the input is checked
        ids = check_ids(ids)
        vectors = self.check_vectors(vectors)
        rows = len(next(iter(vectors.values()))) if isinstance(vectors, Mapping) else len(vectors)
        if payloads is not None:
            if isinstance(payloads, (str, bytes, Mapping)):
                raise TypeError("payloads must be a list (one mapping or None per id)")
            payloads = list(payloads)
        for i, payload in enumerate(payloads or []):
            check_payload(payload, i)
        if len(ids) != rows:
            raise ValueError(f"got {len(ids)} ids for {rows} vectors")
        if payloads is not None and len(payloads) != len(ids):
            raise ValueError(f"got {len(payloads)} payloads for {len(ids)} ids")
        if len(set(ids)) != len(ids):
            seen: set[PointId] = set()
            dup = next(p for p in ids if p in seen or seen.add(p))  # type: ignore[func-returns-value]
            raise ValueError(f"ids in one upsert must be unique; {dup!r} appears more than once")
        if not ids:
            return
        if self.dim is None and not isinstance(vectors, (Mapping, SparseVectors)):  # a sparse space is no dim
            self.dim = vectors.shape[1] if isinstance(vectors, np.ndarray) else vectors.dim
        self._upsert(ids, vectors, payloads if payloads is not None else [None] * len(ids))

    def search(
        self, queries: Any, k: int = 10, filter: Mapping[str, Any] | None = None, plan: Plan | None = None
    ) -> list[list[Hit]]:
        """The ``k`` best hits of each query row, best first. ``queries`` named (``{name: rows}``) go
        with a ``plan`` (``embedspec.query``: ``Nearest``, ``Fusion``) saying how to combine them."""
        k = check_k(k)
        self.warm_up()
        queries = self.check_vectors(queries, name="queries")
        rows = len(next(iter(queries.values()))) if isinstance(queries, Mapping) else len(queries)
        if rows == 0:
            return []
        from .filters import parse_filter

        if plan is None and not isinstance(queries, Mapping):
            return self._search(queries, k, parse_filter(filter))
        return self._search_plan(queries, k, parse_filter(filter), plan)

    def _search_plan(self, queries: Any, k: int, filter: Any, plan: Plan | None) -> list[list[Hit]]:
        raise EmbedspecError(f"{type(self).__name__} cannot run query plans (named vectors, fusion)")

    def delete(self, ids: Sequence[PointId]) -> None:
        """Remove points; unknown ids are ignored."""
        self._check_writable()
        ids = check_ids(ids)
        self.warm_up()
        if ids:
            self._delete(ids)

    def contains(self, ids: Sequence[PointId]) -> list[bool]:
        """Whether each of ``ids`` is stored, looked up in one call (a resumed ingestion skips those).

        Raises ``NotImplementedError`` when the index cannot tell (it does not implement ``_contains``).
        """
        ids = check_ids(ids)
        self.warm_up()
        return self._contains(ids) if ids else []

    def _contains(self, ids: list[PointId]) -> list[bool]:
        raise NotImplementedError(f"{type(self).__name__} cannot look up which ids it holds (no _contains)")

    def _upsert(self, ids: list[PointId], vectors: np.ndarray, payloads: list[Any]) -> None:
        raise NotImplementedError

    def _search(self, queries: np.ndarray, k: int, filter: Any) -> list[list[Hit]]:
        raise NotImplementedError

    def _delete(self, ids: list[PointId]) -> None:
        raise NotImplementedError

    def count(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        """Flush and release resources."""

    def use_quantizer(self, quantizer: Quantizer) -> bool:
        """Store vectors quantized by ``quantizer`` (the last compressor of the chain).

        Return True when the index quantizes natively (the pipeline then does not fit the numpy
        quantizer), False when it stores the quantizer's codes. Indexes that cannot do either
        keep this default, which refuses.
        """
        raise EmbedspecError(
            f"{type(self).__name__} cannot store vectors quantized by {type(quantizer).__name__}"
        )

    def __enter__(self) -> BaseIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---- compressors and aligners --------------------------------------------------------------
class BaseCompressor(Component):
    """A float -> float vector transform (e.g. Matryoshka truncation). Implement ``transform``."""

    #: True for compressors whose output is codes (int8, bits, PQ codes) rather than float vectors.
    is_quantizer: ClassVar[bool] = False
    #: What the compressor takes and gives (``embedspec.representations``); MUVERA: multi -> dense.
    input_kind: ClassVar[OutputKind] = "dense"
    output_kind: ClassVar[OutputKind] = "dense"
    #: True when ``transform(X, role=...)`` encodes queries and documents differently (MUVERA).
    role_aware: ClassVar[bool] = False

    def fit(self, X: Any) -> BaseCompressor:
        return self

    def transform(self, X: Any) -> np.ndarray:
        raise NotImplementedError

    def fit_transform(self, X: Any) -> np.ndarray:
        return self.fit(X).transform(X)

    def output_dim(self, input_dim: int) -> int:
        return input_dim

    def bytes_per_vector(self, input_dim: int) -> int:
        return 4 * self.output_dim(input_dim)


class Quantizer(BaseCompressor):
    """A compressor whose codes are searched directly: implement ``similarity``.

    ``similarity(queries, codes, metric)`` scores float queries ``(m, d)`` against stored codes
    ``(n, ...)`` and returns ``(m, n) float32`` (higher is better). When ``rescore`` is true the
    index keeps the float originals and re-ranks the ``oversampling * k`` best candidates with them.
    """

    is_quantizer: ClassVar[bool] = True
    rescore: bool = False
    oversampling: float = 1.0
    #: Name of the matching native quantization in vector databases ("scalar", "binary", "product").
    native_kind: ClassVar[str] = ""

    def inverse_transform(self, codes: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def similarity(self, queries: np.ndarray, codes: np.ndarray, metric: Metric) -> np.ndarray:
        raise NotImplementedError

    def candidates(self, k: int) -> int:
        return max(k, math.ceil(k * self.oversampling)) if self.rescore else k


class BaseAligner(Component):
    """Maps source vectors into the target space. Implement ``fit`` and ``transform``."""

    requires_fit: ClassVar[bool] = True
    #: Aligners map dense vectors to dense vectors.
    input_kind: ClassVar[OutputKind] = "dense"

    def fit(self, X_source: Any, X_target: Any) -> BaseAligner:
        raise NotImplementedError

    def transform(self, X: Any) -> np.ndarray:
        raise NotImplementedError

    def fit_transform(self, X_source: Any, X_target: Any) -> np.ndarray:
        return self.fit(X_source, X_target).transform(X_source)

    def output_dim(self, input_dim: int) -> int:
        return input_dim
