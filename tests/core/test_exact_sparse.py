"""Sparse vectors in the ``exact`` index: dot / IDF-weighted search against a dense numpy reference,
upserts, deletes, filters, payloads, persistence and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from embedspec.builtin.exact import ExactIndex
from embedspec.errors import EmbedspecError
from embedspec.query import VectorSpec
from embedspec.representations import SparseVectors

DIM = 50


def random_sparse(rng: np.random.Generator, n: int, dim: int = DIM, density: float = 0.15) -> SparseVectors:
    dense = np.where(rng.random((n, dim)) < density, rng.random((n, dim)).astype(np.float32) + 0.1, 0.0)
    dense[np.arange(n), rng.integers(0, dim, n)] = 1.0  # every row has a term
    return to_sparse(dense)


def to_sparse(dense: np.ndarray) -> SparseVectors:
    return SparseVectors.from_rows([(np.flatnonzero(r), r[np.flatnonzero(r)]) for r in dense], dense.shape[1])


def densify(sv: SparseVectors) -> np.ndarray:
    out = np.zeros((len(sv), sv.dim))
    for i, (idx, val) in enumerate(sv):
        out[i, idx] = val
    return out


def reference(queries: np.ndarray, docs: np.ndarray, k: int, idf: bool) -> list[list[tuple[int, float]]]:
    """Best rows by (IDF-weighted) dot product among rows sharing a term; Lucene's IDF over ``docs``."""
    n = docs.shape[0]
    df = (docs != 0).sum(axis=0)
    weights = np.log1p((n - df + 0.5) / (df + 0.5)) if idf else np.ones(docs.shape[1])
    scores = (queries * weights) @ docs.T
    overlap = (queries != 0).astype(float) @ (docs != 0).T.astype(float) > 0
    out = []
    for qi in range(queries.shape[0]):
        rows = [r for r in np.argsort(-scores[qi], kind="stable") if overlap[qi, r]][:k]
        out.append([(int(r), float(scores[qi, r])) for r in rows])
    return out


def check_equal(hits, expected, ids, full=None) -> None:
    """Same scores in the same order; each hit's score is its reference score (ties may swap ids)."""
    assert len(hits) == len(expected)
    for qi, (got, want) in enumerate(zip(hits, expected)):
        assert [h.score for h in got] == pytest.approx([s for _, s in want], rel=1e-5, abs=1e-6)
        every = dict((ids[r], s) for r, s in (full[qi] if full is not None else want))
        assert [every.get(h.id) for h in got] == pytest.approx([h.score for h in got], rel=1e-5, abs=1e-6)


def sparse_index(modifier: str | None = "idf", **params) -> ExactIndex:
    index = ExactIndex(**params)
    index.bind_vectors({"": VectorSpec("sparse", DIM, "dot", modifier)})
    return index


@pytest.mark.parametrize("modifier", ["idf", None])
def test_search_equals_the_dense_reference(modifier):
    rng = np.random.default_rng(0)
    docs, queries = random_sparse(rng, 300), random_sparse(rng, 20, density=0.1)
    index = sparse_index(modifier)
    index.upsert(list(range(300)), docs)
    check_equal(index.search(queries, k=7), reference(densify(queries), densify(docs), 7, modifier == "idf"),
                list(range(300)))


def test_idf_is_kept_over_the_documents_held_after_upserts_and_deletes():
    """A hand example: N = 3, df(t0) = 2, then one document is deleted and another replaced."""
    index = sparse_index()
    docs = SparseVectors.from_rows([([0, 1], [1.0, 2.0]), ([0], [0.5]), ([2], [1.0])], DIM)
    index.upsert(["a", "b", "c"], docs)
    query = SparseVectors.from_rows([([0], [1.0])], DIM)
    idf = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))
    assert [(h.id, h.score) for h in index.search(query, k=5)[0]] == [("a", pytest.approx(idf)),
                                                                       ("b", pytest.approx(0.5 * idf))]
    index.delete(["b"])  # N = 2, df(t0) = 1
    idf = math.log(1 + (2 - 1 + 0.5) / (1 + 0.5))
    assert [(h.id, h.score) for h in index.search(query, k=5)[0]] == [("a", pytest.approx(idf))]
    index.upsert(["c"], SparseVectors.from_rows([([0], [3.0])], DIM))  # replaced: N = 2, df(t0) = 2
    idf = math.log(1 + (2 - 2 + 0.5) / (2 + 0.5))
    assert [(h.id, h.score) for h in index.search(query, k=5)[0]] == [("c", pytest.approx(3 * idf)),
                                                                       ("a", pytest.approx(idf))]
    index.delete(["a", "c"])
    assert index.count() == 0 and index.search(query, k=5) == [[]]


def test_random_upserts_and_deletes_match_the_reference(tmp_path):
    rng = np.random.default_rng(7)
    index = sparse_index(path=str(tmp_path / "idx"))
    held: dict[int, np.ndarray] = {}
    for step in range(25):
        ids = [int(i) for i in rng.choice(400, size=rng.integers(1, 60), replace=False)]
        batch = random_sparse(rng, len(ids))
        index.upsert(ids, batch, [{"even": i % 2 == 0, "i": i} for i in ids])
        held.update(zip(ids, densify(batch)))
        gone = [int(i) for i in rng.choice(400, size=rng.integers(0, 30), replace=False)]
        index.delete(gone)
        for i in gone:
            held.pop(i, None)
        if step % 8 == 7:  # persistence in between: flush, close, reopen
            index.close()
        order = sorted(held)
        docs = np.array([held[i] for i in order])
        queries = random_sparse(rng, 5, density=0.1)
        assert index.count() == len(held)
        full = reference(densify(queries), docs, len(order), True)
        check_equal(index.search(queries, k=10), [w[:10] for w in full], order, full)
        # a filter keeps the IDF over every document held and ranks only the matching ones
        even = {j for j, i in enumerate(order) if i % 2 == 0}
        want = [[(r, s) for r, s in w if r in even][:4] for w in full]
        check_equal(index.search(queries, k=4, filter={"even": True}), want, order, full)
        assert all(h.id % 2 == 0 for hits in index.search(queries, k=4, filter={"even": True}) for h in hits)
    first = held[order[0]]
    hit = index.search(SparseVectors.from_rows([(first.nonzero()[0], first[first != 0])], DIM), k=len(order))[0]
    assert {h.id: h.payload for h in hit}[order[0]] == {"even": order[0] % 2 == 0, "i": order[0]}
    index.close()


def test_snapshot_holds_csr_arrays_and_reopens(tmp_path):
    rng = np.random.default_rng(3)
    docs, queries = random_sparse(rng, 40), random_sparse(rng, 3)
    with sparse_index(path=str(tmp_path / "idx")) as index:
        index.upsert([f"d{i}" for i in range(40)], docs, [{"i": i} for i in range(40)])
        before = index.search(queries, k=5)
    files = sorted(p.name for p in (tmp_path / "idx").iterdir())
    sparse_dir = next(tmp_path.joinpath("idx").glob("sparse-*"))
    assert "manifest.json" in files and not any(f.startswith("vectors-") for f in files)
    with np.load(sparse_dir / "_default.npz", allow_pickle=False) as saved:
        np.testing.assert_array_equal(saved["indptr"], docs.indptr)
        np.testing.assert_array_equal(saved["indices"], docs.indices)
        np.testing.assert_array_equal(saved["values"], docs.values)
    reopened = ExactIndex.open(tmp_path / "idx")
    assert reopened.search(queries, k=5) == before
    assert [h.payload for h in reopened.search(queries, k=5)[0]] == [h.payload for h in before[0]]


def test_a_sparse_index_opened_by_a_dense_chain_and_the_reverse_are_errors(tmp_path):
    rng = np.random.default_rng(1)
    with sparse_index(path=str(tmp_path / "sparse")) as index:
        index.upsert([1, 2], random_sparse(rng, 2))
    dense = ExactIndex(path=str(tmp_path / "sparse"))
    with pytest.raises(EmbedspecError, match=r"the exact index at .*sparse holds one unnamed vector \(sparse, idf\), "
                       r"but the spec's chain writes one unnamed dense vector of dimension 8"):
        dense.bind_dim(8)
    dense.close()
    with ExactIndex(path=str(tmp_path / "dense")) as index:
        index.upsert([1], np.ones((1, 8), dtype=np.float32))
    other = ExactIndex(path=str(tmp_path / "dense"))
    with pytest.raises(EmbedspecError, match=r"holds one unnamed vector \(dense, dim 8\), but the spec writes "
                       r"one unnamed vector \(sparse, idf\)"):
        other.bind_vectors({"": VectorSpec("sparse", DIM, "dot", "idf")})
    other.close()


def test_bad_sparse_input_writes_nothing():
    index = sparse_index()
    index.upsert([1], SparseVectors.from_rows([([1, 2], [1.0, 1.0])], DIM))
    with pytest.raises(ValueError, match="input at position 1 has index 3 twice"):
        index.upsert([2, 3], SparseVectors.from_rows([([1], [1.0]), ([3, 3], [1.0, 2.0])], DIM))
    with pytest.raises(ValueError, match=r"input at position 0 has a negative index \(-4\)"):
        index.upsert([2], SparseVectors.from_rows([([-4], [1.0])], DIM))
    with pytest.raises(ValueError, match="got 2 ids for 1 vectors"):
        index.upsert([2, 3], SparseVectors.from_rows([([1], [1.0])], DIM))
    with pytest.raises(EmbedspecError, match="^sparse vectors are in a space of size 60, the index holds size 50$"):
        index.upsert([2], SparseVectors.from_rows([([1], [1.0])], 60))
    with pytest.raises(TypeError, match=r"at memory holds sparse vectors; vectors are dense vectors$"):
        index.upsert([2], np.ones((1, 4), dtype=np.float32))
    assert index.count() == 1


def test_queries_without_shared_terms_and_k_beyond_the_index():
    index = sparse_index()
    index.upsert(["x", "y"], SparseVectors.from_rows([([1], [1.0]), ([2], [2.0])], DIM))
    queries = SparseVectors.from_rows([([7], [1.0]), ([], []), ([1, 2], [1.0, 1.0])], DIM)
    hits = index.search(queries, k=50)
    assert hits[0] == [] and hits[1] == [] and [h.id for h in hits[2]] == ["y", "x"]


def test_fuzzed_named_upserts_write_nothing_or_everything():
    """Named vectors with wrong names, kinds, sizes or row counts are refused before anything is written."""
    rng = np.random.default_rng(11)
    index = ExactIndex(metric="dot")
    index.bind_vectors({"dense": VectorSpec("dense", 4, "dot"), "terms": VectorSpec("sparse", DIM, "dot", "idf")})
    held = 0
    for step in range(300):
        n = int(rng.integers(1, 4))
        parts: dict = {"dense": rng.random((n, 4)).astype(np.float32), "terms": random_sparse(rng, n)}
        broken = rng.integers(0, 7)
        if broken == 1:
            parts.pop(rng.choice(list(parts)))
        elif broken == 2:
            parts["title"] = parts["dense"]
        elif broken == 3:
            parts["dense"] = random_sparse(rng, n)
        elif broken == 4:
            parts["terms"] = random_sparse(rng, n, dim=DIM + 1)
        elif broken == 5:
            parts["dense"] = rng.random((n + 1, 4)).astype(np.float32)
        elif broken == 6:
            parts["dense"] = rng.random((n, 5)).astype(np.float32)
        ids = [f"p{step}-{i}" for i in range(n)]
        if broken:
            with pytest.raises((TypeError, ValueError)):
                index.upsert(ids, parts)
        else:
            index.upsert(ids, parts)
            held += n
        assert index.count() == held
    queries = {"dense": rng.random((2, 4)).astype(np.float32), "terms": random_sparse(rng, 2)}
    from embedspec.query import Fusion, Nearest

    hits = index.search(queries, k=5, plan=Fusion((Nearest("dense"), Nearest("terms"))))
    assert len(hits) == 2 and all(len(h) == 5 for h in hits)
    with pytest.raises(ValueError, match="the plan reads vector 'title', but the queries have 'dense', 'terms'"):
        index.search(queries, k=5, plan=Nearest("title"))
