"""``muvera``: multi-vectors -> one fixed-dimensional encoding (FDE) whose dot product approximates MaxSim.

MUVERA (Dhulipala et al., 2024). For each of ``r_reps`` repetitions, ``k_sim`` random hyperplanes
(SimHash) cut the space into ``2 ** k_sim`` partitions; each vector of a set is projected to ``dim_proj``
dimensions (a random +-1 matrix scaled by ``1/sqrt(dim_proj)``; none when ``dim_proj`` is null) and
added to its partition's block: a query *sums* its vectors per partition, a document *averages* them,
and a document's empty partition takes the projected vector of its vector whose SimHash bits are
closest (Hamming) to the partition's (``fill_empty``). The FDE is the concatenation of all blocks
(``r_reps * 2**k_sim * dim_proj`` floats), optionally Count-Sketched to ``final_dim``. All randomness
comes from ``seed``; the matrices are learned state (``simhash_``, ``projection_``, ``sketch_index_``,
``sketch_sign_``), saved as ``.npz`` like any component's.

Two ways to use it: as a plain compressor (``rescore: false``) the pipeline turns token vectors into
FDEs (queries and documents differently: ``transform(X, role=...)``) and any dense index stores them;
with ``rescore: true`` it is the last block of the chain and the index keeps the multi-vectors beside
the FDEs, finds ``prefetch`` candidates by FDE and re-ranks them by exact MaxSim (``exact``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field, model_validator

from ..base import Quantizer
from ..config_rules import MAX_DIM
from ..errors import DimensionMismatchError, EmbedspecError
from ..protocols import Metric, Role
from ..registry import ComponentConfig, PathField
from ..representations import KIND_NOUNS, MultiVectors, kind_of
from .maxsim import document_blocks
from .similarity import check_metric

#: Bounds ``vectors * partitions`` of one block of sets (the Hamming table of ``fill_empty``).
BLOCK_ELEMENTS = 1 << 22


class MuveraConfig(ComponentConfig):
    """Spec block of the ``muvera`` compressor."""

    k_sim: int = Field(4, ge=0, le=10, description="SimHash hyperplanes per repetition (2**k_sim partitions)")
    r_reps: int = Field(10, ge=1, le=256, description="independent repetitions (their FDEs are concatenated)")
    dim_proj: int | None = Field(16, ge=1, le=MAX_DIM, description="random projection of each vector per "
                                 "partition; null keeps the input dimension")
    fill_empty: bool = Field(True, description="documents: an empty partition takes the nearest vector's projection")
    final_dim: int | None = Field(None, ge=1, le=MAX_DIM, description="Count-Sketch the FDE to this size; null: none")
    seed: int = Field(0, ge=0, description="seed of every random matrix")
    rescore: bool = Field(False, description="the index keeps the multi-vectors and re-ranks FDE candidates by MaxSim")
    prefetch: int = Field(100, ge=1, le=100_000, description="FDE candidates re-ranked by MaxSim (rescore)")
    state: str | None = PathField(None, description="directory written by save() (the random matrices)")

    @model_validator(mode="after")
    def _size(self) -> MuveraConfig:
        if self.dim_proj is not None and self.r_reps * (2**self.k_sim) * self.dim_proj > 1 << 22:
            raise ValueError(f"the FDE would have r_reps * 2**k_sim * dim_proj = "
                             f"{self.r_reps * 2**self.k_sim * self.dim_proj} dimensions (at most {1 << 22})")
        return self


class MuveraCompressor(Quantizer):
    """``MultiVectors (n sets, dim)`` -> ``(n, fde_dim) float32`` FDEs; documents and queries differ."""

    Config = MuveraConfig
    input_kind = "multi"
    output_kind = "dense"
    role_aware = True

    @property
    def is_quantizer(self) -> bool:  # type: ignore[override]
        """With ``rescore`` it is the index's business (FDE codes + multi-vectors), like a rescoring quantizer."""
        return bool(self.rescore)

    # ---- the random matrices ---------------------------------------------------------------
    def fit(self, X: Any = None, dim: int | None = None) -> MuveraCompressor:
        """Draw the matrices for input dimension ``dim`` (or ``X.dim``); nothing is learned from data."""
        dim = int(dim if dim is not None else _multi(X, "training vectors").dim)
        if getattr(self, "simhash_", None) is not None:
            self._check_state(dim)
            return self
        rng = np.random.default_rng(self.seed)
        self.simhash_ = rng.standard_normal((self.r_reps, dim, self.k_sim)).astype(np.float32)
        if self.dim_proj is not None:
            signs = rng.integers(0, 2, size=(self.r_reps, dim, self.dim_proj)).astype(np.float32) * 2 - 1
            self.projection_ = (signs / np.sqrt(self.dim_proj)).astype(np.float32)
        if self.final_dim is not None:
            full = self.r_reps * (2**self.k_sim) * (self.dim_proj or dim)
            self.sketch_index_ = rng.integers(0, self.final_dim, size=full).astype(np.int64)
            self.sketch_sign_ = (rng.integers(0, 2, size=full) * 2 - 1).astype(np.float32)
        return self

    def _check_state(self, dim: int) -> None:
        """The matrices (drawn, or loaded with the index) agree with the parameters and ``dim``."""
        reps, d, k = self.simhash_.shape
        proj = getattr(self, "projection_", None)
        dp = None if proj is None else proj.shape[2]
        if (reps, k, dp) != (self.r_reps, self.k_sim, self.dim_proj):
            raise EmbedspecError(f"the stored muvera state has r_reps {reps}, k_sim {k}, dim_proj {dp}; the spec says "
                                 f"{self.r_reps}, {self.k_sim}, {self.dim_proj}: rebuild the index or restore the spec")
        if d != dim:
            raise DimensionMismatchError(f"muvera was drawn for {d}-d vectors; these have dimension {dim}")

    def output_dim(self, input_dim: int) -> int:
        if getattr(self, "simhash_", None) is not None:
            self._check_state(input_dim)
        return self.final_dim or self.r_reps * (2**self.k_sim) * (self.dim_proj or input_dim)

    def bytes_per_vector(self, input_dim: int) -> int:
        return 4 * self.output_dim(input_dim)

    def candidates(self, k: int) -> int:
        return max(k, self.prefetch) if self.rescore else k

    # ---- encodings ---------------------------------------------------------------------------
    def transform(self, X: Any, role: Role = "document") -> np.ndarray:
        """``(n, fde_dim) float32`` FDEs of the sets of ``X`` (``MultiVectors``) for ``role``."""
        if role not in ("query", "document"):
            raise ValueError(f"role must be 'query' or 'document', not {role!r}")
        X = _multi(X, "vectors")
        self.fit(dim=X.dim)
        out = np.empty((len(X), self.output_dim(X.dim)), dtype=np.float32)
        for start, stop in document_blocks(X.offsets, 2**self.k_sim, BLOCK_ELEMENTS):
            lo, hi = X.offsets[start], X.offsets[stop]
            out[start:stop] = self._encode(X.data[lo:hi], X.offsets[start : stop + 1] - lo, role == "document")
        return out

    def transform_queries(self, X: Any) -> np.ndarray:
        return self.transform(X, role="query")

    def _encode(self, data: np.ndarray, offsets: np.ndarray, document: bool) -> np.ndarray:
        """FDEs of one block of sets: ``data (t, d)``, ``offsets (n + 1,)`` -> ``(n, fde_dim)``."""
        n, parts = len(offsets) - 1, 2**self.k_sim
        owner = np.repeat(np.arange(n), np.diff(offsets))  # (t,) set of each vector
        weights = 1 << np.arange(self.k_sim - 1, -1, -1)
        blocks = []
        for r in range(self.r_reps):
            bits = (data @ self.simhash_[r]) > 0  # (t, k)
            code = bits.astype(np.int64) @ weights if self.k_sim else np.zeros(len(data), dtype=np.int64)
            proj = data @ self.projection_[r] if self.dim_proj is not None else data  # (t, dp)
            keys = owner * parts + code
            sums = np.zeros((n * parts, proj.shape[1]), dtype=np.float32)
            np.add.at(sums, keys, proj)
            if document:
                counts = np.bincount(keys, minlength=n * parts).astype(np.float32)
                sums /= np.maximum(counts, 1.0)[:, None]
                if self.fill_empty and self.k_sim:
                    empty = counts == 0
                    if empty.any():
                        sums[empty] = proj[self._nearest(code, offsets, parts)[empty]]
            blocks.append(sums.reshape(n, parts * proj.shape[1]))
        fde = np.concatenate(blocks, axis=1)
        if self.final_dim is None:
            return fde
        out = np.zeros((n, self.final_dim), dtype=np.float32)
        for i in range(0, fde.shape[1], 4096):  # Count Sketch: out[:, h(j)] += s(j) * fde[:, j]
            cols = slice(i, i + 4096)
            np.add.at(out.T, self.sketch_index_[cols], (fde[:, cols] * self.sketch_sign_[cols]).T)
        return out

    def _nearest(self, code: np.ndarray, offsets: np.ndarray, parts: int) -> np.ndarray:
        """``(n * parts,)`` for each (set, partition): the set's first vector whose SimHash code is
        nearest in Hamming distance to the partition's code."""
        diff = code[:, None] ^ np.arange(parts)[None, :]  # (t, parts)
        dist = np.zeros(diff.shape, dtype=np.int64)
        for b in range(self.k_sim):
            dist += (diff >> b) & 1
        best = np.minimum.reduceat(dist, offsets[:-1], axis=0)  # (n, parts)
        owner = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        rows = np.where(dist == best[owner], np.arange(len(code))[:, None], len(code))
        return np.minimum.reduceat(rows, offsets[:-1], axis=0).reshape(-1)

    # ---- searching FDE codes ----------------------------------------------------------------
    def similarity(self, queries: np.ndarray, codes: np.ndarray, metric: Metric) -> np.ndarray:
        """``(m, n) float32`` dot products of query FDEs ``(m, D)`` with stored FDEs ``(n, D)``."""
        check_metric(metric)
        return (np.asarray(queries, dtype=np.float32) @ np.asarray(codes, dtype=np.float32).T).astype(np.float32)

    def inverse_transform(self, codes: np.ndarray) -> np.ndarray:
        raise EmbedspecError("an FDE cannot be turned back into multi-vectors (keep them with rescore: true)")


def _multi(X: Any, what: str) -> MultiVectors:
    if not isinstance(X, MultiVectors):
        raise TypeError(f"muvera takes multi-vectors (MultiVectors); {what} are {KIND_NOUNS[kind_of(X)]}")
    return X
