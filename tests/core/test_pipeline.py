"""build(spec) -> Pipeline: chain checks, add/search, round trip, bad input."""

from __future__ import annotations

import embedspec
import numpy as np
import pytest
import yaml
from embedspec.documents import content_id
from embedspec.errors import DimensionMismatchError, EmbedspecError, SpecError

DOCS = [
    "The cat sat on the mat.",
    "Dogs are loyal companions.",
    "Quantum computers use qubits.",
    "The stock market fell sharply today.",
    "A kitten is a young cat.",
    "Photosynthesis converts light into chemical energy.",
]


def spec(**overrides):
    base = {"version": 1, "encoder": {"type": "hashing", "dim": 512}, "index": {"type": "exact"}}
    base.update(overrides)
    return base


def test_add_and_search_returns_the_relevant_document():
    with embedspec.build(spec()) as pipe:
        ids = pipe.add(DOCS, payloads=[{"text": d, "n": i} for i, d in enumerate(DOCS)])
        assert ids == [content_id(d) for d in DOCS]  # content-derived ids by default
        hits = pipe.search(["young cat kitten"], k=2)[0]
        assert hits[0].id == ids[4] and hits[0].payload["text"] == DOCS[4]
        filtered = pipe.search(["young cat kitten"], k=3, filter={"n": {"lt": 3}})[0]
        assert filtered[0].id == ids[0] and all(h.payload["n"] < 3 for h in filtered)


def test_search_equals_manual_composition():
    with embedspec.build(spec(compressors=[{"type": "matryoshka", "dim": 128}])) as pipe:
        pipe.add(DOCS)
        q = pipe.encoder.encode(["energy from light"], role="query")
        q = q[:, :128] / np.linalg.norm(q[:, :128], axis=1, keepdims=True)
        d = pipe.encoder.encode(DOCS)[:, :128]
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        expected = np.argsort(-(q @ d.T)[0])[:3].tolist()
        got = [h.id for h in pipe.search(["energy from light"], k=3)[0]]
        assert got == [content_id(DOCS[i]) for i in expected]
        scores = [h.score for h in pipe.search(["energy from light"], k=3)[0]]
        np.testing.assert_allclose(scores, np.sort(q @ d.T)[0][::-1][:3], rtol=1e-5)


def test_round_trip_to_spec_and_back(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDSPEC_TEST_INDEX", str(tmp_path / "idx"))
    original = spec(
        encoder={"type": "hashing", "dim": 384},
        compressors=[{"type": "matryoshka", "dim": 256}, {"type": "int8"}],
        index={"type": "exact", "metric": "dot", "path": "${EMBEDSPEC_TEST_INDEX}"},
    )
    pipe = embedspec.build(original)
    written = pipe.to_spec()
    assert written["index"]["path"] == "${EMBEDSPEC_TEST_INDEX}", "secrets and paths stay as ${VAR}"
    pipe.close()  # one writer per index path
    again = embedspec.build(yaml.safe_load(pipe.to_yaml()))
    assert again.to_spec() == written
    assert [type(c) for c in again.compressors] == [type(c) for c in pipe.compressors]
    assert again.encoder.dim == 384 and again.dim == 256
    assert written["encoder"]["type"] == "hashing" and written["compressors"][1] == {"type": "int8"}


def test_dimension_mismatch_names_both_ends():
    with pytest.raises(DimensionMismatchError) as exc:
        embedspec.build(spec(index={"type": "exact", "dim": 100}))
    assert "encoder (hashing)" in str(exc.value) and "index (exact)" in str(exc.value)
    with pytest.raises(DimensionMismatchError) as exc:
        embedspec.build(spec(compressors=[{"type": "matryoshka", "dim": 1024}]))
    assert "compressors[0] (matryoshka)" in str(exc.value) and "encoder (hashing)" in str(exc.value)


def test_quantizer_must_be_last():
    with pytest.raises(SpecError, match="must be the last compressor"):
        embedspec.build(spec(compressors=[{"type": "binary"}, {"type": "matryoshka", "dim": 64}]))


def test_aligner_without_state_is_refused_before_work():
    with pytest.raises(SpecError) as exc:
        embedspec.build(spec(aligner={"type": "procrustes"}))
    (issue,) = exc.value.issues
    assert issue.path == "aligner.state" and "must be trained first" in issue.message


def test_aligner_with_saved_state(tmp_path):
    from embedspec.builtin.procrustes import ProcrustesAligner

    rng = np.random.default_rng(0)
    X = rng.standard_normal((1500, 512)).astype(np.float32)  # over-determined: n > dim
    Q, _ = np.linalg.qr(rng.standard_normal((512, 512)))
    ProcrustesAligner(normalize=False).fit(X, X @ Q.astype(np.float32)).save(tmp_path / "al")
    pipe = embedspec.build(spec(aligner={"type": "procrustes", "normalize": False, "state": str(tmp_path / "al")}))
    raw = pipe.encoder.encode(DOCS[:2])
    np.testing.assert_allclose(pipe.encode(DOCS[:2]), raw @ Q, atol=1e-4)
    assert pipe.to_spec()["aligner"]["state"] == str(tmp_path / "al")


def test_binary_quantized_pipeline_rescoring_matches_float_ranking():
    with embedspec.build(spec(compressors=[{"type": "binary", "rescore": True, "oversampling": 10}])) as pipe:
        pipe.add(DOCS)
        assert pipe.bytes_per_vector() == 512 // 8
        hits = pipe.search(["a young cat"], k=3)[0]
    with embedspec.build(spec()) as ref:
        ref.add(DOCS)
        expected = ref.search(["a young cat"], k=3)[0]
    assert [h.id for h in hits] == [h.id for h in expected]


def test_empty_input_gives_empty_result():
    with embedspec.build(spec()) as pipe:
        assert pipe.add([]) == []
        assert pipe.search([]) == []
        assert pipe.encode([]).shape == (0, 512)


def test_non_string_to_text_encoder_names_position():
    with embedspec.build(spec()) as pipe:
        with pytest.raises(TypeError, match="position 2 is int"):
            pipe.add(["a", "b", 3])
        assert pipe.index.count() == 0


def test_nan_vectors_are_rejected_and_nothing_written():
    with embedspec.build(spec()) as pipe:
        pipe.add(DOCS[:2])
        bad = np.ones((2, 512), dtype=np.float32)
        bad[1, 5] = np.inf
        with pytest.raises(ValueError, match="NaN or infinite"):
            pipe.index.upsert(["x", "y"], bad)
        assert pipe.index.count() == 2


def test_persistent_index_reopens(tmp_path):
    s = spec(index={"type": "exact", "path": str(tmp_path / "idx")})
    with embedspec.build(s) as pipe:
        pipe.add(DOCS, ids=[f"d{i}" for i in range(len(DOCS))])
        before = pipe.search(["qubits"], k=3)
    with embedspec.build(s) as pipe:
        assert pipe.index.count() == len(DOCS)
        assert pipe.search(["qubits"], k=3) == before


def test_missing_index_directory_on_load(tmp_path):
    from embedspec.builtin.exact import ExactIndex

    with pytest.raises(EmbedspecError, match=str(tmp_path / "nowhere")):
        ExactIndex.open(tmp_path / "nowhere")


def test_every_chain_problem_is_reported_together_with_its_line(tmp_path):
    path = tmp_path / "chain.yaml"
    path.write_text(
        "version: 1\n"
        "encoder:\n  type: hashing\n  dim: 256\n"
        "compressors:\n"
        "  - type: binary\n"  # line 6: a quantizer that is not last
        "  - type: matryoshka\n    dim: 512\n"  # line 7: wider than what reaches it
        "index:\n  type: exact\n  dim: 100\n"
    )
    with pytest.raises(DimensionMismatchError) as exc:
        embedspec.build(str(path))
    lines = [(i.line, i.path) for i in exc.value.issues]
    assert lines == [(6, "compressors[0]"), (7, "compressors[1]")], exc.value.issues
    assert "2 problems" in str(exc.value) and "must be the last compressor" in str(exc.value)
