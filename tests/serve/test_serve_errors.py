"""Every error answer: OpenAI's shape, the right status, the offending field named (hashing encoder)."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from serving import hashing_spec, httpx, serve_app

READ, WRITE = "read-key-0123", "write-key-4567"


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve_app(hashing_spec(), max_request_items=8, max_request_bytes=4096) as base:
        yield base


@pytest.mark.parametrize(("body", "param", "message"), [
    ({}, "input", "input: field required"),
    ({"input": "x", "encoding_format": "int8"}, "encoding_format", "encoding_format: Input should be 'float' or 'base64'"),
    ({"input": "x", "dimensions": 0}, "dimensions", "dimensions: Input should be greater than or equal to 1"),
    ({"input": "x", "dimensions": "8"}, "dimensions", "dimensions: Input should be a valid integer"),
    ({"input": "x", "role": "passage"}, "role", "role: Input should be 'query' or 'document'"),
    ({"input": "x", "inputs": ["y"]}, "inputs", "inputs: unknown field"),
])
def test_schema_errors_are_422_naming_the_field(url: str, body: dict[str, Any], param: str, message: str) -> None:
    error = error_of(httpx.post(f"{url}/v1/embeddings", json=body), 422)
    assert error["param"] == param
    assert error["message"] == message
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize(("body", "param", "message"), [
    ({"input": 3}, "input", "input must be a string or a list of strings, got int"),
    ({"input": []}, "input", "input is an empty list; send at least one string"),
    ({"input": ["a", None]}, "input[1]", "input[1] must be a string, got null"),
    ({"input": ["a"] * 9}, "input", "input has 9 items; at most 8 per request"),
    ({"input": "x", "dimensions": 65}, "dimensions", "dimensions is 65, larger than the model's dimension 64"),
])
def test_value_errors_are_400_naming_the_field(url: str, body: dict[str, Any], param: str, message: str) -> None:
    error = error_of(httpx.post(f"{url}/v1/embeddings", json=body), 400)
    assert (error["param"], error["message"]) == (param, message)


def test_token_ids_are_refused(url: str) -> None:
    for body, param in (({"input": [1, 2, 3]}, "input"), ({"input": ["ok", [1, 2]]}, "input[1]")):
        error = error_of(httpx.post(f"{url}/v1/embeddings", json=body), 400)
        assert error["param"] == param
        assert error["code"] == "token_ids_not_supported"
        assert "this server takes text" in error["message"]


def test_invalid_json_and_non_object_bodies(url: str) -> None:
    error = error_of(httpx.post(f"{url}/v1/embeddings", content=b'{"input": '), 400)
    assert error["code"] == "invalid_json"
    assert error["message"].startswith("the request body is not valid JSON: ")
    error = error_of(httpx.post(f"{url}/v1/embeddings", json=["x"]), 400)
    assert error["message"] == "the request body must be a JSON object, got list"


def test_oversized_body_is_413(url: str) -> None:
    error = error_of(httpx.post(f"{url}/v1/embeddings", json={"input": "x" * 5000}), 413)
    assert error["code"] == "request_too_large"
    assert "the limit is 4096" in error["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        yield b'{"input": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}'

    error_of(httpx.post(f"{url}/v1/embeddings", content=chunks()), 413)


def test_search_and_document_errors_name_the_field(url: str) -> None:
    error = error_of(httpx.post(f"{url}/v1/search", json={"query": "q", "filter": {"year": {"gt": "x"}}}), 400)
    assert error["param"] == "filter"
    assert error["message"] == "filter key 'year': gt takes a number, got 'x'"
    error = error_of(httpx.post(f"{url}/v1/search", json={"query": "q", "k": 0}), 422)
    assert error["param"] == "k"
    error = error_of(httpx.post(f"{url}/v1/documents", json={"texts": ["a"], "records": []}), 400)
    assert error["param"] == "records"
    error = error_of(httpx.post(f"{url}/v1/documents", json={"records": [{"text": "a", "id": 1}, {"text": "b"}]}), 400)
    assert (error["param"], error["code"]) == ("records[1].id", "missing_field")
    error = error_of(httpx.post(f"{url}/v1/documents", json={"records": [{"text": "a", "id": 1}, {"text": "b", "id": 1}]}), 400)
    assert error["message"] == "records[1].id 1 repeats records[0].id"
    error = error_of(httpx.post(f"{url}/v1/documents", json={"records": [{"text": "a", "id": 1.5}]}), 422)
    assert error["param"] == "records[0].id"
    error = error_of(httpx.request("DELETE", f"{url}/v1/documents", json={"ids": []}), 422)
    assert error["param"] == "ids"
    assert httpx.get(f"{url}/v1/documents/count").json()["count"] == 0  # nothing was written


def test_unknown_route_and_method(url: str) -> None:
    error = error_of(httpx.get(f"{url}/v1/embedding"), 404)
    assert error["message"] == "no route GET /v1/embedding"
    error = error_of(httpx.get(f"{url}/v1/embeddings"), 405)
    assert error["message"] == "method GET is not allowed on /v1/embeddings"


def test_fuzzed_bodies_never_500(url: str) -> None:
    """Random JSON values in every field: always a 200 or an OpenAI-shaped 4xx, never a crash."""
    rng = random.Random(14)
    values: list[Any] = [None, True, 0, -1, 2**70, 1.5, float("1e308"), "", "é\u0000", [], [1], ["a", 2], {}, {"a": []},
                         [[1, 2]], ["x"] * 3, "a" * 300]
    fields = {"/v1/embeddings": ["input", "model", "encoding_format", "dimensions", "user", "role", "extra"],
              "/v1/search": ["query", "k", "filter", "model"],
              "/v1/documents": ["texts", "records"]}
    with httpx.Client(base_url=url) as client:
        for _ in range(300):
            route = rng.choice(list(fields))
            body = {f: rng.choice(values) for f in rng.sample(fields[route], rng.randint(0, len(fields[route])))}
            if route == "/v1/documents" and rng.random() < 0.3:
                body = {"records": [{"text": rng.choice(values), "id": rng.choice(values),
                                     "payload": rng.choice(values)}]}
            response = client.post(route, content=json.dumps(body))
            assert response.status_code in (200, 400, 413, 422), (route, body, response.text)
            if response.status_code != 200:
                error_of(response, response.status_code)
        assert client.get("/health").status_code == 200


# ---- keys ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_app(hashing_spec(), api_key=READ, write_key=WRITE) as base:
        yield base


def test_missing_or_wrong_key_is_401(keyed: str) -> None:
    error = error_of(httpx.post(f"{keyed}/v1/embeddings", json={"input": "x"}), 401)
    assert error["type"] == "authentication_error"
    assert error["message"] == "no API key: send the header 'Authorization: Bearer YOUR_KEY'"
    response = httpx.post(f"{keyed}/v1/embeddings", json={"input": "x"}, headers={"Authorization": "Bearer nope"})
    assert error_of(response, 401)["message"] == "invalid API key"
    assert response.headers["www-authenticate"] == "Bearer"
    assert READ not in response.text and WRITE not in response.text
    error_of(httpx.get(f"{keyed}/metrics"), 401)
    error_of(httpx.post(f"{keyed}/v1/embeddings", json={"input": "x"}, headers={"Authorization": READ}), 401)


def test_read_key_reads_write_key_writes(keyed: str) -> None:
    read = {"Authorization": f"Bearer {READ}"}
    write = {"Authorization": f"Bearer {WRITE}"}
    assert httpx.post(f"{keyed}/v1/embeddings", json={"input": "x"}, headers=read).status_code == 200
    assert httpx.post(f"{keyed}/v1/embeddings", json={"input": "x"}, headers=write).status_code == 200
    error = error_of(httpx.post(f"{keyed}/v1/documents", json={"texts": ["a"]}, headers=read), 403)
    assert error == {"message": "this key may read but not write: writes need the write key",
                     "type": "permission_error", "param": None, "code": "insufficient_permissions"}
    error_of(httpx.request("DELETE", f"{keyed}/v1/documents", json={"ids": [1]}, headers=read), 403)
    assert httpx.post(f"{keyed}/v1/documents", json={"texts": ["a"]}, headers=write).status_code == 200
    assert httpx.get(f"{keyed}/health").status_code == 200  # probes stay open
    assert httpx.get(f"{keyed}/ready").status_code == 200
    assert httpx.get(f"{keyed}/metrics", headers=read).status_code == 200


def test_keys_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDSPEC_API_KEY", "env-read")
    monkeypatch.delenv("EMBEDSPEC_WRITE_KEY", raising=False)
    with serve_app(hashing_spec()) as base:
        error_of(httpx.post(f"{base}/v1/embeddings", json={"input": "x"}), 401)
        ok = httpx.post(f"{base}/v1/embeddings", json={"input": "x"}, headers={"Authorization": "Bearer env-read"})
        assert ok.status_code == 200
        # without a write key, writes take the read key
        ok = httpx.post(f"{base}/v1/documents", json={"texts": ["a"]}, headers={"Authorization": "Bearer env-read"})
        assert ok.status_code == 200


def test_read_only_server_refuses_writes() -> None:
    with serve_app(hashing_spec(), read_only=True) as base:
        error = error_of(httpx.post(f"{base}/v1/documents", json={"texts": ["a"]}), 403)
        assert error["code"] == "read_only"


def test_cors_is_off_unless_origins_are_given() -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    with serve_app(hashing_spec()) as base:
        response = httpx.options(f"{base}/v1/embeddings", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
    with serve_app(hashing_spec(), cors_origins=["https://app.example"]) as base:
        response = httpx.options(f"{base}/v1/embeddings", headers=preflight)
        assert response.headers["access-control-allow-origin"] == "https://app.example"


# ---- overload and deadlines -------------------------------------------------------------------
def long_texts(n: int, words: int = 30_000) -> list[str]:
    """Texts the hashing encoder takes a noticeable time on (~0.1-0.3 s each)."""
    return [" ".join(f"w{i}x{j}" for j in range(words)) for i in range(n)]


def test_flooded_queue_answers_429_with_retry_after() -> None:
    with serve_app(hashing_spec(), max_queue_items=4, max_batch_items=1, max_request_bytes=64 << 20) as base:
        first: list[httpx.Response] = []
        worker = threading.Thread(target=lambda: first.append(
            httpx.post(f"{base}/v1/embeddings", json={"input": long_texts(4)}, timeout=120)))
        worker.start()
        deadline = time.monotonic() + 30
        while httpx.get(f"{base}/ready").json()["queue_depth"] == 0:  # the first request is queued
            assert time.monotonic() < deadline
            time.sleep(0.005)
        response = httpx.post(f"{base}/v1/embeddings", json={"input": ["a", "b", "c", "d"]})
        error = error_of(response, 429)
        assert error["type"] == "rate_limit_error" and error["code"] == "queue_full"
        assert int(response.headers["retry-after"]) >= 1
        assert httpx.get(f"{base}/health").status_code == 200  # the event loop is not blocked
        worker.join()
        assert first[0].status_code == 200 and len(first[0].json()["data"]) == 4
        error = error_of(httpx.post(f"{base}/v1/embeddings", json={"input": list("abcde")}), 413)
        assert error["message"] == ("the request holds 5 texts, more than the server queues at once (4); split it")
        metrics = httpx.get(f"{base}/metrics").text
        assert 'embedspec_requests_total{method="POST",route="/v1/embeddings",status="429"} 1.0' in metrics


def test_request_past_its_deadline_is_504() -> None:
    with serve_app(hashing_spec(), request_timeout_s=0.05, max_request_bytes=64 << 20) as base:
        error = error_of(httpx.post(f"{base}/v1/embeddings", json={"input": long_texts(6)}, timeout=60), 504)
        assert error["code"] == "timeout"
        assert error["message"] == "the request was not encoded within 0.05 s"
        deadline = time.monotonic() + 60  # the batch already running finishes; then short requests pass
        while httpx.post(f"{base}/v1/embeddings", json={"input": "short"}).status_code != 200:
            assert time.monotonic() < deadline, "the server did not recover after a timeout"
