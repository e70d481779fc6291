"""Training gFun's two tiers, with every classifier's ``C`` chosen by :mod:`.selection`.

Order (each step's training input is the previous step's *out-of-fold* output, so no classifier is
selected or trained on posteriors of documents its inputs' models have seen):

1. each view is fitted; the posteriors view selects one ``C`` per language on that language alone;
2. each recasting classifier (probabilistic gFun) selects its ``C`` on its view's out-of-fold vectors;
3. one metaclassifier per set of views that can serve a record (all views; the language-independent
   ones, for unseen languages) selects its ``C`` on the aggregated out-of-fold outputs of its views.

With a validation set, steps 1-3 score each ``C`` on it instead (step 3 on the validation documents
as the refitted first tier maps them, as at prediction time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .meta import MetaClassifier, aggregate, view_key
from .selection import Selection
from .views import Documents, PosteriorMapping, View


@dataclass
class Grids:
    """The ``C`` grids: per-language first tier, recasting classifiers, metaclassifiers."""

    first_tier: tuple[float, ...]
    mapping: tuple[float, ...]
    meta: tuple[float, ...]


@dataclass
class FirstTierOutput:
    """Training rows' out-of-fold ``parts`` (one ``(n, d)`` per view) and, with a validation set, its
    documents' ``val_parts`` as the refitted views map them and the ``val_served`` ``(m,)`` masks."""

    parts: list[np.ndarray] = field(default_factory=list)
    val_parts: list[np.ndarray] = field(default_factory=list)
    val_served: list[np.ndarray] = field(default_factory=list)


@dataclass
class SelectionRecord:
    """What was chosen (``selected``: spec field -> {component: C}) and how each ``C`` scored."""

    selected: dict[str, dict[str, float]] = field(default_factory=lambda: {"C": {}, "map_C": {}, "meta_C": {}})
    scores: dict[str, dict[str, dict[str, float]]] = field(
        default_factory=lambda: {"C": {}, "map_C": {}, "meta_C": {}}
    )

    def add(self, fieldname: str, component: str, C: float, scores: dict[float, float]) -> None:
        self.selected[fieldname][component] = float(C)
        if scores:
            self.scores[fieldname][component] = {repr(float(c)): float(s) for c, s in scores.items()}


def fit_first_tier(
    views: Sequence[View],
    mappings: dict[str, PosteriorMapping],
    docs: Documents,
    Y: np.ndarray,
    sel: Selection,
    grids: Grids,
    record: SelectionRecord,
    validation: tuple[Documents, np.ndarray] | None = None,
) -> FirstTierOutput:
    """Fit every view (and its recasting classifier); return their out-of-fold training outputs."""
    out = FirstTierOutput()
    for view in views:
        Z = view.fit(docs, Y, sel.with_grid(grids.first_tier), validation)
        for lang, C in view.selected.items():
            record.add("C", lang, C, view.scores.get(lang, {}))
        Zv = okv = None
        if validation is not None:
            Zv, okv = view.transform(validation[0])
        if view.name in mappings:
            mapping = mappings[view.name]
            held = None if validation is None else (Zv[okv], validation[1][okv])
            Z = mapping.fit(Z, Y, sel.with_grid(grids.mapping), held)
            record.add("map_C", view.name, mapping.C, mapping.scores)
            if validation is not None:
                Zv = mapping.transform(Zv)
        out.parts.append(Z)
        if validation is not None:
            out.val_parts.append(Zv)
            out.val_served.append(okv)
    return out


def meta_view_sets(views: Sequence[View]) -> list[tuple[str, ...]]:
    """The sets of views that can serve a record: all of them, and the language-independent ones."""
    names = tuple(v.name for v in views)
    independent = tuple(v.name for v in views if v.language_independent)
    return [names] + ([independent] if independent and independent != names else [])


def fit_metaclassifiers(
    views: Sequence[View],
    first: FirstTierOutput,
    Y: np.ndarray,
    sel: Selection,
    grids: Grids,
    aggregation: str,
    record: SelectionRecord,
    Y_val: np.ndarray | None = None,
) -> dict[str, MetaClassifier]:
    """``{view_key: MetaClassifier}`` for every set of views of :func:`meta_view_sets`."""
    names = [v.name for v in views]
    metas: dict[str, MetaClassifier] = {}
    for subset in meta_view_sets(views):
        idx = [names.index(name) for name in subset]
        Z = aggregate([first.parts[i] for i in idx], aggregation)
        held = None
        if Y_val is not None:
            rows = np.all([first.val_served[i] for i in idx], axis=0)
            held = (aggregate([first.val_parts[i][rows] for i in idx], aggregation), Y_val[rows])
        meta, chosen = MetaClassifier.fit(subset, Z, Y, sel.with_grid(grids.meta), held)
        metas[view_key(subset)] = meta
        record.add("meta_C", view_key(subset), chosen.C, chosen.scores)
    return metas
