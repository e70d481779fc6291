"""The baselines CADE is compared with, trained at the same ``CadeSettings``.

- ``procrustes``: one gensim CBOW model per slice, trained independently (same settings, same
  seeds and so the same initial vectors as CADE's slices), then every slice rotated onto a reference
  slice with the core ``procrustes`` aligner fitted on the words both know (Hamilton, Leskovec,
  Jurafsky 2016). Vectors come out L2-normalized (the aligner's default).
- ``compass``: the compass alone: every slice gets the compass's vector of each of its words, so no
  word can change (the static model of the papers' likelihood tables).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .model import CadeModel, prepare_slices
from .settings import CadeSettings
from .spaces import SliceSpaces, SliceVectors


@dataclass
class IndependentSlices:
    """One word2vec model per slice: input vectors ``W`` and output vectors ``C``, ``(V_s, dim)`` each."""

    settings: CadeSettings
    slices: dict[str, SliceVectors] = field(default_factory=dict)
    context: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(cls, slices: Mapping[str, Iterable[Any]], settings: CadeSettings) -> IndependentSlices:
        from .word2vec import build_vocabulary, new_model, train_model

        out = cls(settings)
        for i, (name, sents) in enumerate(prepare_slices(slices).items()):
            model = new_model(settings, seed_offset=i + 1)  # CADE's slice i uses the same seed
            vocab = build_vocabulary(model, sents, name)
            out.seconds[name] = train_model(model, sents)
            out.slices[name] = SliceVectors(name, vocab.words, vocab.counts, model.wv.vectors.copy())
            out.context[name] = np.ascontiguousarray(model.syn1neg, dtype=np.float32).copy()
        return out

    def aligned(self, reference: str | None = None) -> SliceSpaces:
        """Every slice rotated onto ``reference`` (default: the first slice) by orthogonal Procrustes."""
        from embedspec.builtin.procrustes import ProcrustesAligner

        ref = SliceSpaces(self.slices, method="procrustes")[reference or next(iter(self.slices))]
        out = {}
        for name, sv in self.slices.items():
            shared = [w for w in sv.words if w in ref.index]
            aligner = ProcrustesAligner()
            if len(shared) < 2:
                raise ValueError(f"slices {name!r} and {ref.name!r} share {len(shared)} word(s): nothing to align on")
            aligner.fit(sv.vectors[[sv.index[w] for w in shared]], ref.vectors[[ref.index[w] for w in shared]])
            out[name] = SliceVectors(name, sv.words, sv.counts, aligner.transform(sv.vectors))
        return SliceSpaces(out, method="procrustes")


def compass_only(model: CadeModel) -> SliceSpaces:
    """Each slice's words with the compass's vectors (and the slice's own counts)."""
    model.check_fitted()
    out = {}
    for name, sv in model.slices_.items():
        out[name] = SliceVectors(name, sv.words, sv.counts, model.compass_.vectors[model.compass_ids_[name]])
    return SliceSpaces(out, method="compass")
