"""Both Qdrant indexes answer ``contains(ids)`` (retrieve by ids, in batches) for resumed ingestion."""

from __future__ import annotations

import embedspec
import numpy as np
from embedspec.documents import Document
from embedspec.plugins import get_registry
from embedspec.testing_indexes import check_contains


def _make(name: str, **config):
    return get_registry().get("index", name).create(config)


def test_qdrant_edge_contains(tmp_path):
    check_contains(lambda: _make("qdrant-edge", path=str(tmp_path / "shard")))


def test_qdrant_client_local_contains(tmp_path):
    check_contains(lambda: _make("qdrant", location=":memory:", collection="contains", batch_size=64))
    check_contains(lambda: _make("qdrant", path=str(tmp_path / "local"), collection="contains"))


def test_qdrant_edge_contains_after_reopening(tmp_path):
    with _make("qdrant-edge", path=str(tmp_path / "shard")) as index:
        index.upsert([5, "five", -5], np.eye(3, dtype=np.float32))
    with _make("qdrant-edge", path=str(tmp_path / "shard")) as index:
        assert index.contains(["five", 5, -5, "5", 6]) == [True, True, True, False, False]


def test_resumed_ingestion_into_qdrant_edge_skips_what_it_holds(tmp_path):
    spec = {"version": 1, "encoder": {"type": "hashing", "dim": 32},
            "index": {"type": "qdrant-edge", "path": str(tmp_path / "shard")}}
    texts = [f"qdrant text {i}" for i in range(500)]
    with embedspec.build(spec) as pipe:
        pipe.add(texts[:300], progress=False)
    with embedspec.build(spec) as pipe:
        report = pipe.ingest((Document(t) for t in texts), batch_size=128, skip_existing=True, progress=False)
        assert (report.written, report.skipped, pipe.count()) == (200, 300, 500)
