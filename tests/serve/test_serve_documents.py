"""Search and documents round trips over HTTP (httpx), concurrency, operations endpoints."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import embedspec
import numpy as np
import pytest
from serving import hashing_spec, httpx, serve_app

RECORDS = [
    {"id": "d1", "text": "vitamin d deficiency and multiple sclerosis risk", "payload": {"year": 2001, "lang": "en"}},
    {"id": "d2", "text": "horizontal gene transfer spreads antibiotic resistance", "payload": {"year": 2010, "lang": "en"}},
    {"id": 3, "text": "le tabagisme augmente le risque de cancer du poumon", "payload": {"year": 2015, "lang": "fr"}},
    {"id": "d4", "text": "smoking increases the risk of lung cancer", "payload": {"year": 2020, "lang": "en"}},
]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[httpx.Client, Any]]:
    """(client, an in-process pipeline with the same encoder) around a server on a fresh exact index."""
    spec = hashing_spec(tmp_path / "index")
    reference = embedspec.build(hashing_spec())
    with serve_app(spec) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield client, reference
    reference.close()


def test_records_round_trip_through_search(served: tuple[httpx.Client, Any]) -> None:
    client, reference = served
    response = client.post("/v1/documents", json={"records": RECORDS})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ids"] == ["d1", "d2", 3, "d4"]
    assert body["count"] == 4 and body["durable"] is True
    assert body["usage"]["prompt_tokens"] == sum(len(re.findall(r"\w+", r["text"])) for r in RECORDS)

    reference.add([r["text"] for r in RECORDS], ids=[r["id"] for r in RECORDS], payloads=[r["payload"] for r in RECORDS])
    queries = ["lung cancer smoking", "antibiotic resistance genes"]
    want = reference.search(queries, k=3)
    response = client.post("/v1/search", json={"query": queries, "k": 3})
    assert response.status_code == 200
    data = response.json()["data"]
    assert [d["index"] for d in data] == [0, 1]
    for got, hits in zip(data, want):
        assert [h["id"] for h in got["hits"]] == [h.id for h in hits]
        np.testing.assert_allclose([h["score"] for h in got["hits"]], [h.score for h in hits], rtol=1e-6)
        assert [h["payload"] for h in got["hits"]] == [h.payload for h in hits]
    assert data[0]["hits"][0]["id"] == "d4"


def test_filters_delete_and_count(served: tuple[httpx.Client, Any]) -> None:
    client, _ = served
    client.post("/v1/documents", json={"records": RECORDS}).raise_for_status()
    hits = client.post("/v1/search", json={"query": "cancer", "k": 10, "filter": {"lang": "en", "year": {"gte": 2010}}})
    assert sorted(h["id"] for h in hits.json()["data"][0]["hits"]) == ["d2", "d4"]
    response = client.request("DELETE", "/v1/documents", json={"ids": ["d4", "unknown"]})
    assert response.json() == {"object": "documents", "deleted": 2, "count": 3, "durable": True}
    assert client.get("/v1/documents/count").json() == {"object": "count", "count": 3}
    hits = client.post("/v1/search", json={"query": "smoking lung cancer", "k": 10})
    assert "d4" not in [h["id"] for h in hits.json()["data"][0]["hits"]]


def test_texts_without_ids_get_ids_back(served: tuple[httpx.Client, Any]) -> None:
    client, _ = served
    first = client.post("/v1/documents", json={"texts": ["alpha beta", "gamma delta"]}).json()
    assert len(first["ids"]) == 2 and len(set(first["ids"])) == 2 and first["count"] == 2
    hits = client.post("/v1/search", json={"query": "gamma delta", "k": 1}).json()["data"][0]["hits"]
    assert hits[0]["id"] == first["ids"][1]


def test_concurrent_clients_get_their_own_results_in_order(served: tuple[httpx.Client, Any]) -> None:
    client, reference = served
    requests = [[f"client {c} text {i} about subject {c * 31 + i}" for i in range(1 + c % 5)] for c in range(24)]

    def call(texts: list[str]) -> np.ndarray:
        body = client.post("/v1/embeddings", json={"input": texts, "encoding_format": "base64"}).json()
        return np.stack([np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in body["data"]])

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(call, requests))
    for texts, got in zip(requests, results):
        np.testing.assert_allclose(got, reference.encode(texts), atol=1e-6)


def test_health_ready_models_and_metrics(served: tuple[httpx.Client, Any]) -> None:
    client, _ = served
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["ready"] is True and ready["model"] == "hashing"
    assert client.get("/v1/models").json()["data"][0] == {"id": "hashing", "object": "model", "created": 0,
                                                          "owned_by": "embedspec", "dimensions": 64}
    client.post("/v1/embeddings", json={"input": ["one two three", "four"]}).raise_for_status()
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'embedspec_requests_total{method="POST",route="/v1/embeddings",status="200"} 1.0' in text
    assert "embedspec_tokens_encoded_total 4.0" in text  # \w+ words: the hashing encoder has no tokenizer
    assert "embedspec_texts_encoded_total 2.0" in text
    assert 'embedspec_request_duration_seconds_count{route="/v1/embeddings"} 1.0' in text
    assert "embedspec_batch_size_count" in text and "embedspec_queue_depth 0.0" in text
