"""Learned sparse vectors (``onnx-text`` ``output: sparse``): SPLADE max pooling of a masked-LM head.

From the graph's ``logits (b, s, vocab)``: ``w[j] = max over attended tokens of log(1 + ReLU(logits[t, j]))``
per text (special tokens included, as SPLADE does; padding excluded), optionally only the ``top_k``
largest weights kept, as CSR rows over the vocabulary (``SparseVectors``, indices sorted, zeros dropped).
No Python loop per token or per row.
"""

from __future__ import annotations

import numpy as np
from embedspec.representations import SparseVectors

from ..common.card import ModelCard, ModelDirectoryError

#: Card ``head`` of a directory exported with its masked-LM head (``embedspec export --sparse``).
MLM_HEAD = "mlm"
#: The graph output of a masked-LM export (optimum's ``fill-mask`` task).
LOGITS_OUTPUT = "logits"


def splade_weights(logits: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """``logits (b, s, v)``, ``attention_mask (b, s)`` -> ``(b, v) float32`` SPLADE-max weights (>= 0).

    Works in place on a float32 ``logits`` (the session's output buffer, not reused)."""
    x = np.asarray(logits, dtype=np.float32)
    np.maximum(x, 0.0, out=x)
    np.log1p(x, out=x)
    x *= (attention_mask != 0)[:, :, None]  # padding rows become 0, below every weight (all >= 0)
    return x.max(axis=1)


def sparse_rows(weights: np.ndarray, top_k: int | None) -> SparseVectors:
    """``weights (b, v) float32 >= 0`` -> CSR rows of the non-zero weights (the ``top_k`` largest per row
    when given; ties at the cut broken by ``argpartition``), indices ascending."""
    keep = weights > 0
    if top_k is not None and top_k < weights.shape[1]:
        top = np.argpartition(-weights, top_k - 1, axis=1)[:, :top_k]
        chosen = np.zeros_like(keep)
        np.put_along_axis(chosen, top, True, axis=1)
        keep &= chosen
    rows, cols = np.nonzero(keep)  # row-major: indices ascending within a row
    indptr = np.zeros(weights.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=weights.shape[0]), out=indptr[1:])
    return SparseVectors(indptr, cols.astype(np.int64), weights[rows, cols].astype(np.float32), int(weights.shape[1]))


def check_mlm_head(card: ModelCard, model: str, dim: int | None = None) -> int:
    """The vocabulary size of a masked-LM export; a directory without the head is a ``ModelDirectoryError``
    located at ``output``, a ``dim`` other than the vocabulary size one located at ``dim``."""
    if card.head != MLM_HEAD or card.vocab_size is None:
        raise ModelDirectoryError(
            f"output: sparse needs a model exported with its masked-LM head, and {model} ({card.name}) has none "
            f"(its graph gives hidden states); export the masked-LM checkpoint with `embedspec export SRC OUT "
            f"--sparse`", field="output")
    if dim is not None and dim != card.vocab_size:
        raise ModelDirectoryError(f"dim {dim} does not match the vocabulary of model {card.name} ({card.vocab_size} "
                                  "entries): sparse vectors span the whole vocabulary", field="dim")
    return card.vocab_size
