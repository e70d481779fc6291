"""Pipeline.add: content ids, streaming with bounded memory, per-batch validation, partial writes."""

from __future__ import annotations

import threading

import embedspec
import numpy as np
import pytest
from embedspec import ingestion
from embedspec.builtin.exact import ExactIndex
from embedspec.documents import Document, as_documents, content_id
from embedspec.errors import PartialWriteError, ReadOnlyError

DOCS = ["alpha beta", "gamma delta", "epsilon zeta", "eta theta"]


def spec(**index):
    return {"version": 1, "encoder": {"type": "hashing", "dim": 128}, "index": {"type": "exact", **index}}


def test_add_after_delete_never_overwrites_a_live_document():
    with embedspec.build(spec()) as pipe:
        first = pipe.add(DOCS[:3])
        pipe.delete([first[0]])
        (new_id,) = pipe.add(["d"])
        assert new_id == content_id("d") and new_id not in first
        assert pipe.count() == 3
        hit = pipe.search([DOCS[2]], k=1)[0][0]
        assert hit.id == first[2], "the third document is still there"


def test_adding_the_same_documents_again_is_idempotent():
    with embedspec.build(spec()) as pipe:
        ids = pipe.add(DOCS, payloads=[{"n": i} for i in range(4)])
        again = pipe.add(DOCS, payloads=[{"n": i} for i in range(4)])
        assert ids == again and pipe.count() == 4
        pipe.add(["a new one"])
        assert pipe.count() == 5


def test_content_ids_are_stable_and_distinguish_kinds():
    assert content_id("alpha") == content_id("alpha") and len(content_id("alpha")) == 32
    assert content_id("alpha") != content_id("alpha ")
    assert content_id({"a": 1, "b": 2}) == content_id({"b": 2, "a": 1})  # records: canonical JSON
    assert content_id('{"a":1}') != content_id({"a": 1})  # a text is not the record it spells
    assert content_id(np.zeros(3, np.float32)) != content_id(np.zeros(3, np.float64))
    with pytest.raises(TypeError, match="pass ids"):
        content_id(object())


def test_a_string_where_a_list_is_expected_is_an_error():
    with embedspec.build(spec()) as pipe:
        with pytest.raises(TypeError, match="not a single str"):
            pipe.add("xyz")
        with pytest.raises(TypeError, match="not a single string"):
            pipe.search("xyz")
        with pytest.raises(TypeError, match="ids must be a list"):
            pipe.add(["x"], ids="a")
        assert pipe.count() == 0


def test_bad_ids_and_payloads_are_refused_by_position_before_writing():
    with embedspec.build(spec()) as pipe:
        for ids, match in (([1.5], "float"), ([True], "bool"), ([None], "NoneType"), ([""], "empty string")):
            with pytest.raises((TypeError, ValueError), match=match):
                pipe.add(["x"], ids=ids)
        with pytest.raises(ValueError, match="not JSON-serializable"):
            pipe.add(["x", "y"], payloads=[{"ok": 1}, {"bad": float("nan")}])
        with pytest.raises(ValueError, match="ended after 1 values"):
            pipe.add(["x", "y"], ids=["a"])
        with pytest.raises(ValueError, match="documents 0 and 2 have the same id 'a'"):
            pipe.add(["x", "y", "z"], ids=["a", "b", "a"])
        assert pipe.count() == 0


def test_duplicate_id_in_a_later_batch_reports_exactly_what_was_committed():
    with embedspec.build(spec()) as pipe:
        texts = [f"doc {i}" for i in range(10)]
        ids = [f"id{i}" for i in range(9)] + ["id2"]
        with pytest.raises(PartialWriteError) as exc:
            pipe.add(texts, ids=ids, batch_size=4)
        assert exc.value.committed == 8 and "8 document(s) were committed" in str(exc.value)
        assert pipe.count() == 8


def test_same_text_twice_without_ids_is_stored_once_unless_fields_differ():
    with embedspec.build(spec()) as pipe:
        ids = pipe.add(["x", "y", "x"])
        assert ids[0] == ids[2] and pipe.count() == 2
        with pytest.raises(ValueError, match="different payloads"):
            pipe.add(["z", "z"], payloads=[{"a": 1}, {"a": 2}])


def test_add_streams_an_iterator_one_batch_at_a_time(monkeypatch):
    consumed = []

    def corpus():
        for i in range(1000):
            consumed.append(i)
            yield f"document number {i}"

    seen_at_upsert = []
    real_upsert = ExactIndex.upsert

    def spy(self, ids, vectors, payloads=None):
        seen_at_upsert.append((len(consumed), len(ids)))
        return real_upsert(self, ids, vectors, payloads)

    monkeypatch.setattr(ExactIndex, "upsert", spy)
    with embedspec.build(spec()) as pipe:
        ids = pipe.add(corpus(), batch_size=64)
        assert len(ids) == 1000 and pipe.count() == 1000
    assert seen_at_upsert[0] == (64, 64), "the first batch is written before the second is read"
    assert all(read - 64 * (i + 1) <= 0 for i, (read, _) in enumerate(seen_at_upsert))


def test_unfitted_quantizer_buffers_a_bounded_sample_then_streams(monkeypatch):
    monkeypatch.setattr(ingestion, "FIT_SAMPLE", 200)
    upserts = []
    real_upsert = ExactIndex.upsert
    monkeypatch.setattr(ExactIndex, "upsert", lambda self, i, v, p=None: (upserts.append(len(i)), real_upsert(self, i, v, p)))
    with embedspec.build({**spec(), "compressors": [{"type": "int8"}]}) as pipe:
        pipe.add((f"text {i}" for i in range(500)), batch_size=50)
        assert pipe.quantizer.is_fitted and pipe.count() == 500
        top = pipe.search(["text 7"], k=1)[0][0]
        assert top.id == content_id("text 7")
    assert sum(upserts) == 500 and max(upserts) == 50


def test_documents_zip_strictly():
    docs = list(as_documents(["a", "b"], [1, 2], [None, {"x": 1}]))
    assert docs == [Document("a", 1, None), Document("b", 2, {"x": 1})]
    with pytest.raises(ValueError, match="items ended after 2 values"):
        list(as_documents(["a", "b"], [1, 2, 3]))


def test_read_only_pipeline_refuses_writes(tmp_path):
    with embedspec.build(spec(path=str(tmp_path / "idx"))) as pipe:
        pipe.add(DOCS)
    with embedspec.build(spec(path=str(tmp_path / "idx")), read_only=True) as reader:
        assert reader.count() == 4
        with pytest.raises(ReadOnlyError, match="opened read-only"):
            reader.add(["new"])
        with pytest.raises(ReadOnlyError):
            reader.delete([content_id(DOCS[0])])
    with embedspec.build(spec(path=str(tmp_path / "absent")), read_only=True) as reader:
        assert not reader.index.exists() and reader.count() == 0
    assert not (tmp_path / "absent").exists(), "a read-only build creates nothing"


def test_k_is_bounded_and_typed():
    with embedspec.build(spec()) as pipe:
        pipe.add(DOCS)
        for bad, err in ((0, ValueError), (-1, ValueError), (2**64, ValueError), (True, TypeError), (2.0, TypeError)):
            with pytest.raises(err, match="k must be"):
                pipe.search(["alpha"], k=bad)
        assert len(pipe.search(["alpha"], k=100)[0]) == 4


def test_threads_searching_while_another_writes_see_whole_points():
    """In-process readers of ``exact`` are safe: each hit's payload matches the vector it was found by."""
    index = ExactIndex(metric="dot")
    rng = np.random.default_rng(0)
    basis = np.eye(16, dtype=np.float32)
    index.upsert(list(range(16)), basis, [{"axis": i} for i in range(16)])
    errors: list[str] = []
    stop = threading.Event()

    def writer():
        for round_ in range(300):
            ids = rng.choice(16, size=4, replace=False).tolist()
            index.delete(ids[:2])
            index.upsert(ids, basis[ids], [{"axis": i, "round": round_} for i in ids])
        stop.set()

    def reader():
        while not stop.is_set():
            axis = int(rng.integers(16))
            for hit in index.search(basis[axis : axis + 1], k=16)[0]:
                if hit.payload["axis"] != hit.id:
                    errors.append(f"hit {hit.id} carries payload of axis {hit.payload['axis']}")

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    assert index.count() == 16
