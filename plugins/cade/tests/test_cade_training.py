"""Training: the frozen context matrix, alignment to the compass, determinism, the kernel against
gensim, and bad training input."""

from __future__ import annotations

import numpy as np
import pytest
from cade_testdata import SMALL, need_training
from embedspec_cade.errors import CorpusError


def _setup(lee_texts, **settings):
    from embedspec_cade.settings import CadeSettings
    from embedspec_cade.text import slice_sentences
    from embedspec_cade.word2vec import build_vocabulary, new_model

    st = CadeSettings(**{**SMALL, **settings})
    sents = slice_sentences(lee_texts, "lee")
    model = new_model(st)
    vocab = build_vocabulary(model, sents, "lee")
    return st, sents, model, vocab


def test_frozen_context_matrix_is_bitwise_unchanged(lee_texts):
    from embedspec_cade.trainer import train_cbow

    st, sents, model, vocab = _setup(lee_texts, epochs=2)
    rng = np.random.default_rng(0)
    C = rng.standard_normal((len(vocab), st.dim)).astype(np.float32) * 0.1
    before = C.tobytes()
    W = model.wv.vectors.copy()
    W0 = W.copy()
    report = train_cbow(sents, vocab, W, C, st, learn_hidden=False, seed=1)
    assert C.tobytes() == before
    assert report.trained_positions > 10_000
    assert not np.array_equal(W, W0)  # only the word vectors moved
    # the same call with learn_hidden on does move C: the switch is what freezes it
    train_cbow(sents, vocab, W, C, st, learn_hidden=True, seed=1)
    assert C.tobytes() != before


def test_slices_never_write_the_compass(cade_model):
    for name, ids in cade_model.compass_ids_.items():
        assert [cade_model.compass_.words[i] for i in ids] == cade_model.slices_[name].words


def _retrieval(space, compass, min_count=10):
    """Share of words whose nearest compass vector is their own, and their mean cosine to it."""
    words = [w for w in space.words if space.count(w) >= min_count]
    X = space.unit[[space.index[w] for w in words]]
    S = X @ compass.unit.T
    hits = np.mean([compass.words[j] == w for j, w in zip(S.argmax(axis=1), words)])
    own = np.mean([S[i, compass.index[w]] for i, w in enumerate(words)])
    return float(hits), float(own), len(words)


def test_a_slice_identical_to_the_union_lands_on_the_compass(cade_model, lee_texts):
    from embedspec_cade.baselines import IndependentSlices

    spaces = cade_model.spaces()
    hits, own, n = _retrieval(spaces["union"], spaces["compass"])
    assert n > 800
    assert hits >= 0.99 and own >= 0.9, (hits, own)
    # the half slices land there too, a little further away (they saw half the text)
    for name in ("first", "second"):
        h, o, _ = _retrieval(spaces[name], spaces["compass"])
        assert h >= 0.85 and o >= 0.8, (name, h, o)
    # without the compass, the same text trained alone is in an unrelated space
    alone = IndependentSlices.fit({"union": lee_texts}, cade_model.settings).slices["union"]
    h, o, _ = _retrieval(alone, spaces["compass"])
    assert h < 0.02 and abs(o) < 0.3, (h, o)


def test_training_is_deterministic_given_a_seed(lee_texts):
    need_training()
    from embedspec_cade.model import CadeModel

    small = {"dim": 16, "epochs": 2, "min_count": 3}
    slices = {"a": lee_texts[:60], "b": lee_texts[60:120]}
    m1 = CadeModel(**small, seed=7).fit(slices)
    m2 = CadeModel(**small, seed=7).fit(slices)
    m3 = CadeModel(**small, seed=8).fit(slices)
    assert m1.context_.tobytes() == m2.context_.tobytes()
    for name in slices:
        assert m1.slices_[name].vectors.tobytes() == m2.slices_[name].vectors.tobytes()
        assert not np.array_equal(m1.slices_[name].vectors, m3.slices_[name].vectors)


def test_kernel_matches_gensim_on_the_compass_step(lee_texts, lee_test_texts):
    """Same vocabulary, initial vectors and objective: the kernel with the output layer learning is
    word2vec CBOW; its held-out likelihood is gensim's, and far above the untrained one."""
    from embedspec_cade.likelihood import held_out_positions, log_likelihood
    from embedspec_cade.text import slice_sentences
    from embedspec_cade.trainer import train_cbow
    from embedspec_cade.word2vec import train_model

    st, sents, model, vocab = _setup(lee_texts)
    W, C = model.wv.vectors.copy(), model.syn1neg.copy()
    held = held_out_positions(slice_sentences(lee_test_texts, "test"), vocab, window=st.window, negative=st.negative)
    untrained = log_likelihood(held, W + 0, C + np.random.default_rng(0).normal(0, 0.01, C.shape).astype(np.float32))
    report = train_cbow(sents, vocab, W, C, st, learn_hidden=True, seed=3, compute_loss=True)
    train_model(model, sents)
    ours = log_likelihood(held, W, C)
    theirs = log_likelihood(held, model.wv.vectors, model.syn1neg)
    assert len(held) > 2000
    assert abs(ours["ns"] - theirs["ns"]) < 0.05 * abs(theirs["ns"]), (ours, theirs)
    assert abs(ours["softmax"] - theirs["softmax"]) < 0.05 * abs(theirs["softmax"]), (ours, theirs)
    assert ours["ns"] > untrained["ns"] + 1.0 and theirs["ns"] > untrained["ns"] + 1.0
    assert report.epoch_loss[-1] < report.epoch_loss[0]
    # and the two agree on which words are alike
    common = [w for w in vocab.words if vocab.counts[vocab.index[w]] >= 20]
    from embedspec.base import l2_normalize

    def knn(M):
        U = l2_normalize(M[[vocab.index[w] for w in common]])
        S = U @ U.T
        np.fill_diagonal(S, -2)
        return np.argsort(-S, axis=1)[:, :10]

    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(knn(W), knn(model.wv.vectors))])
    assert overlap > 0.3, overlap


@pytest.mark.parametrize(
    ("slices", "message"),
    [
        ({}, "at least one slice"),
        ({"a": []}, "slice 'a' is empty"),
        ({"a": ["... !!! 123 456"]}, "slice 'a' is empty: its texts contain no words"),
        ({"a": "a single string"}, "slice 'a': texts must be a list of strings"),
        ({"a": ["fine text", 3]}, "slice 'a': text at position 1 is int"),
        ({"": ["some words"]}, "slice names must be non-empty strings"),
        ({"compass": ["some words"]}, "'compass' is reserved"),
    ],
)
def test_bad_slices_are_rejected_naming_the_slice(slices, message):
    from embedspec_cade.model import CadeModel

    with pytest.raises(CorpusError, match=message.replace("(", r"\(").replace(".", r"\.")):
        CadeModel().fit(slices)


def test_a_slice_with_no_word_above_min_count(lee_texts):
    need_training()
    from embedspec_cade.model import CadeModel

    rare = ["alpha beta gamma", "delta epsilon alpha"]
    with pytest.raises(CorpusError) as info:
        CadeModel(dim=8, min_count=3, epochs=1).fit({"news": lee_texts[:40], "rare": rare})
    assert str(info.value) == (
        "slice 'rare' has no word seen min_count=3 times (its most frequent word occurs 2 times); "
        "lower min_count or give the slice more text"
    )


def test_settings_are_validated():
    from embedspec_cade.model import CadeModel
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="dim"):
        CadeModel(dim=0)
    with pytest.raises(ValidationError, match="extra"):
        CadeModel(dimension=10)


def test_slices_can_start_at_the_compass(lee_texts):
    """``slice_init: compass`` (the reference's init_mode "both"): with a vanishing learning rate the
    slice vectors stay at the compass's vectors; with the default they start elsewhere."""
    need_training()
    from embedspec_cade.model import CadeModel

    frozen = {"dim": 16, "epochs": 1, "min_count": 3, "alpha": 1e-9, "min_alpha": 0.0}
    slices = {"a": lee_texts[:60], "b": lee_texts[60:120]}
    model = CadeModel(**frozen, slice_init="compass").fit(slices)
    random = CadeModel(**frozen).fit(slices)
    for name in slices:
        rows = model.compass_.vectors[model.compass_ids_[name]]
        assert np.allclose(model.slices_[name].vectors, rows, atol=1e-6)
        assert not np.allclose(random.slices_[name].vectors, rows, atol=1e-2)
