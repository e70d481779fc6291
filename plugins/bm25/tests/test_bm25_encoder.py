"""The ``bm25`` encoder: analyzer, weights against a hand computation and against rank_bm25, bad input."""

from __future__ import annotations

import hashlib
import json
import random
import string

import numpy as np
import pytest
from bm25_reference import CORPUS, QUERIES, lucene_idf
from embedspec.errors import SpecError
from embedspec.representations import SparseVectors
from embedspec_bm25 import LANGUAGES, TERM_SPACE, Analyzer, Bm25Encoder, term_id


def score(queries: SparseVectors, docs: SparseVectors) -> np.ndarray:
    """``(m, n)`` BM25 scores: query counts x Lucene IDF over ``docs`` x document weights (float64)."""
    terms, df = np.unique(docs.indices, return_counts=True)
    n = len(docs)
    idf = dict(zip(terms.tolist(), (lucene_idf(n, d) for d in df.tolist())))
    out = np.zeros((len(queries), n))
    for qi, (q_idx, q_val) in enumerate(queries):
        for di, (d_idx, d_val) in enumerate(docs):
            weights = dict(zip(d_idx.tolist(), d_val.tolist()))
            out[qi, di] = sum(c * idf.get(t, 0.0) * weights.get(t, 0.0) for t, c in zip(q_idx.tolist(), q_val.tolist()))
    return out


# ---- analyzer ------------------------------------------------------------------------------
def test_analyzer_folds_splits_stops_and_stems():
    english = Bm25Encoder().analyzer
    assert english.analyze("The cell\u2019s proteins don't RUNNING Stra\u00dfe \ufb01nancial 12.5 r\u00e9sum\u00e9s; the_x") == [
        "cell", "protein", "don't", "run", "strass", "financi", "12", "5", "r\u00e9sum\u00e9", "x"
    ]
    assert english.stopwords == frozenset({
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not",
        "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was",
        "will", "with",
    })  # Lucene's English stop set (the BEIR BM25 baseline's analyzer)
    # Devanagari vowel signs are combining marks: the word stays whole, then the Hindi stemmer applies
    assert Analyzer("hi").tokenize("\u0939\u093f\u0928\u094d\u0926\u0940 \u092d\u093e\u0937\u093e") == [
        "\u0939\u093f\u0928\u094d\u0926\u0940", "\u092d\u093e\u0937\u093e"
    ]
    # outside English an apostrophe splits (French elision), and the French stop list applies
    assert Bm25Encoder(language="fr").analyzer.analyze("L'homme et les chevaux") == ["homm", "cheval"]
    assert Bm25Encoder(language="de", stemmer=False).analyzer.analyze("Die STRASSE und der Fluss") == ["strasse", "fluss"]
    assert Bm25Encoder(stopwords=["fox"]).analyzer.analyze("the fox") == ["the"]
    assert Bm25Encoder(stopwords="none").analyzer.analyze("the fox") == ["the", "fox"]


def test_languages_are_the_snowball_stemmers_and_the_lists_exist():
    import bm25s.stopwords
    import Stemmer

    assert set(LANGUAGES) == set(Stemmer.algorithms()) - {"porter", "dutch_porter"}
    for name, (code, stop_list) in LANGUAGES.items():
        assert Bm25Encoder(language=code, stopwords="none").language == name
        if stop_list is not None:
            assert len(getattr(bm25s.stopwords, stop_list)) > 20
            assert Bm25Encoder(language=name).analyzer.stopwords


def test_term_ids_are_stable_32_bit_hashes():
    enc = Bm25Encoder(stopwords="none", stemmer=False)
    out = enc.encode(["zebra"], role="query")
    assert out.dim == TERM_SPACE == 2**32
    digest = hashlib.blake2b(b"zebra", digest_size=4).digest()
    assert out.indices.tolist() == [term_id("zebra")] == [int.from_bytes(digest, "little")]
    assert term_id("zebra") == 2_175_618_413  # fixed forever: stored indexes depend on it


# ---- weights -------------------------------------------------------------------------------
def test_hand_computed_example():
    """k1 = 1.2, b = 0.75, avgdl = 5/3 over D1 "cats cat dog", D2 "dog", D3 "bird"; query "cat dog"."""
    enc = Bm25Encoder(k1=1.2, b=0.75, avgdl=5 / 3)
    docs = enc.encode(["Cats cat dog", "dog", "bird"])
    cat, dog, bird = term_id("cat"), term_id("dog"), term_id("bird")
    # D1 (|d| = 3): norm = 1.2 * (0.25 + 0.75 * 3 / (5/3)) = 1.92; cat tf 2: 4.4 / 3.92; dog tf 1: 2.2 / 2.92
    # D2, D3 (|d| = 1): norm = 1.2 * (0.25 + 0.75 * 0.6) = 0.84; tf 1: 2.2 / 1.84
    expected = [{cat: 4.4 / 3.92, dog: 2.2 / 2.92}, {dog: 2.2 / 1.84}, {bird: 2.2 / 1.84}]
    for (idx, val), want in zip(docs, expected):
        assert dict(zip(idx.tolist(), val.tolist())) == pytest.approx(want, rel=1e-6)
    query = enc.encode(["cat dog"], role="query")
    assert sorted(query.indices.tolist()) == sorted([cat, dog]) and query.values.tolist() == [1.0, 1.0]
    # idf(cat) = ln(1 + 2.5 / 1.5) = 0.98083, idf(dog) = ln(1 + 1.5 / 2.5) = ln 1.6 = 0.47000
    assert score(query, docs)[0] == pytest.approx([0.98082925 * 4.4 / 3.92 + 0.47000363 * 2.2 / 2.92,
                                                   0.47000363 * 2.2 / 1.84, 0.0], rel=1e-6)
    assert score(query, docs)[0] == pytest.approx([1.45504312, 0.56196086, 0.0], rel=1e-7)


@pytest.mark.parametrize("k1,b", [(1.2, 0.75), (1.5, 0.75), (0.9, 0.4), (2.0, 1.0), (1.2, 0.0)])
def test_scores_equal_rank_bm25_on_a_small_corpus(reference_bm25, k1, b):
    enc = Bm25Encoder(k1=k1, b=b).fit(CORPUS)
    tokenized = enc.analyzer.analyze_all(CORPUS)
    assert enc.avgdl == pytest.approx(np.mean([len(t) for t in tokenized]))
    reference = reference_bm25(tokenized, k1, b)
    ours = score(enc.encode(QUERIES, role="query"), enc.encode(CORPUS))
    for qi, query in enumerate(QUERIES):
        np.testing.assert_allclose(ours[qi], reference.get_scores(enc.analyzer.analyze(query)), rtol=1e-6, atol=1e-9)


@pytest.mark.data
def test_scores_equal_rank_bm25_on_scifact(shared_data, reference_bm25):
    corpus = [json.loads(line) for line in (shared_data / "scifact" / "corpus.jsonl").open()][:300]
    texts = [f"{d['title']} {d['text']}" for d in corpus]
    queries = [json.loads(line)["text"] for line in (shared_data / "scifact" / "queries.jsonl").open()][:20]
    enc = Bm25Encoder().fit(texts)
    reference = reference_bm25(enc.analyzer.analyze_all(texts), enc.k1, enc.b)
    ours = score(enc.encode(queries, role="query"), enc.encode(texts))
    want = np.array([reference.get_scores(enc.analyzer.analyze(q)) for q in queries])
    np.testing.assert_allclose(ours, want, rtol=2e-6, atol=1e-6)


def test_batches_and_order_do_not_change_the_output():
    enc = Bm25Encoder(avgdl=8.0)
    whole = enc.encode(CORPUS)
    small = enc.encode(CORPUS, batch_size=5)
    for a, b in ((whole.indptr, small.indptr), (whole.indices, small.indices), (whole.values, small.values)):
        np.testing.assert_array_equal(a, b)
    rev = enc.encode(CORPUS[::-1])
    for i in range(len(CORPUS)):
        np.testing.assert_array_equal(rev[len(CORPUS) - 1 - i][1], whole[i][1])


# ---- bad input -----------------------------------------------------------------------------
def test_an_empty_document_is_refused_with_its_position():
    enc = Bm25Encoder()
    with pytest.raises(ValueError, match=r"^document at position 2 has no terms after analysis \(english: empty, "
                       r"or only punctuation and stop words\): 'the, of; \.\.\.'$"):
        enc.encode(["fox", "dog", "the, of; ...", "cat"])
    with pytest.raises(ValueError, match="document at position 0 has no terms"):
        enc.encode([""])
    assert len(enc.encode(["the"], role="query").indices) == 0  # a query may have no terms: it matches nothing
    with pytest.raises(TypeError, match="input at position 1 is int, not str"):
        enc.encode(["fox", 3])


def test_unknown_language_and_missing_stop_list_are_located_in_a_spec(tmp_path):
    from embedspec import build

    spec = tmp_path / "spec.yaml"
    spec.write_text("version: 1\nencoder:\n  type: bm25\n  language: klingon\nindex:\n  type: exact\n")
    with pytest.raises(SpecError) as info:
        build(spec)
    text = str(info.value)
    assert "encoder.language" in text and "line 4" in text and "unknown language 'klingon'" in text
    with pytest.raises(SpecError, match=r"stopwords: .*no default stop-word list for hindi; set stopwords: none"):
        Bm25Encoder(language="hindi")
    with pytest.raises(SpecError, match="b: Input should be less than or equal to 1"):
        Bm25Encoder(b=1.5)


def test_fuzzed_texts_encode_to_valid_rows_or_a_located_error():
    rng = random.Random(13)
    alphabet = string.printable + "\u00e9\u00df\u0939\u093f\u4e2d\u0627\u2019\ufb01\u0301 "
    enc = Bm25Encoder(avgdl=10.0)
    for _ in range(200):
        texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(rng.randint(1, 6))]
        try:
            out = enc.encode(texts)
        except ValueError as exc:
            assert str(exc).startswith("document at position ")
            position = int(str(exc).split()[3])
            assert enc.analyzer.analyze(texts[position]) == []
            continue
        assert len(out) == len(texts) and (out.values > 0).all() and out.dim == 2**32
        query = enc.encode(texts, role="query")
        assert (query.values >= 1).all() and query.values.dtype == np.float32
