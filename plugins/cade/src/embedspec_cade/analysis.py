"""Reading aligned slices: neighbours of a word per slice, change scores between two slices.

Two change measures, both ``0`` for an unchanged word:

- ``cosine``: ``1 - cos(v_a(w), v_b(w))`` in the shared space (what alignment makes meaningful);
- ``overlap``: ``1 - |NN_a(w) ∩ NN_b(w)| / k``, the share of ``w``'s ``k`` nearest neighbours that
  differ between the slices (Gonen, Jawahar, Seddah, Goldberg 2020). Neighbours are taken among the
  words both slices know (with ``min_count``), each slice in its own vectors, so this measure needs
  no alignment at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from embedspec.base import l2_normalize

from .spaces import SliceSpaces, SliceVectors

Measure = Literal["cosine", "overlap"]
MEASURES: tuple[str, ...] = ("cosine", "overlap")


@dataclass(frozen=True)
class Neighbour:
    word: str
    similarity: float  # cosine
    count: int  # occurrences in the slice searched


def neighbours(space: SliceVectors, query: str | np.ndarray, *, k: int = 10, min_count: int = 1,
               exclude_query: bool = True) -> list[Neighbour]:
    """The ``k`` words of ``space`` (seen ``min_count`` times) closest to ``query`` (a word of
    ``space`` or a ``(dim,)`` vector of the same space), by cosine."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if isinstance(query, str):
        vec = space.vector(query)
        skip = space.index[query] if exclude_query else -1
    else:
        vec = np.asarray(query, dtype=np.float32).reshape(-1)
        if vec.shape[0] != space.dim:
            raise ValueError(f"query vector has dimension {vec.shape[0]}, slice {space.name!r} has {space.dim}")
        skip = -1
    sims = space.unit @ l2_normalize(vec[None, :])[0]
    allowed = space.counts >= min_count
    if skip >= 0:
        allowed[skip] = False
    candidates = np.flatnonzero(allowed)
    if candidates.size == 0:
        return []
    order = candidates[np.argsort(-sims[candidates], kind="stable")[:k]]
    return [Neighbour(space.words[i], float(sims[i]), int(space.counts[i])) for i in order]


def neighbours_across(spaces: SliceSpaces, word: str, source: str, target: str, *, k: int = 10,
                      min_count: int = 1) -> list[Neighbour]:
    """The words of slice ``target`` closest to ``word`` as used in slice ``source`` (cross-slice
    analogues: which later word plays the role an earlier word played)."""
    vec = spaces[source].vector(word)
    return neighbours(spaces[target], vec, k=k, min_count=min_count)


@dataclass
class ChangeTable:
    """Change scores of the words two slices share (each seen ``min_count`` times in both)."""

    a: str
    b: str
    words: list[str]
    count_a: np.ndarray  # (n,) int64
    count_b: np.ndarray  # (n,) int64
    cosine: np.ndarray  # (n,) float64, 1 - cosine similarity
    overlap: np.ndarray  # (n,) float64, share of the k nearest neighbours that differ
    k: int
    min_count: int

    def scores(self, measure: Measure) -> np.ndarray:
        if measure not in MEASURES:
            raise ValueError(f"unknown change measure {measure!r}; use one of {', '.join(MEASURES)}")
        return self.cosine if measure == "cosine" else self.overlap

    def ranking(self, measure: Measure = "cosine") -> np.ndarray:
        """Row indices, most changed first (ties: cosine distance, then the word)."""
        keys = (np.asarray(self.words), -self.cosine, -self.scores(measure))
        return np.lexsort(keys)

    def top(self, n: int = 20, measure: Measure = "cosine") -> list[dict[str, Any]]:
        return [self.row(int(i)) for i in self.ranking(measure)[:n]]

    def row(self, i: int) -> dict[str, Any]:
        return {"word": self.words[i], "cosine": float(self.cosine[i]), "overlap": float(self.overlap[i]),
                f"count_{self.a}": int(self.count_a[i]), f"count_{self.b}": int(self.count_b[i])}


def change_scores(a: SliceVectors, b: SliceVectors, *, min_count: int = 5, k: int = 10) -> ChangeTable:
    """Both change measures for every word seen ``min_count`` times in slice ``a`` and in slice ``b``."""
    if a.dim != b.dim:
        raise ValueError(f"slices {a.name!r} ({a.dim}-d) and {b.name!r} ({b.dim}-d) are not in one space")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    words = [w for w, i in a.index.items() if a.counts[i] >= min_count and b.count(w) >= min_count]
    if not words:
        raise ValueError(f"slices {a.name!r} and {b.name!r} share no word seen {min_count} times in both")
    ia = np.fromiter((a.index[w] for w in words), dtype=np.int64, count=len(words))
    ib = np.fromiter((b.index[w] for w in words), dtype=np.int64, count=len(words))
    Ua, Ub = a.unit[ia], b.unit[ib]
    cosine = 1.0 - np.einsum("ij,ij->i", Ua.astype(np.float64), Ub.astype(np.float64))
    kk = min(k, len(words) - 1)
    if kk < 1:
        overlap = np.zeros(len(words))
    else:
        na, nb = nearest(Ua, kk), nearest(Ub, kk)
        shared = np.array([np.intersect1d(x, y, assume_unique=True).size for x, y in zip(na, nb)])
        overlap = 1.0 - shared / kk
    return ChangeTable(a.name, b.name, words, a.counts[ia], b.counts[ib], np.clip(cosine, 0.0, 2.0), overlap, kk,
                       min_count)


def nearest(U: np.ndarray, k: int, block: int = 1024) -> np.ndarray:
    """``(n, k) int64``: each row's ``k`` nearest other rows of the unit matrix ``U (n, dim)``."""
    n = U.shape[0]
    out = np.empty((n, k), dtype=np.int64)
    for start in range(0, n, block):
        S = U[start : start + block] @ U.T
        rows = np.arange(S.shape[0])
        S[rows, start + rows] = -np.inf
        part = np.argpartition(-S, k - 1, axis=1)[:, :k]
        out[start : start + block] = part
    return out


def most_changed(spaces: SliceSpaces, a: str, b: str, *, top: int = 20, measure: Measure = "cosine",
                 min_count: int = 5, k: int = 10) -> list[dict[str, Any]]:
    """The ``top`` words whose use changed most from slice ``a`` to slice ``b``."""
    return change_scores(spaces[a], spaces[b], min_count=min_count, k=k).top(top, measure)
