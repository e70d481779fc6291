"""The ``cade`` encoder and aligner: conformance checks, specs, errors."""

from __future__ import annotations

import numpy as np
import pytest
from embedspec.errors import DimensionMismatchError, NotFittedError, SpecError
from embedspec.testing import check_aligner, check_encoder
from embedspec_cade.aligner import CadeAligner
from embedspec_cade.encoder import CadeEncoder
from embedspec_cade.errors import UnknownSliceError, UnknownWordError

TEXTS = ["The police said the fire was under control.", "Israeli troops", "minister", "Afghanistan's government"]


def test_encoder_conformance(cade_model, cade_state):
    encoder = CadeEncoder.from_model(cade_model, "first")
    out = check_encoder(encoder, TEXTS)
    space = cade_model.slices_["first"]
    # a one-word text is the word's vector; a text is the mean of its known words' vectors
    assert np.allclose(out[2], space.unit[space.index["minister"]], atol=1e-6)
    known = [space.index[w] for w in ("israeli", "troops")]
    mean = space.vectors[known].mean(axis=0)
    assert np.allclose(out[1], mean / np.linalg.norm(mean), atol=1e-6)
    loaded = CadeEncoder(slice="first", state=str(cade_state)).load(cade_state)
    assert np.array_equal(check_encoder(loaded, TEXTS), out)


def test_encoder_through_a_spec(cade_state):
    from embedspec import build

    spec = {"version": 1, "encoder": {"type": "cade", "state": str(cade_state), "slice": "union"},
            "index": {"type": "exact"}}
    pipeline = build(spec)
    words = ["police", "troops", "fire", "minister", "government", "afghanistan"]
    pipeline.add(words, ids=words)
    hits = pipeline.search(["police"], k=1)[0]
    assert hits[0].id == "police" and hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_encoder_errors(cade_model, cade_state, tmp_path):
    encoder = CadeEncoder.from_model(cade_model, "second")
    with pytest.raises(UnknownWordError) as info:
        encoder.encode(["police", "zzyzx qwertyuiop"])
    assert str(info.value) == (
        "input at position 1 has no word known to slice 'second' (its words: 'zzyzx', 'qwertyuiop'); "
        "set `unknown: zero` to embed such texts as zero vectors"
    )
    assert info.value.slice == "second" and info.value.word == "zzyzx"
    zero = CadeEncoder.from_model(cade_model, "second", unknown="zero", normalize=False)
    assert not zero.encode(["...", "police"])[0].any()
    with pytest.raises(UnknownSliceError, match=r"unknown slice 'third'; this cade model has 'first', 'second', 'union', 'compass'"):
        CadeEncoder.from_model(cade_model, "third")
    with pytest.raises(UnknownSliceError, match="unknown slice 'third'"):
        CadeEncoder(slice="third").load(cade_state)
    with pytest.raises(NotFittedError):
        _ = CadeEncoder(slice="first").dim
    from embedspec import build

    with pytest.raises(SpecError) as spec_error:
        build({"version": 1, "encoder": {"type": "cade", "state": str(tmp_path / "none"), "slice": "a"},
               "index": {"type": "exact"}})
    assert "encoder.state" in str(spec_error.value)


def test_fuzz_encoder_inputs(cade_model):
    """Random unicode texts: encoded (zero when nothing is known) or rejected with UnknownWordError."""
    rng = np.random.default_rng(0)
    alphabet = list("abcdefghijklmnopqrstuvwxyz  ..,!?'-’0123456789éßж中\n\t") + ["police ", "the "]
    encoder = CadeEncoder.from_model(cade_model, "union", unknown="zero")
    strict = CadeEncoder.from_model(cade_model, "union")
    texts = ["".join(rng.choice(alphabet, size=int(rng.integers(0, 40)))) for _ in range(300)]
    out = encoder.encode(texts)
    assert out.shape == (300, cade_model.dim) and np.isfinite(out).all()
    norms = np.linalg.norm(out, axis=1)
    assert np.all((np.abs(norms - 1) < 1e-5) | (norms == 0))
    for i, text in enumerate(texts):
        try:
            row = strict.encode([text])[0]
        except UnknownWordError as exc:
            assert norms[i] == 0 and "position 0" in str(exc)
        else:
            assert np.allclose(row, out[i], atol=1e-6)


def test_aligner_conformance(cade_model, cade_state):
    a, b = cade_model.slices_["first"], cade_model.slices_["second"]
    shared = [w for w in a.words if w in b.index][:200]
    Xs, Xt = a.vectors[[a.index[w] for w in shared]], b.vectors[[b.index[w] for w in shared]]
    aligner = CadeAligner(state=str(cade_state), source="first", target="second")
    out = check_aligner(aligner, Xs, Xt)
    assert np.allclose(out, Xs / np.linalg.norm(Xs, axis=1, keepdims=True), atol=1e-6)
    cos = np.sum(out * (Xt / np.linalg.norm(Xt, axis=1, keepdims=True)), axis=1)
    assert aligner.anchor_cosine_ == pytest.approx(float(cos.mean()), abs=1e-6)
    # loaded from the CADE state: the slices are checked, the mean cosine over all shared words recorded
    loaded = CadeAligner(state=str(cade_state), source="first", target="second").load(cade_state)
    shared_all = [w for w in a.words if w in b.index]
    expected = np.mean(np.sum(a.unit[[a.index[w] for w in shared_all]] * b.unit[[b.index[w] for w in shared_all]], 1))
    assert loaded.dim_ == 32 and loaded.anchor_cosine_ == pytest.approx(float(expected), abs=1e-6)
    assert loaded.anchor_cosine_ > 0.5  # CADE's slices share one space without any fitting
    with pytest.raises(UnknownSliceError, match="unknown slice 'third'"):
        CadeAligner(source="third").load(cade_state)
    with pytest.raises(DimensionMismatchError, match="use the procrustes aligner"):
        CadeAligner().fit(np.ones((3, 4)), np.ones((3, 5)))
    with pytest.raises(DimensionMismatchError, match="vectors have dimension 5, the CADE spaces have 32"):
        loaded.transform(np.ones((2, 5)))


def test_aligner_in_a_spec(cade_state):
    from embedspec import build

    spec = {"version": 1, "encoder": {"type": "cade", "state": str(cade_state), "slice": "first"},
            "aligner": {"type": "compass", "state": str(cade_state), "source": "first", "target": "second"},
            "index": {"type": "exact"}}
    pipeline = build(spec)
    assert pipeline.aligner.dim_ == 32


def test_check_locates_a_wrong_slice(cade_state, tmp_path):
    """``check()`` (run by ``build`` and ``embedspec validate`` before any array is read) names the field."""
    from embedspec.errors import ResourceError

    with pytest.raises(ResourceError) as info:
        CadeEncoder(slice="third", state=str(cade_state)).check()
    assert info.value.field == "slice"
    assert str(info.value) == (f"unknown slice 'third'; the CADE state at {cade_state} has 'first', 'second', "
                               "'union', 'compass'")
    with pytest.raises(ResourceError) as info:
        CadeAligner(state=str(cade_state), source="first", target="fourth").check()
    assert info.value.field == "target"
    with pytest.raises(ResourceError) as info:
        CadeEncoder(slice="first", state=str(tmp_path)).check()
    assert info.value.field == "state" and "is not a CADE state directory" in str(info.value)
    CadeEncoder(slice="compass", state=str(cade_state)).check(deep=True)
    CadeAligner(state=str(cade_state), source="first", target="union").check()
