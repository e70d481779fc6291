"""``onnx-clip``: texts and images into one vector space with a CLIP/SigLIP model directory.

    encoder = OnnxClipEncoder(model="models/clip-b32")
    vectors = encoder.encode(["a dog on a beach", Path("photos/dog.jpg"), pil_image, uint8_array])

Strings are texts; images are ``os.PathLike`` paths, ``bytes``, Pillow images or ``(H, W[, C])``
uint8 arrays, freely mixed. Each tower runs on its own session, created on first use, after the
model directory's light checks; each session's inputs and outputs are checked against the card.
``check(deep=True)`` loads both towers and the tokenizer on CPU and runs one text and one image.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from embedspec.base import BaseEncoder, batched, l2_normalize
from embedspec.protocols import Role
from embedspec.registry import ComponentConfig, PathField
from pydantic import Field

from ..common.card import MODEL_AS_TEXT, ModelDirectoryError, local_directory
from ..common.hub import HF_SCHEME, cached, download, parse_hf
from ..common.runtime import applied_device, check_graph, check_output_dim, create_session, physical_cores, run
from ..common.tokenization import Batch, TextTokenizer
from .card import CLIP_FILES, ClipModelCard
from .images import (
    DEFAULT_MAX_PIXELS,
    SUPPORTED,
    ImageInputError,
    check_array,
    decode_images,
    modality_of,
)

_HUB_PATTERNS = ["embedspec.json", *CLIP_FILES.values()]
#: Inputs the text tower may take (``tokenization.Batch.feed``).
TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "position_ids")
TOWERS = ("text_model", "vision_model")


class OnnxClipConfig(ComponentConfig):
    """Spec block of ``onnx-clip``; the model directory's ``embedspec.json`` gives the rest."""

    model: str = PathField(description="CLIP/SigLIP model directory (from `embedspec export`) or hf://ORG/NAME[@REV]")
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

    _model_text = MODEL_AS_TEXT  # a Path object is taken as its text


class OnnxClipEncoder(BaseEncoder):
    """CLIP-style two-tower encoder: ``encode(items)`` -> ``(n, dim) float32``, texts and images mixed."""

    Config = OnnxClipConfig
    modalities = frozenset({"text", "image"})

    def _init_runtime(self) -> None:
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

    # ---- checks ---------------------------------------------------------------------------
    def check(self, *, deep: bool = False) -> None:
        """Raise ``ModelDirectoryError`` (located at ``model``) when the directory cannot serve this
        encoder; creates nothing. Light: the card and every file it names (present, regular, non-empty,
        inside the directory). Deep: both towers and the tokenizer load on CPU, their inputs/outputs
        match the card, one text and one blank image give ``(1, dim)``. ``hf://`` is never downloaded
        (deep: the local cache's copy, when there is one)."""
        if self.model.startswith(HF_SCHEME):
            parse_hf(self.model)
            directory = cached(self.model, _HUB_PATTERNS) if deep else None
            if directory is None:
                return
        else:
            directory = local_directory(self.model)
        card = ClipModelCard.read(directory)
        _check_files(directory, card)
        if not deep:
            return
        tokenizer = _tokenizer(directory, card)
        for tower in TOWERS:
            path = card.file(directory, tower)
            session = create_session(path, device="cpu", threads=1)
            _check_tower(session, path, tower, card)
            if tower == "text_model":
                batch = next(text_batches(tokenizer, card, tokenizer.tokenize(["a photo of a dog"]), 1))
                feed = batch.feed([i.name for i in session.get_inputs()])
                output = card.text_output
            else:
                height, width = card.image.output_size
                feed = {session.get_inputs()[0].name: np.zeros((1, 3, height, width), dtype=np.float32)}
                output = card.image_output
            (vectors,) = run(session, [output], feed, path, hint=_size_hint(card) if tower == "vision_model" else "")
            check_output_dim(np.shape(vectors)[-1], card.dim, path, output)
            if not np.isfinite(vectors).all():
                raise ModelDirectoryError(f"{path}: a forward pass gave NaN or infinite values")

    def _warm_up(self) -> None:
        card = self.card
        _check_files(self.model_dir, card)
        self._tokenizer = _tokenizer(self.model_dir, card)

    def session(self, tower: Literal["text_model", "vision_model"]) -> Any:
        """The onnxruntime session of one tower, created on first use (after the directory's checks)."""
        if tower not in self._sessions:
            self.warm_up()
            path = self.card.file(self.model_dir, tower)
            session = create_session(path, device=self.device, threads=self.threads)
            _check_tower(session, path, tower, self.card)
            self._sessions[tower] = session
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
        session, path = self.session("vision_model"), self.card.file(self.model_dir, "vision_model")
        (vectors,) = run(session, [self.card.image_output], {session.get_inputs()[0].name: np.stack(pixels)}, path,
                         hint=_size_hint(self.card))
        check_output_dim(np.shape(vectors)[-1], self.dim, path, self.card.image_output)
        return np.asarray(vectors, dtype=np.float32)

    def text_features(self, texts: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        """``(n, dim) float32`` unnormalized text features (``get_text_features``)."""
        self.warm_up()
        card, session = self.card, self.session("text_model")
        names = [i.name for i in session.get_inputs()]
        out = np.empty((len(texts), card.dim), dtype=np.float32)
        encodings = self._tokenizer.tokenize(list(texts))
        path = card.file(self.model_dir, "text_model")
        for batch in text_batches(self._tokenizer, card, encodings, batch_size or self.batch_size):
            (vectors,) = run(session, [card.text_output], batch.feed(names), path)
            check_output_dim(np.shape(vectors)[-1], card.dim, path, card.text_output)
            out[batch.positions] = vectors
        return out


def text_batches(tokenizer: TextTokenizer, card: ClipModelCard, encodings: list[Any], batch_size: int) -> Any:
    """Padded text batches: to each batch's longest row, or to ``max_length`` (SigLIP)."""
    if card.text_padding == "longest":
        yield from tokenizer.batches(encodings, batch_size)
        return
    width, pad = card.max_length, tokenizer.pad_token_id
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
        repo, revision = parse_hf(model)
        path = download(repo, revision, _HUB_PATTERNS)
        return path, ClipModelCard.read(path)
    path = local_directory(model)
    return path, ClipModelCard.read(path)


def _check_files(directory: Path, card: ClipModelCard) -> None:
    """Every file of the card, and both towers and the tokenizer, are usable files inside ``directory``."""
    card.check_files(directory)
    for key in (*TOWERS, "tokenizer"):
        card.file(directory, key)


def _size_hint(card: ClipModelCard) -> str:
    height, width = card.image.output_size
    return f"; the card's image preprocessing gives {height}x{width} images: is it the size the vision tower takes?"


def _tokenizer(directory: Path, card: ClipModelCard) -> TextTokenizer:
    return TextTokenizer(card.file(directory, "tokenizer"), max_length=card.max_length, pad_token_id=card.pad_token_id)


def _check_tower(session: Any, path: Path, tower: str, card: ClipModelCard) -> None:
    """A tower's inputs and outputs match the card: ``(batch, dim)`` features; the vision tower takes
    one ``(batch, 3, H, W)`` input sized as the card's preprocessing."""
    if tower == "text_model":
        check_graph(session, path, inputs=TEXT_INPUTS, required=("input_ids",), output=card.text_output,
                    output_field="text_output", dim=card.dim, ranks=(2,))
        return
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ModelDirectoryError(f"{path}: a vision tower takes one input (pixel values), this graph takes "
                                  f"{[i.name for i in inputs]}")
    check_graph(session, path, inputs=(inputs[0].name,), required=(), output=card.image_output,
                output_field="image_output", dim=card.dim, ranks=(2,))
    shape = list(inputs[0].shape)
    want = [3, *card.image.output_size]
    if len(shape) != 4 or any(isinstance(a, int) and a != b for a, b in zip(shape[1:], want)):
        raise ModelDirectoryError(f"{path}: input {inputs[0].name!r} has shape {shape}; the card's image "
                                  f"preprocessing gives (batch, {', '.join(map(str, want))})")
