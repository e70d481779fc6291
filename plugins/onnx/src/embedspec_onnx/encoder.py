"""``onnx-text``: a text encoder running an exported model directory with onnxruntime."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from embedspec.base import BaseEncoder, l2_normalize
from embedspec.config_rules import MAX_DIM
from embedspec.protocols import Role
from embedspec.registry import ComponentConfig
from pydantic import Field

from .card import ModelCard, Pooling, Precision
from .hub import resolve
from .pooling import pool
from .runtime import applied_device, create_session
from .tokenization import TextTokenizer


class OnnxTextEncoderConfig(ComponentConfig):
    """Spec block of ``onnx-text``; unset fields come from the model's ``embedspec.json``."""

    model: str = Field(description="model directory (from `embedspec export`) or hf://ORG/NAME[@REV]")
    pooling: Pooling | None = None
    normalize: bool | None = None
    query_prompt: str | None = Field(None, description="text put before queries")
    document_prompt: str | None = Field(None, description="text put before documents")
    max_length: int | None = Field(None, gt=1, le=131_072, description="tokens per input, special tokens included")
    padding_side: Literal["left", "right"] | None = None
    dim: int | None = Field(None, gt=0, le=MAX_DIM, description="Matryoshka truncation (before normalization)")
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    precision: Precision = Field("fp32", description="fp32 (model.onnx), int8 (model_int8.onnx), fp16")
    threads: int | None = Field(None, gt=0, le=1024, description="intra-op threads; default: physical cores")
    batch_size: int = Field(32, gt=0, le=65_536)


class OnnxTextEncoder(BaseEncoder):
    """ONNX text encoder: length-sorted, dynamically padded batches; pooling per the model card.

    ``encode(texts, role=...)`` -> ``(n, dim) float32`` (L2-normalized when ``normalize``).
    """

    modalities = frozenset({"text"})

    def __init__(
        self,
        model: str,
        pooling: Pooling | None = None,
        normalize: bool | None = None,
        query_prompt: str | None = None,
        document_prompt: str | None = None,
        max_length: int | None = None,
        padding_side: Literal["left", "right"] | None = None,
        dim: int | None = None,
        device: str = "auto",
        precision: Precision = "fp32",
        threads: int | None = None,
        batch_size: int = 32,
    ) -> None:
        self.model = str(model)
        self.pooling = pooling
        self.normalize = normalize
        self.query_prompt = query_prompt
        self.document_prompt = document_prompt
        self.max_length = max_length
        self.padding_side = padding_side
        self.dim = dim
        self.device = device
        self.precision = precision
        self.threads = threads
        self.batch_size = batch_size
        self._card: ModelCard | None = None
        self._model_dir: Path | None = None

    # ``dim`` is both the parameter (Matryoshka truncation, None = full) and the protocol's output
    # size; reading it gives the output size, so a described spec block states it explicitly.
    @property
    def dim(self) -> int:  # type: ignore[override]
        return self.card.check_dim(self._dim)

    @dim.setter
    def dim(self, value: int | None) -> None:
        self._dim = value

    @property
    def card(self) -> ModelCard:
        """The model card with this encoder's overrides applied (resolved once; hf:// downloads)."""
        if self._card is None:
            directory, card = resolve(self.model)
            changes: dict[str, Any] = {
                k: v
                for k, v in (
                    ("pooling", self.pooling), ("normalize", self.normalize),
                    ("query_prompt", self.query_prompt), ("document_prompt", self.document_prompt),
                    ("max_length", self.max_length), ("padding_side", self.padding_side),
                )
                if v is not None
            }
            if self.pooling == "last-token" and self.padding_side is None:
                changes["padding_side"] = "left"
            self._card = card.replace(**changes) if changes else card
            self._model_dir = directory
        return self._card

    @property
    def model_dir(self) -> Path:
        """The local directory holding the model's files."""
        self.card  # noqa: B018 - resolves once, setting _model_dir
        return self._model_dir  # type: ignore[return-value]

    def _warm_up(self) -> None:
        card, directory = self.card, self.model_dir
        self._session = create_session(card.graph_file(directory, self.precision), device=self.device,
                                       threads=self.threads)
        self._input_names = [i.name for i in self._session.get_inputs()]
        outputs = [o.name for o in self._session.get_outputs()]
        self._output = card.output_name if card.output_name in outputs else outputs[0]
        self._tokenizer = TextTokenizer(card.file(directory, "tokenizer"), max_length=card.max_length,
                                        padding_side=card.padding_side, pad_token_id=card.pad_token_id)
        self._out_dim = card.check_dim(self._dim)

    @property
    def applied_device(self) -> str:
        """``cpu`` or ``cuda``: the provider the session actually runs on."""
        self.warm_up()
        return applied_device(self._session)

    @property
    def is_fitted(self) -> bool:
        return True

    # ---- encoding -------------------------------------------------------------------------
    def _encode_all(self, texts: list[str], role: Role, batch_size: int) -> np.ndarray:
        """Sort the whole call by token length (not each chunk), run, restore the input order."""
        card = self.card
        prompt = card.prompt(role)
        if prompt:
            texts = [prompt + t for t in texts]
        encodings = self._tokenizer.tokenize(texts)
        out = np.empty((len(texts), self._out_dim), dtype=np.float32)
        for batch in self._tokenizer.batches(encodings, batch_size):
            (hidden,) = self._session.run([self._output], batch.feed(self._input_names))
            vectors = pool(hidden, batch.attention_mask, card.pooling)[:, : self._out_dim]
            out[batch.positions] = l2_normalize(vectors) if card.normalize else vectors
        return out

    def count_tokens(self, texts: Sequence[str], *, role: Role = "document") -> int:
        """Tokens the model sees for ``texts`` (after prompt and truncation)."""
        self.warm_up()
        prompt = self.card.prompt(role)
        return self._tokenizer.count_tokens([prompt + t for t in texts])

