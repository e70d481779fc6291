"""``build(spec) -> Pipeline``: encode -> align -> compress -> index / search.

``build`` checks the whole chain before any work starts: the encoder's dimension through the aligner
and compressors to the index, that a quantizer comes last, and that trained components have state.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .base import BaseCompressor, Quantizer, as_matrix, batched
from .errors import DimensionMismatchError, EmbedspecError, NotFittedError, ResourceError, SpecError
from .protocols import Hit, PointId, Role
from .registry import describe
from .spec import _ENV, BlockSpec, Spec, SpecIssue, load_spec, spec_error

#: How many vectors an unfitted compressor is fitted on when the pipeline fits it.
FIT_SAMPLE = 20_000


def _progress_enabled(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    if os.environ.get("EMBEDSPEC_PROGRESS", "").lower() in {"0", "false", "off", "no"}:
        return False
    return sys.stderr.isatty()


def _name(block: BlockSpec) -> str:
    return f"{block.path} ({block.type})"


def _check_resources(component: Any, block: BlockSpec, issues: list[SpecIssue], deep: bool = False) -> None:
    """Run ``component.check()``; a ``ResourceError`` becomes an issue located at its field."""
    check = getattr(component, "check", None)
    if not callable(check):
        return
    try:
        check(deep=deep)
    except ResourceError as exc:
        path = f"{block.path}.{exc.field}" if exc.field else block.path
        issues.append(SpecIssue(path, str(exc), *block.position(path), component=block.type,
                                plugin=block.registration.plugin))


def _load_state(component: Any, block: BlockSpec, issues: list[SpecIssue]) -> None:
    """Load a trainable component's ``state`` directory; a component with no state is an issue."""
    if not getattr(component, "requires_fit", False):
        return
    state = getattr(component, "state", None)
    if state:
        if not Path(state).is_dir():
            issues.append(SpecIssue(f"{block.path}.state", f"state directory {state} does not exist",
                                    component=block.type, plugin=block.registration.plugin))
            return
        component.load(state)
    if not component.is_fitted and block.kind != "compressor":
        issues.append(SpecIssue(
            f"{block.path}.state",
            f"{block.type} must be trained first: fit it and save(dir), then set `state: dir`",
            component=block.type, plugin=block.registration.plugin,
        ))


class Pipeline:
    """A built chain of components. Documents are encoded with role "document", queries "query"."""

    def __init__(self, encoder: Any, index: Any, compressors: Sequence[Any] = (), aligner: Any = None,
                 spec: Spec | None = None) -> None:
        self.encoder = encoder
        self.index = index
        self.aligner = aligner
        self.compressors = list(compressors)
        self.spec = spec
        self.quantizer: Quantizer | None = None
        self.native_quantization = False
        self._check_chain()

    # ---- chain check ----------------------------------------------------------------------------
    def _check_chain(self) -> None:
        names = self._block_names()
        dim = self.encoder.dim
        upstream = names["encoder"]
        if self.aligner is not None:
            in_dim = getattr(self.aligner, "input_dim_", None)
            if in_dim is not None and in_dim != dim:
                raise DimensionMismatchError(
                    f"{upstream} produces dimension {dim} but {names['aligner']} was fitted on {in_dim}"
                )
            dim, upstream = self.aligner.output_dim(dim), names["aligner"]
        for i, comp in enumerate(self.compressors):
            here = names[f"compressors[{i}]"]
            if getattr(comp, "is_quantizer", False) and i != len(self.compressors) - 1:
                raise SpecError(f"{here} is a quantizer: it must be the last compressor")
            try:
                out = comp.output_dim(dim)
            except ValueError as exc:
                raise DimensionMismatchError(f"{upstream} produces dimension {dim}, which {here} cannot take: {exc}") from None
            if not getattr(comp, "is_quantizer", False):
                dim, upstream = out, here
        if hasattr(self.index, "bind_dim"):
            try:
                self.index.bind_dim(dim)
            except DimensionMismatchError as exc:
                raise DimensionMismatchError(f"{upstream} produces dimension {dim} but {names['index']}: {exc}") from None
        if self.compressors and getattr(self.compressors[-1], "is_quantizer", False):
            self.quantizer = self.compressors[-1]
            try:
                self.native_quantization = bool(self.index.use_quantizer(self.quantizer))
            except EmbedspecError as exc:
                raise SpecError(f"{names['index']}: {exc}") from None
        self.dim = dim

    def _block_names(self) -> dict[str, str]:
        def label(path: str, comp: Any) -> str:
            return f"{path} ({getattr(comp, '_embedspec_type', type(comp).__name__)})"

        names = {"encoder": label("encoder", self.encoder), "index": label("index", self.index)}
        if self.aligner is not None:
            names["aligner"] = label("aligner", self.aligner)
        for i, comp in enumerate(self.compressors):
            names[f"compressors[{i}]"] = label(f"compressors[{i}]", comp)
        return names

    # ---- encoding -------------------------------------------------------------------------------
    def encode(self, items: Sequence[Any], role: Role = "document", batch_size: int | None = None) -> np.ndarray:
        """``(n, dim) float32``: the encoder's vectors, mapped by the aligner when there is one."""
        vectors = self.encoder.encode(list(items), role=role, **({"batch_size": batch_size} if batch_size else {}))
        if self.aligner is not None and len(vectors):
            vectors = as_matrix(self.aligner.transform(vectors))
        return vectors

    def _float_compressors(self) -> list[BaseCompressor]:
        return [c for c in self.compressors if not getattr(c, "is_quantizer", False)]

    def compress(self, vectors: np.ndarray) -> np.ndarray:
        """Apply the float-to-float compressors (the quantizer, if any, is the index's business)."""
        for comp in self._float_compressors():
            if not comp.is_fitted:
                raise NotFittedError(f"{type(comp).__name__} is not fitted: add documents first")
            vectors = as_matrix(comp.transform(vectors))
        return vectors

    def _fit_compressors(self, vectors: np.ndarray) -> None:
        rng = np.random.default_rng(0)
        sample = vectors if len(vectors) <= FIT_SAMPLE else vectors[rng.choice(len(vectors), FIT_SAMPLE, replace=False)]
        for comp in self._float_compressors():
            if not comp.is_fitted:
                comp.fit(sample)
            sample = comp.transform(sample)
        q = self.quantizer
        if q is not None and not self.native_quantization and not q.is_fitted:
            q.fit(sample)

    # ---- indexing and search -------------------------------------------------------------------
    def add(self, items: Sequence[Any], ids: Sequence[PointId] | None = None,
            payloads: Sequence[Mapping[str, Any] | None] | None = None, batch_size: int = 256,
            progress: bool | None = None) -> list[PointId]:
        """Encode ``items`` as documents and upsert them; returns their ids."""
        items = list(items)
        if ids is None:
            start = self.index.count()
            ids = list(range(start, start + len(items)))
        ids = list(ids)
        if len(ids) != len(items):
            raise ValueError(f"got {len(ids)} ids for {len(items)} items")
        if payloads is not None and len(payloads) != len(items):
            raise ValueError(f"got {len(payloads)} payloads for {len(items)} items")
        if not items:
            return []
        chunks = []
        bar = None
        if _progress_enabled(progress):
            from tqdm.auto import tqdm

            bar = tqdm(total=len(items), desc="encoding", unit="doc")
        for chunk in batched(items, batch_size):
            chunks.append(self.encode(chunk, role="document"))
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
        vectors = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
        self._fit_compressors(vectors)
        vectors = self.compress(vectors)
        for start in range(0, len(ids), 4096):
            stop = start + 4096
            self.index.upsert(ids[start:stop], vectors[start:stop],
                              list(payloads[start:stop]) if payloads is not None else None)
        flush = getattr(self.index, "flush", None)
        if callable(flush):  # persistent indexes: what add() returned is on disk
            flush()
        return ids

    def search(self, queries: Sequence[Any], k: int = 10, filter: Mapping[str, Any] | None = None,
               batch_size: int | None = None) -> list[list[Hit]]:
        """Encode ``queries`` with role "query" and return the ``k`` best hits for each."""
        queries = list(queries)
        if not queries:
            return []
        vectors = self.compress(self.encode(queries, role="query", batch_size=batch_size))
        return self.index.search(vectors, k=k, filter=filter)

    def bytes_per_vector(self) -> int:
        """Bytes the index stores per vector after the compressor chain (float32 when none)."""
        dim = self.encoder.dim
        if self.aligner is not None:
            dim = self.aligner.output_dim(dim)
        size = 4 * dim
        for comp in self.compressors:
            size = comp.bytes_per_vector(dim)
            dim = comp.output_dim(dim)
        return size

    # ---- writing back --------------------------------------------------------------------------
    def to_spec(self) -> dict[str, Any]:
        """The spec mapping that rebuilds this pipeline.

        Every ``${VAR}`` of the spec it was built from is written back as such: the reference remembered
        at build time, not re-derived from the environment (the variable may be unset or rotated since).
        Secrets given literally are written back masked (``embedspec.secrets``).
        """
        spec = self.spec
        out: dict[str, Any] = {"version": 1, "encoder": _restore_env(describe(self.encoder), spec and spec.encoder)}
        if self.aligner is not None:
            out["aligner"] = _restore_env(describe(self.aligner), spec and spec.aligner)
        if self.compressors:
            built = spec.compressors if spec else []
            out["compressors"] = [
                _restore_env(describe(c), built[i] if i < len(built) else None) for i, c in enumerate(self.compressors)
            ]
        out["index"] = _restore_env(describe(self.index), spec and spec.index)
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_spec(), sort_keys=False)

    def close(self) -> None:
        self.index.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _restore_env(block: dict[str, Any], built: BlockSpec | None) -> dict[str, Any]:
    """Put back the ``${VAR}`` text of each field whose value came from the environment, where the
    component still holds the value it was built with (compared with the validated config, never
    with the current environment)."""

    def has_reference(value: Any) -> bool:
        if isinstance(value, str):
            return _ENV.search(value) is not None
        if isinstance(value, dict):
            return any(has_reference(v) for v in value.values())
        return isinstance(value, list) and any(has_reference(v) for v in value)

    if built is None or block.get("type") != built.type:
        return block
    missing = object()
    for key, raw in built.raw.items():
        if key == "type" or not isinstance(key, str) or not has_reference(raw):
            continue
        then = built.config.model_dump(mode="json", include={key}, exclude_defaults=True).get(key, missing)
        if block.get(key, missing) == then:
            block[key] = raw
    return block


def build(spec: str | os.PathLike[str] | Mapping[str, Any] | Spec) -> Pipeline:
    """Validate ``spec`` and build its pipeline; the chain is checked before any work starts."""
    spec = load_spec(spec)
    issues: list[SpecIssue] = []
    encoder = spec.encoder.create()
    _check_resources(encoder, spec.encoder, issues)
    _load_state(encoder, spec.encoder, issues)
    aligner = None
    if spec.aligner is not None:
        aligner = spec.aligner.create()
        _check_resources(aligner, spec.aligner, issues)
        _load_state(aligner, spec.aligner, issues)
    compressors = []
    for block in spec.compressors:
        comp = block.create()
        _check_resources(comp, block, issues)
        _load_state(comp, block, issues)
        compressors.append(comp)
    index = spec.index.create()
    _check_resources(index, spec.index, issues)
    if issues:
        raise spec_error(issues, spec.source)
    return Pipeline(encoder, index, compressors, aligner, spec=spec)

