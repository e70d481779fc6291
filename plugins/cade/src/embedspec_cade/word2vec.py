"""gensim 4 glue: CBOW word2vec models, vocabularies and their sampling tables, with ``CadeSettings``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import CorpusError
from .kernel import MAX_SENTENCE_LEN
from .settings import CadeSettings


def _gensim() -> Any:
    try:
        from gensim.models import Word2Vec
    except ImportError:
        from embedspec.errors import EmbedspecError

        raise EmbedspecError("training CADE needs gensim and numba: pip install 'embedspec-cade[train]'") from None
    return Word2Vec


@dataclass
class Vocabulary:
    """A slice's (or the union's) vocabulary, most frequent first, with gensim's sampling tables."""

    words: list[str]
    counts: np.ndarray  # (V,) int64 occurrences
    sample_int: np.ndarray  # (V,) uint32: keep a word when a 32-bit draw is <= this (downsampling)
    cum_table: np.ndarray  # (V,) uint32: cumulative counts**0.75 scaled to 2**31 - 1 (negative sampling)
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    @classmethod
    def from_counts(cls, words: list[str], counts: np.ndarray, ns_exponent: float = 0.75) -> Vocabulary:
        """A vocabulary with gensim's negative-sampling table rebuilt from counts (no downsampling)."""
        powered = np.asarray(counts, dtype=np.float64) ** ns_exponent
        cum = np.round(np.cumsum(powered) / powered.sum() * (2**31 - 1)).astype(np.uint32)
        return cls(list(words), np.asarray(counts, dtype=np.int64), np.full(len(words), 2**32 - 1, np.uint32), cum)


def new_model(settings: CadeSettings, seed_offset: int = 0) -> Any:
    """An untrained gensim ``Word2Vec`` (CBOW, negative sampling, one worker) with ``settings``."""
    return _gensim()(**settings.gensim_kwargs(seed_offset))


def build_vocabulary(model: Any, sentences: list[list[str]], slice_name: str) -> Vocabulary:
    """Run gensim's ``build_vocab`` on ``sentences``; ``CorpusError`` when no word reaches ``min_count``."""
    model.build_vocab(sentences)
    if len(model.wv) == 0:
        counts: dict[str, int] = {}
        for s in sentences:
            for t in s:
                counts[t] = counts.get(t, 0) + 1
        top = max(counts.values()) if counts else 0
        raise CorpusError(
            f"slice {slice_name!r} has no word seen min_count={model.min_count} times "
            f"(its most frequent word occurs {top} times); lower min_count or give the slice more text"
        )
    return vocabulary_of(model)


def vocabulary_of(model: Any) -> Vocabulary:
    wv = model.wv
    return Vocabulary(
        words=list(wv.index_to_key),
        counts=np.asarray(wv.expandos["count"], dtype=np.int64).copy(),
        sample_int=np.asarray(wv.expandos["sample_int"], dtype=np.uint32).copy(),
        cum_table=np.asarray(model.cum_table, dtype=np.uint32).copy(),
    )


def train_model(model: Any, sentences: list[list[str]]) -> float:
    """Train a gensim model built by ``build_vocabulary``; return the training seconds."""
    start = time.perf_counter()
    model.train(sentences, total_examples=len(sentences), epochs=model.epochs)
    return time.perf_counter() - start


def chunked(sentences: list[list[str]]) -> list[list[str]]:
    """Sentences cut at gensim's 10,000-token limit, so gensim and the kernel see the same text."""
    out = []
    for s in sentences:
        if len(s) <= MAX_SENTENCE_LEN:
            out.append(s)
        else:
            out.extend(s[i : i + MAX_SENTENCE_LEN] for i in range(0, len(s), MAX_SENTENCE_LEN))
    return out


def encode_corpus(sentences: list[list[str]], index: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """``(ids (n,) int32, starts (s+1,) int64)``: in-vocabulary tokens, sentence by sentence."""
    ids: list[int] = []
    starts = [0]
    for s in sentences:
        row = [index[t] for t in s if t in index]
        if row:
            ids.extend(row)
            starts.append(len(ids))
    return np.asarray(ids, dtype=np.int32), np.asarray(starts, dtype=np.int64)
