"""``gfun``: Generalized Funnelling (Moreo, Pedrotti, Sebastiani 2021) as a trainable encoder.

First tier: view generators (:mod:`.views`) map each language's documents into vectors shared by all
languages; in probabilistic gFun every non-posterior view is recast as calibrated posteriors. Views
are L2-normalized and averaged (or concatenated) into the document vector ``encode`` returns. Second
tier: a metaclassifier (calibrated logistic regression on standardized vectors, all languages
together) gives ``predict_proba`` / ``predict``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from embedspec.base import BaseEncoder
from embedspec.errors import EmbedspecError, NotFittedError
from embedspec.protocols import Role

from .linear import LinearProbModel, Standardizer, fit_linear
from .records import LabelSpace, check_records, group_by_language
from .state import restore_state, snapshot_state
from .tfidf import LanguageTfidf
from .views import Documents, EmbeddingView, PosteriorMapping, PosteriorView, View, WordClassView


class UnknownLanguageError(EmbedspecError, ValueError):
    """Documents in a language gfun was not trained on, and no language-independent view to serve them."""


class UnseenLanguageWarning(UserWarning):
    """Documents in an unseen language are served by the language-independent views only."""


class GFunEncoder(BaseEncoder):
    """Cross-lingual classifier and encoder of records ``{"text": str, "lang": str}``.

    ``encode(records) -> (n, dim) float32``: the aggregated view vector the metaclassifier sees
    (before its standardization); ``dim`` is the number of classes (probabilistic average) or the sum of
    the views' dimensions (concat).
    """

    modalities = frozenset({"record"})
    requires_fit = True

    def __init__(
        self,
        posteriors: bool = True,
        wce: bool = False,
        sif: bool = False,
        embeddings: dict[str, Any] | None = None,
        aggregation: str = "average",
        probabilistic: bool = True,
        C: float = 10.0,
        meta_C: float = 1.0,
        folds: int = 5,
        analyzer: str = "auto",
        min_df: int = 1,
        threshold: float = 0.5,
        seed: int = 0,
        batch_size: int = 256,
        state: str | None = None,
    ) -> None:
        self.posteriors = posteriors
        self.wce = wce
        self.sif = sif
        self.embeddings = embeddings
        self.aggregation = aggregation
        self.probabilistic = probabilistic
        self.C = C
        self.meta_C = meta_C
        self.folds = folds
        self.analyzer = analyzer
        self.min_df = min_df
        self.threshold = threshold
        self.seed = seed
        self.batch_size = batch_size
        self.state = state

    # ---- configuration -----------------------------------------------------------------
    @property
    def view_names(self) -> list[str]:
        names = [n for n, on in (("posteriors", self.posteriors), ("wce", self.wce)) if on]
        return names + (["embeddings"] if self.embeddings else [])

    def _warm_up(self) -> None:
        self._embedding_encoder = None
        if self.embeddings:
            from embedspec.plugins import get_registry

            block = dict(self.embeddings)
            encoder = get_registry().get("encoder", block.pop("type")).create(block)
            if getattr(encoder, "requires_fit", False) and getattr(encoder, "state", None):
                encoder.load(encoder.state)
            encoder.warm_up()
            self._embedding_encoder = encoder

    def _make_views(self, n_classes: int, multilabel: bool) -> list[View]:
        views: list[View] = []
        common = {"multilabel": multilabel, "folds": self.folds, "seed": self.seed}
        if self.posteriors:
            views.append(PosteriorView(n_classes, C=self.C, **common))
        if self.wce:
            views.append(WordClassView(n_classes, sif=self.sif, **common))
        if self.embeddings:
            views.append(EmbeddingView(self._embedding_encoder))
        return views

    def _make_mappings(self, views: list[View], multilabel: bool) -> dict[str, PosteriorMapping]:
        if not self.probabilistic:
            return {}
        return {
            v.name: PosteriorMapping(v, multilabel=multilabel, C=self.C, folds=self.folds, seed=self.seed)
            for v in views
            if not v.probabilistic
        }

    def _view_dims(self, n_classes: int) -> list[int]:
        dims = []
        for name in self.view_names:
            if name == "embeddings" and not self.probabilistic:
                dims.append(int(self._embedding_encoder.dim))
            else:
                dims.append(n_classes)
        return dims

    @property
    def dim(self) -> int:
        if not self.is_fitted:
            raise NotFittedError("gfun's dimension is known after fit(...) or load(dir)")
        dims = self.view_dims_
        return int(sum(dims)) if self.aggregation == "concat" else int(dims[0])

    # ---- training ----------------------------------------------------------------------
    def fit(self, records: Sequence[Mapping[str, Any]], labels: Sequence[Any]) -> GFunEncoder:
        """Train on records and labels (one label each, or a list of labels each for multi-label)."""
        records = list(records)
        check_records(records)
        space = LabelSpace.from_labels(labels, len(records))
        Y = space.indicator(labels)
        self.warm_up()
        dims = self._view_dims(len(space.classes))
        if self.aggregation == "average" and len(set(dims)) > 1:
            raise EmbedspecError(
                f"gfun: aggregation 'average' needs views of one dimension, got {dict(zip(self.view_names, dims))}; "
                "set probabilistic: true (every view becomes posteriors) or aggregation: concat"
            )
        groups = group_by_language(records)
        texts = [r["text"] for r in records]
        self._tfidf = {}
        if self.posteriors or self.wce:
            self._tfidf = {
                lang: LanguageTfidf.fit([texts[i] for i in pos], analyzer=self.analyzer, min_df=self.min_df)
                for lang, pos in groups.items()
            }
        docs = self._documents(records, groups)
        self._views = self._make_views(len(space.classes), space.multilabel)
        self._mappings = self._make_mappings(self._views, space.multilabel)
        parts = []
        for view in self._views:
            Z = view.fit(docs, Y)
            if view.name in self._mappings:
                Z = self._mappings[view.name].fit(Z, Y)
            parts.append(Z)
        Z = self._aggregate(parts, [np.ones(len(records), dtype=bool)] * len(parts)).astype(np.float32)
        self._standardizer = Standardizer.fit(Z)
        self._meta = fit_linear(
            self._standardizer.transform(Z), Y, C=self.meta_C, seed=self.seed, multilabel=space.multilabel
        )
        self.languages_ = sorted(groups)
        self.classes_ = list(space.classes)
        self.multilabel_ = space.multilabel
        self.view_dims_ = dims
        return self

    # ---- inference ---------------------------------------------------------------------
    def _documents(self, records: Sequence[Mapping[str, Any]], groups: dict[str, np.ndarray]) -> Documents:
        texts = [r["text"] for r in records]
        tfidf = {
            lang: self._tfidf[lang].transform([texts[i] for i in pos])
            for lang, pos in groups.items()
            if lang in self._tfidf
        }
        return Documents(texts, groups, tfidf)

    def _aggregate(self, parts: list[np.ndarray], served: list[np.ndarray]) -> np.ndarray:
        """``(n, dim)``: served views averaged, or concatenated with unserved slots at the training mean."""
        if self.aggregation == "average":
            weights = np.stack(served, axis=1).astype(np.float64)  # (n, views)
            total = sum(P * w[:, None] for P, w in zip(parts, weights.T))
            return total / np.maximum(weights.sum(axis=1, keepdims=True), 1.0)
        blocks, start = [], 0
        for P, ok in zip(parts, served):
            P = P.copy()
            if not ok.all() and hasattr(self, "_standardizer"):
                P[~ok] = self._standardizer.mean[start : start + P.shape[1]]
            blocks.append(P)
            start += P.shape[1]
        return np.concatenate(blocks, axis=1)

    def validate_inputs(self, inputs: Sequence[Any]) -> None:
        """Check the records; refuse (or warn about) languages unseen in training."""
        check_records(inputs)
        unseen: dict[str, list[int]] = {}
        known = set(self.languages_)
        for i, rec in enumerate(inputs):
            if rec["lang"] not in known:
                unseen.setdefault(rec["lang"], []).append(i)
        if not unseen:
            return
        where = "; ".join(
            f"{lang!r} at positions {pos[:5]}{'...' if len(pos) > 5 else ''}" for lang, pos in unseen.items()
        )
        if not self.embeddings:
            raise UnknownLanguageError(
                f"gfun was trained on languages {self.languages_}; records in {where} are in none of them. "
                "Train with documents of that language, or add a language-independent `embeddings` view "
                "(e.g. {type: use-multilingual}) to serve unseen languages."
            )
        dependent = [n for n in self.view_names if n != "embeddings"]
        warnings.warn(
            f"gfun was not trained on {where}: served by the embeddings view only "
            f"({', '.join(dependent)} view(s) need training documents of the language)",
            UnseenLanguageWarning,
            stacklevel=3,
        )

    def _encode_batch(self, inputs: Sequence[Any], role: Role) -> np.ndarray:
        docs = self._documents(inputs, group_by_language(inputs))
        parts, served = [], []
        for view in self._views:
            Z, ok = view.transform(docs)
            if view.name in self._mappings:
                Z = self._mappings[view.name].transform(Z)
            parts.append(Z)
            served.append(ok)
        return self._aggregate(parts, served).astype(np.float32)

    def predict_proba(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """``(n, c) float64`` calibrated posteriors, columns in ``classes_`` order."""
        Z = self.encode(list(records))
        return self._meta.predict_proba(self._standardizer.transform(Z))

    def predict(self, records: Sequence[Mapping[str, Any]]) -> list[Any]:
        """One label per record, or a list of labels per record (multi-label, ``P >= threshold``)."""
        P = self.predict_proba(records)
        return LabelSpace(tuple(self.classes_), self.multilabel_).decode(P, self.threshold)

    # ---- pickle-free state -------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return snapshot_state(self)

    def set_state(self, arrays: Mapping[str, np.ndarray], values: Mapping[str, Any]) -> None:
        restore_state(self, dict(arrays), dict(values))

    @property
    def meta_model(self) -> LinearProbModel:
        """The metaclassifier (on standardized encode() vectors)."""
        self.check_fitted()
        return self._meta
