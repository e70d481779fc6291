"""Token-budget batching of ``onnx-text``: batches bounded by padded tokens after sorting by length give
the same vectors as item-count batches, in the caller's order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from embedspec_onnx import OnnxTextEncoder
from embedspec_onnx.common.tokenization import batch_bounds


def test_batch_bounds_by_rows_only() -> None:
    assert batch_bounds(np.array([9, 7, 5, 5, 3]), 2) == [(0, 2), (2, 4), (4, 5)]
    assert batch_bounds(np.array([], dtype=np.int64), 4) == []


def test_batch_bounds_by_token_budget() -> None:
    lengths = np.array([100, 60, 50, 20, 20, 20, 10, 3, 0])
    # 100 alone (2 x 100 > 128); 60 and 50 padded to 60 (2 x 60 = 120); the six rest padded to 20 (120)
    assert batch_bounds(lengths, 64, 128) == [(0, 1), (1, 3), (3, 9)]
    assert batch_bounds(lengths, 2, 10_000) == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 9)]  # rows still capped
    assert batch_bounds(np.array([500, 400]), 8, 100) == [(0, 1), (1, 2)]  # a row over the budget runs alone


@pytest.mark.parametrize("seed", range(20))
def test_batch_bounds_fuzz(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lengths = np.sort(rng.integers(0, 300, size=int(rng.integers(0, 200))))[::-1]
    batch_size, budget = int(rng.integers(1, 70)), int(rng.integers(1, 5000))
    bounds = batch_bounds(lengths, batch_size, budget)
    assert [b for b in bounds for b in b][1:-1:2] == [b for b in bounds for b in b][2::2]  # contiguous
    assert (bounds[0][0] if bounds else 0) == 0 and (bounds[-1][1] if bounds else 0) == len(lengths)
    for start, stop in bounds:
        rows = stop - start
        assert 1 <= rows <= batch_size
        assert rows == 1 or rows * max(int(lengths[start]), 1) <= budget


@pytest.mark.slow
def test_token_budget_gives_the_same_vectors(minilm_dir: Path) -> None:
    rng = np.random.default_rng(0)
    words = "the vitamin protein cell study results showed significant increase in patients with".split()
    sizes = [*rng.integers(1, 10, size=80), *rng.integers(1, 400, size=60)]
    texts = ["", " ", "x"] + [" ".join(rng.choice(words, int(n))) for n in sizes]
    by_count = OnnxTextEncoder(model=str(minilm_dir), device="cpu", batch_size=32).encode(texts)
    by_tokens = OnnxTextEncoder(model=str(minilm_dir), device="cpu", batch_size=1024, batch_tokens=2048)
    batches = list(by_tokens.warm_up() or by_tokens._tokenizer.batches(by_tokens._tokenizer.tokenize(texts), 1024, 2048))
    assert len(batches) > 4 and max(len(b.positions) for b in batches) > 32  # large batches of short texts
    assert all(b.input_ids.size <= 2048 or len(b.positions) == 1 for b in batches)
    np.testing.assert_allclose(by_tokens.encode(texts), by_count, atol=2e-6)
    int8_count = OnnxTextEncoder(model=str(minilm_dir), device="cpu", precision="int8").encode(texts)
    int8_tokens = OnnxTextEncoder(model=str(minilm_dir), device="cpu", precision="int8", batch_size=1024,
                                  batch_tokens=2048).encode(texts)
    # dynamic int8 scales activations per batch, so its vectors depend on the batch a text lands in:
    # both batchings stay close to fp32
    for int8 in (int8_count, int8_tokens):
        cosine = (int8 * by_count).sum(axis=1)
        assert cosine.mean() >= 0.985 and cosine.min() >= 0.95, (cosine.mean(), cosine.min())
