"""Sparse (BM25 with Qdrant's IDF modifier) and hybrid pipelines on qdrant-edge agree with ``exact``."""

from __future__ import annotations

import pytest
from embedspec.errors import SpecError
from embedspec.pipeline import build
from embedspec.testing_fixtures import need

DOCS = [
    "The quick brown fox jumps over the lazy dog.",
    "A fox is a small omnivorous mammal; foxes hunt rodents at night.",
    "Dogs and cats are the most popular pets in the world.",
    "Cats sleep for most of the day and hunt at night.",
    "The brown bear is one of the largest land carnivores.",
    "Running dogs chase running foxes across the fields.",
    "Insulin resistance increases the risk of type 2 diabetes.",
    "Vitamin D deficiency is associated with bone fractures in older adults.",
    "The protein binds to DNA and regulates gene expression in cells.",
    "Gene expression changes in tumour cells were measured by sequencing.",
    "Bears, foxes and dogs belong to the order Carnivora.",
    "Exercise lowers blood glucose and improves insulin sensitivity.",
]
QUERIES = ["brown fox", "dogs hunting at night", "insulin and diabetes risk", "gene expression in cells",
           "fox fox dog", "carnivores", "bone", "cats at night", "blood glucose", "tumour sequencing", "popular pets",
           "lazy dog", "land bear", "older adults fractures"]
BM25 = {"type": "bm25", "avgdl": 8.0}


@pytest.fixture(autouse=True)
def _bm25():
    need("embedspec_bm25", "qdrant_edge", install="pip install -e plugins/bm25 'plugins/qdrant[edge]'")


def single(index: dict) -> dict:
    return {"version": 1, "encoder": BM25, "index": index}


def hybrid(index: dict, **fusion) -> dict:
    return {"version": 1, "encoders": {"dense": {"type": "hashing", "dim": 64}, "sparse": BM25}, "index": index,
            "fusion": {"limit": 12, **fusion}}


def same_rankings(a, b, k: int, filter=None, queries=QUERIES) -> None:
    """Pipelines ``a`` and ``b`` give equal scores in order for the top ``k``, and every point the same
    score (ties may come in either order, so the ids of a top ``k`` are checked against all scores)."""
    top_a, top_b = a.search(queries, k=k, filter=filter), b.search(queries, k=k, filter=filter)
    all_a, all_b = (p.search(queries, k=len(DOCS), filter=filter) for p in (a, b))
    for hits_a, hits_b, every_a, every_b in zip(top_a, top_b, all_a, all_b, strict=True):
        assert [h.score for h in hits_a] == pytest.approx([h.score for h in hits_b], rel=1e-5, abs=1e-7)
        scores_a, scores_b = ({h.id: h.score for h in hits} for hits in (every_a, every_b))
        assert scores_a == pytest.approx(scores_b, rel=1e-5, abs=1e-7)
        assert [scores_b[h.id] for h in hits_a] == pytest.approx([h.score for h in hits_a], rel=1e-5, abs=1e-7)


def ties(pipe, query: str, filter) -> bool:
    """Whether a vector's candidate list for ``query`` holds two equal scores."""
    from embedspec.query import Nearest

    encoded = pipe.encode([query], role="query")
    for name in encoded:
        scores = [round(h.score, 5) for h in pipe.index.search(encoded, k=12, filter=filter, plan=Nearest(name))[0]]
        if len(set(scores)) != len(scores):
            return True
    return False


def add(pipe) -> None:
    pipe.add(DOCS, ids=list(range(len(DOCS))), payloads=[{"n": i} for i in range(len(DOCS))])


def test_bm25_on_qdrant_edge_equals_exact_after_deletes_and_reopening(tmp_path):
    edge_spec = single({"type": "qdrant-edge", "path": str(tmp_path / "edge")})
    with build(edge_spec) as edge, build(single({"type": "exact"})) as exact:
        add(edge)
        add(exact)
        same_rankings(edge, exact, 5)
        for pipe in (edge, exact):
            pipe.delete([0, 5, 10])
        same_rankings(edge, exact, 5)  # the IDF counts the live points only
        same_rankings(edge, exact, 5, filter={"n": {"gte": 6}})
        assert all(h.payload["n"] >= 6 for hits in edge.search(QUERIES, k=5, filter={"n": {"gte": 6}}) for h in hits)
        written = edge.to_spec()
    assert written == edge_spec
    with build(written, read_only=True) as reopened, build(single({"type": "exact"})) as exact:
        exact.add([d for i, d in enumerate(DOCS) if i not in (0, 5, 10)], ids=[i for i in range(len(DOCS))
                                                                              if i not in (0, 5, 10)])
        assert reopened.count() == len(DOCS) - 3
        same_rankings(reopened, exact, 5)


@pytest.mark.parametrize("fusion", [{"method": "rrf", "k": 60}, {"method": "rrf", "k": 5, "weights": {"sparse": 2.0}},
                                    {"method": "weighted", "weights": {"dense": 0.4, "sparse": 0.6}}])
def test_hybrid_on_qdrant_edge_equals_exact(tmp_path, fusion):
    with build(hybrid({"type": "qdrant-edge", "path": str(tmp_path / "edge"), "exact": True}, **fusion)) as edge, \
            build(hybrid({"type": "exact"}, **fusion)) as exact:
        add(edge)
        add(exact)
        for flt in (None, {"n": {"lt": 6}}):
            # reciprocal rank fusion depends on the order of ties within each vector's list, which two
            # engines may break differently: compare the queries whose lists have no tie
            queries = [q for q in QUERIES if not ties(exact, q, flt)]
            assert len(queries) >= 4
            same_rankings(edge, exact, 4, filter=flt, queries=queries)


def test_a_sparse_shard_opened_by_a_dense_spec_or_other_names_is_a_located_error(tmp_path):
    path = str(tmp_path / "edge")
    with build(single({"type": "qdrant-edge", "path": path})) as pipe:
        add(pipe)
    with pytest.raises(SpecError, match=r"index \(qdrant-edge\).*holds one unnamed vector \(sparse, idf\), but the "
                       r"spec's chain writes one unnamed dense vector of dimension 16"):
        build({"version": 1, "encoder": {"type": "hashing", "dim": 16}, "index": {"type": "qdrant-edge", "path": path}})
    with pytest.raises(SpecError, match=r"holds one unnamed vector \(sparse, idf\), but the spec writes dense "
                       r"\(dense, dim 64\), sparse \(sparse, idf\)"):
        build(hybrid({"type": "qdrant-edge", "path": path}))
