"""``onnx-text`` ``output: tokens``: a tiny random BERT + linear projection (ColBERT-style) exported and
compared token by token with transformers, and real all-MiniLM-L6-v2 token vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from embedspec.errors import SpecError
from embedspec.representations import MultiVectors
from embedspec.testing_fixtures import need
from embedspec_onnx import ModelCard, OnnxTextEncoder
from embedspec_onnx.common.card import ModelDirectoryError
from embedspec_onnx.testing_fixtures import INSTALL
from embedspec_onnx.text.reference import reference_token_vectors
from embedspec_onnx.text.tokens import Projection

pytestmark = pytest.mark.slow

TEXTS = [
    "the quick brown fox jumps over the lazy dog.",
    "late interaction scores every query token against its best document token!",
    "a",
    "retrieval, ranking; and (re-ranking) with vectors?",
    "dog fox lazy quick the brown jumps over",
    "the fox " * 40,  # past max_length: truncated
]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer BERT (hidden 32) with a WordPiece vocabulary trained here and a
    ``1_Dense`` linear projection 32 -> 16 with bias (as PyLate / sentence-transformers ColBERT save it)."""
    need("torch", "transformers", "tokenizers", "safetensors", install=INSTALL)
    import torch
    from safetensors.torch import save_file
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    corpus = [
        "the quick brown fox jumps over the lazy dog", "late interaction scores every query token",
        "against its best document token", "retrieval ranking and re-ranking with vectors",
        "punctuation . , ; : ! ? ( ) - ' \" has tokens of its own",
    ] * 4
    path = tmp_path_factory.mktemp("tiny-bert") / "checkpoint"
    path.mkdir()
    wp = BertWordPieceTokenizer(lowercase=True)
    wp.train_from_iterator(corpus, vocab_size=200, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    wp.save_model(str(path))
    tok = BertTokenizerFast(vocab_file=str(path / "vocab.txt"), model_max_length=48)
    tok.save_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, pad_token_id=tok.pad_token_id)
    BertModel(config).eval().save_pretrained(path)
    linear = torch.nn.Linear(32, 16, bias=True)
    (path / "1_Dense").mkdir()
    save_file({"linear.weight": linear.weight.detach().contiguous(), "linear.bias": linear.bias.detach().contiguous()},
              str(path / "1_Dense" / "model.safetensors"))
    return path


@pytest.fixture(scope="module")
def bert_dir(tiny_bert: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from embedspec_onnx.text.export import export_model

    out = tmp_path_factory.mktemp("tiny-bert-onnx") / "model"
    export_model(tiny_bert, out, family="generic", name="tiny-colbert", tokens=True, max_length=48)
    return out


def projection_of(directory: Path) -> Projection:
    return Projection.read(directory / "projection.npz")


def test_export_carries_the_projection_and_verifies_tokens(bert_dir: Path, tiny_bert: Path) -> None:
    card = ModelCard.read(bert_dir)
    assert card.files["projection"] == "projection.npz" and card.token_dim == 16 and card.dim == 32
    assert card.export.verified_tokens_max_abs_diff is not None  # type: ignore[attr-defined]
    assert card.export.verified_tokens_max_abs_diff < 1e-4  # type: ignore[attr-defined]
    from safetensors.numpy import load_file

    source = load_file(str(tiny_bert / "1_Dense" / "model.safetensors"))
    proj = projection_of(bert_dir)
    np.testing.assert_array_equal(proj.weight, source["linear.weight"])
    np.testing.assert_array_equal(proj.bias, source["linear.bias"])


@pytest.mark.parametrize(
    ("role", "options"),
    [
        ("document", {}),
        ("document", {"skip_punctuation": True}),
        ("query", {}),
        ("query", {"query_length": 12}),
        ("query", {"query_length": 12, "attend_to_mask": True}),
    ],
)
def test_tokens_match_transformers(bert_dir: Path, tiny_bert: Path, role: str, options: dict) -> None:
    enc = OnnxTextEncoder(model=str(bert_dir), device="cpu", output="tokens", batch_size=4, **options)
    assert enc.output_kind == "multi" and enc.dim == 16
    got = enc.encode(TEXTS, role=role)
    assert isinstance(got, MultiVectors) and len(got) == len(TEXTS) and got.dim == 16
    expected = reference_token_vectors(str(tiny_bert), enc.card, TEXTS, role=role, projection=projection_of(bert_dir),
                                       **options)
    for i, ref in enumerate(expected):
        assert got[i].shape == ref.shape, (i, got[i].shape, ref.shape)
        assert np.abs(got[i] - ref).max() <= 1e-4
    np.testing.assert_allclose(np.linalg.norm(got.data, axis=1), 1.0, atol=1e-5)
    # batching, sorting and padding do not change a text's vectors
    one = MultiVectors.concat([enc.encode([t], role=role) for t in TEXTS])
    np.testing.assert_array_equal(one.offsets, got.offsets)
    assert np.abs(one.data - got.data).max() <= 1e-5


def test_token_counts_follow_the_rules(bert_dir: Path) -> None:
    plain = OnnxTextEncoder(model=str(bert_dir), device="cpu", output="tokens")
    tok = plain.warm_up() or plain._tokenizer.tokenizer
    words = tok.encode("retrieval, ranking; and vectors?", add_special_tokens=False).tokens
    n_punct = sum(w in ",;?" for w in words)
    doc = plain.encode(["retrieval, ranking; and vectors?"])
    assert doc.lengths.tolist() == [len(words)]  # [CLS] and [SEP] dropped
    skip = OnnxTextEncoder(model=str(bert_dir), device="cpu", output="tokens", skip_punctuation=True)
    assert skip.encode(["retrieval, ranking; and vectors?"]).lengths.tolist() == [len(words) - n_punct]
    # punctuation is skipped in documents only; queries keep it
    assert skip.encode(["retrieval, ranking; and vectors?"], role="query").lengths.tolist() == [len(words)]
    aug = OnnxTextEncoder(model=str(bert_dir), device="cpu", output="tokens", query_length=12)
    assert aug.encode(["fox", TEXTS[5]], role="query").lengths.tolist() == [10, 10]  # 12 - [CLS] - [SEP]
    assert aug.encode(["fox"], role="document").lengths.tolist() == [1]  # documents are not augmented
    special = OnnxTextEncoder(model=str(bert_dir), device="cpu", output="tokens", query_length=12, keep_special=True)
    assert special.encode(["fox"], role="query").lengths.tolist() == [12]


def test_empty_token_sets_are_located_errors(bert_dir: Path) -> None:
    enc = OnnxTextEncoder(model=str(bert_dir), device="cpu", output="tokens", skip_punctuation=True)
    with pytest.raises(ValueError, match=r"input at position 1 has no tokens left .*; 2 such inputs in all"):
        enc.encode(["fox", "", "dog", "   "])
    with pytest.raises(ValueError, match="input at position 0 has no tokens left"):
        enc.encode(["?!.", "fox"])
    assert enc.encode([]).dim == 16 and len(enc.encode([])) == 0
    # queries augmented with masks are never empty
    aug = OnnxTextEncoder(model=str(bert_dir), device="cpu", output="tokens", query_length=8)
    assert aug.encode([""], role="query").lengths.tolist() == [6]


def test_token_options_are_checked() -> None:
    with pytest.raises(SpecError, match="query_length applies to output: tokens only"):
        OnnxTextEncoder(model="x", query_length=32)
    with pytest.raises(SpecError, match="pooling does not apply to output: tokens"):
        OnnxTextEncoder(model="x", output="tokens", pooling="mean")
    OnnxTextEncoder(model="x", output="tokens", dim=8)  # accepted here; checked against the model (below)


def test_broken_projection_is_a_located_error(bert_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(bert_dir, copy)
    np.savez(copy / "projection.npz", weight=np.ones((8, 32), dtype=np.float32))  # 8 rows, card says 16
    with pytest.raises(ModelDirectoryError, match="maps 32 -> 8, the card says dim 32 -> token_dim 16"):
        OnnxTextEncoder(model=str(copy), device="cpu", output="tokens").encode(["fox"])
    np.savez(copy / "projection.npz", bias=np.ones(16, dtype=np.float32))
    with pytest.raises(ModelDirectoryError, match="needs a 2-D array 'weight'"):
        OnnxTextEncoder(model=str(copy), device="cpu", output="tokens").encode(["fox"])
    aug = OnnxTextEncoder(model=str(bert_dir), device="cpu", output="tokens", query_length=8)
    assert aug.check() is None
    with pytest.raises(ModelDirectoryError, match="dim 8 does not match the token vectors of model tiny-colbert, "
                       "which are 16-d") as info:
        OnnxTextEncoder(model=str(bert_dir), device="cpu", output="tokens", dim=8).check()
    assert info.value.field == "dim"
    assert OnnxTextEncoder(model=str(bert_dir), device="cpu", output="tokens", dim=16).dim == 16


def test_minilm_token_vectors_match_transformers(minilm_dir: Path, minilm_checkpoint: Path) -> None:
    enc = OnnxTextEncoder(model=str(minilm_dir), device="cpu", output="tokens", batch_size=8)
    texts = [t for t in TEXTS if t.strip()] + ["Vitamin D deficiency is associated with respiratory infections."]
    got = enc.encode(texts)
    assert got.dim == 384
    expected = reference_token_vectors(str(minilm_checkpoint), enc.card, texts)
    for i, ref in enumerate(expected):
        assert got[i].shape == ref.shape
        assert np.abs(got[i] - ref).max() <= 1e-4
    # the mean of a text's (unnormalized) token states with [CLS]/[SEP] is its pooled vector
    raw = OnnxTextEncoder(model=str(minilm_dir), device="cpu", output="tokens", keep_special=True, normalize=False)
    pooled = OnnxTextEncoder(model=str(minilm_dir), device="cpu", normalize=False).encode(texts[:3])
    tokens = raw.encode(texts[:3])
    np.testing.assert_allclose(np.stack([tokens[i].mean(axis=0) for i in range(3)]), pooled, atol=1e-5)


def test_token_pipeline_writes_nothing_on_an_empty_text_and_fuzz(bert_dir: Path, tmp_path: Path) -> None:
    """A batch with a text that has no token vectors fails naming its position and writes nothing; random
    texts (punctuation, whitespace, unicode) either encode, equal one at a time, or fail that way."""
    from embedspec.builtin.exact import ExactIndex
    from embedspec.pipeline import Pipeline

    enc = OnnxTextEncoder(model=str(bert_dir), device="cpu", output="tokens", skip_punctuation=True, batch_size=3)
    with Pipeline(enc, ExactIndex(path=str(tmp_path / "idx"))) as pipe:
        pipe.add(["the fox"], ids=["kept"])
        with pytest.raises(ValueError, match="input at position 2 has no tokens left"):
            pipe.add(["quick dog", "lazy fox", " ?! ", "brown"], ids=["a", "b", "c", "d"])
        assert pipe.count() == 1
    rng = np.random.default_rng(3)
    pool = list("the quick brown fox, jumps! over? (lazy) dog; ...") + ["é", "🚀", "\n", "\t", "  ", "[MASK]"]
    for _ in range(8):
        texts = ["".join(rng.choice(pool, size=int(rng.integers(0, 30)))) for _ in range(int(rng.integers(1, 7)))]
        alone = []
        for t in texts:
            try:
                alone.append(enc.encode([t]))
            except ValueError as exc:
                assert "input at position 0 has no tokens left" in str(exc)
                alone.append(None)
        if any(a is None for a in alone):
            first = next(i for i, a in enumerate(alone) if a is None)
            with pytest.raises(ValueError, match=f"input at position {first} has no tokens left"):
                enc.encode(texts)
        else:
            got = enc.encode(texts)
            for i, one in enumerate(alone):
                assert np.abs(got[i] - one[0]).max() <= 1e-5


def test_a_token_spec_with_muvera_rescoring_builds_round_trips_and_reopens(bert_dir: Path, tmp_path: Path) -> None:
    """The whole chain from YAML: onnx-text (tokens) -> muvera (rescore) -> exact; results equal exact MaxSim
    when prefetch covers the corpus; a read-only reopen answers the same; to_spec round-trips."""
    import yaml
    from embedspec.builtin.exact import ExactIndex
    from embedspec.pipeline import Pipeline, build

    docs = ["the quick brown fox", "jumps over the lazy dog", "late interaction scores tokens",
            "retrieval ranking with vectors", "the dog and the fox", "punctuation has tokens of its own"]
    spec = {"version": 1,
            "encoder": {"type": "onnx-text", "model": str(bert_dir), "output": "tokens", "query_length": 8},
            "compressors": [{"type": "muvera", "k_sim": 2, "r_reps": 3, "dim_proj": 4, "rescore": True,
                             "prefetch": 50}],
            "index": {"type": "exact", "path": str(tmp_path / "idx"), "metric": "cosine"}}
    with build(spec) as pipe:
        assert pipe.index.kind == "multi" and pipe.quantizer is not None
        pipe.add(docs, ids=list(range(len(docs))))
        got = pipe.search(["lazy fox", "token vectors"], k=3)
        written = pipe.to_spec()
    assert written["compressors"][0] == {"type": "muvera", "k_sim": 2, "r_reps": 3, "dim_proj": 4, "rescore": True,
                                         "prefetch": 50}
    assert written["encoder"]["output"] == "tokens" and written["encoder"]["query_length"] == 8
    yaml.safe_load(yaml.safe_dump(written))
    enc = OnnxTextEncoder(model=str(bert_dir), device="cpu", output="tokens", query_length=8)
    truth = Pipeline(enc, ExactIndex(metric="cosine"))
    truth.add(docs, ids=list(range(len(docs))))
    want = truth.search(["lazy fox", "token vectors"], k=3)
    assert [[h.id for h in r] for r in got] == [[h.id for h in r] for r in want]
    np.testing.assert_allclose([h.score for r in got for h in r], [h.score for r in want for h in r], atol=1e-4)
    with build(spec, read_only=True) as again:
        assert [[h.id for h in r] for r in again.search(["lazy fox", "token vectors"], k=3)] == \
            [[h.id for h in r] for r in want]


def test_a_token_spec_with_muvera_rescoring_on_qdrant_edge(bert_dir: Path, tmp_path: Path) -> None:
    """onnx-text (tokens) -> muvera (rescore) -> qdrant-edge from a spec: one Prefetch query per query
    (FDE candidates re-ranked by Qdrant's MaxSim) equals the exact index's two stages; reopening read-only
    answers the same; a plain multi-vector spec on that shard is refused."""
    pytest.importorskip("embedspec_qdrant", reason="embedspec-qdrant is not installed")
    from embedspec.errors import EmbedspecError
    from embedspec.pipeline import build

    docs = ["the quick brown fox", "jumps over the lazy dog", "late interaction scores tokens",
            "retrieval ranking with vectors", "the dog and the fox", "punctuation has tokens of its own"]
    queries = ["lazy fox", "token vectors", "dog"]
    encoder = {"type": "onnx-text", "model": str(bert_dir), "output": "tokens", "query_length": 8}
    muvera = {"type": "muvera", "k_sim": 2, "r_reps": 3, "dim_proj": 4, "rescore": True, "prefetch": 3}
    edge = {"type": "qdrant-edge", "path": str(tmp_path / "shard"), "metric": "cosine"}
    spec = {"version": 1, "encoder": encoder, "compressors": [muvera], "index": edge}
    reference = {"version": 1, "encoder": encoder, "compressors": [muvera], "index": {"type": "exact", "metric": "cosine"}}
    with build(spec) as pipe, build(reference) as exact:
        assert pipe.native_quantization and pipe.index.kind == "multi"
        for p in (pipe, exact):
            p.add(docs, ids=list(range(len(docs))), payloads=[{"even": i % 2 == 0} for i in range(len(docs))])
        got, want = pipe.search(queries, k=3), exact.search(queries, k=3)
        assert [[h.id for h in r] for r in got] == [[h.id for h in r] for r in want]
        np.testing.assert_allclose([h.score for r in got for h in r], [h.score for r in want for h in r], atol=1e-4)
        flt = {"even": True}
        assert [[h.id for h in r] for r in pipe.search(queries, k=2, filter=flt)] == \
            [[h.id for h in r] for r in exact.search(queries, k=2, filter=flt)]
    with build(spec, read_only=True) as again:
        assert [[h.id for h in r] for r in again.search(queries, k=3)] == [[h.id for h in r] for r in want]
    with build({"version": 1, "encoder": encoder, "index": edge}) as plain, \
            pytest.raises(EmbedspecError, match="holds MUVERA FDEs and token vectors"):
        plain.search(queries, k=3)
