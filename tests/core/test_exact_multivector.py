"""``exact`` with multi-vectors: MaxSim against a hand-written reference, filters, ids, deletes,
snapshots, kind checks, bad input (nothing written) and a fuzz of random operations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from embedspec.builtin import maxsim
from embedspec.builtin.exact import ExactIndex
from embedspec.errors import DimensionMismatchError, EmbedspecError, SpecError
from embedspec.representations import MultiVectors


def reference_maxsim(query: np.ndarray, doc: np.ndarray) -> float:
    """Sum over query vectors of the best dot product with a document vector, by plain loops."""
    total = 0.0
    for q in query.tolist():
        total += max(sum(a * b for a, b in zip(q, d)) for d in doc.tolist())
    return total


def random_sets(rng: np.random.Generator, n: int, dim: int, max_len: int = 9, unit: bool = True) -> MultiVectors:
    arrays = []
    for _ in range(n):
        a = rng.normal(size=(int(rng.integers(1, max_len + 1)), dim)).astype(np.float32)
        arrays.append(a / np.linalg.norm(a, axis=1, keepdims=True) if unit else a)
    return MultiVectors.from_list(arrays)


def reference_top(queries: MultiVectors, docs: dict, k: int) -> list[list[tuple[object, float]]]:
    out = []
    for q in queries:
        scored = sorted(((reference_maxsim(q, d), pid) for pid, d in docs.items()), key=lambda t: -t[0])
        out.append([(pid, s) for s, pid in scored[:k]])
    return out


def assert_hits(hits: list, expected: list, atol: float = 1e-4) -> None:
    assert len(hits) == len(expected)
    for got, want in zip(hits, expected):
        assert [h.id for h in got] == [pid for pid, _ in want]
        np.testing.assert_allclose([h.score for h in got], [s for _, s in want], atol=atol)


@pytest.mark.parametrize("metric", ["dot", "cosine"])
def test_maxsim_equals_the_reference(metric: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(maxsim, "SCORE_ELEMENTS", 97)  # many tiny document blocks
    monkeypatch.setattr(maxsim, "QUERY_BLOCK", 3)
    rng = np.random.default_rng(7)
    docs = random_sets(rng, 40, 8, unit=metric == "cosine")
    queries = random_sets(rng, 7, 8, max_len=5, unit=metric == "cosine")
    index = ExactIndex(metric=metric)
    ids = [f"d{i}" for i in range(40)]
    index.upsert(ids, docs, [{"even": i % 2 == 0} for i in range(40)])
    assert index.count() == 40 and index.kind == "multi" and index.dim == 8
    assert_hits(index.search(queries, k=10), reference_top(queries, dict(zip(ids, docs)), 10))
    # the full score matrix too
    full = maxsim.maxsim_scores(queries, docs.data, docs.offsets)
    expected = np.array([[reference_maxsim(q, d) for d in docs] for q in queries])
    np.testing.assert_allclose(full, expected, atol=1e-4)
    # filters and payloads as for dense vectors
    hits = index.search(queries, k=5, filter={"even": True})
    even = {pid: d for i, (pid, d) in enumerate(zip(ids, docs)) if i % 2 == 0}
    assert_hits(hits, reference_top(queries, even, 5))
    assert all(h.payload == {"even": True} for row in hits for h in row)


def test_cosine_normalizes_each_vector() -> None:
    rng = np.random.default_rng(1)
    raw = random_sets(rng, 5, 4, unit=False)
    unit = MultiVectors(raw.data / np.linalg.norm(raw.data, axis=1, keepdims=True), raw.offsets)
    q = random_sets(rng, 2, 4, unit=False)
    a, b = ExactIndex(metric="cosine"), ExactIndex(metric="cosine")
    a.upsert(list(range(5)), raw)
    b.upsert(list(range(5)), unit)
    assert [[(h.id, round(h.score, 5)) for h in r] for r in a.search(q, k=5)] == \
        [[(h.id, round(h.score, 5)) for h in r] for r in b.search(q, k=5)]


def test_ids_replacements_and_deletes() -> None:
    rng = np.random.default_rng(3)
    docs = random_sets(rng, 12, 6)
    index = ExactIndex(metric="dot")
    ids: list = [1, "two", 3, "four", 5, 6, 7, 8, 9, 10, 11, 12]
    index.upsert(ids, docs)
    model = dict(zip(ids, docs))
    new = random_sets(rng, 2, 6, max_len=15)
    index.upsert(["two", 99], new)  # one replaced (a longer or shorter set), one new
    model.update({"two": new[0], 99: new[1]})
    index.delete([1, "four", "absent"])
    del model[1], model["four"]
    queries = random_sets(rng, 4, 6)
    assert index.count() == len(model)
    assert_hits(index.search(queries, k=20), reference_top(queries, model, 20))
    assert index.contains(["two", 1, 99]) == [True, False, True]


def test_snapshot_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    docs, queries = random_sets(rng, 30, 8), random_sets(rng, 3, 8)
    path = tmp_path / "idx"
    with ExactIndex(path=str(path), metric="cosine") as index:
        index.upsert(list(range(30)), docs, [{"i": i} for i in range(30)])
        index.delete([0, 5])
        before = index.search(queries, k=7)
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["kind"] == "multi" and manifest["dim"] == 8 and manifest["count"] == 28
    assert {"tokens", "token_offsets", "records"} <= set(manifest["files"])
    offsets = np.load(path / manifest["files"]["token_offsets"])
    assert offsets[-1] == sum(len(d) for i, d in enumerate(docs) if i not in (0, 5))
    for reopened in (ExactIndex(path=str(path), metric="cosine"), ExactIndex.open(path)):
        after = reopened.search(queries, k=7)
        assert [[(h.id, h.payload) for h in r] for r in after] == [[(h.id, h.payload) for h in r] for r in before]
        np.testing.assert_allclose([h.score for r in after for h in r], [h.score for r in before for h in r], atol=1e-6)
        assert reopened.kind == "multi"
        reopened.close()


def test_a_multi_vector_index_opened_by_a_dense_spec_is_a_located_error(tmp_path: Path) -> None:
    from embedspec.pipeline import build

    path = tmp_path / "idx"
    with ExactIndex(path=str(path)) as index:
        index.upsert(["a"], MultiVectors.from_list([np.ones((2, 16), dtype=np.float32)]))
    spec = {"version": 1, "encoder": {"type": "hashing", "dim": 16}, "index": {"type": "exact", "path": str(path)}}
    with pytest.raises(SpecError, match=r"index \(exact\): the exact index at .* holds multi-vectors \(dimension 16\), "
                       r"but the spec's chain produces dense vectors"):
        build(spec)
    # and the reverse: a dense index bound to multi-vectors
    dense = tmp_path / "dense"
    with ExactIndex(path=str(dense)) as index:
        index.upsert(["a"], np.ones((1, 16), dtype=np.float32))
    with pytest.raises(EmbedspecError, match="holds dense vectors .* produces multi-vectors"):
        ExactIndex(path=str(dense)).bind_kind("multi")
    with pytest.raises(EmbedspecError, match="use metric cosine or dot"):
        ExactIndex(metric="euclidean").bind_kind("multi")


def test_bad_input_writes_nothing(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    docs = random_sets(rng, 5, 4)
    index = ExactIndex(path=str(tmp_path / "idx"))
    index.upsert(list(range(5)), docs)
    index.flush()
    q = random_sets(rng, 2, 4)
    before = index.search(q, k=5)
    bad_nan = np.ones((3, 4), dtype=np.float32)
    bad_nan[1, 2] = np.nan
    cases = [
        (lambda: index.upsert([7, 8], MultiVectors.from_list([np.ones((2, 4)), np.ones((1, 5))])),
         DimensionMismatchError, "input at position 1 has vectors of dimension 5, expected 4"),
        (lambda: index.upsert([7, 8], MultiVectors.from_list([np.ones((2, 4)), bad_nan])),
         ValueError, r"input at position 1 has NaN or infinite values \(its vector 1\)"),
        (lambda: index.upsert([7, 8], MultiVectors.from_list([np.ones((2, 4)), np.zeros((0, 4))])),
         ValueError, "input at position 1 has no vectors"),
        (lambda: index.upsert([7], MultiVectors.from_list([np.ones((2, 8))])),
         DimensionMismatchError, "vectors have dimension 8, expected 4"),
        (lambda: index.upsert([7], np.ones((1, 4), dtype=np.float32)), TypeError, "holds multi-vectors; vectors are dense"),
        (lambda: index.upsert([7, 7], MultiVectors.from_list([np.ones((1, 4))] * 2)), ValueError, "appears more than once"),
        (lambda: index.upsert([7], MultiVectors.from_list([np.ones((1, 4))] * 2)), ValueError, "got 1 ids for 2 vectors"),
        (lambda: index.search(np.ones((1, 4), dtype=np.float32)), TypeError, "holds multi-vectors; queries are dense"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
        assert index.count() == 5
    assert [[h.id for h in r] for r in index.search(q, k=5)] == [[h.id for h in r] for r in before]
    index.close()
    assert ExactIndex.open(tmp_path / "idx").count() == 5


def test_fuzz_random_operations_match_a_reference_model() -> None:
    rng = np.random.default_rng(2026)
    for trial in range(6):
        dim = int(rng.integers(2, 9))
        index, model = ExactIndex(metric="dot"), {}
        for _ in range(int(rng.integers(5, 15))):
            op = rng.random()
            if op < 0.6 or not model:
                n = int(rng.integers(1, 6))
                pool = list(model) + [int(x) for x in rng.integers(0, 40, size=n)]
                ids = list(dict.fromkeys(rng.choice(np.array(pool, dtype=object), size=n).tolist()))
                sets = random_sets(rng, len(ids), dim, max_len=int(rng.integers(1, 12)))
                index.upsert(ids, sets)
                model.update(zip(ids, sets))
            else:
                gone = rng.choice(np.array(list(model), dtype=object), size=min(len(model), 2), replace=False).tolist()
                index.delete(gone)
                for pid in gone:
                    model.pop(pid)
            assert index.count() == len(model)
        if model:
            queries = random_sets(rng, 3, dim, max_len=4)
            k = int(rng.integers(1, len(model) + 2))
            expected = reference_top(queries, model, k)
            hits = index.search(queries, k=k)
            for got, want in zip(hits, expected):  # ties may order differently: compare scores, then sets
                np.testing.assert_allclose([h.score for h in got], [s for _, s in want], atol=1e-4, err_msg=str(trial))
                for h in got:
                    assert abs(reference_maxsim(queries[hits.index(got)], model[h.id]) - h.score) < 1e-4
