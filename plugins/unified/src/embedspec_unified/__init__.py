"""embedspec-unified: Unified Embedding (feature multiplexing) encoders for categorical records."""

from __future__ import annotations

from .config import FeatureConfig, RecordEncoderConfig
from .encoder import (
    HashingTrickEncoder,
    PerFeatureEmbeddingEncoder,
    RecordEmbeddingEncoder,
    UnifiedEmbeddingEncoder,
)
from .errors import RecordError, RecordValueTypeError
from .metrics import log_loss, roc_auc

__all__ = [
    "FeatureConfig",
    "HashingTrickEncoder",
    "PerFeatureEmbeddingEncoder",
    "RecordEmbeddingEncoder",
    "RecordEncoderConfig",
    "RecordError",
    "RecordValueTypeError",
    "UnifiedEmbeddingEncoder",
    "log_loss",
    "roc_auc",
]
