"""Epoch loop around the CBOW kernel: learning-rate schedule, seeds, timing."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .kernel import train_epoch
from .settings import CadeSettings
from .word2vec import Vocabulary, encode_corpus


@dataclass(frozen=True)
class TrainingReport:
    """What one CBOW training run did: positions trained, raw words, seconds, loss per epoch."""

    trained_positions: int
    raw_words: int
    seconds: float
    epoch_loss: tuple[float, ...]

    @property
    def words_per_second(self) -> float:
        return self.raw_words / self.seconds if self.seconds > 0 else float("inf")


def train_cbow(
    sentences: list[list[str]],
    vocab: Vocabulary,
    W: np.ndarray,
    C: np.ndarray,
    settings: CadeSettings,
    *,
    learn_hidden: bool,
    seed: int,
    compute_loss: bool = False,
) -> TrainingReport:
    """Train input vectors ``W (V, dim)`` (and ``C (V, dim)`` unless ``learn_hidden`` is false) in place.

    Rows follow ``vocab.words``. Sentences are tokens; words outside ``vocab`` are dropped (the
    window then spans across them, as in gensim).
    """
    ids, starts = encode_corpus(sentences, vocab.index)
    per_epoch = int(ids.shape[0])
    total = per_epoch * settings.epochs
    state = int(np.random.default_rng(seed).integers(1, 2**48))
    trained = raw = 0
    losses = []
    start = time.perf_counter()
    for epoch in range(settings.epochs):
        state, t, loss, r = train_epoch(
            ids, starts, W, C, vocab.cum_table, vocab.sample_int,
            window=settings.window, negative=settings.negative, alpha=settings.alpha,
            min_alpha=settings.min_alpha, words_done=epoch * per_epoch, words_total=total,
            learn_hidden=learn_hidden, rng_state=state, compute_loss=compute_loss,
        )
        trained += t
        raw += r
        losses.append(loss / max(t, 1))
    return TrainingReport(trained, raw, time.perf_counter() - start, tuple(losses))
