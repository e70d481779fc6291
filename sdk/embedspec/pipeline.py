"""``build(spec) -> Pipeline``: encode -> align -> compress -> index / search.

``build`` checks every component (``check()``: what its fields point at; trained state present) and
the whole chain (``chain.check_chain``) before any work starts, and reports every problem at once.
Writing streams through ``ingestion.Ingestion``; ``Pipeline.cache`` (an ``EmbeddingCache``, or
``EMBEDSPEC_CACHE``) serves vectors already computed.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import yaml

from .base import BaseCompressor, Quantizer, as_matrix, check_k
from .chain import ChainCheck, chain_error, check_chain, check_named_chain
from .documents import Document, as_documents
from .embedding_cache import EmbeddingCache, cache_from_env
from .errors import NotFittedError, ResourceError, SpecError
from .hybrid import FusionConfig, NamedEncoders
from .ingestion import FIT_SAMPLE, Ingestion
from .plugins import describe, get_registry
from .progress import IngestReport, Progress, progress_mode
from .protocols import Hit, PointId, Role
from .query import Fusion
from .representations import KIND_NOUNS
from .spec import _ENV, BlockSpec, Spec, SpecIssue, load_spec, spec_error


def _name(block: BlockSpec) -> str:
    return f"{block.path} ({block.type})"


class Pipeline:
    """A built chain of components. Documents are encoded with role "document", queries "query"."""

    def __init__(self, encoder: Any, index: Any, compressors: Sequence[Any] = (), aligner: Any = None,
                 spec: Spec | None = None, cache: EmbeddingCache | None = None,
                 fusion: FusionConfig | None = None) -> None:
        self.encoder = encoder
        self.cache = cache  # vectors already computed, by model fingerprint, role and content
        self.index = index
        self.aligner = aligner
        self.compressors = list(compressors)
        self.spec = spec
        #: Hybrid pipelines (``NamedEncoders``): the fusion block and the plan every search runs.
        self.fusion = fusion
        self.plan: Fusion | None = None
        if isinstance(encoder, NamedEncoders):
            check = self._check_hybrid(encoder, index, fusion, spec)
        else:
            check = check_chain(encoder, aligner, self.compressors, index, spec)
        if check.issues:
            raise chain_error(check.issues, spec.source if spec else None, dimension=check.dimension_problem)
        self.dim: int = check.dim  # type: ignore[assignment]
        self.quantizer: Quantizer | None = check.quantizer
        self.native_quantization = check.native_quantization

    def _check_hybrid(self, encoder: NamedEncoders, index: Any, fusion: FusionConfig | None, spec: Spec | None
                      ) -> ChainCheck:
        if self.compressors or self.aligner is not None:
            raise SpecError("a pipeline of named encoders takes no compressors or aligner")
        if fusion is None:
            raise SpecError("a pipeline of named encoders needs a fusion (FusionConfig)")
        missing = [n for n in fusion.weights or {} if n not in encoder.encoders]
        if missing:
            raise SpecError(f"fusion.weights names vector {missing[0]!r}, which the index lacks: its vectors are "
                            f"the encoders ({', '.join(encoder.encoders)})")
        self.plan = fusion.plan(list(encoder.encoders))
        return check_named_chain(encoder.encoders, index, spec)

    @property
    def hybrid(self) -> bool:
        """Whether this pipeline holds several named encoders (``encoders:`` + ``fusion:``)."""
        return isinstance(self.encoder, NamedEncoders)

    def outline(self) -> str:
        """What the pipeline writes per document, for messages: ``384 -> 128 dims``, ``sparse vectors
        (a space of 4,294,967,296)``, or each named vector of a hybrid pipeline."""

        def one(encoder: Any) -> str:
            kind = getattr(encoder, "output_kind", "dense")
            if kind == "sparse":
                return f"sparse vectors (a space of {int(encoder.dim):,})"
            return f"{KIND_NOUNS[kind]} of {int(encoder.dim)} dims" if kind != "dense" else f"{int(encoder.dim)} dims"

        if isinstance(self.encoder, NamedEncoders):
            return ", ".join(f"{name}: {one(enc)}" for name, enc in self.encoder.encoders.items())
        if getattr(self.encoder, "output_kind", "dense") != "dense":
            return one(self.encoder)
        return f"{self.encoder.dim} -> {self.dim} dims"

    def with_encoder(self, encoder: Any) -> Pipeline:
        """A view of this pipeline encoding with ``encoder`` (e.g. a caching or timing wrapper of the
        same model) and sharing every other part: its writes go to this pipeline's index, which stays
        this pipeline's to close. This pipeline itself is not changed."""
        view = copy.copy(self)
        view.encoder = encoder
        return view

    # ---- encoding -------------------------------------------------------------------------------
    def encode(self, items: Sequence[Any], role: Role = "document", batch_size: int | None = None) -> np.ndarray:
        """``(n, dim) float32``: the encoder's vectors, mapped by the aligner when there is one."""
        if isinstance(items, (str, bytes)):
            raise TypeError("encode() takes a list of inputs, not a single string: wrap it as [text]")
        if self.hybrid:  # {name: representation}; the embedding cache serves single-encoder pipelines
            return self.encoder.encode(list(items), role=role, batch_size=batch_size)
        if self.cache is not None:
            vectors = self.cache.encode(self.encoder, list(items), role=role, batch_size=batch_size)
        else:
            vectors = self.encoder.encode(list(items), role=role, **({"batch_size": batch_size} if batch_size else {}))
        if self.aligner is not None and len(vectors):
            vectors = as_matrix(self.aligner.transform(vectors))
        return vectors

    def _float_compressors(self) -> list[BaseCompressor]:
        return [c for c in self.compressors if not getattr(c, "is_quantizer", False)]

    def compress(self, vectors: Any, role: Role = "document") -> Any:
        """Apply the float compressors (the quantizer, if any, is the index's business); a ``role_aware``
        one (MUVERA: queries and documents encode differently) is told the role."""
        for comp in self._float_compressors():
            if not comp.is_fitted:
                raise NotFittedError(f"{type(comp).__name__} is not fitted: add documents first")
            out = comp.transform(vectors, role=role) if getattr(comp, "role_aware", False) else comp.transform(vectors)
            vectors = as_matrix(out) if getattr(comp, "output_kind", "dense") == "dense" else out
        return vectors

    def needs_fit(self) -> bool:
        """Whether a compressor (or the numpy quantizer) still has to be fitted on documents."""
        q = self.quantizer
        return any(not c.is_fitted for c in self._float_compressors()) or (
            q is not None and not self.native_quantization and not q.is_fitted
        )

    def fit_compressors(self, vectors: np.ndarray) -> None:
        """Fit the unfitted compressors, in chain order, on (a sample of) encoded documents."""
        rng = np.random.default_rng(0)
        sample = vectors if len(vectors) <= FIT_SAMPLE else vectors[rng.choice(len(vectors), FIT_SAMPLE, replace=False)]
        for comp in self._float_compressors():
            if not comp.is_fitted:
                comp.fit(sample)
            sample = comp.transform(sample)
        q = self.quantizer
        if q is not None and not self.native_quantization and not q.is_fitted:
            q.fit(sample)

    # ---- writing --------------------------------------------------------------------------------
    def add(self, items: Iterable[Any], ids: Iterable[PointId] | None = None,
            payloads: Iterable[Mapping[str, Any] | None] | None = None, batch_size: int = 256,
            progress: bool | None = None) -> list[PointId]:
        """Encode ``items`` as documents and upsert them; return their ids (one per item, in order).

        ``items`` may be any iterable (a generator streams: one batch is held at a time). Without
        ``ids``, each id is the document's content hash (``embedspec.documents.content_id``): adding
        the same document again changes nothing, and an add never replaces a different document.
        """
        return self.add_documents(as_documents(items, ids, payloads), batch_size=batch_size, progress=progress,
                                  total=_length(items))

    def add_documents(self, documents: Iterable[Document], *, batch_size: int = 256, progress: bool | None = None,
                      total: int | None = None) -> list[PointId]:
        """Stream ``Document``s (content, optional id and payload) into the index; return their ids.

        Each batch is validated before it is encoded and written; on a failure after some batches
        were written, ``PartialWriteError.committed`` says how many documents are in the index.
        """
        return self.ingest(documents, batch_size=batch_size, progress=progress, total=total).ids

    def ingest(self, documents: Iterable[Document], *, batch_size: int = 256, progress: bool | None = None,
               total: int | None = None, skip_existing: bool = False, flush_every: int | None = None) -> IngestReport:
        """``add_documents`` for long runs: returns an ``IngestReport`` (counts, time, ``ids``).

        ``skip_existing=True`` looks each batch's ids up in the index at once and neither encodes
        nor rewrites the documents it already holds (resuming an interrupted run: with content
        ids, the same id means the same text). ``flush_every=N`` flushes the index each time N more
        documents were written, so an interruption keeps them. ``progress``: see ``embedspec.progress``.
        """
        if getattr(self.index, "read_only", False):
            self.index.upsert([], np.zeros((0, self.dim or 1), dtype=np.float32))  # raises ReadOnlyError
        hits, misses = (self.cache.hits, self.cache.misses) if self.cache is not None else (0, 0)
        with Progress(total, mode=progress_mode(progress)) as bar:
            ingestion = Ingestion(self, batch_size, bar, skip_existing=skip_existing, flush_every=flush_every)
            ids = ingestion.run(documents)
        report = IngestReport(documents=ingestion.read, written=ingestion.committed, skipped=ingestion.existing,
                              duplicates=ingestion.skipped, seconds=bar.seconds, ids=ids)
        if self.cache is not None:
            report.cache_hits, report.cache_misses = self.cache.hits - hits, self.cache.misses - misses
        return report

    def delete(self, ids: Iterable[PointId]) -> None:
        """Remove documents by id (unknown ids are ignored) and make the removal durable."""
        self.index.delete(list(ids) if not isinstance(ids, (str, bytes)) else ids)
        self.flush()

    def count(self) -> int:
        return int(self.index.count())

    def flush(self) -> None:
        """Make every write so far durable (persistent indexes)."""
        flush = getattr(self.index, "flush", None)
        if callable(flush):
            flush()

    def search(self, queries: Sequence[Any], k: int = 10, filter: Mapping[str, Any] | None = None,
               batch_size: int | None = None) -> list[list[Hit]]:
        """Encode ``queries`` with role "query" and return the ``k`` best hits for each."""
        if isinstance(queries, (str, bytes)):
            raise TypeError("search() takes a list of queries, not a single string: wrap it as [query]")
        k = check_k(k)
        queries = list(queries)
        if not queries:
            return []
        vectors = self.compress(self.encode(queries, role="query", batch_size=batch_size), role="query")
        if self.plan is not None:
            return self.index.search(vectors, k=k, filter=filter, plan=self.plan)
        return self.index.search(vectors, k=k, filter=filter)

    def bytes_per_vector(self) -> int:
        """Bytes the index stores per vector after the compressor chain (float32 when none). Sparse and
        hybrid pipelines: the mean bytes the index holds per point for search (``index.bytes_per_point``,
        0 when the index cannot tell), since a sparse vector's size depends on its text."""
        if self.hybrid or getattr(self.encoder, "output_kind", "dense") != "dense":
            if getattr(self.encoder, "output_kind", "dense") == "multi" and self.compressors:
                return self._chain_bytes()[0]  # e.g. MUVERA: the FDE is what the first stage scans
            return self._measured_bytes()
        return self._chain_bytes()[0]

    def stored_bytes_per_vector(self) -> int:
        """Bytes the index holds per document in all: besides what search scans (``bytes_per_vector``),
        the float originals a rescoring quantizer keeps for re-ranking, and the token vectors MUVERA
        re-ranks with. Equal to ``bytes_per_vector`` when nothing is kept besides."""
        if self.hybrid or getattr(self.encoder, "output_kind", "dense") != "dense":
            return max(self._measured_bytes(), self.bytes_per_vector())
        size, float_dim = self._chain_bytes()
        q = self.quantizer
        if q is not None and getattr(q, "rescore", False):
            size += 4 * float_dim
        return size

    def _chain_bytes(self) -> tuple[int, int]:
        """(bytes per vector after the compressor chain, the float dimension reaching the quantizer)."""
        dim = self.encoder.dim
        if self.aligner is not None:
            dim = self.aligner.output_dim(dim)
        size, float_dim = 4 * dim, dim
        for comp in self.compressors:
            size = comp.bytes_per_vector(dim)
            dim = comp.output_dim(dim)
            if not getattr(comp, "is_quantizer", False):
                float_dim = dim
        return size, float_dim

    def _measured_bytes(self) -> int:
        """The mean bytes the index holds per point (``index.bytes_per_point``; 0 when it cannot tell):
        the size of sparse and multi-vectors depends on the text."""
        measure = getattr(self.index, "bytes_per_point", None)
        return int(round(measure())) if callable(measure) else 0

    # ---- writing back --------------------------------------------------------------------------
    def to_spec(self) -> dict[str, Any]:
        """The spec mapping that rebuilds this pipeline.

        Every ``${VAR}`` of the spec it was built from is written back as such: the reference remembered
        at build time, not re-derived from the environment (the variable may be unset or rotated since).
        Secrets given literally are written back masked (``embedspec.secrets``).
        """
        spec = self.spec
        out: dict[str, Any] = {"version": 1}
        if isinstance(self.encoder, NamedEncoders):
            built = spec.encoders if spec else {}
            out["encoders"] = {name: _restore_env(describe(enc), built.get(name))
                               for name, enc in self.encoder.encoders.items()}
        else:
            out["encoder"] = _restore_env(describe(self.encoder), spec and spec.encoder)
        if self.aligner is not None:
            out["aligner"] = _restore_env(describe(self.aligner), spec and spec.aligner)
        if self.compressors:
            built = spec.compressors if spec else []
            out["compressors"] = [
                _restore_env(describe(c), built[i] if i < len(built) else None) for i, c in enumerate(self.compressors)
            ]
        out["index"] = _restore_env(describe(self.index), spec and spec.index)
        if self.fusion is not None:
            out["fusion"] = self.fusion.to_spec()
        if spec is not None and spec.serve is not None:
            out["serve"] = dict(spec.serve)  # as written: its keys are ${VAR} references
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
    for key, raw in built.raw.items():  # first the ${VAR} texts (a path may hold one too)...
        if key == "type" or not isinstance(key, str) or not has_reference(raw):
            continue
        then = built.config.model_dump(mode="json", include={key}, exclude_defaults=True).get(key, missing)
        if block.get(key, missing) == then:
            block[key] = raw
    for key, written in built.resolved.items():  # ...then paths resolved against the spec's folder: as written
        if block.get(key, missing) == getattr(built.config, key, missing):
            block[key] = written
    return block


def build(spec: str | os.PathLike[str] | Mapping[str, Any] | Spec, *, read_only: bool = False,
          deep_check: bool = False, cache: EmbeddingCache | str | os.PathLike[str] | bool | None = None) -> Pipeline:
    """Validate ``spec`` and build its pipeline; every component and the chain are checked first.

    ``read_only=True`` opens the index without creating, locking for writing or modifying anything
    (``embedspec search`` and ``validate``). ``deep_check=True`` also loads what each component
    points at (``check(deep=True)``: model graphs, tokenizers). Every problem found is reported
    together, each at its block and line. ``cache``: an ``EmbeddingCache`` or its directory; None
    uses ``EMBEDSPEC_CACHE`` when set (not for ``read_only`` builds, which create nothing); False none.
    """
    spec = load_spec(spec)
    registry = get_registry()
    issues: list[SpecIssue] = []
    built: dict[str, Any] = {}
    for block in spec.blocks():
        try:
            built[block.path] = registry.build(block.kind, block, read_only=read_only and block.kind == "index",
                                               deep_check=deep_check)
        except ResourceError as exc:
            path = f"{block.path}.{exc.field}" if exc.field else block.path
            issues.append(SpecIssue(path, str(exc), *block.position(path), component=block.type,
                                    plugin=block.registration.plugin))
    try:
        if issues:  # the chain cannot be trusted with broken parts: report the parts' problems
            raise spec_error(issues, spec.source)
        cache = _open_cache(False if cache is None and read_only else cache)
        encoder = (NamedEncoders({name: built[b.path] for name, b in spec.encoders.items()}) if spec.encoders
                   else built["encoder"])
        return Pipeline(
            encoder, built["index"], [built[b.path] for b in spec.compressors],
            built.get("aligner"), spec=spec, cache=cache, fusion=spec.fusion,
        )
    except BaseException:
        for component in built.values():  # release what a failed build opened (e.g. an index lock)
            close = getattr(component, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    pass
        raise


def _open_cache(cache: EmbeddingCache | str | os.PathLike[str] | bool | None) -> EmbeddingCache | None:
    if cache is None or cache is True:
        return cache_from_env()
    if cache is False:
        return None
    return cache if isinstance(cache, EmbeddingCache) else EmbeddingCache(cache)


def _length(items: Any) -> int | None:
    try:
        return len(items)
    except TypeError:
        return None
