"""The official ``openai`` client against a real server on the all-MiniLM-L6-v2 ONNX model."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from serving import serve_app

openai = pytest.importorskip("openai", reason="the OpenAI-compatibility tests use the openai client (test extra)")

TEXTS = [
    "Vitamin D deficiency is associated with multiple sclerosis.",
    "Antibiotic resistance spreads through horizontal gene transfer between bacteria in the gut microbiome.",
    "short",
    "",
    "Smoking increases the risk of lung cancer; quitting at any age lowers it, according to cohort studies "
    "that followed more than 30,000 adults for twenty years. " * 3,
]


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module")
def minilm(minilm_dir: Path) -> Iterator[tuple[str, Any]]:
    """(server URL, an in-process pipeline of the same spec) — the model prefixes queries."""
    import embedspec

    spec = {"version": 1, "index": {"type": "exact"},
            "encoder": {"type": "onnx-text", "model": str(minilm_dir), "query_prompt": "query: "}}
    reference = embedspec.build(spec)
    with serve_app(spec, max_batch_items=8, model_name="all-MiniLM-L6-v2") as url:
        yield url, reference
    reference.close()


@pytest.fixture(scope="module")
def client(minilm: tuple[str, Any]) -> Any:
    return openai.OpenAI(base_url=f"{minilm[0]}/v1", api_key="unused", max_retries=0)


def test_default_request_is_base64_and_equals_encode(client: Any, minilm: tuple[str, Any]) -> None:
    raw = client.embeddings.with_raw_response.create(model="all-MiniLM-L6-v2", input=TEXTS)
    sent = raw.http_request.read()
    assert b'"encoding_format":"base64"' in sent.replace(b" ", b"")  # the SDK's default, answered in base64
    body = raw.http_response.json()
    assert all(isinstance(d["embedding"], str) for d in body["data"])
    first = np.frombuffer(base64.b64decode(body["data"][0]["embedding"]), dtype="<f4")
    response = raw.parse()
    got = np.array([d.embedding for d in response.data], dtype=np.float32)
    assert np.array_equal(got[0], first)
    want = minilm[1].encode(TEXTS, role="document")
    assert got.shape == (len(TEXTS), 384)
    assert cosine_rows(got, want).min() >= 0.9999
    assert [d.index for d in response.data] == list(range(len(TEXTS)))
    assert response.model == "all-MiniLM-L6-v2"


def test_float_equals_encode_and_usage_counts_real_tokens(client: Any, minilm: tuple[str, Any]) -> None:
    response = client.embeddings.create(model="all-MiniLM-L6-v2", input=TEXTS, encoding_format="float")
    got = np.array([d.embedding for d in response.data], dtype=np.float32)
    assert cosine_rows(got, minilm[1].encode(TEXTS)).min() >= 0.9999
    tokens = minilm[1].encoder.count_tokens(TEXTS, role="document")
    assert response.usage.prompt_tokens == tokens == response.usage.total_tokens
    assert tokens > len(TEXTS) * 2  # [CLS] and [SEP] at least, plus the words


def test_single_string_input(client: Any, minilm: tuple[str, Any]) -> None:
    response = client.embeddings.create(model="any-name", input=TEXTS[0], encoding_format="float")
    assert len(response.data) == 1
    got = np.array(response.data[0].embedding, dtype=np.float32)
    want = minilm[1].encode([TEXTS[0]])[0]
    assert float(got @ want / np.linalg.norm(got) / np.linalg.norm(want)) >= 0.9999


def test_query_role_uses_the_query_prompt(client: Any, minilm: tuple[str, Any]) -> None:
    response = client.embeddings.create(model="m", input=TEXTS[:2], extra_body={"role": "query"})
    got = np.array([d.embedding for d in response.data], dtype=np.float32)
    pipeline = minilm[1]
    assert cosine_rows(got, pipeline.encode(TEXTS[:2], role="query")).min() >= 0.9999
    assert cosine_rows(got, pipeline.encode(TEXTS[:2], role="document")).max() < 0.999  # the prompt matters
    assert response.usage.prompt_tokens == pipeline.encoder.count_tokens(TEXTS[:2], role="query")


@pytest.mark.parametrize("dims", [32, 128, 384])
def test_dimensions_truncate_then_renormalize(client: Any, minilm: tuple[str, Any], dims: int) -> None:
    response = client.embeddings.create(model="m", input=TEXTS, dimensions=dims)
    got = np.array([d.embedding for d in response.data], dtype=np.float32)
    full = minilm[1].encode(TEXTS)
    want = full[:, :dims] / np.linalg.norm(full[:, :dims], axis=1, keepdims=True)
    assert got.shape == (len(TEXTS), dims)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert cosine_rows(got, want).min() >= 0.9999


def test_dimensions_larger_than_the_model_is_an_error(client: Any) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="m", input="x", dimensions=385)
    error = info.value.body
    assert info.value.status_code == 400
    assert error["param"] == "dimensions"
    assert error["message"] == "dimensions is 385, larger than the model's dimension 384"


def test_token_id_input_is_refused_naming_the_field(client: Any) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="m", input=[[101, 2023, 102]])
    assert info.value.body["param"] == "input[0]"
    assert info.value.body["code"] == "token_ids_not_supported"
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="m", input=[101, 2023, 102])
    assert info.value.body["param"] == "input"


def test_models_list_and_retrieve(client: Any) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == ["all-MiniLM-L6-v2"]
    assert client.models.retrieve("all-MiniLM-L6-v2").id == "all-MiniLM-L6-v2"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("text-embedding-3-small")


def test_async_client_concurrent_requests_get_their_own_rows(minilm: tuple[str, Any]) -> None:
    import asyncio

    url, pipeline = minilm
    texts = [f"document number {i} talks about topic {i % 7} and protein {i * 13}" for i in range(48)]
    requests = [texts[i: i + 3] for i in range(0, 48, 3)]

    async def main() -> list[Any]:
        async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0) as aclient:
            return await asyncio.gather(*(aclient.embeddings.create(model="m", input=r) for r in requests))

    responses = asyncio.run(main())
    want = pipeline.encode(texts)
    for i, response in enumerate(responses):
        got = np.array([d.embedding for d in response.data], dtype=np.float32)
        assert cosine_rows(got, want[3 * i: 3 * i + 3]).min() >= 0.9999, f"request {i} got another request's rows"
