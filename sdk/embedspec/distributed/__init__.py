"""Corpus-scale ingestion on Ray Data (the optional extra ``embedspec[ray]``).

``ingest_dataset(spec, dataset)`` encodes a ``ray.data.Dataset`` of documents on an actor pool
(each actor builds the spec's encoder, aligner and compressors once) and writes the vectors into
the spec's index, or Parquet files. ``read_corpus(path)`` reads JSON lines, Parquet or CSV with
Ray's own readers. Importing this package imports no Ray; calling these functions does.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ingest_dataset": "ray_ingest",
    "read_corpus": "ray_ingest",
    "RayOptions": "ray_ingest",
    "EncodeActor": "actor",
    "document_rows": "rows",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'embedspec.distributed' has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)
