"""``onnx-text`` ``output: sparse``: a tiny random BertForMaskedLM exported with its masked-LM head, SPLADE
weights compared entry by entry with transformers, and the whole chain from a YAML spec to ``exact``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from embedspec.errors import SpecError
from embedspec.representations import SparseVectors
from embedspec.testing_fixtures import need
from embedspec_onnx import ModelCard, OnnxTextEncoder
from embedspec_onnx.common.card import ModelDirectoryError
from embedspec_onnx.testing_fixtures import INSTALL
from embedspec_onnx.text.reference import reference_sparse_weights
from embedspec_onnx.text.sparse import sparse_rows

pytestmark = pytest.mark.slow

TEXTS = [
    "the quick brown fox jumps over the lazy dog.",
    "learned sparse retrieval weighs every vocabulary term!",
    "a",
    "fox",
    "Émile a mangé 🚀 du pâté ∑ über straße — 机器学习",
    "the fox " * 40,  # past max_length: truncated
    "",
    "   \n\t",
]


@pytest.fixture(scope="module")
def tiny_mlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer BertForMaskedLM (hidden 32) with a WordPiece vocabulary trained here."""
    need("torch", "transformers", "tokenizers", install=INSTALL)
    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    corpus = ["the quick brown fox jumps over the lazy dog", "learned sparse retrieval weighs every term",
              "vocabulary terms and their weights", "émile mange du pâté über straße"] * 4
    path = tmp_path_factory.mktemp("tiny-mlm") / "checkpoint"
    path.mkdir()
    wp = BertWordPieceTokenizer(lowercase=True)
    wp.train_from_iterator(corpus, vocab_size=150, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    wp.save_model(str(path))
    tok = BertTokenizerFast(vocab_file=str(path / "vocab.txt"), model_max_length=48)
    tok.save_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, pad_token_id=tok.pad_token_id)
    BertForMaskedLM(config).eval().save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def splade_dir(tiny_mlm: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from embedspec_onnx.text.export import export_model

    out = tmp_path_factory.mktemp("tiny-splade-onnx") / "model"
    export_model(tiny_mlm, out, family="generic", name="tiny-splade", sparse=True, max_length=48)
    return out


@pytest.fixture(scope="module")
def base_dir(tiny_mlm: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same checkpoint exported without its head (hidden states)."""
    from embedspec_onnx.text.export import export_model

    out = tmp_path_factory.mktemp("tiny-base-onnx") / "model"
    export_model(tiny_mlm, out, family="generic", name="tiny-base", max_length=48)
    return out


def test_export_records_the_head(splade_dir: Path, tiny_mlm: Path) -> None:
    card = ModelCard.read(splade_dir)
    vocab = len((tiny_mlm / "vocab.txt").read_text().split())
    assert card.head == "mlm" and card.vocab_size == vocab and card.output_name == "logits"
    assert card.export.verified_max_abs_diff is not None and card.export.verified_max_abs_diff <= 1e-4
    enc = OnnxTextEncoder(model=str(splade_dir), device="cpu", output="sparse")
    assert enc.output_kind == "sparse" and enc.dim == vocab
    assert getattr(enc, "sparse_modifier", None) is None  # no IDF: SPLADE weights are learned


@pytest.mark.parametrize("role", ["document", "query"])
@pytest.mark.parametrize("batch_size", [1, 3, 32])
def test_splade_weights_match_transformers(splade_dir: Path, tiny_mlm: Path, role: str, batch_size: int) -> None:
    enc = OnnxTextEncoder(model=str(splade_dir), device="cpu", output="sparse", batch_size=batch_size)
    got = enc.encode(TEXTS, role=role)
    assert isinstance(got, SparseVectors) and len(got) == len(TEXTS)
    want = reference_sparse_weights(str(tiny_mlm), ModelCard.read(splade_dir), TEXTS, role=role)
    dense = got.to_scipy().toarray()
    assert float(np.abs(dense - want).max()) <= 1e-4
    for i in range(len(TEXTS)):  # zeros dropped, indices ascending, every stored value positive
        idx, val = got[i]
        assert (np.diff(idx) > 0).all() and (val > 0).all()
        np.testing.assert_array_equal(idx, np.flatnonzero(dense[i]))
    assert (got.nnz > 0).all()  # empty text: the [CLS]/[SEP] logits, as transformers gives them


def test_top_k_keeps_the_largest_weights(splade_dir: Path, tiny_mlm: Path) -> None:
    full = OnnxTextEncoder(model=str(splade_dir), device="cpu", output="sparse").encode(TEXTS).to_scipy().toarray()
    got = OnnxTextEncoder(model=str(splade_dir), device="cpu", output="sparse", top_k=5).encode(TEXTS)
    assert (got.nnz == np.minimum(5, (full > 0).sum(axis=1))).all()
    for i in range(len(TEXTS)):
        idx, val = got[i]
        assert (np.diff(idx) > 0).all()
        np.testing.assert_allclose(val, full[i, idx], atol=0)
        assert val.min() >= np.sort(full[i])[-5]  # none of the dropped weights beats a kept one


def test_sparse_rows_by_hand() -> None:
    weights = np.array([[0.0, 3.0, 1.0, 2.0], [0.0, 0.0, 0.0, 0.0], [5.0, 0.0, 0.5, 0.0]], dtype=np.float32)
    rows = sparse_rows(weights, None)
    assert rows.indptr.tolist() == [0, 3, 3, 5] and rows.indices.tolist() == [1, 2, 3, 0, 2]
    assert rows.values.tolist() == [3.0, 1.0, 2.0, 5.0, 0.5] and rows.dim == 4
    top = sparse_rows(weights, 2)
    assert top.indptr.tolist() == [0, 2, 2, 4] and top.indices.tolist() == [1, 3, 0, 2]


def test_sparse_options_are_checked(splade_dir: Path) -> None:
    with pytest.raises(SpecError, match="top_k"):
        OnnxTextEncoder(model=str(splade_dir), output="sparse", top_k=0)
    with pytest.raises(SpecError, match="top_k applies to output: sparse only"):
        OnnxTextEncoder(model=str(splade_dir), top_k=5)
    with pytest.raises(SpecError, match="pooling does not apply to output: sparse"):
        OnnxTextEncoder(model=str(splade_dir), output="sparse", pooling="mean")


def test_sparse_without_the_head_and_pooled_with_it_are_located(splade_dir: Path, base_dir: Path) -> None:
    with pytest.raises(ModelDirectoryError, match="output: sparse needs a model exported with its masked-LM head") \
            as exc:
        OnnxTextEncoder(model=str(base_dir), output="sparse").check()
    assert exc.value.field == "output"
    with pytest.raises(ModelDirectoryError, match="exported with its masked-LM head .* use it with output: sparse"):
        OnnxTextEncoder(model=str(splade_dir)).check()


def spec_text(model: Path, index: Path, extra: str = "") -> str:
    return (f"version: 1\nencoder:\n  type: onnx-text\n  model: {model}\n  output: sparse\n{extra}"
            f"index:\n  type: exact\n  path: {index}\n")


def test_a_sparse_spec_builds_searches_and_round_trips(splade_dir: Path, tmp_path: Path) -> None:
    import yaml
    from embedspec.pipeline import build

    docs = ["the quick brown fox", "jumps over the lazy dog", "learned sparse retrieval",
            "vocabulary terms and weights", "the dog and the fox"]
    path = tmp_path / "spec.yaml"
    path.write_text(spec_text(splade_dir, tmp_path / "idx", "  top_k: 40\n"))
    queries = ["lazy fox", "sparse weights"]
    with build(path) as pipe:
        pipe.add(docs, ids=list(range(len(docs))))
        got = pipe.search(queries, k=3)
        written = pipe.to_spec()
    assert written["encoder"]["output"] == "sparse" and written["encoder"]["top_k"] == 40
    yaml.safe_load(yaml.safe_dump(written))
    enc = OnnxTextEncoder(model=str(splade_dir), device="cpu", output="sparse", top_k=40)
    scores = (enc.encode(queries, role="query").to_scipy() @ enc.encode(docs).to_scipy().T).toarray()
    for q, hits in enumerate(got):  # sparse dot product, best first
        want = np.argsort(-scores[q], kind="stable")[:3]
        assert [h.id for h in hits] == want.tolist()
        np.testing.assert_allclose([h.score for h in hits], scores[q, want], rtol=1e-5)
    with build(written) as again:
        assert [[h.id for h in r] for r in again.search(queries, k=3)] == [[h.id for h in r] for r in got]


def test_bad_sparse_specs_are_located(splade_dir: Path, base_dir: Path, tmp_path: Path) -> None:
    import embedspec

    bad_k = tmp_path / "bad_k.yaml"
    bad_k.write_text(spec_text(splade_dir, tmp_path / "i1", "  top_k: 0\n"))
    with pytest.raises(SpecError) as exc:
        embedspec.build(bad_k)
    assert "line 6: encoder.top_k" in str(exc.value) and "greater than 0" in str(exc.value)
    no_head = tmp_path / "no_head.yaml"
    no_head.write_text(spec_text(base_dir, tmp_path / "i2"))
    with pytest.raises(SpecError) as exc:
        embedspec.build(no_head)
    assert "line 5: encoder.output" in str(exc.value) and "masked-LM head" in str(exc.value)
    assert not (tmp_path / "i1").exists() and not (tmp_path / "i2").exists()


def test_deep_check_runs_the_head(splade_dir: Path) -> None:
    OnnxTextEncoder(model=str(splade_dir), output="sparse").check(deep=True)
    with pytest.raises(ModelDirectoryError, match="dim 7 does not match the vocabulary") as exc:
        OnnxTextEncoder(model=str(splade_dir), output="sparse", dim=7).check()
    assert exc.value.field == "dim"


def test_fuzz_batches_equal_one_at_a_time(splade_dir: Path) -> None:
    """Random texts (punctuation, whitespace, unicode, [MASK]) give the same rows in any batch as alone."""
    enc = OnnxTextEncoder(model=str(splade_dir), device="cpu", output="sparse", batch_size=3, top_k=7)
    rng = np.random.default_rng(5)
    pool = list("the quick brown fox, jumps! over? (lazy) dog; ...") + ["é", "🚀", "\n", "\t", "  ", "[MASK]", "机"]
    for _ in range(8):
        texts = ["".join(rng.choice(pool, size=int(rng.integers(0, 60)))) for _ in range(int(rng.integers(1, 8)))]
        got = enc.encode(texts).to_scipy().toarray()
        alone = np.concatenate([enc.encode([t]).to_scipy().toarray() for t in texts])
        assert got.shape == alone.shape and float(np.abs(got - alone).max()) <= 1e-5


def test_cli_export_sparse_and_validate(tiny_mlm: Path, splade_dir: Path, base_dir: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from embedspec.cli import main

    def run(args: list[str]) -> tuple[int, str]:
        capsys.readouterr()
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out + out.err

    code, text = run(["export", str(tiny_mlm), str(tmp_path / "m"), "--sparse", "--family", "generic",
                      "--max-length", "48"])
    assert code == 0, text
    assert "masked-LM head" in text and "verified against the source model" in text
    assert ModelCard.read(tmp_path / "m").head == "mlm"
    spec = tmp_path / "no_head.yaml"
    spec.write_text(spec_text(base_dir, tmp_path / "idx"))
    code, text = run(["validate", str(spec)])
    assert code == 1 and "Traceback" not in text and "line 5: encoder.output" in text, text
    assert not (tmp_path / "idx").exists()


def test_the_sparse_and_token_outputs_pass_the_kit_contracts(splade_dir: Path, base_dir: Path) -> None:
    """The conformance kit's encoder contracts, which follow the output kind (SparseVectors, MultiVectors)."""
    from embedspec.testing import check_encoder

    texts = ["a cat sat", "dogs bark at night", "ünïcode text 🚀", "x"]
    check_encoder(OnnxTextEncoder(model=str(splade_dir), device="cpu", output="sparse"), texts)
    check_encoder(OnnxTextEncoder(model=str(base_dir), device="cpu", output="tokens"), texts)
