"""SciFact with all-MiniLM-L6-v2 through ONNX reproduces the published nDCG@10 (slow, needs the model)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODEL = Path(os.environ.get("EMBEDSPEC_MINILM", REPO / "models" / "all-MiniLM-L6-v2"))


@pytest.mark.slow
@pytest.mark.data
def test_scifact_minilm_reproduces_published_ndcg(shared_data):
    from embedspec.plugins import get_registry

    if "onnx-text" not in get_registry().names("encoder"):
        pytest.skip("the onnx-text encoder is not installed (pip install -e plugins/onnx)")
    if not (MODEL / "model.onnx").is_file():
        pytest.skip(f"no exported MiniLM at {MODEL} (embedspec export, or set EMBEDSPEC_MINILM)")
    import embedspec
    from embedspec.beir import load_beir
    from embedspec.evaluation import evaluate_retrieval

    pipe = embedspec.build({"version": 1, "encoder": {"type": "onnx-text", "model": str(MODEL)},
                            "index": {"type": "exact"}})
    result = evaluate_retrieval(pipe, load_beir(shared_data / "scifact"), progress=False)
    # published (MTEB) and measured with sentence-transformers: nDCG@10 0.6451, recall@100 0.9250
    assert result.metrics["ndcg@10"] == pytest.approx(0.6451, abs=0.002)
    assert result.metrics["recall@100"] == pytest.approx(0.9250, abs=0.005)
