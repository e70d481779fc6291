"""Acknowledged writes survive SIGKILL; SIGTERM drains, flushes and closes (real server processes)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import yaml
from serving import httpx


def write_spec(tmp_path: Path) -> Path:
    spec = {"version": 1, "encoder": {"type": "hashing", "dim": 64},
            "index": {"type": "exact", "path": str(tmp_path / "index")}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def test_sigkill_then_restart_serves_every_acknowledged_write(tmp_path: Path, server_process: Any) -> None:
    spec = write_spec(tmp_path)
    server = server_process(spec)
    acknowledged: dict[str, str] = {}
    stop = threading.Event()

    def writer(w: int) -> None:  # writes until the server dies; records what was answered 200
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for i in range(10_000):
                if stop.is_set():
                    return
                records = [{"id": f"w{w}-{i}-{j}", "text": f"writer {w} batch {i} item {j} word{i * 7 + j}"}
                           for j in range(3)]
                try:
                    response = client.post("/v1/documents", json={"records": records})
                except httpx.HTTPError:
                    return
                if response.status_code != 200:
                    return
                body = response.json()
                assert body["durable"] is True
                acknowledged.update({r["id"]: r["text"] for r in records})

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    deleted = None
    with httpx.Client(base_url=server.url, timeout=30) as client:
        while len(acknowledged) < 60:
            threading.Event().wait(0.02)
        first = sorted(acknowledged)[0]
        response = client.request("DELETE", "/v1/documents", json={"ids": [first]})
        assert response.status_code == 200
        deleted = first
        while len(acknowledged) < 120:
            threading.Event().wait(0.02)
    server.kill()  # SIGKILL in the middle of the writes
    stop.set()
    for t in threads:
        t.join()
    assert len(acknowledged) >= 120

    restarted = server_process(spec)
    with httpx.Client(base_url=restarted.url, timeout=60) as client:
        count = client.get("/v1/documents/count").json()["count"]
        assert count >= len(acknowledged) - 1  # every acknowledged write but the deleted one (and maybe a few unanswered)
        ids = sorted(pid for pid in acknowledged if pid != deleted)
        for start in range(0, len(ids), 50):  # each acknowledged document is found by its own text
            chunk = ids[start: start + 50]
            data = client.post("/v1/search", json={"query": [acknowledged[p] for p in chunk], "k": 1}).json()["data"]
            assert [d["hits"][0]["id"] for d in data] == chunk
        hits = client.post("/v1/search", json={"query": acknowledged[deleted], "k": 1}).json()["data"][0]["hits"]
        assert hits[0]["id"] != deleted


def test_sigterm_drains_and_closes(tmp_path: Path, server_process: Any) -> None:
    """A request in flight at SIGTERM is answered; then the index is flushed and closed."""
    spec = write_spec(tmp_path)
    server = server_process(spec, "--log-level", "info")
    with httpx.Client(base_url=server.url, timeout=60) as client:
        client.post("/v1/documents", json={"records": [{"id": 1, "text": "kept after a graceful stop"}]}).raise_for_status()
        texts = [" ".join(f"w{i}x{j}" for j in range(30_000)) for i in range(6)]
        answers: list[Any] = []
        slow = threading.Thread(target=lambda: answers.append(client.post("/v1/embeddings", json={"input": texts})))
        slow.start()
        while client.get("/ready").json()["queue_depth"] == 0 and not answers:
            threading.Event().wait(0.005)
        code = server.stop()
        slow.join()
    assert code in (0, -15)  # uvicorn re-raises SIGTERM after its graceful shutdown
    assert answers[0].status_code == 200 and len(answers[0].json()["data"]) == 6
    log = server.log.read_text()
    assert "stopped: queue drained, index flushed and closed" in log
    assert "Traceback" not in log
    restarted = server_process(spec)
    with httpx.Client(base_url=restarted.url, timeout=30) as client:
        assert client.get("/v1/documents/count").json()["count"] == 1
