"""Neighbours and change scores (exact values on hand-made vectors), the baselines and the held-out
likelihood."""

from __future__ import annotations

import math

import numpy as np
import pytest
from cade_testdata import SMALL
from embedspec_cade.analysis import change_scores, nearest, neighbours, neighbours_across
from embedspec_cade.errors import UnknownSliceError, UnknownWordError
from embedspec_cade.spaces import SliceSpaces, SliceVectors


def _spaces():
    words = ["king", "queen", "apple", "pear", "car"]
    a = np.array([[1, 0.1, 0], [0.9, 0.2, 0], [0.1, 1, 0], [0.2, 0.9, 0.1], [0, 0.1, 1]], dtype=np.float32)
    b = a.copy()
    b[2] = [0.05, 0.1, 1]  # "apple" moved next to "car"
    return SliceSpaces({
        "old": SliceVectors("old", words, np.array([9, 8, 7, 6, 5]), a),
        "new": SliceVectors("new", words[:4] + ["car"], np.array([9, 8, 7, 2, 5]), b),
    }, method="test")


def test_neighbours_exact():
    sp = _spaces()
    got = neighbours(sp["old"], "king", k=2)
    assert [n.word for n in got] == ["queen", "pear"]
    assert got[0].similarity == pytest.approx(0.92 / math.sqrt(1.01 * 0.85), abs=1e-6) and got[0].count == 8
    assert [n.word for n in neighbours(sp["new"], "apple", k=1)] == ["car"]
    assert [n.word for n in neighbours(sp["new"], "apple", k=3, min_count=5)] == ["car", "queen", "king"]
    # apple as used in "old" is closest to pear in "new"
    assert neighbours_across(sp, "apple", "old", "new", k=1)[0].word == "pear"


def test_change_scores_exact():
    sp = _spaces()
    table = change_scores(sp["old"], sp["new"], min_count=5, k=1)
    assert table.words == ["king", "queen", "apple", "car"]  # pear is seen twice in "new"
    moved = 1 - 0.105 / math.sqrt(1.01 * 1.0125)
    assert table.cosine == pytest.approx([0, 0, moved, 0], abs=1e-6)
    # nearest shared word (k=1): king<->queen in both; apple: queen before, car after; car: apple in both
    assert table.overlap.tolist() == [0.0, 0.0, 1.0, 0.0]
    assert table.top(1)[0] == {"word": "apple", "cosine": pytest.approx(moved, abs=1e-6), "overlap": 1.0,
                               "count_old": 7, "count_new": 7}
    with pytest.raises(ValueError, match="unknown change measure 'jaccard'"):
        table.scores("jaccard")


def test_unknown_words_and_slices_are_named():
    sp = _spaces()
    with pytest.raises(UnknownWordError) as info:
        neighbours(sp["old"], "banana")
    assert str(info.value) == "word 'banana' is not in slice 'old' (5 words, each seen at least min_count times there)"
    with pytest.raises(UnknownSliceError, match=r"unknown slice 'mid'; this test model has 'old', 'new'"):
        sp["mid"]
    with pytest.raises(ValueError, match="share no word seen 100 times in both"):
        change_scores(sp["old"], sp["new"], min_count=100)


def test_nearest_matches_brute_force():
    rng = np.random.default_rng(0)
    U = rng.standard_normal((300, 8)).astype(np.float32)
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    got = nearest(U, 5, block=64)
    S = U @ U.T
    np.fill_diagonal(S, -np.inf)
    want = np.argsort(-S, axis=1)[:, :5]
    assert all(set(g) == set(w) for g, w in zip(got, want))


def test_procrustes_baseline_recovers_a_rotation():
    from embedspec_cade.baselines import IndependentSlices
    from embedspec_cade.settings import CadeSettings

    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(50)]
    X = rng.standard_normal((50, 6)).astype(np.float32)
    R, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    ind = IndependentSlices(CadeSettings(dim=6))
    ind.slices = {"a": SliceVectors("a", words, np.full(50, 10), X),
                  "b": SliceVectors("b", words, np.full(50, 10), (X @ R).astype(np.float32))}
    aligned = ind.aligned()
    table = change_scores(aligned["a"], aligned["b"], min_count=1)
    assert np.abs(table.cosine).max() < 1e-5


def test_baselines_share_cades_settings(cade_model, lee_texts):
    """The independent word2vec slices use CADE's settings and seeds: same vocabularies, counts and
    initial vectors, and gensim is configured from the same CadeSettings."""
    from embedspec_cade.baselines import IndependentSlices, compass_only
    from embedspec_cade.settings import CadeSettings
    from embedspec_cade.word2vec import new_model

    slices = {"first": lee_texts[:150], "second": lee_texts[150:], "union": lee_texts}
    ind = IndependentSlices.fit(slices, cade_model.settings)
    for name in slices:
        assert ind.slices[name].words == cade_model.slices_[name].words
        assert np.array_equal(ind.slices[name].counts, cade_model.slices_[name].counts)
    st = CadeSettings(**SMALL)
    for offset in (0, 1):
        g = new_model(st, seed_offset=offset)
        assert (g.vector_size, g.window, g.min_count, g.epochs, g.negative, g.sample, g.alpha, g.min_alpha,
                g.seed, g.sg, g.hs, g.cbow_mean, g.workers) == (
            st.dim, st.window, st.min_count, st.epochs, st.negative, st.sample, st.alpha, st.min_alpha,
            st.seed + offset, 0, 0, 1, 1)
    static = compass_only(cade_model)
    first = static["first"]
    assert first.words == cade_model.slices_["first"].words
    assert np.array_equal(first.vectors[5], cade_model.compass_.vector(first.words[5]))


def test_held_out_likelihood_against_a_direct_computation():
    from embedspec_cade.likelihood import held_out_positions, log_likelihood
    from embedspec_cade.word2vec import Vocabulary

    rng = np.random.default_rng(0)
    vocab = Vocabulary.from_counts(["a", "b", "c", "d"], np.array([10, 5, 3, 1]))
    W = rng.standard_normal((4, 3)).astype(np.float32)
    C = rng.standard_normal((4, 3)).astype(np.float32)
    sents = [["a", "b", "x", "c"], ["d"], ["c", "a"]]
    held = held_out_positions(sents, vocab, window=1, negative=2, seed=0)
    got = log_likelihood(held, W, C)
    # by hand: positions with a context (the lone "d" has none); "x" is unknown and dropped
    contexts = [(0, [1]), (1, [0, 2]), (2, [1]), (2, [0]), (0, [2])]
    assert held.targets.tolist() == [t for t, _ in contexts]
    softmax, ns = [], []
    for j, (t, ctx) in enumerate(contexts):
        h = W[ctx].astype(np.float64).mean(axis=0)
        logits = C.astype(np.float64) @ h
        softmax.append(logits[t] - np.log(np.exp(logits).sum()))
        value = -np.log1p(np.exp(-logits[t]))
        for n in held.noise[j]:
            if n >= 0:
                value += -np.log1p(np.exp(logits[n]))
        ns.append(value)
    assert got["softmax"] == pytest.approx(np.mean(softmax), abs=1e-9)
    assert got["ns"] == pytest.approx(np.mean(ns), abs=1e-9)
    assert got["positions"] == 5
    # the negative-sampling table follows counts**0.75 like gensim's
    p = np.array([10, 5, 3, 1]) ** 0.75
    assert vocab.cum_table.tolist() == np.round(np.cumsum(p) / p.sum() * (2**31 - 1)).astype(int).tolist()
