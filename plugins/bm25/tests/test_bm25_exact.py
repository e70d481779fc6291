"""``bm25`` through a pipeline with the ``exact`` index: rank_bm25's scores, after deletes and reopening."""

from __future__ import annotations

import numpy as np
import pytest
from bm25_reference import CORPUS, QUERIES
from embedspec import build
from embedspec.errors import SpecError


def spec(path=None, **encoder):
    index = {"type": "exact", **({"path": str(path)} if path else {})}
    return {"version": 1, "encoder": {"type": "bm25", **encoder}, "index": index}


def expected(reference_bm25, analyzer, docs: list[str], ids: list, query: str, k: int, k1=1.2, b=0.75):
    """rank_bm25's top ``k`` (Lucene IDF) among documents sharing a term with the query."""
    tokenized = analyzer.analyze_all(docs)
    scores = reference_bm25(tokenized, k1, b).get_scores(analyzer.analyze(query))
    terms = set(analyzer.analyze(query))
    order = [i for i in np.argsort(-scores, kind="stable") if terms & set(tokenized[i])][:k]
    return [(ids[i], scores[i]) for i in order]


def test_pipeline_scores_equal_rank_bm25_and_follow_deletes(tmp_path, reference_bm25):
    avgdl = float(np.mean([len(t) for t in build(spec()).encoder.analyzer.analyze_all(CORPUS)]))
    with build(spec(tmp_path / "idx", avgdl=avgdl)) as pipe:
        ids = pipe.add(CORPUS, ids=list(range(len(CORPUS))), payloads=[{"n": i} for i in range(len(CORPUS))])
        analyzer = pipe.encoder.analyzer
        for query, hits in zip(QUERIES, pipe.search(QUERIES, k=5)):
            want = expected(reference_bm25, analyzer, CORPUS, ids, query, 5)
            assert [h.score for h in hits] == pytest.approx([s for _, s in want], rel=1e-5)
            assert {h.id for h in hits} == {i for i, _ in want} or len(hits) == 5
        # deletes: the IDF is over the documents held now (avgdl stays the encoder's parameter)
        pipe.delete([0, 5, 10])
        kept = [i for i in ids if i not in (0, 5, 10)]
        docs = [CORPUS[i] for i in kept]
        for query, hits in zip(QUERIES, pipe.search(QUERIES, k=4)):
            tokenized = analyzer.analyze_all(docs)
            ref = reference_bm25(tokenized, 1.2, 0.75)
            ref.avgdl = avgdl  # rank_bm25 would re-measure it over the remaining documents
            scores = ref.get_scores(analyzer.analyze(query))
            got = {h.id: h.score for h in hits}
            assert got == pytest.approx({i: scores[kept.index(i)] for i in got}, rel=1e-5)
            assert sorted(got.values(), reverse=True)[:1] == pytest.approx([max(scores)], rel=1e-5)
        before = pipe.search(QUERIES, k=4)
    with build(spec(tmp_path / "idx", avgdl=avgdl), read_only=True) as reopened:
        assert reopened.count() == len(kept)
        assert reopened.search(QUERIES, k=4) == before
        hits = reopened.search(["gene expression"], k=3, filter={"n": {"gte": 9}})[0]
        assert [h.id for h in hits] == [9] and hits[0].payload == {"n": 9}


def test_a_bm25_index_opened_with_a_dense_encoder_is_a_located_error(tmp_path):
    with build(spec(tmp_path / "idx", avgdl=8.0)) as pipe:
        pipe.add(CORPUS[:3])
    dense = {"version": 1, "encoder": {"type": "hashing", "dim": 16}, "index": {"type": "exact", "path": str(tmp_path / "idx")}}
    with pytest.raises(SpecError, match=r"index \(exact\): the exact index at .*idx holds one unnamed vector "
                       r"\(sparse, idf\), but the spec's chain writes one unnamed dense vector of dimension 16"):
        build(dense)


def test_empty_documents_write_nothing_of_their_batch(tmp_path):
    with build(spec(avgdl=8.0)) as pipe:
        with pytest.raises(ValueError, match="document at position 1 has no terms after analysis"):
            pipe.add(["fox", "the and of", "dog"])
        assert pipe.count() == 0


def test_to_spec_round_trips(tmp_path):
    spec_in = spec(tmp_path / "idx", avgdl=12.5, language="de", k1=0.9)
    with build(spec_in) as pipe:
        pipe.add(["Die Straße", "der Fluss"])
        written = pipe.to_spec()
    assert written == {"version": 1, "encoder": {"type": "bm25", "language": "german", "k1": 0.9, "avgdl": 12.5},
                       "index": {"type": "exact", "path": str(tmp_path / "idx")}}
    with build(written, read_only=True) as again:
        assert again.to_spec() == written and again.count() == 2
