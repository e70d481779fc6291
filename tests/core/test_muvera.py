"""``muvera``: FDEs equal a hand-written reference of the paper's construction, their dot products
approximate MaxSim, state round trips without pickle, two-stage search in ``exact``, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from embedspec.base import BaseEncoder
from embedspec.builtin.exact import ExactIndex
from embedspec.builtin.maxsim import maxsim_scores
from embedspec.builtin.muvera import MuveraCompressor
from embedspec.chain import check_chain
from embedspec.errors import DimensionMismatchError, EmbedspecError
from embedspec.pipeline import Pipeline
from embedspec.plugins import get_registry
from embedspec.representations import MultiVectors


def unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


def clustered(rng: np.random.Generator, n_docs: int = 150, n_queries: int = 25, dim: int = 24):
    """Documents mixing a few topics; each query is a noisy sample of one document's vectors."""
    centers = unit(rng.normal(size=(40, dim)))
    docs = []
    for _ in range(n_docs):
        topics = centers[rng.choice(40, size=int(rng.integers(2, 6)))]
        n = int(rng.integers(4, 25))
        docs.append(unit(topics[rng.integers(0, len(topics), size=n)] + 0.3 * rng.normal(size=(n, dim))))
    queries = []
    for _ in range(n_queries):
        src = docs[int(rng.integers(0, n_docs))]
        queries.append(unit(src[rng.integers(0, len(src), size=6)] + 0.3 * rng.normal(size=(6, dim))))
    return MultiVectors.from_list(docs), MultiVectors.from_list(queries)


def reference_fde(m: MuveraCompressor, vectors: np.ndarray, document: bool) -> np.ndarray:
    """The paper's construction written out with loops over repetitions, partitions and vectors."""
    parts, out = 2**m.k_sim, []
    for r in range(m.r_reps):
        codes = []
        for v in vectors:
            bits = [float(v @ m.simhash_[r][:, j]) > 0 for j in range(m.k_sim)]
            codes.append(sum(int(b) << (m.k_sim - 1 - j) for j, b in enumerate(bits)))
        proj = [v @ m.projection_[r] if m.dim_proj is not None else v for v in vectors]
        for p in range(parts):
            members = [proj[i] for i, c in enumerate(codes) if c == p]
            if members:
                block = np.sum(members, axis=0) / (len(members) if document else 1)
            elif document and m.fill_empty:
                hamming = [bin(c ^ p).count("1") for c in codes]
                block = proj[int(np.argmin(hamming))]  # the first nearest
            else:
                block = np.zeros_like(proj[0])
            out.append(block)
    fde = np.concatenate(out)
    if m.final_dim is None:
        return fde
    sketch = np.zeros(m.final_dim)
    for j, value in enumerate(fde):
        sketch[m.sketch_index_[j]] += m.sketch_sign_[j] * value
    return sketch


@pytest.mark.parametrize("params", [
    {"k_sim": 2, "r_reps": 3, "dim_proj": 3},
    {"k_sim": 3, "r_reps": 2, "dim_proj": None},
    {"k_sim": 3, "r_reps": 2, "dim_proj": 4, "final_dim": 20},
    {"k_sim": 2, "r_reps": 2, "dim_proj": 4, "fill_empty": False},
    {"k_sim": 0, "r_reps": 2, "dim_proj": 3},
])
def test_fdes_equal_the_reference(params: dict) -> None:
    rng = np.random.default_rng(11)
    sets = MultiVectors.from_list([rng.normal(size=(int(rng.integers(1, 7)), 5)) for _ in range(9)])
    m = MuveraCompressor(seed=3, **params)
    docs, queries = m.transform(sets), m.transform(sets, role="query")
    assert docs.shape == (9, m.output_dim(5)) and docs.dtype == np.float32
    for i, vectors in enumerate(sets):
        np.testing.assert_allclose(docs[i], reference_fde(m, vectors, True), atol=1e-5)
        np.testing.assert_allclose(queries[i], reference_fde(m, vectors, False), atol=1e-5)


def test_fde_dot_products_approximate_maxsim() -> None:
    """Inner products of query and document FDEs track MaxSim (the paper: with enough partitions and
    repetitions, ``<F_q(Q), F_doc(P)> / (r_reps |Q|)`` is within ``eps`` of normalized Chamfer, i.e.
    MaxSim / |Q|); and retrieval by FDE finds MaxSim's best documents."""
    docs, queries = clustered(np.random.default_rng(0))
    exact = maxsim_scores(queries, docs.data, docs.offsets)
    per_token_error = []
    for k_sim in (2, 5, 8):
        m = MuveraCompressor(k_sim=k_sim, r_reps=10, dim_proj=None)
        est = m.transform(queries, role="query") @ m.transform(docs).T / m.r_reps
        per_token_error.append(float(np.abs(est - exact).mean() / 6))  # 6 vectors per query
        ranks = [np.corrcoef(e, x)[0, 1] for e, x in zip(est, exact)]
        assert np.mean(ranks) > 0.5, (k_sim, np.mean(ranks))
    # finer partitions bring the estimate closer (the bound's eps shrinks as k_sim grows)
    assert per_token_error[0] > per_token_error[1] > per_token_error[2], per_token_error
    assert per_token_error[2] < 0.25
    # retrieval: MaxSim's top 10 within the FDE's top 50 (of 150)
    m = MuveraCompressor(k_sim=4, r_reps=20, dim_proj=None)
    est = m.transform(queries, role="query") @ m.transform(docs).T
    top_exact, top_fde = np.argsort(-exact, 1)[:, :10], np.argsort(-est, 1)[:, :50]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top_exact, top_fde)])
    assert recall >= 0.9, recall
    # a random projection keeps the estimate unbiased: same order of error with dim_proj 16
    p = MuveraCompressor(k_sim=4, r_reps=20, dim_proj=16)
    est_p = p.transform(queries, role="query") @ p.transform(docs).T / p.r_reps
    assert np.corrcoef(est_p.ravel(), exact.ravel())[0, 1] > 0.5


def test_seeded_and_state_round_trips_without_pickle(tmp_path: Path) -> None:
    docs, _ = clustered(np.random.default_rng(1), 20, 1)
    a = MuveraCompressor(k_sim=3, r_reps=4, dim_proj=8, final_dim=64, seed=5)
    fde = a.transform(docs)
    np.testing.assert_array_equal(fde, MuveraCompressor(k_sim=3, r_reps=4, dim_proj=8, final_dim=64, seed=5).transform(docs))
    assert not np.allclose(fde, MuveraCompressor(k_sim=3, r_reps=4, dim_proj=8, final_dim=64, seed=6).transform(docs))
    a.save(tmp_path / "state")
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["embedspec-component.json", "state.npz"]
    with np.load(tmp_path / "state" / "state.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == ["projection_", "simhash_", "sketch_index_", "sketch_sign_"]
    b = MuveraCompressor(k_sim=3, r_reps=4, dim_proj=8, final_dim=64, seed=99).load(tmp_path / "state")
    np.testing.assert_array_equal(b.transform(docs), fde)  # the saved matrices, not the seed, decide
    wrong = MuveraCompressor(k_sim=2, r_reps=4, dim_proj=8).load(tmp_path / "state")
    with pytest.raises(EmbedspecError, match="stored muvera state has r_reps 4, k_sim 3, dim_proj 8; the spec says 4, 2, 8"):
        wrong.transform(docs)
    with pytest.raises(DimensionMismatchError, match="drawn for 24-d vectors; these have dimension 5"):
        b.transform(MultiVectors.from_list([np.ones((2, 5))]))


def test_bad_input_is_refused() -> None:
    m = MuveraCompressor()
    with pytest.raises(TypeError, match="muvera takes multi-vectors .*; vectors are dense vectors"):
        m.transform(np.ones((2, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="role must be 'query' or 'document'"):
        m.transform(MultiVectors.from_list([np.ones((2, 4))]), role="passage")  # type: ignore[arg-type]
    with pytest.raises(EmbedspecError, match="FDE would have"):
        MuveraCompressor(k_sim=10, r_reps=256, dim_proj=64)
    reg = get_registry()
    dense = reg.get("encoder", "hashing").create({"dim": 16})
    check = check_chain(dense, None, [MuveraCompressor()], ExactIndex())
    assert [i.message for i in check.issues] == [
        "compressors[0] (MuveraCompressor) takes multi-vectors but encoder (hashing) emits dense vectors"]


class SetEncoder(BaseEncoder):
    """Returns fixed multi-vectors by text key (a stand-in for a token encoder)."""

    output_kind = "multi"
    dim = 24
    table: dict = {}

    def _encode_batch(self, inputs, role):
        return MultiVectors.from_list([self.table[t] for t in inputs])


@pytest.mark.parametrize("final_dim", [None, 512])
def test_two_stage_search_in_exact(tmp_path: Path, final_dim: int | None) -> None:
    docs, queries = clustered(np.random.default_rng(2))
    ids = [f"d{i}" for i in range(len(docs))]
    SetEncoder.table = {**{f"doc {i}": docs[i] for i in range(len(docs))},
                        **{f"query {i}": queries[i] for i in range(len(queries))}}
    q_texts = [f"query {i}" for i in range(len(queries))]
    exact = Pipeline(SetEncoder(), ExactIndex(metric="dot"))
    exact.add([f"doc {i}" for i in range(len(docs))], ids=ids)
    truth = exact.search(q_texts, k=10)
    # prefetch covering every document: the re-ranked result is exact MaxSim
    full = Pipeline(SetEncoder(), ExactIndex(metric="dot", path=str(tmp_path / "idx")),
                    [MuveraCompressor(k_sim=3, r_reps=4, dim_proj=8, final_dim=final_dim, rescore=True, prefetch=1000)])
    assert full.quantizer is not None and full.index.kind == "multi"
    full.add([f"doc {i}" for i in range(len(docs))], ids=ids)
    got = full.search(q_texts, k=10)
    assert [[h.id for h in r] for r in got] == [[h.id for h in r] for r in truth]
    np.testing.assert_allclose([h.score for r in got for h in r], [h.score for r in truth for h in r], atol=1e-4)
    full.close()
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert {"codes", "tokens", "token_offsets", "quantizer"} <= set(manifest["files"])
    # reopened with a fresh compressor (another seed): the stored matrices are adopted
    again = Pipeline(SetEncoder(), ExactIndex(metric="dot", path=str(tmp_path / "idx")),
                     [MuveraCompressor(k_sim=3, r_reps=4, dim_proj=8, final_dim=final_dim, rescore=True,
                                       prefetch=1000, seed=42)])
    assert [[h.id for h in r] for r in again.search(q_texts, k=10)] == [[h.id for h in r] for r in truth]
    again.close()
    # a small prefetch: every hit's score is its exact MaxSim, and most of the top 10 is found
    small = Pipeline(SetEncoder(), ExactIndex(metric="dot"),
                     [MuveraCompressor(k_sim=4, r_reps=20, dim_proj=None, rescore=True, prefetch=60)])
    small.add([f"doc {i}" for i in range(len(docs))], ids=ids)
    hits = small.search(q_texts, k=10)
    exact_scores = maxsim_scores(queries, docs.data, docs.offsets)
    for qi, row in enumerate(hits):
        for h in row:
            assert abs(h.score - exact_scores[qi, ids.index(h.id)]) < 1e-4
    recall = np.mean([len({h.id for h in a} & {h.id for h in b}) / 10 for a, b in zip(hits, truth)])
    assert recall >= 0.9, recall


def test_muvera_without_rescore_feeds_a_dense_index() -> None:
    docs, queries = clustered(np.random.default_rng(4), 60, 5)
    SetEncoder.table = {**{f"doc {i}": docs[i] for i in range(60)}, **{f"q {i}": queries[i] for i in range(5)}}
    m = MuveraCompressor(k_sim=3, r_reps=6, dim_proj=8)
    pipe = Pipeline(SetEncoder(), ExactIndex(metric="dot"), [m])
    assert pipe.dim == 6 * 8 * 8 and pipe.index.kind == "dense"
    pipe.add([f"doc {i}" for i in range(60)], ids=list(range(60)))
    hits = pipe.search([f"q {i}" for i in range(5)], k=3)
    # the index scored query FDEs (sums) against document FDEs (averages)
    expected = m.transform(queries, role="query") @ m.transform(docs).T
    for qi, row in enumerate(hits):
        assert [h.id for h in row] == np.argsort(-expected[qi], kind="stable")[:3].tolist()


def test_kind_independent_conformance_contracts() -> None:
    """The compressor contracts that do not assume dense input (the dense ones call ``np.asarray`` on
    ``X``; multi-vector compressor contracts are the core's to add)."""
    from embedspec.testing import iter_contracts

    names = {"implements_the_protocol", "spec_block_round-trips", "constructor_stores_parameters_only"}
    ran = []
    for name, item in iter_contracts("compressor"):
        if name in names:
            item(MuveraCompressor(k_sim=3, rescore=True, prefetch=50), None)
            ran.append(name)
    assert sorted(ran) == sorted(names)


def test_a_spec_with_muvera_after_a_dense_encoder_is_a_located_error(tmp_path: Path) -> None:
    from embedspec.pipeline import build

    spec = tmp_path / "spec.yaml"
    spec.write_text("version: 1\nencoder:\n  type: hashing\n  dim: 16\ncompressors:\n  - type: muvera\n"
                    f"index:\n  type: exact\n  path: {tmp_path / 'idx'}\n")
    with pytest.raises(EmbedspecError, match=r"line 6: compressors\[0\] \(muvera from plugin embedspec.builtin\): "
                       r"compressors\[0\] \(muvera\) takes multi-vectors but encoder \(hashing\) emits dense vectors"):
        build(spec)
    assert not (tmp_path / "idx" / "manifest.json").exists()
