"""The CLIP-style model directory: ``ClipModelCard`` extends the ONNX ``ModelCard`` contract.

A CLIP/SigLIP directory holds::

    embedspec.json             this card (kind "clip")
    text_model.onnx            input_ids (batch, seq) int64 -> text embedding (batch, dim) float32
    vision_model.onnx          pixel_values (batch, 3, H, W) float32 -> image embedding (batch, dim) float32
    tokenizer.json             the checkpoint's ``tokenizers`` file
    preprocessor_config.json   the checkpoint's image processor configuration, kept for reference

Two graphs rather than one: each tower runs alone (a text query never pays for the vision tower),
and batch sizes differ per tower. The graphs output the projected, *unnormalized* features
(``get_text_features`` / ``get_image_features``); the encoder normalizes. Pooling happens inside
the graphs, so the text-encoder fields ``pooling``, ``padding_side`` and ``output_name`` are unused.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from ..common.card import ModelCard
from .preprocess import ImagePreprocessing

CLIP_FILES = {
    "text_model": "text_model.onnx",
    "vision_model": "vision_model.onnx",
    "tokenizer": "tokenizer.json",
    "preprocessor": "preprocessor_config.json",
}
#: Zero-shot prompt templates of each family (CLIP paper; transformers' SigLIP pipeline).
TEMPLATES = {"clip": "a photo of a {}.", "siglip": "This is a photo of {}."}


class ClipModelCard(ModelCard):
    """``embedspec.json`` of a CLIP-style two-tower model (kind ``clip``)."""

    KIND: ClassVar[str] = "clip"
    KIND_HINT: ClassVar[str] = (
        ": onnx-clip reads CLIP/SigLIP directories (use the onnx-text encoder for text models)"
    )

    kind: str = "clip"
    family: Literal["clip", "siglip"] = "clip"
    max_length: int = Field(77, gt=1, description="text tokens, special tokens included (CLIP 77, SigLIP 64)")
    #: ``longest``: pad each batch to its longest text (CLIP: causal attention, pooled at EOS);
    #: ``max_length``: always pad to ``max_length`` (SigLIP pools the last position, trained padded).
    text_padding: Literal["longest", "max_length"] = "longest"
    text_output: str = "text_embeds"
    image_output: str = "image_embeds"
    image: ImagePreprocessing = Field(
        default_factory=lambda: ImagePreprocessing.from_hf({"image_processor_type": "CLIPImageProcessor"})
    )
    #: Multiplier of cosine similarities in the logits (``exp`` of the model's ``logit_scale`` parameter).
    logit_scale: float = Field(100.0, gt=0)
    #: SigLIP's bias added to the scaled similarities (None for CLIP).
    logit_bias: float | None = None
    #: How logits become probabilities: CLIP softmax over labels, SigLIP an independent sigmoid.
    activation: Literal["softmax", "sigmoid"] = "softmax"
    zero_shot_template: str = TEMPLATES["clip"]
    files: dict[str, str] = Field(default_factory=lambda: dict(CLIP_FILES))

    @model_validator(mode="after")
    def _check_clip(self) -> ClipModelCard:
        missing = [k for k in ("text_model", "vision_model", "tokenizer") if k not in self.files]
        if missing:
            raise ValueError(f"files must name {missing} for a CLIP-style model")
        if "{}" not in self.zero_shot_template:
            raise ValueError(f"zero_shot_template must contain '{{}}' for the label: {self.zero_shot_template!r}")
        if self.activation == "sigmoid" and self.logit_bias is None:
            raise ValueError("activation 'sigmoid' (SigLIP) needs logit_bias")
        return self

    def logits(self, similarities: np.ndarray) -> np.ndarray:
        """Cosine similarities ``(n, m)`` -> logits ``(n, m)``: ``scale * s (+ bias)``."""
        out = similarities * self.logit_scale
        return out + self.logit_bias if self.logit_bias is not None else out
