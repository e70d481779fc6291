"""Synthetic multilingual topic data and a tiny language-independent encoder for the gfun tests.

A module of its own (not conftest.py) so test files import it by a unique name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from embedspec.base import BaseEncoder, l2_normalize
from embedspec.registry import ComponentConfig

TOPICS = ("politics", "science", "sports")
# The same concepts in three languages; "fr" is held out of training to test unseen languages.
LEXICON = {
    "en": {"sports": "ball team goal match coach", "politics": "vote party law senate minister",
           "science": "atom cell energy lab theory"},
    "de": {"sports": "ball mannschaft tor spiel trainer", "politics": "wahl partei gesetz senat minister",
           "science": "atom zelle energie labor theorie"},
    "fr": {"sports": "ballon equipe but match entraineur", "politics": "vote parti loi senat ministre",
           "science": "atome cellule energie laboratoire theorie"},
}
FILLER = "the a of and to in is was for on with as by at from der die und le la et".split()


def make_corpus(lang: str, n: int, seed: int) -> tuple[list[dict[str, str]], list[str]]:
    """``n`` records of ``lang`` cycling through the topics: 3 topic words, 1 in 4 docs with a distractor."""
    rng = np.random.default_rng(seed)
    records, labels = [], []
    for i in range(n):
        topic = TOPICS[i % 3]
        words = list(rng.choice(LEXICON[lang][topic].split(), 3)) + list(rng.choice(FILLER, 5))
        if i % 4 == 0:
            words.append(str(rng.choice(LEXICON[lang][TOPICS[(i + 1) % 3]].split())))
        rng.shuffle(words)
        records.append({"text": " ".join(words), "lang": lang})
        labels.append(topic)
    return records, labels


class ConceptEncoderConfig(ComponentConfig):
    dim: int = 6


class ConceptEncoder(BaseEncoder):
    """Language-independent toy encoder: counts each topic's words (any language), plus a bias slot."""

    def __init__(self, dim: int = 6) -> None:
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    def _encode_batch(self, inputs: Sequence[Any], role: str) -> np.ndarray:
        index = {w: TOPICS.index(t) for lex in LEXICON.values() for t, ws in lex.items() for w in ws.split()}
        out = np.zeros((len(inputs), self._dim), dtype=np.float32)
        out[:, -1] = 0.5
        for i, text in enumerate(inputs):
            for w in text.split():
                if w in index:
                    out[i, index[w]] += 1.0
        return l2_normalize(out)


