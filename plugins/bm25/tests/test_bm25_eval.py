"""``embedspec eval`` (evaluate_retrieval) on BM25 and hybrid pipelines: the same figures as searching
the pipeline directly; a cache passes sparse and named outputs through."""

from __future__ import annotations

import json

import pytest
from bm25_reference import CORPUS, QUERIES
from embedspec import build
from embedspec.eval.beir import load_beir
from embedspec.eval.encoding import EmbeddingCache
from embedspec.eval.metrics import evaluate_run
from embedspec.eval.retrieval import evaluate_retrieval

QRELS = {"q0": {"d0": 1, "d4": 1}, "q1": {"d3": 1}, "q2": {"d6": 1, "d11": 1}, "q3": {"d8": 1, "d9": 1},
         "q4": {"d0": 1}, "q5": {"d4": 1, "d10": 1}}


@pytest.fixture
def beir(tmp_path):
    root = tmp_path / "toy"
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("\n".join(json.dumps({"_id": f"d{i}", "title": "", "text": t})
                                                 for i, t in enumerate(CORPUS)))
    (root / "queries.jsonl").write_text("\n".join(json.dumps({"_id": f"q{i}", "text": t}) for i, t in enumerate(QUERIES)))
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"{q}\t{d}\t{g}\n" for q, docs in QRELS.items() for d, g in docs.items()))
    return load_beir(root)


@pytest.mark.parametrize("spec", [
    {"version": 1, "encoder": {"type": "bm25", "avgdl": 8.0}, "index": {"type": "exact"}},
    {"version": 1, "encoders": {"dense": {"type": "hashing", "dim": 64}, "sparse": {"type": "bm25", "avgdl": 8.0}},
     "index": {"type": "exact"}, "fusion": {"method": "rrf", "k": 60}},
])
def test_eval_equals_searching_the_pipeline(beir, spec):
    with build(spec) as pipe:
        result = evaluate_retrieval(pipe, beir, metrics=["ndcg@10", "recall@10"], cache=EmbeddingCache(),
                                    latency_queries=3, progress=False)
        hits = pipe.search(list(beir.queries.values()), k=10)
        run = {q: {str(h.id): h.score for h in hs} for q, hs in zip(beir.queries, hits)}
        want = evaluate_run(beir.qrels, run, ["ndcg@10", "recall@10"]).means
        assert result.metrics == pytest.approx(want) and result.metrics["ndcg@10"] > 0.5
        assert result.label == ("bm25" if "encoder" in spec else "hashing+bm25")
        held = pipe.index._sparse[next(iter(pipe.index._sparse))].nbytes / len(CORPUS)
        dense = 64 * 4 if "encoders" in spec else 0
        assert result.bytes_per_vector == round(dense + held)
