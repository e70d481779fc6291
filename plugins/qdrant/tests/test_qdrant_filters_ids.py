"""Filters agree with the core reference semantics (``Filter.matches``); ids round-trip; native quantization."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from embedspec.base import Quantizer
from embedspec.errors import EmbedspecError
from embedspec.filters import parse_filter
from embedspec.plugins import describe
from embedspec.secrets import MASK, SecretWarning
from embedspec_qdrant.client import QdrantIndex
from embedspec_qdrant.edge import QdrantEdgeIndex
from embedspec_qdrant.index_base import closest_compression
from embedspec_qdrant.point_ids import RESERVED_ID_KEY, to_qdrant_id, to_qdrant_payload

N = 120


def _payload(i: int) -> dict:
    p = {
        "lang": ["en", "fr", "de"][i % 3],
        "year": 1990 + i % 40,
        "score": [0.5, 1.0, 2.25, 3.0][i % 4],
        "flag": i % 5 == 0,
        "tags": [f"t{i % 4}", f"u{i % 6}"],
        "meta": {"source": ["pubmed", "arxiv"][i % 2], "rank": i % 10},
    }
    if i % 7 == 0:
        p["mixed"] = [True, 1, "1"][i % 3]  # a bool, an int and a string that all "look like" 1
    if i % 11 == 0:
        del p["year"]
    return p


FILTERS = [
    {"lang": "en"},
    {"lang": {"any": ["fr", "de"]}},
    {"year": {"gte": 2000, "lt": 2010}},
    {"year": 2001},
    {"score": 1.0},  # a float: matches 1.0
    {"score": 3},  # an int: matches the stored float 3.0
    {"score": {"gt": 0.5, "lte": 2.25}},
    {"flag": True},
    {"flag": False},
    {"mixed": True},
    {"mixed": 1},
    {"mixed": "1"},
    {"mixed": {"any": [True, "1"]}},
    {"tags": "t1"},
    {"tags": {"any": ["t2", "u5"]}},
    {"meta.source": "arxiv", "meta.rank": {"gte": 5}},
    {"missing.key": "x"},
    {"lang": {"any": ["en", 3, 2.25]}},
]


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    rng = np.random.default_rng(5)
    vecs = rng.standard_normal((N, 8)).astype(np.float32)
    ids = [i if i % 3 else f"s{i}" for i in range(N)]
    payloads = [_payload(i) for i in range(N)]
    edge = QdrantEdgeIndex(
        path=str(tmp_path_factory.mktemp("edge") / "shard"),
        payload_indexes={"lang": "keyword", "flag": "bool", "year": "integer", "score": "float"},
    )
    local = QdrantIndex(location=":memory:")
    for index in (edge, local):
        index.upsert(ids, vecs, payloads)
    yield {"edge": edge, "local": local}, ids, payloads, vecs
    edge.close()
    local.close()


@pytest.mark.parametrize("flt", FILTERS, ids=[str(f) for f in FILTERS])
@pytest.mark.parametrize("kind", ["edge", "local"])
def test_filters_match_the_reference(filled, flt, kind):
    indexes, ids, payloads, vecs = filled
    expected = {pid for pid, p in zip(ids, payloads) if parse_filter(flt).matches(p)}
    got = {h.id for h in indexes[kind].search(vecs[:1], k=N, filter=flt)[0]}
    assert got == expected


def test_payload_indexes_are_created(filled):
    edge = filled[0]["edge"]
    assert sorted(edge._shard.info().payload_schema) == ["flag", "lang", "score", "year"]


@pytest.mark.parametrize("kind", ["edge", "local"])
def test_ids_round_trip_and_stay_distinct(tmp_path, kind):
    index = QdrantEdgeIndex(path=str(tmp_path / "s")) if kind == "edge" else QdrantIndex(location=":memory:")
    ids = [5, "5", -5, 2**64, "ünï-cødé id", str(uuid.uuid4()), 0]
    vecs = np.eye(len(ids), 8, dtype=np.float32) + 0.01
    index.upsert(ids, vecs, [{"n": i} for i in range(len(ids))])
    assert index.count() == len(ids)
    hits = index.search(vecs, k=1)
    assert [row[0].id for row in hits] == ids
    assert [row[0].payload for row in hits] == [{"n": i} for i in range(len(ids))]
    index.delete(["5", -5])
    assert {h.id for h in index.search(vecs[:1], k=10)[0]} == {5, 2**64, "ünï-cødé id", ids[5], 0}
    index.close()


def test_id_mapping_is_deterministic():
    assert to_qdrant_id(7) == 7
    assert to_qdrant_id("7") == str(uuid.uuid5(uuid.UUID("5b0c8f3e-4a4d-5e55-9c7a-656d62656473"), "str:7"))
    assert to_qdrant_id(-7) != to_qdrant_id("-7")
    assert to_qdrant_payload("a", {"x": 1}, 0) == {"x": 1, RESERVED_ID_KEY: "a"}
    assert to_qdrant_payload(3, None, 0) == {}


class _FakeQuantizer(Quantizer):
    def __init__(self, kind: str, rescore: bool = True, oversampling: float = 2.0, m: int | None = None):
        self.native_kind = kind  # type: ignore[misc]
        self.rescore = rescore
        self.oversampling = oversampling
        if m is not None:
            self.m = m


def test_use_quantizer_maps_to_native_quantization(tmp_path):
    index = QdrantEdgeIndex(path=str(tmp_path / "s"), dim=384)
    assert index.use_quantizer(_FakeQuantizer("binary", oversampling=3.0)) is True
    native = index.native_quantization()
    assert (native.kind, native.rescore, native.oversampling) == ("binary", True, 3.0)
    index.use_quantizer(_FakeQuantizer("product", m=48))
    assert index.native_quantization().compression == 32  # 1536 float bytes / 48 code bytes
    assert closest_compression(384, 96) == 16 and closest_compression(384, 384) == 4
    assert closest_compression(128, 1) == 64
    index.use_quantizer(_FakeQuantizer("scalar", rescore=False))
    assert index.native_quantization().oversampling is None
    with pytest.raises(EmbedspecError, match="no native form"):
        index.use_quantizer(_FakeQuantizer("muvera"))
    conflicting = QdrantEdgeIndex(path=str(tmp_path / "t"), quantization="scalar")
    with pytest.raises(EmbedspecError, match="sets quantization='scalar' but the chain ends with a 'binary'"):
        conflicting.use_quantizer(_FakeQuantizer("binary"))


@pytest.mark.parametrize("kind", ["scalar", "binary", "product"])
def test_native_quantization_builds_and_searches(tmp_path, kind):
    rng = np.random.default_rng(11)
    centers = rng.standard_normal((20, 64)).astype(np.float32)
    vecs = centers[rng.integers(0, 20, 3000)] + 0.3 * rng.standard_normal((3000, 64)).astype(np.float32)
    index = QdrantEdgeIndex(path=str(tmp_path / "s"), indexing_threshold_kb=100)
    index.use_quantizer(_FakeQuantizer(kind, oversampling=10.0, m=16))  # 64-bit codes need a wide net
    index.upsert(list(range(3000)), vecs)
    assert index.optimize() is True
    queries = vecs[:50] + 0.05 * rng.standard_normal((50, 64)).astype(np.float32)
    normed = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    truth = np.argsort(-(queries @ normed.T), axis=1)[:, :10]
    hits = index.search(queries, k=10)
    recall = np.mean([len({h.id for h in row} & set(t)) / 10 for row, t in zip(hits, truth)])
    assert recall >= 0.8, recall
    assert all(row[0].id == i for i, row in enumerate(hits))  # rescoring puts the point itself first
    index.close()


def test_spec_blocks_round_trip(tmp_path):
    from embedspec.plugins import get_registry

    reg = get_registry().get("index", "qdrant")
    block = {
        "url": "http://qdrant:6333",
        "api_key": "k",
        "collection": "docs",
        "shard_number": 6,
        "replication_factor": 2,
    }
    with pytest.warns(SecretWarning, match="written back as"):  # a literal key is never written in clear
        assert describe(reg.create(block)) == {"type": "qdrant", **block, "api_key": MASK}
    with pytest.raises(ValueError, match="exactly one of url .* got url, location"):
        reg.create({"url": "http://x", "location": ":memory:"})
    edge = (
        get_registry()
        .get("index", "qdrant-edge")
        .create({"path": str(tmp_path), "payload_indexes": {"lang": "keyword"}})
    )
    assert describe(edge) == {"type": "qdrant-edge", "path": str(tmp_path), "payload_indexes": {"lang": "keyword"}}
