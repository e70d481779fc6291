"""Hook implementations: registers ``qdrant-edge`` and ``qdrant`` (no Qdrant library is imported)."""

from __future__ import annotations

from typing import Any

from embedspec.hookspecs import hookimpl


@hookimpl
def register_indexes(register: Any) -> None:
    from .client import QdrantIndex
    from .config import QdrantEdgeIndexConfig, QdrantIndexConfig
    from .edge import QdrantEdgeIndex

    register("qdrant-edge", QdrantEdgeIndex, QdrantEdgeIndexConfig)
    register("qdrant", QdrantIndex, QdrantIndexConfig)
