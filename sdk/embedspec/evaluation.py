"""Evaluate a built pipeline: retrieval on a BEIR split, sentence-pair similarity, classification.

Retrieval indexes the corpus through the whole pipeline (encoder -> aligner -> compressors -> index)
and scores the index's rankings with ``embedspec.metrics`` (BEIR / pytrec_eval conventions).
Encoder outputs can be shared between pipelines with the same encoder block through an
``EmbeddingCache``: ``embedspec compare`` encodes the corpus once and only re-runs what differs.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .beir import BeirDataset
from .errors import EmbedspecError
from .eval_datasets import load_classification, load_pairs
from .linear_probe import SoftmaxRegression
from .metrics import DEFAULT_RETRIEVAL_METRICS, evaluate_run, f1_scores, parse_metric, pearson, spearman
from .storage import read_json, read_npz, write_json, write_npz


@dataclass
class EncoderTiming:
    """Inputs really encoded (cache misses) and the seconds the encoder spent on them, per role."""

    counts: dict[str, int] = field(default_factory=lambda: {"query": 0, "document": 0})
    seconds: dict[str, float] = field(default_factory=lambda: {"query": 0.0, "document": 0.0})

    def per_second(self, role: str) -> float | None:
        return self.counts[role] / self.seconds[role] if self.counts[role] and self.seconds[role] > 0 else None


class EmbeddingCache:
    """Encoder outputs keyed by (encoder spec block, role, sha1 of the input text), with timings.

    ``save(dir)`` / ``load(dir)`` keep it between runs (``.npz`` + JSON, no pickle, no texts).
    """

    def __init__(self) -> None:
        self._vectors: dict[tuple[str, str], dict[str, np.ndarray]] = {}
        self.timings: dict[str, EncoderTiming] = {}

    @staticmethod
    def key(encoder_block: dict[str, Any]) -> str:
        return json.dumps(encoder_block, sort_keys=True)

    @staticmethod
    def digest(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def store(self, key: str, role: str) -> dict[str, np.ndarray]:
        return self._vectors.setdefault((key, role), {})

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        arrays: dict[str, np.ndarray] = {}
        entries = []
        for i, ((key, role), rows) in enumerate(self._vectors.items()):
            if rows:
                arrays[f"digests_{i}"] = np.array(list(rows), dtype="U40")
                arrays[f"vectors_{i}"] = np.stack(list(rows.values()))
                entries.append({"slot": i, "encoder": key, "role": role})
        timings = {k: asdict(t) for k, t in self.timings.items()}
        write_npz(path / "embeddings.npz", arrays)
        write_json(path / "embeddings.json", {"entries": entries, "timings": timings})
        return path

    @classmethod
    def load(cls, path: str | Path) -> EmbeddingCache:
        """A cache saved by ``save``; an absent folder gives an empty cache."""
        cache = cls()
        path = Path(path)
        if not (path / "embeddings.json").is_file():
            return cache
        meta, arrays = read_json(path / "embeddings.json"), read_npz(path / "embeddings.npz")
        for entry in meta["entries"]:
            slot = entry["slot"]
            store = cache.store(entry["encoder"], entry["role"])
            store.update(zip(arrays[f"digests_{slot}"].tolist(), arrays[f"vectors_{slot}"]))
        for key, t in meta.get("timings", {}).items():
            cache.timings[key] = EncoderTiming(counts=t["counts"], seconds=t["seconds"])
        return cache


class _TimedEncoder:
    """Stands in for ``pipeline.encoder``: serves cached rows, encodes the rest and times it."""

    def __init__(self, inner: Any, key: str, cache: EmbeddingCache | None, timing: EncoderTiming) -> None:
        self.inner, self.key, self.cache, self.timing = inner, key, cache, timing
        self.dim = inner.dim
        self.modalities = getattr(inner, "modalities", frozenset({"text"}))

    def encode(self, inputs: Sequence[Any], *, role: str = "document", batch_size: int | None = None) -> np.ndarray:
        kwargs = {"batch_size": batch_size} if batch_size else {}
        inputs = list(inputs)
        if self.cache is None or not inputs or not all(isinstance(x, str) for x in inputs):
            return self._encode(inputs, role, kwargs)
        store = self.cache.store(self.key, role)
        digests = [EmbeddingCache.digest(x) for x in inputs]
        missing = {d: x for d, x in zip(digests, inputs) if d not in store}
        if missing:
            for d, vec in zip(missing, self._encode(list(missing.values()), role, kwargs)):
                store[d] = vec
        return np.stack([store[d] for d in digests])

    def _encode(self, inputs: list[Any], role: str, kwargs: dict[str, Any]) -> np.ndarray:
        start = time.perf_counter()
        out = self.inner.encode(inputs, role=role, **kwargs)
        self.timing.seconds[role] += time.perf_counter() - start
        self.timing.counts[role] += len(inputs)
        return out


@contextmanager
def timed_encoder(pipeline: Any, cache: EmbeddingCache | None = None) -> Iterator[EncoderTiming]:
    """Swap ``pipeline.encoder`` for a timing (and, with ``cache``, caching) stand-in while inside."""
    from .plugins import describe

    original = pipeline.encoder
    key = EmbeddingCache.key(describe(original))
    timing = cache.timings.setdefault(key, EncoderTiming()) if cache is not None else EncoderTiming()
    pipeline.encoder = _TimedEncoder(original, key, cache, timing)
    try:
        yield timing
    finally:
        pipeline.encoder = original


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

    The pipeline is closed on return (its index files stay, for the on-disk size).

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
    try:
        with timed_encoder(pipeline, cache) as timing:
            start = time.perf_counter()
            doc_seconds = timing.seconds["document"]
            pipeline.add(doc_texts, ids=doc_ids, batch_size=batch_size, progress=progress)
            index_seconds = time.perf_counter() - start - (timing.seconds["document"] - doc_seconds)
            start = time.perf_counter()
            hits = pipeline.search(query_texts, k=k_search, batch_size=batch_size)
            batch_seconds = time.perf_counter() - start
            latencies = []
            for text in query_texts[:latency_queries]:
                start = time.perf_counter()
                pipeline.search([text], k=k_search)
                latencies.append((time.perf_counter() - start) * 1000.0)
        count = pipeline.index.count()
    finally:
        pipeline.close()
    run = {qid: {str(h.id): float(h.score) for h in row} for qid, row in zip(query_ids, hits)}
    scores = evaluate_run(dataset.qrels, run, metrics, ignore_identical_ids=ignore_identical_ids)
    q_rate = timing.per_second("query")
    path = getattr(pipeline.index, "path", None)
    disk = _disk_bytes(Path(path)) / count if path and Path(path).exists() and count else None
    return RetrievalResult(
        label=label or str(spec["encoder"].get("type")),
        dataset=dataset.summary(),
        metrics=scores.means,
        num_documents=len(doc_ids),
        num_queries=len(query_ids),
        bytes_per_vector=int(pipeline.bytes_per_vector()),
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


def evaluate_pairs(pipeline: Any, path: str | Path, *, batch_size: int = 256) -> dict[str, Any]:
    """Spearman and Pearson of cosine(sentence1, sentence2) against the gold scores.

    Uses ``pipeline.encode`` (encoder + aligner, before compressors), role "document" for both sides.
    """
    pairs = load_pairs(path)
    from .base import l2_normalize

    with timed_encoder(pipeline) as timing:
        a = l2_normalize(pipeline.encode(pairs.sentences1, role="document", batch_size=batch_size))
        b = l2_normalize(pipeline.encode(pairs.sentences2, role="document", batch_size=batch_size))
    cosine = (a * b).sum(axis=1).astype(np.float64)
    return {
        "task": "pairs",
        "file": str(path),
        "num_pairs": len(pairs.scores),
        "spearman": spearman(cosine, pairs.scores),
        "pearson": pearson(cosine, pairs.scores),
        "encode_docs_per_s": timing.per_second("document"),
        "spec": pipeline.to_spec(),
    }


def evaluate_classification(
    pipeline: Any, folder: str | Path, *, batch_size: int = 256, C: float = 1.0
) -> dict[str, Any]:
    """Train a softmax-regression probe on the train split's embeddings; macro/micro-F1 on test."""
    train, test = load_classification(folder)
    with timed_encoder(pipeline) as timing:
        X_train = pipeline.encode(train.texts, role="document", batch_size=batch_size)
        X_test = pipeline.encode(test.texts, role="document", batch_size=batch_size)
    probe = SoftmaxRegression(C=C).fit(X_train, train.labels)
    scores = f1_scores(test.labels, probe.predict(X_test))
    return {
        "task": "classification",
        "folder": str(folder),
        "num_train": len(train.texts),
        "num_test": len(test.texts),
        "num_labels": len(probe.classes_),
        **scores,
        "probe": {"model": "softmax regression (L-BFGS, standardized inputs)", "C": C,
                  "iterations": probe.n_iter_},
        "encode_docs_per_s": timing.per_second("document"),
        "spec": pipeline.to_spec(),
    }
