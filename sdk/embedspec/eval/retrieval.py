"""The retrieval runner: index a BEIR corpus through a pipeline, run the queries, score the rankings.

The corpus goes through the whole pipeline (encoder -> aligner -> compressors -> index) and the
index's rankings are scored with ``embedspec.eval.metrics`` (BEIR / pytrec_eval conventions). The
runner encodes through a ``CachingEncoder`` (timing, and vectors shared through an
``EmbeddingCache``) on a view of the pipeline: the pipeline it is given is neither changed nor closed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmbedspecError
from ..progress import Progress, progress_mode
from .beir import BeirDataset
from .encoding import CachingEncoder, EmbeddingCache, through_encoder
from .metrics import DEFAULT_RETRIEVAL_METRICS, evaluate_run, parse_metric


def _disk_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@dataclass
class RetrievalResult:
    """Quality, speed and size of one pipeline on one BEIR split."""

    label: str
    dataset: str
    metrics: dict[str, float]
    num_documents: int
    num_queries: int
    bytes_per_vector: int
    disk_bytes_per_vector: float | None
    encode_docs_per_s: float | None
    index_seconds: float
    queries_per_s: float
    latency_p50_ms: float
    latency_p95_ms: float
    query_encode_ms: float | None
    rescore: bool  # the quantizer re-ranks with float originals, which the index keeps besides the codes
    spec: dict[str, Any]
    per_query: dict[str, dict[str, float]] = field(default_factory=dict, repr=False)
    run: dict[str, dict[str, float]] = field(default_factory=dict, repr=False)  # query -> {doc: score}
    #: bytes the index holds per document in all: ``bytes_per_vector`` (what search scans) plus the float
    #: originals a rescoring quantizer keeps, or the token vectors MUVERA re-ranks with
    stored_bytes_per_vector: int | None = None

    def to_dict(self, per_query: bool = False) -> dict[str, Any]:
        out = asdict(self)
        out.pop("run")
        if not per_query:
            out.pop("per_query")
        return out


def evaluate_retrieval(
    pipeline: Any,
    dataset: BeirDataset,
    *,
    metrics: Sequence[str] = DEFAULT_RETRIEVAL_METRICS,
    label: str = "",
    cache: EmbeddingCache | None = None,
    batch_size: int = 256,
    latency_queries: int = 100,
    ignore_identical_ids: bool = True,
    progress: bool | None = None,
) -> RetrievalResult:
    """Index ``dataset``'s corpus into ``pipeline`` (its index must be empty), run the queries, score.

    ``pipeline`` is left as it was given (same components, still open), its index now holding the
    corpus; closing it is the caller's business. The on-disk size is measured once the writes are
    flushed.

    Latency is measured on single-query searches (the first ``latency_queries`` queries) after the
    batched run; with a warm ``cache`` it excludes query encoding (the encoder is then shared).
    """
    ks = [parse_metric(m)[1] for m in metrics]
    existing = pipeline.index.count()
    if existing:
        where = getattr(pipeline.index, "path", None)
        raise EmbedspecError(
            f"the index{f' at {where}' if where else ''} already holds {existing} vectors; evaluation needs "
            "an empty index: point index.path to a new folder (or remove it)"
        )
    spec = pipeline.to_spec()
    doc_ids, doc_texts = dataset.documents()
    query_ids, query_texts = dataset.query_items()
    k_search = max(ks) + (1 if ignore_identical_ids and set(query_ids) & set(doc_ids) else 0)
    k_search = min(k_search, len(doc_ids))
    encoder = CachingEncoder(pipeline.encoder, cache)
    timing, view = encoder.timing, through_encoder(pipeline, encoder)
    start = time.perf_counter()
    doc_seconds = timing.seconds["document"]
    view.add(doc_texts, ids=doc_ids, batch_size=batch_size, progress=progress)  # flushes when done
    index_seconds = time.perf_counter() - start - (timing.seconds["document"] - doc_seconds)
    start = time.perf_counter()
    hits: list[Any] = []
    with Progress(len(query_texts), desc="queries", unit="query", mode=progress_mode(progress)) as bar:
        for chunk_start in range(0, len(query_texts), batch_size):
            chunk = query_texts[chunk_start : chunk_start + batch_size]
            hits.extend(view.search(chunk, k=k_search, batch_size=batch_size))
            bar.update(len(chunk))
    batch_seconds = time.perf_counter() - start
    latencies = []
    for text in query_texts[:latency_queries]:
        start = time.perf_counter()
        view.search([text], k=k_search)
        latencies.append((time.perf_counter() - start) * 1000.0)
    count = pipeline.index.count()
    run = {qid: {str(h.id): float(h.score) for h in row} for qid, row in zip(query_ids, hits)}
    scores = evaluate_run(dataset.qrels, run, metrics, ignore_identical_ids=ignore_identical_ids)
    q_rate = timing.per_second("query")
    path = getattr(pipeline.index, "path", None)
    disk = _disk_bytes(Path(path)) / count if path and Path(path).exists() and count else None
    return RetrievalResult(
        label=label or (str(spec["encoder"].get("type")) if "encoder" in spec
                        else "+".join(str(b.get("type")) for b in spec["encoders"].values())),
        dataset=dataset.summary(),
        metrics=scores.means,
        num_documents=len(doc_ids),
        num_queries=len(query_ids),
        bytes_per_vector=int(pipeline.bytes_per_vector()),
        stored_bytes_per_vector=int(pipeline.stored_bytes_per_vector()),
        disk_bytes_per_vector=disk,
        encode_docs_per_s=timing.per_second("document"),
        index_seconds=index_seconds,
        queries_per_s=len(query_ids) / batch_seconds if batch_seconds > 0 else float("inf"),
        latency_p50_ms=float(np.percentile(latencies, 50)),
        latency_p95_ms=float(np.percentile(latencies, 95)),
        query_encode_ms=1000.0 / q_rate if q_rate else None,
        rescore=bool(getattr(getattr(pipeline, "quantizer", None), "rescore", False)),
        spec=spec,
        per_query=scores.per_query,
        run=run,
    )
