"""gFun's second tier: metaclassifiers on the aggregated first-tier outputs, one per set of views.

A record in a language seen in training is served by every view; a record in an unseen language only
by the language-independent ones (e.g. ``embeddings``). Each set of views that can occur gets its own
metaclassifier, trained on exactly those views' out-of-fold outputs, so an unseen language is
classified as well as by a gFun trained on its views alone, not through slots filled with means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from embedspec.learning import Standardizer

from .linear import LinearProbModel
from .selection import Selected, Selection, select_linear


def aggregate(parts: Sequence[np.ndarray], how: str) -> np.ndarray:
    """``(n, dim)``: views (all serving every row) averaged, or concatenated in view order."""
    if how == "average":
        return np.mean(np.stack(parts, axis=0), axis=0)
    return np.concatenate(list(parts), axis=1)


def view_key(views: Sequence[str]) -> str:
    """The name of a set of views in saved state and in ``selected_``: ``"posteriors+embeddings"``."""
    return "+".join(views)


@dataclass
class MetaClassifier:
    """Calibrated logistic regression on standardized aggregated vectors of ``views``."""

    views: tuple[str, ...]
    standardizer: Standardizer
    model: LinearProbModel

    @classmethod
    def fit(
        cls,
        views: tuple[str, ...],
        Z: np.ndarray,
        Y: np.ndarray,
        sel: Selection,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[MetaClassifier, Selected]:
        """Train on ``Z (n, dim)``, the aggregated *out-of-fold* first-tier outputs of the training rows,
        so ``C`` is chosen (by cross-validation on ``Z``, or on ``validation``'s aggregated outputs of the
        refitted first tier) from inputs as noisy as those seen at prediction time."""
        standardizer = Standardizer.fit(Z, min_scale=1e-8)  # label-free: fitting it on every row leaks no label
        held = None if validation is None else (standardizer.transform(validation[0]), validation[1])
        chosen = select_linear(standardizer.transform(Z), Y, sel, validation=held, out_of_fold=False)
        return cls(views, standardizer, chosen.model), chosen

    def predict_proba(self, Z: np.ndarray) -> np.ndarray:
        """``(n, c) float64`` posteriors of aggregated vectors ``Z (n, dim)``."""
        return self.model.predict_proba(self.standardizer.transform(Z))

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {
            **self.model.arrays(prefix),
            f"{prefix}.mean": self.standardizer.mean,
            f"{prefix}.scale": self.standardizer.scale,
        }

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], prefix: str, views: tuple[str, ...], multilabel: bool
    ) -> MetaClassifier:
        standardizer = Standardizer(arrays[f"{prefix}.mean"], arrays[f"{prefix}.scale"])
        return cls(views, standardizer, LinearProbModel.from_arrays(arrays, prefix, multilabel))
