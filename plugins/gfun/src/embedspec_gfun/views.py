"""View generators: each maps documents to vectors in a space shared by all languages.

- ``PosteriorView`` (the original Funnelling): per-language TF-IDF + calibrated classifier -> ``(n, c)``
  posteriors. Training documents get out-of-fold posteriors (k-fold), as in Fun(KFCV), so the
  metaclassifier learns from posteriors as noisy as those it will see at prediction time.
- ``WordClassView``: per-language word-class embeddings ``W (v, c)`` (tf-idf mass of each term in each
  class, z-scored per class); a document is ``tfidf @ W`` with its first principal component removed
  (SIF), ``(n, c)``. Training documents are embedded out-of-fold too.
- ``EmbeddingView``: any encoder from the registry (e.g. ``use-multilingual``): language-independent,
  so it also serves languages unseen in training.

Every view returns rows L2-normalized and a mask of the rows it could serve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from embedspec.base import l2_normalize

from .linear import LinearProbModel
from .selection import Selection, select_linear


@dataclass
class Documents:
    """A batch of documents split by language: ``texts`` (n), ``groups`` {lang: positions},
    ``tfidf`` {lang: CSR (len(positions), v)} for the languages with a vectorizer."""

    texts: list[str]
    groups: dict[str, np.ndarray]
    tfidf: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.texts)


def _normalized(Z: np.ndarray) -> np.ndarray:
    return l2_normalize(np.asarray(Z, dtype=np.float64)).astype(np.float64)


class View:
    """Base of the view generators."""

    name: ClassVar[str] = ""
    language_independent: ClassVar[bool] = False
    #: Whether the output already is a vector of calibrated posteriors.
    probabilistic: ClassVar[bool] = False
    #: ``{language: chosen C}`` and ``{language: {C: score}}`` of the classifiers this view selected.
    selected: dict[str, float]
    scores: dict[str, dict[float, float]]

    def fit(
        self, docs: Documents, Y: np.ndarray, sel: Selection, validation: tuple[Documents, np.ndarray] | None = None
    ) -> np.ndarray:
        """Learn from labelled documents (``C`` chosen by ``sel``, on ``validation`` when given); return
        the training documents' ``(n, d)`` out-of-fold representation."""
        raise NotImplementedError

    def transform(self, docs: Documents) -> tuple[np.ndarray, np.ndarray]:
        """``(n, d) float64`` vectors and the ``(n,) bool`` mask of rows this view served."""
        raise NotImplementedError

    def arrays(self, languages: list[str]) -> dict[str, np.ndarray]:
        return {}

    def restore(self, arrays: dict[str, np.ndarray], languages: list[str]) -> None:
        """Rebuild the learned state from ``arrays`` (the keys written by :meth:`arrays`)."""


class PosteriorView(View):
    name = "posteriors"
    probabilistic = True

    def __init__(self, n_classes: int, *, multilabel: bool) -> None:
        self.n_classes, self.multilabel = n_classes, multilabel
        self.models: dict[str, LinearProbModel] = {}
        self.selected, self.scores = {}, {}

    def fit(
        self, docs: Documents, Y: np.ndarray, sel: Selection, validation: tuple[Documents, np.ndarray] | None = None
    ) -> np.ndarray:
        """One classifier per language, its ``C`` chosen on that language's documents alone."""
        Z = np.zeros((docs.n, self.n_classes))
        for lang, pos in docs.groups.items():
            held = None
            if validation is not None and lang in validation[0].groups:
                vdocs, Y_val = validation
                held = (vdocs.tfidf[lang], Y_val[vdocs.groups[lang]])
            chosen = select_linear(docs.tfidf[lang], Y[pos], sel.rows(pos), validation=held)
            self.models[lang], self.selected[lang], self.scores[lang] = chosen.model, chosen.C, chosen.scores
            Z[pos] = chosen.oof
        return _normalized(Z)

    def transform(self, docs: Documents) -> tuple[np.ndarray, np.ndarray]:
        Z = np.zeros((docs.n, self.n_classes))
        served = np.zeros(docs.n, dtype=bool)
        for lang, pos in docs.groups.items():
            if lang in self.models:
                Z[pos] = self.models[lang].predict_proba(docs.tfidf[lang])
                served[pos] = True
        return _normalized(Z), served

    def arrays(self, languages: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for i, lang in enumerate(languages):
            out.update(self.models[lang].arrays(f"posteriors.{i}"))
        return out

    def restore(self, arrays: dict[str, np.ndarray], languages: list[str]) -> None:
        self.models = {
            lang: LinearProbModel.from_arrays(arrays, f"posteriors.{i}", self.multilabel)
            for i, lang in enumerate(languages)
        }


def word_class_matrix(X: Any, Y: np.ndarray) -> np.ndarray:
    """``(v, c)``: each term's tf-idf mass per class over its total mass, z-scored per class."""
    mass = np.asarray(X.sum(axis=0)).ravel()
    mass[mass == 0] = 1.0
    F = np.asarray(X.T @ Y) / mass[:, None]
    if F.shape[0] < 2:
        return np.zeros_like(F)
    std = np.clip(F.std(axis=0, ddof=1), 1e-5, None)
    return (F - F.mean(axis=0)) / std


def first_component(E: np.ndarray) -> np.ndarray:
    """``(d,)`` first right singular vector of ``E`` (sign fixed), or zeros when ``E`` is all zero."""
    if not E.size or not np.any(E):
        return np.zeros(E.shape[1])
    _, _, vt = np.linalg.svd(E, full_matrices=False)
    pc = vt[0]
    return pc if pc[np.argmax(np.abs(pc))] >= 0 else -pc


def _sif(E: np.ndarray, pc: np.ndarray) -> np.ndarray:
    return E - np.outer(E @ pc, pc)


class WordClassView(View):
    name = "wce"

    def __init__(self, n_classes: int, *, multilabel: bool, sif: bool) -> None:
        self.n_classes, self.multilabel, self.sif = n_classes, multilabel, sif
        self.matrices: dict[str, np.ndarray] = {}
        self.components: dict[str, np.ndarray] = {}
        self.selected, self.scores = {}, {}  # nothing to select: no classifier

    def fit(
        self, docs: Documents, Y: np.ndarray, sel: Selection, validation: tuple[Documents, np.ndarray] | None = None
    ) -> np.ndarray:
        """Per-language word-class matrices; training documents embedded out-of-fold (``sel``'s folds)."""
        Z = np.zeros((docs.n, self.n_classes))
        for lang, pos in docs.groups.items():
            X, Yl = docs.tfidf[lang], Y[pos]
            W = word_class_matrix(X, Yl)
            E = np.asarray(X @ W)
            self.matrices[lang], self.components[lang] = W, self._component(E)
            out = _sif(E, self.components[lang])
            for train, held in sel.rows(pos).splits(Yl):
                Wf = word_class_matrix(X[train], Yl[train])
                pc = self._component(np.asarray(X[train] @ Wf))
                out[held] = _sif(np.asarray(X[held] @ Wf), pc)
            Z[pos] = out
        return _normalized(Z)

    def _component(self, E: np.ndarray) -> np.ndarray:
        """The direction SIF removes: the first principal component, or zeros (nothing removed)."""
        return first_component(E) if self.sif else np.zeros(E.shape[1])

    def transform(self, docs: Documents) -> tuple[np.ndarray, np.ndarray]:
        Z = np.zeros((docs.n, self.n_classes))
        served = np.zeros(docs.n, dtype=bool)
        for lang, pos in docs.groups.items():
            if lang in self.matrices:
                Z[pos] = _sif(np.asarray(docs.tfidf[lang] @ self.matrices[lang]), self.components[lang])
                served[pos] = True
        return _normalized(Z), served

    def arrays(self, languages: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for i, lang in enumerate(languages):
            out[f"wce.{i}.matrix"] = self.matrices[lang]
            out[f"wce.{i}.pc"] = self.components[lang]
        return out

    def restore(self, arrays: dict[str, np.ndarray], languages: list[str]) -> None:
        self.matrices = {lang: arrays[f"wce.{i}.matrix"] for i, lang in enumerate(languages)}
        self.components = {lang: arrays[f"wce.{i}.pc"] for i, lang in enumerate(languages)}


class EmbeddingView(View):
    """Vectors of a (multilingual) encoder, L2-normalized; serves every language."""

    name = "embeddings"
    language_independent = True

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self.selected, self.scores = {}, {}

    def fit(
        self, docs: Documents, Y: np.ndarray, sel: Selection, validation: tuple[Documents, np.ndarray] | None = None
    ) -> np.ndarray:
        return self.transform(docs)[0]

    def transform(self, docs: Documents) -> tuple[np.ndarray, np.ndarray]:
        Z = np.asarray(self.encoder.encode(docs.texts, role="document"), dtype=np.float64)
        return _normalized(Z), np.ones(docs.n, dtype=bool)


class PosteriorMapping:
    """Probabilistic gFun: a calibrated classifier (all languages together) recasting a view as posteriors."""

    def __init__(self, view: View, *, multilabel: bool) -> None:
        self.view, self.multilabel = view, multilabel
        self.model: LinearProbModel | None = None
        self.C: float | None = None
        self.scores: dict[float, float] = {}

    def fit(
        self, Z_view: np.ndarray, Y: np.ndarray, sel: Selection, validation: tuple[np.ndarray, np.ndarray] | None = None
    ) -> np.ndarray:
        """Fit on the view's out-of-fold vectors (``C`` chosen by ``sel``, on the view's vectors of the
        ``validation`` documents when given); return out-of-fold posteriors, L2-normalized."""
        chosen = select_linear(Z_view, Y, sel, validation=validation)
        self.model, self.C, self.scores = chosen.model, chosen.C, chosen.scores
        return _normalized(chosen.oof)

    def transform(self, Z_view: np.ndarray) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("PosteriorMapping used before fit")
        return _normalized(self.model.predict_proba(Z_view))
