"""gfun's learned state as JSON values and ``.npz`` arrays (no pickle), and its restoration.

``GFunState`` is a mixin of ``GFunEncoder``: the state code reads the encoder's learned parts through
``self``, and this module imports nothing of the encoder's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from embedspec.errors import EmbedspecError

from .linear import LinearProbModel
from .meta import MetaClassifier, view_key
from .tfidf import LanguageTfidf

#: 2: one metaclassifier per set of views, chosen C values (``selected_``); format 1 predates selection.
FORMAT = 2


def meta_prefix(views: list[str] | tuple[str, ...], all_views: list[str]) -> str:
    """npz prefix of a metaclassifier: ``meta`` for all views, ``meta.<views>`` for a subset."""
    return "meta" if list(views) == list(all_views) else f"meta.{view_key(views)}"


class GFunState:
    """``get_state``/``set_state`` of ``GFunEncoder`` (a mixin: ``self`` is the encoder)."""

    def get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """``(arrays, values)``: tf-idf terms/settings and view layout in JSON, every number in the npz."""
        enc: Any = self
        enc.check_fitted()
        langs = enc.languages_
        arrays: dict[str, np.ndarray] = {}
        tfidf_values = {}
        for i, lang in enumerate(langs):
            if lang in enc._tfidf:
                arrays[f"tfidf.{i}.idf"] = enc._tfidf[lang].idf
                tfidf_values[lang] = {"terms": enc._tfidf[lang].terms, "settings": enc._tfidf[lang].settings}
        for view in enc._views:
            arrays.update(view.arrays(langs))
        for name, mapping in enc._mappings.items():
            if mapping.model is None:
                raise EmbedspecError(f"gfun: the posterior mapping of view {name!r} is not fitted")
            arrays.update(mapping.model.arrays(f"map.{name}"))
        for meta in enc._metas.values():
            arrays.update(meta.arrays(meta_prefix(meta.views, enc.view_names)))
        values = {
            "format": FORMAT,
            "languages_": langs,
            "classes_": enc.classes_,
            "multilabel_": enc.multilabel_,
            "view_dims_": enc.view_dims_,
            "views": enc.view_names,
            "probabilistic": enc.probabilistic,
            "aggregation": enc.aggregation,
            "tfidf": tfidf_values,
            "metaclassifiers": [list(meta.views) for meta in enc._metas.values()],
            "selected_": enc.selected_,
            "selection_scores_": enc.selection_scores_,
        }
        return arrays, values


    def set_state(self, arrays: Mapping[str, np.ndarray], values: Mapping[str, Any]) -> None:
        """Rebuild the encoder from ``get_state``'s output; refuse state saved with other views."""
        enc: Any = self
        if values.get("format") != FORMAT:
            raise EmbedspecError(
                f"gfun state format {values.get('format')!r} is not supported (expected {FORMAT}); "
                "retrain and save it again with this version"
            )
        settings = {"views": enc.view_names, "probabilistic": enc.probabilistic, "aggregation": enc.aggregation}
        for key, mine in settings.items():
            if values[key] != mine:
                raise EmbedspecError(
                    f"gfun state was saved with {key}={values[key]!r} but this encoder has {key}={mine!r}; "
                    "configure the same views, aggregation and probabilistic setting as when it was trained"
                )
        enc.warm_up()
        langs = list(values["languages_"])
        multilabel = bool(values["multilabel_"])
        enc._tfidf = {
            lang: LanguageTfidf(list(t["terms"]), arrays[f"tfidf.{langs.index(lang)}.idf"], dict(t["settings"]))
            for lang, t in values["tfidf"].items()
        }
        n_classes = len(values["classes_"])
        enc._views = enc._make_views(n_classes, multilabel)
        for view in enc._views:
            view.restore(arrays, langs)
        enc._mappings = enc._make_mappings(enc._views, multilabel)
        for name, mapping in enc._mappings.items():
            mapping.model = LinearProbModel.from_arrays(arrays, f"map.{name}", multilabel)
        enc._metas = {}
        for views in values["metaclassifiers"]:
            prefix = meta_prefix(views, enc.view_names)
            enc._metas[view_key(views)] = MetaClassifier.from_arrays(arrays, prefix, tuple(views), multilabel)
        enc.languages_ = langs
        enc.classes_ = list(values["classes_"])
        enc.multilabel_ = multilabel
        enc.view_dims_ = [int(d) for d in values["view_dims_"]]
        enc.selected_ = {field: {k: float(c) for k, c in chosen.items()} for field, chosen in values["selected_"].items()}
        enc.selection_scores_ = dict(values["selection_scores_"])
