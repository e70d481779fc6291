"""Conformance checks for components, one small named contract each (scikit-learn's
``parametrize_with_checks`` is the model). A plugin runs them in its own tests::

    from embedspec.testing import contracts, check_encoder

    @pytest.mark.parametrize("contract", contracts("encoder"), ids=str)
    def test_encoder_contract(contract):
        contract(MyEncoder(model="..."), ["a text", "another", "a third"])

    def test_all_at_once():          # or every contract in one test
        check_encoder(MyEncoder(model="..."), ["a text", "another", "a third"])

A broken contract raises ``ContractError`` (an ``AssertionError``) naming the contract and the two
values that disagree: ``[encoder: encode returns (n, dim)] got (3, 5), expected (3, 4)``. The data
argument of each kind: encoder -> a list of at least 3 inputs; index -> ``dim`` (an int, default 8);
compressor -> training vectors ``X``; aligner -> ``(X_source, X_target)`` paired anchors. Index
contracts take a zero-argument factory returning a fresh, empty index.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import DimensionMismatchError, EmbedspecError
from .filters import parse_filter
from .protocols import KIND_BY_NAME, Hit
from .representations import MultiVectors, SparseVectors


class ContractError(AssertionError):
    """A component broke one of its contracts; the message names it and the values at odds."""


@dataclass(frozen=True)
class Contract:
    """One named check: ``contract(component_or_factory, data)`` raises ``ContractError`` if broken."""

    kind: str
    name: str
    run: Callable[..., None]

    def __call__(self, subject: Any, data: Any = None) -> None:
        try:
            self.run(subject, data)
        except ContractError as exc:
            raise ContractError(f"[{self.kind}: {self.name}] {exc}") from None

    def __str__(self) -> str:
        return self.name.replace(" ", "_")


_REGISTERED: dict[str, list[Contract]] = {kind: [] for kind in KIND_BY_NAME}


def contract(kind: str, name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def add(fn: Callable[..., None]) -> Callable[..., None]:
        _REGISTERED[kind].append(Contract(kind, name, fn))
        return fn

    return add


def contracts(kind: str) -> list[Contract]:
    """Every contract of ``kind`` ("encoder", "index", "compressor", "aligner"), in a stable order."""
    return list(_REGISTERED[kind])


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise ContractError(message)


def expect_equal(got: Any, expected: Any, what: str) -> None:
    if got != expected:
        raise ContractError(f"{what}: got {got!r}, expected {expected!r}")


# ---- shared contracts -------------------------------------------------------------------------
def _implements(component: Any, kind: str) -> None:
    protocol = KIND_BY_NAME[kind].protocol
    expect(isinstance(component, protocol), f"{type(component).__name__} does not implement {protocol.__name__}")


def _round_trip(component: Any, kind: str) -> None:
    from .plugins import get_registry

    registry = get_registry()
    block = registry.describe(component)
    rebuilt = registry.get(kind, block["type"]).create({k: v for k, v in block.items() if k != "type"})
    expect_equal(registry.describe(rebuilt), block, "the spec block of a component rebuilt from its spec block")


def _stores_parameters_only(component: Any, kind: str) -> None:
    """Constructing from the spec block stores the parameters and does nothing else."""
    from .plugins import get_registry

    registry = get_registry()
    reg = registry.registration_of(component)
    params = {k: v for k, v in registry.describe(component).items() if k != "type"}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        try:
            fresh = reg.factory(**params)
            created = sorted(os.listdir(scratch))
        finally:
            os.chdir(cwd)
    expect(not created, f"the constructor created files: got {created}, expected none")
    public = sorted(k for k in vars(fresh) if not k.startswith("_"))
    allowed = set(reg.config_model.model_fields)
    extra = [k for k in public if k not in allowed]
    expect(not extra, f"the constructor set attributes that are not parameters: got {extra}, expected only "
                      f"parameters ({', '.join(sorted(allowed)) or 'none'})")
    expect(not getattr(fresh, "_warm", False), "the constructor warmed up: got _warm=True, expected False")


for _kind in ("encoder", "compressor", "aligner"):
    contract(_kind, "implements the protocol")(lambda c, data, _k=_kind: _implements(c, _k))


# ---- encoders ------------------------------------------------------------------------------
def _encode(encoder: Any, inputs: Sequence[Any], role: str = "document") -> Any:
    return encoder.encode(list(inputs), role=role)


@contract("encoder", "dim is a positive int")
def _dim(encoder: Any, inputs: Any) -> None:
    dim = encoder.dim
    expect(isinstance(dim, int) and not isinstance(dim, bool) and dim > 0, f"dim: got {dim!r}, expected an int > 0")


@contract("encoder", "modalities is a non-empty frozenset")
def _modalities(encoder: Any, inputs: Any) -> None:
    m = encoder.modalities
    expect(isinstance(m, frozenset) and bool(m), f"modalities: got {m!r}, expected a non-empty frozenset")


def _kind(encoder: Any) -> str:
    return str(getattr(encoder, "output_kind", "dense"))


def _difference(a: Any, b: Any) -> float:
    """Max |a - b| between two outputs of one kind (inf when their structure differs: row counts,
    vectors per input, sparse indices)."""
    if isinstance(a, MultiVectors) and isinstance(b, MultiVectors):
        if not np.array_equal(a.offsets, b.offsets):
            return float("inf")
        return float(np.abs(a.data - b.data).max()) if a.data.size else 0.0
    if isinstance(a, SparseVectors) and isinstance(b, SparseVectors):
        if not (np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)):
            return float("inf")
        return float(np.abs(a.values - b.values).max()) if a.values.size else 0.0
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).max()) if a.size else 0.0


def _reversed(out: Any) -> Any:
    if isinstance(out, (MultiVectors, SparseVectors)):
        return out.take(np.arange(len(out))[::-1])
    return out[::-1]


def _concat(parts: list[Any]) -> Any:
    if isinstance(parts[0], MultiVectors):
        return MultiVectors.concat(parts)
    if isinstance(parts[0], SparseVectors):
        return SparseVectors.concat(parts)
    return np.concatenate(parts, axis=0)


def _check_output(encoder: Any, out: Any, n: int, what: str) -> None:
    """``out`` is what ``output_kind`` promises for ``n`` inputs."""
    kind = _kind(encoder)
    expect(kind in ("dense", "multi", "sparse"), f"output_kind: got {kind!r}, expected dense, multi or sparse")
    if kind == "dense":
        expect(isinstance(out, np.ndarray), f"{what} returned {type(out).__name__}, expected a numpy array")
        expect_equal(out.shape, (n, encoder.dim), f"{what} shape")
        expect_equal(str(out.dtype), "float32", f"{what} dtype")
        expect(bool(np.isfinite(out).all()), f"{what} returned NaN or infinite values, expected finite floats")
        return
    cls = MultiVectors if kind == "multi" else SparseVectors
    expect(isinstance(out, cls), f"{what} returned {type(out).__name__}, expected {cls.__name__} ({kind} encoder)")
    expect_equal(len(out), n, f"{what}: outputs")
    expect_equal(out.dim, encoder.dim, f"{what}: dim")  # the containers check finiteness, order and ranges


@contract("encoder", "encode returns one output per input of its output kind")
def _encode_shape(encoder: Any, inputs: Sequence[Any]) -> None:
    expect(len(inputs) >= 3, f"check data: got {len(inputs)} inputs, expected at least 3")
    _check_output(encoder, _encode(encoder, inputs), len(inputs), "encode")


@contract("encoder", "encode is deterministic")
def _deterministic(encoder: Any, inputs: Sequence[Any]) -> None:
    diff = _difference(_encode(encoder, inputs), _encode(encoder, inputs))
    expect(diff <= 1e-5, f"two encodings of the same inputs differ: got max |diff| {diff:.3g}, expected <= 1e-05")


@contract("encoder", "encode preserves input order")
def _order(encoder: Any, inputs: Sequence[Any]) -> None:
    out, rev = _encode(encoder, inputs), _encode(encoder, list(inputs)[::-1])
    diff = _difference(out, _reversed(rev))
    expect(diff <= 1e-5, f"reversed inputs give other rows: got max |diff| {diff:.3g}, expected <= 1e-05")


@contract("encoder", "batched equals one at a time")
def _batched(encoder: Any, inputs: Sequence[Any]) -> None:
    out = _encode(encoder, inputs)
    one = _concat([_encode(encoder, [x]) for x in inputs])
    diff = _difference(out, one)
    expect(diff <= 1e-5, f"batched vs one-at-a-time: got max |diff| {diff:.3g}, expected <= 1e-05")


@contract("encoder", "query role keeps the output kind")
def _query_role(encoder: Any, inputs: Sequence[Any]) -> None:
    _check_output(encoder, _encode(encoder, inputs, "query"), len(inputs), "query encode")


@contract("encoder", "no inputs give an empty output")
def _empty(encoder: Any, inputs: Any) -> None:
    _check_output(encoder, _encode(encoder, []), 0, "encode([])")


@contract("encoder", "a lone string is refused")
def _lone_string(encoder: Any, inputs: Any) -> None:
    try:
        encoder.encode("a single string")
    except (TypeError, ValueError):
        return
    raise ContractError("encode('a single string') returned vectors, expected a TypeError (a list is required)")


contract("encoder", "spec block round-trips")(lambda c, data: _round_trip(c, "encoder"))
contract("encoder", "constructor stores parameters only")(lambda c, data: _stores_parameters_only(c, "encoder"))


# ---- indexes --------------------------------------------------------------------------------
@dataclass
class _Filled:
    index: Any
    ids: list[Any]
    vectors: np.ndarray
    payloads: list[dict[str, Any]]


def _filled(make_index: Callable[[], Any], dim: int) -> _Filled:
    rng = np.random.default_rng(0)
    n = 40
    vecs = rng.standard_normal((n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids: list[Any] = list(range(n // 2)) + [f"doc-{i}" for i in range(n // 2, n)]
    payloads = [{"parity": "even" if i % 2 == 0 else "odd", "i": i, "tags": ["all", f"m{i % 3}"]} for i in range(n)]
    index = make_index()
    index.upsert(ids, vecs, payloads)
    return _Filled(index, ids, vecs, payloads)


def index_contract(name: str) -> Callable[[Callable[[_Filled], None]], Callable[[_Filled], None]]:
    """An index contract runs on a fresh index filled with 40 points; the index is closed after."""

    def add(fn: Callable[[_Filled], None]) -> Callable[[_Filled], None]:
        def run(make_index: Callable[[], Any], dim: int | None = None) -> None:
            filled = _filled(make_index, dim or 8)
            try:
                fn(filled)
            finally:
                filled.index.close()

        _REGISTERED["index"].append(Contract("index", name, run))
        return fn

    return add


@index_contract("implements the protocol")
def _index_protocol(f: _Filled) -> None:
    _implements(f.index, "index")


@index_contract("count after upsert")
def _count(f: _Filled) -> None:
    expect_equal(f.index.count(), len(f.ids), "count() after upserting 40 points")


@index_contract("k hits per query, sorted, with payloads")
def _hits(f: _Filled) -> None:
    hits = f.index.search(f.vectors[:5], k=3)
    expect_equal([len(h) for h in hits], [3] * 5, "hits per query for 5 queries and k=3")
    for i, row in enumerate(hits):
        expect(all(isinstance(h, Hit) for h in row), f"search returned {type(row[0]).__name__}, expected Hit")
        expect_equal(row[0].id, f.ids[i], f"nearest neighbour of point {f.ids[i]!r}")
        scores = [h.score for h in row]
        expect_equal(scores, sorted(scores, reverse=True), "scores of one query (best first)")
        expect_equal(dict(row[0].payload or {}), f.payloads[i], f"payload of point {f.ids[i]!r}")


@index_contract("filters select exactly the matching points")
def _filters(f: _Filled) -> None:
    for flt in ({"parity": "odd"}, {"i": {"gte": 10, "lt": 20}}, {"tags": {"any": ["m1"]}}, {"tags": "m2", "parity": "even"}):
        allowed = sorted(str(p) for p, pay in zip(f.ids, f.payloads) if parse_filter(flt).matches(pay))
        for row in f.index.search(f.vectors[:3], k=len(f.ids), filter=flt):
            expect_equal(sorted(str(h.id) for h in row), allowed, f"ids returned with filter {flt}")


@index_contract("deleted ids are gone")
def _delete(f: _Filled) -> None:
    f.index.delete([0, "doc-21"])
    expect_equal(f.index.count(), len(f.ids) - 2, "count() after deleting 2 points")
    for row in f.index.search(f.vectors, k=len(f.ids)):
        leaked = sorted(str(h.id) for h in row if h.id in (0, "doc-21"))
        expect_equal(leaked, [], "deleted ids in search results")


@index_contract("upsert replaces an existing id")
def _replace(f: _Filled) -> None:
    f.index.upsert([1], -f.vectors[1:2], [{"replaced": True}])
    expect_equal(f.index.count(), len(f.ids), "count() after re-upserting an existing id")
    top = f.index.search(-f.vectors[1:2], k=1)[0][0]
    expect_equal((top.id, dict(top.payload or {})), (1, {"replaced": True}), "the replaced point (id, payload)")


@index_contract("rejected upserts write nothing")
def _rejected(f: _Filled) -> None:
    bad = f.vectors[:2].copy()
    bad[1, 0] = np.nan
    for ids, vectors, what in ((["nan-a", "nan-b"], bad, "NaN vectors"),
                               (["wrong-dim"], np.ones((1, f.vectors.shape[1] + 1), np.float32), "a wrong dimension")):
        try:
            f.index.upsert(ids, vectors)
        except (ValueError, TypeError, DimensionMismatchError, EmbedspecError):
            pass
        else:
            raise ContractError(f"upserting {what} was accepted, expected an error")
        expect_equal(f.index.count(), len(f.ids), f"count() after a rejected upsert of {what}")


@index_contract("no queries, no results; k is checked")
def _edges(f: _Filled) -> None:
    expect_equal(f.index.search(np.zeros((0, f.vectors.shape[1]), np.float32), k=3), [], "search with no queries")
    for k in (0, -1):
        try:
            f.index.search(f.vectors[:1], k=k)
        except (ValueError, TypeError):
            continue
        raise ContractError(f"search with k={k} returned results, expected a ValueError")


@index_contract("spec block round-trips")
def _index_round_trip(f: _Filled) -> None:
    from .base import BaseIndex

    if isinstance(f.index, BaseIndex):
        _round_trip(f.index, "index")


@index_contract("constructor stores parameters only")
def _index_constructor(f: _Filled) -> None:
    from .base import BaseIndex

    if isinstance(f.index, BaseIndex):
        _stores_parameters_only(f.index, "index")


# ---- compressors ----------------------------------------------------------------------------
@contract("compressor", "fit returns self")
def _fit_self(comp: Any, X: np.ndarray) -> None:
    expect(comp.fit(np.asarray(X, np.float32)) is comp, "fit returned another object, expected self")


@contract("compressor", "transform: one deterministic row per vector")
def _transform(comp: Any, X: np.ndarray) -> None:
    X = np.asarray(X, np.float32)
    codes = comp.fit(X).transform(X)
    expect_equal(codes.shape[0], X.shape[0], "rows of transform(X)")
    expect(np.array_equal(codes, comp.transform(X)), "two transforms of the same vectors differ, expected equal")


@contract("compressor", "output_dim and bytes_per_vector")
def _sizes(comp: Any, X: np.ndarray) -> None:
    X = np.asarray(X, np.float32)
    codes = comp.fit(X).transform(X)
    size = comp.bytes_per_vector(X.shape[1])
    expect(isinstance(size, int) and size > 0, f"bytes_per_vector: got {size!r}, expected an int > 0")
    if getattr(comp, "is_quantizer", False):
        expect_equal(comp.similarity(X[:5], codes, "cosine").shape, (5, X.shape[0]), "similarity(5 queries) shape")
    else:
        expect_equal(codes.shape[1], comp.output_dim(X.shape[1]), "transform width vs output_dim")


@contract("compressor", "save and load round-trip")
def _compressor_state(comp: Any, X: np.ndarray) -> None:
    X = np.asarray(X, np.float32)
    codes = comp.fit(X).transform(X)
    with tempfile.TemporaryDirectory() as tmp:
        comp.save(tmp)
        clone = _fresh(comp).load(tmp)
        expect(np.array_equal(clone.transform(X), codes), "transform after save/load differs, expected equal")


contract("compressor", "spec block round-trips")(lambda c, X: _round_trip(c, "compressor"))
contract("compressor", "constructor stores parameters only")(lambda c, X: _stores_parameters_only(c, "compressor"))


# ---- aligners -------------------------------------------------------------------------------
@contract("aligner", "fit returns self; rows map into the target space")
def _align(aligner: Any, data: tuple[np.ndarray, np.ndarray]) -> None:
    Xs, Xt = data
    expect(aligner.fit(Xs, Xt) is aligner, "fit returned another object, expected self")
    out = aligner.transform(Xs)
    expect_equal(out.shape, (len(Xs), np.asarray(Xt).shape[1]), "transform(X_source) shape")


@contract("aligner", "save and load round-trip")
def _aligner_state(aligner: Any, data: tuple[np.ndarray, np.ndarray]) -> None:
    Xs, Xt = data
    out = aligner.fit(Xs, Xt).transform(Xs)
    with tempfile.TemporaryDirectory() as tmp:
        aligner.save(tmp)
        clone = _fresh(aligner).load(tmp)
        diff = float(np.abs(clone.transform(Xs) - out).max())
        expect(diff <= 1e-6, f"transform after save/load: got max |diff| {diff:.3g}, expected <= 1e-06")


contract("aligner", "spec block round-trips")(lambda c, d: _round_trip(c, "aligner"))
contract("aligner", "constructor stores parameters only")(lambda c, d: _stores_parameters_only(c, "aligner"))


def _fresh(component: Any) -> Any:
    """A new, unfitted instance with the same parameters (through the component's spec block)."""
    from .plugins import describe

    return type(component)(**{k: v for k, v in describe(component).items() if k != "type"})


# ---- all at once ----------------------------------------------------------------------------
def _run_all(kind: str, subject: Any, data: Any) -> None:
    for item in contracts(kind):
        item(subject, data)


def check_encoder(encoder: Any, inputs: Sequence[Any], *, round_trip: bool = True) -> np.ndarray:
    """Every encoder contract on ``inputs`` (at least 3); return their document vectors."""
    for item in contracts("encoder"):
        if round_trip or item.name not in ("spec block round-trips", "constructor stores parameters only"):
            item(encoder, list(inputs))
    return _encode(encoder, inputs)


def check_index(make_index: Callable[[], Any], dim: int = 8) -> None:
    """Every index contract, each on a fresh index from ``make_index()``."""
    _run_all("index", make_index, dim)


def check_compressor(compressor: Any, X: np.ndarray) -> np.ndarray:
    """Every compressor contract on training vectors ``X``; return the codes."""
    _run_all("compressor", compressor, X)
    return compressor.transform(np.asarray(X, np.float32))


def check_aligner(aligner: Any, X_source: np.ndarray, X_target: np.ndarray) -> np.ndarray:
    """Every aligner contract on paired anchors; return the aligned source vectors."""
    _run_all("aligner", aligner, (X_source, X_target))
    return aligner.transform(X_source)


def iter_contracts(kind: str) -> Iterator[tuple[str, Contract]]:
    """(test id, contract) pairs, for ``pytest.mark.parametrize("name, contract", ...)``."""
    for item in contracts(kind):
        yield str(item), item
