"""``onnx-clip``: texts and images into one vector space with a CLIP/SigLIP model directory.

    encoder = OnnxClipEncoder(model="models/clip-b32")
    vectors = encoder.encode(["a dog on a beach", Path("photos/dog.jpg"), pil_image, uint8_array])

Strings are texts; images are ``os.PathLike`` paths, ``bytes``, Pillow images or ``(H, W[, C])``
uint8 arrays, freely mixed. Each tower runs on its own session, created on first use.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from embedspec.base import BaseEncoder, batched, l2_normalize
from embedspec.protocols import Role
from embedspec.registry import ComponentConfig
from pydantic import Field

from ..card import ModelDirectoryError
from ..runtime import applied_device, create_session, physical_cores, require
from ..tokenization import Batch, TextTokenizer
from .card import CLIP_FILES, ClipModelCard
from .images import (
    DEFAULT_MAX_PIXELS,
    SUPPORTED,
    HighBitDepth,
    ImageInputError,
    check_array,
    decode_images,
    modality_of,
)

HF_SCHEME = "hf://"
_HUB_PATTERNS = ["embedspec.json", *CLIP_FILES.values()]


class OnnxClipConfig(ComponentConfig):
    """Spec block of ``onnx-clip``; the model directory's ``embedspec.json`` gives the rest."""

    model: str = Field(description="CLIP/SigLIP model directory (from `embedspec export`) or hf://ORG/NAME[@REV]")
    normalize: bool = Field(True, description="L2-normalize vectors (cosine similarity = dot product)")
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    threads: int | None = Field(None, gt=0, le=1024, description="intra-op threads; default: physical cores")
    batch_size: int = Field(32, gt=0, le=65_536, description="texts or images per session run")
    max_image_pixels: int | None = Field(
        DEFAULT_MAX_PIXELS, gt=0, description="refuse encoded images with more pixels (decompression bombs)"
    )
    high_bit_depth: Literal["scale", "clip"] = Field(
        "scale", description="16-bit grey images: scale to 8 bits, or clip at 255 as transformers does"
    )


class OnnxClipEncoder(BaseEncoder):
    """CLIP-style two-tower encoder: ``encode(items)`` -> ``(n, dim) float32``, texts and images mixed."""

    modalities = frozenset({"text", "image"})

    def __init__(
        self,
        model: str,
        normalize: bool = True,
        device: str = "auto",
        threads: int | None = None,
        batch_size: int = 32,
        max_image_pixels: int | None = DEFAULT_MAX_PIXELS,
        high_bit_depth: HighBitDepth = "scale",
    ) -> None:
        self.model = str(model)
        self.normalize = normalize
        self.device = device
        self.threads = threads
        self.batch_size = batch_size
        self.max_image_pixels = max_image_pixels
        self.high_bit_depth = high_bit_depth
        self._resolved: tuple[Path, ClipModelCard] | None = None
        self._sessions: dict[str, Any] = {}

    # ---- the model directory --------------------------------------------------------------
    @property
    def card(self) -> ClipModelCard:
        if self._resolved is None:
            self._resolved = resolve_clip(self.model)
        return self._resolved[1]

    @property
    def model_dir(self) -> Path:
        self.card  # noqa: B018 - resolves (downloads hf://) once
        return self._resolved[0]  # type: ignore[index]

    @property
    def dim(self) -> int:
        return self.card.dim

    def _warm_up(self) -> None:
        card = self.card
        self._tokenizer = TextTokenizer(
            card.file(self.model_dir, "tokenizer"), max_length=card.max_length, pad_token_id=card.pad_token_id
        )

    def session(self, tower: Literal["text_model", "vision_model"]) -> Any:
        """The onnxruntime session of one tower, created on first use."""
        if tower not in self._sessions:
            path = self.card.file(self.model_dir, tower)
            self._sessions[tower] = create_session(path, device=self.device, threads=self.threads)
        return self._sessions[tower]

    @property
    def applied_device(self) -> str:
        """``cpu`` or ``cuda``: the provider the vision session actually runs on."""
        return applied_device(self.session("vision_model"))

    # ---- inputs ---------------------------------------------------------------------------
    def validate_inputs(self, inputs: Sequence[Any]) -> None:
        """Raise ``TypeError`` / ``ImageInputError`` naming the position of the first bad input."""
        for i, item in enumerate(inputs):
            kind = modality_of(item)
            if kind is None:
                raise TypeError(
                    f"{type(self).__name__} encodes texts and images: input at position {i} is "
                    f"{type(item).__name__}; supported: {SUPPORTED}"
                )
            if kind == "image" and hasattr(item, "dtype"):
                check_array(item, i)
            elif isinstance(item, os.PathLike) and not Path(os.fspath(item)).is_file():
                raise ImageInputError(f"image at position {i}: no such file {os.fspath(item)!r}", i)

    # ---- encoding -------------------------------------------------------------------------
    def _encode_all(self, items: list[Any], role: Role, batch_size: int) -> np.ndarray:
        """Texts and images each batched by ``batch_size``; output in input order."""
        out = np.empty((len(items), self.dim), dtype=np.float32)
        texts = [i for i, x in enumerate(items) if isinstance(x, str)]
        images = [i for i, x in enumerate(items) if not isinstance(x, str)]
        if texts:
            out[texts] = self.text_features([items[i] for i in texts], batch_size=batch_size)
        for chunk in batched(images, batch_size):
            out[list(chunk)] = self.image_features([items[i] for i in chunk], positions=chunk)
        return l2_normalize(out) if self.normalize else out

    def image_features(self, images: Sequence[Any], *, positions: Sequence[int] | None = None) -> np.ndarray:
        """``(n, dim) float32`` unnormalized image features (``get_image_features``) of one batch.

        Decoding and preprocessing run on ``threads`` threads; errors name ``positions`` (default 0..n-1).
        """
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        positions = list(range(len(images))) if positions is None else list(positions)
        pixels = decode_images(images, positions, max_pixels=self.max_image_pixels, high_bit_depth=self.high_bit_depth,
                               transform=self.card.image.one, workers=self.threads or physical_cores())
        session = self.session("vision_model")
        (vectors,) = session.run([self.card.image_output], {session.get_inputs()[0].name: np.stack(pixels)})
        return np.asarray(vectors, dtype=np.float32)

    def text_features(self, texts: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        """``(n, dim) float32`` unnormalized text features (``get_text_features``)."""
        self.warm_up()
        card, session = self.card, self.session("text_model")
        names = [i.name for i in session.get_inputs()]
        out = np.empty((len(texts), card.dim), dtype=np.float32)
        encodings = self._tokenizer.tokenize(list(texts))
        for batch in self._text_batches(encodings, batch_size or self.batch_size):
            (vectors,) = session.run([card.text_output], batch.feed(names))
            out[batch.positions] = vectors
        return out

    def _text_batches(self, encodings: list[Any], batch_size: int) -> Any:
        if self.card.text_padding == "longest":
            yield from self._tokenizer.batches(encodings, batch_size)
            return
        width, pad = self.card.max_length, self._tokenizer.pad_token_id
        for rows in batched(np.arange(len(encodings)), batch_size):
            ids = np.full((len(rows), width), pad, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                tokens = encodings[i].ids
                ids[r, : len(tokens)] = tokens
                mask[r, : len(tokens)] = 1
            yield Batch(positions=np.asarray(rows), input_ids=ids, attention_mask=mask)


def resolve_clip(model: str) -> tuple[Path, ClipModelCard]:
    """The directory and card of a ``model:`` value: a local directory or ``hf://ORG/NAME[@REV]``."""
    if model.startswith(HF_SCHEME):
        repo, _, revision = model[len(HF_SCHEME):].partition("@")
        if repo.count("/") != 1:
            raise ModelDirectoryError(f"model {model!r}: expected hf://ORG/NAME[@REVISION]")
        hub = require("huggingface_hub")
        try:
            path = Path(hub.snapshot_download(repo_id=repo, revision=revision or None, allow_patterns=_HUB_PATTERNS))
        except Exception as exc:  # offline, unknown repo, auth...: one clear message
            raise ModelDirectoryError(
                f"cannot download hf://{repo} from the Hugging Face hub ({type(exc).__name__}: {exc}); "
                "export the model locally with `embedspec export` and point model: at the directory"
            ) from exc
        return path, ClipModelCard.read(path)
    path = Path(model).expanduser()
    if not path.is_dir():
        raise ModelDirectoryError(
            f"model directory {path} does not exist (export one with `embedspec export SRC {model}`)"
        )
    return path, ClipModelCard.read(path)
