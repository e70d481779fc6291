"""Hook implementations registering the record encoders of embedspec-unified."""

from __future__ import annotations

from typing import Any

from embedspec.hookspecs import hookimpl


@hookimpl
def register_encoders(register: Any) -> None:
    from .config import RecordEncoderConfig
    from .encoder import HashingTrickEncoder, PerFeatureEmbeddingEncoder, UnifiedEmbeddingEncoder

    register("unified-embedding", UnifiedEmbeddingEncoder, RecordEncoderConfig)
    register("per-feature-embedding", PerFeatureEmbeddingEncoder, RecordEncoderConfig)
    register("hashing-trick", HashingTrickEncoder, RecordEncoderConfig)
