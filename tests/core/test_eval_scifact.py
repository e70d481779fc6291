"""SciFact with all-MiniLM-L6-v2 through ONNX reproduces the published nDCG@10; int8 stays within 0.01."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def minilm(request) -> Path:
    """``$EMBEDSPEC_MINILM`` when set, else the session's export of the offline checkpoint."""
    if os.environ.get("EMBEDSPEC_MINILM"):
        return Path(os.environ["EMBEDSPEC_MINILM"])
    return request.getfixturevalue("minilm_dir")


@pytest.mark.slow
@pytest.mark.data
def test_scifact_minilm_reproduces_published_ndcg(shared_data, minilm):
    import embedspec
    from embedspec.eval.beir import load_beir
    from embedspec.eval.retrieval import evaluate_retrieval

    data = load_beir(shared_data / "scifact")
    results = {}
    for precision in ("fp32", "int8"):
        spec = {"version": 1, "index": {"type": "exact"},
                "encoder": {"type": "onnx-text", "model": str(minilm), "precision": precision}}
        with embedspec.build(spec) as pipe:
            results[precision] = evaluate_retrieval(pipe, data, progress=False).metrics
    # published (MTEB) and measured with sentence-transformers: nDCG@10 0.6451, recall@100 0.9250
    assert results["fp32"]["ndcg@10"] == pytest.approx(0.6451, abs=0.002)
    assert results["fp32"]["recall@100"] == pytest.approx(0.9250, abs=0.005)
    assert abs(results["int8"]["ndcg@10"] - results["fp32"]["ndcg@10"]) <= 0.01
