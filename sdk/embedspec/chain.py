"""The chain check ``build`` runs before any work starts.

Dimensions flow from the encoder through the aligner and the compressors to the index; a quantizer
(codes, not floats) must come last and the index must be able to store it. Every problem found is
collected as a located ``SpecIssue`` (block path, component, plugin, YAML line) rather than stopping
at the first one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import DimensionMismatchError, EmbedspecError, IndexLockedError, SpecError
from .query import DEFAULT_VECTOR, VectorSpec
from .representations import KIND_NOUNS, OUTPUT_KINDS
from .spec import Spec
from .spec_source import SpecIssue, sorted_issues


@dataclass
class ChainCheck:
    """What the check found: the dimension and output kind reaching the index, the quantizer, and the
    problems."""

    dim: int | None = None
    kind: str | None = "dense"
    quantizer: Any = None
    native_quantization: bool = False
    issues: list[SpecIssue] = field(default_factory=list)
    dimension_problem: bool = False


def _kind(component: Any, attribute: str) -> str:
    kind = getattr(component, attribute, "dense")
    if kind not in OUTPUT_KINDS:
        raise EmbedspecError(f"declares {attribute} {kind!r}, not one of {', '.join(OUTPUT_KINDS)}")
    return str(kind)


def _label(path: str, component: Any) -> str:
    return f"{path} ({getattr(component, '_embedspec_type', type(component).__name__)})"


class _Locator:
    """Builds located issues for the blocks of a spec (or bare paths when there is none)."""

    def __init__(self, spec: Spec | None) -> None:
        self.blocks = {b.path: b for b in spec.blocks()} if spec is not None else {}

    def issue(self, path: str, message: str) -> SpecIssue:
        block = self.blocks.get(path)
        if block is None:
            return SpecIssue(path, message)
        return SpecIssue(path, message, *block.position(path), component=block.type, plugin=block.registration.plugin)


def check_chain(encoder: Any, aligner: Any, compressors: list[Any], index: Any, spec: Spec | None = None) -> ChainCheck:
    """Check encoder -> aligner -> compressors -> index; bind the index's dimension and quantizer."""
    out = ChainCheck()
    where = _Locator(spec)

    def problem(path: str, message: str, *, dimension: bool = False) -> None:
        out.issues.append(where.issue(path, message))
        out.dimension_problem = out.dimension_problem or dimension

    dim: int | None
    try:
        dim = int(encoder.dim)
    except (EmbedspecError, OSError, ValueError) as exc:
        problem("encoder", f"cannot tell the encoder's dimension: {exc}")
        dim = None
    upstream = _label("encoder", encoder)
    kind: str | None
    try:
        kind = _kind(encoder, "output_kind")
    except EmbedspecError as exc:
        problem("encoder", f"{upstream} {exc}")
        kind = None

    def takes(path: str, component: Any, label: str) -> bool:
        """Whether ``component`` takes the kind flowing in; a located problem when it does not."""
        try:
            wanted = _kind(component, "input_kind")
        except EmbedspecError as exc:
            problem(path, f"{label} {exc}")
            return False
        if kind is not None and wanted != kind:
            problem(path, f"{label} takes {KIND_NOUNS[wanted]} but {upstream} emits {KIND_NOUNS[kind]}")
            return False
        return True

    if aligner is not None and not takes("aligner", aligner, _label("aligner", aligner)):
        kind = dim = None
    if aligner is not None and dim is not None:
        in_dim = getattr(aligner, "input_dim_", None)
        if in_dim is not None and in_dim != dim:
            problem("aligner", f"{upstream} produces dimension {dim} but {_label('aligner', aligner)} was "
                    f"fitted on {in_dim}", dimension=True)
            dim = None
        else:
            dim, upstream = aligner.output_dim(dim), _label("aligner", aligner)
    last = len(compressors) - 1
    for i, comp in enumerate(compressors):
        here = _label(f"compressors[{i}]", comp)
        quantizer = getattr(comp, "is_quantizer", False)
        if quantizer and i != last:
            problem(f"compressors[{i}]", f"{here} is a quantizer: it must be the last compressor")
        if kind is not None and not takes(f"compressors[{i}]", comp, here):
            kind = dim = None
            continue
        if not quantizer and kind is not None:
            kind = _kind(comp, "output_kind")
        if dim is None:
            continue
        try:
            out_dim = comp.output_dim(dim)
        except ValueError as exc:
            problem(f"compressors[{i}]", f"{upstream} produces dimension {dim}, which {here} cannot take: {exc}",
                    dimension=True)
            dim = None
            continue
        if not quantizer:
            dim, upstream = out_dim, here
    accepts = getattr(index, "accepts", frozenset({"dense"}))
    if kind is not None and kind not in accepts:
        stores = " or ".join(KIND_NOUNS[k] for k in sorted(accepts))
        problem("index", f"{_label('index', index)} stores {stores} but {upstream} emits {KIND_NOUNS[kind]}")
        dim = None
    bind_kind = getattr(index, "bind_kind", None)
    if kind is not None and dim is not None and callable(bind_kind):  # stored data of another kind: located
        try:
            bind_kind(kind)
        except IndexLockedError:
            raise
        except EmbedspecError as exc:
            problem("index", f"{_label('index', index)}: {exc}")
            dim = None
    if dim is not None and hasattr(index, "bind_dim"):
        try:
            if kind == "sparse" and hasattr(index, "bind_vectors"):  # one unnamed sparse vector (multi: bind_kind + bind_dim)
                modifier = getattr(encoder, "sparse_modifier", None) if kind == "sparse" else None
                index.bind_vectors({DEFAULT_VECTOR: VectorSpec(kind, dim, "dot", modifier)})  # type: ignore[arg-type]
            else:
                index.bind_dim(dim)
        except DimensionMismatchError as exc:
            problem("index", f"{upstream} produces dimension {dim} but {_label('index', index)}: {exc}", dimension=True)
        except IndexLockedError:
            raise  # not a problem of the spec: another process holds the index
        except EmbedspecError as exc:
            problem("index", f"{_label('index', index)}: {exc}")
    if compressors and getattr(compressors[-1], "is_quantizer", False):
        out.quantizer = compressors[-1]
        try:
            out.native_quantization = bool(index.use_quantizer(out.quantizer))
        except EmbedspecError as exc:
            problem("index", f"{_label('index', index)}: {exc}")
    out.dim, out.kind = dim, kind
    return out


def check_named_chain(encoders: Mapping[str, Any], index: Any, spec: Spec | None = None) -> ChainCheck:
    """Check a hybrid pipeline: each named encoder's kind is one the index stores; then bind the named
    vectors (``index.bind_vectors``), which checks them against what the index already holds."""
    out = ChainCheck(kind=None)
    where = _Locator(spec)
    specs: dict[str, VectorSpec] = {}
    accepts = getattr(index, "accepts", frozenset({"dense"}))
    for name, encoder in encoders.items():
        path, label = f"encoders.{name}", _label(f"encoders.{name}", encoder)
        try:
            kind, dim = _kind(encoder, "output_kind"), int(encoder.dim)
        except (EmbedspecError, OSError, ValueError) as exc:
            out.issues.append(where.issue(path, f"{label}: cannot tell its output: {exc}"))
            continue
        if kind not in accepts:
            stores = " or ".join(KIND_NOUNS[k] for k in sorted(accepts))
            out.issues.append(where.issue(path, f"{label} emits {KIND_NOUNS[kind]} but {_label('index', index)} "
                                          f"stores {stores}"))
            continue
        metric = getattr(index, "metric", "cosine") if kind == "dense" else "dot"
        modifier = getattr(encoder, "sparse_modifier", None) if kind == "sparse" else None
        specs[name] = VectorSpec(kind, dim, metric, modifier)  # type: ignore[arg-type]
    if out.issues:
        return out
    bind = getattr(index, "bind_vectors", None)
    try:
        if bind is None:
            raise EmbedspecError("it cannot hold named vectors")
        bind(specs)
    except IndexLockedError:
        raise
    except EmbedspecError as exc:
        out.issues.append(where.issue("index", f"{_label('index', index)}: {exc}"))
        out.dimension_problem = isinstance(exc, DimensionMismatchError)
    return out


def chain_error(issues: list[SpecIssue], source: str | None, *, dimension: bool = False) -> SpecError:
    """One error listing every issue by line; a ``DimensionMismatchError`` when a dimension is wrong."""
    issues = sorted_issues(issues)
    label = source or "<spec>"
    noun = "problem" if len(issues) == 1 else "problems"
    lines = "\n".join(f"  - {i}" for i in issues)
    message = f"{label}: {len(issues)} {noun} in the spec:\n{lines}"
    if len(issues) == 1 and source is None:
        message = str(issues[0])
    cls = DimensionMismatchError if dimension else SpecError
    return cls(message, issues)
