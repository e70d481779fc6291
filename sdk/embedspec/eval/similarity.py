"""Sentence-pair similarity: Spearman and Pearson of cosine(sentence1, sentence2) against gold scores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..base import l2_normalize
from .datasets import load_pairs
from .encoding import CachingEncoder, through_encoder
from .metrics import pearson, spearman


def evaluate_pairs(pipeline: Any, path: str | Path, *, batch_size: int = 256) -> dict[str, Any]:
    """Spearman and Pearson of cosine(sentence1, sentence2) against the gold scores of ``path``.

    Encodes with the pipeline's encoder and aligner (compressors do not apply), role "document" for
    both sides. ``pipeline`` is neither changed nor closed.
    """
    pairs = load_pairs(path)
    encoder = CachingEncoder(pipeline.encoder)
    view = through_encoder(pipeline, encoder)
    a = l2_normalize(view.encode(pairs.sentences1, role="document", batch_size=batch_size))
    b = l2_normalize(view.encode(pairs.sentences2, role="document", batch_size=batch_size))
    cosine = (a * b).sum(axis=1).astype(np.float64)
    return {
        "task": "pairs",
        "file": str(path),
        "num_pairs": len(pairs.scores),
        "spearman": spearman(cosine, pairs.scores),
        "pearson": pearson(cosine, pairs.scores),
        "encode_docs_per_s": encoder.timing.per_second("document"),
        "spec": pipeline.to_spec(),
    }
