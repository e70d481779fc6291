"""Per-token vectors (``onnx-text`` ``output: tokens``): late interaction, ColBERT-style.

From the graph's ``last_hidden_state (b, s, h)``: an optional linear projection (``projection.npz``
beside the graph: ``weight (out, h)``, optional ``bias (out,)``, as ColBERT checkpoints carry), per-
token L2 normalisation, and only the tokens that carry content: special and padding tokens are dropped,
punctuation too for documents when asked. Queries may be augmented ColBERT's way: padded with the mask
token to ``query_length`` tokens (those positions are kept, attended to or not).

The result of one call is ``(data (total_tokens, dim) float32, offsets (n + 1,) int64)``: input ``i``
owns rows ``offsets[i]:offsets[i+1]``, in input order. No Python loop per token.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from embedspec.base import l2_normalize

from ..common.card import ModelDirectoryError
from ..common.tokenization import Batch

#: Card ``files`` key of the projection weights.
PROJECTION_FILE = "projection"
#: Names of the mask token in common vocabularies.
MASK_TOKENS = ("[MASK]", "<mask>")


@dataclass(frozen=True)
class Projection:
    """A linear map ``x @ weight.T + bias``: ``weight (out, h) float32``, ``bias (out,)`` or None."""

    weight: np.ndarray
    bias: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return int(self.weight.shape[0])

    @classmethod
    def read(cls, path: Path) -> Projection:
        """Read ``projection.npz``; a malformed file is a ``ModelDirectoryError`` naming it."""
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as exc:
            raise ModelDirectoryError(f"{path} (files.{PROJECTION_FILE}) is not a readable .npz file: {exc}") from None
        weight, bias = arrays.get("weight"), arrays.get("bias")
        if weight is None or weight.ndim != 2:
            raise ModelDirectoryError(f"{path} (files.{PROJECTION_FILE}) needs a 2-D array 'weight' (out, hidden); "
                                      f"it holds {sorted(arrays)}")
        if bias is not None and bias.shape != (weight.shape[0],):
            raise ModelDirectoryError(f"{path}: bias has shape {list(bias.shape)}, weight {list(weight.shape)}")
        for name, arr in (("weight", weight), ("bias", bias)):
            if arr is not None and not np.isfinite(arr).all():
                raise ModelDirectoryError(f"{path}: {name} holds NaN or infinite values")
        return cls(weight.astype(np.float32), None if bias is None else bias.astype(np.float32))

    def write(self, path: Path) -> None:
        arrays = {"weight": self.weight} if self.bias is None else {"weight": self.weight, "bias": self.bias}
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """``(t, h) -> (t, out) float32``."""
        out = x @ self.weight.T
        return out + self.bias if self.bias is not None else out


@dataclass(frozen=True)
class TokenRules:
    """Which tokens become vectors, and how queries are augmented."""

    mask_id: int | None = None  # mask token of query augmentation (None: no augmentation)
    query_length: int | None = None
    attend_to_mask: bool = False
    skip_ids: frozenset[int] = frozenset()  # dropped from documents (punctuation)
    keep_special: bool = False


def punctuation_ids(tokenizer: Any) -> frozenset[int]:
    """Ids of the single-character punctuation tokens (``string.punctuation``), as ColBERT's skiplist."""
    ids = (tokenizer.token_to_id(c) for c in string.punctuation)
    return frozenset(int(i) for i in ids if i is not None)


def mask_token_id(tokenizer: Any) -> int | None:
    ids = (tokenizer.token_to_id(t) for t in MASK_TOKENS)
    return next((int(i) for i in ids if i is not None), None)


@dataclass(frozen=True)
class TokenRows:
    """One input's ids, attention and which positions become vectors (1-D arrays of one length)."""

    ids: np.ndarray
    attention: np.ndarray
    keep: np.ndarray


def token_rows(encodings: list[Any], rules: TokenRules, role: str) -> list[TokenRows]:
    """Per encoding: ids / attention / keep, with query augmentation and dropped tokens applied."""
    augment = role == "query" and rules.mask_id is not None and rules.query_length is not None
    skip = np.fromiter(rules.skip_ids, dtype=np.int64) if role == "document" and rules.skip_ids else None
    rows = []
    for enc in encodings:
        ids = np.asarray(enc.ids, dtype=np.int64)
        keep = np.ones(len(ids), dtype=bool) if rules.keep_special else np.asarray(enc.special_tokens_mask) == 0
        if skip is not None:
            keep &= ~np.isin(ids, skip)
        attention = np.ones(len(ids), dtype=np.int64)
        if augment and len(ids) < rules.query_length:  # type: ignore[operator]
            extra = rules.query_length - len(ids)  # type: ignore[operator]
            ids = np.concatenate([ids, np.full(extra, rules.mask_id, dtype=np.int64)])
            attention = np.concatenate([attention, np.full(extra, int(rules.attend_to_mask), dtype=np.int64)])
            keep = np.concatenate([keep, np.ones(extra, dtype=bool)])
        rows.append(TokenRows(ids, attention, keep))
    return rows


def check_not_empty(rows: list[TokenRows], what: str) -> np.ndarray:
    """``(n,) int64`` kept tokens per input; an input left with none is a located ``ValueError``."""
    counts = np.fromiter((int(r.keep.sum()) for r in rows), dtype=np.int64, count=len(rows))
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise ValueError(
            f"input at position {int(empty[0])} has no tokens left for a multi-vector ({what}: special, padding "
            f"and skipped tokens are dropped): an empty or punctuation-only text has no token vectors"
            + (f"; {empty.size} such inputs in all" if empty.size > 1 else "")
        )
    return counts


def padded_batches(rows: list[TokenRows], batch_size: int, pad_id: int, left: bool):  # noqa: ANN201 - generator
    """``(Batch, keep (b, s) bool)`` of similar lengths, longest first; ``Batch.positions`` restore order."""
    lengths = np.fromiter((len(r.ids) for r in rows), dtype=np.int64, count=len(rows))
    order = np.argsort(-lengths, kind="stable")
    for start in range(0, len(order), batch_size):
        sel = order[start : start + batch_size]
        width = max(int(lengths[sel].max()), 1)
        ids = np.full((len(sel), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(sel), width), dtype=np.int64)
        keep = np.zeros((len(sel), width), dtype=bool)
        for r, i in enumerate(sel):
            row, n = rows[i], int(lengths[i])
            cols = slice(width - n, width) if left else slice(0, n)
            ids[r, cols], mask[r, cols], keep[r, cols] = row.ids, row.attention, row.keep
        yield Batch(positions=sel, input_ids=ids, attention_mask=mask), keep


def place_tokens(out: np.ndarray, offsets: np.ndarray, positions: np.ndarray, counts: np.ndarray,
                 vectors: np.ndarray) -> None:
    """Write one batch's kept token ``vectors (sum(counts), d)`` (rows in batch order) into ``out`` at
    each input's rows ``offsets[p]:offsets[p+1]``."""
    starts = np.repeat(offsets[positions], counts)
    within = np.arange(vectors.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
    out[starts + within] = vectors


def token_vectors(hidden: np.ndarray, keep: np.ndarray, projection: Projection | None, normalize: bool) -> np.ndarray:
    """``hidden (b, s, h)``, ``keep (b, s)`` -> ``(kept, d) float32`` rows in row-major order."""
    vectors = hidden[keep].astype(np.float32, copy=False)
    if projection is not None:
        vectors = projection.apply(vectors)
    return l2_normalize(vectors) if normalize else np.ascontiguousarray(vectors, dtype=np.float32)
