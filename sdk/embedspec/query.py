"""Named vectors and query plans: what an index holds per point, and how a search combines them.

One point may carry several named vectors (Qdrant's named vectors), each described by a
``VectorSpec`` (its output kind, dimension, metric and, for sparse vectors, a ``modifier``). A
single-encoder pipeline keeps one unnamed vector (``DEFAULT_VECTOR``). A search follows a plan,
a small tree of frozen dataclasses:

- ``Nearest(vector)``: the best points by one vector;
- ``Fusion(plans, method, ...)``: each sub-plan retrieves ``limit`` candidates, the lists are fused,
  by reciprocal rank fusion (``rrf``: ``sum_i w_i / (rrf_k + rank_i)``, ranks from 1; Cormack et al.
  2009) or by weighted scores (``weighted``: each list's scores min-max normalized to [0, 1] over its
  candidates, then ``sum_i w_i * s_i``; a point missing from a list gets 0 from it).

``fuse`` runs a fusion on candidate lists in numpy (vectorised over queries and candidates); indexes
without native fusion use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .errors import DimensionMismatchError
from .representations import KIND_NOUNS, OutputKind, check_kind, kind_of
from .vectors import as_matrix

#: The name of the one vector of a single-encoder pipeline.
DEFAULT_VECTOR = ""
#: A vector name: lower-case letters, digits after the first, underscores; at most 32 characters.
VECTOR_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
SparseModifier = Literal["idf"]
FusionMethod = Literal["rrf", "weighted"]


def check_vector_name(name: str) -> str:
    if name != DEFAULT_VECTOR and (not isinstance(name, str) or not VECTOR_NAME.fullmatch(name)):
        raise ValueError(f"a vector name is lower-case letters, digits and underscores, starting with a letter "
                         f"(at most 32 characters); got {name!r}")
    return name


@dataclass(frozen=True)
class VectorSpec:
    """One named vector: ``kind`` (dense/multi/sparse), ``dim`` (width, or the sparse space's size),
    ``metric`` (dense), ``modifier`` (sparse: "idf" weighs each query term by its inverse document
    frequency over the points the index holds, as BM25 needs)."""

    kind: OutputKind
    dim: int
    metric: str = "cosine"
    modifier: SparseModifier | None = None

    def __post_init__(self) -> None:
        check_kind(self.kind)
        if self.modifier is not None and (self.kind != "sparse" or self.modifier != "idf"):
            raise ValueError(f"modifier {self.modifier!r} applies to sparse vectors only (and is 'idf')")

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind, "dim": self.dim, "metric": self.metric, "modifier": self.modifier}


@dataclass(frozen=True)
class Nearest:
    """The best points by the vector ``vector``."""

    vector: str = DEFAULT_VECTOR


@dataclass(frozen=True)
class Fusion:
    """Fuse the candidates of ``plans`` (``limit`` each; ``None``: ``max(k, 100)``).

    ``weights``: one per plan (default all 1); ``rrf_k``: the rank constant of ``rrf``.
    """

    plans: tuple[Plan, ...]
    method: FusionMethod = "rrf"
    rrf_k: int = 60
    weights: tuple[float, ...] | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        if len(self.plans) < 2:
            raise ValueError("a fusion combines at least two plans")
        if self.method not in ("rrf", "weighted"):
            raise ValueError(f"fusion method must be 'rrf' or 'weighted', got {self.method!r}")
        if self.weights is not None and len(self.weights) != len(self.plans):
            raise ValueError(f"a fusion of {len(self.plans)} plans needs {len(self.plans)} weights, "
                             f"got {len(self.weights)}")
        if self.rrf_k < 0:
            raise ValueError(f"rrf_k must be >= 0, got {self.rrf_k}")

    def candidates(self, k: int) -> int:
        return self.limit if self.limit is not None else max(k, 100)


Plan = Nearest | Fusion


def plan_vectors(plan: Plan) -> list[str]:
    """The vector names a plan reads, in order of first use."""
    if isinstance(plan, Nearest):
        return [plan.vector]
    return list(dict.fromkeys(name for sub in plan.plans for name in plan_vectors(sub)))


def check_named_vectors(specs: Mapping[str, VectorSpec], vectors: Mapping[str, Any], *, name: str = "vectors",
                        complete: bool = True) -> dict[str, Any]:
    """``vectors`` (``{name: representation}``) checked against the bound ``specs``: known names (all of
    them when ``complete``, as an upsert needs), each of its vector's kind and size, equal row counts."""
    unknown = [n for n in vectors if n not in specs]
    if unknown:
        raise ValueError(f"{name} name vector {unknown[0]!r}, which the index does not hold "
                         f"(it holds {', '.join(map(repr, specs))})")
    missing = [n for n in specs if n not in vectors]
    if missing and complete:
        raise ValueError(f"{name} lack vector {missing[0]!r}: every point needs {', '.join(map(repr, specs))}")
    if not vectors:
        raise ValueError(f"{name} name no vector")
    out: dict[str, Any] = {}
    for key, value in vectors.items():
        spec, kind = specs[key], kind_of(value)
        if kind != spec.kind:
            raise TypeError(f"{name}[{key!r}] are {KIND_NOUNS[kind]}; the index holds {KIND_NOUNS[spec.kind]} there")
        if kind == "dense":
            out[key] = as_matrix(value, name=f"{name}[{key!r}]", dim=spec.dim)
        elif value.dim != spec.dim:
            raise DimensionMismatchError(f"{name}[{key!r}] are in a space of size {value.dim}, expected {spec.dim}")
        else:
            out[key] = value
    lengths = {key: len(v) for key, v in out.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"{name} have different numbers of rows per vector: {lengths}")
    return out


def fuse(lists: list[tuple[np.ndarray, np.ndarray]], fusion: Fusion, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Fuse candidate lists into the ``k`` best per query.

    Each list is ``(rows (m, c_i) int64, scores (m, c_i) float32)``, best first, padded with row -1
    where a query has fewer candidates. Returns ``(rows (m, k'), fused scores (m, k'))`` best first,
    padded with -1 / -inf; ties keep the lower row.
    """
    m = lists[0][0].shape[0]
    weights = fusion.weights or (1.0,) * len(lists)
    q_parts, r_parts, s_parts = [], [], []
    for (rows, scores), w in zip(lists, weights):
        valid = rows >= 0
        if fusion.method == "rrf":
            contrib = w / (fusion.rrf_k + np.arange(1, rows.shape[1] + 1, dtype=np.float64))[None, :]
            contrib = np.broadcast_to(contrib, rows.shape)
        else:
            s = scores.astype(np.float64)
            lo = np.where(valid, s, np.inf).min(axis=1, initial=np.inf)[:, None]
            span = np.where(valid, s, -np.inf).max(axis=1, initial=-np.inf)[:, None] - lo
            with np.errstate(invalid="ignore"):
                contrib = w * np.where(span > 0, (s - lo) / np.where(span > 0, span, 1.0), 1.0)
        q_parts.append(np.broadcast_to(np.arange(m)[:, None], rows.shape)[valid])
        r_parts.append(rows[valid])
        s_parts.append(np.asarray(contrib)[valid])
    queries, rows, contrib = np.concatenate(q_parts), np.concatenate(r_parts), np.concatenate(s_parts)
    width = int(rows.max()) + 1 if rows.size else 1
    keys, inverse = np.unique(queries * width + rows, return_inverse=True)
    totals = np.bincount(inverse, weights=contrib, minlength=keys.size)
    key_query, key_row = keys // width, keys % width
    # best first per query: sort by (query, -score, row)
    order = np.lexsort((key_row, -totals, key_query))
    key_query, key_row, totals = key_query[order], key_row[order], totals[order]
    starts = np.searchsorted(key_query, np.arange(m))
    rank = np.arange(key_query.size) - starts[key_query]
    keep = rank < k
    k_eff = int(min(k, np.bincount(key_query, minlength=m).max(initial=0)))
    out_rows = np.full((m, k_eff), -1, dtype=np.int64)
    out_scores = np.full((m, k_eff), -np.inf, dtype=np.float32)
    out_rows[key_query[keep], rank[keep]] = key_row[keep]
    out_scores[key_query[keep], rank[keep]] = totals[keep]
    return out_rows, out_scores
