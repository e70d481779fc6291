"""Conformance checks every component runs in its own tests (like scikit-learn's ``check_estimator``).

    from embedspec.testing import check_encoder
    def test_conformance():
        check_encoder(MyEncoder(...), ["a text", "another"])

Each check raises ``AssertionError`` with a message saying which contract was broken.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .base import BaseIndex
from .errors import DimensionMismatchError, EmbedspecError
from .filters import parse_filter
from .protocols import Aligner, Compressor, Encoder, Hit, Index


def _fail(msg: str) -> None:
    raise AssertionError(msg)


def _check(cond: bool, msg: str) -> None:
    if not cond:
        _fail(msg)


def _round_trip_block(component: Any) -> None:
    from .plugins import get_registry
    from .registry import describe

    block = describe(component)
    reg = get_registry().get(_kind_of(component), block["type"])
    rebuilt = reg.create({k: v for k, v in block.items() if k != "type"})
    _check(describe(rebuilt) == block, f"spec block does not round-trip: {block} != {describe(rebuilt)}")


def _kind_of(component: Any) -> str:
    # Compressor before Aligner: every compressor also has the aligner's fit/transform methods.
    for kind, proto in (("encoder", Encoder), ("index", Index), ("compressor", Compressor), ("aligner", Aligner)):
        if isinstance(component, proto):
            return kind
    raise AssertionError(f"{type(component).__name__} implements none of the four protocols")


def check_encoder(encoder: Any, inputs: Sequence[Any], *, atol: float = 1e-5, round_trip: bool = True) -> np.ndarray:
    """Check the Encoder contract on ``inputs`` (at least 3); return their document vectors."""
    _check(isinstance(encoder, Encoder), f"{type(encoder).__name__} does not implement Encoder")
    _check(len(inputs) >= 3, "check_encoder needs at least 3 inputs")
    dim = encoder.dim
    _check(isinstance(dim, int) and dim > 0, f"dim must be a positive int, got {dim!r}")
    _check(isinstance(encoder.modalities, frozenset) and bool(encoder.modalities), "modalities must be a non-empty frozenset")
    out = encoder.encode(list(inputs), role="document")
    _check(isinstance(out, np.ndarray), "encode must return a numpy array")
    _check(out.shape == (len(inputs), dim), f"encode returned shape {out.shape}, expected {(len(inputs), dim)}")
    _check(out.dtype == np.float32, f"encode returned dtype {out.dtype}, expected float32")
    _check(bool(np.isfinite(out).all()), "encode returned NaN or infinite values")
    again = encoder.encode(list(inputs), role="document")
    _check(np.allclose(out, again, atol=atol), "encode is not deterministic")
    rev = encoder.encode(list(inputs)[::-1], role="document")
    _check(np.allclose(out, rev[::-1], atol=atol), "encode does not preserve input order")
    one = np.stack([encoder.encode([x], role="document")[0] for x in inputs])
    _check(np.allclose(out, one, atol=atol), "batched and one-at-a-time encodings differ")
    q = encoder.encode(list(inputs), role="query")
    _check(q.shape == out.shape, "query role changes the output shape")
    empty = encoder.encode([], role="document")
    _check(empty.shape == (0, dim), f"encode([]) must return shape (0, {dim}), got {empty.shape}")
    if round_trip:
        _round_trip_block(encoder)
    return out


def check_index(make_index: Callable[[], Any], dim: int = 8, *, seed: int = 0) -> None:
    """Check the Index contract on a fresh, empty index from ``make_index()``."""
    rng = np.random.default_rng(seed)
    index = make_index()
    _check(isinstance(index, Index), f"{type(index).__name__} does not implement Index")
    try:
        n = 40
        vecs = rng.standard_normal((n, dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        ids: list[Any] = list(range(n // 2)) + [f"doc-{i}" for i in range(n // 2, n)]
        payloads = [
            {"parity": "even" if i % 2 == 0 else "odd", "i": i, "tags": ["all", f"m{i % 3}"]}
            for i in range(n)
        ]
        index.upsert(ids, vecs, payloads)
        _check(index.count() == n, f"count() is {index.count()} after upserting {n} points")
        hits = index.search(vecs[:5], k=3)
        _check(len(hits) == 5 and all(len(h) == 3 for h in hits), "search must return k hits per query")
        for i, row in enumerate(hits):
            _check(all(isinstance(h, Hit) for h in row), "search must return Hit objects")
            _check(row[0].id == ids[i], f"the nearest neighbour of point {ids[i]!r} is {row[0].id!r}, not itself")
            _check(all(a.score >= b.score for a, b in zip(row, row[1:])), "hits must be sorted by decreasing score")
            _check(dict(row[0].payload or {}) == payloads[i], "search must return the stored payload")
        for flt in ({"parity": "odd"}, {"i": {"gte": 10, "lt": 20}}, {"tags": {"any": ["m1"]}}, {"tags": "m2", "parity": "even"}):
            allowed = {pid for pid, p in zip(ids, payloads) if parse_filter(flt).matches(p)}
            got = index.search(vecs[:3], k=n, filter=flt)
            for row in got:
                ids_got = {h.id for h in row}
                _check(ids_got == allowed, f"filter {flt} returned {sorted(map(str, ids_got))}, expected {sorted(map(str, allowed))}")
        index.delete([0, "doc-21"])
        _check(index.count() == n - 2, "delete did not remove the points")
        for row in index.search(vecs, k=n):
            _check(not ({h.id for h in row} & {0, "doc-21"}), "a deleted id was returned")
        index.upsert([1], -vecs[1:2], [{"replaced": True}])
        _check(index.count() == n - 2, "upserting an existing id must replace it, not add one")
        top = index.search(-vecs[1:2], k=1)[0][0]
        _check(top.id == 1 and dict(top.payload or {}) == {"replaced": True}, "upsert did not replace the point")
        bad = vecs[:2].copy()
        bad[1, 0] = np.nan
        try:
            index.upsert(["nan-a", "nan-b"], bad)
        except (ValueError, EmbedspecError):
            pass
        else:
            _fail("upserting NaN vectors must raise")
        _check(index.count() == n - 2, "a rejected upsert must write nothing")
        try:
            index.upsert(["wrong-dim"], np.ones((1, dim + 1), dtype=np.float32))
        except (DimensionMismatchError, ValueError, EmbedspecError):
            pass
        else:
            _fail("upserting vectors of the wrong dimension must raise")
        _check(index.count() == n - 2, "a rejected upsert must write nothing")
        _check(index.search(np.zeros((0, dim), dtype=np.float32), k=3) == [], "no queries, no results")
        if isinstance(index, BaseIndex):
            _round_trip_block(index)
    finally:
        index.close()


def check_contains(make_index: Callable[[], Any], dim: int = 8, *, seed: int = 0) -> None:
    """Check ``contains(ids) -> list[bool]`` (what resumed ingestion relies on) on a fresh, empty index."""
    rng = np.random.default_rng(seed)
    index = make_index()
    try:
        _check(callable(getattr(index, "contains", None)), f"{type(index).__name__} has no contains(ids) method")
        _check(list(index.contains([])) == [], "contains([]) must return []")
        _check(list(index.contains([0, "a"])) == [False, False], "an empty index contains no id")
        ids: list[Any] = [0, 1, 7, "doc-a", "doc-b", "0" * 32]
        vecs = rng.standard_normal((len(ids), dim)).astype(np.float32)
        index.upsert(ids, vecs)
        asked: list[Any] = [7, "7", 0, "0", "doc-a", "doc-z", 2, "0" * 32, "doc-b", 1]
        want = [True, False, True, False, True, False, False, True, True, True]
        got = list(index.contains(asked))
        _check(got == want, f"contains({asked}) returned {got}, expected {want} (an int id and its string are different ids)")
        index.delete(["doc-a", 7])
        got = list(index.contains(["doc-a", 7, "doc-b"]))
        _check(got == [False, False, True], f"after delete, contains returned {got}, expected [False, False, True]")
        many = [f"absent-{i}" for i in range(2500)] + [1]
        got = list(index.contains(many))
        _check(len(got) == len(many) and got[-1] is True and not any(got[:-1]),
               "contains must answer every id of a large call, in order")
        for bad in ([1.5], [None], "doc-a"):
            try:
                index.contains(bad)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                pass
            else:
                _fail(f"contains({bad!r}) must raise TypeError or ValueError")
    finally:
        index.close()


def check_compressor(compressor: Any, X: np.ndarray) -> np.ndarray:
    """Check the Compressor contract on training vectors ``X``; return the codes."""
    _check(isinstance(compressor, Compressor), f"{type(compressor).__name__} does not implement Compressor")
    X = np.asarray(X, dtype=np.float32)
    _check(compressor.fit(X) is compressor, "fit must return self")
    codes = compressor.transform(X)
    _check(codes.shape[0] == X.shape[0], "transform must return one row per vector")
    _check(np.array_equal(codes, compressor.transform(X)), "transform is not deterministic")
    _check(compressor.bytes_per_vector(X.shape[1]) > 0, "bytes_per_vector must be positive")
    if not getattr(compressor, "is_quantizer", False):
        _check(codes.shape[1] == compressor.output_dim(X.shape[1]), "output_dim disagrees with transform")
    else:
        sims = compressor.similarity(X[:5], codes, "cosine")
        _check(sims.shape == (5, X.shape[0]), "similarity must return (queries, codes) scores")
    with tempfile.TemporaryDirectory() as tmp:
        compressor.save(tmp)
        clone = type(compressor)(**_params(compressor))
        clone.load(tmp)
        _check(np.array_equal(clone.transform(X), codes), "save/load does not round-trip")
    _round_trip_block(compressor)
    return codes


def check_aligner(aligner: Any, X_source: np.ndarray, X_target: np.ndarray) -> np.ndarray:
    """Check the Aligner contract on paired anchors; return the aligned source vectors."""
    _check(isinstance(aligner, Aligner), f"{type(aligner).__name__} does not implement Aligner")
    _check(aligner.fit(X_source, X_target) is aligner, "fit must return self")
    out = aligner.transform(X_source)
    _check(out.shape[0] == len(X_source), "transform must return one row per vector")
    _check(out.shape[1] == np.asarray(X_target).shape[1], "transform must map into the target dimension")
    with tempfile.TemporaryDirectory() as tmp:
        aligner.save(tmp)
        clone = type(aligner)(**_params(aligner)).load(tmp)
        _check(np.allclose(clone.transform(X_source), out), "save/load does not round-trip")
    _round_trip_block(aligner)
    return out


def _params(component: Any) -> dict[str, Any]:
    from .registry import describe

    return {k: v for k, v in describe(component).items() if k != "type"}
