"""The four protocols (Encoder, Index, Compressor, Aligner) and the small types they share.

Vectors are ``(n, dim) float32`` numpy arrays unless a Compressor says otherwise, or an encoder
declares another ``output_kind`` (``multi``: ``MultiVectors``, ``sparse``: ``SparseVectors``, from
``embedspec.representations``); compressors declare ``input_kind``/``output_kind``, indexes ``accepts``. Scores are
always "higher is more similar": cosine and dot similarities as they are, euclidean as the
negated distance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from .representations import OutputKind  # noqa: F401  (re-exported: the protocols speak of it)

Role = Literal["query", "document"]
Metric = Literal["cosine", "dot", "euclidean"]
PointId = int | str
ROLES: tuple[str, ...] = ("query", "document")


@dataclass(frozen=True)
class Hit:
    """One search result: the point's id, its score (higher is better) and its payload."""

    id: PointId
    score: float
    payload: Mapping[str, Any] | None = field(default=None, compare=False)


@runtime_checkable
class Encoder(Protocol):
    """Maps inputs (texts, images, records...) to vectors."""

    @property
    def dim(self) -> int: ...

    @property
    def modalities(self) -> frozenset[str]: ...

    def encode(self, inputs: Sequence[Any], *, role: Role = "document") -> np.ndarray:
        """``(n, dim) float32`` vectors, one row per input, in input order."""
        ...


@runtime_checkable
class Index(Protocol):
    """Stores vectors with ids and payloads and answers k-nearest-neighbour queries."""

    def upsert(
        self,
        ids: Sequence[PointId],
        vectors: np.ndarray,
        payloads: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> None: ...

    def search(
        self, queries: np.ndarray, k: int = 10, filter: Mapping[str, Any] | None = None
    ) -> list[list[Hit]]: ...

    def delete(self, ids: Sequence[PointId]) -> None: ...

    def count(self) -> int: ...

    def close(self) -> None: ...


@runtime_checkable
class Compressor(Protocol):
    """sklearn-style vector compression: ``fit`` -> ``transform`` -> (``inverse_transform``)."""

    def fit(self, X: np.ndarray) -> Compressor: ...

    def transform(self, X: np.ndarray) -> np.ndarray: ...

    def output_dim(self, input_dim: int) -> int:
        """Dimension of the float vectors that come out (quantizers keep ``input_dim``)."""
        ...

    def bytes_per_vector(self, input_dim: int) -> int: ...


@runtime_checkable
class Aligner(Protocol):
    """Maps vectors of a source space into a target space, learned from paired anchors."""

    def fit(self, X_source: np.ndarray, X_target: np.ndarray) -> Aligner: ...

    def transform(self, X: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ComponentKind:
    """One kind of component: its protocol, the hook that registers it, its place in a spec."""

    name: str  # "encoder"
    plural: str  # "encoders"
    protocol: type
    hook: str  # "register_encoders"
    spec_key: str  # "encoder" (one block) or "compressors" (a list of blocks)
    many: bool = False


#: The one table of component kinds, in the order a spec lists them.
COMPONENT_KINDS: tuple[ComponentKind, ...] = (
    ComponentKind("encoder", "encoders", Encoder, "register_encoders", "encoder"),
    ComponentKind("aligner", "aligners", Aligner, "register_aligners", "aligner"),
    ComponentKind("compressor", "compressors", Compressor, "register_compressors", "compressors", many=True),
    ComponentKind("index", "indexes", Index, "register_indexes", "index"),
)
KINDS: tuple[str, ...] = tuple(k.name for k in COMPONENT_KINDS)
PLURALS: dict[str, str] = {k.name: k.plural for k in COMPONENT_KINDS}
KIND_BY_NAME: dict[str, ComponentKind] = {k.name: k for k in COMPONENT_KINDS}
