"""The qdrant-edge index inside a built pipeline: bind_dim, native binary quantization, reopen."""

from __future__ import annotations

import pytest
from embedspec.errors import DimensionMismatchError, SpecError
from embedspec.pipeline import build

DOCS = [
    ("d1", "qdrant edge is an embedded vector search engine", {"lang": "en", "year": 2025}),
    ("d2", "le moteur de recherche vectorielle embarqué", {"lang": "fr", "year": 2024}),
    ("d3", "scientific claims about protein folding", {"lang": "en", "year": 2019}),
    ("d4", "a cluster of qdrant servers with sharding and replication", {"lang": "en", "year": 2023}),
]


def _spec(path: str, dim: int = 256, **index: object) -> dict:
    return {
        "version": 1,
        "encoder": {"type": "hashing", "dim": dim},
        "compressors": [{"type": "binary", "oversampling": 3.0}],
        "index": {"type": "qdrant-edge", "path": path, **index},
    }


def test_pipeline_indexes_and_searches_on_qdrant_edge(tmp_path):
    path = str(tmp_path / "index")
    pipe = build(_spec(path, payload_indexes={"lang": "keyword"}))
    assert pipe.native_quantization is True
    assert pipe.index.native_quantization().kind == "binary"
    assert pipe.index.native_quantization().oversampling == 3.0
    pipe.add([t for _, t, _ in DOCS], ids=[i for i, _, _ in DOCS], payloads=[p for _, _, p in DOCS])
    hits = pipe.search(["embedded vector search engine"], k=2)[0]
    assert hits[0].id == "d1" and hits[0].payload == {"lang": "en", "year": 2025}
    filtered = pipe.search(["qdrant"], k=4, filter={"lang": "en", "year": {"gte": 2020}})[0]
    assert {h.id for h in filtered} == {"d1", "d4"}
    block = pipe.to_spec()["index"]
    assert block["type"] == "qdrant-edge" and block["path"] == path and block["dim"] == 256
    pipe.close()

    again = build(_spec(path))
    assert again.index.count() == 4
    assert again.search(["embedded vector search engine"], k=1)[0][0].id == "d1"
    again.close()
    with pytest.raises((DimensionMismatchError, SpecError), match="dimension 256"):
        build(_spec(path, dim=128))
