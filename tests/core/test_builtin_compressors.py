"""Built-in compressors: matryoshka, int8, binary, pq — conformance, exact values, quantized search."""

from __future__ import annotations

import numpy as np
import pytest
from embedspec.base import l2_normalize
from embedspec.builtin import binary as binary_mod
from embedspec.builtin.binary import BinaryQuantizer, hamming
from embedspec.builtin.exact import ExactIndex
from embedspec.builtin.matryoshka import MatryoshkaCompressor
from embedspec.builtin.pq import ProductQuantizer, kmeans
from embedspec.builtin.scalar import Int8Quantizer
from embedspec.builtin.similarity import pairwise_scores
from embedspec.errors import DimensionMismatchError, EmbedspecError, NotFittedError
from embedspec.testing import check_compressor, check_index

RNG = np.random.default_rng(0)
X = RNG.standard_normal((300, 32)).astype(np.float32)


def clustered(n: int, d: int, centers: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    C = rng.standard_normal((centers, d)) * 3
    return l2_normalize((C[rng.integers(centers, size=n)] + rng.standard_normal((n, d))).astype(np.float32))


# ---- matryoshka -------------------------------------------------------------------------------
def test_matryoshka() -> None:
    codes = check_compressor(MatryoshkaCompressor(dim=8), X)
    np.testing.assert_allclose(codes, l2_normalize(X[:, :8]), atol=1e-6)
    np.testing.assert_array_equal(MatryoshkaCompressor(dim=8, normalize=False).transform(X), X[:, :8])
    assert MatryoshkaCompressor(dim=8).output_dim(32) == 8
    with pytest.raises(DimensionMismatchError, match="dim=64.*only 32"):
        MatryoshkaCompressor(dim=64).transform(X)


# ---- int8 -------------------------------------------------------------------------------------
def test_int8_conformance_and_error_bound() -> None:
    q = Int8Quantizer(quantile=1.0)
    codes = check_compressor(q, X)
    assert codes.dtype == np.int8 and codes.shape == X.shape
    np.testing.assert_allclose(q.lo_, X.min(axis=0))
    step = (X.max(axis=0) - X.min(axis=0)) / 255
    np.testing.assert_allclose(q.step_, step, rtol=1e-6)
    err = np.abs(q.inverse_transform(codes) - X)
    assert (err <= step / 2 + 1e-6).all()  # min/max ranges: every value is inside, error <= step/2
    assert codes.min() == -128 and codes.max() == 127
    assert q.bytes_per_vector(32) == 32


def test_int8_quantile_clips_outliers() -> None:
    q = Int8Quantizer(quantile=0.9).fit(X)
    lo, hi = np.quantile(X, [0.05, 0.95], axis=0)
    np.testing.assert_allclose(q.lo_, lo, rtol=1e-5, atol=1e-6)
    rec = q.inverse_transform(q.transform(X))
    np.testing.assert_allclose(rec.min(axis=0), lo, atol=1e-5)  # values below the range clip to lo
    np.testing.assert_allclose(rec.max(axis=0), hi, atol=1e-5)


@pytest.mark.parametrize("metric", ["dot", "cosine", "euclidean"])
def test_int8_similarity_equals_scores_of_reconstructions(metric: str) -> None:
    q = Int8Quantizer().fit(X)
    codes = q.transform(X)
    rec = q.inverse_transform(codes)
    Q = X[:7]
    if metric == "cosine":
        expected = pairwise_scores(l2_normalize(Q), l2_normalize(rec), "cosine")
    else:
        expected = pairwise_scores(Q, rec, metric)
    np.testing.assert_allclose(q.similarity(Q, codes, metric), expected, atol=1e-4)


def test_int8_needs_fit_and_matching_dim() -> None:
    with pytest.raises(NotFittedError):
        Int8Quantizer().transform(X)
    with pytest.raises(DimensionMismatchError, match="dimension 8.*fitted on 32"):
        Int8Quantizer().fit(X).transform(X[:, :8])


# ---- binary -----------------------------------------------------------------------------------
def test_binary_conformance_and_bits() -> None:
    Y = X[:, :13]  # not a multiple of 8
    q = BinaryQuantizer()
    codes = check_compressor(q, Y)
    assert codes.shape == (300, 2) and codes.dtype == np.uint8
    np.testing.assert_array_equal(np.unpackbits(codes, axis=1, count=13), (Y > 0).astype(np.uint8))
    assert q.bytes_per_vector(13) == 2


def test_hamming_equals_brute_force_bit_count(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, size=(9, 21), dtype=np.uint8)
    b = rng.integers(0, 256, size=(50, 21), dtype=np.uint8)
    brute = np.array([[sum(bin(x ^ y).count("1") for x, y in zip(ra, rb)) for rb in b] for ra in a])
    np.testing.assert_array_equal(hamming(a, b), brute)
    monkeypatch.setattr(binary_mod, "_XOR_BLOCK", 64)  # many small blocks
    np.testing.assert_array_equal(hamming(a, b), brute)
    monkeypatch.delattr(np, "bitwise_count", raising=False)  # numpy < 2: byte lookup table
    np.testing.assert_array_equal(hamming(a, b), brute)


def test_binary_similarity_is_dot_of_signs() -> None:
    q = BinaryQuantizer().fit(X)
    codes = q.transform(X)
    signs = np.where(X > 0, 1.0, -1.0)
    np.testing.assert_array_equal(q.similarity(X[:5], codes, "dot"), signs[:5] @ signs.T)
    rec = q.inverse_transform(codes)
    np.testing.assert_allclose(rec, signs / np.sqrt(32), atol=1e-6)


def test_binary_center_uses_training_mean() -> None:
    check_compressor(BinaryQuantizer(center=True), X)
    shifted = X + 5.0  # all positive: without centering every bit is 1
    assert np.unpackbits(BinaryQuantizer().fit(shifted).transform(shifted)).all()
    q = BinaryQuantizer(center=True).fit(shifted)
    np.testing.assert_allclose(q.threshold_, shifted.mean(axis=0), atol=1e-5)
    np.testing.assert_array_equal(q.transform(shifted), np.packbits(shifted > shifted.mean(axis=0), axis=1))
    with pytest.raises(NotFittedError, match="center=True"):
        BinaryQuantizer(center=True).transform(X)


# ---- pq ---------------------------------------------------------------------------------------
def test_pq_conformance() -> None:
    q = ProductQuantizer(m=4, nbits=4, iterations=5)
    codes = check_compressor(q, X)
    assert codes.shape == (300, 4) and codes.dtype == np.uint8 and codes.max() < 16
    assert q.centroids_.shape == (4, 16, 8)
    assert q.bytes_per_vector(32) == 4


def test_kmeans_recovers_separated_clusters() -> None:
    rng = np.random.default_rng(3)
    centers = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], dtype=np.float32)
    pts = centers[np.repeat(np.arange(4), 50)] + rng.normal(0, 0.1, (200, 2)).astype(np.float32)
    found = kmeans(pts, 4, 10, np.random.default_rng(0))
    found = found[np.lexsort((np.round(found[:, 1]), np.round(found[:, 0])))]
    np.testing.assert_allclose(found, centers[[0, 2, 1, 3]], atol=0.05)


@pytest.mark.parametrize("metric", ["dot", "cosine", "euclidean"])
def test_pq_adc_equals_scores_of_reconstructions(metric: str) -> None:
    data = clustered(2000, 32, 20)
    q = ProductQuantizer(m=8, nbits=6, iterations=8).fit(data)
    codes = q.transform(data)
    rec = q.inverse_transform(codes)
    Q = X[:6]
    Qn = l2_normalize(Q) if metric == "cosine" else Q
    expected = pairwise_scores(Qn, rec, "dot" if metric == "cosine" else metric)
    np.testing.assert_allclose(q.similarity(Q, codes, metric), expected, atol=1e-4)


def test_pq_recall_against_exact_search() -> None:
    points = clustered(3100, 32, 50, seed=1)
    data, queries = points[:3000], points[3000:]
    q = ProductQuantizer(m=8, nbits=8, iterations=10).fit(data)
    truth = np.argsort(-(queries @ data.T), axis=1)[:, :10]
    ranked = np.argsort(-q.similarity(queries, q.transform(data), "cosine"), axis=1)

    def recall(candidates: int) -> float:
        return float(np.mean([len(set(r[:candidates]) & set(t)) / 10 for r, t in zip(ranked, truth)]))

    # 8 bytes per vector instead of 128; measured 0.39 and 0.91 (neighbours inside a cluster are close)
    assert recall(10) > 0.3, recall(10)
    assert recall(40) > 0.8, recall(40)  # what rescoring with oversampling 4 sees
    err = np.linalg.norm(q.inverse_transform(q.transform(data)) - data, axis=1).mean()
    assert err < 0.5, err


def test_pq_dimension_must_divide() -> None:
    with pytest.raises(DimensionMismatchError, match="30 is not divisible by m=8; choose m among"):
        ProductQuantizer(m=8).fit(X[:, :30])


# ---- quantized exact index ------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: BinaryQuantizer(),
        lambda: Int8Quantizer(),
        lambda: Int8Quantizer(rescore=True),
        lambda: ProductQuantizer(m=4, nbits=4, iterations=5, rescore=True, oversampling=10),
    ],
)
def test_exact_index_with_quantizer_conforms(make) -> None:
    quantizer = make().fit(l2_normalize(X[:, :8]))

    def build() -> ExactIndex:
        index = ExactIndex()
        assert index.use_quantizer(quantizer) is False
        return index

    check_index(build, dim=8)


def test_rescored_binary_search_equals_exact_when_oversampling_covers_all() -> None:
    data = clustered(500, 32, 10)
    q = BinaryQuantizer(oversampling=500).fit(data)
    quantized, exact = ExactIndex(), ExactIndex()
    quantized.use_quantizer(q)
    for index in (quantized, exact):
        index.upsert(list(range(500)), data)
    got = quantized.search(data[:300], k=10)  # more queries than one rescoring block
    want = exact.search(data[:300], k=10)
    assert [[h.id for h in row] for row in got] == [[h.id for h in row] for row in want]
    np.testing.assert_allclose([h.score for h in got[0]], [h.score for h in want[0]], atol=1e-6)


def test_quantized_index_persists_codes_and_quantizer(tmp_path) -> None:
    data = clustered(400, 32, 10)
    q = ProductQuantizer(m=8, nbits=5, iterations=5, rescore=False).fit(data)
    index = ExactIndex(path=str(tmp_path / "idx"))
    index.use_quantizer(q)
    index.upsert([f"d{i}" for i in range(400)], data)
    before = index.search(data[:3], k=5)
    index.close()
    assert not list((tmp_path / "idx").glob("vectors-*"))  # no rescoring: floats are not kept
    with pytest.raises(EmbedspecError, match="stores ProductQuantizer codes: open it through its spec"):
        ExactIndex.open(tmp_path / "idx").search(data[:3], k=5)
    adopted = ProductQuantizer(m=8, nbits=5, iterations=5, rescore=False)
    reopened = ExactIndex.open(tmp_path / "idx", quantizer=adopted)  # adopts the stored codebooks
    assert reopened._quantizer is adopted
    assert reopened.search(data[:3], k=5) == before
    fresh = ProductQuantizer(m=8, nbits=5, iterations=5, rescore=False)
    again = ExactIndex(path=str(tmp_path / "idx"))
    again.use_quantizer(fresh)  # adopts the stored codebooks
    np.testing.assert_array_equal(fresh.centroids_, q.centroids_)
    assert again.search(data[:3], k=5) == before
    again.close()  # one writer per directory
    with pytest.raises(Exception, match="stores ProductQuantizer codes"):
        ExactIndex(path=str(tmp_path / "idx")).use_quantizer(BinaryQuantizer())


def test_output_dim_checks_the_chain_before_fit() -> None:
    with pytest.raises(DimensionMismatchError, match="384 is not divisible by m=5"):
        ProductQuantizer(m=5).output_dim(384)
    assert ProductQuantizer(m=8).output_dim(384) == 384
    with pytest.raises(DimensionMismatchError, match="dimension 16.*fitted on 32"):
        Int8Quantizer().fit(X).output_dim(16)
    with pytest.raises(DimensionMismatchError, match="dimension 16.*fitted on 32"):
        BinaryQuantizer().fit(X).output_dim(16)
    assert BinaryQuantizer(center=True).output_dim(16) == 16  # unfitted: nothing to check yet
