"""qdrant-edge with multi-vectors: Qdrant's MaxSim comparator equals numpy MaxSim (the ``exact``
index's, itself checked against a hand-written loop); filters, ids, deletes, reopening, kind checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from embedspec.builtin.exact import ExactIndex
from embedspec.builtin.maxsim import maxsim_scores
from embedspec.errors import EmbedspecError, SpecError
from embedspec.representations import MultiVectors
from embedspec_qdrant.edge import QdrantEdgeIndex


def sets(rng: np.random.Generator, n: int, dim: int = 12, max_len: int = 8) -> MultiVectors:
    return MultiVectors.from_list([rng.normal(size=(int(rng.integers(1, max_len + 1)), dim)) for _ in range(n)])


def ranked(hits: list) -> list[list[tuple[object, float]]]:
    return [[(h.id, h.score) for h in row] for row in hits]


@pytest.mark.parametrize("metric", ["cosine", "dot"])
@pytest.mark.parametrize("exact", [False, True])
def test_qdrant_maxsim_equals_numpy_maxsim(tmp_path: Path, metric: str, exact: bool) -> None:
    rng = np.random.default_rng(0)
    docs, queries = sets(rng, 60), sets(rng, 6, max_len=4)
    ids = [f"doc-{i}" if i % 2 else i for i in range(60)]
    payloads = [{"part": i % 3, "tag": f"t{i % 4}"} for i in range(60)]
    edge = QdrantEdgeIndex(path=str(tmp_path / "shard"), metric=metric, exact=exact)
    edge.upsert(ids, docs, payloads)
    reference = ExactIndex(metric=metric)
    reference.upsert(ids, docs, payloads)
    for flt in (None, {"part": 1}, {"tag": {"any": ["t0", "t3"]}}):
        got, want = edge.search(queries, k=15, filter=flt), reference.search(queries, k=15, filter=flt)
        assert [[h.id for h in r] for r in got] == [[h.id for h in r] for r in want], flt
        np.testing.assert_allclose([h.score for r in got for h in r], [h.score for r in want for h in r], atol=1e-4)
        assert [[h.payload for h in r] for r in got] == [[h.payload for h in r] for r in want]
    if metric == "dot":  # the scores are MaxSim itself
        full = maxsim_scores(queries, docs.data, docs.offsets)
        top = edge.search(queries, k=1)
        assert [r[0].score for r in top] == pytest.approx(full.max(axis=1).tolist(), abs=1e-4)
    edge.delete([2, "doc-3", "absent"])
    reference.delete([2, "doc-3"])
    assert edge.count() == reference.count() == 58
    assert [[h.id for h in r] for r in edge.search(queries, k=10)] == \
        [[h.id for h in r] for r in reference.search(queries, k=10)]
    edge.close()


def test_reopened_shard_keeps_its_kind_and_refuses_the_other(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    docs, queries = sets(rng, 10), sets(rng, 2)
    path = tmp_path / "shard"
    with QdrantEdgeIndex(path=str(path), metric="dot") as edge:
        edge.upsert(list(range(10)), docs)
        before = ranked(edge.search(queries, k=5))
    with QdrantEdgeIndex(path=str(path), metric="dot") as again:
        assert again.kind == "multi"
        assert ranked(again.search(queries, k=5)) == before
        with pytest.raises(TypeError, match="holds multi-vectors; vectors are dense vectors"):
            again.upsert([99], np.ones((1, 12), dtype=np.float32))
        with pytest.raises(EmbedspecError, match=r"holds multi-vectors \(dimension 12\), but the spec's chain produces "
                           "dense vectors"):
            again.bind_kind("dense")
        assert again.count() == 10
    from embedspec.pipeline import build

    spec = {"version": 1, "encoder": {"type": "hashing", "dim": 12},
            "index": {"type": "qdrant-edge", "path": str(path), "metric": "dot"}}
    with pytest.raises(SpecError, match=r"index \(qdrant-edge\): the qdrant-edge shard at .* holds multi-vectors"):
        build(spec)
    with pytest.raises(EmbedspecError, match="use metric cosine or dot"):
        QdrantEdgeIndex(path=str(tmp_path / "other"), metric="euclidean").bind_kind("multi")
