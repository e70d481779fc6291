"""``pq``: product quantization — k-means per sub-space, asymmetric distance computation (ADC).

Vectors ``(n, d)`` are cut into ``m`` sub-vectors of ``d / m`` dimensions; each sub-space gets its
own codebook of ``2**nbits`` centroids learned by k-means (k-means++ seeding, Lloyd iterations, on
at most ``sample`` training rows). A vector is stored as ``m`` centroid numbers: ``(n, m) uint8``.

Search is asymmetric: the float query is never quantized. Per query a lookup table holds its score
against every centroid of every sub-space, ``(m, 2**nbits)``; a code's score is the sum of its ``m``
table entries. For dot and cosine the entries are ``q_j . c``, which sums to ``q . x_hat`` (cosine
normalizes the query; stored vectors are expected unit-norm, the reconstruction norm is not
divided out). For euclidean they are ``||q_j - c||^2`` and the score is ``-sqrt(sum)``, the negated
distance to the reconstruction.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from ..base import Quantizer, as_matrix
from ..config_rules import MAX_DIM, MAX_SEED
from ..errors import DimensionMismatchError
from ..protocols import Metric
from ..registry import ComponentConfig, PathField
from .similarity import prepare_queries

_ASSIGN_BLOCK = 16384


class ProductQuantizerConfig(ComponentConfig):
    """Spec block of the ``pq`` compressor."""

    m: int = Field(8, ge=1, le=MAX_DIM, description="number of sub-spaces (must divide the vector dimension)")
    nbits: int = Field(8, ge=1, le=8, description="bits per sub-space code: 2**nbits centroids")
    iterations: int = Field(20, ge=1, le=10_000, description="k-means (Lloyd) iterations per sub-space")
    seed: int = Field(0, ge=0, le=MAX_SEED)
    sample: int = Field(50000, ge=1, le=100_000_000, description="at most this many training rows are used by fit")
    rescore: bool = Field(True, description="re-rank candidates with the float originals (the index keeps them)")
    oversampling: float = Field(4.0, ge=1.0, le=1000.0, description="candidates = oversampling * k when rescoring")
    state: str | None = PathField(None, description="directory written by save() holding the codebooks")


def assign(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid per row, ``(n,) int64`` (``||x||^2`` does not change the argmin)."""
    X, C = X.astype(np.float32, copy=False), C.astype(np.float32, copy=False)
    half_c_sq = 0.5 * np.einsum("ij,ij->i", C, C)
    out = np.empty(len(X), dtype=np.int64)
    for s in range(0, len(X), _ASSIGN_BLOCK):
        out[s : s + _ASSIGN_BLOCK] = (X[s : s + _ASSIGN_BLOCK] @ C.T - half_c_sq).argmax(axis=1)
    return out


def kmeans(X: np.ndarray, k: int, iterations: int, rng: np.random.Generator) -> np.ndarray:
    """``(k, ds) float32`` centroids: k-means++ seeding, then Lloyd iterations."""
    n = X.shape[0]
    X64 = X.astype(np.float64)
    centers = np.empty((k, X.shape[1]), dtype=np.float64)
    first = int(rng.integers(n))
    centers[0] = X64[first]
    d2 = ((X64 - centers[0]) ** 2).sum(axis=1)
    for i in range(1, k):
        total = d2.sum()
        pick = int(rng.integers(n)) if total <= 0 else int(rng.choice(n, p=d2 / total))
        centers[i] = X64[pick]
        d2 = np.minimum(d2, ((X64 - centers[i]) ** 2).sum(axis=1))
    for _ in range(iterations):
        labels = assign(X64, centers)
        counts = np.bincount(labels, minlength=k)
        sums = np.stack([np.bincount(labels, weights=X64[:, j], minlength=k) for j in range(X.shape[1])], axis=1)
        new = centers.copy()
        filled = counts > 0
        new[filled] = sums[filled] / counts[filled, None]
        empty = np.flatnonzero(~filled)
        if empty.size:  # re-seed empty clusters with the points farthest from their centroid
            far = ((X64 - new[labels]) ** 2).sum(axis=1).argsort()[::-1][: empty.size]
            new[empty[: far.size]] = X64[far]
        shift = np.abs(new - centers).max()
        centers = new
        if shift < 1e-7:
            break
    return centers.astype(np.float32)


class ProductQuantizer(Quantizer):
    """``(n, d) float32 -> (n, m) uint8`` codes; scored by asymmetric distance computation."""

    requires_fit = True
    native_kind = "product"

    Config = ProductQuantizerConfig


    def _check_divides(self, d: int) -> None:
        if d % self.m:
            divisors = [q for q in range(1, min(d, 256) + 1) if d % q == 0]
            raise DimensionMismatchError(
                f"pq: vector dimension {d} is not divisible by m={self.m}; choose m among {divisors}"
            )

    def _split(self, X: np.ndarray) -> np.ndarray:
        """``(n, d) -> (m, n, d/m)`` sub-vectors."""
        n, d = X.shape
        self._check_divides(d)
        return X.reshape(n, self.m, d // self.m).transpose(1, 0, 2)

    def output_dim(self, input_dim: int) -> int:
        """``input_dim`` (a quantizer keeps the dimension); checks that ``m`` divides it."""
        self._check_divides(input_dim)
        if self.is_fitted:
            self._check_dim(input_dim, "input vectors")
        return input_dim

    def fit(self, X: Any) -> ProductQuantizer:
        X = as_matrix(X, name="training vectors")
        if X.shape[0] == 0:
            raise ValueError("pq fit needs at least one training vector")
        rng = np.random.default_rng(self.seed)
        if X.shape[0] > self.sample:
            X = X[np.sort(rng.choice(X.shape[0], self.sample, replace=False))]
        k = min(2**self.nbits, X.shape[0])  # fewer centroids than codes allow on tiny training sets
        self.centroids_ = np.stack([kmeans(sub, k, self.iterations, rng) for sub in self._split(X)])
        return self

    def _check_dim(self, d: int, what: str) -> None:
        self.check_fitted()
        expected = self.centroids_.shape[0] * self.centroids_.shape[2]
        if d != expected:
            raise DimensionMismatchError(f"{what} have dimension {d}, the pq quantizer was fitted on {expected}")

    def transform(self, X: Any) -> np.ndarray:
        X = as_matrix(X, name="vectors")
        self._check_dim(X.shape[1], "vectors")
        subs = self._split(X)
        return np.stack([assign(subs[j], self.centroids_[j]) for j in range(self.m)], axis=1).astype(np.uint8)

    def inverse_transform(self, codes: np.ndarray) -> np.ndarray:
        """``(n, d) float32`` reconstructions: the chosen centroid of every sub-space, concatenated."""
        self.check_fitted()
        codes = np.asarray(codes)
        return np.concatenate([self.centroids_[j][codes[:, j]] for j in range(self.m)], axis=1)

    def lookup_tables(self, queries: np.ndarray, metric: Metric) -> np.ndarray:
        """``(q, m, k)`` per-sub-space scores of each query against each centroid."""
        subs = self._split(queries)  # (m, q, ds)
        dots = np.einsum("mqd,mkd->qmk", subs, self.centroids_)
        if metric != "euclidean":
            return dots
        q_sq = np.einsum("mqd,mqd->qm", subs, subs)[:, :, None]
        c_sq = np.einsum("mkd,mkd->mk", self.centroids_, self.centroids_)[None, :, :]
        return q_sq - 2.0 * dots + c_sq

    def similarity(self, queries: np.ndarray, codes: np.ndarray, metric: Metric) -> np.ndarray:
        """``(q, n) float32`` ADC scores of float queries against codes ``(n, m)``."""
        queries = prepare_queries(queries, metric, self._check_dim)
        tables = self.lookup_tables(queries, metric)
        codes = np.asarray(codes)
        out = np.zeros((queries.shape[0], codes.shape[0]), dtype=np.float32)
        for j in range(self.m):
            out += tables[:, j, :][:, codes[:, j]]
        return -np.sqrt(np.maximum(out, 0.0)) if metric == "euclidean" else out

    def bytes_per_vector(self, input_dim: int) -> int:
        return self.m
