"""Hook implementations registering the record encoders of embedspec-unified."""

from __future__ import annotations

from typing import Any

from embedspec.hookspecs import hookimpl


@hookimpl
def register_encoders(register: Any) -> None:
    from .encoder import HashingTrickEncoder, PerFeatureEmbeddingEncoder, UnifiedEmbeddingEncoder

    # the config model is each class's Config (RecordEncoderConfig)
    register("unified-embedding", UnifiedEmbeddingEncoder)
    register("per-feature-embedding", PerFeatureEmbeddingEncoder)
    register("hashing-trick", HashingTrickEncoder)
