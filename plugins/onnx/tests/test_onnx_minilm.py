"""onnx-text on real all-MiniLM-L6-v2 weights, against sentence-transformers (torch) as reference."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from embedspec.testing import check_encoder
from embedspec_onnx import ModelCard, OnnxTextEncoder

pytestmark = pytest.mark.slow

_BASE = [
    "A man is eating food.", "The new movie is awesome", "Vitamin D lowers the risk of fractures.",
    "How do vaccines trigger an immune response?", "Berlin is the capital of Germany.",
    "El rápido zorro marrón salta sobre el perro perezoso.", "Das Wetter ist heute schön.",
    "Москва — столица России.", "机器学习需要大量数据。", "東京は日本の首都です。",
    "مرحبا بالعالم", "नमस्ते दुनिया", "Emoji 🚀🔥✨ galore 😀👍🏽", "café naïve résumé façade",
    "x", "?", "1234567890", "CRISPR-Cas9 edits DNA at PAM sites (5'-NGG-3').",
]


def varied_texts() -> list[str]:
    """>= 200 texts: short, long past max length, unicode, emoji, empty and whitespace-only."""
    texts = ["", " ", "   ", "\n", "\t \n"]
    for i, base in enumerate(_BASE):
        texts += [base, base.upper(), base.lower() + f" #{i}", f"  {base}  ", base + " " + _BASE[(i + 3) % len(_BASE)]]
        texts += [" ".join([base] * (20 + i)), base[: max(1, len(base) // 2)], base + " 🙂" * (i % 4 + 1)]
        texts += ["\n".join([base, _BASE[(i + 5) % len(_BASE)]]), f"{i} {base} {i * 7}", base.replace(" ", "")]
    return texts


@pytest.fixture(scope="module")
def encoder(minilm_dir: Path) -> OnnxTextEncoder:
    return OnnxTextEncoder(model=str(minilm_dir), device="cpu")


@pytest.fixture(scope="module")
def texts() -> list[str]:
    out = varied_texts()
    assert len(out) >= 200
    return out


def test_export_wrote_the_directory_contract(minilm_dir: Path) -> None:
    card = ModelCard.read(minilm_dir)
    assert (card.name, card.family, card.dim, card.pooling, card.normalize, card.max_length) == (
        "sentence-transformers/all-MiniLM-L6-v2", "minilm", 384, "mean", True, 256)
    assert card.files == {"model": "model.onnx", "model_int8": "model_int8.onnx", "tokenizer": "tokenizer.json"}
    assert card.export.verified_max_abs_diff is not None and card.export.verified_max_abs_diff < 1e-4
    # the export's own int8 check (sample texts include "", "   " and "a": the hardest cases)
    assert card.export.int8_mean_cosine is not None and card.export.int8_mean_cosine >= 0.98


def test_matches_sentence_transformers(encoder: OnnxTextEncoder, texts: list[str], minilm_checkpoint: Path) -> None:
    if importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip("sentence-transformers is the reference here: pip install sentence-transformers")
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(minilm_checkpoint), device="cpu")
    assert reference.max_seq_length == 256
    expected = reference.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    got = encoder.encode(texts)
    assert got.shape == (len(texts), 384) and got.dtype == np.float32
    cosines = (got * expected).sum(axis=1)
    worst = int(np.argmin(cosines))
    assert cosines.min() >= 0.9999, f"text {worst} ({texts[worst][:40]!r}) has cosine {cosines.min():.6f}"
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_order_preserved_across_batch_sizes(encoder: OnnxTextEncoder, texts: list[str]) -> None:
    full = encoder.encode(texts, batch_size=64)
    for size in (1, 7, 32):
        assert np.allclose(encoder.encode(texts, batch_size=size), full, atol=1e-5), f"batch_size={size}"
    shuffled = np.random.default_rng(0).permutation(len(texts))
    again = encoder.encode([texts[i] for i in shuffled], batch_size=16)
    assert np.allclose(again, full[shuffled], atol=1e-5)


def test_prompts_are_applied_per_role(minilm_dir: Path, encoder: OnnxTextEncoder) -> None:
    e5_style = OnnxTextEncoder(model=str(minilm_dir), device="cpu", query_prompt="query: ", document_prompt="passage: ")
    text = ["vitamin d and bone fractures"]
    assert np.allclose(e5_style.encode(text, role="query"), encoder.encode(["query: " + text[0]]), atol=1e-6)
    assert np.allclose(e5_style.encode(text, role="document"), encoder.encode(["passage: " + text[0]]), atol=1e-6)
    assert not np.allclose(e5_style.encode(text, role="query"), e5_style.encode(text, role="document"), atol=1e-3)
    # the card has no prompts: both roles give the same vector
    assert np.allclose(encoder.encode(text, role="query"), encoder.encode(text, role="document"))


def test_truncation_at_max_length(minilm_dir: Path) -> None:
    short = OnnxTextEncoder(model=str(minilm_dir), device="cpu", max_length=16)
    words = " ".join(f"word{i}" for i in range(100))
    assert short.count_tokens([words]) == 16
    a, b = short.encode([words, words + " and a different ending that is cut off"])
    assert np.allclose(a, b, atol=1e-6)
    # the default max_length (256, from sentence_bert_config.json) sees the whole 100 words
    full = OnnxTextEncoder(model=str(minilm_dir), device="cpu")
    assert full.count_tokens([words]) > 16
    assert not np.allclose(full.encode([words])[0], a, atol=1e-3)


def test_conformance(encoder: OnnxTextEncoder, fresh_plugins: None) -> None:
    out = check_encoder(encoder, ["a first text", "", "a third, longer text with more tokens 🚀"])
    assert out.shape == (3, 384)


def test_int8_keeps_quality_on_varied_short_texts(minilm_dir: Path, encoder: OnnxTextEncoder,
                                                  texts: list[str]) -> None:
    int8 = OnnxTextEncoder(model=str(minilm_dir), device="cpu", precision="int8")
    cosines = (encoder.encode(texts) * int8.encode(texts)).sum(axis=1)
    assert cosines.mean() >= 0.985, cosines.mean()
    assert cosines.min() >= 0.95, cosines.min()


@pytest.mark.data
def test_int8_keeps_quality_on_scifact(minilm_dir: Path, encoder: OnnxTextEncoder, shared_data: Path) -> None:
    import json

    lines = (shared_data / "scifact" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:200]
    docs = [(d["title"] + " " + d["text"]).strip() for d in map(json.loads, lines)]
    int8 = OnnxTextEncoder(model=str(minilm_dir), device="cpu", precision="int8")
    cosines = (encoder.encode(docs) * int8.encode(docs)).sum(axis=1)
    assert cosines.mean() >= 0.99, cosines.mean()
    assert cosines.min() >= 0.98, cosines.min()


def test_matryoshka_dim_refused_for_a_model_without_it(minilm_dir: Path) -> None:
    enc = OnnxTextEncoder(model=str(minilm_dir), device="cpu", dim=128)
    with pytest.raises(ValueError, match="declares no Matryoshka dims"):
        enc.encode(["x"])


def test_cuda_requested_but_not_applied_is_an_error(minilm_dir: Path) -> None:
    import onnxruntime as ort
    from embedspec_onnx.common.runtime import ProviderError

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has onnxruntime-gpu: see benchmarks/gpu_check.sh for the GPU path")
    with pytest.raises(ProviderError, match="CUDAExecutionProvider did not apply"):
        OnnxTextEncoder(model=str(minilm_dir), device="cuda:0").encode(["x"])
    auto = OnnxTextEncoder(model=str(minilm_dir), device="auto")
    assert auto.applied_device == "cpu"
