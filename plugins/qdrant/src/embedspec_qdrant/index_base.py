"""What the ``qdrant-edge`` and ``qdrant`` indexes share: parameters, native quantization, search
parameters, the conversion of points, hits. Each index maps the shared decisions onto its library's
classes (``_types``, ``_point``, ``_scalar_quantization``...) and writes points its own way
(``_write_points``: batched shard updates, or qdrant-client's parallel uploader with retries)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from embedspec.base import BaseIndex, Quantizer
from embedspec.errors import EmbedspecError
from embedspec.protocols import Hit, PointId

from .config import QdrantCommonConfig
from .point_ids import from_qdrant, to_qdrant_id, to_qdrant_payload

COMPRESSION_RATIOS = (4, 8, 16, 32, 64)
_NATIVE_KINDS = {"scalar", "binary", "product"}


@dataclass(frozen=True)
class NativeQuantization:
    """The Qdrant quantization an index builds and the search parameters that go with it."""

    kind: str  # "scalar" (int8), "binary" (1 bit), "product"
    compression: int = 16  # product only: float bytes / code bytes
    rescore: bool = True
    oversampling: float | None = None
    always_ram: bool = True
    binary_encoding: str = "one_bit"
    binary_query_encoding: str = "default"


def closest_compression(dim: int, subspaces: int) -> int:
    """Qdrant's product-quantization ratio closest (log scale) to ``m`` one-byte codes per vector."""
    target = 4.0 * dim / max(1, subspaces)
    return min(COMPRESSION_RATIOS, key=lambda r: abs(math.log(r) - math.log(target)))


class QdrantIndexBase(BaseIndex):
    """Parameters and conversions shared by both Qdrant indexes (see ``QdrantCommonConfig``)."""

    Config = QdrantCommonConfig

    def _init_runtime(self) -> None:
        self._quantizer: Quantizer | None = None

    def _types(self) -> Any:
        """The module of the library's model classes (``qdrant_edge``, ``qdrant_client.models``); set
        by warm-up."""
        raise NotImplementedError

    # ---- quantization ------------------------------------------------------------------------
    def use_quantizer(self, quantizer: Quantizer) -> bool:
        """Quantize natively (int8 -> scalar, binary -> binary, pq -> product); the pipeline passes floats."""
        kind = getattr(quantizer, "native_kind", "")
        if type(quantizer).__name__ == "MuveraCompressor":  # qdrant-edge runs it (edge_muvera.py)
            raise EmbedspecError(f"{type(self).__name__} does not run MUVERA's two-stage search (muvera with "
                                 "rescore: true) yet: use the qdrant-edge or exact index, or rescore: false")
        if kind not in _NATIVE_KINDS:
            raise EmbedspecError(
                f"{type(self).__name__} has no native form of {type(quantizer).__name__} "
                f"(native_kind={kind!r}); Qdrant supports scalar, binary and product quantization"
            )
        if self.quantization is not None and self.quantization != kind:
            raise EmbedspecError(
                f"{type(self).__name__}: the index block sets quantization={self.quantization!r} but the "
                f"chain ends with a {kind!r} quantizer ({type(quantizer).__name__}); keep one of them"
            )
        self._quantizer = quantizer
        return True

    def native_quantization(self) -> NativeQuantization | None:
        """The effective quantization: from the chain's quantizer, else from the index's own fields."""
        q = self._quantizer
        if q is not None:
            compression = self.quantization_compression
            if q.native_kind == "product" and self.dim and getattr(q, "m", None):
                compression = closest_compression(self.dim, int(q.m))
            oversampling = float(q.oversampling) if q.rescore and q.oversampling > 1 else None
            return NativeQuantization(
                q.native_kind,
                compression,
                bool(q.rescore),
                oversampling,
                self.quantization_always_ram,
                self.binary_encoding,
                self.binary_query_encoding,
            )
        if self.quantization is None:
            return None
        return NativeQuantization(
            self.quantization,
            self.quantization_compression,
            self.quantization_rescore,
            self.quantization_oversampling,
            self.quantization_always_ram,
            self.binary_encoding,
            self.binary_query_encoding,
        )

    def _quantization_config(self) -> Any:
        """The library's quantization config of ``native_quantization()``, or None without one."""
        native = self.native_quantization()
        if native is None:
            return None
        if native.kind == "scalar":
            return self._scalar_quantization(native)
        if native.kind == "binary":
            return self._binary_quantization(native)
        return self._product_quantization(native)

    def _scalar_quantization(self, native: NativeQuantization) -> Any:
        raise NotImplementedError

    def _binary_quantization(self, native: NativeQuantization) -> Any:
        raise NotImplementedError

    def _product_quantization(self, native: NativeQuantization) -> Any:
        raise NotImplementedError

    def _search_params(self) -> Any:
        """HNSW ``ef``, exact search and quantized rescoring for a query; None keeps Qdrant's defaults."""
        types = self._types()
        native = self.native_quantization()
        quant = None
        if native is not None:
            quant = types.QuantizationSearchParams(rescore=native.rescore, oversampling=native.oversampling)
        if self.search_ef is None and not self.exact and quant is None:
            return None
        return types.SearchParams(hnsw_ef=self.search_ef, exact=self.exact, quantization=quant)

    # ---- writes -----------------------------------------------------------------------------
    def _upsert(self, ids: list[PointId], vectors: Any, payloads: list[Any]) -> None:
        """Convert every point first (an id, payload or value the library refuses is reported with its
        position before anything is written), then write them."""
        qids, stored = self._qdrant_points(ids, payloads)
        points = []
        rows = vectors.tolist() if isinstance(vectors, np.ndarray) else [v.tolist() for v in vectors]  # multi: per point
        for i, (qid, vec, payload) in enumerate(zip(qids, rows, stored)):
            try:
                points.append(self._point(qid, vec, payload))
            except Exception as exc:  # e.g. a payload value that is not JSON
                raise ValueError(f"point at position {i} (id {ids[i]!r}) cannot be stored: {exc}") from exc
        self._write_points(points)

    def _point(self, qid: int | str, vector: list[float], payload: dict[str, Any]) -> Any:
        """One point as the library's class."""
        raise NotImplementedError

    def _write_points(self, points: list[Any]) -> None:
        """Create the store if needed and write ``points`` (the library's objects)."""
        raise NotImplementedError

    # ---- conversions ------------------------------------------------------------------------
    @staticmethod
    def _qdrant_points(
        ids: Sequence[PointId], payloads: Sequence[Mapping[str, Any] | None]
    ) -> tuple[list[int | str], list[dict[str, Any]]]:
        """Qdrant ids and stored payloads; raises (naming the position) before anything is written."""
        qids = [to_qdrant_id(pid) for pid in ids]
        stored = [to_qdrant_payload(pid, p, i) for i, (pid, p) in enumerate(zip(ids, payloads))]
        return qids, stored

    @staticmethod
    def _held(ids: Sequence[PointId], qids: Sequence[int | str], found: Any) -> list[bool]:
        """Per id, whether its Qdrant id is among the retrieved points' ``found`` ids (int or UUID)."""
        present = {p if isinstance(p, int) else str(p) for p in found}
        return [qid in present for qid in qids]

    def _score(self, raw: float) -> float:
        """Higher is better: Qdrant's euclidean score is a distance."""
        return -float(raw) if self.metric == "euclidean" else float(raw)

    def _hit(self, qid: Any, raw_score: float, payload: Mapping[str, Any] | None) -> Hit:
        pid, user = from_qdrant(qid, payload)
        return Hit(pid, self._score(raw_score), user)

    def _check_search_dim(self, queries: np.ndarray) -> None:
        if self.dim is None:
            self.dim = queries.shape[1]
