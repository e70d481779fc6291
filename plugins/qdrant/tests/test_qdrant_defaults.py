"""Index defaults (issue 19): ``search_ef`` 128 reaches every search; null hands the choice back to Qdrant."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from embedspec_qdrant.config import SEARCH_EF, QdrantEdgeIndexConfig, QdrantIndexConfig
from embedspec_qdrant.edge import QdrantEdgeIndex

pytest.importorskip("qdrant_edge", reason="the qdrant-edge index needs qdrant-edge-py: pip install 'embedspec-qdrant[edge]'")


def test_default_search_ef_is_the_measured_one() -> None:
    assert SEARCH_EF == 128
    assert QdrantEdgeIndexConfig(path="x").search_ef == 128
    assert QdrantIndexConfig(location=":memory:").search_ef == 128
    assert QdrantEdgeIndexConfig(path="x", search_ef=None).search_ef is None


def test_search_params_carry_the_default(tmp_path: Path) -> None:
    index = QdrantEdgeIndex(path=str(tmp_path / "shard"), dim=8)
    index.warm_up()
    assert index._search_params().hnsw_ef == 128
    index.search_ef = None
    assert index._search_params() is None  # Qdrant's own default (its ef_construct)
    index.search_ef = 32
    assert index._search_params().hnsw_ef == 32
    index.close()


def test_default_finds_the_exact_neighbours_of_clustered_data(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((40, 32)).astype(np.float32)
    X = centres[rng.integers(40, size=3000)] + 0.3 * rng.standard_normal((3000, 32)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    index = QdrantEdgeIndex(path=str(tmp_path / "shard"), indexing_threshold_kb=1)
    index.upsert(list(range(len(X))), X)
    index.optimize()
    Q = X[:50]
    truth = np.argsort(-(Q @ X.T), axis=1)[:, :10]
    hits = index.search(Q, k=10)
    index.close()
    recall = np.mean([len({h.id for h in row} & set(t.tolist())) / 10 for row, t in zip(hits, truth)])
    assert recall >= 0.99
