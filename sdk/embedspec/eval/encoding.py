"""Encoding for evaluation: a cache of encoder outputs, and an encoder seen through that cache and a stopwatch.

Evaluation never changes the pipeline it is given: it works on ``through_encoder(pipeline, encoder)``,
a view of the pipeline that encodes with a ``CachingEncoder`` and shares every other part (aligner,
compressors, index) with it. Pipelines with the same encoder block share cached vectors, so
``embedspec compare`` encodes the corpus once and only re-runs what differs.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..storage import read_json, read_npz, write_json, write_npz


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


class CachingEncoder:
    """``inner`` with its outputs served from ``cache`` (text inputs) and its encoding timed.

    ``timing`` counts what ``inner`` really encoded; with a cache it is shared by every
    ``CachingEncoder`` of the same encoder block. Every other attribute is ``inner``'s.
    """

    def __init__(self, inner: Any, cache: EmbeddingCache | None = None) -> None:
        from ..hybrid import NamedEncoders
        from ..plugins import describe

        self.inner = inner
        self.cache = cache
        named = isinstance(inner, NamedEncoders)
        self.key = EmbeddingCache.key({n: describe(e) for n, e in inner.encoders.items()} if named else describe(inner))
        #: Dense outputs only are cached (one row per text); sparse, multi and named outputs pass through.
        self.cacheable = not named and getattr(inner, "output_kind", "dense") == "dense"
        self.timing = cache.timings.setdefault(self.key, EncoderTiming()) if cache is not None else EncoderTiming()

    def __getattr__(self, name: str) -> Any:  # dim, modalities, validate_inputs, ...
        if name == "inner":  # not set yet (copying): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def encode(self, inputs: Sequence[Any], *, role: str = "document", batch_size: int | None = None) -> Any:
        """``inner``'s output for ``inputs``; for dense vectors only those not cached are encoded."""
        kwargs = {"batch_size": batch_size} if batch_size else {}
        inputs = list(inputs)
        if self.cache is None or not self.cacheable or not inputs or not all(isinstance(x, str) for x in inputs):
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


def through_encoder(pipeline: Any, encoder: Any) -> Any:
    """A view of ``pipeline`` that encodes with ``encoder`` and shares every other part with it.

    Adding and searching through the view write to and read from the pipeline's own index (and fit
    its compressors); ``pipeline`` itself is not changed, and stays the caller's to close.
    """
    return pipeline.with_encoder(encoder)
