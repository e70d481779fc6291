"""The ``exact`` index: conformance, a numpy reference, persistence, atomic writes, bad input."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from embedspec.base import l2_normalize
from embedspec.builtin.exact import ExactIndex, ExactIndexConfig
from embedspec.builtin.similarity import blockwise_top_k, pairwise_scores, top_k
from embedspec.errors import DimensionMismatchError, EmbedspecError
from embedspec.filters import parse_filter
from embedspec.testing import check_index

RNG = np.random.default_rng(0)
N, DIM = 200, 16
VECS = RNG.standard_normal((N, DIM)).astype(np.float32)
IDS = [i if i % 2 else f"s{i}" for i in range(N)]
PAYLOADS = [{"year": 1990 + i % 30, "lang": ["en", "de", "fr"][i % 3], "meta": {"even": i % 2 == 0}} for i in range(N)]
QUERIES = RNG.standard_normal((6, DIM)).astype(np.float32)


def reference(queries: np.ndarray, k: int, metric: str, flt=None) -> list[list[tuple[object, float]]]:
    """Brute force in float64: (id, score) best first."""
    X, Q = VECS.astype(np.float64), queries.astype(np.float64)
    if metric == "cosine":
        X, Q = X / np.linalg.norm(X, axis=1, keepdims=True), Q / np.linalg.norm(Q, axis=1, keepdims=True)
    scores = -np.linalg.norm(Q[:, None] - X[None], axis=2) if metric == "euclidean" else Q @ X.T
    allowed = [i for i in range(N) if flt is None or parse_filter(flt).matches(PAYLOADS[i])]
    return [sorted(((IDS[i], row[i]) for i in allowed), key=lambda t: -t[1])[:k] for row in scores]


def filled(**kw) -> ExactIndex:
    index = ExactIndex(**kw)
    index.upsert(IDS, VECS, PAYLOADS)
    return index


def as_pairs(hits) -> list[list[tuple[object, float]]]:
    return [[(h.id, h.score) for h in row] for row in hits]


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_conformance(metric: str, tmp_path) -> None:
    check_index(lambda: ExactIndex(metric=metric))
    check_index(lambda: ExactIndex(path=str(tmp_path / metric), metric=metric))


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
@pytest.mark.parametrize("flt", [None, {"lang": "de"}, {"year": {"gte": 2000, "lt": 2005}, "meta.even": True}])
def test_equals_numpy_reference(metric: str, flt) -> None:
    got = as_pairs(filled(metric=metric).search(QUERIES, k=7, filter=flt))
    want = reference(QUERIES, 7, metric, flt)
    assert [[i for i, _ in row] for row in got] == [[i for i, _ in row] for row in want]
    np.testing.assert_allclose([[s for _, s in r] for r in got], [[s for _, s in r] for r in want], atol=1e-4)


def test_k_larger_than_the_index_and_empty_results() -> None:
    index = filled(metric="dot")
    assert [len(r) for r in index.search(QUERIES[:2], k=N + 50)] == [N, N]
    assert index.search(QUERIES[:2], k=3, filter={"lang": "xx"}) == [[], []]
    assert ExactIndex().search(QUERIES[:2], k=3) == [[], []]


def test_blockwise_top_k_equals_full_sort() -> None:
    scores = RNG.standard_normal((37, 1000)).astype(np.float32)
    idx, vals = blockwise_top_k(
        lambda q, a, b: scores[q.astype(int)[:, 0]][:, a:b],
        np.arange(37.0)[:, None],
        1000,
        15,
        row_block=64,
        query_block=5,
    )
    want_idx, want_vals = top_k(scores, 15)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(vals, want_vals)
    np.testing.assert_array_equal(want_idx, np.argsort(-scores, axis=1)[:, :15])


def test_pairwise_scores_euclidean_is_negated_distance() -> None:
    want = -np.linalg.norm(QUERIES[:, None] - VECS[None], axis=2)
    np.testing.assert_allclose(pairwise_scores(QUERIES, VECS, "euclidean"), want, atol=1e-4)


def test_persistence_round_trip_keeps_types_and_results(tmp_path) -> None:
    path = tmp_path / "idx"
    index = filled(path=str(path), metric="euclidean")
    index.delete([1, "s2"])
    before = index.search(QUERIES, k=5, filter={"lang": {"any": ["en", "fr"]}})
    index.close()
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["count"] == N - 2 and manifest["metric"] == "euclidean" and manifest["dim"] == DIM
    records = json.loads((path / manifest["files"]["records"]).read_text())
    assert records["ids"][:2] == ["s0", 199]  # row 1 was refilled by the last point; int stays int
    reopened = ExactIndex.open(path)
    assert reopened.metric == "euclidean" and reopened.dim == DIM and reopened.count() == N - 2
    assert reopened.search(QUERIES, k=5, filter={"lang": {"any": ["en", "fr"]}}) == before
    np.testing.assert_allclose(np.load(path / manifest["files"]["vectors"])[0], VECS[0])
    # the same directory through the constructor (as a spec would)
    again = ExactIndex(path=str(path), metric="euclidean")
    assert again.count() == N - 2
    top = again.search(QUERIES[:1], k=1, filter={"lang": {"any": ["en", "fr"]}})[0][0]
    assert top.id == before[0][0].id and top.score == pytest.approx(before[0][0].score, abs=1e-5)


def test_close_then_reuse_reloads(tmp_path) -> None:
    with ExactIndex(path=str(tmp_path / "idx")) as index:
        index.upsert(["a"], VECS[:1], [{"x": 1}])
    assert index.count() == 1  # reloaded from disk after close
    index.upsert(["b"], VECS[1:2])
    index.flush()
    assert ExactIndex.open(tmp_path / "idx").count() == 2
    assert sorted(p.name for p in (tmp_path / "idx").iterdir() if not p.name.startswith(".")) == [
        "manifest.json",
        "records-000002.json",
        "vectors-000002.npy",
    ]  # old generation removed


def test_crash_during_write_keeps_the_old_index(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "idx"
    index = filled(path=str(path))
    index.flush()
    expected = ExactIndex.open(path).search(QUERIES, k=5)
    index.upsert(["new"], VECS[:1] * -1, [{"new": True}])
    index.delete(IDS[:50])
    real_replace = os.replace

    def crash_on_manifest(src, dst, *args, **kwargs):  # the records JSON is renamed, then the manifest
        if str(dst).endswith("manifest.json"):
            raise OSError("simulated crash while switching the manifest")
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", crash_on_manifest)
    with pytest.raises(OSError, match="simulated crash"):
        index.flush()
    monkeypatch.setattr(os, "replace", real_replace)
    assert any(p.name.startswith("vectors-000002") for p in path.iterdir())  # new files were written...
    survivor = ExactIndex.open(path)  # ...but the manifest still names the old ones
    assert survivor.count() == N and survivor.search(QUERIES, k=5) == expected
    index.flush()  # a later flush completes and removes the leftovers
    assert ExactIndex.open(path).count() == N - 50 + 1
    assert not [p for p in path.iterdir() if "000001" in p.name or p.name.endswith(".tmp")]


def test_crash_on_first_records_write(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "idx"
    filled(path=str(path)).close()
    index = ExactIndex.open(path, read_only=False)
    index.delete(IDS[:10])

    def crash(src, dst, *args, **kwargs):
        raise OSError("simulated crash on the first rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        index.flush()
    monkeypatch.undo()
    assert ExactIndex.open(path).count() == N
    assert not [p for p in path.iterdir() if p.name.endswith(".tmp")]


def test_missing_directory_on_open(tmp_path) -> None:
    with pytest.raises(EmbedspecError, match=r"directory .*nowhere does not exist; create a new one with ExactIndex"):
        ExactIndex.open(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmbedspecError, match="manifest.json is missing"):
        ExactIndex.open(tmp_path / "empty")


def test_refuses_foreign_directory_and_mismatches(tmp_path) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(EmbedspecError, match=r"not an exact index .*notes\.txt"):
        ExactIndex(path=str(tmp_path / "other")).count()
    filled(path=str(tmp_path / "idx"), metric="dot").close()
    with pytest.raises(EmbedspecError, match="built with metric 'dot', but metric 'cosine'"):
        ExactIndex(path=str(tmp_path / "idx"), metric="cosine").count()
    with pytest.raises(DimensionMismatchError, match="dimension 16, expected 8"):
        ExactIndex(path=str(tmp_path / "idx"), metric="dot", dim=8).count()
    with pytest.raises(DimensionMismatchError):
        ExactIndex.open(tmp_path / "idx").bind_dim(8)


def test_nan_and_bad_payloads_write_nothing(tmp_path) -> None:
    path = tmp_path / "idx"
    index = filled(path=str(path))
    index.flush()
    files = sorted(p.name for p in path.iterdir())
    bad = VECS[:3].copy()
    bad[2, 5] = np.inf
    with pytest.raises(ValueError, match="row 2, column 5"):
        index.upsert(["x", "y", "z"], bad)
    with pytest.raises(ValueError, match="payload at position 1 is not JSON-serializable"):
        index.upsert(["x", "y"], VECS[:2], [{"ok": 1}, {"bad": object()}])
    with pytest.raises(TypeError, match="payload at position 0 is list"):
        index.upsert(["x"], VECS[:1], [[1, 2]])
    assert index.count() == N
    index.flush()  # nothing changed: nothing rewritten
    assert sorted(p.name for p in path.iterdir()) == files


def test_payloads_are_copies() -> None:
    payload = {"tags": ["a"]}
    index = ExactIndex()
    index.upsert([1], VECS[:1], [payload])
    payload["tags"].append("b")
    hit = index.search(VECS[:1], k=1)[0][0]
    hit.payload["tags"].append("c")
    assert index.search(VECS[:1], k=1)[0][0].payload == {"tags": ["a"]}


def test_config_model() -> None:
    assert ExactIndexConfig().model_dump() == {"path": None, "metric": "cosine", "dim": None}
    with pytest.raises(ValueError, match="metric"):
        ExactIndexConfig(metric="manhattan")
    with pytest.raises(ValueError, match="ExactIndex: metric: Input should be 'cosine', 'dot' or 'euclidean' .got 'manhattan'"):
        ExactIndex(metric="manhattan")


def test_cosine_stores_normalized_vectors() -> None:
    index = filled()
    np.testing.assert_allclose(index._vectors[:N], l2_normalize(VECS), atol=1e-6)


def test_empty_index_round_trip(tmp_path) -> None:
    index = ExactIndex(path=str(tmp_path / "idx"), metric="dot")
    assert index.count() == 0
    index.close()
    reopened = ExactIndex.open(tmp_path / "idx", read_only=False)
    assert reopened.metric == "dot" and reopened.dim is None and reopened.count() == 0
    assert reopened.search(QUERIES[:1], k=3) == [[]]
    reopened.upsert(["a"], VECS[:1])
    assert reopened.search(VECS[:1], k=3)[0][0].id == "a"
