"""Tokenization with dynamic padding: tokenize once, sort by length, pad each batch to its longest."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .card import ModelDirectoryError
from .runtime import require, runtime_message

_PAD_TOKENS = ("[PAD]", "<pad>", "<|endoftext|>", "</s>", "<eos>")


@dataclass(frozen=True)
class Batch:
    """One padded batch: ``positions`` (b,) are the rows' indices in the caller's input."""

    positions: np.ndarray
    input_ids: np.ndarray  # (b, s) int64
    attention_mask: np.ndarray  # (b, s) int64

    def feed(self, input_names: Sequence[str]) -> dict[str, np.ndarray]:
        """The session inputs: ids, mask, and zeros / positions where the graph wants them."""
        feed = {"input_ids": self.input_ids, "attention_mask": self.attention_mask}
        if "token_type_ids" in input_names:
            feed["token_type_ids"] = np.zeros_like(self.input_ids)
        if "position_ids" in input_names:
            # positions count real tokens only, so left padding does not shift them
            feed["position_ids"] = np.maximum(np.cumsum(self.attention_mask, axis=1) - 1, 0)
        return {k: v for k, v in feed.items() if k in input_names}


def batch_bounds(sorted_lengths: np.ndarray, batch_size: int, max_tokens: int | None = None) -> list[tuple[int, int]]:
    """``[(start, stop)]`` slices of ``sorted_lengths`` (descending) into batches of at most ``batch_size``
    rows and, with ``max_tokens``, at most ``max_tokens`` padded tokens (rows x the first row's length)."""
    n, bounds, start = len(sorted_lengths), [], 0
    while start < n:
        rows = batch_size
        if max_tokens is not None:
            rows = min(rows, max(1, max_tokens // max(int(sorted_lengths[start]), 1)))
        stop = min(n, start + rows)
        bounds.append((start, stop))
        start = stop
    return bounds


class TextTokenizer:
    """A ``tokenizer.json`` with truncation at ``max_length`` and our own dynamic padding.

    Padding or truncation pinned in the file (e.g. ``Fixed: 128``) is switched off: batches are
    padded to their longest row, on ``padding_side``.
    """

    def __init__(self, path: Path, *, max_length: int, padding_side: str = "right",
                 pad_token_id: int | None = None) -> None:
        tokenizers = require("tokenizers")
        try:
            self.tokenizer: Any = tokenizers.Tokenizer.from_file(str(path))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - plain Exception, or a Rust panic, for a bad file
            raise ModelDirectoryError(
                f"{path} (files.tokenizer) is not a loadable tokenizers file: {runtime_message(exc)}"
            ) from exc
        pinned = self.tokenizer.padding
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.tokenizer.enable_truncation(max_length=max_length)
        self.max_length = max_length
        self.padding_side = padding_side
        if pad_token_id is None and pinned is not None:
            pad_token_id = pinned.get("pad_id")
        if pad_token_id is None:
            ids = (self.tokenizer.token_to_id(t) for t in _PAD_TOKENS)
            pad_token_id = next((i for i in ids if i is not None), 0)
        self.pad_token_id = int(pad_token_id)

    def tokenize(self, texts: Sequence[str]) -> list[Any]:
        """``tokenizers.Encoding`` per text (truncated, unpadded); parallel in Rust."""
        return self.tokenizer.encode_batch(list(texts))

    def batches(self, encodings: Sequence[Any], batch_size: int, max_tokens: int | None = None) -> Iterator[Batch]:
        """Padded batches of similar lengths (longest first); ``positions`` restore the order.

        ``max_tokens``: a batch also stops before its padded size (rows x longest row) would pass this
        budget (one row at least), so short texts travel in large batches and long ones in small;
        ``batch_size`` still caps the rows."""
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        order = np.argsort(-lengths, kind="stable")
        for start, stop in batch_bounds(lengths[order], batch_size, max_tokens):
            rows = order[start:stop]
            yield self._pad([encodings[i] for i in rows], lengths[rows], rows)

    def _pad(self, encodings: list[Any], lengths: np.ndarray, rows: np.ndarray) -> Batch:
        width = max(int(lengths.max()), 1)
        ids = np.full((len(encodings), width), self.pad_token_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        left = self.padding_side == "left"
        for r, (enc, n) in enumerate(zip(encodings, lengths)):
            n = int(n)
            if n == 0:  # a tokenizer without special tokens and an empty text: one pad token
                ids[r, -1 if left else 0] = self.pad_token_id
                mask[r, -1 if left else 0] = 1
                continue
            cols = slice(width - n, width) if left else slice(0, n)
            ids[r, cols] = enc.ids
            mask[r, cols] = 1
        return Batch(positions=rows, input_ids=ids, attention_mask=mask)

    def count_tokens(self, texts: Sequence[str]) -> int:
        return sum(len(e.ids) for e in self.tokenize(texts))
