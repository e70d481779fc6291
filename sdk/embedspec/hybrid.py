"""Hybrid pipelines: several named encoders over one index, combined at search time by a ``fusion`` block.

The spec (see ``docs/hybrid.md``)::

    encoders:                 # instead of `encoder:`; each name becomes a named vector of the index
      dense: {type: onnx-text, model: ./models/all-MiniLM-L6-v2}
      sparse: {type: bm25, avgdl: 164.0}
    index: {type: exact}
    fusion:
      method: rrf             # rrf (reciprocal rank fusion) | weighted (min-max normalized scores)
      k: 60                   # the rrf rank constant
      limit: 100              # candidates taken from each vector
      weights: {dense: 1.0, sparse: 1.0}   # optional; every name must be one of the encoders

``NamedEncoders`` encodes one input list with every encoder (``{name: representation}``);
``FusionConfig.plan(names)`` is the ``embedspec.query.Fusion`` the index runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field, field_validator

from .base import MAX_K
from .protocols import Role
from .query import Fusion, Nearest
from .registry import ComponentConfig


class FusionConfig(ComponentConfig):
    """The ``fusion`` block of a spec with several encoders (strict types, as every spec block)."""

    method: Literal["rrf", "weighted"] = Field("rrf", description="rrf: reciprocal rank fusion; weighted: "
                                               "min-max normalized scores, weighted sum")
    k: int = Field(60, ge=0, le=1_000_000, description="rrf: the rank constant in 1 / (k + rank)")
    limit: int = Field(100, ge=1, le=MAX_K, description="candidates taken from each vector before fusing")
    weights: dict[str, float] | None = Field(None, description="weight of each vector (default 1 each)")
    normalization: Literal["minmax"] = Field("minmax", description="weighted: how each list's scores are scaled")

    @field_validator("weights")
    @classmethod
    def _non_negative(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        for name, weight in (value or {}).items():
            if weight < 0:
                raise ValueError(f"weight of {name!r} must be >= 0, got {weight}")
        return value

    def plan(self, names: Sequence[str]) -> Fusion:
        weights = self.weights or {}
        return Fusion(tuple(Nearest(n) for n in names), method=self.method, rrf_k=self.k,
                      weights=tuple(float(weights.get(n, 1.0)) for n in names), limit=self.limit)

    def to_spec(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class NamedEncoders:
    """Several encoders applied to the same inputs; ``encode`` returns ``{name: representation}``."""

    def __init__(self, encoders: Mapping[str, Any]) -> None:
        self.encoders = dict(encoders)

    @property
    def modalities(self) -> frozenset[str]:
        sets = [frozenset(getattr(e, "modalities", {"text"})) for e in self.encoders.values()]
        return frozenset.intersection(*sets)

    def validate_inputs(self, inputs: Sequence[Any]) -> None:
        for encoder in self.encoders.values():
            validate = getattr(encoder, "validate_inputs", None)
            if callable(validate):
                validate(inputs)

    def warm_up(self) -> None:
        for encoder in self.encoders.values():
            warm = getattr(encoder, "warm_up", None)
            if callable(warm):
                warm()

    def encode(self, inputs: Sequence[Any], *, role: Role = "document", batch_size: int | None = None
               ) -> dict[str, Any]:
        if isinstance(inputs, (str, bytes)):
            raise TypeError("encode() takes a sequence of inputs; wrap a single one as [item]")
        inputs = list(inputs)
        extra = {"batch_size": batch_size} if batch_size else {}
        return {name: enc.encode(inputs, role=role, **extra) for name, enc in self.encoders.items()}

    def __repr__(self) -> str:
        return f"NamedEncoders({', '.join(f'{n}={type(e).__name__}' for n, e in self.encoders.items())})"
