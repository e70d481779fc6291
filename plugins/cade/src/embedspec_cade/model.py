"""``CadeModel``: CBOW on the union of all slices (the compass), then each slice with the compass's
context matrix copied and frozen, so that every slice's word vectors land in the compass's space.

Bianchi, Di Carlo, Nicoli, Palmonari (2020), *Compass-aligned Distributional Embeddings for Studying
Semantic Differences across Corpora*; Di Carlo, Bianchi, Palmonari (2019), *Training Temporal Word
Embeddings with a Compass*. As in the reference package: the compass is a gensim 4 CBOW model; a slice's
vocabulary and sampling tables come from gensim on that slice alone; its input vectors start at
gensim's seeded random initialization (``init_mode="hidden"``, the default) or at the compass's
vectors (``slice_init="compass"``, the reference's ``"both"``) and train with the slice-vocabulary rows
of the compass's ``syn1neg`` frozen. Unlike the reference, a slice keeps only words seen
``min_count`` times *in that slice* (the reference keeps every compass word the slice contains).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CorpusError
from .settings import CadeSettings
from .spaces import COMPASS, SliceSpaces, SliceVectors
from .state import fingerprint, load_state, save_state
from .text import slice_sentences


def prepare_slices(slices: Mapping[str, Iterable[Any]]) -> dict[str, list[list[str]]]:
    """Check slice names and texts; return each slice's sentences (cut at gensim's length limit)."""
    from .word2vec import chunked

    if not isinstance(slices, Mapping) or not slices:
        raise CorpusError("CADE needs a mapping {slice name: texts} with at least one slice")
    out = {}
    for name, texts in slices.items():
        if not isinstance(name, str) or not name.strip():
            raise CorpusError(f"slice names must be non-empty strings, got {name!r}")
        if name == COMPASS:
            raise CorpusError(f"{COMPASS!r} is reserved for the compass (the union of all slices); rename that slice")
        out[name] = chunked(slice_sentences(texts, name))
    return out


class CadeModel:
    """Compass-aligned word vectors of several slices (corpora, periods, communities).

    ``CadeModel(dim=..., window=..., min_count=..., epochs=..., negative=..., seed=...).fit({name: texts})``;
    texts are strings or token lists. After ``fit`` (or ``CadeModel.load(dir)``):
    ``compass_`` (``SliceVectors`` of the union), ``context_`` (``(V, dim) float32``, the compass's output
    matrix every slice was trained against), ``slices_`` (name -> ``SliceVectors``), ``compass_ids_``
    (name -> ``(V_s,) int32`` rows of the slice's words in the compass) and ``reports_`` (training figures).
    """

    def __init__(self, **settings: Any) -> None:
        self.settings = CadeSettings(**settings)

    # ---- training --------------------------------------------------------------------------
    def fit(self, slices: Mapping[str, Iterable[Any]]) -> CadeModel:
        from .trainer import train_cbow
        from .word2vec import build_vocabulary, new_model, train_model

        named = prepare_slices(slices)
        union = [s for sents in named.values() for s in sents]
        st = self.settings
        compass = new_model(st)
        cvocab = build_vocabulary(compass, union, "union of all slices")
        seconds = train_model(compass, union)
        context = np.ascontiguousarray(compass.syn1neg, dtype=np.float32).copy()
        self.compass_ = SliceVectors(COMPASS, cvocab.words, cvocab.counts, compass.wv.vectors.copy())
        self.context_ = context
        tokens = sum(len(s) for s in union)
        self.reports_: dict[str, dict[str, Any]] = {
            COMPASS: {"tokens": tokens, "seconds": seconds, "words_per_second": tokens * st.epochs / seconds,
                      "trainer": "gensim"},
        }
        self.slices_: dict[str, SliceVectors] = {}
        self.compass_ids_: dict[str, np.ndarray] = {}
        for i, (name, sents) in enumerate(named.items()):
            slice_model = new_model(st, seed_offset=i + 1)
            vocab = build_vocabulary(slice_model, sents, name)
            ids = np.fromiter((cvocab.index[w] for w in vocab.words), dtype=np.int32, count=len(vocab))
            if st.slice_init == "compass":
                W = self.compass_.vectors[ids]  # a copy (fancy indexing)
            else:
                W = np.ascontiguousarray(slice_model.wv.vectors, dtype=np.float32).copy()
            C = context[ids]  # a copy: the compass's rows for this slice's words, frozen below
            report = train_cbow(sents, vocab, W, C, st, learn_hidden=False, seed=st.seed + i + 1)
            if not np.array_equal(C, context[ids]):  # the kernel must never write C when learn_hidden is off
                raise RuntimeError(f"internal: the frozen context matrix changed while training slice {name!r}")
            self.slices_[name] = SliceVectors(name, vocab.words, vocab.counts, W)
            self.compass_ids_[name] = ids
            self.reports_[name] = {
                "tokens": sum(len(s) for s in sents), "seconds": report.seconds,
                "words_per_second": report.words_per_second, "trainer": "embedspec-cade kernel (context frozen)",
            }
        return self

    # ---- access ----------------------------------------------------------------------------
    def check_fitted(self) -> None:
        if not hasattr(self, "slices_"):
            from embedspec.errors import NotFittedError

            raise NotFittedError("CadeModel is not trained: call fit({slice: texts}) or CadeModel.load(dir)")

    @property
    def slice_names(self) -> list[str]:
        self.check_fitted()
        return list(self.slices_)

    @property
    def dim(self) -> int:
        return self.settings.dim

    def spaces(self, include_compass: bool = True) -> SliceSpaces:
        """The slices (and the compass, named ``"compass"``) as one comparable space."""
        self.check_fitted()
        slices = dict(self.slices_)
        if include_compass:
            slices[COMPASS] = self.compass_
        return SliceSpaces(slices, method="cade")

    def slice(self, name: str) -> SliceVectors:
        return self.spaces()[name]

    @property
    def fingerprint(self) -> str:
        self.check_fitted()
        return fingerprint(self.context_)

    # ---- persistence -----------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the model to directory ``path`` (JSON + ``.npz``, no pickle); see ``state.py``."""
        self.check_fitted()
        return save_state(self, Path(path))

    @classmethod
    def load(cls, path: str | Path) -> CadeModel:
        """The model saved in directory ``path`` (``StateError`` saying what is wrong with it)."""
        settings, learned = load_state(Path(path))
        model = cls(**settings.model_dump())
        for name, value in learned.items():
            setattr(model, name, value)
        return model

    def __repr__(self) -> str:
        trained = f", slices={list(self.slices_)}" if hasattr(self, "slices_") else ""
        return f"CadeModel({self.settings!r}{trained})"


