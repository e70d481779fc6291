"""Conformance checks for what indexes do beyond dense vectors, each against a numpy reference:
MaxSim over multi-vectors, sparse dot products, and the id lookup resumed ingestion relies on::

    from embedspec.testing_indexes import check_multivector_index, check_sparse_index, check_contains

    def test_my_index():
        check_multivector_index(lambda: MyIndex(metric="dot"))

Each takes a zero-argument factory returning a fresh, empty index and raises ``ContractError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .protocols import Hit
from .representations import MultiVectors, SparseVectors
from .testing import ContractError, expect, expect_equal


def _expect_hits(got: list[list[Hit]], scores: np.ndarray, ids: list[Any], k: int, what: str) -> None:
    """Hits equal the reference ``scores (queries, points)``: same scores, ids equal up to ties."""
    for qi, (hits, row) in enumerate(zip(got, scores)):
        want = np.sort(row)[::-1][:k]
        have = np.array([h.score for h in hits], dtype=np.float64)
        expect(len(hits) == min(k, len(ids)), f"{what}: query {qi} got {len(hits)} hits, expected {min(k, len(ids))}")
        diff = float(np.abs(have - want).max()) if len(hits) else 0.0
        expect(diff <= 1e-4, f"{what}: query {qi} scores differ from the reference by {diff:.3g}")
        by_id = dict(zip(ids, row))
        for h in hits:
            expect(abs(by_id[h.id] - h.score) <= 1e-4, f"{what}: query {qi} hit {h.id!r} has score {h.score:.6f}, "
                   f"the reference {by_id[h.id]:.6f}")


def check_multivector_index(make_index: Callable[[], Any], dim: int = 8, *, seed: int = 0) -> None:
    """An index that ``accepts`` multi-vectors (metric dot): MaxSim search (sum over query vectors of
    the best document vector) equals a numpy reference, before and after a delete and a replace; a
    payload filter restricts the candidates; ragged widths are refused and write nothing."""
    rng = np.random.default_rng(seed)
    index = make_index()
    try:
        expect("multi" in getattr(index, "accepts", ()), f"{type(index).__name__} does not accept multi-vectors")
        ids: list[Any] = [f"doc-{i}" for i in range(12)]
        docs = [rng.standard_normal((int(rng.integers(1, 6)), dim)).astype(np.float32) for _ in ids]
        index.upsert(ids, MultiVectors.from_list(docs), [{"even": i % 2 == 0} for i in range(len(ids))])
        queries = [rng.standard_normal((int(rng.integers(1, 4)), dim)).astype(np.float32) for _ in range(4)]

        def reference(doc_list: list[np.ndarray]) -> np.ndarray:
            return np.array([[float((q @ d.T).max(axis=1).sum()) for d in doc_list] for q in queries])

        _expect_hits(index.search(MultiVectors.from_list(queries), k=5), reference(docs), ids, 5, "MaxSim search")
        index.delete([ids[0]])
        docs[1] = rng.standard_normal((2, dim)).astype(np.float32)
        index.upsert([ids[1]], MultiVectors.from_list([docs[1]]), [{"even": False}])
        kept_ids, kept = ids[1:], docs[1:]
        _expect_hits(index.search(MultiVectors.from_list(queries), k=4), reference(kept), kept_ids, 4,
                     "MaxSim search after a delete and a replace")
        even = [i for i, pid in enumerate(kept_ids) if int(pid.split("-")[1]) % 2 == 0]
        got = index.search(MultiVectors.from_list(queries), k=3, filter={"even": True})
        _expect_hits(got, reference([kept[i] for i in even]), [kept_ids[i] for i in even], 3, "filtered MaxSim search")
        before = index.count()
        try:
            index.upsert(["bad"], MultiVectors.from_list([np.ones((2, dim + 1))]))
        except (TypeError, ValueError):
            pass
        else:
            raise ContractError("multi-vectors of the wrong width were accepted, expected an error")
        expect_equal(index.count(), before, "count after a refused upsert")
    finally:
        index.close()


def check_sparse_index(make_index: Callable[[], Any], *, space: int = 1_000, seed: int = 0) -> None:
    """An index that ``accepts`` sparse vectors (no IDF modifier): search by sparse dot product equals
    a numpy reference, before and after a delete; a payload filter restricts the candidates."""
    rng = np.random.default_rng(seed)
    index = make_index()
    try:
        expect("sparse" in getattr(index, "accepts", ()), f"{type(index).__name__} does not accept sparse vectors")
        ids: list[Any] = list(range(15))
        dense = np.zeros((len(ids), space), dtype=np.float32)
        for row in dense:
            cols = rng.choice(40, size=int(rng.integers(1, 8)), replace=False)
            row[cols] = rng.random(cols.size).astype(np.float32) + 0.1
        rows = [(np.flatnonzero(r), r[np.flatnonzero(r)]) for r in dense]
        index.upsert(ids, SparseVectors.from_rows(rows, space), [{"low": i < 8} for i in ids])
        qdense = np.zeros((3, space), dtype=np.float32)
        for row in qdense:
            cols = rng.choice(40, size=3, replace=False)
            row[cols] = 1.0
        queries = SparseVectors.from_rows([(np.flatnonzero(r), r[np.flatnonzero(r)]) for r in qdense], space)
        scores = qdense @ dense.T
        positive = [[h for h in row if h.score > 0] for row in index.search(queries, k=5)]
        for qi, hits in enumerate(positive):  # documents sharing no term may be left out: compare those scored
            want = np.sort(scores[qi][scores[qi] > 0])[::-1][:5]
            have = np.array([h.score for h in hits])
            expect(len(have) == len(want) and (not len(want) or float(np.abs(have - want).max()) <= 1e-4),
                   f"sparse search: query {qi} scores {have.tolist()} differ from the reference {want.tolist()}")
        index.delete([int(np.argmax(scores[0]))])
        after = index.search(queries, k=15)
        expect(all(h.id != int(np.argmax(scores[0])) for h in after[0]), "a deleted point was returned")
        for h in index.search(queries, k=15, filter={"low": True})[0]:
            expect(h.id < 8, f"the filter low=true returned point {h.id}")
    finally:
        index.close()


def check_contains(make_index: Callable[[], Any], dim: int = 8, *, seed: int = 0) -> None:
    """Check ``contains(ids) -> list[bool]`` (what resumed ingestion relies on) on a fresh, empty index."""
    rng = np.random.default_rng(seed)
    index = make_index()
    try:
        expect(callable(getattr(index, "contains", None)), f"{type(index).__name__} has no contains(ids) method")
        expect(list(index.contains([])) == [], "contains([]) must return []")
        expect(list(index.contains([0, "a"])) == [False, False], "an empty index contains no id")
        ids: list[Any] = [0, 1, 7, "doc-a", "doc-b", "0" * 32]
        vecs = rng.standard_normal((len(ids), dim)).astype(np.float32)
        index.upsert(ids, vecs)
        asked: list[Any] = [7, "7", 0, "0", "doc-a", "doc-z", 2, "0" * 32, "doc-b", 1]
        want = [True, False, True, False, True, False, False, True, True, True]
        got = list(index.contains(asked))
        expect(got == want, f"contains({asked}) returned {got}, expected {want} (an int id and its string are different ids)")
        index.delete(["doc-a", 7])
        got = list(index.contains(["doc-a", 7, "doc-b"]))
        expect(got == [False, False, True], f"after delete, contains returned {got}, expected [False, False, True]")
        many = [f"absent-{i}" for i in range(2500)] + [1]
        got = list(index.contains(many))
        expect(len(got) == len(many) and got[-1] is True and not any(got[:-1]),
               "contains must answer every id of a large call, in order")
        for bad in ([1.5], [None], "doc-a"):
            try:
                index.contains(bad)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                pass
            else:
                raise ContractError(f"contains({bad!r}) must raise TypeError or ValueError")
    finally:
        index.close()
