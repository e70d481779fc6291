"""Hook implementations: registers ``qdrant-edge`` and ``qdrant`` (no Qdrant library is imported)."""

from __future__ import annotations

from typing import Any

from embedspec.hookspecs import hookimpl


@hookimpl
def register_indexes(register: Any) -> None:
    from .client import QdrantIndex
    from .edge import QdrantEdgeIndex

    register("qdrant-edge", QdrantEdgeIndex)  # the config model is the class's Config
    register("qdrant", QdrantIndex)
