"""The batcher alone: coalescing, bounds by items and tokens, order, roles, failures, draining."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np
import pytest
from embedspec.serve.batching import Batcher
from embedspec.serve.errors import APIError


class RecordingEncoder:
    """Encodes text ``"<n>"`` as the row ``[n, role]``; records batches; can be held at a gate."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[str], str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail_on: str | None = None

    def encode(self, texts: list[str], role: str) -> np.ndarray:
        self.gate.wait(10)
        self.batches.append((list(texts), role))
        if self.fail_on in texts:
            raise RuntimeError("boom")
        return np.array([[float(t), 1.0 if role == "query" else 0.0] for t in texts], dtype=np.float32)

    @staticmethod
    def count(texts: list[str], role: str) -> int:
        return 10 * len(texts)


def make(encoder: RecordingEncoder, **kw: Any) -> Batcher:
    options = {"max_batch_items": 4, "max_batch_tokens": 10_000, "max_wait_ms": 0, "max_queue_items": 1000}
    options.update(kw)
    return Batcher(encoder.encode, encoder.count, len, **options)  # estimated tokens: characters


def test_concurrent_requests_are_coalesced_and_answered_in_order() -> None:
    encoder = RecordingEncoder()

    async def main() -> list[Any]:
        batcher = make(encoder, max_batch_items=8)
        batcher.start()
        encoder.gate.clear()  # the first request holds the encoder; the others queue up behind it
        first = asyncio.ensure_future(batcher.encode(["0"], "document", 10))
        await asyncio.sleep(0.05)
        rest = [asyncio.ensure_future(batcher.encode([str(i), str(i + 100)], "document", 10)) for i in range(1, 7)]
        await asyncio.sleep(0.05)
        assert batcher.queue_depth == 12
        encoder.gate.set()
        results = await asyncio.gather(first, *rest)
        await batcher.close()
        return results

    results = asyncio.run(main())
    assert [len(b[0]) for b in encoder.batches] == [1, 8, 4]  # 12 queued texts -> batches of 8 and 4
    assert results[0][0].tolist() == [[0.0, 0.0]] and results[0][1] == 10
    for i, (vectors, tokens) in enumerate(results[1:], 1):
        assert vectors[:, 0].tolist() == [i, i + 100]  # each request gets its own rows, in its order
        assert tokens == 20


def test_token_bound_and_long_requests_split_across_batches() -> None:
    encoder = RecordingEncoder()
    texts = [str(10 ** k) for k in range(9)]  # estimated tokens = characters: 1..9

    async def main() -> tuple[np.ndarray, int]:
        batcher = make(encoder, max_batch_items=100, max_batch_tokens=20)
        batcher.start()
        out = await batcher.encode(texts, "document", 10)
        await batcher.close()
        return out

    vectors, tokens = asyncio.run(main())
    assert vectors[:, 0].tolist() == [float(t) for t in texts]
    sizes = [[len(t) for t in batch] for batch, _ in encoder.batches]
    assert all(len(s) * max(s) <= 20 for s in sizes if len(s) > 1)
    assert sum(len(s) for s in sizes) == 9 and len(sizes) > 1
    assert tokens == 10 * 9


def test_roles_are_never_mixed_in_a_batch() -> None:
    encoder = RecordingEncoder()

    async def main() -> list[Any]:
        batcher = make(encoder, max_batch_items=16)
        batcher.start()
        encoder.gate.clear()
        held = asyncio.ensure_future(batcher.encode(["9"], "query", 10))
        await asyncio.sleep(0.05)
        jobs = [asyncio.ensure_future(batcher.encode([str(i)], "query" if i % 2 else "document", 10)) for i in range(6)]
        await asyncio.sleep(0.05)
        encoder.gate.set()
        results = await asyncio.gather(held, *jobs)
        await batcher.close()
        return results

    results = asyncio.run(main())
    for batch, role in encoder.batches:
        assert {int(t) % 2 for t in batch if t != "9"} <= ({1} if role == "query" else {0})
    assert [r[0][0, 1] for r in results[1:]] == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]


def test_an_encoder_failure_answers_its_batch_and_the_batcher_goes_on() -> None:
    encoder = RecordingEncoder()
    encoder.fail_on = "13"

    async def main() -> tuple[Any, Any]:
        batcher = make(encoder)
        batcher.start()
        with pytest.raises(APIError) as info:
            await batcher.encode(["12", "13"], "document", 10)
        after = await batcher.encode(["14"], "document", 10)
        await batcher.close()
        return info.value, after

    error, after = asyncio.run(main())
    assert error.status == 500 and error.message == "the encoder failed: RuntimeError: boom"
    assert after[0].tolist() == [[14.0, 0.0]]


def test_full_queue_and_closing() -> None:
    encoder = RecordingEncoder()

    async def main() -> None:
        batcher = make(encoder, max_queue_items=3)
        batcher.start()
        encoder.gate.clear()
        held = asyncio.ensure_future(batcher.encode(["1"], "document", 10))
        await asyncio.sleep(0.05)
        queued = asyncio.ensure_future(batcher.encode(["2", "3"], "document", 10))
        await asyncio.sleep(0.01)
        with pytest.raises(APIError) as info:
            await batcher.encode(["4", "5"], "document", 10)
        assert info.value.status == 429 and info.value.headers["Retry-After"] == "1"
        encoder.gate.set()
        closing = asyncio.ensure_future(batcher.close())  # drains what is queued
        assert (await queued)[0][:, 0].tolist() == [2.0, 3.0]
        await held
        await closing
        with pytest.raises(APIError) as info:
            await batcher.encode(["6"], "document", 10)
        assert info.value.status == 503

    asyncio.run(main())
