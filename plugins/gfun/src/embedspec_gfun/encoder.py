"""``gfun``: Generalized Funnelling (Moreo, Pedrotti, Sebastiani 2021) as a trainable encoder.

First tier: view generators (:mod:`.views`) map each language's documents into vectors shared by all
languages; in probabilistic gFun every non-posterior view is recast as calibrated posteriors. Views
are L2-normalized and averaged (or concatenated) into the document vector ``encode`` returns. Second
tier: metaclassifiers (calibrated logistic regression on standardized vectors, all languages
together; one per set of views that can serve a record) give ``predict_proba`` / ``predict``. Every
classifier's ``C`` is chosen from a grid while fitting (:mod:`.selection`, :mod:`.training`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from embedspec.base import BaseEncoder, batched
from embedspec.errors import EmbedspecError, NotFittedError
from embedspec.protocols import Role

from .config import GFunConfig
from .meta import MetaClassifier, aggregate, view_key
from .records import LabelSpace, check_records, group_by_language, group_ids
from .selection import Selection, as_grid
from .state import GFunState
from .tfidf import LanguageTfidf
from .training import Grids, SelectionRecord, fit_first_tier, fit_metaclassifiers
from .views import Documents, EmbeddingView, PosteriorMapping, PosteriorView, View, WordClassView

Grid = float | Sequence[float]


class UnknownLanguageError(EmbedspecError, ValueError):
    """Documents in a language gfun was not trained on, and no language-independent view to serve them."""


class UnseenLanguageWarning(UserWarning):
    """Documents in an unseen language are served by the language-independent views only."""


class GFunEncoder(GFunState, BaseEncoder):
    """Cross-lingual classifier and encoder of records ``{"text": str, "lang": str}``.

    ``encode(records) -> (n, dim) float32``: the aggregated view vector the metaclassifier sees
    (before its standardization); ``dim`` is the number of classes (probabilistic average) or the sum of
    the views' dimensions (concat).
    """

    modalities = frozenset({"record"})
    requires_fit = True

    Config = GFunConfig

    # ---- configuration -----------------------------------------------------------------
    @property
    def view_names(self) -> list[str]:
        names = [n for n, on in (("posteriors", self.posteriors), ("wce", self.wce)) if on]
        return names + (["embeddings"] if self.embeddings else [])

    def _warm_up(self) -> None:
        self._embedding_encoder = None
        if self.embeddings is not None:
            if isinstance(self.embeddings, Mapping):
                raise EmbedspecError(
                    "gfun's embeddings view is still a spec block: build gfun through a spec (embedspec.build) or "
                    "embedspec.plugins.build_component('encoder', {...}), which build the nested encoder, or pass "
                    "an encoder object as embeddings="
                )
            self.embeddings.warm_up()
            self._embedding_encoder = self.embeddings

    def _make_views(self, n_classes: int, multilabel: bool) -> list[View]:
        views: list[View] = []
        if self.posteriors:
            views.append(PosteriorView(n_classes, multilabel=multilabel))
        if self.wce:
            views.append(WordClassView(n_classes, multilabel=multilabel, sif=self.sif))
        if self.embeddings:
            views.append(EmbeddingView(self._embedding_encoder))
        return views

    def _make_mappings(self, views: list[View], multilabel: bool) -> dict[str, PosteriorMapping]:
        if not self.probabilistic:
            return {}
        return {v.name: PosteriorMapping(v, multilabel=multilabel) for v in views if not v.probabilistic}

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
    def fit(
        self,
        records: Sequence[Mapping[str, Any]],
        labels: Sequence[Any],
        *,
        groups: Sequence[Any] | None = None,
        validation: tuple[Sequence[Mapping[str, Any]], Sequence[Any]] | None = None,
    ) -> GFunEncoder:
        """Train on records and labels (one label each, or a list of labels each for multi-label).

        ``C`` of every classifier is chosen from its grid (``C``, ``map_C``, ``meta_C``) by ``folds``-fold
        cross-validation on the training data, or on ``validation=(records, labels)`` when given.
        ``groups`` (one hashable per record): records sharing a group (translations of one text in a
        parallel corpus) are kept in one fold. The chosen values end up in ``selected_``.
        """
        records = list(records)
        check_records(records)
        space = LabelSpace.from_labels(labels, len(records))
        Y = space.indicator(labels)
        sel = Selection(
            grid=(), folds=self.folds, seed=self.seed, multilabel=space.multilabel, threshold=self.threshold,
            groups=group_ids(groups, len(records)),
        )
        held_records, Y_val = self._validation_set(validation, space)
        self.warm_up()
        dims = self._view_dims(len(space.classes))
        if self.aggregation == "average" and len(set(dims)) > 1:
            raise EmbedspecError(
                f"gfun: aggregation 'average' needs views of one dimension, got {dict(zip(self.view_names, dims))}; "
                "set probabilistic: true (every view becomes posteriors) or aggregation: concat"
            )
        groups_by_lang = group_by_language(records)
        texts = [r["text"] for r in records]
        tfidf = {}
        if self.posteriors or self.wce:
            tfidf = {
                lang: LanguageTfidf.fit([texts[i] for i in pos], analyzer=self.analyzer, min_df=self.min_df)
                for lang, pos in groups_by_lang.items()
            }
        docs = self._documents(records, groups_by_lang, tfidf)
        held = None
        if held_records is not None:
            held = (self._documents(held_records, group_by_language(held_records), tfidf), Y_val)
        grids = Grids(as_grid(self.C), as_grid(self.map_C), as_grid(self.meta_C))
        record = SelectionRecord()
        views = self._make_views(len(space.classes), space.multilabel)
        mappings = self._make_mappings(views, space.multilabel)
        first = fit_first_tier(views, mappings, docs, Y, sel, grids, record, held)
        metas = fit_metaclassifiers(views, first, Y, sel, grids, self.aggregation, record, Y_val)
        # nothing above touched self: a fit that fails leaves a fitted encoder as it was
        self._tfidf, self._views, self._mappings, self._metas = tfidf, views, mappings, metas
        self.languages_ = sorted(groups_by_lang)
        self.classes_ = list(space.classes)
        self.multilabel_ = space.multilabel
        self.view_dims_ = dims
        self.selected_ = record.selected
        self.selection_scores_ = {
            "metric": "macro-F1 on the validation set" if held is not None
            else f"macro-F1 of out-of-fold predictions ({self.folds} folds{', grouped' if groups is not None else ''})",
            **record.scores,
        }
        return self

    def _validation_set(
        self, validation: Any, space: LabelSpace
    ) -> tuple[list[Mapping[str, Any]] | None, np.ndarray | None]:
        if validation is None:
            return None, None
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError("gfun.fit: validation must be a pair (records, labels)")
        held_records, held_labels = list(validation[0]), validation[1]
        check_records(held_records, owner="gfun.fit validation")
        if isinstance(held_labels, (str, bytes)) or len(held_labels) != len(held_records):
            raise ValueError(
                f"gfun.fit: validation has {len(held_records)} records but "
                f"{'a string' if isinstance(held_labels, (str, bytes)) else len(held_labels)} labels"
            )
        return held_records, space.indicator(held_labels, where="validation")

    # ---- inference ---------------------------------------------------------------------
    def _documents(
        self,
        records: Sequence[Mapping[str, Any]],
        groups: dict[str, np.ndarray],
        vectorizers: dict[str, LanguageTfidf] | None = None,
    ) -> Documents:
        texts = [r["text"] for r in records]
        vectorizers = self._tfidf if vectorizers is None else vectorizers
        tfidf = {
            lang: vectorizers[lang].transform([texts[i] for i in pos])
            for lang, pos in groups.items()
            if lang in vectorizers
        }
        return Documents(texts, groups, tfidf)

    def _view_outputs(self, inputs: Sequence[Any]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Each view's ``(n, d)`` output (recast as posteriors where probabilistic) and ``(n,)`` served mask."""
        docs = self._documents(inputs, group_by_language(inputs))
        parts, served = [], []
        for view in self._views:
            Z, ok = view.transform(docs)
            if view.name in self._mappings:
                Z = self._mappings[view.name].transform(Z)
            parts.append(Z)
            served.append(ok)
        return parts, served

    def _aggregate(self, parts: list[np.ndarray], served: list[np.ndarray]) -> np.ndarray:
        """``(n, dim)``: served views averaged, or concatenated with unserved slots at the training mean."""
        if self.aggregation == "average":
            weights = np.stack(served, axis=1).astype(np.float64)  # (n, views)
            total = sum(P * w[:, None] for P, w in zip(parts, weights.T))
            return total / np.maximum(weights.sum(axis=1, keepdims=True), 1.0)
        mean = self._metas[view_key(self.view_names)].standardizer.mean
        blocks, start = [], 0
        for P, ok in zip(parts, served):
            P = P.copy()
            if not ok.all():
                P[~ok] = mean[start : start + P.shape[1]]
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
        if not dependent:  # every view is language-independent: nothing is lost
            return
        warnings.warn(
            f"gfun was not trained on {where}: served by the embeddings view only, through the "
            f"metaclassifier trained on that view alone ({', '.join(dependent)} view(s) need training "
            "documents of the language)",
            UnseenLanguageWarning,
            stacklevel=3,
        )

    def _encode_batch(self, inputs: Sequence[Any], role: Role) -> np.ndarray:
        parts, served = self._view_outputs(inputs)
        return self._aggregate(parts, served).astype(np.float32)

    def predict_proba(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """``(n, c) float64`` calibrated posteriors, columns in ``classes_`` order.

        Each record goes to the metaclassifier trained on exactly the views that serve it (all of them
        for a language seen in training, the language-independent ones for an unseen language)."""
        records = list(records)
        self.check_fitted()
        if not records:
            return np.zeros((0, len(self.classes_)))
        self.validate_inputs(records)
        self.warm_up()
        return np.concatenate([self._predict_batch(chunk) for chunk in batched(records, self.batch_size)])

    def _predict_batch(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        parts, served = self._view_outputs(records)
        names = self.view_names
        S = np.stack(served, axis=1)  # (n, views)
        P = np.empty((len(records), len(self.classes_)))
        for pattern in np.unique(S, axis=0):
            rows = (S == pattern).all(axis=1)
            key = view_key([n for n, on in zip(names, pattern) if on])
            meta = self._metas.get(key)
            if meta is None:  # validate_inputs refuses records no trained set of views serves
                raise EmbedspecError(f"gfun: no metaclassifier for records served by views {key!r}")
            idx = [names.index(n) for n in meta.views]
            P[rows] = meta.predict_proba(aggregate([parts[i][rows] for i in idx], self.aggregation))
        return P

    def predict(self, records: Sequence[Mapping[str, Any]]) -> list[Any]:
        """One label per record, or a list of labels per record (multi-label, ``P >= threshold``)."""
        P = self.predict_proba(records)
        return LabelSpace(tuple(self.classes_), self.multilabel_).decode(P, self.threshold)

    @property
    def metaclassifiers(self) -> dict[str, MetaClassifier]:
        """``{"posteriors+embeddings": MetaClassifier, "embeddings": ...}``: one per set of views."""
        self.check_fitted()
        return dict(self._metas)

