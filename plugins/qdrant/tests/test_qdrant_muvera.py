"""MUVERA two-stage search in qdrant-edge (FDE prefetch, MaxSim re-ranking, one Qdrant query) equals the
``exact`` index's numpy two stages in ids and scores: with filters, after deletes, after reopening;
with a prefetch covering the corpus it is exact MaxSim. Shards of another layout are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from embedspec.base import BaseEncoder
from embedspec.builtin.exact import ExactIndex
from embedspec.builtin.maxsim import maxsim_scores
from embedspec.builtin.muvera import MuveraCompressor
from embedspec.errors import EmbedspecError
from embedspec.pipeline import Pipeline
from embedspec.plugins import get_registry
from embedspec.representations import MultiVectors
from embedspec_qdrant.edge import QdrantEdgeIndex
from embedspec_qdrant.edge_muvera import STATE_DIR

SETTINGS = {"k_sim": 3, "r_reps": 4, "dim_proj": 8, "rescore": True}


def sets(rng: np.random.Generator, n: int, dim: int = 12, max_len: int = 8) -> MultiVectors:
    return MultiVectors.from_list([rng.normal(size=(int(rng.integers(1, max_len + 1)), dim)) for _ in range(n)])


def muvera(prefetch: int, seed: int = 0, **extra: object) -> MuveraCompressor:
    return MuveraCompressor(**SETTINGS, prefetch=prefetch, seed=seed, **extra)


def reference(metric: str, prefetch: int, docs: MultiVectors, ids: list, payloads: list) -> ExactIndex:
    index = ExactIndex(metric=metric)
    m = muvera(prefetch)
    m.fit(dim=docs.dim)
    index.use_quantizer(m)
    index.upsert(ids, docs, payloads)
    return index


def files(path: str) -> dict:
    """Every file's content, JSON files parsed: the engine rewrites its configurations on load with the two
    named vectors in either order (a hash map), the same configuration."""
    return {f: json.loads(f.read_text()) if f.suffix == ".json" else f.read_bytes()
            for f in Path(path).rglob("*") if f.is_file() and f.name != ".lock"}


def assert_same(got: list, want: list) -> None:
    assert [[h.id for h in r] for r in got] == [[h.id for h in r] for r in want]
    np.testing.assert_allclose([h.score for r in got for h in r], [h.score for r in want for h in r], atol=1e-4)
    assert [[h.payload for h in r] for r in got] == [[h.payload for h in r] for r in want]


@pytest.mark.parametrize("metric", ["dot", "cosine"])
@pytest.mark.parametrize("exact", [False, True])
def test_two_stage_search_equals_the_exact_index(tmp_path: Path, metric: str, exact: bool) -> None:
    rng = np.random.default_rng(0)
    docs, queries = sets(rng, 90), sets(rng, 6, max_len=4)
    ids = [f"doc-{i}" if i % 2 else i for i in range(90)]
    payloads = [{"part": i % 3, "tag": f"t{i % 4}"} for i in range(90)]
    path = tmp_path / "shard"
    edge = QdrantEdgeIndex(path=str(path), metric=metric, exact=exact)
    assert edge.use_quantizer(muvera(20)) is True  # native: the pipeline passes token vectors
    edge.upsert(ids, docs, payloads)
    want = reference(metric, 20, docs, ids, payloads)
    for flt in (None, {"part": 1}, {"tag": {"any": ["t0", "t3"]}}):
        assert_same(edge.search(queries, k=8, filter=flt), want.search(queries, k=8, filter=flt))
    edge.delete([4, "doc-5", "absent"])
    want.delete([4, "doc-5"])
    assert edge.count() == want.count() == 88
    assert_same(edge.search(queries, k=8), want.search(queries, k=8))
    edge.close()
    assert (path / STATE_DIR).is_dir()
    # reopened with a compressor of another seed: the stored matrices are adopted
    again = QdrantEdgeIndex(path=str(path), metric=metric, exact=exact)
    again.use_quantizer(muvera(20, seed=7))
    assert_same(again.search(queries, k=8, filter={"part": 2}), want.search(queries, k=8, filter={"part": 2}))
    more = sets(rng, 5)
    again.upsert(["new-0", "new-1", "new-2", "new-3", "new-4"], more)
    want.upsert(["new-0", "new-1", "new-2", "new-3", "new-4"], more)
    assert_same(again.search(queries, k=8), want.search(queries, k=8))
    again.close()


def test_prefetch_covering_the_corpus_is_exact_maxsim(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    docs, queries = sets(rng, 40), sets(rng, 5, max_len=5)
    with QdrantEdgeIndex(path=str(tmp_path / "shard"), metric="dot") as edge:
        edge.use_quantizer(muvera(1000))
        edge.upsert(list(range(40)), docs)
        got = edge.search(queries, k=40)
    plain = ExactIndex(metric="dot")
    plain.upsert(list(range(40)), docs)
    assert_same(got, plain.search(queries, k=40))
    full = maxsim_scores(queries, docs.data, docs.offsets)  # (5, 40)
    for qi, row in enumerate(got):
        assert [h.score for h in row] == pytest.approx(full[qi, [h.id for h in row]].tolist(), abs=1e-4)


class SetEncoder(BaseEncoder):
    """Fixed multi-vectors by text key (a stand-in for a token encoder)."""

    output_kind = "multi"
    dim = 12
    table: dict = {}

    def _encode_batch(self, inputs, role):
        return MultiVectors.from_list([self.table[t] for t in inputs])


def test_pipeline_and_layout_checks(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    docs, queries = sets(rng, 50), sets(rng, 4, max_len=4)
    SetEncoder.table = {**{f"d{i}": docs[i] for i in range(50)}, **{f"q{i}": queries[i] for i in range(4)}}
    texts, q_texts = [f"d{i}" for i in range(50)], [f"q{i}" for i in range(4)]
    path = str(tmp_path / "shard")
    pipe = Pipeline(SetEncoder(), QdrantEdgeIndex(path=path, metric="dot"), [muvera(15)])
    assert pipe.native_quantization and pipe.index.kind == "multi"
    pipe.add(texts, ids=texts, payloads=[{"part": i % 2} for i in range(50)])
    exact = Pipeline(SetEncoder(), ExactIndex(metric="dot"), [muvera(15)])
    exact.add(texts, ids=texts, payloads=[{"part": i % 2} for i in range(50)])
    assert_same(pipe.search(q_texts, k=5, filter={"part": 0}), exact.search(q_texts, k=5, filter={"part": 0}))
    pipe.close()
    again = Pipeline(SetEncoder(), QdrantEdgeIndex(path=path, metric="dot"), [muvera(15)])
    assert_same(again.search(q_texts, k=5), exact.search(q_texts, k=5))
    again.close()
    # a plain multi-vector chain: refused when it reads or writes, nothing written
    plain = Pipeline(SetEncoder(), QdrantEdgeIndex(path=path, metric="dot"))
    message = (r"the qdrant-edge shard at .*shard holds MUVERA FDEs and token vectors \(fde \(dense, dim 256\), "
               r"tokens \(multi, dim 12\)\): open it with the spec that built it")
    with pytest.raises(EmbedspecError, match=message):
        plain.search(q_texts, k=5)
    with pytest.raises(EmbedspecError, match=message):
        plain.add(["d0"], ids=["x"])
    plain.close()
    # a dense chain: a located error when the pipeline is built
    dense = get_registry().get("encoder", "hashing").create({"dim": 12})
    with pytest.raises(EmbedspecError, match=r"index \(QdrantEdgeIndex\): the qdrant-edge shard at .* holds .*fde "
                       r"\(dense, dim 256\).*, but the spec's chain writes one unnamed dense"):
        Pipeline(dense, QdrantEdgeIndex(path=path, metric="dot"))
    # other muvera settings (another FDE size): a located error
    with pytest.raises(EmbedspecError, match=r"index \(QdrantEdgeIndex\): .*stored muvera state has r_reps 4"):
        Pipeline(SetEncoder(), QdrantEdgeIndex(path=path, metric="dot"),
                 [MuveraCompressor(k_sim=3, r_reps=2, dim_proj=8, rescore=True)])
    with QdrantEdgeIndex(path=path, metric="dot") as check:
        check.use_quantizer(muvera(15))
        assert check.count() == 50
    # muvera on a shard of plain multi-vectors: a located error
    other = str(tmp_path / "plain")
    with QdrantEdgeIndex(path=other, metric="dot") as index:
        index.upsert([1], MultiVectors.from_list([docs[0]]))
    with pytest.raises(EmbedspecError, match=r"index \(QdrantEdgeIndex\): the qdrant-edge shard at .*plain holds "
                       r"one unnamed vector \(multi, dim 12\), not MUVERA's FDE and token vectors"):
        Pipeline(SetEncoder(), QdrantEdgeIndex(path=other, metric="dot"), [muvera(15)])
    with pytest.raises(EmbedspecError, match="use metric cosine or dot"):
        QdrantEdgeIndex(path=str(tmp_path / "e"), metric="euclidean").use_quantizer(muvera(5))


def test_bad_input_optimize_and_read_only(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    docs, queries = sets(rng, 30), sets(rng, 3, max_len=4)
    path = str(tmp_path / "shard")
    want = reference("dot", 10, docs, list(range(30)), [None] * 30)
    with QdrantEdgeIndex(path=path, metric="dot") as edge:
        edge.use_quantizer(muvera(10))
        edge.upsert(list(range(30)), docs)
        with pytest.raises(TypeError, match="holds MUVERA FDEs of token vectors; vectors are dense vectors, not "
                           "multi-vectors"):
            edge.upsert([99], np.ones((1, 12), dtype=np.float32))
        with pytest.raises(EmbedspecError, match="vectors have dimension 5, expected 12"):
            edge.upsert([99], sets(rng, 1, dim=5))
        with pytest.raises(TypeError, match="queries are dense vectors"):
            edge.search(np.ones((1, 12), dtype=np.float32), k=3)
        assert edge.count() == 30
        edge.optimize()
        assert_same(edge.search(queries, k=6), want.search(queries, k=6))
    before = files(path)
    reader = QdrantEdgeIndex(path=path, metric="dot")
    reader.read_only = True
    reader.use_quantizer(muvera(10, seed=3))
    assert_same(reader.search(queries, k=6), want.search(queries, k=6))
    reader.close()
    assert files(path) == before  # a read-only open changes no file's content
    assert QdrantEdgeIndex(path=str(tmp_path / "empty"), metric="dot").use_quantizer(muvera(10)) is True
    from embedspec_qdrant.client import QdrantIndex

    with pytest.raises(EmbedspecError, match="QdrantIndex does not run MUVERA's two-stage search"):
        QdrantIndex(path=str(tmp_path / "client")).use_quantizer(muvera(10))
