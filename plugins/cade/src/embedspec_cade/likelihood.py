"""Held-out log-likelihood of a slice's sentences under CBOW vectors (the papers' quality measure).

For every held-out position whose word is in the slice vocabulary and has at least one in-vocabulary
word within ``window`` (full window, no downsampling), ``h`` is the mean of the context input vectors
and two scores are averaged over positions:

- ``ns``: the negative-sampling log-likelihood word2vec maximizes (and the TWEC/CADE papers report,
  normalized per word): ``log s(h.c_w) + sum_n log s(-h.c_n)`` over ``negative`` noise words drawn from
  the slice's unigram^0.75 table with a fixed seed, so every model is scored on the same draws;
- ``softmax``: ``log p(w | context) = h.c_w - log sum_v exp(h.c_v)`` over the slice vocabulary, an exact
  normalized probability (the same vocabulary for every model of a slice, so comparable).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .word2vec import Vocabulary, encode_corpus


@dataclass(frozen=True)
class HeldOut:
    """A slice's held-out positions: target ids ``(n,)``, context means are built per model."""

    targets: np.ndarray  # (n,) int64 rows of the slice vocabulary
    context: list[np.ndarray]  # per position, (c_i,) int64 context rows
    noise: np.ndarray  # (n, negative) int64 noise rows (-1: skipped, equal to the target)

    def __len__(self) -> int:
        return int(self.targets.shape[0])


def held_out_positions(sentences: list[list[str]], vocab: Vocabulary, *, window: int, negative: int,
                       seed: int = 0) -> HeldOut:
    ids, starts = encode_corpus(sentences, vocab.index)
    targets, context = [], []
    for s in range(len(starts) - 1):
        row = ids[starts[s] : starts[s + 1]].astype(np.int64)
        for i in range(len(row)):
            ctx = np.concatenate([row[max(0, i - window) : i], row[i + 1 : i + 1 + window]])
            if ctx.size:
                targets.append(row[i])
                context.append(ctx)
    t = np.asarray(targets, dtype=np.int64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, int(vocab.cum_table[-1]), size=(len(t), negative), dtype=np.int64)
    noise = np.searchsorted(vocab.cum_table.astype(np.int64), draws, side="left")
    noise[noise == t[:, None]] = -1
    return HeldOut(t, context, noise)


def log_likelihood(held: HeldOut, W: np.ndarray, C: np.ndarray, *, block: int = 4096) -> dict[str, float]:
    """Mean ``ns`` and ``softmax`` log-likelihood per position under input ``W`` and output ``C``
    (both ``(V_s, dim)``, rows in the slice vocabulary's order)."""
    if len(held) == 0:
        raise ValueError("no held-out position has a known word and a known context word")
    W64, C64 = W.astype(np.float64), C.astype(np.float64)
    lengths = np.fromiter((c.size for c in held.context), dtype=np.int64, count=len(held))
    flat = np.concatenate(held.context)
    offsets = np.cumsum(lengths) - lengths
    H = np.add.reduceat(W64[flat], offsets, axis=0) / lengths[:, None]
    pos = np.einsum("ij,ij->i", H, C64[held.targets])
    ns = _log_sigmoid(pos)
    for j in range(held.noise.shape[1]):
        rows = held.noise[:, j]
        ok = rows >= 0
        ns[ok] += _log_sigmoid(-np.einsum("ij,ij->i", H[ok], C64[rows[ok]]))
    softmax = np.empty(len(held))
    for start in range(0, len(held), block):
        logits = H[start : start + block] @ C64.T
        top = logits.max(axis=1)
        lse = top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
        softmax[start : start + block] = pos[start : start + block] - lse
    return {"ns": float(ns.mean()), "softmax": float(softmax.mean()), "positions": len(held)}


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)
