"""Reliability of the embedded ``qdrant-edge`` index (and ``qdrant`` local mode where it applies):
reopen, crash recovery after SIGKILL, concurrent readers and a writer, rejected writes, deletes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from embedspec.errors import DimensionMismatchError
from embedspec_qdrant.client import QdrantIndex
from embedspec_qdrant.edge import QdrantEdgeIndex


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _ids(n: int) -> list:
    return [i if i % 2 else f"doc-{i}" for i in range(n)]


@pytest.mark.parametrize("kind", ["edge", "local"])
@pytest.mark.slow
def test_close_and_reopen_keeps_count_and_results(tmp_path, kind):
    n = 3000 if kind == "edge" else 300  # qdrant-client's local mode persists point by point: slow
    rng = np.random.default_rng(1)
    vecs, queries = _unit(rng, n, 16), _unit(rng, 20, 16)
    ids = _ids(n)
    payloads = [{"i": i, "lang": ["en", "fr"][i % 2]} for i in range(n)]

    def make():
        if kind == "edge":
            return QdrantEdgeIndex(path=str(tmp_path / "shard"), indexing_threshold_kb=10)
        return QdrantIndex(path=str(tmp_path / "local"))

    index = make()
    index.upsert(ids, vecs, payloads)
    if kind == "edge":
        assert index.optimize() is True  # 3000 x 16 floats > 10 KB: an HNSW segment is built
    before = index.search(queries, k=10, filter={"lang": "en"})
    index.close()

    reopened = make()
    assert reopened.count() == n
    assert reopened.dim == 16  # read back from the stored shard / collection
    after = reopened.search(queries, k=10, filter={"lang": "en"})
    assert [[h.id for h in row] for row in after] == [[h.id for h in row] for row in before]
    assert np.allclose([[h.score for h in r] for r in after], [[h.score for h in r] for r in before], atol=1e-6)
    assert after[0][0].payload == payloads[ids.index(after[0][0].id)]
    reopened.close()


WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    from embedspec_qdrant.edge import QdrantEdgeIndex
    index = QdrantEdgeIndex(path=sys.argv[1], dim=32, indexing_threshold_kb=50)
    batch = 0
    while True:
        vecs = np.random.default_rng(batch).standard_normal((250, 32)).astype(np.float32)
        ids = [f"p{batch}-{j}" for j in range(250)]
        index.upsert(ids, vecs, [{"batch": batch, "j": j} for j in range(250)])
        index.flush()
        print("ACK", (batch + 1) * 250, flush=True)
        if batch == 8:
            index.optimize()  # the recovery must also replay the log on top of optimized segments
        batch += 1
    """
)


@pytest.mark.slow
def test_sigkill_during_ingestion_keeps_every_acknowledged_point(tmp_path):
    path = str(tmp_path / "shard")
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, path], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    acked = 0
    try:
        deadline = time.monotonic() + 120
        while acked < 6000 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked = int(line.split()[1])
        time.sleep(0.05)  # let it get into the middle of the next upsert
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        for line in proc.stdout:  # ACKs printed between the last read and the kill count too
            acked = int(line.split()[1])
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert acked >= 6000, "the writer did not get far enough before the deadline"

    index = QdrantEdgeIndex(path=path, exact=True)
    assert index.count() >= acked
    n_batches = acked // 250
    for batch in range(n_batches):
        vecs = np.random.default_rng(batch).standard_normal((250, 32)).astype(np.float32)
        hits = index.search(vecs, k=1)
        assert [row[0].id for row in hits] == [f"p{batch}-{j}" for j in range(250)], f"batch {batch} lost"
        assert hits[7][0].payload == {"batch": batch, "j": 7}
        assert hits[7][0].score == pytest.approx(1.0, abs=1e-5)
    # the recovered shard takes new writes and searches with HNSW
    index.upsert(["after-crash"], np.ones((1, 32), dtype=np.float32))
    index.close()
    hnsw = QdrantEdgeIndex(path=path)
    assert hnsw.count() >= acked + 1
    assert hnsw.search(np.ones((1, 32), dtype=np.float32), k=1)[0][0].id == "after-crash"
    hnsw.close()


@pytest.mark.slow
def test_readers_during_writes_see_whole_points(tmp_path):
    """Every hit's payload carries its vector: a score that disagrees with it is a partial point."""
    index = QdrantEdgeIndex(path=str(tmp_path / "shard"), dim=8, indexing_threshold_kb=20, optimize_after=3000)
    rng = np.random.default_rng(7)
    index.upsert(list(range(500)), _unit(rng, 500, 8), [{"vec": [0.0] * 8, "v": -1}] * 500)
    index.upsert(list(range(500)), v := _unit(rng, 500, 8), [{"vec": r.tolist(), "v": 0} for r in v])
    errors: list[str] = []
    stop = threading.Event()
    checked = [0]

    def reader(seed: int) -> None:
        r = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                q = _unit(r, 4, 8)
                for qi, row in zip(q, index.search(q, k=10)):
                    for hit in row:
                        vec = np.asarray(hit.payload["vec"], dtype=np.float32)
                        if abs(float(qi @ vec) - hit.score) > 1e-4:
                            errors.append(f"id {hit.id}: score {hit.score} but payload vector gives {qi @ vec}")
                        checked[0] += 1
        except Exception as exc:  # any error in a reader fails the test
            errors.append(repr(exc))

    threads = [threading.Thread(target=reader, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    try:
        for version in range(1, 30):
            ids = [int(i) for i in rng.choice(5000, size=300, replace=False)]  # new and existing ids
            vecs = _unit(rng, 300, 8)
            index.upsert(ids, vecs, [{"vec": r.tolist(), "v": version} for r in vecs])
            if version % 10 == 0:
                index.delete(ids[:20])
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[:5]
    assert checked[0] > 100
    index.close()


@pytest.mark.parametrize("kind", ["edge", "memory"])
def test_rejected_upserts_write_nothing(tmp_path, kind):
    index = (
        QdrantEdgeIndex(path=str(tmp_path / "shard"), dim=4) if kind == "edge" else QdrantIndex(location=":memory:", dim=4)
    )
    index.upsert(["a", "b"], np.eye(2, 4, dtype=np.float32))
    with pytest.raises(DimensionMismatchError, match="dimension 5, expected 4"):
        index.upsert(["c"], np.ones((1, 5), dtype=np.float32))
    bad = np.ones((3, 4), dtype=np.float32)
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite values .*row 2, column 1"):
        index.upsert(["c", "d", "e"], bad)
    with pytest.raises(ValueError, match="position 1 uses the reserved key '_embedspec_id'"):
        index.upsert(["c", "d"], np.ones((2, 4), dtype=np.float32), [{}, {"_embedspec_id": 3}])
    with pytest.raises(ValueError, match="position 0 is not JSON-serializable"):
        index.upsert(["c"], np.ones((1, 4), dtype=np.float32), [{"x": object()}])
    assert index.count() == 2
    assert {h.id for h in index.search(np.ones((1, 4), dtype=np.float32), k=10)[0]} == {"a", "b"}
    index.close()


def test_existing_shard_fixes_the_dimension(tmp_path):
    path = str(tmp_path / "shard")
    index = QdrantEdgeIndex(path=path)
    index.bind_dim(6)
    assert not os.path.exists(path), "the shard is created on first use, not at bind time"
    index.upsert([1], np.ones((1, 6), dtype=np.float32))
    index.close()
    with pytest.raises(DimensionMismatchError, match="holds vectors of dimension 6, the chain produces 7"):
        QdrantEdgeIndex(path=path).bind_dim(7)
    with pytest.raises(DimensionMismatchError, match="dimension 6, not 5"):
        QdrantEdgeIndex(path=path, dim=5).count()
    again = QdrantEdgeIndex(path=path)  # no dim given: the stored one applies to input checks
    with pytest.raises(DimensionMismatchError, match="dimension 3, expected 6"):
        again.upsert([2], np.ones((1, 3), dtype=np.float32))
    assert again.count() == 1
    again.close()
    with pytest.raises(Exception, match="distance Cosine, but metric is 'dot'"):
        QdrantEdgeIndex(path=path, metric="dot").count()


def test_deleted_never_returned_and_upsert_replaces_across_optimize_and_reopen(tmp_path):
    path = str(tmp_path / "shard")
    rng = np.random.default_rng(3)
    vecs = _unit(rng, 2000, 16)
    ids = _ids(2000)
    index = QdrantEdgeIndex(path=path, indexing_threshold_kb=10)
    index.upsert(ids, vecs, [{"i": i} for i in range(2000)])
    deleted = ids[:300]
    index.delete(deleted)
    index.delete(["never-existed"])
    index.upsert([ids[500]], -vecs[500:501], [{"replaced": True}])
    assert index.count() == 1700
    for stage in ("before optimize", "after optimize", "after reopen"):
        if stage == "after optimize":
            index.optimize()
        if stage == "after reopen":
            index.close()
            index = QdrantEdgeIndex(path=path)
        rows = index.search(vecs[:400], k=20)
        returned = {h.id for row in rows for h in row}
        assert not returned & set(deleted), stage
        top = index.search(-vecs[500:501], k=1)[0][0]
        assert (top.id, top.payload) == (ids[500], {"replaced": True}), stage
        assert top.score == pytest.approx(1.0, abs=1e-5)
        assert index.count() == 1700, stage
    index.close()


def test_qdrant_local_collection_fixes_dimension_and_metric(tmp_path):
    index = QdrantIndex(path=str(tmp_path / "local"), collection="c")
    index.upsert(["x"], np.ones((1, 6), dtype=np.float32), [{"a": 1}])
    index.close()
    with pytest.raises(DimensionMismatchError, match="collection 'c' holds vectors of dimension 6, not 7"):
        QdrantIndex(path=str(tmp_path / "local"), collection="c").bind_dim(7)
    with pytest.raises(Exception, match="but metric is 'euclidean'"):
        QdrantIndex(path=str(tmp_path / "local"), collection="c", metric="euclidean").count()
    reopened = QdrantIndex(path=str(tmp_path / "local"), collection="c")
    assert reopened.count() == 1 and reopened.dim == 6
    assert reopened.search(np.ones((1, 6), dtype=np.float32), k=1)[0][0].payload == {"a": 1}
    reopened.close()


def test_concurrent_first_use_opens_the_shard_once(tmp_path):
    path = str(tmp_path / "shard")
    first = QdrantEdgeIndex(path=path, dim=4)
    first.upsert([1, 2], np.eye(2, 4, dtype=np.float32))
    first.close()
    index = QdrantEdgeIndex(path=path)
    errors: list[str] = []

    def use() -> None:
        try:
            assert index.count() == 2
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=use) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    index.close()
