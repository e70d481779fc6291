"""MUVERA two-stage search in the ``qdrant-edge`` index: FDE candidates, re-ranked by MaxSim in Qdrant.

A chain ``multi-vector encoder -> muvera (rescore: true) -> qdrant-edge`` hands the index the muvera
compressor (``use_quantizer``, native: the pipeline passes the token vectors). The shard then holds
two named vectors per point: ``fde``, the document FDE (dense, Dot), and ``tokens``, the token
vectors (multivector, MaxSim comparator, the index's metric). A search is one Qdrant query per query:
``Prefetch(Nearest(query FDE, using="fde"), limit=max(k, prefetch))`` re-ranked by
``Nearest(query tokens, using="tokens")``: the scores are exact MaxSim over the candidates, as the
``exact`` index's two stages compute them in numpy. The filter applies to the prefetch. The
compressor's random matrices are saved in ``<path>/muvera/`` and adopted on reopening, so the FDEs
of later writes and queries match the stored ones. A shard with this layout opened by a plain dense
or multi-vector spec is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from embedspec.base import Quantizer, l2_normalize
from embedspec.component import read_state
from embedspec.errors import DimensionMismatchError, EmbedspecError
from embedspec.protocols import Hit, PointId
from embedspec.query import VectorSpec
from embedspec.representations import KIND_NOUNS, MultiVectors, kind_of

FDE, TOKENS = "fde", "tokens"
STATE_DIR = "muvera"


def is_muvera_layout(held: dict[str, VectorSpec] | None) -> bool:
    """Whether a shard's vectors are MUVERA's pair (``fde`` dense + ``tokens`` multi)."""
    return held is not None and set(held) == {FDE, TOKENS} and held[TOKENS].kind == "multi" \
        and held[FDE].kind == "dense"


class EdgeMuvera:
    """MUVERA storage and search for ``QdrantEdgeIndex`` (see the module docstring)."""

    path: str
    metric: str
    dim: int | None
    read_only: bool
    _specs: dict[str, VectorSpec]
    _shard: Any
    _qe: Any

    def _init_muvera(self) -> None:
        self._muvera: Any = None  # the chain's muvera compressor (rescore: true), once bound

    def use_quantizer(self, quantizer: Quantizer) -> bool:
        """A muvera compressor with ``rescore``: FDE + token vectors, two-stage search in Qdrant (native:
        the pipeline passes token vectors). Any other quantizer: Qdrant's native quantization."""
        if type(quantizer).__name__ != "MuveraCompressor":
            return super().use_quantizer(quantizer)  # type: ignore[misc, no-any-return]
        held = self.stored_vectors()  # type: ignore[attr-defined]
        if held is not None and not is_muvera_layout(held):
            raise EmbedspecError(f"the qdrant-edge shard at {self.path} holds {_describe(held)}, not MUVERA's FDE and "
                                 "token vectors: use the spec that built it, or a new path")
        if self.metric == "euclidean":
            raise EmbedspecError("muvera with rescore scores by MaxSim over dot products: use metric cosine or dot")
        self._muvera = quantizer
        state = Path(self.path) / STATE_DIR
        if held is not None and state.is_dir():  # adopt the matrices the stored FDEs were made with
            quantizer.set_state(*read_state(state))
        dim = self.dim if self.dim is not None else (held[TOKENS].dim if held is not None else None)
        if dim is not None:
            self._bind_muvera(int(dim))
        return True

    def _bind_muvera(self, dim: int) -> None:
        """Draw (or check) the matrices for ``dim``-wide tokens and name the two vectors."""
        m = self._muvera
        m.fit(dim=dim)
        specs = {FDE: VectorSpec("dense", m.output_dim(dim), "dot"), TOKENS: VectorSpec("multi", dim, self.metric)}
        held = self.stored_vectors()  # type: ignore[attr-defined]
        if held is not None and (held[TOKENS].dim != dim or held[FDE].dim != specs[FDE].dim):
            raise DimensionMismatchError(
                f"the qdrant-edge shard at {self.path} holds {_describe(held)}; the spec's chain writes "
                f"{_describe(specs)}: use the spec that built it, or a new path")
        self.dim, self._specs = dim, specs

    def _muvera_held_unbound(self) -> bool:
        return self._muvera is None and is_muvera_layout(self.stored_vectors())  # type: ignore[attr-defined]

    def _refuse_unbound_muvera(self) -> None:
        if self._muvera_held_unbound():
            raise EmbedspecError(
                f"the qdrant-edge shard at {self.path} holds MUVERA FDEs and token vectors "
                f"({_describe(self.stored_vectors())}): open it with the spec that built it (a muvera compressor "  # type: ignore[attr-defined]
                "with rescore: true before the index), or use a new path")

    def _check_muvera_vectors(self, vectors: Any, name: str) -> MultiVectors:
        if not isinstance(vectors, MultiVectors):
            raise TypeError(f"the qdrant-edge shard at {self.path} holds MUVERA FDEs of token vectors; {name} are "
                            f"{KIND_NOUNS[kind_of(vectors)]}, not multi-vectors")
        if self.dim is not None and vectors.dim != self.dim:
            raise DimensionMismatchError(f"{name} have dimension {vectors.dim}; the index holds {self.dim}-d tokens")
        return vectors

    def _tokens_for_scoring(self, vectors: MultiVectors) -> MultiVectors:
        """Cosine: unit tokens, as Qdrant stores them and as the ``exact`` index encodes them."""
        return MultiVectors(l2_normalize(vectors.data), vectors.offsets) if self.metric == "cosine" else vectors

    def _muvera_points(self, ids: list[PointId], vectors: MultiVectors, payloads: list[Any]) -> list[Any]:
        if self.dim is None or FDE not in self._specs:
            self._bind_muvera(vectors.dim)
        vectors = self._tokens_for_scoring(vectors)
        fde = self._muvera.transform(vectors, role="document")
        return self._named_points(ids, {FDE: fde, TOKENS: vectors}, payloads)  # type: ignore[attr-defined]

    def _save_muvera_state(self) -> None:
        if self._muvera is not None and not self.read_only and not (Path(self.path) / STATE_DIR).is_dir():
            self._muvera.save(Path(self.path) / STATE_DIR)

    def _muvera_search(self, queries: Any, k: int, filter: Any) -> list[list[Hit]]:
        queries = self._tokens_for_scoring(self._check_muvera_vectors(queries, "queries"))
        if self._shard is None:
            return [[] for _ in range(len(queries))]
        self._optimize_if_due()  # type: ignore[attr-defined]
        qe, qfilter = self._qe, self._qdrant_filter(filter)  # type: ignore[attr-defined]
        fde = self._muvera.transform(queries, role="query")
        limit = self._muvera.candidates(k)
        params = self._search_params()  # type: ignore[attr-defined]
        requests = [
            qe.QueryRequest(limit=k, query=qe.Query.Nearest(tokens.tolist(), using=TOKENS), filter=qfilter,
                            params=params, with_payload=True, prefetches=[
                                qe.Prefetch(limit, query=qe.Query.Nearest(fde[i].tolist(), using=FDE),
                                            filter=qfilter, params=params)])
            for i, tokens in enumerate(queries)]
        return self._run_requests(requests)  # type: ignore[attr-defined, no-any-return]


def _describe(specs: dict[str, VectorSpec] | None) -> str:
    from .edge_named import describe_vectors

    return describe_vectors(dict(sorted((specs or {}).items())))  # the stored order varies

