"""``cade`` encoder: a word, or a text as the mean of its words' vectors, in one slice of a CADE model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from embedspec.base import BaseEncoder, l2_normalize
from embedspec.errors import NotFittedError, ResourceError
from embedspec.protocols import Role
from embedspec.registry import ComponentConfig, PathField
from pydantic import Field

from .errors import UnknownWordError
from .text import tokenize


class CadeEncoderConfig(ComponentConfig):
    """Spec block of the ``cade`` encoder.

    .. code-block:: yaml

        encoder:
          type: cade
          state: ./models/cade-sotu     # written by `embedspec cade train`
          slice: 21st                   # a slice name, or "compass" (the union of all slices)
    """

    slice: str = Field(..., min_length=1, description="slice whose word vectors embed the inputs ('compass': the union)")
    state: str | None = PathField(None, description="directory of a trained CADE model (`embedspec cade train`)")
    normalize: bool = Field(True, description="L2-normalize the output vectors")
    unknown: Literal["error", "zero"] = Field(
        "error", description="a text with no word known to the slice: raise (error) or embed as zeros (zero)"
    )
    batch_size: int = Field(256, ge=1)


class CadeEncoder(BaseEncoder):
    """Texts -> ``(n, dim) float32``: the mean of the slice vectors of their known words.

    A one-word text is that word's vector. Words the slice does not know (rarer than ``min_count``
    there, or absent) are skipped; a text with none left raises ``UnknownWordError`` naming the
    position, the slice and the words (``unknown: zero`` embeds it as a zero vector instead).
    """

    Config = CadeEncoderConfig
    modalities = frozenset({"text"})
    requires_fit = True

    @classmethod
    def from_model(cls, model: Any, slice: str, **params: Any) -> CadeEncoder:
        """An encoder over an in-memory ``CadeModel`` (checked to hold ``slice``)."""
        encoder = cls(slice=slice, **params)
        model.spaces()[slice]  # UnknownSliceError naming the slices it has
        encoder.model_ = model
        return encoder

    @property
    def dim(self) -> int:
        if not self.is_fitted:
            raise NotFittedError("the cade encoder's dimension is known once its state is loaded (load(dir))")
        return int(self.model_.dim)

    def check(self, *, deep: bool = False) -> None:
        from .state import check_state_field

        check_state_field(self.state, {"slice": self.slice})
        if deep and self.state is not None:
            from .errors import StateError
            from .model import CadeModel

            try:
                CadeModel.load(self.state)
            except StateError as exc:
                raise ResourceError(str(exc), field="state") from None

    # ---- state ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        self.check_fitted()
        return self.model_.save(path)

    def load(self, path: str | Path) -> CadeEncoder:
        from .model import CadeModel

        model = CadeModel.load(path)
        model.spaces()[self.slice]
        self.model_ = model
        return self

    # ---- encoding ------------------------------------------------------------------------
    def _encode_all(self, inputs: list[Any], role: Role, batch_size: int) -> np.ndarray:
        space = self.model_.spaces()[self.slice]
        out = np.zeros((len(inputs), space.dim), dtype=np.float32)
        for i, text in enumerate(inputs):
            tokens = tokenize(text)
            rows = [space.index[t] for t in tokens if t in space.index]
            if rows:
                out[i] = space.vectors[rows].mean(axis=0)
            elif self.unknown == "error":
                shown = ", ".join(repr(t) for t in tokens[:5]) + (", ..." if len(tokens) > 5 else "")
                raise UnknownWordError(
                    f"input at position {i} has no word known to slice {self.slice!r}"
                    + (f" (its words: {shown})" if tokens else " (it contains no word)")
                    + "; set `unknown: zero` to embed such texts as zero vectors",
                    word=tokens[0] if tokens else "", slice=self.slice,
                )
        return l2_normalize(out) if self.normalize else out

    def _encode_batch(self, inputs: Sequence[Any], role: Role) -> np.ndarray:
        return self._encode_all(list(inputs), role, len(inputs))
