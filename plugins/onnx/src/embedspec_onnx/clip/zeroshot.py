"""Zero-shot classification with a CLIP-style encoder: labels -> prompts -> probabilities.

    probs = zero_shot(encoder, [Path("cat.jpg")], ["cat", "dog", "car"])   # (1, 3), rows sum to 1

The logit scale (and SigLIP's bias) come from the model directory's ``embedspec.json``, so the
probabilities equal the source model's: CLIP ``softmax(scale * cos)`` over the labels, SigLIP an
independent ``sigmoid(scale * cos + bias)`` per label. Several templates are averaged per label
(normalized text embeddings, then renormalized: the CLIP paper's prompt ensembling).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from embedspec.base import l2_normalize

from .encoder import OnnxClipEncoder


def label_embeddings(
    encoder: OnnxClipEncoder, labels: Sequence[str], templates: Sequence[str] | None = None
) -> np.ndarray:
    """``(n_labels, dim) float32`` L2-normalized class embeddings (prompt-ensembled)."""
    labels = list(labels)
    if not labels:
        raise ValueError("zero-shot classification needs at least one label")
    for i, label in enumerate(labels):
        if not isinstance(label, str) or not label.strip():
            raise ValueError(f"label at position {i} must be a non-empty string, got {label!r}")
    templates = list(templates or [encoder.card.zero_shot_template])
    for t in templates:
        if "{}" not in t:
            raise ValueError(f"template {t!r} has no '{{}}' where the label goes")
    prompts = [t.format(label) for label in labels for t in templates]
    vectors = l2_normalize(encoder.text_features(prompts)).reshape(len(labels), len(templates), -1)
    return l2_normalize(vectors.mean(axis=1)) if len(templates) > 1 else vectors[:, 0]


def zero_shot_logits(
    encoder: OnnxClipEncoder, images: Sequence[Any], labels: Sequence[str],
    templates: Sequence[str] | None = None,
) -> np.ndarray:
    """``(n_images, n_labels) float32`` logits: ``logit_scale * cosine (+ logit_bias)``."""
    image_vectors = l2_normalize(encoder.encode(list(images)))
    sims = image_vectors @ label_embeddings(encoder, labels, templates).T
    return encoder.card.logits(sims).astype(np.float32)


def zero_shot(
    encoder: OnnxClipEncoder, images: Sequence[Any], labels: Sequence[str],
    templates: Sequence[str] | None = None,
) -> np.ndarray:
    """``(n_images, n_labels) float32`` probabilities (softmax for CLIP, sigmoid for SigLIP)."""
    logits = zero_shot_logits(encoder, images, labels, templates).astype(np.float64)
    if encoder.card.activation == "sigmoid":
        probs = 1.0 / (1.0 + np.exp(-logits))
    else:
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
    return probs.astype(np.float32)
