"""Hybrid pipelines: a dense (``hashing``) and a sparse (``bm25``) encoder over one ``exact`` index."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from bm25_reference import CORPUS, QUERIES
from embedspec import build
from embedspec.errors import SpecError
from embedspec.query import Fusion, Nearest, fuse


def hybrid_spec(path=None, **fusion) -> dict:
    index = {"type": "exact", **({"path": str(path)} if path else {})}
    return {
        "version": 1,
        "encoders": {"dense": {"type": "hashing", "dim": 64}, "sparse": {"type": "bm25", "avgdl": 8.0}},
        "index": index,
        "fusion": {"method": "rrf", "k": 60, "limit": 12, **fusion},
    }


def single(encoder: dict) -> dict:
    return {"version": 1, "encoder": encoder, "index": {"type": "exact"}}


def ranked(pipe, queries, k):
    """(rows (m, k), scores (m, k)) of a single-vector pipeline, rows as corpus positions (-1 padding)."""
    hits = pipe.search(queries, k=k)
    rows = np.full((len(queries), k), -1, dtype=np.int64)
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    for i, hs in enumerate(hits):
        rows[i, : len(hs)] = [h.id for h in hs]
        scores[i, : len(hs)] = [h.score for h in hs]
    return rows, scores


@pytest.mark.parametrize("fusion", [{"method": "rrf", "k": 60}, {"method": "rrf", "k": 2, "weights": {"sparse": 3.0}},
                                    {"method": "weighted", "weights": {"dense": 0.3, "sparse": 0.7}}])
def test_fusion_equals_the_fusion_of_the_two_single_pipelines(fusion):
    ids = list(range(len(CORPUS)))
    with build(hybrid_spec(**fusion)) as pipe, build(single({"type": "hashing", "dim": 64})) as dense, \
            build(single({"type": "bm25", "avgdl": 8.0})) as sparse:
        for p in (pipe, dense, sparse):
            p.add(CORPUS, ids=ids, payloads=[{"n": i} for i in ids])
        lists = [ranked(dense, QUERIES, 12), ranked(sparse, QUERIES, 12)]
        weights = tuple(fusion.get("weights", {}).get(n, 1.0) for n in ("dense", "sparse"))
        plan = Fusion((Nearest("dense"), Nearest("sparse")), method=fusion["method"], rrf_k=fusion.get("k", 60),
                      weights=weights)
        rows, scores = fuse(lists, plan, 5)
        for qi, hits in enumerate(pipe.search(QUERIES, k=5)):
            assert [h.score for h in hits] == pytest.approx(scores[qi][rows[qi] >= 0].tolist(), rel=1e-6)
            assert [h.id for h in hits] == rows[qi][rows[qi] >= 0].tolist()
            assert all(h.payload == {"n": h.id} for h in hits)


def test_round_trip_persistence_filters_and_deletes(tmp_path):
    spec = hybrid_spec(tmp_path / "idx", method="weighted", weights={"dense": 0.5, "sparse": 1.0})
    with build(spec) as pipe:
        pipe.add(CORPUS, ids=list(range(len(CORPUS))), payloads=[{"n": i} for i in range(len(CORPUS))])
        written = pipe.to_spec()
        assert written == {**spec, "index": {**spec["index"], "dim": 64},
                           "fusion": {"method": "weighted", "k": 60, "limit": 12,
                                      "weights": {"dense": 0.5, "sparse": 1.0}, "normalization": "minmax"}}
        assert yaml.safe_load(pipe.to_yaml()) == written
        pipe.delete([0])
        before = pipe.search(QUERIES, k=4, filter={"n": {"gte": 2}})
        assert all(h.id >= 2 for hits in before for h in hits)
    with build(written, read_only=True) as reopened:
        assert reopened.count() == len(CORPUS) - 1
        assert reopened.search(QUERIES, k=4, filter={"n": {"gte": 2}}) == before
        assert reopened.to_spec() == written


def test_a_hybrid_index_opened_by_a_single_encoder_spec_is_a_located_error(tmp_path):
    with build(hybrid_spec(tmp_path / "idx")) as pipe:
        pipe.add(CORPUS[:4])
    with pytest.raises(SpecError, match=r"index \(exact\).*holds dense \(dense, dim 64\), sparse \(sparse, idf\), but "
                       r"the spec's chain writes one unnamed dense vector of dimension 64"):
        build({"version": 1, "encoder": {"type": "hashing", "dim": 64},
               "index": {"type": "exact", "path": str(tmp_path / "idx")}})
    renamed = hybrid_spec(tmp_path / "idx")
    renamed["encoders"] = {"dense": renamed["encoders"]["dense"], "terms": renamed["encoders"]["sparse"]}
    with pytest.raises(SpecError, match=r"holds dense \(dense, dim 64\), sparse \(sparse, idf\), but the spec writes "
                       r"dense \(dense, dim 64\), terms \(sparse, idf\)"):
        build(renamed)


def test_an_index_that_stores_no_sparse_vectors_is_named(tmp_path):
    spec = hybrid_spec()
    spec["encoders"]["other"] = {"type": "hashing", "dim": 8}
    with pytest.raises(SpecError, match=r"index \(exact\): the exact index holds at most one dense vector"):
        build(spec)


def test_bad_documents_write_nothing_of_their_batch():
    with build(hybrid_spec()) as pipe:
        with pytest.raises(ValueError, match="document at position 2 has no terms after analysis"):
            pipe.add(["fox", "dog", "of the"])
        with pytest.raises(TypeError, match="input at position 1 is int, not str"):
            pipe.add(["fox", 7])
        assert pipe.count() == 0
        with pytest.raises(ValueError, match="queries name vector 'title', which the index does not hold"):
            pipe.index.search({"title": pipe.encode(["fox"], role="query")["sparse"]}, k=2)
