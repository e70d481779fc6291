"""Spec blocks of the ``qdrant-edge`` and ``qdrant`` indexes (pydantic models; no Qdrant import)."""

from __future__ import annotations

import os
from typing import Any, Literal

from embedspec.config_rules import MAX_DIM
from embedspec.registry import ComponentConfig, PathField
from embedspec.secrets import Secret
from pydantic import Field, field_validator, model_validator

#: Default HNSW search candidates: recall@10 >= 0.97 on 100k x 384 real-embedding and clustered data at
#: 30x+ the speed of exact search (docs/benchmarks.md, "search_ef").
SEARCH_EF = 128
PayloadIndexType = Literal["keyword", "integer", "float", "bool"]
QuantizationKind = Literal["scalar", "binary", "product"]
CompressionRatio = Literal[4, 8, 16, 32, 64]
BinaryEncoding = Literal["one_bit", "one_and_half_bits", "two_bits"]
BinaryQueryEncoding = Literal["default", "binary", "scalar4bits", "scalar8bits"]


class QdrantCommonConfig(ComponentConfig):
    """Fields shared by both Qdrant indexes: vectors, HNSW, payload indexes, quantization."""

    metric: Literal["cosine", "dot", "euclidean"] = "cosine"
    dim: int | None = Field(None, gt=0, le=MAX_DIM, description="vector dimension; set by the pipeline when omitted")
    hnsw_m: int = Field(16, gt=0, le=1024, description="HNSW edges per node")
    hnsw_ef_construct: int = Field(100, gt=0, le=100_000, description="HNSW candidates while building")
    search_ef: int | None = Field(
        SEARCH_EF, gt=0, le=100_000,
        description="HNSW candidates while searching: the recall/latency knob (null: Qdrant's default, ef_construct)",
    )
    exact: bool = Field(False, description="brute-force search instead of HNSW (exact results)")
    on_disk: bool = Field(False, description="keep original vectors on disk (memory-mapped) instead of RAM")
    payload_indexes: dict[str, PayloadIndexType] = Field(
        default_factory=dict, description="payload keys (dotted) to index for fast filtering, and their type"
    )
    quantization: QuantizationKind | None = Field(
        None, description="Qdrant-native quantization; usually set by the spec's int8/binary/pq compressor"
    )
    quantization_compression: CompressionRatio = Field(16, description="product quantization compression ratio")
    quantization_rescore: bool = Field(True, description="re-rank quantized candidates with the original vectors")
    quantization_oversampling: float | None = Field(None, ge=1.0, le=1000.0, description="candidates = oversampling * k")
    quantization_always_ram: bool = Field(True, description="keep quantized vectors in RAM")
    binary_encoding: BinaryEncoding = Field("one_bit", description="bits per dimension of binary codes")
    binary_query_encoding: BinaryQueryEncoding = Field(
        "default", description="asymmetric binary search: queries as 4/8-bit scalars (better recall, same codes)"
    )

    @field_validator("path", mode="before", check_fields=False)
    @classmethod
    def _path_text(cls, value: Any) -> Any:
        """``path`` (both indexes) given as a path object, as its text."""
        return os.fspath(value) if isinstance(value, os.PathLike) else value


class QdrantEdgeIndexConfig(QdrantCommonConfig):
    """``qdrant-edge``: the real Qdrant engine in-process, one shard in a local directory."""

    path: str = PathField(..., description="shard directory (created on first use)")
    optimize_after: int | None = Field(
        10_000,
        ge=0,
        description="automatic optimization: before a search once this many points were written since the "
        "last optimization, and on close(); null turns it off (call optimize() yourself)",
    )
    indexing_threshold_kb: int | None = Field(
        None, ge=0, description="segments above this many KB of vectors get an HNSW graph (Qdrant's default when null)"
    )


class QdrantIndexConfig(QdrantCommonConfig):
    """``qdrant``: a Qdrant server or cluster through qdrant-client, or qdrant-client's local mode."""

    url: str | None = Field(None, description="server or cluster URL, e.g. http://qdrant:6333")
    api_key: Secret | None = Field(None, description="API key; write ${QDRANT_API_KEY} in the spec")
    path: str | None = PathField(None, description="qdrant-client local mode, persisted in this directory")
    location: str | None = Field(None, description='":memory:" for qdrant-client in-memory local mode')
    collection: str = Field("embedspec", min_length=1)
    shard_number: int | None = Field(None, gt=0, le=10_000, description="shards of the collection (cluster)")
    replication_factor: int | None = Field(None, gt=0, le=100, description="copies of each shard (cluster)")
    write_consistency_factor: int | None = Field(None, gt=0, le=100)
    prefer_grpc: bool = False
    timeout: int | None = Field(None, gt=0, le=86_400, description="request timeout in seconds")
    batch_size: int = Field(256, gt=0, le=1_000_000, description="points per upload request")
    parallel: int = Field(1, ge=0, le=1024, description="upload processes (0 = all cores); servers only")
    max_retries: int = Field(3, ge=0, le=100, description="retries of a failed upload batch")

    @model_validator(mode="after")
    def _one_target(self) -> QdrantIndexConfig:
        given = [name for name in ("url", "path", "location") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "set exactly one of url (server/cluster), path (local mode on disk) or "
                f"location (':memory:'); got {', '.join(given) or 'none'}"
            )
        return self
